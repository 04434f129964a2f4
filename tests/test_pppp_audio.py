"""PPPP camera audio (pppp.md §6.2-§6.4, §6.7): decoders, per-layer start/stop, sessions.

SHIX and VStarcam send IMA-ADPCM (high nibble first, every frame from a cleared
decoder state) on channel 2 when asked; iLnk sends 8 kHz A-law frames between its
video frames. Every session test runs against the emulator over real UDP on
127.0.0.1 and recovers the emulator's tone from the decoded PCM.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from custom_components.chinesium.protocol.media.adpcm import decode_block, decode_frame
from custom_components.chinesium.protocol.media.g711 import (
    ALAW_TABLE,
    ULAW_TABLE,
    alaw_decode,
    ulaw_decode,
)
from custom_components.chinesium.protocol.model import AudioChunk, CameraInfo, Family
from custom_components.chinesium.protocol.pppp.apps.avframe import (
    AudioFormat,
    FrameHeader,
    audio_format,
)
from custom_components.chinesium.protocol.pppp.apps.ilnk import IlnkClient
from custom_components.chinesium.protocol.pppp.apps.lookcam import LookcamClient
from custom_components.chinesium.protocol.pppp.session import PpppSession, open_pppp_session
from fakecam.audio import ToneSource, adpcm_frame, alaw_encode
from fakecam.pppp import PpppCamera, PpppCameraConfig

from .helpers import PPPP_OPTS
from .test_media_audio import peak_hz

# -- decoders ------------------------------------------------------------------------------


def dec(codes: bytes, **kw: Any) -> list[int]:
    return np.frombuffer(decode_frame(codes, **kw), "<i2").tolist()


def test_adpcm_frame_vectors_high_nibble_first() -> None:
    # 0x70: code 7 (+11 at step 7 -> index 8), then code 0 (+2 at step 16 -> index 7).
    assert dec(b"\x70") == [11, 13]
    # The same byte low nibble first: code 0 (+0 at step 7), then code 7 (+11).
    assert dec(b"\x70", high_nibble_first=False) == [0, 11]
    # decode_block's vector without the block header: b"\x77" gives 11, 41 either way.
    assert dec(b"\x77") == [11, 41]
    assert np.frombuffer(decode_block(b"\x00\x00\x00\x00\x77"), "<i2").tolist()[1:] == [11, 41]
    # Clamping both ways.
    assert min(dec(b"\xff" * 64)) == -32768
    assert max(dec(b"\x77" * 64)) == 32767
    assert dec(b"") == []


def test_adpcm_frame_is_bit_exact_with_ffmpeg() -> None:
    """FFmpeg's ``adpcm_ima_ssi`` is headerless IMA, high nibble first; a new decoder
    per packet is a frame from a cleared state."""
    import av

    rng = np.random.default_rng(5)
    packets = [rng.integers(0, 256, 300, dtype=np.uint8).tobytes() for _ in range(8)]
    packets.append(b"\x77" * 200 + b"\xff" * 200 + b"\x08" * 100)  # clamping both ways
    for packet in packets:
        ctx: Any = av.CodecContext.create("adpcm_ima_ssi", "r")
        ctx.sample_rate = 8000
        ctx.layout = "mono"
        ref = [int(v) for f in ctx.decode(av.Packet(packet)) for v in f.to_ndarray().ravel()]
        assert dec(packet) == ref


def test_adpcm_frames_decode_independently() -> None:
    """Each frame starts from a cleared state: the result never depends on earlier frames."""
    tone = ToneSource(440).next(4 * 1024)
    frames = [adpcm_frame(tone[i : i + 1024]) for i in range(0, len(tone), 1024)]
    alone = [decode_frame(f) for f in frames]
    assert [decode_frame(f) for f in reversed(frames)] == alone[::-1]
    # A frame encoded with its state carried from the previous one decodes differently.
    assert decode_frame(frames[1]) != decode_frame(frames[0] + frames[1])[2048:]


def test_adpcm_frames_reproduce_the_tone() -> None:
    samples = ToneSource(440).next(16 * 1024)
    pcm = np.concatenate(
        [
            np.frombuffer(decode_frame(adpcm_frame(samples[i : i + 1024])), "<i2")
            for i in range(0, len(samples), 1024)
        ]
    ).astype(np.float64)
    ref = np.array(samples, dtype=np.float64)
    # Past each frame's start-up from a cleared state (a few dozen samples) the error is small.
    steady = np.arange(len(ref)) % 1024 >= 64
    err = np.sqrt(np.mean((pcm[steady] - ref[steady]) ** 2))
    assert err < 0.1 * np.sqrt(np.mean(ref**2))
    assert abs(peak_hz(pcm, 8000) - 440) < 5


def test_g711_vectors() -> None:
    # ITU-T G.711: A-law 0xD5 / 0x55 are +8 / -8, 0xAA / 0x2A the extremes.
    assert [ALAW_TABLE[b] for b in (0xD5, 0x55, 0xAA, 0x2A)] == [8, -8, 32256, -32256]
    # µ-law 0xFF / 0x7F are zero, 0x80 / 0x00 the extremes.
    assert [ULAW_TABLE[b] for b in (0xFF, 0x7F, 0x80, 0x00)] == [0, 0, 32124, -32124]
    every = bytes(range(256))
    assert np.frombuffer(alaw_decode(every), "<i2").tolist() == list(ALAW_TABLE)
    assert np.frombuffer(ulaw_decode(every), "<i2").tolist() == list(ULAW_TABLE)
    # The emulator's A-law encoder is the exact inverse on every code.
    assert alaw_encode(list(ALAW_TABLE)) == every
    assert alaw_decode(b"") == b""


def test_audio_format_by_header() -> None:
    def fmt(codec: int, subtype: int = 0) -> AudioFormat | None:
        return audio_format(FrameHeader(codec, 0, subtype))

    assert fmt(0x06, 0) is AudioFormat.PCM
    assert fmt(0x06, 1) is AudioFormat.ADPCM
    assert fmt(0x06, 2) is AudioFormat.ALAW
    assert fmt(0x06, 3) is AudioFormat.ULAW
    assert fmt(0x06, 9) is None
    assert fmt(0xAA, 1) is AudioFormat.ADPCM  # SHIX "55 aa 15 a8 aa 01"
    assert fmt(0x08) is AudioFormat.ADPCM
    assert fmt(0x03) is None
    assert fmt(0x10) is None
    # iLnk: type 0x06 is A-law whatever the sub-type.
    ilnk = IlnkClient.audio_format(IlnkClient.__new__(IlnkClient), FrameHeader(0x06, 0, 1))
    assert ilnk is AudioFormat.ALAW
    assert LookcamClient.audio_channel is None


# -- sessions against the emulator ---------------------------------------------------------

pytestmark = pytest.mark.usefixtures("socket_enabled")

OPTS = PPPP_OPTS
DUIDS = {"shix": "ABCD-123456-VWXYZ", "ilnk": "ABCD-123456-VWXYZ", "vstarcam": "VSTJ-123456-ABCDE"}
KEYS = {"shix": None, "ilnk": None, "vstarcam": "vstarcam2019"}
TONES = {"shix": 440.0, "ilnk": 600.0, "vstarcam": 1000.0}


def camera(app: str, **kw: Any) -> PpppCamera:
    """An emulated camera on 127.0.0.1 (``async with`` starts and stops it)."""
    key = KEYS[app]
    kw.setdefault("tone_hz", TONES[app])
    if app == "ilnk":
        kw.setdefault("ilnk_audio", True)
    cfg = PpppCameraConfig(host="127.0.0.1", port=0, duid=DUIDS[app], app=app, encrypt=key, **kw)
    return PpppCamera(cfg)


def info_for(cam: PpppCamera) -> CameraInfo:
    app = cam.config.app_layer
    key = KEYS[app]
    return CameraInfo(
        DUIDS[app], "127.0.0.1", cam.port, Family.PPPP, app, extra={"key": key} if key else {}
    )


async def until(cond: Callable[[], object], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


class AudioSink:
    """Collects a session's audio chunks."""

    def __init__(self) -> None:
        self.chunks: list[AudioChunk] = []

    def __call__(self, chunk: AudioChunk) -> None:
        self.chunks.append(chunk)

    @property
    def samples(self) -> int:
        return sum(c.samples for c in self.chunks)

    def pcm(self) -> np.ndarray:
        return np.frombuffer(b"".join(c.data for c in self.chunks), "<i2")


async def started(cam: PpppCamera) -> PpppSession:
    session = open_pppp_session(info_for(cam), None, OPTS)
    await session.start()
    return session


@pytest.mark.parametrize("app", ["shix", "vstarcam", "ilnk"])
async def test_audio_on_demand_carries_the_tone(app: str) -> None:
    async with camera(app) as cam:
        session = await started(cam)
        try:
            assert session.supports_audio
            await until(lambda: session.stats.frames_ok >= 5)
            if app != "ilnk":
                # No listener: the camera was not asked for sound.
                assert cam.stats.audio_starts == 0
                assert cam.stats.audio_frames_sent == 0
            sink = AudioSink()
            unsub = session.add_audio_listener(sink)
            await until(lambda: sink.samples >= 16000)  # two seconds
            assert {c.rate for c in sink.chunks} == {8000}
            seqs = [c.seq for c in sink.chunks]
            assert seqs == sorted(set(seqs))
            assert all(c.pts is not None for c in sink.chunks)
            pcm = sink.pcm()[2048:]  # past the ADPCM step adaptation
            assert abs(peak_hz(pcm, 8000) - TONES[app]) < 5
            assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 3000  # the tone, not noise
            if app != "ilnk":
                assert cam.stats.audio_starts == 1
            unsub()
            if app == "ilnk":
                # No audio command on iLnk: the frames keep coming and are dropped.
                n = session.audio_frames
                await asyncio.sleep(0.5)
                assert session.audio_frames == n
            else:
                await until(lambda: cam.stats.audio_stops == 1)
                sent = cam.stats.audio_frames_sent
                await asyncio.sleep(0.5)
                assert cam.stats.audio_frames_sent <= sent + 1
            assert session.connected
            assert session.stats.frames_ok > 5  # video went on throughout
        finally:
            await session.close()


async def test_listener_before_start_asks_on_open_and_after_reboot() -> None:
    async with camera("vstarcam") as cam:
        session = open_pppp_session(info_for(cam), None, OPTS)
        sink = AudioSink()
        session.add_audio_listener(sink)
        await session.start()
        try:
            await until(lambda: sink.samples >= 8000)
            assert cam.stats.audio_starts == 1
        finally:
            await session.close()
        # Closing asked the camera to stop sending.
        assert cam.stats.audio_stops == 1
        # A new session to the same camera, after the camera went dark, asks again.
        await cam.reboot(downtime=0.1)
        session = open_pppp_session(info_for(cam), None, OPTS)
        sink2 = AudioSink()
        session.add_audio_listener(sink2)
        await session.start()
        try:
            await until(lambda: sink2.samples >= 8000)
            assert abs(peak_hz(sink2.pcm()[2048:], 8000) - TONES["vstarcam"]) < 5
        finally:
            await session.close()


async def test_audio_survives_loss_dup_reorder() -> None:
    async with camera("vstarcam", loss=0.05, dup=0.05, reorder=0.05, seed=3) as cam:
        session = await started(cam)
        try:
            sink = AudioSink()
            session.add_audio_listener(sink)
            await until(lambda: sink.samples >= 24000, timeout=30)
            assert cam.stats.impaired_drops > 0
            assert abs(peak_hz(sink.pcm()[2048:], 8000) - TONES["vstarcam"]) < 5
        finally:
            await session.close()


async def test_vstarcam_audio_is_asked_again_after_silence() -> None:
    async with camera("vstarcam") as cam:
        session = await started(cam)
        try:
            sink = AudioSink()
            session.add_audio_listener(sink)
            await until(lambda: sink.samples >= 4000)
            # The camera forgets the audio request (as Eye4 firmware does with video).
            for sess in cam._sessions.values():
                sess.audio = False
            n = len(sink.chunks)
            await until(lambda: cam.stats.audio_starts >= 2)
            await until(lambda: len(sink.chunks) >= n + 10)
        finally:
            await session.close()


async def test_camera_without_microphone_keeps_video() -> None:
    async with camera("shix", audio=False) as cam:
        session = await started(cam)
        try:
            sink = AudioSink()
            session.add_audio_listener(sink)
            frames = session.stats.frames_ok
            await until(lambda: session.stats.frames_ok >= frames + 15)
            assert sink.chunks == []
            assert session.connected
        finally:
            await session.close()


async def test_malformed_audio_frames_are_skipped() -> None:
    async with camera("vstarcam") as cam:
        session = await started(cam)
        try:
            sink = AudioSink()
            session.add_audio_listener(sink)
            await until(lambda: sink.samples >= 4000)
            (sess,) = cam._sessions.values()
            # Garbage, a header announcing an unknown audio sub-type, and a truncated header.
            cam._send_drw(sess, 2, b"\x00garbage" * 10)
            bad = FrameHeader(0x06, 4, subtype=9).encode() + b"\x01\x02\x03\x04"
            cam._send_drw(sess, 2, bad)
            cam._send_drw(sess, 2, b"\x55\xaa\x15\xa8\x06")
            # Random audio-looking frames: every type and sub-type, odd PCM, empty, long.
            rng = np.random.default_rng(11)
            for _ in range(60):
                size = int(rng.integers(0, 3000))
                head = FrameHeader(
                    int(rng.choice([0x06, 0x08, 0xAA, 0x03, 0x10])),
                    size,
                    subtype=int(rng.integers(0, 5)),
                    seconds=int(rng.integers(0, 1000)),  # tells them from the camera's
                    millis=int(rng.integers(0, 2**16)),
                )
                cam._send_drw(sess, 2, head.encode() + rng.bytes(size))
            # Frames with a valid audio header are decoded (noise, pts < 10^6 ms); the
            # camera's own frames (pts = wall-clock ms) go on carrying the tone.
            n = len(sink.chunks)

            def camera_chunks() -> list[AudioChunk]:
                return [c for c in sink.chunks[n:] if c.pts is not None and c.pts > 10**12]

            await until(lambda: len(camera_chunks()) >= 10)
            assert session.connected
            assert any(c.pts is not None and c.pts < 10**6 for c in sink.chunks)
            after = np.frombuffer(b"".join(c.data for c in camera_chunks()), "<i2")
            assert abs(peak_hz(after, 8000) - TONES["vstarcam"]) < 5
        finally:
            await session.close()


async def test_lookcam_has_no_audio() -> None:
    cfg = PpppCameraConfig(host="127.0.0.1", port=0, duid="GHBB-123456-ABCDE", app="lookcam")
    async with PpppCamera(cfg) as cam:
        info = CameraInfo(cfg.duid, "127.0.0.1", cam.port, Family.PPPP, "lookcam")
        session = open_pppp_session(info, None, OPTS)
        assert not session.supports_audio
        await session.start()
        try:
            assert not session.supports_audio
        finally:
            await session.close()
