"""NFS exports: every change re-renders Calypso's whole exports file from the database (the kernel server's
``/etc/exports.d/calypso.exports``, or NFS-Ganesha's EXPORT blocks included from ``ganesha.conf``), checks
the candidate, puts it in place and has the server apply it (``exportfs -ra``; SIGHUP to ganesha.nfsd). When
that fails the previous file is put back and the row is not saved either."""

from __future__ import annotations

import dataclasses

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from apps.core.configfiles import host_lock, install
from apps.core.errors import BackendError, ServiceError
from apps.core.resources import ResourceService
from apps.core.runner import Runner
from apps.jobs import services as jobs
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.storage.choices import DatasetKind
from apps.storage.models import Dataset
from apps.storage.services import dataset_at, register_dataset_users

from ..backends import get_nfs
from ..backends.base import NfsBackend, NfsClientSpec, NfsExportSpec
from ..models import NfsExport, nfs_client_errors, normalized_nfs_client, validate_nfs_path
from .common import shared_directory

__all__ = ["EXPORTS", "NFS_LOCK", "apply_nfs", "export_dataset", "generated_nfs", "generated_nfs_config", "nfs_status",
           "start_nfs_apply"]

NFS_LOCK = "nfs"
EXPORT_FIELDS = ("path", "description", "enabled", "clients")


def _spec(export: NfsExport) -> NfsExportSpec:
    clients = tuple(NfsClientSpec(host=c["host"], access=c["access"], sync=c["sync"], squash=c["squash"],
                                  anonuid=c["anonuid"], anongid=c["anongid"], sec=tuple(c["sec"]))
                    for c in (normalized_nfs_client(c) for c in export.clients))
    return NfsExportSpec(export_id=export.pk, path=export.path, clients=clients, enabled=export.enabled,
                         description=export.description)


def generated_nfs_config(*, exclude: int | None = None, runner: Runner | None = None) -> str:
    """The exports file as the database describes it now (without export ``exclude``)."""
    exports = NfsExport.objects.exclude(pk=exclude).order_by("path")
    return get_nfs(runner).render([_spec(e) for e in exports])


def apply_nfs(*, exclude: int | None = None, force: bool = False, runner: Runner | None = None,
              backend: NfsBackend | None = None) -> bool:
    """Render, check, install and apply (see the module's docstring); True when anything changed. For
    NFS-Ganesha the main ganesha.conf gets Calypso's ``%include`` line first if it lacks it (the exports file
    is in place before the line that reads it)."""
    backend = backend or get_nfs(runner)
    exports = NfsExport.objects.exclude(pk=exclude).order_by("path")
    text = backend.render([_spec(e) for e in exports])
    main = backend.main_with_include()
    if main is not None:
        path = backend.config_path()
        previous = path.read_text(encoding="utf-8") if path.exists() else None
        install(path, text, validate=backend.validate)
        try:
            install(main[0], main[1], activate=backend.activate)
        except BackendError:
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                install(path, previous)
            raise
        return True
    return install(backend.config_path(), text, validate=backend.validate, activate=backend.activate,
                   force=force).changed


def export_dataset(path: str) -> Dataset:
    """The managed dataset an export of ``path`` lives on, or a ``ServiceError`` naming ``path`` (outside every
    managed dataset, not a directory, or not writable in an exports line)."""
    try:
        validate_nfs_path(path)
    except ValidationError as exc:
        dataset_at(path, field="path")  # outside every dataset says so first
        raise ServiceError("invalid", " ".join(exc.messages), field="path") from exc
    # ZFS filesystems only: NFS-Ganesha's VFS backend cannot create an export on Btrfs here
    return shared_directory(path, _("export"), kinds=(DatasetKind.FILESYSTEM,))


def _check_path(export: NfsExport) -> None:
    export.dataset = export_dataset(export.path)


def _normalize_clients(export: NfsExport) -> None:
    """Each client with every option spelled out (the defaults filled in), or a 400 naming the first fault
    as ``clients.<n>.<option>``."""
    if not isinstance(export.clients, list):
        raise ServiceError("invalid", _("Give a list of clients."), field="clients")
    clients = []
    for index, client in enumerate(export.clients):
        errors = nfs_client_errors(client)
        if errors:
            key, message = next(iter(errors.items()))
            raise ServiceError("invalid", message, field=f"clients.{index}.{key}")
        clients.append(normalized_nfs_client(dict(client)))
    export.clients = clients


class ExportService(ResourceService[NfsExport]):
    model = NfsExport
    fields = EXPORT_FIELDS
    lock = NFS_LOCK

    def prepare(self, obj: NfsExport, changed: set[str]) -> None:
        if "path" in changed or obj.dataset_id is None:
            _check_path(obj)
        if "clients" in changed:
            _normalize_clients(obj)

    def apply(self, obj: NfsExport) -> None:
        apply_nfs()

    def retire(self, obj: NfsExport) -> None:
        apply_nfs(exclude=obj.pk)


EXPORTS = ExportService()


def generated_nfs(*, actor=None) -> dict:
    """Calypso's exports file as the database describes it now, and where it goes."""
    return {"path": str(get_nfs().config_path()), "text": generated_nfs_config()}


def nfs_status(*, actor=None, runner: Runner | None = None) -> dict:
    """What the NFS server exports now (``exportfs -v``; for NFS-Ganesha, its installed exports file)."""
    return dataclasses.asdict(get_nfs(runner).status())


def start_nfs_apply(*, actor=None):
    """Queue re-rendering and re-applying the whole exports file (after a host change, say)."""
    return jobs.enqueue("shares.nfs.apply", user=actor, lock_key="shares:nfs")


@job_kind("shares.nfs.apply", "Apply the NFS exports")
def run_nfs_apply(ctx: JobContext, target=None) -> dict:
    with host_lock(NFS_LOCK):
        backend = get_nfs(ctx.runner)
        ctx.log.info(_("Rendering %(n)d export(s) into %(p)s (%(b)s NFS server).") % {
            "n": NfsExport.objects.count(), "p": backend.config_path(), "b": backend.name})
        try:
            changed = apply_nfs(force=True, backend=backend)
        except (BackendError, ServiceError) as exc:
            ctx.log.error(str(exc.message))
            raise
        for warning in getattr(backend, "warnings", ()):
            ctx.log.warning(warning)
    ctx.log.info(_("The NFS server applied the exports.") if changed else _("The exports were already in place."))
    return {"changed": changed}


@register_dataset_users
def nfs_exports_using(datasets) -> list[str]:
    return [_("NFS export %(p)s") % {"p": e.path} for e in NfsExport.objects.filter(dataset__in=datasets)
            .order_by("path")]
