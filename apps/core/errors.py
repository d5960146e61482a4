"""The service layer's error: a code a client can branch on, a message an operator can act on."""

from __future__ import annotations

__all__ = ["ServiceError"]


class ServiceError(Exception):
    """An operation was refused or failed. ``field`` names the input at fault, if any."""

    status_code = 409

    def __init__(self, code: str, message: str, *, field: str | None = None, status: int | None = None,
                 extra: dict | None = None) -> None:
        super().__init__(str(message))
        self.code, self.message, self.field = code, str(message), field
        self.extra = extra or {}
        if status is not None:
            self.status_code = status
        elif field is not None:
            self.status_code = 400
