"""Audio of the VStarcam peer (§6.4 ``audiostream.cgi``, §6.7 header), checked from the spec.

The IMA-ADPCM decoder below is written again from the standard algorithm (high
nibble first, no block header; a new decoder per frame for ADPCM version 1, one
running on across frames for version 2) and compared
bit-exactly with FFmpeg's headerless high-nibble-first IMA decoder
(``adpcm_ima_ssi``). The UDP tests use the raw PPPP client of
``test_vstarcam_peer`` (no chinesium library code).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import itertools
import math
import struct
from typing import Any

import numpy as np
import pytest

from .peers import vstarcam_peer as vp
from .test_vstarcam_peer import (
    RawClient,
    creds,
    make_peer,
    msg,
    parse_vars,
    session,
)

__all__ = ["make_peer"]

pytestmark = pytest.mark.usefixtures("socket_enabled")

RATE = 8000

# -- a standard IMA-ADPCM decoder, written again here -------------------------------------

STEPS = [
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60,
    66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371,
    408, 449, 494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878,
    2066, 2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845,
    8630, 9493, 10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086,
    29794, 32767,
]  # fmt: skip
INDEX_ADJ = [-1, -1, -1, -1, 2, 4, 6, 8, -1, -1, -1, -1, 2, 4, 6, 8]


class Decoder:
    """Headerless IMA-ADPCM, high nibble first; state carries over between ``feed`` calls."""

    def __init__(self) -> None:
        self.pred = 0
        self.index = 0

    def _nibble(self, code: int) -> int:
        step = STEPS[self.index]
        diff = step >> 3
        if code & 4:
            diff += step
        if code & 2:
            diff += step >> 1
        if code & 1:
            diff += step >> 2
        self.pred += -diff if code & 8 else diff
        self.pred = max(-32768, min(32767, self.pred))
        self.index = max(0, min(88, self.index + INDEX_ADJ[code]))
        return self.pred

    def feed(self, codes: bytes) -> list[int]:
        out: list[int] = []
        for byte in codes:
            out.append(self._nibble(byte >> 4))
            out.append(self._nibble(byte & 0x0F))
        return out


def dominant_hz(pcm: list[int]) -> float:
    """Peak of a zero-padded, Hann-windowed spectrum (0.25 Hz bins), refined parabolically."""
    x = np.asarray(pcm, dtype=np.float64)
    x = (x - x.mean()) * np.hanning(len(x))
    n = 32768
    spec = np.abs(np.fft.rfft(x, n))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = spec[k - 1], spec[k], spec[k + 1]
    shift = 0.5 * (a - c) / (a - 2 * b + c)
    return float((k + shift) * RATE / n)


def zero_crossing_hz(pcm: list[int]) -> float:
    """Frequency from interpolated upward zero crossings (first to last)."""
    ups: list[float] = []
    for i in range(1, len(pcm)):
        a, b = pcm[i - 1], pcm[i]
        if a < 0 <= b:
            ups.append(i - 1 + (-a) / (b - a))
    assert len(ups) >= 3
    return (len(ups) - 1) * RATE / (ups[-1] - ups[0])


def ideal(freq: float, count: int, amplitude: float = 8000.0) -> list[float]:
    return [amplitude * math.sin(2 * math.pi * freq * n / RATE) for n in range(count)]


def rms(xs: list[float]) -> float:
    return math.sqrt(sum(x * x for x in xs) / len(xs))


# -- the encoder alone ---------------------------------------------------------------------


def test_tables_and_nibble_order() -> None:
    """Standard tables; the first sample of a pair is in bits 7-4."""
    assert list(vp.IMA_STEPS) == STEPS
    assert list(vp.IMA_INDEX) == INDEX_ADJ[:8]
    enc = vp.ImaAdpcmEncoder()
    # -8000 from predictor 0 / step 7: sign + 7 (0xF); then +8000: 0x7.
    assert enc.encode([-8000, 8000]) == b"\xf7"
    enc = vp.ImaAdpcmEncoder()
    assert enc.encode([0, 8000]) == b"\x07"  # 0 -> code 0 in the high nibble
    with pytest.raises(ValueError):
        enc.encode([1, 2, 3])


def test_encoder_round_trip_tone() -> None:
    """1 s of 440 Hz in 64 ms frames (state carried over) decodes back to the tone."""
    enc = vp.ImaAdpcmEncoder()
    frames = [enc.encode(vp.tone(440.0, 8000, i * 512, 512)) for i in range(16)]
    assert all(len(f) == 256 for f in frames)
    # Frame-by-frame encoding equals one continuous encode (no per-frame reset).
    assert b"".join(frames) == vp.ImaAdpcmEncoder().encode(vp.tone(440.0, 8000, 0, 16 * 512))
    dec = Decoder()
    pcm = [s for f in frames for s in dec.feed(f)]
    assert len(pcm) == 8192
    assert abs(dominant_hz(pcm) - 440.0) < 1.0
    assert abs(zero_crossing_hz(pcm) - 440.0) < 1.0
    want = ideal(440.0, len(pcm))
    err = [p - w for p, w in zip(pcm, want, strict=True)]
    skip = 64  # adaptation from step index 0 takes a few dozen samples
    assert rms(err[skip:]) < 0.05 * 8000
    assert abs(rms([float(p) for p in pcm[skip:]]) - 8000 / math.sqrt(2)) < 200
    assert max(abs(e) for e in err[skip:]) < 0.25 * 8000


def test_decoder_agrees_with_ffmpeg() -> None:
    """Our decoder is bit-exact with FFmpeg's headerless high-nibble-first IMA (``ssi``)."""
    import av

    enc = vp.ImaAdpcmEncoder()
    frames = [enc.encode(vp.tone(1000.0, 8000, i * 512, 512)) for i in range(6)]
    ctx: Any = av.CodecContext.create("adpcm_ima_ssi", "r")
    ctx.sample_rate = RATE
    ctx.layout = "mono"
    ref: list[int] = []
    for f in frames:
        for frame in ctx.decode(av.Packet(f)):
            ref.extend(int(s) for s in frame.to_ndarray().ravel())
    dec = Decoder()
    ours = [s for f in frames for s in dec.feed(f)]
    assert len(ref) == len(ours) == 6 * 512
    assert ours == ref


# -- over UDP --------------------------------------------------------------------------------


class Audio:
    """Reassembles §6.7 frames from the raw client's in-order channel-2 byte stream."""

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.headers: list[bytes] = []
        self.frames: list[bytes] = []

    def poll(self) -> int:
        buf = self.client.streams.setdefault(2, bytearray())
        while len(buf) >= 32:
            assert buf[:4] == b"\x55\xaa\x15\xa8", bytes(buf[:8])
            (n,) = struct.unpack_from("<I", buf, 16)
            if len(buf) < 32 + n:
                break
            self.headers.append(bytes(buf[:32]))
            self.frames.append(bytes(buf[32 : 32 + n]))
            del buf[: 32 + n]
        return len(self.frames)

    def pts(self) -> list[int]:
        out = []
        for h in self.headers:
            ms, secs = struct.unpack_from("<HI", h, 6)
            out.append(secs * 1000 + ms)
        return out


async def test_audio_start_tone_stop(make_peer: Callable[..., Any]) -> None:
    """streamid=10 starts a 1 kHz tone on channel 2 (no video); streamid=16 stops it."""
    peer = await make_peer(tone_hz=1000.0)
    async with session(peer) as client:
        audio = Audio(client)
        assert not peer.audio_on
        text = await client.request("GET /audiostream.cgi?streamid=10&" + creds())
        assert parse_vars(text)["result"] == "0"
        await client.wait(lambda: audio.poll() >= 16, within=20.0)
        assert peer.audio_on
        assert peer.stats.audio_requests == 1

        # Header: 0x06 audio, sub-type 1 (ADPCM), length 512, reserved bytes zero.
        for h, f in zip(audio.headers, audio.frames, strict=True):
            assert h[4:6] == b"\x06\x01"
            assert struct.unpack_from("<I", h, 16)[0] == len(f) == 512
            assert h[12:16] == bytes(4)
            assert h[20:32] == bytes(12)
        pts = audio.pts()
        assert pts[0] >= peer.config.clock_start_ms
        assert [b - a for a, b in itertools.pairwise(pts)] == [128] * (len(pts) - 1)
        # Byte-exact with what the peer says it sent; one DRW per frame, indices from 0.
        assert audio.frames == [s.data for s in peer.audio_sent[: len(audio.frames)]]
        indices = list(dict.fromkeys(idx for ch, idx, _ in client.drw_log if ch == 2))
        assert indices[:16] == list(range(16))  # (a retransmission would repeat an index)
        # Audio only: no video channel traffic.
        assert peer.frames_sent == 0
        assert not any(ch == 1 for ch, _, _ in client.drw_log)

        # ADPCM version 1 (no adpcm_ver given): every frame decodes on its own.
        pcm = [s for f in audio.frames[:16] for s in Decoder().feed(f)]
        assert abs(dominant_hz(pcm) - 1000.0) <= 5.0
        assert abs(zero_crossing_hz(pcm) - 1000.0) <= 5.0
        err = [p - w for p, w in zip(pcm, ideal(1000.0, len(pcm)), strict=True)]
        # Past each frame's start-up from a cleared state (8 samples a cycle: coarser
        # than at 440 Hz).
        steady = [e for i, e in enumerate(err) if i % 1024 >= 64]
        assert rms(steady) < 0.1 * 8000

        text = await client.request("GET /audiostream.cgi?streamid=16&" + creds())
        assert parse_vars(text)["result"] == "0"
        assert not peer.audio_on
        assert peer.stats.audio_stop_requests == 1
        sent = peer.audio_frames_sent
        await client.wait(lambda: audio.poll() >= sent, within=10.0)
        await asyncio.sleep(0.5)  # ~4 frame periods: nothing more may come
        assert peer.audio_frames_sent == sent
        assert audio.poll() == sent


async def test_audio_default_440_and_restart_resets_encoder(make_peer: Callable[..., Any]) -> None:
    """streamid=1 works too; after a stop, a new start begins again at predictor 0/index 0."""
    peer = await make_peer()
    assert peer.config.tone_hz == 440.0
    async with session(peer) as client:
        audio = Audio(client)
        await client.request("GET /audiostream.cgi?streamid=1&" + creds())
        await client.wait(lambda: audio.poll() >= 8, within=20.0)
        await client.request("GET /audiostream.cgi?streamid=16&" + creds())
        first = peer.audio_frames_sent
        await client.wait(lambda: audio.poll() >= first, within=10.0)

        await client.request("GET /audiostream.cgi?streamid=1&" + creds())
        await client.wait(lambda: audio.poll() >= first + 16, within=20.0)
        assert peer.stats.audio_requests == 2
        # Channel-2 indices run on across the restart (per session, from 0).
        indices = list(dict.fromkeys(idx for ch, idx, _ in client.drw_log if ch == 2))
        assert indices[: first + 16] == list(range(first + 16))
        # The restart sends the same bytes as the first start (fresh encoder, phase 0).
        assert audio.frames[first : first + 8] == audio.frames[:8]
        pcm = [s for f in audio.frames[first : first + 16] for s in Decoder().feed(f)]
        assert abs(dominant_hz(pcm) - 440.0) <= 5.0
        assert abs(zero_crossing_hz(pcm) - 440.0) <= 5.0


async def test_audio_independent_of_video_and_stops_on_close(
    make_peer: Callable[..., Any],
) -> None:
    """Video stop leaves audio running, audio stop leaves video running; CLOSE stops audio."""
    peer = await make_peer(burst=30.0)
    async with session(peer) as client:
        audio = Audio(client)
        await client.request("GET /livestream.cgi?streamid=10&substream=1&" + creds())
        await client.request("GET /audiostream.cgi?streamid=10&" + creds())
        await client.wait(lambda: audio.poll() >= 4 and len(client.frames) >= 4, within=20.0)

        await client.request("GET /livestream.cgi?streamid=16&" + creds())
        assert not peer.streaming()
        n = audio.poll()
        await client.wait(lambda: audio.poll() >= n + 4, within=20.0)
        assert peer.audio_on

        await client.request("GET /livestream.cgi?streamid=10&substream=1&" + creds())
        await client.request("GET /audiostream.cgi?streamid=16&" + creds())
        assert not peer.audio_on
        v = peer.frames_sent
        await client.wait(lambda: peer.frames_sent >= v + 4, within=20.0)
        assert peer.streaming()

        await client.request("GET /audiostream.cgi?streamid=10&" + creds())
        assert peer.audio_on
        client.send(msg(0xF0))
        await client.wait(lambda: peer.sessions == [], within=10.0)
        assert not peer.audio_on
        assert not peer.streaming()
        sent = peer.audio_frames_sent
        await asyncio.sleep(0.3)
        assert peer.audio_frames_sent == sent


async def test_audio_refused_with_bad_credentials(make_peer: Callable[..., Any]) -> None:
    """Bad password: ``result=-1`` and no audio; unknown stream ids: answered, no audio."""
    peer = await make_peer()
    async with session(peer) as client:
        text = await client.request("GET /audiostream.cgi?streamid=10&" + creds(pwd="nope"))
        assert parse_vars(text)["result"] == "-1"
        text = await client.request("GET /audiostream.cgi?streamid=3&" + creds())
        assert parse_vars(text)["result"] == "0"
        await client.request("GET /get_status.cgi?" + creds())  # a round trip later
        assert not peer.audio_on
        assert peer.audio_frames_sent == 0
        assert not any(ch == 2 for ch, _, _ in client.drw_log)


async def test_adpcm_version_1_clears_and_version_2_carries(
    make_peer: Callable[..., Any],
) -> None:
    """``adpcm_ver=1`` (the default) starts every frame from a cleared encoder;
    ``adpcm_ver=2`` carries the state, so only one running decoder reads it right."""
    peer = await make_peer(tone_hz=440.0)
    async with session(peer) as client:
        audio = Audio(client)
        await client.request("GET /audiostream.cgi?streamid=1&adpcm_ver=1&" + creds())
        await client.wait(lambda: audio.poll() >= 4, within=20.0)
        for k, frame in enumerate(audio.frames[:4]):
            samples = vp.tone(440.0, 8000, k * 1024, 1024)
            assert frame == vp.ImaAdpcmEncoder().encode(samples)
        await client.request("GET /audiostream.cgi?streamid=16&" + creds())
        first = peer.audio_frames_sent
        await client.wait(lambda: audio.poll() >= first, within=10.0)

        await client.request("GET /audiostream.cgi?streamid=1&adpcm_ver=2&" + creds())
        await client.wait(lambda: audio.poll() >= first + 8, within=20.0)
        carried = audio.frames[first : first + 8]
        assert b"".join(carried) == vp.ImaAdpcmEncoder().encode(vp.tone(440.0, 8000, 0, 8 * 1024))
        running = Decoder()
        pcm = [s for f in carried for s in running.feed(f)]
        err = [p - w for p, w in zip(pcm, ideal(440.0, len(pcm)), strict=True)]
        assert rms(err[64:]) < 0.05 * 8000
