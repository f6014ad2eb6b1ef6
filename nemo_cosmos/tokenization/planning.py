"""What one input becomes: clips to encode (videos), one picture to encode (images), or a skip record.

Videos are probed here (header only, nothing decoded), so a corrupt, empty, missing,
too short or too small video is skipped before any work is spent on it. Images are
checked when they are read, which happens once, at encoding time. The job plans each
window while the one before it is encoded (``Planner``), and still probes each video once.
"""

from dataclasses import dataclass
from typing import Any

from nemo_cosmos.data.indexed.skipped import skip_record
from nemo_cosmos.data.media import Clip, ClipSampling, FrameGeometry, FrameUsage, MediaItem, UnreadableMediaError, frame_usage, plan_clips, probe_video
from nemo_cosmos.data.media.errors import SkipReason, reason_of


@dataclass(frozen=True)
class Unit:
    """One future document: a clip of a video, or an image (``clip`` None).

    ``shape`` is the ``(frames, height, width)`` the clip is encoded at; None for images,
    whose size is known once they are read.
    """

    item: MediaItem
    clip: Clip | None = None
    shape: tuple[int, int, int] | None = None

    def source(self) -> dict[str, Any]:
        """The provenance recorded with the document."""
        source: dict[str, Any] = {"path": self.item.path, "kind": self.item.kind}
        if self.clip is not None:
            source.update(start_frame=self.clip.start_frame, end_frame=self.clip.end_frame)
            if self.clip.padded:
                source["padded_frames"] = self.clip.padded
        if self.item.caption is not None:
            source["caption"] = self.item.caption
        return source

    def skip(self, reason: str) -> dict[str, Any]:
        """The skip record of this unit, naming the clip's frames when it is one."""
        details = {"start_frame": self.clip.start_frame, "end_frame": self.clip.end_frame} if self.clip is not None else {}
        return skip_record(self.item.path, reason, **details)


# What a user can set to use an input skipped for this kind of reason.
HINTS = {
    "too_short": "set clips.pad_short=true to pad it with its last frame",
    "too_small": "lower frames.min_side to scale it up (with frames.fit=pad it is kept whole)",
}


def with_hint(reason: SkipReason) -> SkipReason:
    """``reason`` followed by the job option that would use the input instead, when there is one."""
    hint = HINTS.get(reason.kind)
    return SkipReason(reason.kind, f"{reason}; {hint}") if hint else reason


# What an input becomes (its units, or its skip record) and how its frames are used.
Plan = tuple[list[Unit] | dict[str, Any], FrameUsage]


def plan_item(item: MediaItem, sampling: ClipSampling | None, geometry: FrameGeometry, model_name: str) -> Plan:
    """The units of an input, or its skip record; and how its frames are used (videos).

    ``sampling`` is None for image models, which cannot tokenize videos (they are skipped
    with that reason); video models take images as single-frame clips.
    """
    if item.kind == "image":
        return [Unit(item)], FrameUsage()
    if sampling is None:
        reason = SkipReason("video_for_image_model", f"a video, but {model_name} is an image tokenizer; use a video (CV/DV) tokenizer for videos")
        return skip_record(item.path, reason), FrameUsage()
    try:
        info = probe_video(item.path)
    except (UnreadableMediaError, FileNotFoundError) as error:
        return skip_record(item.path, reason_of(error)), FrameUsage()
    too_small = geometry.skip_reason(info.height, info.width)
    if too_small:
        return skip_record(item.path, with_hint(too_small)), FrameUsage(skipped=info.num_frames)
    clips, reason = plan_clips(info.num_frames, info.fps, sampling)
    usage = frame_usage(info.num_frames, info.fps, sampling, clips)
    if reason:
        return skip_record(item.path, with_hint(reason)), usage
    height, width = geometry.place(info.height, info.width).output
    return [Unit(item, clip, (len(clip.frames), height, width)) for clip in clips], usage


class Planner:
    """``plan_item`` with a job's options, each input probed once though planned ahead of its
    turn (so that its video starts decoding early): the plan waits here until its turn."""

    def __init__(self, sampling: ClipSampling | None, geometry: FrameGeometry, model_name: str) -> None:
        self.sampling, self.geometry, self.model_name = sampling, geometry, model_name
        self._ahead: dict[MediaItem, Plan] = {}

    def plan(self, item: MediaItem) -> Plan:
        """The plan of ``item`` at its turn: the one made ahead, else one made now."""
        plan = self._ahead.pop(item, None)
        return plan if plan is not None else plan_item(item, self.sampling, self.geometry, self.model_name)

    def ahead(self, items: list[MediaItem]) -> list[Unit]:
        """Plan ``items`` before their turn, keeping their plans for :meth:`plan`; their video clips, in order."""
        clips = []
        for item in items:
            if item not in self._ahead:
                self._ahead[item] = plan_item(item, self.sampling, self.geometry, self.model_name)
            planned, _ = self._ahead[item]
            if isinstance(planned, list):
                clips.extend(unit for unit in planned if unit.clip is not None)
        return clips
