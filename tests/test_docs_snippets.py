"""The Python snippets of README.md and tutorials/*.md run as they are written.

The ```python blocks of a document run in order in one namespace, as a reader runs them
(a later snippet may use what an earlier one made), in a temporary working directory
prepared with what they name, offline: a small DV network (ct 8, cs 8) with formula
weights saved as ``Cosmos-Tokenizer-DV8x8x8/`` (a local directory is read as it is, so
``from_pretrained("Cosmos-Tokenizer-DV8x8x8")`` loads it without the hub), the same
network's ``encoder.jit`` and ``decoder.jit``, and a token dataset at
``cosmos_tokens/tokens``. Where a snippet needs the full-size network, large frames or a
real machine's paths, ``SHRINK`` lists the text replaced; each entry must still occur, so
a snippet edited without its entry fails here.

A snippet that cannot run offline at all opts out with an HTML comment (invisible on
GitHub) on the line right before its fence, saying why:

    <!-- snippet: skip (needs a GPU) -->
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from nemo_cosmos.data.indexed.sidecar import token_header
from nemo_cosmos.data.indexed.token_layout import TokenLayout
from nemo_cosmos.data.indexed.writer import IndexedDatasetWriter
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.models import CausalVideoTokenizer

from checkpoints import export_torchscript
from conftest import small_config

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md", *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tutorials").glob("*.md"))]
SKIP = re.compile(r"<!--\s*snippet:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
SMALL_NETWORK = small_config("DV", temporal=8)  # the README's shapes hold: 1 + 8k frames, 8x8 spatial

# document -> (text in its snippets, replacement): smaller frames, the small network, local paths
SHRINK = {
    "README.md": [
        ("torch.rand(1, 3, 17, 256, 256)", "torch.rand(1, 3, 17, 64, 64)"),
        ("torch.empty(1, 3, 17, 256, 256)", "torch.empty(1, 3, 17, 64, 64)"),
        ('build_network("Cosmos-Tokenizer-DV8x8x8")', "build_network(small_network)"),
        ('from_pretrained("Cosmos-Tokenizer-DV8x16x16", device="cpu")', 'from_pretrained("Cosmos-Tokenizer-DV8x8x8", device="cpu")'),
    ],
    "tutorials/tokenize_videos_for_megatron.md": [("/data/cosmos_tokens", "cosmos_tokens")],
}


@dataclass(frozen=True)
class Snippet:
    line: int  # of the opening fence, 1-based
    code: str
    skip: str | None  # the opt-out reason


def python_snippets(text: str) -> list[Snippet]:
    """The ```python blocks of a markdown text, with any opt-out on the line before each."""
    lines = text.splitlines()
    snippets, index = [], 0
    while index < len(lines):
        if lines[index].strip() == "```python":
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
            marker = SKIP.search(lines[index - 1]) if index else None
            snippets.append(Snippet(index + 1, "\n".join(lines[index + 1 : end]) + "\n", marker["reason"] if marker else None))
            index = end
        index += 1
    return snippets


def test_snippets_are_found_with_their_opt_outs():
    text = "intro\n```python\na = 1\n```\n<!-- snippet: skip (needs a GPU) -->\n```python\nb = 2\n```\n```bash\nls\n```\n"
    assert python_snippets(text) == [Snippet(2, "a = 1\n", None), Snippet(6, "b = 2\n", "needs a GPU")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """What the snippets name, small and local."""
    root = tmp_path_factory.mktemp("snippets")
    model = CausalVideoTokenizer(CausalVideoTokenizer.make_config(SMALL_NETWORK, device="cpu", dtype="float32"))
    fill_with_formula(model.network)
    model.save_pretrained(root / "Cosmos-Tokenizer-DV8x8x8")
    export_torchscript(model.network, root, torch.zeros(1, 3, 9, 32, 32), parts=("encoder", "decoder"))
    layout = TokenLayout(codebook_size=64000, end_of_video_id=64000)  # the tutorial's layout: ids 0..63999, end of video 64000
    grids = np.random.default_rng(0).integers(0, 64000, size=(6, 5, 16, 16))  # six 33-frame 256x256 DV8x16x16 clips
    with IndexedDatasetWriter(root / "cosmos_tokens" / "tokens", token_header("Cosmos-Tokenizer-DV8x16x16", {}, layout, 8, 16)) as writer:
        for number, grid in enumerate(grids):
            writer.add_document([layout.to_sequence(grid)], shape=grid.shape, source={"path": f"{number}.mp4", "kind": "video"})
    return root


@pytest.mark.slow  # full snippets: models, megatron-core's dataset builder
@pytest.mark.parametrize("document", DOCUMENTS)
def test_snippets_run(document, workdir, monkeypatch):
    snippets = python_snippets((ROOT / document).read_text())
    code = "".join(snippet.code for snippet in snippets)
    stale = [old for old, _ in SHRINK.get(document, []) if old not in code]
    assert not stale, f"{document}: SHRINK replaces text its snippets no longer have: {stale}"
    monkeypatch.chdir(workdir)
    namespace = {"__name__": "__snippet__", "small_network": SMALL_NETWORK}
    ran = 0
    for snippet in snippets:
        if snippet.skip:
            continue
        source = snippet.code
        for old, new in SHRINK.get(document, []):
            source = source.replace(old, new)
        exec(compile(source, f"{document}:{snippet.line}", "exec"), namespace)  # a failure names the document and line
        ran += 1
    assert ran or not snippets, f"{document}: every snippet opts out"
    assert os.getcwd() == str(workdir)  # no snippet moved away from the prepared directory
