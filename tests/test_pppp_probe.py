"""Unknown cameras: discovery of unknown variants, the bounded trace, the ``probe`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.chinesium.protocol import __main__ as cli
from custom_components.chinesium.protocol.pppp.crypto import KNOWN_KEYS
from custom_components.chinesium.protocol.pppp.discovery import discover_pppp
from custom_components.chinesium.protocol.trace import TraceRecorder, short_id
from fakecam.pppp import PpppCamera, PpppCameraConfig, xq_encode

# -- trace recorder --------------------------------------------------------------------------


def test_trace_is_bounded_and_counts_everything() -> None:
    trace = TraceRecorder(limit=3, head=8)
    for i in range(10):
        trace.record("tx", bytes([0xF1, i]) + bytes(20))
        trace.record("rx", bytes([0xF1, i]))
    for i in range(5):
        trace.note("step", n=i)
    data = trace.as_dict()
    assert data["counts"] == {"tx": 10, "rx": 10}
    assert data["recorded"] == {"tx": 3, "rx": 3}
    assert len(data["datagrams"]) == 6
    assert data["datagrams"][0]["head"] == "f1 00 00 00 00 00 00 00"  # 8 of 22 bytes
    assert data["datagrams"][0]["size"] == 22
    assert len(data["steps"]) == 3
    assert data["steps_dropped"] == 2
    json.dumps(data)


def test_trace_redacts_credentials_in_every_form() -> None:
    trace = TraceRecorder(limit=10, head=64)
    trace.redact("s3cr&t", "bob", None, "")
    for blob in (
        b"GET /x.cgi?loginuse=bob&loginpas=s3cr%26t&",  # URL-quoted
        b'{"pwd":"s3cr&t"}',  # JSON
        xq_encode(b"bob".ljust(32, b"\0") + b"s3cr&t".ljust(128, b"\0")),  # iLnk XqBytes
        b"x" * 62 + b"s3cr&t",  # cut by the 64-byte window: the piece is masked too
        b"\xf1\xd0\x00\x0a\xd1\x00\x00\x01" + b"cr&t\0\0",  # rest of a secret split by DRWs
    ):
        trace.record("tx", blob)
    trace.note("login", user="bob", detail="refused s3cr&t")
    text = json.dumps(trace.as_dict())
    pieces = (b"s3", b"cr&t", b"s3cr%26t", b"s3cr", b"bob", bytes(b ^ 1 for b in b"s3cr&t"))
    for secret in pieces:
        if len(secret) > 2:
            assert secret.decode("latin-1") not in text
        assert secret.hex(" ") not in text
    assert "**" in text
    assert trace.notes[0]["user"] == "***"


def test_trace_shortens_device_ids() -> None:
    trace = TraceRecorder()
    raw = bytes.fromhex("44474f4b0000000000 01e240 4142434445000000".replace(" ", ""))
    trace.device_id("DGOK-123456-ABCDE", raw)
    trace.record("rx", b"\xf1\x41\x00\x14" + raw)
    trace.note("reply", text="deviceid=DGOK-123456-ABCDE;")
    head = trace.entries[0]["head"]
    assert head.startswith("f1 41 00 14 44 47 4f 4b 00 00 00 00 ** ** ** ** ** ** **")
    assert head.endswith("44 45 00 00 00")  # last two check characters kept
    assert "123456" not in json.dumps(trace.as_dict())
    assert short_id("DGOK-123456-ABCDE") == "DGOK-…-…DE"
    assert trace.as_dict()["info"]["device"] == "DGOK-…-…DE"


# -- emulated cameras --------------------------------------------------------------------------

pytestmark = pytest.mark.usefixtures("socket_enabled")

UNKNOWN_KEY = "NotAKnownKey1"


def camera(**kw: Any) -> PpppCamera:
    """An emulated camera on 127.0.0.1 (``async with`` starts and stops it)."""
    cfg = PpppCameraConfig(host="127.0.0.1", port=0, width=320, height=240, **kw)
    return PpppCamera(cfg)


async def test_discovery_lists_unknown_psk_and_magic() -> None:
    assert UNKNOWN_KEY not in KNOWN_KEYS
    async with (
        camera(duid="DGOK-111111-ABCDE", encrypt=UNKNOWN_KEY, answer_any_search=True) as psk,
        camera(duid="DGOK-222222-ABCDE", punch_magic=0xF2) as magic,
        camera(duid="BATD-333333-ABCDE", app="ilnk") as known,
    ):
        found = await discover_pppp(
            [psk.discovery_target, magic.discovery_target, known.discovery_target],
            timeout=0.6,
            bind_host="127.0.0.1",
        )
        ports = (psk.session_port, magic.session_port)
    by_port = {i.extra["session_port"]: i for i in found}
    assert len(found) == 3
    assert by_port[ports[0]].uid == f"unknown@127.0.0.1:{ports[0]}"
    assert by_port[ports[0]].extra["reason"] == "unknown PSK"
    assert by_port[ports[1]].uid == "DGOK-222222-ABCDE"
    assert by_port[ports[1]].extra["reason"] == "unknown magic 0xf2"
    assert by_port[ports[1]].extra["first_bytes"].startswith("f2 41 00 14")
    for info in (by_port[ports[0]], by_port[ports[1]]):
        assert (info.app_layer, info.supported, info.extra["size"]) == ("unknown", False, 24)
    ilnk = next(i for i in found if i.uid == "BATD-333333-ABCDE")
    assert (ilnk.app_layer, ilnk.supported) == ("ilnk", True)


async def test_lan_search_ext_answer_is_read() -> None:
    # A camera that only answers the iLnk LAN_SEARCH_EXT (0x32 -> 0x33).
    async with camera(duid="BATD-444444-ABCDE", app="ilnk", lan_search_ext=True) as cam:
        cam._answer_search = lambda addr: None  # type: ignore[method-assign]
        found = await discover_pppp([cam.discovery_target], timeout=0.6, bind_host="127.0.0.1")
    assert [(i.uid, i.app_layer, i.extra.get("search")) for i in found] == [
        ("BATD-444444-ABCDE", "ilnk", "lan_search_ext")
    ]


async def run_probe(
    cam: PpppCamera, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, dict[str, Any], str]:
    path = tmp_path / "trace.json"
    host, port = cam.discovery_target
    args = cli.build_parser().parse_args(
        [
            "probe",
            f"{host}:{port}",
            "--bind",
            "127.0.0.1",
            "--timeout",
            "0.6",
            "--connect-timeout",
            "2",
            "--media-timeout",
            "15",
            "--trace",
            str(path),
            "--limit",
            "12",
            *extra,
        ]
    )
    rc = await cli._probe(args)
    out = capsys.readouterr().out
    text = path.read_text()
    return rc, out, json.loads(text), text


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        raw = secret.encode()
        for form in (raw, bytes(b ^ 1 for b in raw)):
            assert form.decode("latin-1") not in text, secret
            assert form.hex(" ") not in text, secret


CASES = [
    # cfg, prefix, psk, layer, magic of the first reply, codec, (user, password)
    (
        {"duid": "DGOK-123456-ABCDE", "encrypt": "camera", "app": "shix"},
        "DGOK",
        "'camera'",
        "shix",
        "06 0a a1 80",
        "jpeg",
        ("admin", "6666"),
    ),
    (
        {"duid": "BATD-123456-ABCDE", "app": "ilnk"},
        "BATD",
        "none(plaintext)",
        "ilnk",
        "11 0a 20 11",
        "jpeg",
        ("admin", "admin"),
    ),
    (
        {"duid": "VSTJ-123456-ABCDE", "encrypt": "vstarcam2019", "app": "vstarcam"},
        "VSTJ",
        "'vstarcam2019'",
        "vstarcam",
        "01 0a 00 00",
        "h264",
        ("admin", "888888"),
    ),
    (
        {"duid": "GHBB-123456-ABCDE", "app": "lookcam"},
        "GHBB",
        "none(plaintext)",
        "lookcam",
        "a0 af af af",
        "h265",
        ("admin", "123456"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[3] for c in CASES])
async def test_probe_each_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: tuple[Any, ...]
) -> None:
    cfg, prefix, psk, layer, magic, codec, creds = case
    user, password = creds
    async with camera(**cfg) as cam:
        rc, out, data, text = await run_probe(
            cam, tmp_path, capsys, "--user", user, "--password", password
        )
    assert rc == cli.PROBE_OK, out
    assert f"identified: family=pppp prefix={prefix} psk={psk}" in out
    assert f"app layer: {layer} magic='{magic}'" in out
    assert "login: ok" in out
    assert f"media: {codec} size=" in out
    assert "123456" not in out  # the DID is shortened on stdout too
    assert data["recorded"]["tx"] <= 12
    assert data["recorded"]["rx"] <= 12
    assert data["counts"]["rx"] > 12  # more went by than was kept
    assert [s["step"] for s in data["steps"]][-1] == "result"
    assert_clean(text, password, user, "123456")


async def test_probe_unknown_psk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with camera(duid="DGOK-123456-ABCDE", encrypt=UNKNOWN_KEY, answer_any_search=True) as cam:
        rc, out, data, _ = await run_probe(cam, tmp_path, capsys)
    assert rc == cli.PROBE_UNKNOWN
    assert "identified: family=pppp variant=unknown reason='unknown PSK'" in out
    assert data["steps"][-1] == {**data["steps"][-1], "outcome": "unknown variant"}


async def test_probe_unknown_app_magic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with camera(
        duid="DGOK-123456-ABCDE", encrypt="camera", app_magic=b"\xde\xad\xbe\xef"
    ) as cam:
        rc, out, _, text = await run_probe(cam, tmp_path, capsys, "--password", "pw-secret")
    assert rc == cli.PROBE_UNKNOWN, out
    assert "identified: family=pppp prefix=DGOK psk='camera' layer_hint=shix(from key)" in out
    assert "app layer: unknown magic='de ad be ef'" in out
    assert "login: failed error=UnknownLayerError" in out
    assert_clean(text, "pw-secret", "6666")


async def test_probe_no_camera(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with camera(duid="DGOK-123456-ABCDE") as cam:
        cam.silent = True
        rc, out, data, _ = await run_probe(cam, tmp_path, capsys)
    assert rc == cli.PROBE_NO_ANSWER
    assert "answer: none" in out
    assert data["counts"]["rx"] == 0


async def test_probe_teg_camera(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fakecam.teg import TegCamera, TegCameraConfig

    cfg = TegCameraConfig(
        host="127.0.0.1", discovery_port=0, session_port=0, uid="EMUCAM1-0123456789AB-C0FFEE"
    )
    cam = TegCamera(cfg)
    await cam.start()
    try:
        host, port = "127.0.0.1", cam.discovery_port
        path = tmp_path / "teg.json"
        args = cli.build_parser().parse_args(
            ["probe", f"{host}:{port}", "--bind", host, "--timeout", "0.6", "--trace", str(path)]
        )
        rc = await cli._probe(args)
    finally:
        await cam.stop()
    out = capsys.readouterr().out
    assert rc == cli.PROBE_OK, out
    assert "identified: family=teg" in out
    assert "media: jpeg" in out
    text = path.read_text()
    assert json.loads(text)["counts"]["rx"] > 0
    assert_clean(text, "9e8040834b3a")  # the default login token
