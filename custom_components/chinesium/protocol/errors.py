"""Typed errors raised by the chinesium protocol library.

Every error the library raises derives from :class:`ChinesiumError`, so callers
(the Home Assistant layer, the CLI) can map them without catching bare
exceptions.
"""

from __future__ import annotations


class ChinesiumError(Exception):
    """Root of every error raised by the protocol library."""


class MalformedPacketError(ChinesiumError, ValueError):
    """A datagram or app-layer message could not be decoded (truncated, bad magic, ...)."""


class CameraConnectionError(ChinesiumError):
    """The camera could not be reached or the session was lost."""


class CameraTimeoutError(CameraConnectionError, TimeoutError):
    """The camera did not answer in time (unreachable host, silent camera)."""


class SessionClosedError(CameraConnectionError):
    """The session was closed (by us, or by the camera)."""


class CameraRejectedError(ChinesiumError):
    """The camera refused the request for a reason other than auth or capacity."""


class AuthenticationError(CameraRejectedError):
    """Wrong password / token / credentials."""


class CameraFullError(CameraRejectedError):
    """The camera has no free client slot (another client is connected)."""


class UnsupportedCameraError(ChinesiumError):
    """The camera speaks a family or app layer this library cannot (yet) speak.

    ``name`` names the family/app layer so the user can be told what it is.
    """

    def __init__(self, name: str, message: str | None = None) -> None:
        """Create the error for the named protocol variant."""
        super().__init__(message or f"unsupported camera protocol: {name}")
        self.name = name


class UnsupportedCommandError(ChinesiumError):
    """The camera (or its protocol) has no such command (see ``session.capabilities``).

    ``command`` names the command (``"ptz"``, ``"set_light"``, ...).
    """

    def __init__(self, command: str, message: str | None = None) -> None:
        """Create the error for ``command``."""
        super().__init__(message or f"camera does not support {command}")
        self.command = command
