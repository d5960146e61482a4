"""Desired-state resources (a policy, a share, a target, a backup task): created, changed and deleted
through one service per resource, never through the ORM from a view or a form.

``ResourceService`` is validate -> save -> apply: the model's own validation (``full_clean``) refuses bad
input naming every field at fault; ``apply()`` pushes the saved state to the host (render a config file,
reload a daemon) inside the same transaction, so a failure there leaves neither the row nor, when
``apply()`` restores what it replaced, the host changed. The operation that calls the service writes the
audit event.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from .configfiles import host_lock

__all__ = ["ResourceService"]

M = TypeVar("M", bound=models.Model)


class ResourceService(Generic[M]):
    model: ClassVar[type[models.Model]]
    fields: ClassVar[tuple[str, ...]]  # what an operator may set
    # A host file rendered from every row (a Samba include, an exports file): changes hold this lock from
    # validation to commit, so each renders from a database that holds every earlier change.
    lock: ClassVar[str | None] = None

    def create(self, *, actor=None, **fields: Any) -> M:
        """Create the resource from ``fields``; nothing is saved unless every field is valid."""
        plain, related = self._split(fields)
        with self._locked():
            return self._save(self.model(**plain), set(fields), related)

    def update(self, obj: M, *, actor=None, **fields: Any) -> M:
        """Change ``fields`` of ``obj``; nothing is saved unless the result is valid (and then ``obj`` is
        reloaded, so the caller never holds the refused values)."""
        plain, related = self._split(fields)
        try:
            with self._locked():
                if self.lock:  # what other changes committed while this one waited for the lock stays
                    obj.refresh_from_db()
                for name, value in plain.items():
                    setattr(obj, name, value)
                return self._save(obj, set(fields), related)
        except Exception:
            obj.refresh_from_db()
            raise

    def delete(self, obj: M, *, actor=None) -> None:
        """Delete the resource, after ``retire()`` took it off the host."""
        with self._locked(), transaction.atomic():
            self.retire(obj)
            obj.delete()

    def _locked(self):
        return host_lock(self.lock) if self.lock else contextlib.nullcontext()

    def prepare(self, obj: M, changed: set[str]) -> None:
        """Before validation: derived fields (e.g. reset a schedule when its rule changed)."""

    def apply(self, obj: M) -> None:
        """After the row is saved, inside its transaction: push the new state to the host."""

    def retire(self, obj: M) -> None:
        """Before the row is deleted, inside its transaction: remove the resource from the host."""

    def _split(self, fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(concrete fields, many-to-many fields); unknown fields refused naming each."""
        unknown = sorted(set(fields) - set(self.fields))
        if unknown:
            raise ValidationError({name: _("Unknown field.") for name in unknown})
        m2m = {f.name for f in self.model._meta.many_to_many}
        return ({k: v for k, v in fields.items() if k not in m2m}, {k: v for k, v in fields.items() if k in m2m})

    def check(self, obj: M) -> dict[str, list[str]]:
        """Refusals the model cannot state itself (they need a service's knowledge), by field; reported together
        with the model's own."""
        return {}

    def _save(self, obj: M, changed: set[str], related: dict[str, Any] | None = None) -> M:
        self.prepare(obj, changed)
        errors = {field: list(messages) for field, messages in self.check(obj).items() if messages}
        try:
            obj.full_clean(exclude=self._excluded_from_validation(obj, changed))
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(m for m in messages if m not in errors.get(field, []))
        if errors:
            raise ValidationError(errors)
        with transaction.atomic():
            obj.save()
            for name, value in (related or {}).items():
                getattr(obj, name).set(value)
            self.apply(obj)
        return obj

    def _excluded_from_validation(self, obj: M, changed: set[str]) -> list[str]:
        """Fields ``full_clean`` leaves alone (those the service sets itself, e.g. a password hash)."""
        return []
