"""Portals, initiator groups, targets and LUNs as desired-state resources.

Every change re-renders the whole configuration from the database (inside the change's transaction, under
the ``iscsi`` host lock) and pushes it through the backend: a backend failure rolls the row back, and the
backend has already put the host back as it was. Validation comes first, so a refused input (a bad IQN, a
CHAP secret of the wrong length, a path outside the managed datasets) writes no file and runs no command.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import posixpath
from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from apps.core.errors import BackendError, ServiceError
from apps.core.resources import ResourceService
from apps.core.runner import Runner

from ..backends import get_backend
from ..backends.base import Chap, GroupConfig, HostSession, IscsiConfig, LunConfig, PortalConfig, TargetConfig
from ..choices import BackingKind
from ..models import InitiatorGroup, Lun, Portal, Target, default_iqn

__all__ = ["GROUPS", "LUNS", "PORTALS", "TARGETS", "GroupService", "LunService", "PortalService", "TargetService",
           "desired_config", "generated_config", "in_use", "live_sessions", "push", "sessions_of"]


# ------------------------------------------------------------------ the desired configuration
def _chap(user: str, secret: str) -> Chap | None:
    return Chap(user, secret) if user and secret else None


def desired_config(*, exclude: Any = None) -> IscsiConfig:
    """Every target, LUN, group and portal in the database, as the backend's plain values; ``exclude`` is an
    object being deleted (its transaction still holds the row). A handful of flat queries, whatever the count."""
    def kept(obj) -> bool:
        return not (exclude is not None and type(obj) is type(exclude) and obj.pk == exclude.pk)

    portals = {p.pk: PortalConfig(p.address, p.port) for p in Portal.objects.order_by("address", "port") if kept(p)}
    groups = {g.pk: GroupConfig(g.name, tuple(g.initiators), tuple(g.networks))
              for g in InitiatorGroup.objects.order_by("name") if kept(g)}
    luns: dict[int, list[LunConfig]] = defaultdict(list)
    skip_lun = exclude.pk if isinstance(exclude, Lun) else None
    for row in Lun.objects.exclude(pk=skip_lun).order_by("target_id", "lun").values(
            "target_id", "lun", "kind", "path", "dataset__name", "block_size", "read_only", "serial"):
        zvol = row["kind"] == BackingKind.ZVOL
        luns[row["target_id"]].append(LunConfig(
            lun=row["lun"], path=Lun.device_path_of(row["kind"], row["dataset__name"], row["path"]),
            block_device=zvol, block_size=row["block_size"], read_only=row["read_only"], serial=row["serial"]))
    group_ids, portal_ids = defaultdict(list), defaultdict(list)
    for target_id, group_id in Target.initiator_groups.through.objects.values_list("target_id", "initiatorgroup_id"):
        group_ids[target_id].append(group_id)
    for target_id, portal_id in Target.portals.through.objects.values_list("target_id", "portal_id"):
        portal_ids[target_id].append(portal_id)
    targets = []
    for target in Target.objects.order_by("iqn"):
        if not kept(target):
            continue
        targets.append(TargetConfig(
            iqn=target.iqn, alias=target.alias, luns=tuple(luns[target.pk]),
            groups=tuple(sorted((groups[g] for g in group_ids[target.pk] if g in groups), key=lambda g: g.name)),
            incoming=_chap(target.chap_user, target.chap_secret),
            outgoing=_chap(target.mutual_chap_user, target.mutual_chap_secret),
            portals=tuple(sorted((portals[p] for p in portal_ids[target.pk] if p in portals),
                                 key=lambda p: (p.address, p.port)))))
    return IscsiConfig(targets=tuple(targets), portals=tuple(portals.values()))


def push(*, exclude: Any = None, runner: Runner | None = None) -> dict[str, int]:
    """Render the database and make the host match it; records (and returns) the target ids the backend
    assigned, by IQN."""
    applied = get_backend(runner).apply(desired_config(exclude=exclude))
    known = dict(Target.objects.values_list("iqn", "tid"))
    for iqn, tid in applied.tids.items():
        if iqn in known and known[iqn] != tid:
            Target.objects.filter(iqn=iqn).update(tid=tid)
    return applied.tids


MASK = "********"


def _masked(config: IscsiConfig) -> IscsiConfig:
    hide = (lambda chap: Chap(chap.user, MASK) if chap is not None else None)  # noqa: E731
    return dataclasses.replace(config, targets=tuple(
        dataclasses.replace(t, incoming=hide(t.incoming), outgoing=hide(t.outgoing)) for t in config.targets))


def generated_config(obj=None, *, actor=None, runner: Runner | None = None) -> dict:
    """The configuration file the backend writes for the current database, its CHAP secrets shown as ********
    (the file itself holds them, readable by root only)."""
    backend = get_backend(runner)
    try:
        text = backend.render(_masked(desired_config()))
    except BackendError as exc:
        raise ServiceError("unsupported", exc.message) from exc
    return {"backend": backend.name, "path": backend.config_path(), "text": text}


def live_sessions(obj=None, *, actor=None, runner: Runner | None = None) -> list[dict]:
    """Initiators logged in now (of one target when ``obj`` is a target)."""
    sessions = get_backend(runner).sessions()
    if obj is not None:
        sessions = [s for s in sessions if s.target == obj.iqn]
    return [{"target": s.target, "initiator": s.initiator, "addresses": list(s.addresses),
             "session_id": s.session_id} for s in sessions]


def sessions_of(target: Target, runner: Runner | None = None) -> list[HostSession]:
    return [s for s in get_backend(runner).sessions() if s.target == target.iqn]


def in_use(target: Target, runner: Runner | None = None) -> bool:
    """Whether an initiator is logged in to ``target`` now (when tgtd cannot tell, it may be: True)."""
    try:
        return bool(sessions_of(target, runner))
    except BackendError:
        return True


# ------------------------------------------------------------------ resources
class _Pushed(ResourceService):
    lock = "iscsi"

    def apply(self, obj) -> None:
        tids = push()
        if isinstance(obj, Target) and obj.iqn in tids:
            obj.tid = tids[obj.iqn]

    def retire(self, obj) -> None:
        push(exclude=obj)


class PortalService(_Pushed):
    model = Portal
    fields = ("address", "port", "description")


class GroupService(_Pushed):
    model = InitiatorGroup
    fields = ("name", "initiators", "networks", "description")


class TargetService(_Pushed):
    model = Target
    fields = ("name", "iqn", "alias", "portals", "initiator_groups", "chap_user", "chap_secret", "mutual_chap_user",
              "mutual_chap_secret", "description")

    def prepare(self, obj: Target, changed: set[str]) -> None:
        if not obj.iqn and obj.name:
            obj.iqn = default_iqn(obj.name)
        for user_field, secret_field in (("chap_user", "chap_secret"), ("mutual_chap_user", "mutual_chap_secret")):
            if not getattr(obj, user_field):
                setattr(obj, secret_field, "")  # no user, no secret: CHAP is off

    def _save(self, obj, changed, related=None):
        self.prepare(obj, changed)
        obj.full_clean(exclude=self._excluded_from_validation(obj, changed))
        self._check_accounts(obj)
        return super()._save(obj, changed, related)

    @staticmethod
    def _check_accounts(obj: Target) -> None:
        """A CHAP user is one account on the host (tgt): the same name cannot carry two secrets."""
        mine = {obj.chap_user: ("chap_user", obj.chap_secret), obj.mutual_chap_user: ("mutual_chap_user",
                                                                                       obj.mutual_chap_secret)}
        mine.pop("", None)
        for other in Target.objects.exclude(pk=obj.pk).exclude(chap_user="", mutual_chap_user=""):
            for user, secret in ((other.chap_user, other.chap_secret),
                                 (other.mutual_chap_user, other.mutual_chap_secret)):
                if user in mine and mine[user][1] != secret:
                    raise ValidationError({mine[user][0]: _(
                        "Target %(t)s uses the CHAP user %(u)s with another secret: a user name has one secret "
                        "on this host.") % {"t": other.iqn, "u": user}})



class LunService(_Pushed):
    """A LUN's file, when missing, is created sparse at ``size_bytes`` (and removed again if the change fails);
    files are never deleted with their LUN."""

    model = Lun
    fields = ("target", "lun", "kind", "dataset", "path", "size_bytes", "block_size", "read_only", "serial",
              "description")

    def prepare(self, obj: Lun, changed: set[str]) -> None:
        if obj.kind == BackingKind.ZVOL:
            obj.path = ""

    def _save(self, obj, changed, related=None):
        self.prepare(obj, changed)
        obj.full_clean(exclude=self._excluded_from_validation(obj, changed))
        backend = get_backend()
        if obj.lun < backend.min_lun:
            raise ValidationError({"lun": _("%(b)s keeps LUN 0 for its own controller: give 1 to 255.") % {
                "b": backend.name}})
        created = self._check_file(obj)
        try:
            return super()._save(obj, changed, related)
        except BaseException:
            if created:
                with contextlib.suppress(OSError):
                    os.unlink(obj.path)
            raise

    def _check_file(self, obj: Lun) -> bool:
        """The file's directory resolves inside the dataset (no symlink out of it); a missing file is created
        sparse at ``size_bytes``. True when this call created it."""
        if obj.kind != BackingKind.FILE:
            return False
        mount = os.path.realpath(obj.dataset.mountpoint)
        parent = posixpath.dirname(obj.path)
        real_parent = os.path.realpath(parent)
        if os.path.commonpath([real_parent, mount]) != mount:
            raise ValidationError({"path": _("%(p)s leads outside %(n)s.") % {"p": parent, "n": obj.dataset.name}})
        if not os.path.isdir(real_parent):
            raise ValidationError({"path": _("The directory %(p)s does not exist.") % {"p": parent}})
        if os.path.lexists(obj.path):
            if os.path.islink(obj.path) or not os.path.isfile(obj.path):
                raise ValidationError({"path": _("%(p)s exists and is not a regular file.") % {"p": obj.path}})
            return False
        if not obj.size_bytes:
            raise ValidationError({"size_bytes": _("%(p)s does not exist: give the size to create it with.") % {
                "p": obj.path}})
        fd = os.open(obj.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.ftruncate(fd, obj.size_bytes)
        finally:
            os.close(fd)
        return True



PORTALS, GROUPS, TARGETS, LUNS = PortalService(), GroupService(), TargetService(), LunService()
