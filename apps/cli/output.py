"""Plain-text output: aligned tables for lists, ``key: value`` lines for one object, sizes in powers of
1024 as ``zfs list`` shows them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["Column", "as_json", "detail", "size", "table", "when"]

Column = tuple[str, Callable[[dict], Any]]


def size(value: Any) -> str:
    """Bytes as 512, 1.5K, 20M, 3.64T; "-" when unknown."""
    if value is None or value == "":
        return "-"
    n = float(value)
    for unit in ("", "K", "M", "G", "T", "P"):
        if abs(n) < 1024 or unit == "P":
            if not unit:
                return str(int(n))
            return f"{n:.2f}".rstrip("0").rstrip(".") + unit if n < 10 else f"{n:.1f}".rstrip("0").rstrip(".") + unit
        n /= 1024
    return str(value)  # pragma: no cover - the loop always returns


def when(value: Any) -> str:
    """An ISO 8601 time as "2026-12-01 18:01:16" (the portal's time zone, as the API sent it)."""
    if not value:
        return "-"
    text = str(value).replace("T", " ")
    return text[:19]


def cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return " ".join(str(value).split())  # one line per row


def table(rows: Iterable[dict], columns: Sequence[Column]) -> str:
    """Rows under upper-case headers, columns two spaces apart, the last one not padded."""
    lines = [[header.upper() for header, _get in columns]]
    lines += [[cell(get(row)) for _header, get in columns] for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def detail(obj: dict, skip: Sequence[str] = ()) -> str:
    """One ``key: value`` line per field, keys aligned."""
    keys = [k for k in obj if k not in skip]
    width = max((len(k) for k in keys), default=0)
    return "\n".join(f"{k.ljust(width)}  {cell(obj[k])}" for k in keys)


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
