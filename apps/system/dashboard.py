"""The dashboard is a list of panels that apps declare; the system app knows none of them by name.

An app registers its panels in its ``panels.py`` (the system app discovers every app's at start)::

    register_panel(Panel("storage", "admin/storage/panels/storage.html", storage_panel, order=20))

``context(request)`` returns the panel's template context (already restricted to what the user may see),
or None to leave the panel out for this user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

__all__ = ["Panel", "panels", "register_panel"]


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: Callable[..., dict | None]
    order: int = 50


_PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    _PANELS[panel.name] = panel


def panels(request) -> list[SafeString]:
    """Every panel this user may see, rendered, in order."""
    out = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.name)):
        context = panel.context(request)
        if context is not None:
            out.append(render_to_string(panel.template, context, request=request))
    return out
