"""MediaHub: monotonic pts, GOP cache for late joiners, whole-GOP drops, close."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
import subprocess
import sys

from custom_components.chinesium.protocol.media import MediaHub, Subscription
from custom_components.chinesium.protocol.model import Codec, Frame

from .media_helpers import fake_frames


def drain(sub: Subscription) -> list[int]:
    """Seqs of every queued frame (without awaiting)."""
    out = []
    while sub.queued:
        frame = sub._buf.popleft()
        out.append(frame.seq)
    return out


def test_publish_sanitizes_pts_for_everyone() -> None:
    hub = MediaHub(nominal_step_ms=66)
    sub = hub.subscribe()
    frames = fake_frames("KPPPP")
    frames[2] = dataclasses.replace(frames[2], pts=frames[1].pts)  # duplicate
    frames[4] = dataclasses.replace(frames[4], pts=5)  # backwards
    out = [hub.publish(f) for f in frames]
    assert [f.pts for f in out] == [0, 66, 132, 264, 330]
    queued = list(sub._buf)
    assert [f.pts for f in queued] == [0, 66, 132, 264, 330]
    assert [f.data for f in queued] == [f.data for f in frames]
    assert hub.frames_in == 5
    assert hub.keyframes_in == 1


def test_late_joiner_starts_at_cached_gop() -> None:
    hub = MediaHub()
    for f in fake_frames("KPPPKPP"):
        hub.publish(f)
    late = hub.subscribe()
    assert drain(late) == [5, 6, 7]
    assert hub.latest_keyframe is not None
    assert hub.latest_keyframe.seq == 5
    assert hub.latest is not None
    assert hub.latest.seq == 7


def test_subscriber_before_any_keyframe_waits_for_one() -> None:
    hub = MediaHub()
    sub = hub.subscribe()
    for f in fake_frames("PPKP"):
        hub.publish(f)
    assert drain(sub) == [3, 4]
    assert sub.dropped == 2


def test_slow_subscriber_loses_whole_gops_not_p_frames() -> None:
    hub = MediaHub()
    sub = hub.subscribe(maxsize=4)
    # K1 P2 P3 P4 | P5 P6 dropped (rest of GOP) | K7 needs room: drop K1-P4 | K7 P8 P9 P10
    for f in fake_frames("KPPPPPKPPP"):
        hub.publish(f)
    assert drain(sub) == [7, 8, 9, 10]
    assert sub.dropped == 6


def test_overflow_keeps_newer_complete_gop() -> None:
    hub = MediaHub()
    sub = hub.subscribe(maxsize=5)
    # K1 P2 K3 P4 P5 queued; P6 overflows (dropped, skipping); K7 drops K1 P2 (up to K3).
    for f in fake_frames("KPKPPPK"):
        hub.publish(f)
    seqs = drain(sub)
    assert seqs == [3, 4, 5, 7]
    assert sub.dropped == 3


def test_consumer_mid_gop_loses_only_the_tail() -> None:
    hub = MediaHub()
    sub = hub.subscribe(maxsize=3)
    frames = fake_frames("KPPPPKP")
    for f in frames[:3]:
        hub.publish(f)
    sub._buf.popleft()  # consumer read K1, is now "mid-GOP"
    for f in frames[3:]:
        hub.publish(f)
    # P2 P3 P4 queued, P5 dropped, K6 drops P2-P4 (tail of GOP 1), P7.
    assert drain(sub) == [6, 7]
    assert sub.dropped == 4


def test_late_joiner_with_gop_longer_than_its_queue() -> None:
    hub = MediaHub()
    for f in fake_frames("KPPPPP"):
        hub.publish(f)
    sub = hub.subscribe(maxsize=3)
    assert sub.queued == 3
    for f in fake_frames("PPK", start_seq=7):
        hub.publish(f)
    # Nobody read the prefix: P7 P8 are skipped, K9 replaces the stale GOP.
    assert drain(sub) == [9]
    assert sub.dropped == 5


def test_jpeg_frames_are_keyframes_and_drop_one_by_one() -> None:
    hub = MediaHub()
    jpegs = [
        dataclasses.replace(f, keyframe=False) for f in fake_frames("PPPPPP", codec=Codec.JPEG)
    ]
    for f in jpegs[:3]:
        hub.publish(f)
    late = hub.subscribe(maxsize=2)
    assert drain(late) == [3]  # a JPEG joiner gets the latest picture only
    for f in jpegs[3:]:
        hub.publish(f)
    assert drain(late) == [5, 6]
    assert late.dropped == 1
    assert hub.latest_keyframe is not None
    assert hub.latest_keyframe.seq == 6
    assert hub.latest_keyframe.keyframe


def test_codec_change_resets_the_cache() -> None:
    hub = MediaHub()
    for f in fake_frames("KPP"):
        hub.publish(f)
    hub.publish(fake_frames("P", codec=Codec.H265, start_seq=4)[0])
    assert hub.codec is Codec.H265
    assert hub.latest_keyframe is None
    assert hub.subscribe().queued == 0


def test_gop_cache_is_bounded() -> None:
    hub = MediaHub(gop_cache_max=3)
    for f in fake_frames("KPPPP"):
        hub.publish(f)
    assert hub.subscribe().queued == 0
    assert hub.as_dict()["cached_gop"] == 0


async def test_async_iteration_and_close_wakes_parked_consumers() -> None:
    hub = MediaHub()
    subs = [hub.subscribe() for _ in range(3)]
    got: dict[int, list[int]] = {i: [] for i in range(3)}

    async def consume(i: int) -> None:
        async for frame in subs[i]:
            got[i].append(frame.seq)

    tasks = [asyncio.create_task(consume(i)) for i in range(3)]
    for f in fake_frames("KPP"):
        hub.publish(f)
        await asyncio.sleep(0)
    async with asyncio.timeout(5):
        while any(len(v) < 3 for v in got.values()):  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    assert all(t.done() is False for t in tasks)  # parked, waiting for more
    hub.close()
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks)
    assert got == {i: [1, 2, 3] for i in range(3)}
    assert hub.subscribers == 0
    assert all(s.closed for s in subs)
    hub.publish(fake_frames("K")[0])  # ignored after close
    assert hub.frames_in == 3
    late = hub.subscribe()
    assert late.closed
    assert await late.get() is None


async def test_subscription_close_detaches() -> None:
    hub = MediaHub()
    sub = hub.subscribe()
    other = hub.subscribe()
    hub.publish(fake_frames("K")[0])
    reader = asyncio.create_task(sub.get())
    got = await asyncio.wait_for(reader, 5)
    assert got is not None
    assert got.seq == 1
    parked = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.close()
    assert await asyncio.wait_for(parked, 5) is None
    assert hub.subscribers == 1
    hub.publish(fake_frames("P", start_seq=2)[0])
    assert sub.queued == 0
    assert other.queued == 2
    assert sub.delivered == 1
    stats = hub.as_dict()
    assert stats["frames_in"] == 2
    assert stats["subscribers"] == [{"queued": 2, "maxsize": 60, "delivered": 0, "dropped": 0}]


def test_frame_without_pts_uses_arrival_time() -> None:
    hub = MediaHub()
    f1 = Frame(b"a", 0, 0, 50.0, 1, Codec.JPEG)
    f2 = Frame(b"b", 0, 0, 50.1, 2, Codec.JPEG)
    assert [hub.publish(f).pts for f in (f1, f2)] == [0, 100]


def test_importing_the_package_costs_no_av() -> None:
    """JPEG-only users import the library (and the CLI) without PyAV or Pillow.

    (aiohttp is not checked: the integration package around the library imports HA.)
    """
    code = (
        "import sys\n"
        "import custom_components.chinesium.protocol.media as m\n"
        "import custom_components.chinesium.protocol.__main__\n"
        "from custom_components.chinesium.protocol.model import Codec, Frame\n"
        "hub = m.MediaHub()\n"
        "sub = hub.subscribe()\n"
        "hub.publish(Frame.now(b'x', 1, 1, 1))\n"
        "print(sorted(n for n in ('av', 'PIL') if n in sys.modules))\n"
        "m.MpegTsMuxer(Codec.H264).close()\n"
        "print('av' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["[]", "True"]  # and av is there once a muxer is made


def test_min_backlog_starts_at_the_previous_gop() -> None:
    hub = MediaHub()
    for f in fake_frames("KPPPKP"):
        hub.publish(f)
    assert drain(hub.subscribe()) == [5, 6]
    assert drain(hub.subscribe(min_backlog=2)) == [5, 6]  # enough already
    assert drain(hub.subscribe(min_backlog=3)) == [1, 2, 3, 4, 5, 6]
    assert drain(hub.subscribe(maxsize=5, min_backlog=3)) == [5, 6]  # would not fit
    assert hub.as_dict()["cached_previous_gop"] == 4


def test_min_backlog_without_a_complete_previous_gop() -> None:
    hub = MediaHub(gop_cache_max=3)
    for f in fake_frames("PPKPPPPKP"):  # no GOP before seq 3; GOP 3-7 too long to cache
        hub.publish(f)
    assert drain(hub.subscribe(min_backlog=10)) == [8, 9]
    hub2 = MediaHub()
    for f in fake_frames("PPKP"):
        hub2.publish(f)
    assert drain(hub2.subscribe(min_backlog=10)) == [3, 4]
