"""Decoding in worker processes: the same chunks as decoding here, failures as reasons, and no
wait on (or orphan of) a dead process. Real files, real PyAV, real processes."""

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

from nemo_cosmos.data.media import ClipSampling, FrameGeometry, plan_clips
from nemo_cosmos.data.media.decode_pool import DecodePool

from data_samples import write_moving_shapes_video

GEOMETRY = FrameGeometry(height=32, width=32, multiple=8)
SIZES = [5, 4]  # chunks of a 9-frame clip: 1 + 4, then 4
CLIPS, _ = plan_clips(40, 24.0, ClipSampling(num_frames=9, temporal_compression=4, max_clips_per_video=None))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    for seed in range(3):
        write_moving_shapes_video(folder / f"v{seed}.mp4", num_frames=40, height=40, width=56, seed=seed)
    data = (folder / "v0.mp4").read_bytes()
    (folder / "cut.mp4").write_bytes(data[: len(data) // 3])  # the index (moov) sits at the end: unreadable
    return [str(folder / name) for name in ("v0.mp4", "cut.mp4", "v1.mp4", "missing.mp4", "v2.mp4")]


def _decode_all(workers: int, paths: list[str], prefetch: int = 2) -> list:
    """Every chunk of every lane, lanes in lockstep as the encoder takes them."""
    with DecodePool(workers, GEOMETRY.apply, prefetch) as pool:
        lanes = [pool.open(path, CLIPS, SIZES, (32, 32)) for path in paths]
        chunks = [lane.next_chunk() for _ in range(len(CLIPS) * len(SIZES)) for lane in lanes]
        for lane in lanes:
            lane.close()
    return chunks


def _same(first: list, second: list) -> bool:
    return len(first) == len(second) and all(
        (isinstance(a, str) and a == b) or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)) for a, b in zip(first, second)
    )


@pytest.mark.parametrize("workers, prefetch", [(1, 1), (2, 3)])
def test_workers_give_the_chunks_of_one_process(videos, workers, prefetch):
    here = _decode_all(0, videos)
    assert len(CLIPS) == 4 and len(here) == 4 * 2 * 5
    assert [c.shape for c in here[:5:2]] == [(5, 32, 32, 3)] * 3 and here[5].shape == (4, 32, 32, 3)
    assert here[1].kind == "not_media" and here[3] == "no such file" and here[3].kind == "missing"
    assert not np.array_equal(here[0], here[2]), "different videos must give different frames"
    assert _same(here, _decode_all(workers, videos, prefetch))


def test_a_killed_worker_fails_its_open_lanes_and_a_new_one_serves_later_lanes(videos):
    with DecodePool(1, GEOMETRY.apply, prefetch=2) as pool:
        lane = pool.open(videos[0], CLIPS, SIZES, (32, 32))
        first = lane.next_chunk()
        os.kill(pool._workers[0].process.pid, signal.SIGKILL)
        rest = [lane.next_chunk() for _ in range(lane.planned - 1)]
        later = pool.open(videos[2], CLIPS, SIZES, (32, 32))
        after = [later.next_chunk() for _ in range(later.planned)]
    assert isinstance(first, np.ndarray)
    failures = [chunk for chunk in rest if isinstance(chunk, str)]
    assert failures and all("decode worker process died (exit code -9)" in chunk and chunk.kind == "decode_worker_died" for chunk in failures)
    assert all(isinstance(chunk, str) for chunk in rest[rest.index(failures[0]) :]), "nothing after the failure"
    assert _same(after, _decode_all(0, [videos[2]]))


def _hold_a_lane(path: str, report) -> None:
    """In a process of its own: open a lane, report the worker's pid, then wait to be killed."""
    pool = DecodePool(1, GEOMETRY.apply)
    lane = pool.open(path, CLIPS, SIZES, (32, 32))
    lane.next_chunk()
    report.send(pool._workers[0].process.pid)
    time.sleep(600)


def test_workers_end_when_their_pool_process_is_killed(videos):
    receiver, sender = multiprocessing.Pipe(duplex=False)
    owner = multiprocessing.get_context("fork").Process(target=_hold_a_lane, args=(videos[0], sender))
    owner.start()
    assert receiver.poll(120)
    worker = receiver.recv()
    os.kill(owner.pid, signal.SIGKILL)
    owner.join()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.05)
    assert not _alive(worker), "the decode worker outlived its pool's process"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (an exited orphan is reaped by init, so it disappears)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
