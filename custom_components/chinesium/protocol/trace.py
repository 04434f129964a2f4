"""A small, bounded record of what a camera said: for bug reports and diagnostics.

:class:`TraceRecorder` keeps the first ``limit`` datagrams in each direction
(time, size, the first ``head`` bytes as hex) plus the first ``limit`` step
notes (what was identified, which login failed). It never holds credentials:
every string registered with :meth:`TraceRecorder.redact` is masked in the
recorded bytes (also its URL-quoted, JSON-escaped and LSB-flipped forms, and a
piece of it at the end of the recorded window or at the start of a DRW payload,
where a secret split across two DRWs would show), and device IDs are
kept only as prefix + last characters. Masked bytes show as ``**`` in the hex.

Usage::

    trace = TraceRecorder(limit=32)
    trace.redact(password, username)
    conn = await PpppConnection.connect(host, trace=trace)   # records datagrams
    trace.note("login", layer="shix", result="ok")
    json.dump(trace.as_dict(), fp)
"""

from __future__ import annotations

import json
from pathlib import Path
import time
from typing import Any
from urllib.parse import quote

DEFAULT_LIMIT = 32
"""Datagrams kept per direction (and step notes kept)."""
DEFAULT_HEAD = 32
"""Leading bytes kept per datagram."""
MASK = -1
_MIN_TAIL = 2
"""A secret's piece this long at the end of the window (or the start of a DRW
payload) is masked too."""
_DRW_BODY = 8
"""Offset of the payload in a DRW datagram."""


def short_id(uid: str | None) -> str | None:
    """A device ID shortened to prefix + last two characters (``ABCD-…-…YZ``)."""
    if not uid:
        return uid
    parts = uid.split("-")
    if len(parts) == 3 and parts[0]:
        return f"{parts[0]}-…-…{parts[2][-2:]}"
    return f"{uid[:4]}…{uid[-2:]}" if len(uid) > 8 else "…"


def _forms(secret: str) -> set[bytes]:
    raw = secret.encode("utf-8", "replace")
    forms = {
        raw,
        quote(secret, safe="").encode(),
        json.dumps(secret, ensure_ascii=False)[1:-1].encode("utf-8", "replace"),
        json.dumps(secret)[1:-1].encode(),
    }
    forms |= {bytes(b ^ 1 for b in f) for f in list(forms)}  # iLnk XqBytes flips every LSB
    return {f for f in forms if f}


class TraceRecorder:
    """Bounded datagram/step recorder with credential redaction; see the module doc."""

    def __init__(self, limit: int = DEFAULT_LIMIT, *, head: int = DEFAULT_HEAD) -> None:
        """Keep the first ``limit`` datagrams each way, ``head`` leading bytes of each."""
        self.limit = max(0, limit)
        self.head = max(4, head)
        self._t0 = time.monotonic()
        self._secrets: set[bytes] = set()
        self._dids: list[tuple[bytes, int]] = []
        self._entries: list[dict[str, Any]] = []
        self._notes: list[dict[str, Any]] = []
        self.counts = {"tx": 0, "rx": 0}
        """Datagrams seen per direction (recorded or not)."""
        self.notes_dropped = 0
        self.info: dict[str, Any] = {}
        """Free-form facts (already redacted by the caller) merged into :meth:`as_dict`."""

    # -- configuration ------------------------------------------------------------

    def redact(self, *secrets: str | None) -> None:
        """Never record these strings (credentials we send); ``None``/empty ignored."""
        for secret in secrets:
            if secret:
                self._secrets |= _forms(secret)

    def device_id(self, uid: str | None, raw: bytes = b"") -> None:
        """Register a device ID: its text is masked, its 20-byte wire form shortened."""
        if uid:
            self.info.setdefault("device", short_id(uid))
            self._secrets |= _forms(uid)
            self._secrets |= _forms(uid.replace("-", ""))
        if len(raw) >= 20:
            # keep the 8-byte prefix and the last two check characters; mask the rest
            check = raw[12:20].rstrip(b"\0")
            entry = (bytes(raw[:20]), 12 + max(0, len(check) - 2))
            if entry not in self._dids:
                self._dids.append(entry)

    # -- recording ------------------------------------------------------------------

    def wants(self, direction: str) -> bool:
        """True while datagrams in ``direction`` are still recorded (cheap pre-check)."""
        return self.counts.get(direction, 0) < self.limit

    def record(self, direction: str, data: bytes | bytearray | memoryview, **fields: Any) -> None:
        """Count a datagram (``"tx"``/``"rx"``, plaintext) and keep it if under the limit."""
        n = self.counts.get(direction, 0)
        self.counts[direction] = n + 1
        if n >= self.limit:
            return
        entry: dict[str, Any] = {
            "dir": direction,
            "t": round(time.monotonic() - self._t0, 4),
            "size": len(data),
            "head": self._hex(bytes(data)),
        }
        entry.update(fields)
        self._entries.append(entry)

    def note(self, step: str, **fields: Any) -> None:
        """Record one step (identification, login result, ...); strings are redacted."""
        if len(self._notes) >= self.limit:
            self.notes_dropped += 1
            return
        clean = {k: self.clean(v) for k, v in fields.items()}
        self._notes.append({"t": round(time.monotonic() - self._t0, 4), "step": step, **clean})

    def clean(self, value: Any) -> Any:
        """``value`` with every registered secret masked (strings, bytes -> hex, containers)."""
        if isinstance(value, str):
            raw = value.encode("utf-8", "replace")
            masked = self._mask(raw)
            if masked == list(raw):
                return value
            return "".join("*" if b == MASK else chr(b) if b < 0x80 else "?" for b in masked)
        if isinstance(value, bytes | bytearray):
            return self._hex(bytes(value))
        if isinstance(value, dict):
            return {k: self.clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.clean(v) for v in value]
        return value

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The recorded datagrams (copies)."""
        return [dict(e) for e in self._entries]

    @property
    def notes(self) -> list[dict[str, Any]]:
        """The recorded steps (copies)."""
        return [dict(n) for n in self._notes]

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe snapshot: limits, counts, datagrams, steps, info."""
        return {
            "limit": self.limit,
            "head_bytes": self.head,
            "counts": dict(self.counts),
            "recorded": {d: sum(1 for e in self._entries if e["dir"] == d) for d in self.counts},
            "datagrams": self.entries,
            "steps": self.notes,
            "steps_dropped": self.notes_dropped,
            "info": self.clean(self.info),
        }

    def write(self, path: str | Path) -> None:
        """Write :meth:`as_dict` as indented JSON."""
        Path(path).write_text(json.dumps(self.as_dict(), indent=1, ensure_ascii=False) + "\n")

    # -- internals --------------------------------------------------------------------

    def _mask(self, data: bytes) -> list[int]:
        out = list(data)
        for raw, end in self._dids:
            start = data.find(raw)
            while start >= 0:
                out[start + 8 : start + end] = [MASK] * (end - 8)
                start = data.find(raw, start + 1)
        for secret in self._secrets:
            start = data.find(secret)
            while start >= 0:
                out[start : start + len(secret)] = [MASK] * len(secret)
                start = data.find(secret, start + 1)
        return out

    def _hex(self, data: bytes) -> str:
        # Mask the whole datagram first, then cut: a secret crossing the cut is caught.
        window = self._mask(data)[: self.head]
        cut = data[: self.head]
        # A DRW payload may start with the rest of a secret cut by the previous DRW.
        body = _DRW_BODY if data[:2] == b"\xf1\xd0" else 0
        for secret in self._secrets:
            for k in range(min(len(secret) - 1, len(cut)), _MIN_TAIL - 1, -1):
                if cut.endswith(secret[:k]):  # a piece cut off at the window/datagram end
                    window[len(cut) - k :] = [MASK] * k
                    break
            if body:
                for k in range(min(len(secret) - 1, len(cut) - body), _MIN_TAIL - 1, -1):
                    if cut[body:].startswith(secret[-k:]):
                        window[body : body + k] = [MASK] * k
                        break
        return " ".join("**" if b == MASK else f"{b:02x}" for b in window)


__all__ = ["DEFAULT_HEAD", "DEFAULT_LIMIT", "TraceRecorder", "short_id"]
