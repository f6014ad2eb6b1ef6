"""Which inputs a re-run keeps, encodes or refuses, from identities alone; and how settings differ."""

from nemo_cosmos.data.media import MediaItem
from nemo_cosmos.tokenization.inputs import input_identity, plan_growth
from nemo_cosmos.tokenization.settings import differences, fingerprint, listed


def _identity(path: str, size: int = 1, mtime_ns: int = 1, **extra) -> dict:
    return {"path": path, "size": size, "mtime_ns": mtime_ns, **extra}


def _record(identity: dict, documents: int) -> dict:
    return {**identity, "documents": [{"shape": [1]}] * documents, "skipped": [] if documents else [{"reason": "too short"}]}


def test_unchanged_inputs_are_kept_and_new_ones_encoded_in_listing_order():
    listing = [_identity("/d/a.mp4"), _identity("/d/b.mp4"), _identity("/d/c.mp4"), _identity("/d/d.mp4")]
    records = [_record(listing[0], 2), _record(listing[2], 1)]
    growth = plan_growth(iter(records), listing)
    assert (growth.kept, growth.new, growth.dropped, growth.refused) == (2, [1, 3], set(), False)


def test_inputs_that_gave_documents_and_changed_or_vanished_refuse_growth():
    listing = [_identity("/d/a.mp4", mtime_ns=5), _identity("/d/b.mp4", caption="a dog")]
    records = [_record(_identity("/d/a.mp4"), 1), _record(_identity("/d/b.mp4", caption="a cat"), 1), _record(_identity("/d/gone.mp4"), 1)]
    growth = plan_growth(records, listing)
    assert growth.refused and growth.vanished == ["/d/gone.mp4"]
    assert growth.changed == ["/d/a.mp4 (mtime_ns 1 -> 5)", "/d/b.mp4 (caption a cat -> a dog)"]


def test_a_skipped_input_is_retried_when_changed_and_forgotten_when_gone():
    listing = [_identity("/d/a.mp4"), _identity("/d/broken.mp4", size=9)]
    records = [_record(listing[0], 1), _record(_identity("/d/broken.mp4"), 0), _record(_identity("/d/removed.mp4"), 0)]
    growth = plan_growth(records, listing)
    assert (growth.kept, growth.new, growth.dropped) == (1, [1], {1, 2})
    assert (growth.retried, growth.forgotten, growth.refused) == (["/d/broken.mp4"], ["/d/removed.mp4"], False)
    unchanged_skip = plan_growth([_record(listing[0], 1), _record(listing[1], 0)], listing)
    assert (unchanged_skip.kept, unchanged_skip.new) == (2, []), "a skip whose input did not change is not retried"


def test_a_path_listed_twice_is_two_inputs():
    listing = [_identity("/d/a.mp4", caption="one"), _identity("/d/a.mp4", caption="two")]
    growth = plan_growth([_record(listing[1], 1)], listing)
    assert (growth.kept, growth.new) == (1, [0])


def test_identity_is_path_size_mtime_and_caption_without_reading(tmp_path):
    path = tmp_path / "v.mp4"
    path.write_bytes(b"x" * 10)
    identity = input_identity(MediaItem(str(path), "video", "a caption"))
    assert identity == {"path": str(path), "size": 10, "mtime_ns": path.stat().st_mtime_ns, "caption": "a caption"}
    assert input_identity(MediaItem(str(tmp_path / "missing.mp4"), "video"))["size"] is None


def test_setting_differences_name_each_key_with_old_and_new_values():
    old = {"clips.num_frames": 17, "frames.fit": "crop", "run.threads": 2}
    new = {"clips.num_frames": 9, "frames.fit": "crop", "run.batch_size": 4}
    assert differences(old, new) == ["clips.num_frames: 17 -> 9", "run.batch_size: null -> 4", "run.threads: 2 -> null"]
    assert fingerprint(old) == fingerprint(dict(reversed(old.items()))) != fingerprint(new)
    assert listed([str(i) for i in range(8)], limit=3) == "0; 1; 2 and 5 more"
