"""Reading and writing pixels, sampling clips, and Megatron indexed dataset I/O; no networks here."""

from nemo_cosmos.data.errors import UnreadableMediaError
from nemo_cosmos.data.image import read_image, write_image
from nemo_cosmos.data.pixels import from_model_range, frames_to_tensor, tensor_to_frames, to_model_range
from nemo_cosmos.data.video import VideoInfo, VideoWriter, iter_frames, probe_video, read_video, video_fps, write_video

__all__ = [
    "UnreadableMediaError",
    "VideoInfo",
    "VideoWriter",
    "from_model_range",
    "frames_to_tensor",
    "iter_frames",
    "probe_video",
    "read_image",
    "read_video",
    "tensor_to_frames",
    "to_model_range",
    "video_fps",
    "write_image",
    "write_video",
]
