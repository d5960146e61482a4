"""One error per layer: ``CommandError`` (runner) -> ``BackendError`` (a host tool refused, failed or
printed what we cannot read) -> ``ServiceError`` (an operation refused, with a code a client can branch
on and a message an operator can act on). The API and the admin turn both into the one error format."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from .runner import CommandError

__all__ = ["BackendError", "ParseError", "ServiceError", "Unsupported", "errors_text", "field_errors", "parser"]

P = ParamSpec("P")
R = TypeVar("R")


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


class BackendError(Exception):
    """A host tool refused or failed; ``stderr`` holds the tool's own words."""

    code = "host_refused"
    status_code = 409

    def __init__(self, message: str, *, argv: tuple[str, ...] = (), returncode: int | None = None,
                 stderr: str = "") -> None:
        super().__init__(message)
        self.argv, self.returncode, self.stderr = argv, returncode, stderr

    @property
    def message(self) -> str:
        return self.stderr.strip() or str(self)

    @classmethod
    def from_command(cls, exc: CommandError, message: str | None = None) -> BackendError:
        detail = exc.stderr.strip() or exc.stdout.strip() or str(exc)
        return cls(message or detail, argv=exc.argv, returncode=exc.returncode, stderr=exc.stderr)


class Unsupported(BackendError):
    """The backend (or this version of its tool) cannot do what was asked, e.g. volumes on zfs-fuse."""

    code = "unsupported"


class ParseError(BackendError):
    """A tool printed something its parser cannot read (a new version, a truncated output)."""

    code = "unreadable_output"
    status_code = 502


def field_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's (nested) error detail as ``{"field": [...], "vdevs.0.devices": [...]}``: the API's ``fields``,
    the admin form's field errors and the audit message all read it this way."""
    if isinstance(detail, dict):
        out = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(field_errors(value, name) if isinstance(value, (dict, list)) and _nested(value)
                       else {name: [str(x) for x in (value if isinstance(value, list) else [value])]})
        return out
    if isinstance(detail, list) and _nested(detail):
        out = {}
        for i, value in enumerate(detail):
            out.update(field_errors(value, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix or "non_field_errors": [str(x) for x in (detail if isinstance(detail, list) else [detail])]}


def _nested(value) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(v, (dict, list)) and v for v in items) or isinstance(value, dict)


def errors_text(fields: dict[str, list[str]]) -> str:
    """``field: message; other: message`` for one line of text."""
    return "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())


def parser(func: Callable[P, R]) -> Callable[P, R]:
    """Mark a pure parser: whatever goes wrong inside it surfaces as one ``ParseError`` naming the parser
    and the start of the text, never as a bare ValueError or IndexError."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ParseError:
            raise
        except (ValueError, IndexError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            text = next((a for a in args if isinstance(a, str)), "")
            snippet = " ".join(text.split())[:120]
            raise ParseError(f"{func.__name__}: cannot read the tool's output ({exc}); it begins: {snippet!r}") \
                from exc

    return wrapper
