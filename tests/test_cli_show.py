"""``nemo-cosmos show``: a document of a real tokenized dataset back to pixels, with the model
its sidecar records. Token datasets come from the tokenization job itself, a latent one
from the real writer; the small models have formula weights."""

from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from nemo_cosmos.cli import main
from nemo_cosmos.data.indexed.reader import IndexedDocuments
from nemo_cosmos.data.indexed.writer import IndexedDatasetWriter
from nemo_cosmos.data.media import FrameGeometry, frames_to_tensor, probe_video, read_image, read_video, tensor_to_frames, write_image, write_video
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.models import CausalVideoTokenizer
from nemo_cosmos.tokenization.documents import LatentDocuments
from nemo_cosmos.tokenization.job import run_tokenize_job

from conftest import small_config
from data_samples import moving_shapes, write_moving_shapes_video

REPO = Path(__file__).resolve().parents[1]
STRIDE, FPS = 2, 12.0


def _model_directory(folder: Path, family: str) -> Path:
    model = CausalVideoTokenizer(CausalVideoTokenizer.make_config(small_config(family), device="cpu", dtype="float32"))
    fill_with_formula(model.network)
    return model.save_pretrained(folder / f"small-{family}")


def _load(directory: Path) -> CausalVideoTokenizer:
    return CausalVideoTokenizer.from_pretrained(directory, device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two 9-frame clips of a video and an image, tokenized by the job with a small DV model."""
    root = tmp_path_factory.mktemp("show")
    media = root / "media"
    media.mkdir()
    write_moving_shapes_video(media / "clip.mp4", num_frames=36, height=40, width=56, fps=FPS, seed=3)
    write_image(media / "photo.png", moving_shapes(1, 30, 44, seed=4)[0])
    model_dir = _model_directory(root, "DV")
    cfg = OmegaConf.load(REPO / "conf" / "tokenize_ar.yaml")
    cfg.model.name_or_path, cfg.input.paths, cfg.output.dir = str(model_dir), str(media), str(root / "out")
    settings = ["clips.num_frames=9", f"clips.frame_stride={STRIDE}", "clips.max_clips_per_video=2", "frames.height=32", "frames.width=32"]
    run_tokenize_job(OmegaConf.merge(cfg, OmegaConf.from_dotlist([*settings, "run.progress=false", "tokens.end_of_video_id=64000"])))
    return {"prefix": root / "out" / "tokens", "model": model_dir, "root": root}


@pytest.mark.slow  # the tokenization job writes the dataset
def test_show_decodes_a_video_clip_and_an_image_of_a_token_dataset(dataset, tmp_path, monkeypatch, capsys):
    documents = IndexedDocuments(dataset["prefix"])
    kinds = [documents.source(doc)["kind"] for doc in range(len(documents))]
    clip_doc, image_doc = kinds.index("video") + 1, kinds.index("image")  # the second clip of the video
    model = _load(dataset["model"])

    output = tmp_path / "clip.mp4"
    assert main(["show", str(dataset["prefix"]), "--document", str(clip_doc), "-o", str(output), "--crf", "0"]) == 0
    source = documents.source(clip_doc)
    assert f"{dataset['prefix']} document {clip_doc} ({source['path']} frames {source['start_frame']}..{source['end_frame']}; 9 frames" in capsys.readouterr().out
    info = probe_video(output)
    assert (info.num_frames, info.height, info.width) == (9, 32, 32) and info.fps == pytest.approx(FPS / STRIDE)
    expected = tensor_to_frames(model.decode(documents.token_grid(clip_doc)[None])[0])
    write_video(tmp_path / "expected.mp4", expected, FPS / STRIDE, crf=0)  # the same encoding of the same frames
    np.testing.assert_array_equal(read_video(output)[0], read_video(tmp_path / "expected.mp4")[0])
    clip = read_video(source["path"])[0][source["start_frame"] : source["end_frame"] + 1 : STRIDE]
    geometry = FrameGeometry(height=32, width=32, multiple=8)
    encoded = model.encode(frames_to_tensor(np.stack([geometry.apply(frame) for frame in clip]))[None])[0]
    assert torch.equal(documents.token_grid(clip_doc), encoded[0].long())  # the document is that clip

    monkeypatch.chdir(tmp_path)
    assert main(["show", f"{dataset['prefix']}.json", "--document", str(image_doc)]) == 0  # default name, here
    image = read_image(tmp_path / f"tokens.document{image_doc}.png")
    np.testing.assert_array_equal(image, tensor_to_frames(model.decode(documents.token_grid(image_doc)[None])[0][:, 0]))


def test_show_decodes_a_latent_document(tmp_path, capsys):
    model_dir = _model_directory(tmp_path, "CI")
    model = _load(model_dir)
    photo = frames_to_tensor(moving_shapes(1, 24, 32, seed=5)[0])
    latent = model.encode(photo[None])[0][0]
    latents = LatentDocuments("bfloat16")
    with IndexedDatasetWriter(tmp_path / "latents", latents.header(str(model_dir), model.network_config)) as writer:
        document = latents.document(latent, caption=None)
        writer.add_document(document.sequences, document.shape, {"path": "photo.png", "kind": "image", "caption": "shapes"})
    assert main(["show", str(tmp_path / "latents"), "--document", "0", "-o", str(tmp_path / "photo.png")]) == 0
    assert "(photo.png; 32x24; caption: 'shapes') ->" in capsys.readouterr().out
    stored = IndexedDocuments(tmp_path / "latents").latent(0)
    assert stored.dtype == torch.bfloat16
    np.testing.assert_array_equal(read_image(tmp_path / "photo.png"), tensor_to_frames(model.decode(stored[None])[0]))


@pytest.mark.slow  # the tokenization job writes the dataset
def test_show_errors_are_one_line_and_say_what_to_do(dataset, tmp_path, capsys):
    prefix = str(dataset["prefix"])
    count = len(IndexedDocuments(prefix))
    cases = [
        (["--document", str(count)], f"{prefix}: has documents 0..{count - 1}, not {count}"),
        (["--document", "0", "-o", str(tmp_path / "clip.png")], f"{tmp_path / 'clip.png'}: document 0 of {prefix} is a video clip; write it to a .mp4 file"),
        (["--document", "0", "--model", str(_model_directory(tmp_path, "CI"))], "whose network differs from"),
    ]
    for extra, message in cases:
        assert main(["show", prefix, *extra]) == 1
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("nemo-cosmos: error:")]
        assert len(errors) == 1 and message in errors[0], errors
    assert main(["show", str(tmp_path / "nothing"), "--document", "0"]) == 1
    assert f"{tmp_path / 'nothing'}: no complete nemo-cosmos dataset here" in capsys.readouterr().err
