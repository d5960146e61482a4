"""ZFS pool properties (autoexpand, autoreplace, failmode, comment...): read them with their source, set some.

Only the properties in ``SETTABLE`` are set, with values from their sets, and only those this pool has
(zfs-fuse has no comment, autotrim or multihost). Values already in place are not set again; when the host
refuses one, those set before it in the same call are put back, so a call changes all or none.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _

from apps.core.errors import BackendError, ServiceError
from apps.core.runner import Runner

from ..backends import get_backend
from ..backends.pool_properties import SETTABLE, PoolProperty, pool_property_problem
from ..models import Pool
from .common import require_present

__all__ = ["pool_properties", "pool_properties_initial", "update_pool_properties"]


def pool_properties(pool: Pool, *, actor=None, runner: Runner | None = None) -> dict:
    """``{"pool": name, "properties": [{name, value, source, editable, choices}]}`` as the host reports them now."""
    require_present(pool)
    props = get_backend(pool, runner).pool_properties()
    return {"pool": pool.name, "properties": [p.as_dict() for p in props]}


def pool_properties_initial(pool: Pool) -> dict:
    """The current values of the settable properties (the admin form's starting point); none when the host
    cannot be read, so the form still opens."""
    try:
        data = pool_properties(pool)
    except (ServiceError, BackendError):
        return {}
    return {p["name"]: _value(PoolProperty(p["name"], p["value"], p["source"])) for p in data["properties"]
            if p["editable"]}


def update_pool_properties(pool: Pool, *, properties: Mapping[str, str], actor=None,
                           runner: Runner | None = None) -> dict:
    """Set ``properties`` ({name: value}) on the pool; the properties as they are afterwards."""
    require_present(pool)
    if not properties:
        raise ServiceError("invalid", _("Nothing to change."), field="properties")
    for name, value in properties.items():
        problem = pool_property_problem(name, value)
        if problem:
            raise ServiceError("invalid", problem, field=name if name in SETTABLE else "properties")
    backend = get_backend(pool, runner)
    current = {p.name: p for p in backend.pool_properties()}
    for name in properties:
        if name not in current:
            raise ServiceError("unsupported", _("Pool %(pool)s has no property %(name)s (this ZFS does not know "
                                                "it).") % {"pool": pool.name, "name": name}, field=name)
    done: list[str] = []
    for name, value in properties.items():
        if _value(current[name]) == value:
            continue
        try:
            backend.set_pool_property(name, value)
        except BackendError as exc:
            _put_back(backend, current, done)
            raise ServiceError("host_refused", _("%(name)s=%(value)s was refused: %(error)s%(undone)s") % {
                "name": name, "value": value, "error": exc.message,
                "undone": _(" (put back: %(names)s)") % {"names": ", ".join(done)} if done else ""},
                field=name) from exc
        done.append(name)
    return pool_properties(pool, runner=runner)


def _value(prop: PoolProperty) -> str:
    """What to set to have ``prop`` as it is: a comment never set reads "-" and is set back as empty."""
    return "" if prop.name == "comment" and prop.source != "local" and prop.value == "-" else prop.value


def _put_back(backend, current: Mapping, done: list[str]) -> None:
    for name in reversed(done):
        try:
            backend.set_pool_property(name, _value(current[name]))
        except BackendError:
            pass
