"""Clip sampling (1 + k*ct frames, stride, target fps, several clips), streaming clip decoding, resize and crop."""

import numpy as np
import pytest

from nemo_cosmos.data.media import Clip, ClipSampling, FrameGeometry, FrameUsage, UnreadableMediaError, clip_length_error, frame_usage, plan_clips, read_clips, read_video, stream_clips

from data_samples import write_moving_shapes_video


def test_clip_length_must_be_one_plus_multiple_of_ct():
    assert clip_length_error(33, 8) is None and clip_length_error(121, 8) is None and clip_length_error(1, 8) is None
    message = clip_length_error(32, 8)
    assert "1 + k*8" in message and "25 or 33" in message
    with pytest.raises(ValueError, match=r"1 \+ k\*4"):
        ClipSampling(num_frames=16, temporal_compression=4)
    with pytest.raises(ValueError, match="excludes frame_stride"):
        ClipSampling(num_frames=17, temporal_compression=4, frame_stride=2, target_fps=10)


def test_clips_are_consecutive_blocks_at_the_stride():
    sampling = ClipSampling(num_frames=9, temporal_compression=4, frame_stride=2, max_clips_per_video=None)
    clips, reason = plan_clips(40, 24.0, sampling)
    assert reason is None
    assert [c.frames for c in clips] == [tuple(range(0, 18, 2)), tuple(range(18, 36, 2))]
    assert (clips[1].start_frame, clips[1].end_frame, clips[1].padded) == (18, 34, 0)
    one, _ = plan_clips(40, 24.0, ClipSampling(num_frames=9, temporal_compression=4, frame_stride=2, max_clips_per_video=1))
    assert one == clips[:1]


def test_several_clips_are_spread_evenly_without_overlap():
    sampling = ClipSampling(num_frames=5, temporal_compression=4, max_clips_per_video=3)
    clips, _ = plan_clips(52, 30.0, sampling)  # 10 blocks of 5; blocks 0, 5 (4.5 rounded up), 9
    assert [c.start_frame for c in clips] == [0, 25, 45]
    assert all(len(c.frames) == 5 for c in clips)
    again, _ = plan_clips(52, 30.0, sampling)
    assert again == clips


def test_target_fps_resamples_the_timeline():
    clips, reason = plan_clips(100, 30.0, ClipSampling(num_frames=5, temporal_compression=4, target_fps=24.0, max_clips_per_video=None))
    assert reason is None and len(clips) == 16  # 80 samples at 24 fps out of 100 frames at 30 fps
    assert clips[0].frames == (0, 1, 3, 4, 5)
    assert clips[1].frames == (6, 8, 9, 10, 11)
    clips, reason = plan_clips(100, 20.0, ClipSampling(num_frames=5, temporal_compression=4, target_fps=24.0))
    assert clips == [] and "below target_fps" in reason


def test_short_video_is_skipped_with_the_rule_or_padded_when_asked(caplog):
    sampling = ClipSampling(num_frames=33, temporal_compression=8)
    clips, reason = plan_clips(30, 24.0, sampling)
    assert clips == [] and "too short" in reason and "33 = 1 + 4*8" in reason and "1 + k*temporal_compression" in reason and reason.kind == "too_short"
    padded, reason = plan_clips(30, 24.0, ClipSampling(num_frames=33, temporal_compression=8, pad_short=True))
    assert reason is None and padded[0].padded == 3 and padded[0].frames == tuple(range(30)) + (29, 29, 29)
    assert plan_clips(0, 24.0, ClipSampling(num_frames=33, temporal_compression=8, pad_short=True))[1].startswith("too short")


def test_read_clips_streams_exactly_the_planned_frames(tmp_path):
    path = tmp_path / "clip.mp4"
    write_moving_shapes_video(path, num_frames=30)
    frames, _ = read_video(path)
    clips = [Clip(frames=(2, 4, 6, 8, 10)), Clip(frames=(20, 21, 22, 22, 22), padded=2)]
    converted = []

    def transform(frame):
        converted.append(frame)
        return frame[::2, ::2]

    out = list(read_clips(path, clips, transform=transform))
    assert [clip for clip, _ in out] == clips
    for clip, clip_frames in out:
        np.testing.assert_array_equal(clip_frames, frames[list(clip.frames)][:, ::2, ::2])
    assert len(converted) == 8  # only the distinct frames the clips use are converted
    with pytest.raises(UnreadableMediaError, match=r"truncated: the video ends at frame 30 of the 30 its header promises, inside clip frames 28\.\.32") as caught:
        list(read_clips(path, [Clip(frames=(28, 29, 30, 31, 32))]))
    assert caught.value.reason.kind == "truncated"


def test_stream_clips_decodes_each_frame_only_when_it_is_asked_for(tmp_path):
    path = tmp_path / "clip.mp4"
    write_moving_shapes_video(path, num_frames=30)
    frames, _ = read_video(path)
    converted = []

    def transform(frame):
        converted.append(frame)
        return frame

    clips = [Clip(frames=(0, 2, 4)), Clip(frames=(10, 11, 11), padded=1)]
    stream = stream_clips(path, clips, transform)
    clip, first = next(stream)
    assert clip == clips[0] and converted == []
    np.testing.assert_array_equal(next(first), frames[0])
    assert len(converted) == 1  # one frame decoded and converted so far, not the clip
    np.testing.assert_array_equal(np.stack(list(first)), frames[[2, 4]])
    clip, second = next(stream)
    np.testing.assert_array_equal(np.stack(list(second)), frames[[10, 11, 11]])
    assert len(converted) == 5 and next(stream, None) is None
    broken = stream_clips(path, [Clip(frames=(29, 30, 31))])
    with pytest.raises(UnreadableMediaError, match=r"ends at frame 30 of the 30 its header promises, inside clip frames 29\.\.31"):
        list(next(broken)[1])


def test_stream_clips_gives_the_right_frames_when_clips_overlap(tmp_path):
    """A stride below the clip length makes clips share frames; each clip still gets its own."""
    path = tmp_path / "clip.mp4"
    write_moving_shapes_video(path, num_frames=12)
    frames, _ = read_video(path)
    clips = [Clip(frames=(0, 1, 2)), Clip(frames=(1, 2, 3)), Clip(frames=(3, 4, 4), padded=1), Clip(frames=(4, 5, 6))]
    for clip, clip_frames in read_clips(path, clips):
        np.testing.assert_array_equal(clip_frames, frames[list(clip.frames)])


def test_stream_clips_moves_on_from_a_clip_left_half_read(tmp_path):
    path = tmp_path / "clip.mp4"
    write_moving_shapes_video(path, num_frames=12)
    frames, _ = read_video(path)
    stream = stream_clips(path, [Clip(frames=(0, 1, 2, 3)), Clip(frames=(2, 3, 4, 5))])
    _, first = next(stream)
    for _ in range(3):  # the caller gives up on this clip before its last frame
        next(first)
    _, second = next(stream)
    np.testing.assert_array_equal(np.stack(list(second)), frames[[2, 3, 4, 5]])


def test_geometry_resizes_shorter_side_then_crops_or_pads():
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :32] = 255
    cropped = FrameGeometry(height=32, width=32, multiple=8).apply(frame)
    assert cropped.shape == (32, 32, 3)
    assert cropped[:, :10].min() == 255 and cropped[:, 22:].max() == 0  # centre crop of the 43-wide resize
    padded_geometry = FrameGeometry(height=32, width=32, fit="pad", multiple=8)
    placement = padded_geometry.place(48, 64)
    assert placement.resized == (24, 32) and placement.content_box == (4, 0, 24, 32)
    padded = padded_geometry.apply(frame)
    assert padded.shape == (32, 32, 3) and padded[:4].max() == 0 and padded[28:].max() == 0
    native = FrameGeometry(multiple=8)
    assert native.apply(np.zeros((50, 70, 3), np.uint8)).shape == (48, 64, 3)
    assert FrameGeometry(multiple=8, fit="pad").apply(np.zeros((50, 70, 3), np.uint8)).shape == (56, 72, 3)
    assert FrameGeometry(height=16, width=24, multiple=8).apply(np.zeros((64, 48, 3), np.uint8)).shape == (16, 24, 3)


def test_too_small_sources_are_reported_not_blown_up():
    geometry = FrameGeometry(height=64, width=64, multiple=8, min_side=8)
    assert "too small: 40x7 pixels" in geometry.skip_reason(7, 40) and geometry.skip_reason(7, 40).kind == "too_small"
    assert geometry.skip_reason(8, 40) is None
    assert "at least 16" in FrameGeometry(multiple=16).skip_reason(12, 100)
    with pytest.raises(ValueError, match="multiple of 8"):
        FrameGeometry(height=60, width=64, multiple=8)
    with pytest.raises(ValueError, match="both height and width"):
        FrameGeometry(height=64)


@pytest.mark.parametrize(
    "num_frames, fps, settings, expected",
    [
        (100, 24.0, dict(frame_stride=2, max_clips_per_video=None), FrameUsage(used=45, stride=44, tail=11)),  # 5 clips over frames 0..88
        (100, 24.0, dict(max_clips_per_video=2), FrameUsage(used=18, tail=1, unchosen=81)),  # clips at 0..8 and 90..98 of 11
        (100, 30.0, dict(target_fps=12.0, max_clips_per_video=None), FrameUsage(used=36, stride=53, tail=11)),
        (5, 24.0, dict(pad_short=True), FrameUsage(used=5)),
        (5, 24.0, dict(), FrameUsage(skipped=5)),
    ],
)
def test_frame_usage_accounts_for_every_frame(num_frames, fps, settings, expected):
    sampling = ClipSampling(num_frames=9, temporal_compression=4, **settings)
    clips, _ = plan_clips(num_frames, fps, sampling)
    usage = frame_usage(num_frames, fps, sampling, clips)
    assert usage == expected and sum(vars(usage).values()) == num_frames
    assert usage.used == sum(len(set(clip.frames)) for clip in clips)
