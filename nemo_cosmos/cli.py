"""The ``nemo-cosmos`` command: encode, decode and reconstruct image and video files
(``nemo-cosmos --help`` shows examples).

Whether a file is an image or a video follows its extension, by the rule the recipes
use (``nemo_cosmos.data.media.media_kind``). Images are read with Pillow, videos with
PyAV at their own frame rate; reconstructions are written as png (images) or mp4
(video, at the original fps). Videos stream: frames are read, pushed through the
model's streams and written a chunk at a time, so memory does not grow with the
video's length (beyond its tokens and the model's attention cache). ``encode`` writes one
``.safetensors`` per input (see ``nemo_cosmos.data.token_file`` for its layout and
metadata); ``decode`` turns it back into pixels of the original size; ``reconstruct``
does both and prints the PSNR of each file (uint8, MSE over the whole video).

The command only parses, reads and writes files and calls ``CausalVideoTokenizer``: padding
to the compression grid, streaming and tiling are the model's. NeMo is imported inside
the commands, so ``--help`` stays quick. Errors are one line on stderr naming the file,
and the exit status is 1: a missing input stops the command before any model loads; a
corrupt or unsuitable one is reported and the other files are still processed.
"""

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROG = "nemo-cosmos"
EXAMPLES = """examples:
  nemo-cosmos encode clip.mp4 photo.png --model Cosmos-Tokenizer-DV8x8x8 --output-dir tokens/
  nemo-cosmos decode tokens/clip.safetensors --output clip_decoded.mp4
  nemo-cosmos reconstruct clip.mp4 --model ./my-tokenizer-dir --device cuda
"""
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A problem that ends the command; its message is printed as one line."""


# ----------------------------------------------------------------- arguments


def _chunk_latents(text: str) -> int | None:
    if text.lower() == "none":
        return None
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of latent frames or 'none', got {text!r}")
    return int(text)


def _add_model_options(parser: argparse.ArgumentParser, required: bool) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        required=required,
        help="official model name (e.g. Cosmos-Tokenizer-DV8x8x8) or a local directory with encoder.jit/decoder.jit "
        "or config.json + model.safetensors" + ("" if required else "; default: the model recorded in the token file"),
    )
    group.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    group.add_argument("--dtype", help="float32, bfloat16 or float16 (default: bfloat16 on cuda, float32 on cpu)")
    group.add_argument(
        "--torchscript", action="store_true", help="run the official TorchScript files as they are instead of the native network"
    )
    group.add_argument(
        "--chunk-latents",
        type=_chunk_latents,
        default=argparse.SUPPRESS,
        metavar="N",
        help="stream video through the causal network N latent frames at a time (exact, bounds memory; default: the model's); "
        "'none' runs each clip in one pass",
    )
    group.add_argument(
        "--tile-size",
        type=int,
        default=argparse.SUPPRESS,
        metavar="PIXELS",
        help="cut frames into tiles of this size (bounds memory on large frames)",
    )
    group.add_argument(
        "--tile-overlap", type=int, default=argparse.SUPPRESS, metavar="PIXELS", help="overlap between tiles (default: the model's)"
    )


def _add_io_options(parser: argparse.ArgumentParser, inputs_help: str) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help=inputs_help)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", type=Path, help="output file (one input only)")
    where.add_argument("--output-dir", type=Path, help="directory for the outputs (default: beside each input)")


def _add_video_writer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--crf",
        type=int,
        help="H.264 constant rate factor of written mp4 files (lower is better, 0 is lossless in YUV; default: libx264's 23)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``nemo-cosmos`` and its three subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Encode, decode and reconstruct images and videos with NVIDIA Cosmos tokenizers.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    encode = commands.add_parser("encode", help="images/videos -> tokens or latents (.safetensors)", description=encode_files.__doc__)
    _add_io_options(encode, "image or video files")
    _add_model_options(encode, required=True)
    encode.set_defaults(run=encode_files)

    decode = commands.add_parser("decode", help="tokens or latents (.safetensors) -> png/mp4", description=decode_files.__doc__)
    _add_io_options(decode, ".safetensors files written by 'nemo-cosmos encode'")
    _add_model_options(decode, required=False)
    _add_video_writer_options(decode)
    decode.set_defaults(run=decode_files)

    reconstruct = commands.add_parser(
        "reconstruct", help="encode and decode, write the result and print PSNR", description=reconstruct_files.__doc__
    )
    _add_io_options(reconstruct, "image or video files")
    _add_model_options(reconstruct, required=True)
    reconstruct.add_argument(
        "--temporal-window",
        type=int,
        metavar="FRAMES",
        help="reconstruct independent windows of 1 + k*ct frames as the old NeMo model did (default: the whole clip, exactly)",
    )
    _add_video_writer_options(reconstruct)
    reconstruct.set_defaults(run=reconstruct_files)
    return parser


# ----------------------------------------------------------------- files


class FrameCountMismatch(CommandError):
    """Decoding a video gave another number of frames than its container declares."""

    def __init__(self, path: Path, declared: int, actual: int | None):
        found = f"{actual}" if actual is not None else "more"
        super().__init__(f"{path}: the container declares {declared} frames but decoding gives {found}")
        self.actual = actual


def file_kind(path: Path) -> str:
    """``"video"`` or ``"image"`` by the recipes' rule (``data.media.media_kind``); other
    extensions are refused, naming the ones known."""
    from nemo_cosmos.data.media import media_kind
    from nemo_cosmos.data.media.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    kind = media_kind(path)
    if kind is None:
        raise CommandError(
            f"{path}: unknown media extension {path.suffix!r}; videos: {' '.join(sorted(VIDEO_EXTENSIONS))}; "
            f"images: {' '.join(sorted(IMAGE_EXTENSIONS))}"
        )
    return kind


def read_image_frames(path: Path) -> np.ndarray:
    """An image as one uint8 frame ``[1, H, W, 3]`` (a writable copy: torch warns on Pillow's read-only view)."""
    from nemo_cosmos.data.media import read_image

    return read_image(path)[None].copy()


def frames_per_read(model) -> int:
    """How many video frames to read before pushing: one streamed chunk's worth."""
    return model.network_config.temporal_compression * (model.chunk_latents or 1)


def video_pixels(path: Path, model, declared: int) -> Iterator[tuple[np.ndarray, object]]:
    """The video's frames a group at a time: uint8 ``[n, H, W, 3]`` and the model's input
    ``[1, 3, n, H, W]`` in ``[-1, 1]``. Raises :class:`FrameCountMismatch` when decoding
    gives another count than ``declared`` (the count the model's stream pads for)."""
    from tqdm import tqdm

    from nemo_cosmos.data.media import UnreadableMediaError, iter_frames

    seen, group = 0, []
    frames = tqdm(iter_frames(path), total=declared, desc=f"read {path.name}", unit="frame", leave=False)
    for _, frame in frames:
        group.append(frame)
        if len(group) == frames_per_read(model):
            seen += len(group)
            yield _checked_group(group, seen, declared, path)
            group = []
    seen += len(group)
    if group:
        yield _checked_group(group, seen, declared, path)
    if seen == 0:
        raise UnreadableMediaError(path, "video has no decodable frames")
    if seen != declared:
        raise FrameCountMismatch(path, declared, seen)


def _checked_group(group: list[np.ndarray], seen: int, declared: int, path: Path) -> tuple[np.ndarray, object]:
    from nemo_cosmos.data.media import frames_to_tensor

    if seen > declared:
        raise FrameCountMismatch(path, declared, None)
    frames = np.stack(group)
    return frames, frames_to_tensor(frames)[None]


def with_decoded_frame_count(path: Path, work: Callable[[int, float], object]):
    """``work(num_frames, fps)`` with the container's frame count; if decoding finds another
    count, once more with the true one (counted by decoding when the video runs long)."""
    from nemo_cosmos.data.media import iter_frames, probe_video

    info = probe_video(path)
    try:
        return work(info.num_frames, info.fps)
    except FrameCountMismatch as mismatch:
        actual = mismatch.actual if mismatch.actual is not None else sum(1 for _ in iter_frames(path))
        return work(actual, info.fps)


@contextlib.contextmanager
def video_writer(path: Path, fps: float, crf: int | None) -> Iterator[Callable[[np.ndarray | None], None]]:
    """A function appending uint8 frames ``[n, H, W, 3]`` (None: nothing) to an mp4 as they
    come; the partial file is removed if anything fails."""
    from nemo_cosmos.data.media import VideoWriter

    writer = VideoWriter(path, fps, crf=crf)

    def write(frames: np.ndarray | None) -> None:
        if frames is not None:
            writer.write(frames)

    try:
        with writer:
            yield write
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def output_frames(pixels) -> np.ndarray | None:
    """A stream's output ``[1, 3, n, H, W]`` (or None) as uint8 frames ``[n, H, W, 3]``."""
    from nemo_cosmos.data.media import tensor_to_frames

    return None if pixels is None else tensor_to_frames(pixels[0])


def plan_outputs(
    inputs: Sequence[Path], output: Path | None, output_dir: Path | None, name: Callable[[Path], str]
) -> list[Path]:
    """The output path of each input: ``output`` (one input), else ``name(input)`` in
    ``output_dir`` or beside the input. Refuses to overwrite an input or write two outputs
    to the same path."""
    if output is not None:
        if len(inputs) != 1:
            raise CommandError(f"--output names one file but {len(inputs)} inputs were given; use --output-dir")
        outputs = [output]
    else:
        outputs = [(output_dir if output_dir is not None else path.parent) / name(path) for path in inputs]
    seen: dict[Path, Path] = {}
    for source, target in zip(inputs, outputs):
        key = target.resolve()
        if key == source.resolve():
            raise CommandError(f"{target}: output would overwrite its input; choose another --output or --output-dir")
        if key in seen:
            raise CommandError(
                f"{target}: both {seen[key]} and {source} would be written there; use separate --output-dir runs"
            )
        seen[key] = source
    return outputs


def _require_files(paths: Sequence[Path]) -> None:
    """Fail before loading any model when an input does not exist."""
    for path in paths:
        if not path.is_file():
            raise CommandError(f"{path}: " + ("is not a file" if path.exists() else "no such file"))


def _require_media(paths: Sequence[Path]) -> None:
    """Fail before loading any model when an input's extension is neither image nor video."""
    for path in paths:
        file_kind(path)


# ----------------------------------------------------------------- model


# Model options passed on only when given, so the model's own defaults apply otherwise.
INFERENCE_OPTIONS = ("chunk_latents", "tile_size", "tile_overlap")


def inference_options(args: argparse.Namespace) -> dict:
    """The streaming and tiling options given on the command line."""
    return {key: getattr(args, key) for key in INFERENCE_OPTIONS if hasattr(args, key)}


def load_model(args: argparse.Namespace, name: str, encoder: bool, decoder: bool):
    """``CausalVideoTokenizer.from_pretrained`` with the halves needed and the options given."""
    from nemo_cosmos.models import CausalVideoTokenizer

    return CausalVideoTokenizer.from_pretrained(
        name,
        load_encoder=encoder,
        load_decoder=decoder,
        use_pytorch=not args.torchscript,
        dtype=args.dtype,
        device=args.device,
        **inference_options(args),
    )


def image_input(frames: np.ndarray, model):
    """An image as uint8 ``[1, H, W, 3]`` -> ``[1, 3, 1, H, W]`` for video models (a one-frame
    clip), ``[1, 3, H, W]`` for image models."""
    from nemo_cosmos.data.media import frames_to_tensor

    pixels = frames_to_tensor(frames)[None]  # [1, 3, 1, H, W]
    return pixels if model.network_config.is_video else pixels[:, :, 0]


def require_video_model(path: Path, model) -> None:
    config = model.network_config
    if not config.is_video:
        raise CommandError(
            f"{path}: is a video, but {config.short_name} is an image tokenizer; use a video tokenizer (CV or DV)"
        )


def padding_applied(num_frames: int, height: int, width: int, model) -> dict[str, list[int]]:
    """The alignment padding the model adds to such frames, for the token file's metadata."""
    from nemo_cosmos.models.alignment import split_padding

    config = model.network_config
    cs = config.spatial_compression
    padding = {"height": list(split_padding(height, cs)), "width": list(split_padding(width, cs))}
    if config.is_video:
        padding["frames"] = list(split_padding(num_frames, config.temporal_compression, extra=1))
    return padding


def model_output_frames(pixels, model) -> np.ndarray:
    """The model's ``[1, 3, (T,) H, W]`` output as uint8 ``[T, H, W, 3]``."""
    from nemo_cosmos.data.media import tensor_to_frames

    pixels = pixels[0] if model.network_config.is_video else pixels[0][:, None]
    return tensor_to_frames(pixels)


@dataclass
class Encoded:
    """What ``encode`` produced for one file: the first output of the model and the input's facts."""

    tensor: object
    is_video: bool
    num_frames: int
    height: int
    width: int
    fps: float | None = None


def encode_video(path: Path, model) -> Encoded:
    """Stream a video's frames through the model's encoder; only the tokens are kept whole."""
    import torch

    def attempt(num_frames: int, fps: float) -> Encoded:
        parts, size = [], None
        with model.encoder_stream(num_frames=num_frames) as stream:
            for frames, pixels in video_pixels(path, model, num_frames):
                size = size or frames.shape[1:3]
                out = stream.push(pixels)
                if out is not None:
                    parts.append(out[0])
        time_axis = 1 if model.network_config.is_discrete else 2
        return Encoded(torch.cat(parts, dim=time_axis), True, num_frames, int(size[0]), int(size[1]), fps)

    return with_decoded_frame_count(path, attempt)


def encode_image(path: Path, model) -> Encoded:
    frames = read_image_frames(path)
    encoded = model.encode(image_input(frames, model))
    return Encoded(encoded[0], False, 1, frames.shape[1], frames.shape[2])


def decode_video(record, model, target: Path, crf: int | None) -> None:
    """Push a video's latents through the model's decoder a chunk at a time, writing frames as they come."""
    time_axis = 1 if model.network_config.is_discrete else 2
    step = model.chunk_latents or record.tensor.shape[time_axis]
    with video_writer(target, record.fps, crf) as write, model.decoder_stream(crop_to=record.original_size) as stream:
        for piece in record.tensor.split(step, dim=time_axis):
            write(output_frames(stream.push(piece)))
        write(output_frames(stream.close()))


def reconstruct_video(path: Path, model, target: Path, crf: int | None, temporal_window: int | None) -> tuple[float, int, int, int]:
    """Stream a video through encoder and decoder, writing the reconstruction as it comes;
    returns its PSNR (over the whole video), frame count, height and width."""
    from nemo_cosmos.metrics import RunningPSNR

    def attempt(num_frames: int, fps: float) -> tuple[float, int, int, int]:
        score, originals, size = RunningPSNR(), [], None
        with video_writer(target, fps, crf) as write:

            def emit(pixels) -> None:
                frames = output_frames(pixels)
                if frames is None:
                    return
                reference = np.concatenate(originals)
                score.add(reference[: len(frames)], frames)
                originals[:] = [reference[len(frames) :]]
                write(frames)

            if temporal_window is not None:
                for frames, pixels in video_windows(path, model, num_frames, temporal_window):
                    size = size or frames.shape[1:3]
                    originals.append(frames)
                    emit(model.autoencode(pixels))  # one window: independent of the others
            else:
                with model.autoencoder_stream(num_frames=num_frames) as stream:
                    for frames, pixels in video_pixels(path, model, num_frames):
                        size = size or frames.shape[1:3]
                        originals.append(frames)
                        emit(stream.push(pixels))
                    emit(stream.close())
        return score.value, num_frames, int(size[0]), int(size[1])

    return with_decoded_frame_count(path, attempt)


def video_windows(path: Path, model, num_frames: int, window: int) -> Iterator[tuple[np.ndarray, object]]:
    """The video's frames in independent windows of ``window`` frames (the last one may be shorter)."""
    from nemo_cosmos.data.media import frames_to_tensor

    frames: list[np.ndarray] = []
    for group, _ in video_pixels(path, model, num_frames):
        frames.extend(group)
        while len(frames) >= window:
            yield np.stack(frames[:window]), frames_to_tensor(np.stack(frames[:window]))[None]
            frames = frames[window:]
    if frames:
        yield np.stack(frames), frames_to_tensor(np.stack(frames))[None]


# ----------------------------------------------------------------- commands


def _for_each(
    inputs: Sequence[Path], outputs: Sequence[Path], description: str, work: Callable[[Path, Path], None]
) -> int:
    """Run ``work(input, output)`` for every file under a progress bar; a file that fails
    gets one line on stderr and the rest go on. Returns the number of failures."""
    from tqdm import tqdm

    failures = 0
    for source, target in tqdm(list(zip(inputs, outputs)), desc=description, unit="file", disable=len(inputs) == 1):
        try:
            work(source, target)
        except (CommandError, FileNotFoundError, ValueError) as error:
            failures += 1
            tqdm.write(f"{PROG}: error: {_one_line(error, source)}", file=sys.stderr)
    return failures


def encode_files(args: argparse.Namespace) -> int:
    """Encode images and videos to .safetensors files: FSQ indices (discrete tokenizers) or
    latents (continuous ones), with the metadata decode needs."""
    from nemo_cosmos.data.token_file import TokenFile, dtype_name, save_token_file

    _require_files(args.inputs)
    _require_media(args.inputs)
    outputs = plan_outputs(args.inputs, args.output, args.output_dir, lambda path: f"{path.stem}.safetensors")
    model = load_model(args, args.model, encoder=True, decoder=False)
    config = model.network_config

    def encode(source: Path, target: Path) -> None:
        if file_kind(source) == "video":
            require_video_model(source, model)
            encoded = encode_video(source, model)
        else:
            encoded = encode_image(source, model)
        record = TokenFile(
            tensor_name="indices" if config.is_discrete else "latent",
            tensor=encoded.tensor,
            model=str(args.model),
            config=config.to_dict(),
            media="video" if encoded.is_video else "image",
            source=str(source),
            height=encoded.height,
            width=encoded.width,
            padding=padding_applied(encoded.num_frames, encoded.height, encoded.width, model),
            model_dtype=dtype_name(model.dtype),
            num_frames=encoded.num_frames if encoded.is_video else None,
            fps=encoded.fps,
            inference=inference_options(args),
        )
        save_token_file(target, record)

    return _for_each(args.inputs, outputs, "encode", encode)


def decode_files(args: argparse.Namespace) -> int:
    """Decode .safetensors files written by 'nemo-cosmos encode' back to png (images) or mp4
    (video, at the recorded fps), cropped to the original size."""
    from nemo_cosmos.data.media import write_image
    from nemo_cosmos.data.token_file import load_token_file

    _require_files(args.inputs)
    # Without --output the suffix follows each file's media kind, known once it is read.
    outputs = plan_outputs(args.inputs, args.output, args.output_dir, lambda path: f"{path.stem}.decoded")
    models = {}

    def decode(source: Path, target: Path) -> None:
        record = load_token_file(source)
        if args.output is None:
            target = target.with_name(f"{target.name}.{_suffix_for(record.media)}")
        model_name = args.model or record.model
        if model_name not in models:
            models[model_name] = load_model(args, model_name, encoder=False, decoder=True)
        model = models[model_name]
        stored_form = json.loads(json.dumps(model.network_config.to_dict()))  # as the file has it: tuples become lists
        if stored_form != record.config:
            raise CommandError(
                f"{source}: was encoded by a {_short_name(record.config)} network ({record.model}), but {model_name} "
                f"is a {model.network_config.short_name} with another config; pass the model it came from with --model"
            )
        if record.media == "video" and model.network_config.is_video:
            decode_video(record, model, target, args.crf)
        else:
            pixels = model.decode(record.tensor, crop_to=record.original_size)
            write_image(target, model_output_frames(pixels, model)[0])

    return _for_each(args.inputs, outputs, "decode", decode)


def reconstruct_files(args: argparse.Namespace) -> int:
    """Encode and decode images and videos, write the reconstructions (png, or mp4 at the
    original fps) and print each file's PSNR (uint8, MSE over the whole video)."""
    _require_files(args.inputs)
    _require_media(args.inputs)

    def name(path: Path) -> str:
        return f"{path.stem}.reconstructed.{_suffix_for(file_kind(path))}"

    outputs = plan_outputs(args.inputs, args.output, args.output_dir, name)
    model = load_model(args, args.model, encoder=True, decoder=True)
    scores = []

    def reconstruct(source: Path, target: Path) -> None:
        from tqdm import tqdm

        from nemo_cosmos.data.media import write_image
        from nemo_cosmos.metrics import psnr

        if file_kind(source) == "video":
            require_video_model(source, model)
            score, t, h, w = reconstruct_video(source, model, target, args.crf, args.temporal_window)
        else:
            original = read_image_frames(source)
            pixels = model.autoencode(image_input(original, model), temporal_window=args.temporal_window)
            frames = model_output_frames(pixels, model)
            write_image(target, frames[0])
            score, (t, h, w) = psnr(original, frames), frames.shape[:3]
        scores.append(score)
        tqdm.write(f"{source}: PSNR {scores[-1]:.2f} dB ({t} frame{'s' * (t != 1)}, {w}x{h}) -> {target}")

    failures = _for_each(args.inputs, outputs, "reconstruct", reconstruct)
    if len(scores) > 1:
        print(f"mean PSNR over {len(scores)} files: {np.mean(scores):.2f} dB")
    return failures


def _suffix_for(media: str) -> str:
    return "mp4" if media == "video" else "png"


def _short_name(config: dict) -> str:
    from nemo_cosmos.networks import TokenizerConfig

    try:
        return TokenizerConfig.from_dict(config).short_name
    except (TypeError, ValueError):
        return "different"


def _one_line(error: BaseException, path: Path | None = None) -> str:
    """The error's message on one line, starting with ``path`` when it does not name it already."""
    message = " ".join(str(error).split()) or type(error).__name__
    if path is not None and str(path) not in message:
        message = f"{path}: {message}"
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``nemo-cosmos`` with ``argv`` (default: the command line); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        failures = args.run(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (CommandError, FileNotFoundError, ValueError) as error:
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_FAILED if failures else 0


if __name__ == "__main__":
    sys.exit(main())
