"""The ``nemo-cosmos`` command: encode, decode and reconstruct image and video files, and
verify tokenized datasets (``nemo-cosmos --help`` shows examples).

Whether a file is an image or a video follows its extension, by the rule the recipes
use (``nemo_cosmos.data.media.media_kind``). Images are read with Pillow, videos with
PyAV at their own frame rate; reconstructions are written as png (images) or mp4
(video, at the original fps). Videos stream: frames are read, pushed through the
model's streams and written a chunk at a time, so memory does not grow with the
video's length (beyond its tokens and the model's attention cache). ``encode`` writes one
``.safetensors`` per input (see ``nemo_cosmos.data.token_file`` for its layout and
metadata); ``decode`` turns it back into pixels of the original size; ``reconstruct``
does both and prints the PSNR of each file (uint8, MSE over the whole video); ``show``
decodes one document of a tokenized dataset (see ``nemo_cosmos.tokenization.preview``).

The command only parses, reads and writes files and calls ``CausalVideoTokenizer``: padding
to the compression grid, streaming and tiling are the model's. NeMo is imported inside
the commands, so ``--help`` stays quick. Errors are one line on stderr naming the file,
and the exit status is 1: a missing input stops the command before any model loads; a
corrupt or unsuitable one is reported and the other files are still processed.
"""

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nemo_cosmos.quiet import quiet_library_notices

PROG = "nemo-cosmos"
EXAMPLES = """examples:
  nemo-cosmos encode clip.mp4 photo.png --model Cosmos-Tokenizer-DV8x8x8 --output-dir tokens/
  nemo-cosmos decode tokens/clip.safetensors --output clip_decoded.mp4
  nemo-cosmos reconstruct clip.mp4 --model ./my-tokenizer-dir --device cuda
  nemo-cosmos show outputs/demo_tokens/tokens --document 0 -o document0.mp4
  nemo-cosmos export Cosmos-Tokenizer-DV8x16x16 onnx/
"""
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
DTYPES = ("auto", "float32", "bfloat16", "float16")
SHOW_FALLBACK_FPS = 24.0


class CommandError(Exception):
    """A problem that ends the command; its message is printed as one line."""


# ----------------------------------------------------------------- arguments


def _chunk_latents(text: str) -> int | None:
    if text.lower() == "none":
        return None
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of latent frames or 'none', got {text!r}")
    return int(text)


def _device(text: str) -> str:
    """A torch device name; CUDA only where it exists, so the error says what to pass instead."""
    import torch

    try:
        device = torch.device(text)
    except RuntimeError as error:
        raise argparse.ArgumentTypeError(f"not a torch device: {text!r} (e.g. cpu, cuda, cuda:1)") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: CUDA is not available on this machine; use --device cpu")
    return text


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nemo-cosmos")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def _add_model_options(parser: argparse.ArgumentParser, required: bool) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        required=required,
        help="official model name (e.g. Cosmos-Tokenizer-DV8x8x8), the bundled nemo-cosmos-tiny-DV4x8x8, or a local "
        "directory with encoder.jit/decoder.jit or config.json + model.safetensors"
        + ("" if required else "; default: the model recorded in the token file or dataset"),
    )
    group.add_argument("--device", type=_device, help="torch device (default: cuda when available, else cpu)")
    group.add_argument(
        "--dtype", choices=DTYPES, help="default auto: bfloat16 on cuda and on CPUs with native bf16, else float32"
    )
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


def _add_show_command(commands) -> None:
    show = commands.add_parser("show", help="one document of a tokenized dataset -> mp4/png", description=show_document.__doc__)
    show.add_argument("dataset", metavar="OUTPUT_PREFIX", help="the dataset's prefix (outputs/demo_tokens/tokens for tokens.bin/.idx/.json) or one of its files")
    show.add_argument("--document", type=int, required=True, metavar="N", help="which document, counted from 0")
    show.add_argument("-o", "--output", type=Path, help="output file (default: <prefix name>.document<N>.mp4, or .png for an image, here)")
    show.add_argument(
        "--fps",
        type=float,
        help=f"frame rate of the mp4 (default: the clip's: the job's target_fps, or the source's fps over frame_stride; {SHOW_FALLBACK_FPS:g} "
        "when the source cannot be read)",
    )
    _add_model_options(show, required=False)
    _add_video_writer_options(show)
    show.set_defaults(run=show_document)


def _add_video_writer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--crf",
        type=int,
        help="H.264 constant rate factor of written mp4 files (lower is better, 0 is lossless in YUV; default: libx264's 23)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``nemo-cosmos`` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Encode, decode and reconstruct images and videos with NVIDIA Cosmos tokenizers; show documents of tokenized datasets.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
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
    _add_show_command(commands)
    add_verify_command(commands)
    _add_export_command(commands)
    return parser


def add_verify_command(commands) -> None:
    """``nemo-cosmos verify OUTPUT_PREFIX [--reencode K]``: check a tokenized dataset."""
    verify = commands.add_parser("verify", help="check a tokenized dataset: checksums, counts, id ranges, re-encoding", description=verify_command.__doc__)
    verify.add_argument("prefix", metavar="OUTPUT_PREFIX", help="the dataset prefix, e.g. /data/tokens/tokens (without .bin/.idx)")
    verify.add_argument("--reencode", type=int, default=0, metavar="K", help="also encode K random documents again from their sources and compare")
    verify.add_argument("--seed", type=int, default=0, help="which documents --reencode draws")
    verify.add_argument("--device", default="cpu", help="where --reencode runs the model (default: cpu)")
    verify.add_argument("--model", help="the model for --reencode, when the recorded one is not reachable from here")
    verify.set_defaults(run=verify_command)


def verify_command(args: argparse.Namespace) -> int:
    """Check checksums, counts against the index, id ranges (tokens) or finite values (latents)
    and, with --reencode K, K documents re-encoded from their sources; prints each problem on
    one line and exits 1 when there is any."""
    from nemo_cosmos.tokenization.verify import verify_dataset

    report = verify_dataset(args.prefix, reencode=args.reencode, seed=args.seed, device=args.device, model=args.model)
    for problem in report.problems:
        print(f"{PROG} verify: {problem}", file=sys.stderr)
    verdict = "OK" if report.ok else f"{len(report.problems)} problem(s)"
    print(f"{args.prefix}: {report.documents} documents, {report.reencoded} re-encoded: {verdict}")
    return len(report.problems)


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


def model_reference(name: str) -> str:
    """What a token file records as its model: a local directory as an absolute path (so
    ``decode`` finds it from any working directory), a model name as given."""
    from nemo_cosmos.pretrained import BUNDLED_MODELS

    path = Path(name).expanduser()
    return name if name in BUNDLED_MODELS or not path.is_dir() else os.path.abspath(path)


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
            model=model_reference(args.model),
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
        _wrote(source, target)

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
            models[model_name] = _load_recorded_model(args, model_name, source)
        model = models[model_name]
        if not model.network_config.matches(record.config):
            raise CommandError(
                f"{source}: was encoded by a {_short_name(record.config)} network ({record.model}), but {model_name} "
                f"is a {model.network_config.short_name} with another config; pass the model it came from with --model"
            )
        if record.media == "video" and model.network_config.is_video:
            decode_video(record, model, target, args.crf)
        else:
            pixels = model.decode(record.tensor, crop_to=record.original_size)
            write_image(target, model_output_frames(pixels, model)[0])
        _wrote(source, target)

    return _for_each(args.inputs, outputs, "decode", decode)


def show_document(args: argparse.Namespace) -> int:
    """Decode one document of a dataset written by recipes/tokenize_dataset.py (tokens or
    latents) to mp4 (a video clip) or png (an image), with the model its sidecar records.
    The frames are those the encoder saw: resized and cropped as the job did."""
    from nemo_cosmos.data.indexed.reader import IndexedDocuments
    from nemo_cosmos.data.media import media_kind, write_image, write_video
    from nemo_cosmos.tokenization.preview import check_document, check_network, dataset_prefix, decode_document, recorded_model, sampled_fps

    documents = IndexedDocuments(dataset_prefix(args.dataset))
    check_document(documents, args.document)
    model_name = args.model or recorded_model(documents)
    model = _load_recorded_model(args, model_name, f"{documents.prefix}.json")
    check_network(documents, model, model_name)
    decoded = decode_document(documents, args.document, model)
    kind, suffix = ("video", "mp4") if decoded.is_video else ("image", "png")
    output = args.output or Path(f"{Path(documents.prefix).name}.document{args.document}.{suffix}")
    if media_kind(output) != kind:
        raise CommandError(f"{output}: document {args.document} of {documents.prefix} is {'a video clip' if decoded.is_video else 'an image'}; write it to a .{suffix} file")
    output.parent.mkdir(parents=True, exist_ok=True)
    t, h, w = decoded.frames.shape[:3]
    source = decoded.source
    what = f"{source['path']}" + (f" frames {source['start_frame']}..{source['end_frame']}" if "start_frame" in source else "")
    if decoded.is_video:
        fps = args.fps or sampled_fps(documents, args.document)
        if fps is None:
            fps = SHOW_FALLBACK_FPS
            print(f"{source['path']}: cannot read the source's frame rate; writing at {fps:g} fps (--fps sets it)", file=sys.stderr)
        write_video(output, decoded.frames, fps, crf=args.crf)
        what += f"; {t} frames, {w}x{h}, {fps:g} fps"
    else:
        write_image(output, decoded.frames[0])
        what += f"; {w}x{h}"
    caption = f"; caption: {source['caption']!r}" if source.get("caption") else ""
    print(f"{documents.prefix} document {args.document} ({what}{caption}) -> {output}")
    return 0


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


def _load_recorded_model(args: argparse.Namespace, name: str, recorded_in: Path | str):
    """The decoder of ``--model`` or of the model a file records; when the recorded one
    cannot be loaded (moved, deleted, another machine), say that ``--model`` overrides it."""
    try:
        return load_model(args, name, encoder=False, decoder=True)
    except (FileNotFoundError, ValueError) as error:
        if args.model is not None:
            raise
        raise CommandError(
            f"{recorded_in}: cannot load the model it records, {name} ({_one_line(error)}); pass the model with --model"
        ) from error


def _wrote(source: Path | str, target: Path) -> None:
    """Say where an output went (stdout, between progress bars)."""
    from tqdm import tqdm

    tqdm.write(f"{source} -> {target}")


# ----------------------------------------------------------------- export


def _add_export_command(commands) -> None:
    export = commands.add_parser(
        "export", help="export the encoder and decoder to ONNX and check them in ONNX Runtime", description=export_model.__doc__
    )
    export.add_argument("model", metavar="MODEL", help="official model name or local directory (as --model elsewhere)")
    export.add_argument("output_dir", type=Path, metavar="OUT_DIR", help="directory for encoder-<name>.onnx and decoder-<name>.onnx")
    export.add_argument(
        "--dtype", default="float32", choices=["float32"], help="the model's dtype while tracing; export supports float32 only for now (the default)"
    )
    export.add_argument("--device", default="cpu", help="torch device the model is traced on (default: cpu)")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset version (default: 17)")
    export.add_argument(
        "--indices-dtype", choices=["int32", "int64"], default="int32", help="integer type of a discrete decoder's input (default: int32)"
    )
    export.add_argument("--no-check", action="store_true", help="skip running the files in ONNX Runtime")
    export.set_defaults(run=export_model)


def export_model(args: argparse.Namespace) -> int:
    """Export a tokenizer's encoder and decoder to ONNX files (batch, frames, height and width
    dynamic; inputs on the compression grid, see nemo_cosmos/models/export.py), then run
    both in ONNX Runtime (CPU) on two sample inputs of different sizes and print the largest
    differences from PyTorch."""
    import time

    from nemo_cosmos.models import CausalVideoTokenizer
    from nemo_cosmos.models.onnx_runtime import OnnxRuntimeError, check_inputs, compare_with_pytorch

    model = CausalVideoTokenizer.from_pretrained(args.model, dtype=args.dtype, device=args.device)
    model.set_export_config({"indices_dtype": args.indices_dtype})
    name = model.network_config.short_name
    args.output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    written, _ = model.export(str(args.output_dir / f"{name}.onnx"), onnx_opset_version=args.opset)
    print(f"exported {name} ({str(model.dtype).removeprefix('torch.')}, opset {args.opset}) in {time.perf_counter() - start:.1f} s:")
    for path in written:
        print(f"  {path}")
    if args.no_check:
        return 0
    paths = {Path(path).name.split("-", 1)[0]: Path(path) for path in written}
    for sample in check_inputs(model.network_config):
        try:
            rows = compare_with_pytorch(model, paths, sample)
        except OnnxRuntimeError as error:
            raise CommandError(f"the files are written, but the check failed (--no-check skips it): {error}") from error
        for row in rows:
            shape = "x".join(map(str, row["shape"]))
            if "max_abs_diff" in row:
                result = f"max |PyTorch - ONNX Runtime| = {row['max_abs_diff']:.3g}"
            else:
                result = f"{row['indices_differing']} indices differ"
            print(f"check {tuple(sample.shape)}: {row['half']} {row['output']} [{shape}]: {result}")
    return 0


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
    quiet_library_notices()  # before any command imports NeMo or megatron-core (verify, show and export do too)
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
