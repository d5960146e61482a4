"""SMB shares and accounts: every change re-renders Calypso's Samba include file from the database, has
``testparm`` validate it before it replaces the old one, reloads smbd, and puts the old file back when
validation or the reload fails (the row is not saved then either)."""

from __future__ import annotations

import dataclasses
import re
import string
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.configfiles import host_lock, install, integration_path
from apps.core.errors import BackendError, ServiceError
from apps.core.resources import ResourceService
from apps.core.runner import Runner
from apps.jobs import services as jobs
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.storage.choices import Backend
from apps.storage.models import Dataset, SnapshotPolicy
from apps.storage.retention import DEFAULT_TEMPLATE, Frequency
from apps.storage.services import dataset_at, register_dataset_users

from ..backends import get_samba
from ..backends.base import ShadowCopies, SmbShareSpec
from ..models import SmbShare, SmbUser, validate_unix_name
from .common import shared_directory

__all__ = [
    "ACCOUNTS",
    "SHARES",
    "SMB_LOCK",
    "apply_samba",
    "generated_samba",
    "generated_samba_config",
    "include_path",
    "sessions_on",
    "shadow_copies",
    "share_sessions",
    "smb_in_use",
    "smb_status",
    "start_samba_apply",
]

SMB_LOCK = "samba"
FIRST_USER_UID = 1000  # below: the host's own system accounts, never given an SMB password
SHARE_FIELDS = ("name", "path", "comment", "enabled", "read_only", "browseable", "guest_ok", "valid_users",
                "admin_users", "hosts_allow", "hosts_deny", "case_sensitive", "previous_versions", "recycle_bin",
                "audit_log", "extra_options")


def include_path() -> Path:
    return integration_path("samba", "shares.conf")


# ---------------------------------------------------------------------------------------------- Previous Versions
def _template_for(dataset: Dataset) -> str:
    """The naming template of the policy that snapshots ``dataset`` (its own, else a recursive one above it)."""
    own = SnapshotPolicy.objects.filter(dataset=dataset).order_by("name").first()
    if own is not None:
        return own.naming_template
    parents = [dataset.name.rsplit("/", i)[0] for i in range(1, dataset.name.count("/") + 1)]
    above = (SnapshotPolicy.objects.filter(dataset__pool=dataset.pool, dataset__name__in=parents, recursive=True)
             .order_by("-dataset__name").first())
    return above.naming_template if above is not None else DEFAULT_TEMPLATE


def _bre(text: str) -> str:
    """``text`` as a literal in a POSIX basic regular expression."""
    return re.sub(r"([.\[\]\\*^$])", r"\\\1", text)


def shadow_copies(dataset: Dataset) -> ShadowCopies:
    """How shadow_copy2 finds the dataset's policy snapshots and reads their time.

    Samba splits a snapshot name at the first occurrence of ``shadow:delimiter``, matches what is before it
    against ``shadow:snapprefix`` and reads the time from the rest with ``shadow:format``. A template such as
    ``calypso_{frequency}_{time:%Y-%m-%d_%H:%M:%S}`` has the text before the time (``_``) elsewhere in the name
    too, so the delimiter also takes the first digit of the year (``_2``: years 2000-2999) and the format
    starts at the delimiter. Raises ValueError when the template cannot be described this way."""
    template = _template_for(dataset)
    prefix_regex, literal_before, time_format, seen_time = "", "", None, False
    for literal, name, spec, _conv in string.Formatter().parse(template):
        if seen_time and (literal or name):
            raise ValueError(_("the snapshot names of %(d)s do not end with their time (template %(t)s)")
                             % {"d": dataset.name, "t": template})
        if name == "time":
            literal_before, time_format, seen_time = literal, spec or "%Y-%m-%d_%H:%M:%S", True
            continue
        prefix_regex += _bre(literal)
        if name == "frequency":
            prefix_regex += r"\(" + r"\|".join(f.value for f in Frequency) + r"\)"
    if not seen_time or not time_format.startswith("%Y") or not literal_before:
        raise ValueError(_("the snapshot names of %(d)s need a separator before a time that starts with the year "
                           "(template %(t)s)") % {"d": dataset.name, "t": template})
    delimiter = literal_before + "2"
    if dataset.pool.backend == Backend.BTRFS:  # snapshots are siblings named <subvolume>@<name>
        parent, _sep, leaf = dataset.mountpoint.rstrip("/").rpartition("/")
        if delimiter in leaf:
            raise ValueError(_("the subvolume name %(n)s contains %(d)s") % {"n": leaf, "d": delimiter})
        return ShadowCopies(snapdir=parent or "/", format=literal_before + time_format,
                            snapprefix=f"^{_bre(leaf)}@{prefix_regex}$", delimiter=delimiter)
    return ShadowCopies(snapdir=".zfs/snapshot", format=literal_before + time_format,
                        snapprefix=f"^{prefix_regex}$", delimiter=delimiter)


# ---------------------------------------------------------------------------------------------- rendering
_SPEC_FIELDS = ("name", "path", "comment", "enabled", "read_only", "browseable", "guest_ok", "valid_users",
                "admin_users", "hosts_allow", "hosts_deny", "case_sensitive", "previous_versions", "recycle_bin",
                "audit_log", "extra_options", "dataset_id")


def _spec(share: dict, datasets: dict[int, Dataset]) -> SmbShareSpec:
    """One share (a row's values) as the backend renders it."""
    shadow = None
    if share["previous_versions"]:
        try:
            shadow = shadow_copies(datasets[share["dataset_id"]])
        except ValueError as exc:
            raise ServiceError("invalid", _("Previous Versions cannot be offered: %(e)s.") % {"e": exc},
                               field="previous_versions") from exc
    return SmbShareSpec(
        name=share["name"], path=share["path"], comment=share["comment"], available=share["enabled"],
        read_only=share["read_only"], browseable=share["browseable"], guest_ok=share["guest_ok"],
        valid_users=tuple(share["valid_users"]), admin_users=tuple(share["admin_users"]),
        hosts_allow=tuple(share["hosts_allow"]), hosts_deny=tuple(share["hosts_deny"]),
        case_sensitive=share["case_sensitive"], shadow=shadow, recycle=share["recycle_bin"],
        audit=share["audit_log"],
        options=tuple((" ".join(k.lower().split()), str(v) if not isinstance(v, bool) else ("yes" if v else "no"))
                      for k, v in share["extra_options"].items()))


def generated_samba_config(*, exclude: int | None = None, runner: Runner | None = None) -> str:
    """The include file as the database describes it now (without share ``exclude``): the rows' values only
    (every share is rendered on every change), and the datasets of those offering Previous Versions."""
    shares = list(SmbShare.objects.exclude(pk=exclude).order_by("name").values(*_SPEC_FIELDS))
    wanted = {s["dataset_id"] for s in shares if s["previous_versions"]}
    datasets = Dataset.objects.select_related("pool").in_bulk(wanted) if wanted else {}
    return get_samba(runner).render([_spec(s, datasets) for s in shares])


def apply_samba(*, exclude: int | None = None, force: bool = False, runner: Runner | None = None) -> bool:
    """Render, validate, install and reload (see the module's docstring); True when anything changed. The
    main smb.conf gets Calypso's include line first if it lacks it."""
    backend = get_samba(runner)
    include = include_path()
    text = generated_samba_config(exclude=exclude, runner=runner)
    main = backend.main_with_include(include)
    if main is not None:
        install(Path(settings.CALYPSO_SAMBA_CONF), main)
    return install(include, text, validate=backend.validate, activate=backend.reload, force=force).changed


def _check_path(share: SmbShare) -> None:
    if "%" in share.path or share.path.rstrip().endswith("\\"):
        dataset_at(share.path)  # outside every dataset says so first
        raise ServiceError("invalid", _("Samba reads % and a final \\ in a path as its own syntax: choose "
                                        "another path."), field="path")
    share.dataset = shared_directory(share.path, _("share"))


class ShareService(ResourceService[SmbShare]):
    model = SmbShare
    fields = SHARE_FIELDS
    lock = SMB_LOCK

    def prepare(self, obj: SmbShare, changed: set[str]) -> None:
        if "path" in changed or obj.dataset_id is None:
            _check_path(obj)

    def apply(self, obj: SmbShare) -> None:
        apply_samba()

    def retire(self, obj: SmbShare) -> None:
        apply_samba(exclude=obj.pk)


SHARES = ShareService()


def smb_status(*, actor=None, runner: Runner | None = None) -> dict:
    """Connected sessions, share connections and open files, from ``smbstatus --json``."""
    return dataclasses.asdict(get_samba(runner).status())


def share_sessions(share: SmbShare, *, actor=None, runner: Runner | None = None) -> dict:
    """The connections to one share and the files open in it."""
    status = get_samba(runner).status()
    root = share.path.rstrip("/")
    return {"connections": [dataclasses.asdict(c) for c in status.connections if c.share.lower() == share.name.lower()],
            "open_files": [dataclasses.asdict(f) for f in status.open_files
                           if f.share_path == root or f.share_path.startswith(root + "/")]}


def generated_samba(*, actor=None) -> dict:
    """Calypso's Samba include file as the database describes it now, and where it goes."""
    return {"path": str(include_path()), "text": generated_samba_config()}


def sessions_on(share: SmbShare, runner: Runner | None = None) -> list:
    """Live connections to ``share`` (a ``BackendError`` when smbd cannot be asked)."""
    status = get_samba(runner).status()
    return [c for c in status.connections if c.share.lower() == share.name.lower()]


def smb_in_use(share: SmbShare, runner: Runner | None = None) -> bool:
    """Whether a client is connected to ``share`` now (when smbstatus cannot tell, it may be: True)."""
    try:
        return bool(sessions_on(share, runner))
    except BackendError:
        return True


def start_samba_apply(*, actor=None):
    """Queue re-rendering and reloading the whole Samba configuration (after a host change, say)."""
    return jobs.enqueue("shares.samba.apply", user=actor, lock_key="shares:samba")


@job_kind("shares.samba.apply", "Apply the Samba configuration")
def run_samba_apply(ctx: JobContext, target=None) -> dict:
    with host_lock(SMB_LOCK):
        ctx.log.info(_("Rendering %(n)d share(s) into %(p)s.") % {"n": SmbShare.objects.count(), "p": include_path()})
        try:
            changed = apply_samba(force=True, runner=ctx.runner)
        except (BackendError, ServiceError) as exc:
            ctx.log.error(str(exc.message))
            raise
    ctx.log.info(_("testparm accepted the configuration and smbd reloaded it.") if changed else
                 _("The configuration was already in place."))
    return {"changed": changed}


# ---------------------------------------------------------------------------------------------- accounts
def _check_password(password: str) -> str:
    if not isinstance(password, str) or not 8 <= len(password) <= 127 or any(c in password for c in "\n\r\x00"):
        raise ServiceError("invalid", _("Give a password of 8 to 127 characters on one line."), field="password")
    return password


class AccountService:
    """SMB accounts of Calypso users. The password only ever goes to ``smbpasswd`` on its standard input."""

    def create(self, *, user, password: str, actor=None, runner: Runner | None = None) -> SmbUser:
        if SmbUser.objects.filter(user=user).exists():
            raise ServiceError("exists", _("%(u)s already has an SMB account: set its password instead.")
                               % {"u": user.username}, field="user")
        try:
            validate_unix_name(user.username)
        except ValidationError as exc:
            raise ServiceError("invalid", " ".join(exc.messages), field="user") from exc
        _check_password(password)
        account = SmbUser(user=user, username=user.username)
        backend = get_samba(runner)
        uid = backend.unix_account_uid(account.username)
        if uid is not None and uid < FIRST_USER_UID:
            raise ServiceError("system_account", _("%(u)s is a system account of this host (uid %(id)d): give the "
                                                   "SMB account to a user of another name.") % {
                "u": account.username, "id": uid}, field="user")
        with transaction.atomic():
            created = False
            if uid is None:
                backend.create_unix_account(account.username)
                created = True
            try:
                backend.set_password(account.username, password)
            except BackendError:
                if created:  # undo what this call did
                    backend.delete_unix_account(account.username)
                raise
            account.unix_account_created = created
            account.password_changed_at = timezone.now()
            try:
                with transaction.atomic():
                    account.save()
            except IntegrityError as exc:  # the same user, given an account at the same moment
                raise ServiceError("exists", _("%(u)s already has an SMB account: set its password instead.")
                                   % {"u": user.username}, field="user") from exc
        return account

    def set_password(self, account: SmbUser, *, password: str, actor=None, runner: Runner | None = None) -> SmbUser:
        get_samba(runner).set_password(account.username, _check_password(password))
        account.password_changed_at = timezone.now()
        account.save(update_fields=["password_changed_at", "updated"])
        return account

    def enable(self, account: SmbUser, *, actor=None, runner: Runner | None = None) -> SmbUser:
        get_samba(runner).enable(account.username)
        account.enabled = True
        account.save(update_fields=["enabled", "updated"])
        return account

    def disable(self, account: SmbUser, *, actor=None, runner: Runner | None = None) -> SmbUser:
        get_samba(runner).disable(account.username)
        account.enabled = False
        account.save(update_fields=["enabled", "updated"])
        return account

    def delete(self, account: SmbUser, *, actor=None, runner: Runner | None = None) -> None:
        backend = get_samba(runner)
        backend.delete_account(account.username)
        if account.unix_account_created:
            backend.delete_unix_account(account.username)
        account.delete()


ACCOUNTS = AccountService()


# ---------------------------------------------------------------------------------------------- dataset users
@register_dataset_users
def smb_shares_using(datasets) -> list[str]:
    return [_("SMB share %(n)s (%(p)s)") % {"n": s.name, "p": s.path}
            for s in SmbShare.objects.filter(dataset__in=datasets).order_by("name")]
