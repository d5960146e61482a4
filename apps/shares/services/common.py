"""What SMB shares and NFS exports check alike."""

from __future__ import annotations

import os

from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.storage.choices import DatasetKind
from apps.storage.models import Dataset
from apps.storage.services import dataset_at

__all__ = ["shared_directory"]


def shared_directory(path: str, verb: str,
                     kinds: tuple[str, ...] = (DatasetKind.FILESYSTEM, DatasetKind.SUBVOLUME)) -> Dataset:
    """The managed dataset holding the directory ``path`` that is to be shared (``verb``: "share", "export"), or
    a ``ServiceError`` naming ``path``: outside every dataset, on a dataset not of ``kinds``, or not a
    directory."""
    dataset = dataset_at(path, field="path")
    if dataset.kind not in kinds:
        raise ServiceError("invalid", _("%(d)s is a volume: %(v)s a directory of a filesystem.")
                           % {"d": dataset.name, "v": verb}, field="path")
    if not os.path.isdir(path):
        raise ServiceError("invalid", _("%(p)s is not a directory on this host: create it first.") % {"p": path},
                           field="path")
    return dataset
