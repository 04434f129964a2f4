"""Camera audio: IMA-ADPCM decoding, TEG audio on demand, AAC in the MPEG-TS restream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
import io
import itertools
from typing import Any

import av
import numpy as np
import pytest
import pytest_socket

from custom_components.chinesium.protocol import CameraInfo, Family
from custom_components.chinesium.protocol.media import MediaHub, MpegTsMuxer, link_audio
from custom_components.chinesium.protocol.media.adpcm import AdpcmError, decode_block
from custom_components.chinesium.protocol.media.server import MediaServer
from custom_components.chinesium.protocol.model import AudioChunk, Codec, Frame
from custom_components.chinesium.protocol.teg.session import TegSession
from fakecam.audio import SAMPLES_PER_BLOCK, TONE_HZ, encode_block, tone, tone_blocks
from fakecam.teg import TegCamera

from .helpers import LOOPBACK, UID, CamFactory, TegCameras, loopback_options
from .media_helpers import h26x_frames

pytestmark = pytest.mark.usefixtures("socket_enabled")

OPTS = loopback_options(connect_timeout=1.0, keepalive_interval=0.3, silence_timeout=2.0)


def peak_hz(pcm: np.ndarray, rate: int) -> float:
    """Frequency of the strongest FFT bin (Hann window)."""
    x = pcm.astype(np.float64)
    x -= x.mean()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


async def _until(cond: object, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.fixture
async def make_cam() -> AsyncIterator[CamFactory]:
    cams = TegCameras()
    yield cams.start
    await cams.stop()


def info_of(cam: TegCamera) -> CameraInfo:
    return CameraInfo(uid=UID, host=LOOPBACK, port=cam.session_port, family=Family.TEG)


# -- IMA-ADPCM ------------------------------------------------------------------------------


def test_adpcm_decode_vector() -> None:
    # Predictor 0, index 0; code 7 twice: +11 (step 7), then +30 (index 8, step 16).
    pcm = decode_block(b"\x00\x00\x00\x00\x77")
    assert np.frombuffer(pcm, "<i2").tolist() == [0, 11, 41]
    # Negative codes and clamping at -32768.
    pcm = decode_block(b"\x00\x80\x58\x00\xff")
    assert np.frombuffer(pcm, "<i2").tolist() == [-32768, -32768, -32768]
    with pytest.raises(AdpcmError):
        decode_block(b"\x00\x00")
    with pytest.raises(AdpcmError):
        decode_block(b"\x00\x00\x59\x00")


def test_adpcm_round_trip_of_the_emulator_tone() -> None:
    block, _ = encode_block(tone(SAMPLES_PER_BLOCK), 20)
    assert len(block) == 516
    blocks = tone_blocks()
    assert all(len(b) == 516 for b in blocks)
    pcm = np.frombuffer(b"".join(decode_block(b) for b in blocks), "<i2")
    assert len(pcm) == SAMPLES_PER_BLOCK * len(blocks)
    ref = np.array(tone(len(pcm)), dtype=np.float64)
    # Close to the source signal (ADPCM error well below the 8000 amplitude).
    assert np.sqrt(np.mean((pcm - ref) ** 2)) < 1500
    assert abs(peak_hz(pcm, 8000) - TONE_HZ) < 10


# -- TEG audio on demand -------------------------------------------------------------------


async def test_teg_audio_only_while_a_listener_exists(make_cam: CamFactory) -> None:
    cam = await make_cam(fps=15.0)
    session = TegSession(info_of(cam), None, OPTS)
    assert session.supports_audio
    await session.start()
    try:
        addr = session.local_addr
        assert addr is not None
        assert cam.client_mask(addr) == 1
        await asyncio.sleep(0.3)
        assert cam.stats.audio_sent == 0
        chunks: list[AudioChunk] = []
        unsub = session.add_audio_listener(chunks.append)
        assert session.audio_wanted
        await _until(lambda: len(chunks) >= 12)
        assert cam.client_mask(addr) == 3
        unsub()
        assert not session.audio_wanted
        await _until(lambda: cam.client_mask(addr) == 1)
        sent = cam.stats.audio_sent
        frames = session.stats.frames_ok
        await _until(lambda: session.stats.frames_ok >= frames + 5)  # video goes on
        # The keep-alive re-sends LIVE with mask 1: the camera keeps audio off.
        assert cam.client_mask(addr) == 1
        assert cam.stats.audio_sent <= sent + 1
    finally:
        await session.close()
    assert all(c.rate == 8000 and c.samples == 1025 for c in chunks)
    assert [c.seq for c in chunks[:5]] == [1, 2, 3, 4, 5]
    pcm = np.frombuffer(b"".join(c.data for c in chunks), "<i2")
    assert abs(peak_hz(pcm, 8000) - TONE_HZ) < 10


# -- hub audio demand and AAC in MPEG-TS -------------------------------------------------


def pcm_tone(n: int, start: int = 0, hz: float = 1000.0, rate: int = 8000) -> bytes:
    t = np.arange(start, start + n) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


class FakeAudioSession:
    def __init__(self) -> None:
        self.listeners: list[Callable[[AudioChunk], None]] = []

    def add_audio_listener(self, listener: Callable[[AudioChunk], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


async def test_hub_audio_demand_drives_the_session_listener() -> None:
    hub = MediaHub()
    session = FakeAudioSession()
    unlink = link_audio(session, hub)
    assert session.listeners == []
    video = hub.subscribe(10)
    assert session.listeners == []  # a video-only consumer asks for no audio
    one = hub.subscribe(10, audio=True)
    two = hub.subscribe(10, audio=True)
    assert hub.audio_demand == 2
    assert len(session.listeners) == 1
    # No video yet: audio has no timeline and is ignored.
    session.listeners[0](AudioChunk(pcm_tone(1025), 8000, 100.0, 1))
    assert one.queued == 0
    assert hub.audio_in == 0
    hub.publish(Frame(b"\xff\xd8\xff\xd9", 1, 1, 100.0, 1, pts=None))
    session.listeners[0](AudioChunk(pcm_tone(1025), 8000, 100.25, 2, pts=77))
    assert hub.audio_in == 1
    assert hub.latest_audio is not None
    assert hub.latest_audio.pts == 250  # 250 ms after the frame at pts 0
    frame = await one.get_media()
    assert isinstance(frame, Frame)
    chunk = await one.get_media()
    assert isinstance(chunk, AudioChunk)
    assert chunk.pts == 250
    assert (await video.get()) is not None
    assert video.as_dict()["queued"] == 0  # the video-only consumer got no audio
    one.close()
    assert len(session.listeners) == 1
    two.close()
    assert session.listeners == []
    three = hub.subscribe(10, audio=True)
    assert len(session.listeners) == 1
    unlink()
    assert session.listeners == []
    three.close()
    hub.close()


def _decode_ts(ts: bytes) -> tuple[Any, Any, int, np.ndarray]:
    container: Any = av.open(io.BytesIO(ts), format="mpegts")
    try:
        vstream = container.streams.video[0]
        astream = container.streams.audio[0]
        pcm: list[np.ndarray] = []
        frames = 0
        for packet in container.demux(vstream, astream):
            for decoded in packet.decode():
                if packet.stream is astream:
                    pcm.append(decoded.to_ndarray().reshape(-1))
                else:
                    frames += 1
        return vstream.codec_context.name, astream.codec_context, frames, np.concatenate(pcm)
    finally:
        container.close()


def test_muxer_carries_aac_audio() -> None:
    frames = h26x_frames(Codec.H264, count=45)  # 3 s at 15 fps, pts 66 ms apart
    out = bytearray()
    with MpegTsMuxer(Codec.H264, audio_rate=16000) as muxer:
        assert muxer.has_audio
        origin = frames[0].pts
        assert origin is not None
        sample = 0
        for f in frames:
            out += muxer.mux(f)
            assert f.pts is not None
            while (sample * 1000) // 8000 <= f.pts - origin:
                pts = origin + sample * 1000 // 8000
                out += muxer.mux_audio(AudioChunk(pcm_tone(1025, sample), 8000, 0.0, 1, pts))
                sample += 1025
        out += muxer.close()
    assert muxer.audio_chunks > 20
    name, actx, frames_out, pcm = _decode_ts(bytes(out))
    assert name == "h264"
    assert frames_out == 45
    assert actx.name == "aac"
    assert actx.sample_rate == 16000
    assert actx.channels == 1
    assert len(pcm) > 16000 * 2
    assert abs(peak_hz(pcm[2048:], 16000) - 1000) < 10


def test_muxer_without_audio_skips_chunks() -> None:
    frames = h26x_frames(Codec.H264, count=3)
    with MpegTsMuxer(Codec.H264) as muxer:
        assert not muxer.has_audio
        assert muxer.mux_audio(AudioChunk(pcm_tone(100), 8000, 0.0, 1, 0)) == b""
        muxer.mux(frames[0])
        assert muxer.mux_audio(AudioChunk(pcm_tone(100), 8000, 0.0, 1, 0)) == b""
    assert muxer.audio_skipped == 2


# -- end to end: emulated TEG camera -> LAN URL -> PyAV --------------------------------------


@pytest.fixture
def second_loopback(socket_enabled: None) -> None:
    """Let the test connect to 127.0.0.2 (the LAN stand-in; phcc allows only 127.0.0.1)."""
    pytest_socket.socket_allow_hosts(["127.0.0.1", "127.0.0.2"])


def read_av_with_audio(url: str, seconds: float) -> tuple[str, str, int, int, int, np.ndarray]:
    """av.open(url) like HA's worker; demux video and audio for ``seconds`` of audio."""
    container: Any = av.open(url, timeout=20)
    try:
        vstream = container.streams.video[0]
        astream = container.streams.audio[0]
        rate = astream.codec_context.sample_rate
        pcm: list[np.ndarray] = []
        frames = 0
        dts: list[int] = []
        for packet in container.demux(vstream, astream):
            if packet.dts is None:
                continue
            if packet.stream is vstream:
                dts.append(packet.dts)
            for decoded in packet.decode():
                if packet.stream is astream:
                    pcm.append(decoded.to_ndarray().reshape(-1))
                else:
                    frames += 1
            if sum(len(p) for p in pcm) >= seconds * rate and frames >= 10:
                break
        assert all(b > a for a, b in itertools.pairwise(dts))
        return (
            vstream.codec_context.name,
            astream.codec_context.name,
            astream.codec_context.channels,
            rate,
            frames,
            np.concatenate(pcm),
        )
    finally:
        container.close()


async def test_lan_url_of_an_emulated_teg_camera_gives_h264_and_aac_tone(
    make_cam: CamFactory, second_loopback: None
) -> None:
    cam = await make_cam(fps=15.0)
    session = TegSession(info_of(cam), None, OPTS)
    hub = MediaHub()
    session.add_frame_listener(hub.publish)
    unlink = link_audio(session, hub)
    lan = MediaServer("127.0.0.2", 0)
    await lan.start()
    await session.start()
    pool = ThreadPoolExecutor(1)
    try:
        addr = session.local_addr
        assert addr is not None
        url = lan.add_source("cam", hub, transcode=True, audio=True)
        assert url.startswith(f"http://127.0.0.2:{lan.port}/cam.ts?token=")
        await asyncio.sleep(0.5)
        assert cam.client_mask(addr) == 1  # nobody consumes audio yet
        assert cam.stats.audio_sent == 0
        vname, aname, channels, rate, frames, pcm = await asyncio.wait_for(
            asyncio.get_running_loop().run_in_executor(pool, read_av_with_audio, url, 2.0), 60
        )
        # The client left: the hub has no audio demand, the camera is asked for video only.
        await _until(lambda: hub.audio_demand == 0)
        await _until(lambda: cam.client_mask(addr) == 1)
        assert not session.audio_wanted
    finally:
        pool.shutdown(wait=True)
        unlink()
        await lan.stop()
        await session.close()
    assert (vname, aname, channels, rate) == ("h264", "aac", 1, 16000)
    assert frames >= 10
    assert len(pcm) >= 32000
    assert abs(peak_hz(pcm[4096:], rate) - TONE_HZ) < 15


def test_teg_malformed_audio_packets_are_ignored() -> None:
    session = TegSession(CameraInfo(uid=UID, host=LOOPBACK, port=1, family=Family.TEG), None, OPTS)
    session._setup()
    chunks: list[AudioChunk] = []
    session.add_audio_listener(chunks.append)
    block = tone_blocks()[0]
    good = (
        b"2TEG\x03\x00"
        + (20 + len(block)).to_bytes(2, "little")
        + b"\x01\x00\x00\x00\x01\x00\x01\x00"
        + (7).to_bytes(4, "little")
        + len(block).to_bytes(4, "little")
        + (1234).to_bytes(4, "little")
        + block
    )
    bad_index = bytearray(good)
    bad_index[30] = 200  # step index > 88
    bad_index[16] = 8  # another frame id
    for data in (
        good[:15],
        good[:27],
        good[:100],  # payload length beyond the datagram
        good[:6] + b"\xff\xff" + good[8:],  # data_len beyond the datagram
        bytes(bad_index),
    ):
        session._on_datagram(data, (LOOPBACK, 1))
    assert chunks == []
    session._on_datagram(good, (LOOPBACK, 1))
    session._on_datagram(good, (LOOPBACK, 1))  # duplicate
    assert len(chunks) == 1
    assert chunks[0].pts == 1234
    assert chunks[0].samples == 1025
    assert session.stats.malformed >= 1
