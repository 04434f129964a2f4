"""Camera audio: IMA-ADPCM decoding, TEG audio on demand, AAC in the MPEG-TS restream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from custom_components.chinesium.protocol import CameraInfo, Family
from custom_components.chinesium.protocol.media.adpcm import AdpcmError, decode_block
from custom_components.chinesium.protocol.model import AudioChunk
from custom_components.chinesium.protocol.teg.session import TegSession
from fakecam.audio import SAMPLES_PER_BLOCK, TONE_HZ, encode_block, tone, tone_blocks
from fakecam.teg import TegCamera

from .helpers import LOOPBACK, UID, CamFactory, TegCameras, loopback_options

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
