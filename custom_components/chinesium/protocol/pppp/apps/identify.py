"""Which application layer a PPPP camera speaks (pppp.md §6.1, §5.2, seed table).

Three clues, strongest first:

1. the first bytes of a control-channel payload (each layer has its own magic);
2. the obfuscation key (PSK) the camera answered with (``camera`` → SHIX, ...);
3. the DID prefix (vendor networks map to one app layer each);
4. a legacy iLnk check code (5 letters A-F) on a plaintext network.

Which layers can be spoken, their names and payload magics come from
:mod:`.registry`; the others are named so the user learns what the camera is
(:class:`~...errors.UnsupportedCameraError`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .layers import AppLayer
from .registry import DISPLAY_NAMES, PAYLOAD_MAGICS, SUPPORTED, layer_from_payload

KEY_LAYERS: dict[str, AppLayer] = {
    "camera": AppLayer.SHIX,
    "SHIX": AppLayer.SHIX,
    "JX20130716": AppLayer.SHIX,  # AYS/XYX: LookCamPro & co. speak SHIX (seed)
    "Deng123abc": AppLayer.SHIX,  # TUT: LookCamPro (seed)
    "vstarcam2019": AppLayer.VSTARCAM,
    "vstarcam2018": AppLayer.VSTARCAM,
    "@@@@....": AppLayer.VSTARCAM,  # JXLCAM: CGI calls
}
"""PSKs whose networks are known to carry one app layer."""

PREFIX_LAYERS: dict[str, AppLayer] = {
    # SHIX JSON (HDWifiCamPro & co., LookCamPro & co.)
    **dict.fromkeys(
        (
            "DBG",
            "DGB",
            "DGO",
            "DGOA",
            "DGOB",
            "DGOC",
            "DGOD",
            "DGOE",
            "DGOF",
            "DGOG",
            "DGOH",
            "DGOI",
            "DGOJ",
            "DGOK",
            "DGHA",
            "DGHG",
            "DGKA",
            "DGKB",
            "DGKC",
            "NMSA",
            "NMSB",
            "NMSZ",
            "PETA",
            "AYS",
            "AYSA",
            "TUT",
            "XYX",
        ),
        AppLayer.SHIX,
    ),
    # iLnk binary (YsxLite, FtyCamPro)
    **dict.fromkeys(
        (
            "BATC",
            "BATD",
            "BATE",
            "PTZ",
            "PTZA",
            "PTZB",
            "TBAT",
            "FTY",
            "FTYA",
            "FTYC",
            "FTZ",
            "FTZW",
        ),
        AppLayer.ILNK,
    ),
    # VStarcam / Eye4 / JXLCAM / minicam CGI
    **dict.fromkeys(
        (
            "VSTA",
            "VSTB",
            "VSTC",
            "VSTD",
            "VSTF",
            "VSTG",
            "VSTH",
            "VSTJ",
            "VSTK",
            "VSTL",
            "VSTM",
            "VSTN",
            "VSTP",
            "VC0",
            "VE",
            "ELSC",
            "QHSV",
            "ROSS",
            "ISRP",
            "GCMN",
            "ELSA",
            "ACCQ",
            "ACCR",
            "ACCS",
            "BCCA",
            "BCCQ",
            "CAMA",
            "CAM888",
        ),
        AppLayer.VSTARCAM,
    ),
    **dict.fromkeys(("BHCC", "FHBB", "GHBB"), AppLayer.LOOKCAM),
    **dict.fromkeys(
        ("AAFF", "MMMM", "NNNN", "PPPP", "SSAA", "SSAH", "SSAK", "SSAT", "SSSS", "TTTT"),
        AppLayer.CAMHI,
    ),
    **dict.fromkeys(("TNPCHNA", "TNPCHNB", "TNPUSAC", "TNPUSAM", "TNPXGAC"), AppLayer.YI),
    "ECIPCM": AppLayer.MEARI,
    "TUYASA": AppLayer.TUYA,
    # EEEE is both CS2 (CamHi) and iLnk (VStarcam): ambiguous, deliberately absent.
}
"""DID prefixes with a known app layer (seed's application table, pppp.md §2.3/§5.2)."""


__all__ = [
    "DISPLAY_NAMES",
    "KEY_LAYERS",
    "PAYLOAD_MAGICS",
    "PREFIX_LAYERS",
    "SUPPORTED",
    "AppLayer",
    "Identification",
    "identify",
    "layer_from_key",
    "layer_from_payload",
    "layer_from_prefix",
    "probe_order",
]


@dataclass(frozen=True, slots=True)
class Identification:
    """Result of :func:`identify`: the layer (or None) and which clue decided it."""

    layer: AppLayer | None
    source: str  # "payload", "key", "prefix", "check", "info" or "unknown"

    @property
    def supported(self) -> bool:
        """True when this library can speak the layer (unknown counts as maybe)."""
        return self.layer is None or self.layer in SUPPORTED

    @property
    def display_name(self) -> str:
        """Human-readable name for messages and diagnostics."""
        return "unknown" if self.layer is None else DISPLAY_NAMES[self.layer]


def layer_from_key(key: str | None) -> AppLayer | None:
    """Layer implied by the obfuscation key, if the key's network is known."""
    return KEY_LAYERS.get(key) if key else None


def layer_from_prefix(prefix: str | None) -> AppLayer | None:
    """Layer implied by the DID prefix (case-insensitive), if known."""
    return PREFIX_LAYERS.get(prefix.upper()) if prefix else None


def identify(
    *,
    prefix: str | None = None,
    key: str | None = None,
    payload: bytes | bytearray | memoryview | None = None,
    check: str | None = None,
) -> Identification:
    """Combine the clues (payload > key > prefix > check code) into one answer."""
    if payload:
        layer = layer_from_payload(payload)
        if layer is not None:
            return Identification(layer, "payload")
    layer = layer_from_key(key)
    if layer is not None:
        return Identification(layer, "key")
    layer = layer_from_prefix(prefix)
    if layer is not None:
        return Identification(layer, "prefix")
    if not key and check and len(check) == 5 and set(check) <= set("ABCDEF"):
        return Identification(AppLayer.ILNK, "check")
    return Identification(None, "unknown")


def probe_order(ident: Identification, *, encrypted: bool) -> list[AppLayer]:
    """Supported layers to try, best guess first.

    A supported hint goes first. Otherwise follow aiopppp's heuristic: an
    obfuscated network is most likely SHIX, a plaintext one iLnk (iLnk has no
    transport encryption, so it is never tried on an obfuscated network).
    LookCam (plaintext only, pppp.md §6.5) comes last on a plaintext network.
    """
    base = [AppLayer.SHIX] if encrypted else [AppLayer.ILNK, AppLayer.SHIX, AppLayer.LOOKCAM]
    if ident.layer in SUPPORTED:
        assert ident.layer is not None
        # A hint can be wrong (prefix guesses): fall back to the other layer.
        return [ident.layer, *(layer for layer in base if layer is not ident.layer)]
    return base
