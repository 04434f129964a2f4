"""Names of the PPPP application layers (no dependencies; see :mod:`.registry`)."""

from __future__ import annotations

from enum import StrEnum


class AppLayer(StrEnum):
    """Application layers over PPPP DRW (value = short name used in CameraInfo)."""

    SHIX = "shix"
    ILNK = "ilnk"
    VSTARCAM = "vstarcam"
    LOOKCAM = "lookcam"
    CAMHI = "camhi"
    YI = "yi"
    MEARI = "meari"
    IBABY = "ibaby"
    TUYA = "tuya"
    XIAOMI = "xiaomi"
