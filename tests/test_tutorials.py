"""The tutorials install what their commands need: every recipe a tutorial runs has its
optional extras in the tutorial's ``pip install`` line (the small-tokenizer tutorial once
installed ``.[samples]`` and then ran the evaluation, which needs matplotlib from ``.[bench]``)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The optional extras each recipe needs beyond the base install (a recipe missing here fails
# the test below, so a tutorial cannot run an unclassified recipe).
RECIPE_EXTRAS = {
    "sample_media.py": {"samples"},
    "train_tokenizer.py": set(),
    "evaluate.py": {"bench"},  # SSIM (scikit-image) and the plot (matplotlib)
    "side_by_side.py": set(),
    "make_sample_videos.py": set(),
    "tokenize_dataset.py": set(),
    "benchmark.py": {"bench"},
    "check_long_clip.py": set(),
}


def optional_dependencies() -> dict[str, list[str]]:
    """pyproject's ``[project.optional-dependencies]`` (one ``name = [...]`` line each; no
    tomllib on Python 3.10)."""
    text = (ROOT / "pyproject.toml").read_text()
    block = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    return {name: re.findall(r'"([^"]+)"', items) for name, items in re.findall(r"^(\w+) = \[(.*)\]$", block, re.M)}


def extras_with_includes(names: set[str]) -> set[str]:
    """``names`` plus the extras they pull in through ``nemo-cosmos[...]``."""
    table = optional_dependencies()
    found, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for requirement in table[name]:
            included = re.match(r"nemo-cosmos\[([^\]]+)\]", requirement)
            todo += included.group(1).split(",") if included else []
    return found


@pytest.mark.parametrize("tutorial", sorted((ROOT / "tutorials").glob("*.md")), ids=lambda path: path.name)
def test_tutorial_installs_the_extras_its_recipes_need(tutorial):
    text = tutorial.read_text()
    installed = set()
    for extras in re.findall(r'pip install -e "\.\[([^\]]+)\]"', text):
        installed |= {extra.strip() for extra in extras.split(",")}
    installed = extras_with_includes(installed)
    for recipe in sorted(set(re.findall(r"python recipes/(\w+\.py)", text))):
        assert recipe in RECIPE_EXTRAS, f"{tutorial.name} runs {recipe}: add the extras it needs to RECIPE_EXTRAS"
        missing = RECIPE_EXTRAS[recipe] - installed
        assert not missing, f"{tutorial.name} runs {recipe} but does not install the extra(s) {sorted(missing)}"
