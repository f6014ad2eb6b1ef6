"""The ``nemo-cosmos`` command: encode, decode and reconstruct image and video files
(``nemo-cosmos --help`` shows examples).

Images are read with Pillow, videos with PyAV at their own frame rate; reconstructions
are written as png (images) or mp4 (video, at the original fps). ``encode`` writes one
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
import json
import sys
from collections.abc import Callable, Sequence
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
    group.add_argument("--dtype", help="auto, float32, bfloat16 or float16 (default auto: bfloat16 on cuda and on CPUs with native bf16, else float32)")
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


@dataclass
class Media:
    """A file's pixels: uint8 ``[T, H, W, 3]`` (an image is one frame) and, for video, its fps."""

    frames: np.ndarray
    is_video: bool
    fps: float | None = None


def is_image_path(path: Path) -> bool:
    """Whether Pillow handles files with this suffix; everything else is read as video."""
    from PIL import Image

    return path.suffix.lower() in Image.registered_extensions()


def read_media(path: Path) -> Media:
    """Read an image (Pillow) or a video (PyAV, every frame, with a progress bar)."""
    from tqdm import tqdm

    from nemo_cosmos.data.media import UnreadableMediaError, iter_frames, probe_video, read_image

    if is_image_path(path):
        # a writable copy: torch.from_numpy warns on the read-only view Pillow gives
        return Media(read_image(path)[None].copy(), is_video=False)
    info = probe_video(path)
    progress = tqdm(iter_frames(path), total=info.num_frames, desc=f"read {path.name}", unit="frame", leave=False)
    frames = [frame for _, frame in progress]
    if not frames:
        raise UnreadableMediaError(path, "video has no decodable frames")
    return Media(np.stack(frames), is_video=True, fps=info.fps)


def write_media(path: Path, frames: np.ndarray, is_video: bool, fps: float | None, crf: int | None) -> None:
    """Write uint8 ``[T, H, W, 3]`` as an image (one frame) or a video at ``fps``."""
    from tqdm import tqdm

    from nemo_cosmos.data.media import VideoWriter, write_image

    if not is_video:
        write_image(path, frames[0])
        return
    with VideoWriter(path, fps, crf=crf) as writer:
        for frame in tqdm(frames, desc=f"write {path.name}", unit="frame", leave=False):
            writer.write(frame)


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


def model_input(media: Media, path: Path, model):
    """``[1, 3, T, H, W]`` for video models (an image is one frame), ``[1, 3, H, W]`` for image models."""
    from nemo_cosmos.data.media import frames_to_tensor

    config = model.network_config
    if media.is_video and not config.is_video:
        raise CommandError(
            f"{path}: is a video, but {config.short_name} is an image tokenizer; use a video tokenizer (CV or DV)"
        )
    pixels = frames_to_tensor(media.frames)[None]  # [1, 3, T, H, W]
    return pixels if config.is_video else pixels[:, :, 0]


def padding_applied(frames: np.ndarray, model) -> dict[str, list[int]]:
    """The alignment padding the model adds to these frames, for the token file's metadata."""
    from nemo_cosmos.models.alignment import split_padding

    config = model.network_config
    t, h, w = frames.shape[:3]
    cs = config.spatial_compression
    padding = {"height": list(split_padding(h, cs)), "width": list(split_padding(w, cs))}
    if config.is_video:
        padding["frames"] = list(split_padding(t, config.temporal_compression, extra=1))
    return padding


def model_output_frames(pixels, model) -> np.ndarray:
    """The model's ``[1, 3, (T,) H, W]`` output as uint8 ``[T, H, W, 3]``."""
    from nemo_cosmos.data.media import tensor_to_frames

    pixels = pixels[0] if model.network_config.is_video else pixels[0][:, None]
    return tensor_to_frames(pixels)


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
    outputs = plan_outputs(args.inputs, args.output, args.output_dir, lambda path: f"{path.stem}.safetensors")
    model = load_model(args, args.model, encoder=True, decoder=False)
    config = model.network_config

    def encode(source: Path, target: Path) -> None:
        media = read_media(source)
        encoded = model.encode(model_input(media, source, model))
        record = TokenFile(
            tensor_name="indices" if config.is_discrete else "latent",
            tensor=encoded[0],
            model=str(args.model),
            config=config.to_dict(),
            media="video" if media.is_video else "image",
            source=str(source),
            height=media.frames.shape[1],
            width=media.frames.shape[2],
            padding=padding_applied(media.frames, model),
            model_dtype=dtype_name(model.dtype),
            num_frames=media.frames.shape[0] if media.is_video else None,
            fps=media.fps,
            inference=inference_options(args),
        )
        save_token_file(target, record)

    return _for_each(args.inputs, outputs, "encode", encode)


def decode_files(args: argparse.Namespace) -> int:
    """Decode .safetensors files written by 'nemo-cosmos encode' back to png (images) or mp4
    (video, at the recorded fps), cropped to the original size."""
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
        pixels = model.decode(record.tensor, crop_to=record.original_size)
        write_media(target, model_output_frames(pixels, model), record.media == "video", record.fps, args.crf)

    return _for_each(args.inputs, outputs, "decode", decode)


def reconstruct_files(args: argparse.Namespace) -> int:
    """Encode and decode images and videos, write the reconstructions (png, or mp4 at the
    original fps) and print each file's PSNR (uint8, MSE over the whole video)."""
    _require_files(args.inputs)
    def name(path: Path) -> str:
        return f"{path.stem}.reconstructed.{_suffix_for('image' if is_image_path(path) else 'video')}"

    outputs = plan_outputs(args.inputs, args.output, args.output_dir, name)
    model = load_model(args, args.model, encoder=True, decoder=True)
    scores = []

    def reconstruct(source: Path, target: Path) -> None:
        from tqdm import tqdm

        from nemo_cosmos.metrics import psnr

        media = read_media(source)
        pixels = model.autoencode(model_input(media, source, model), temporal_window=args.temporal_window)
        frames = model_output_frames(pixels, model)
        write_media(target, frames, media.is_video, media.fps, args.crf)
        scores.append(psnr(media.frames, frames))
        t, h, w = frames.shape[:3]
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
