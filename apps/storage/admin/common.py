"""Shared display pieces of the storage admin: sizes and the capacity bar."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.utils.html import format_html

from apps.core.admin import COLORS
from apps.core.validators import format_size

__all__ = ["capacity_bar", "size_column"]


def size_column(field: str, label: str) -> Callable:
    """A sortable list/detail column showing a byte count as 1.5G (a staticmethod on the ModelAdmin)."""

    @admin.display(description=label, ordering=field)
    def column(obj) -> str:
        value = getattr(obj, field)
        return format_size(value) if value is not None else "-"

    return staticmethod(column)


def capacity_bar(percent) -> str:
    if percent is None:
        return "-"
    color = COLORS["red"] if percent >= 90 else COLORS["orange"] if percent >= 80 else COLORS["green"]
    return format_html(
        '<div class="calypso-capacity" style="width:160px;background:#e9ecef;border-radius:3px">'
        '<div style="width:{}%;background:{};color:#fff;padding:0 4px;border-radius:3px;white-space:nowrap">'
        '{} %</div></div>', min(int(percent), 100), color, percent)
