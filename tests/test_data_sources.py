"""Finding inputs (directory, glob, JSONL manifest) and splitting them into parts for ranks."""

import json
import logging

import pytest

from nemo_cosmos.data.media import collect_inputs, read_manifest
from nemo_cosmos.data.media.sources import media_kind
from nemo_cosmos.tokenization.distributed import Ranks
from nemo_cosmos.tokenization.sharding import TARGET_PARTS, Part, plan_parts, take_parts, windows_of


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_directory_is_scanned_recursively_in_sorted_order(tmp_path):
    for name in ("b/clip2.MP4", "a/z.png", "a/deeper/clip1.mov", "c.jpeg", "notes.txt", "a/.hidden/x.webm"):
        _touch(tmp_path / name)
    items = collect_inputs(tmp_path)
    relative = [str(item.path)[len(str(tmp_path)) + 1 :] for item in items]
    assert relative == ["a/.hidden/x.webm", "a/deeper/clip1.mov", "a/z.png", "b/clip2.MP4", "c.jpeg"]
    assert [item.kind for item in items] == ["video", "video", "image", "video", "image"]
    assert all(item.caption is None for item in items)


def test_ignored_files_are_named_in_the_log(tmp_path, caplog):
    for name in ("clip.mp4", "notes.txt", "a/readme.md"):
        _touch(tmp_path / name)
    with caplog.at_level(logging.INFO, logger="nemo_cosmos.data.media.sources"):
        collect_inputs(tmp_path)
    (message,) = [record.getMessage() for record in caplog.records if "ignored" in record.getMessage()]
    assert f"{tmp_path}: ignored 2 files that are neither video" in message
    assert message.endswith(f": {tmp_path / 'a' / 'readme.md'}, {tmp_path / 'notes.txt'}")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="nemo_cosmos.data.media.sources"):
        collect_inputs(str(tmp_path / "*.txt"))
    assert any(record.getMessage().startswith(f"{tmp_path / '*.txt'}: ignored 1 file that is neither") for record in caplog.records)


def test_glob_and_several_sources_keep_their_order(tmp_path):
    for name in ("v/2.mp4", "v/1.mp4", "v/sub/3.mp4", "i/1.png"):
        _touch(tmp_path / name)
    items = collect_inputs([str(tmp_path / "v" / "**" / "*.mp4"), tmp_path / "i"])
    assert [item.path for item in items] == [str(tmp_path / p) for p in ("v/1.mp4", "v/2.mp4", "v/sub/3.mp4", "i/1.png")]
    with pytest.raises(FileNotFoundError, match="matches no files"):
        collect_inputs(str(tmp_path / "nothing" / "*.mp4"))


def test_manifest_resolves_relative_paths_and_keeps_captions(tmp_path):
    manifest = tmp_path / "lists" / "train.jsonl"
    manifest.parent.mkdir()
    lines = [{"path": "../videos/a.mp4", "caption": "a red square"}, {"path": str(tmp_path / "b.PNG")}, {}]
    manifest.write_text("\n".join(json.dumps(line) for line in lines[:2]) + "\n\n")
    items = read_manifest(manifest)
    assert [(item.path, item.kind, item.caption) for item in items] == [
        (str(manifest.parent / "../videos/a.mp4"), "video", "a red square"),
        (str(tmp_path / "b.PNG"), "image", None),
    ]
    assert collect_inputs(manifest) == items


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"caption": "no path"}', 'non-empty string "path"'),
        ('["a.mp4"]', 'non-empty string "path"'),
        ('{"path": "a.mp4", "caption": 3}', '"caption" must be a string'),
        ('{"path": "notes.txt"}', "neither video"),
    ],
)
def test_bad_manifest_lines_name_file_and_line(tmp_path, line, problem):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"path": "ok.mp4"}\n' + line + "\n")
    with pytest.raises(ValueError, match=problem) as caught:
        read_manifest(manifest)
    assert str(caught.value).startswith(f"{manifest}:2: ")


def test_media_kind_by_extension():
    assert (media_kind("a/b.WebM"), media_kind("x.tiff"), media_kind("x.json"), media_kind("noext")) == ("video", "image", None, None)


def test_parts_are_whole_windows_cover_the_inputs_and_small_jobs_make_a_part_per_window():
    parts = plan_parts(10, first=0, window=2, items_per_part=64)
    assert [(p.start, p.stop) for p in parts] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)], "a small job: one window per part, for every rank"
    assert parts[2].name("tokens") == "tokens-000000004-000000006"
    grown = plan_parts(5, first=7, window=2, items_per_part=64)
    assert [(p.start, p.stop) for p in grown] == [(7, 9), (9, 11), (11, 12)]
    large = plan_parts(1_000_000, first=0, window=4, items_per_part=64)
    assert {p.size for p in large[:-1]} == {64} and large[-1].stop == 1_000_000 and len(large) == 15_625
    middle = plan_parts(40_000, first=0, window=4, items_per_part=64)
    assert all(p.size % 4 == 0 for p in middle) and 1_000 <= len(middle) <= TARGET_PARTS
    assert [w for w in windows_of(5, 2)] == [range(0, 2), range(2, 4), range(4, 5)]
    assert plan_parts(0, 0, 4, 4) == [] and plan_parts(3, 0, window=4, items_per_part=2) == [Part(0, 3)]
    with pytest.raises(ValueError, match="items_per_part"):
        plan_parts(5, 0, 1, 0)


def test_one_rank_takes_every_part_in_order_each_with_the_next():
    assert list(take_parts(Ranks(), 3)) == [(0, 1), (1, 2), (2, None)]
