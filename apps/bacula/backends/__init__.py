"""The Bacula (or Bareos) host tools: configuration rendering and checks (``config``), the director's console
(``bconsole``), their parsers and types. ``get_console()`` is the one factory services use."""

from __future__ import annotations

from apps.core.runner import Runner, get_runner

from .base import FLAVOURS, Flavour
from .bconsole import Console

__all__ = ["Console", "get_console", "get_flavour"]


def get_flavour() -> Flavour:
    """The flavour the settings name (``CALYPSO_BACULA_FLAVOUR``: bacula or bareos)."""
    from django.conf import settings

    name = getattr(settings, "CALYPSO_BACULA_FLAVOUR", "bacula")
    if name not in FLAVOURS:
        raise LookupError(f"CALYPSO_BACULA_FLAVOUR: expected one of {', '.join(FLAVOURS)}, got {name!r}")
    return FLAVOURS[name]


def get_console(runner: Runner | None = None) -> Console:
    """The director's console on this host, through ``runner`` (default: ``get_runner()``)."""
    from django.conf import settings

    flavour = get_flavour()
    config = getattr(settings, "CALYPSO_BACULA_CONSOLE_CONF", "") or f"{flavour.config_dir}/bconsole.conf"
    return Console(runner or get_runner(), config, flavour)
