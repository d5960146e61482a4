"""Before/after snapshots of a model instance for audit ``changes``; secret fields are masked."""

from __future__ import annotations

from django.db import models

from .crypto import mask

__all__ = ["ALWAYS_SECRET", "diff", "snapshot"]

ALWAYS_SECRET = {"password", "key_hash", "secret", "token"}


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str, list, dict)):
        return value
    return str(value)


def snapshot(instance: models.Model | None) -> dict:
    """Concrete field values of ``instance`` as JSON-safe data, secrets masked."""
    if instance is None:
        return {}
    secret = set(getattr(instance, "secret_fields", ())) | ALWAYS_SECRET
    data = {}
    for f in instance._meta.concrete_fields:
        value = getattr(instance, f.attname)
        data[f.name] = mask(value) if f.name in secret else _plain(value)
    return data


def diff(before: dict, after: dict) -> dict:
    """``{field: [old, new]}`` for every field that differs (created: old is None; deleted: new is None)."""
    skip = {"updated", "created"}
    keys = (set(before) | set(after)) - skip
    return {k: [before.get(k), after.get(k)] for k in sorted(keys) if before.get(k) != after.get(k)}
