"""Reading and writing pixels, finding inputs, sampling clips, and Megatron indexed dataset I/O; no networks here.

Re-exported here: everything that does not need megatron-core. The Megatron side lives
in ``indexed_writer`` (IndexedDatasetWriter, merge_parts), ``indexed_reader``
(IndexedDocuments) and ``megatron_dataset`` (CosmosIndexedDataset and its config), with
``sidecar``, ``token_layout`` and ``latent_storage`` describing what is stored.
"""

from nemo_cosmos.data.clips import Clip, ClipSampling, clip_length_error, plan_clips, read_clips, stream_clips
from nemo_cosmos.data.errors import UnreadableMediaError
from nemo_cosmos.data.image import read_image, write_image
from nemo_cosmos.data.pixels import from_model_range, frames_to_tensor, tensor_to_frames, to_model_range
from nemo_cosmos.data.sharding import Part, parts_for_rank, plan_parts
from nemo_cosmos.data.sources import MediaItem, collect_inputs, read_manifest
from nemo_cosmos.data.transforms import FrameGeometry, Placement
from nemo_cosmos.data.video import VideoInfo, VideoWriter, iter_frames, iter_frames_at, probe_video, read_video, video_fps, write_video

__all__ = [
    "Clip",
    "ClipSampling",
    "FrameGeometry",
    "MediaItem",
    "Part",
    "Placement",
    "UnreadableMediaError",
    "VideoInfo",
    "VideoWriter",
    "clip_length_error",
    "collect_inputs",
    "from_model_range",
    "frames_to_tensor",
    "iter_frames",
    "iter_frames_at",
    "parts_for_rank",
    "plan_clips",
    "plan_parts",
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
