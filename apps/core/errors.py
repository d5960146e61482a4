"""One error per layer: ``CommandError`` (runner) -> ``BackendError`` (a host tool refused, failed or
printed what we cannot read) -> ``ServiceError`` (an operation refused, with a code a client can branch
on and a message an operator can act on). The API and the admin turn both into the one error format."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import ParamSpec, TypeVar, overload

from .runner import CommandError

__all__ = ["BackendError", "ParseError", "ServiceError", "Unsupported", "errors_text", "field_errors", "lines",
           "parser"]

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
    """A tool printed something its parser cannot read (a new version, a truncated output). ``command`` names
    the tool (``zpool status``) and ``line`` the line of its output that could not be read, when known."""

    code = "unreadable_output"
    status_code = 502

    def __init__(self, message: str, *, command: str = "", line: str | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.command, self.line = command, line


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


# The line a parser is reading, so that whatever goes wrong can name it.
_current_line: ContextVar[str | None] = ContextVar("calypso_parser_line", default=None)
_PARSE_FAILURES = (LookupError, ValueError, TypeError, AttributeError, ArithmeticError, OSError, RecursionError)


def lines(text: str) -> Iterator[str]:
    """The lines of a tool's output, one by one: a ``@parser`` that fails on one names it in its error."""
    for line in text.splitlines():
        _current_line.set(line)
        yield line


def _parse_message(command: str, line: str | None, detail: str, text: str) -> str:
    if line is not None:
        return f"Could not read the output of `{command}` at the line {line[:200]!r}: {detail}"
    snippet = " ".join(text.split())[:120]
    return f"Could not read the output of `{command}` ({detail}); it begins: {snippet!r}"


def _parsing(func: Callable[P, R], command: str) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _current_line.set(None)
        try:
            return func(*args, **kwargs)
        except ParseError as exc:
            if exc.command:  # from a nested parser, which named its own command
                raise
            line = exc.line if exc.line is not None else _current_line.get()
            text = next((a for a in args if isinstance(a, str)), "")
            raise ParseError(_parse_message(command, line, str(exc), text), command=command, line=line) from exc
        except _PARSE_FAILURES as exc:
            line, text = _current_line.get(), next((a for a in args if isinstance(a, str)), "")
            detail = f"{type(exc).__name__}: {exc}"
            raise ParseError(_parse_message(command, line, detail, text), command=command, line=line) from exc
        finally:
            _current_line.reset(token)

    return wrapper


@overload
def parser(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def parser(command: str, /) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def parser(func_or_command):
    """Mark a pure parser, as ``@parser("zpool status")`` (or bare ``@parser``, the command taken from the
    function's name): whatever goes wrong inside it surfaces as one ``ParseError`` naming the command and the
    line it could not read (iterate with ``lines(text)`` so it is known), never as a bare ValueError,
    IndexError or OverflowError."""
    if isinstance(func_or_command, str):
        return lambda func: _parsing(func, func_or_command)
    func = func_or_command
    return _parsing(func, func.__name__.removeprefix("parse_").replace("_", " "))
