"""What else on the appliance uses a dataset (an SMB share, an NFS export, an iSCSI LUN...).

Apps above storage register a provider; destroying or renaming a dataset (or destroying its pool) that
anything uses is refused with a message naming each user, so no share is left pointing at nothing."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError

from ..models import Dataset, Pool

__all__ = ["DatasetUsers", "dataset_at", "dataset_users", "refuse_if_in_use", "register_dataset_users", "subtree",
           "unregister_dataset_users"]

# provider(datasets) -> descriptions of what uses any of them, e.g. ["SMB share 'projects'"]
DatasetUsers = Callable[[QuerySet], list[str]]
_PROVIDERS: list[DatasetUsers] = []


def register_dataset_users(provider: DatasetUsers) -> DatasetUsers:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def unregister_dataset_users(provider: DatasetUsers) -> None:
    if provider in _PROVIDERS:
        _PROVIDERS.remove(provider)


def subtree(dataset: Dataset) -> QuerySet:
    """The dataset and every dataset under it."""
    return Dataset.objects.filter(Q(pk=dataset.pk) | Q(pool_id=dataset.pool_id, name__startswith=f"{dataset.name}/"))


def dataset_users(datasets: QuerySet) -> list[str]:
    """What uses any of ``datasets``, as sentences' subjects."""
    return [use for provider in _PROVIDERS for use in provider(datasets)]


def refuse_if_in_use(target: Dataset | Pool, *, verb: str) -> None:
    """A ``ServiceError`` (409) naming everything that uses ``target`` (a dataset and its children, or every
    dataset of a pool)."""
    datasets = Dataset.objects.filter(pool=target) if isinstance(target, Pool) else subtree(target)
    users = dataset_users(datasets)
    if users:
        shown = "; ".join(users[:10]) + ("; ..." if len(users) > 10 else "")
        raise ServiceError("in_use", _("%(name)s cannot be %(verb)s: it is in use by %(users)s. Remove or move "
                                       "them first.") % {"name": target.name, "verb": verb, "users": shown},
                           extra={"used_by": users})


def dataset_at(path: str, *, field: str = "path") -> Dataset:
    """The managed, mounted filesystem dataset that holds ``path`` (the deepest one), for a share, an export
    or a file-backed LUN. A path that is not absolute and normalised (no "..", "." or "//"), or that no
    managed dataset holds, is refused naming ``field`` (400) before anything reaches the host."""
    if (not isinstance(path, str) or not path.startswith("/") or "\x00" in path or "\n" in path
            or posixpath.normpath(path) != path or path.startswith("//")):
        raise ServiceError("invalid", _("Give an absolute path without . or .. parts, e.g. /tank/projects."),
                           field=field)
    if os.path.lexists(path) and os.path.realpath(path) != path:  # a symbolic link could lead anywhere
        raise ServiceError("invalid", _("%(p)s goes through a symbolic link: give the real path.") % {"p": path},
                           field=field)
    best = None
    for dataset in Dataset.objects.filter(gone=False, pool__gone=False).exclude(mountpoint="").select_related("pool"):
        mount = dataset.mountpoint.rstrip("/") or "/"
        if not mount.startswith("/") or dataset.prop("mounted", "yes") == "no":
            continue  # "none", "legacy" or not mounted: nothing of it is reachable by path
        if (path == mount or path.startswith(mount + "/")) and (best is None or len(mount) > len(best.mountpoint)):
            best = dataset
    if best is None:
        raise ServiceError("outside_datasets", _("%(p)s is not inside a mounted dataset Calypso manages: choose a "
                                                 "path under a pool's dataset.") % {"p": path}, field=field)
    return best
