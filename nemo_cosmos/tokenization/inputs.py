"""Which inputs a dataset already holds, and which a re-run must encode.

An input is identified as ``make`` and ``rsync`` do, without reading it: its absolute
path, size and modification time in nanoseconds, plus its caption (manifests). The
finished dataset's per-input records carry these identities in dataset order. Comparing
them with today's listing gives the growth: inputs to keep (unchanged), inputs to encode
(new ones, and skipped ones whose identity changed), in listing order, and the problems
that forbid growing (an input that gave documents has changed or vanished).
"""

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from nemo_cosmos.data.media import MediaItem

IDENTITY_KEYS = ("path", "size", "mtime_ns", "caption")


def absolute_items(items: list[MediaItem]) -> list[MediaItem]:
    """``items`` with absolute paths, so identities and sources do not depend on the working directory."""
    return [replace(item, path=os.path.abspath(item.path)) for item in items]


def input_identity(item: MediaItem) -> dict[str, Any]:
    """``path``, ``size``, ``mtime_ns`` (None for a file that does not exist) and ``caption`` when there is one."""
    try:
        status = os.stat(item.path)
        size, mtime_ns = status.st_size, status.st_mtime_ns
    except FileNotFoundError:
        size = mtime_ns = None
    identity = {"path": item.path, "size": size, "mtime_ns": mtime_ns}
    if item.caption is not None:
        identity["caption"] = item.caption
    return identity


def identity_of(record: dict[str, Any]) -> dict[str, Any]:
    """The identity fields of a per-input record."""
    return {key: record[key] for key in IDENTITY_KEYS if key in record}


def describe_change(recorded: dict[str, Any], current: dict[str, Any]) -> str:
    """``a.mp4 (size 100 -> 120, mtime_ns ...)``: what differs between two identities of one path."""
    changes = [f"{key} {recorded.get(key)} -> {current.get(key)}" for key in IDENTITY_KEYS[1:] if recorded.get(key) != current.get(key)]
    return f"{recorded['path']} ({', '.join(changes)})"


@dataclass
class Growth:
    """What a re-run over a finished dataset does.

    ``kept``: how many of the dataset's input records stay (in order); ``dropped``: the
    record numbers of skips whose input changed or is no longer listed (they gave no
    document, so no byte of ``.bin``/``.idx`` depends on them); ``new``: listing positions
    to encode, in listing order; ``retried`` and ``forgotten``: the paths of those skips;
    ``changed`` and ``vanished``: inputs that gave documents and differ now or are gone
    (growth is refused).
    """

    kept: int = 0
    dropped: set[int] = field(default_factory=set)
    new: list[int] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.changed or self.vanished)


def plan_growth(records: Iterable[dict[str, Any]], listing: list[dict[str, Any]]) -> Growth:
    """Compare the dataset's input ``records`` (streamed, in order) with today's ``listing`` identities.

    A record is matched with an unused listing entry of the same identity (a path listed
    twice is two inputs). Inputs of the listing that match no record are new. A record
    that matches nothing and gave no document (a skip) is dropped: its input is retried
    when still listed; a later record of the same input (a retry that succeeded) is kept.
    """
    positions: dict[str, list[int]] = {}
    for position, identity in enumerate(listing):
        positions.setdefault(identity["path"], []).append(position)
    growth, matched, unmatched_skips = Growth(), set(), []
    for number, record in enumerate(records):
        identity = identity_of(record)
        if "path" not in identity:
            raise ValueError("the dataset's records carry no input identities")
        waiting = positions.get(identity["path"], [])
        same = next((position for position in waiting if listing[position] == identity), None)
        if same is not None:
            waiting.remove(same)
            matched.add(same)
            growth.kept += 1
        elif not record.get("documents"):
            growth.dropped.add(number)
            unmatched_skips.append(identity["path"])
        elif waiting:
            growth.changed.append(describe_change(identity, listing[waiting[0]]))
        else:
            growth.vanished.append(identity["path"])
    growth.new = [position for position in range(len(listing)) if position not in matched]
    still_listed = {listing[position]["path"] for position in growth.new}
    growth.retried = [path for path in unmatched_skips if path in still_listed]
    growth.forgotten = [path for path in unmatched_skips if path not in positions]
    return growth
