"""ONNX export through NeMo's Exportable, checked in ONNX Runtime against PyTorch.

Small networks (``conftest.small_config``) with formula weights; each family is exported
once per module. Tolerances are the conformance ones (atol = rtol = 1e-4), indices exact.
"""

import json

import onnx
import pytest
import torch

from nemo_cosmos import CausalVideoTokenizer, build_network
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.models.onnx_runtime import OnnxTokenizerHalf, check_inputs

from checkpoints import export_torchscript
from conftest import small_config

FAMILIES = ["CI", "DI", "CV", "DV"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _model(family: str) -> CausalVideoTokenizer:
    model = CausalVideoTokenizer(CausalVideoTokenizer.make_config(small_config(family), device="cpu", name=f"small-{family}"))
    fill_with_formula(model.network)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """family -> (model, {"encoder": path, "decoder": path}), exported by ``model.export``."""
    torch.set_num_threads(1)
    made = {}
    for family in FAMILIES:
        model = _model(family)
        written, _ = model.export(str(tmp_path_factory.mktemp(family) / "small.onnx"))
        made[family] = model, {half: path for half, path in zip(("encoder", "decoder"), written)}
    return made


def _assert_matches_pytorch(model: CausalVideoTokenizer, encoder: OnnxTokenizerHalf, decoder: OnnxTokenizerHalf, x):
    network = model.network
    with torch.inference_mode():
        ours = network.encode(x)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = encoder(x)
        assert len(theirs) == len(ours)
        for a, b in zip(ours, theirs):
            assert a.dtype == b.dtype and a.shape == b.shape
            if a.is_floating_point():
                torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
            else:
                assert torch.equal(a, b)
        (pixels,) = decoder(ours[0])
        torch.testing.assert_close(pixels, network.decode(ours[0]), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_onnx_runtime_equals_pytorch_at_two_sizes_through_one_file(exported, family):
    model, paths = exported[family]
    encoder, decoder = OnnxTokenizerHalf(paths["encoder"]), OnnxTokenizerHalf(paths["decoder"])
    sizes = [tuple(x.shape) for x in check_inputs(model.network_config)]
    assert len(set(sizes)) == 2 and sizes[1][0] == 2  # two sizes, the second a batch of two
    for x in check_inputs(model.network_config):
        _assert_matches_pytorch(model, encoder, decoder, x)


@pytest.mark.parametrize("family", FAMILIES)
def test_files_follow_nemo_naming_with_named_dynamic_axes_and_metadata(exported, family):
    model, paths = exported[family]
    assert [p.rsplit("/", 1)[-1] for p in paths.values()] == ["encoder-small.onnx", "decoder-small.onnx"]
    graph = onnx.load(paths["encoder"]).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    video = family.endswith("V")
    assert dims == (["batch", 3, "frames", "height", "width"] if video else ["batch", 3, "height", "width"])
    assert [o.name for o in graph.output] == (["indices", "codes"] if family.startswith("D") else ["latent"])
    half = OnnxTokenizerHalf(paths["decoder"])
    assert half.half == "decoder" and half.model_name == f"small-{family}"
    assert half.config == model.network_config
    assert half.session.get_inputs()[0].name == ("indices" if family.startswith("D") else "latent")
    assert half.session.get_inputs()[0].type == ("tensor(int32)" if family.startswith("D") else "tensor(float)")


@pytest.mark.parametrize(
    "shape, message",
    [
        ((1, 3, 8, 16, 16), "1 \\+ k\\*4 frames"),
        ((1, 3, 5, 12, 16), "multiples of 8"),
        ((1, 3, 16, 16), "5-D tensor"),
    ],
)
def test_encoder_file_rejects_inputs_off_the_grid(exported, shape, message):
    encoder = OnnxTokenizerHalf(exported["DV"][1]["encoder"])
    with pytest.raises(ValueError, match=message):
        encoder(torch.zeros(shape))


def test_decoder_file_rejects_indices_out_of_range_and_float_input(exported):
    decoder = OnnxTokenizerHalf(exported["DV"][1]["decoder"])
    with pytest.raises(ValueError, match="0..63999"):
        decoder(torch.full((1, 2, 2, 2), 64000, dtype=torch.int32))
    with pytest.raises(ValueError, match="integer indices"):
        decoder(torch.zeros(1, 2, 2, 2))


def test_export_rejects_an_example_off_the_grid_other_formats_and_half_precision(tmp_path):
    model = _model("DV")
    with pytest.raises(ValueError, match="1 \\+ k\\*4 frames"):
        model.export(str(tmp_path / "dv.onnx"), input_example=(torch.zeros(1, 3, 6, 16, 16),))
    with pytest.raises(ValueError, match="ONNX only"):
        model.export(str(tmp_path / "dv.ts"))
    model.to(dtype=torch.float16)
    with pytest.raises(ValueError, match="float32 only"):
        model.export(str(tmp_path / "dv.onnx"))
    assert not list(tmp_path.iterdir())


def test_subnets_are_the_halves_the_model_holds():
    network = fill_with_formula(build_network(small_config("CV"), decoder=False))
    model = CausalVideoTokenizer(CausalVideoTokenizer.make_config(network.config, decoder=False, device="cpu"))
    assert model.list_export_subnets() == ["encoder"]
    with pytest.raises(ValueError, match="'encoder' and 'decoder'"):
        model.get_export_subnet("self")


def test_model_loaded_from_torchscript_files_exports_with_int64_indices(tmp_path):
    """The official layout (encoder.jit + decoder.jit, weights read into our network), exported
    from a given example: the decoder is traced on the encoder's indices, here as int64."""
    network = fill_with_formula(build_network(small_config("DV"))).eval()
    x = check_inputs(network.config)[0]
    export_torchscript(network, tmp_path / "ckpt", x, parts=("encoder", "decoder"))
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(network.config.to_dict()))

    scripted = CausalVideoTokenizer.from_pretrained(tmp_path / "ckpt", use_pytorch=False)
    with pytest.raises(ValueError, match="use_pytorch=True"):
        scripted.export(str(tmp_path / "scripted.onnx"))

    model = CausalVideoTokenizer.from_pretrained(tmp_path / "ckpt")
    model.set_export_config({"indices_dtype": "int64"})
    written, _ = model.export(str(tmp_path / "dv.onnx"), input_example=(x,))
    encoder, decoder = OnnxTokenizerHalf(written[0]), OnnxTokenizerHalf(written[1])
    assert decoder.session.get_inputs()[0].type == "tensor(int64)"
    assert all(p.requires_grad for p in model.network.parameters())  # export left training state alone
    _assert_matches_pytorch(model, encoder, decoder, check_inputs(model.network_config, seed=1)[1])


def test_cli_exports_and_checks_in_onnx_runtime(tmp_path, capsys):
    from nemo_cosmos.cli import main

    _model("DI").save_pretrained(tmp_path / "small-DI")
    assert main(["export", str(tmp_path / "small-DI"), str(tmp_path / "onnx"), "--indices-dtype", "int64"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == ["decoder-DI8x8.onnx", "encoder-DI8x8.onnx"]
    checks = [line for line in out.splitlines() if line.startswith("check ")]
    assert len(checks) == 6  # two inputs x (indices, codes, pixels)
    assert sum("0 indices differ" in line for line in checks) == 2
    diffs = [float(line.rsplit("= ", 1)[1]) for line in checks if "max |PyTorch" in line]
    assert len(diffs) == 4 and max(diffs) <= 1e-4

    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "onnx2")]) == 1
    assert "missing" in capsys.readouterr().err


def test_runner_refuses_files_it_cannot_check(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such ONNX file"):
        OnnxTokenizerHalf(tmp_path / "missing.onnx")
    value = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "plain", [value],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), tmp_path / "plain.onnx")
    with pytest.raises(ValueError, match="not an ONNX file exported by nemo-cosmos"):
        OnnxTokenizerHalf(tmp_path / "plain.onnx")
