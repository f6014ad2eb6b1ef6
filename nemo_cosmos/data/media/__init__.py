"""Media input: finding inputs, reading and writing images and video, pixels, frame
geometry and clip sampling. Imports neither NeMo nor megatron-core."""

from nemo_cosmos.data.media.clips import Clip, ClipOptions, ClipSampling, FrameUsage, clip_length_error, frame_usage, plan_clips, read_clips, stream_clips
from nemo_cosmos.data.media.errors import UnreadableMediaError
from nemo_cosmos.data.media.image import read_image, write_image
from nemo_cosmos.data.media.pixels import frames_to_tensor, from_model_range, tensor_to_frames, to_model_range
from nemo_cosmos.data.media.sources import MediaItem, collect_inputs, media_kind, read_manifest
from nemo_cosmos.data.media.transforms import FrameGeometry, FrameOptions, Placement
from nemo_cosmos.data.media.video import VideoInfo, VideoWriter, iter_frames, iter_frames_at, probe_video, read_video, video_fps, write_video

__all__ = [
    "Clip",
    "ClipOptions",
    "ClipSampling",
    "FrameGeometry",
    "FrameOptions",
    "FrameUsage",
    "MediaItem",
    "Placement",
    "UnreadableMediaError",
    "VideoInfo",
    "VideoWriter",
    "clip_length_error",
    "collect_inputs",
    "frame_usage",
    "from_model_range",
    "frames_to_tensor",
    "iter_frames",
    "iter_frames_at",
    "media_kind",
    "plan_clips",
    "probe_video",
    "read_clips",
    "read_image",
    "read_manifest",
    "read_video",
    "stream_clips",
    "tensor_to_frames",
    "to_model_range",
    "video_fps",
    "write_image",
    "write_video",
]
