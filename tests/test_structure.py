"""The package's shape: the import graph has no cycle, layers import only downward, and
the media side of ``data`` loads neither NeMo nor megatron-core."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nemo_cosmos"

# Which top-level parts of the package each part may import (besides itself).
ALLOWED = {
    "modules": set(),
    "networks": {"modules"},
    "formula_weights": set(),
    "safetensors_files": set(),
    "pretrained": {"networks", "modules", "safetensors_files"},
    "data": {"safetensors_files"},
    "metrics": {"data"},
    "models": {"pretrained", "networks", "modules", "data", "metrics", "formula_weights"},
    "convert": {"networks", "pretrained"},
    "tokenization": {"models", "pretrained", "networks", "data"},
    "evaluation": {"models", "pretrained", "networks", "data", "metrics", "convert", "formula_weights"},
    "cli": {"models", "pretrained", "networks", "data", "metrics", "tokenization", "formula_weights", "quiet"},
    "assets": set(),
    "quiet": set(),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules that ``path`` imports anywhere in its code (lazy imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(files)) - {name} for name, path in files.items()}


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_import_graph_has_no_cycle():
    graph = _graph()
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycle = trail[trail.index(target) :] + [target] if target in trail else [module, target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_layers_import_only_downward():
    wrong = []
    for module, targets in _graph().items():
        part = _part(module)
        if part not in ALLOWED:
            continue
        for target in targets:
            if _part(target) not in ALLOWED[part] | {part, ""}:
                wrong.append(f"{module} imports {target}")
            elif _part(target) == "" and part != "":
                wrong.append(f"{module} imports the package root (re-exports sit above every layer)")
    assert not wrong, "\n".join(sorted(wrong))


def _loaded_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _heavy(modules: list[str]) -> list[str]:
    return sorted({name.split(".")[0] for name in modules if name.split(".")[0] in {"nemo", "lightning", "pytorch_lightning", "megatron"}})


@pytest.mark.slow
def test_media_side_loads_neither_nemo_nor_megatron():
    assert _heavy(_loaded_after("import nemo_cosmos.data, nemo_cosmos.data.media, nemo_cosmos.data.token_file")) == []


@pytest.mark.slow
def test_indexed_sidecar_loads_no_megatron_and_writer_no_nemo():
    assert _heavy(_loaded_after("import nemo_cosmos.data.indexed.sidecar, nemo_cosmos.data.indexed.token_layout")) == []
    assert _heavy(_loaded_after("import nemo_cosmos.data.indexed.writer, nemo_cosmos.data.indexed.reader")) == ["megatron"]
