"""What the operator wants exported over iSCSI: portals, initiator groups, targets and their LUNs.

The rows are the desired state; services render all of them into one configuration and push it to the
iSCSI backend (tgt or SCST), which reports back what the host really has (targets, LUNs, sessions).

LUN numbers: what the operator gives is what initiators see. tgt keeps LUN 0 of every target for its own
controller device, so on tgt LUNs are 1 to 255 (LUN 0 is refused with that reason); SCST takes 0 to 255.
"""

from __future__ import annotations

import os
import posixpath

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedTextField
from apps.core.models import CalypsoModel
from apps.core.validators import validate_config_path, validate_each, validate_safe_name
from apps.storage.choices import Backend, DatasetKind
from apps.storage.models import Dataset

from . import validators as v
from .choices import BackingKind, BlockSize

__all__ = ["IQN_PREFIX", "InitiatorGroup", "Lun", "Portal", "Target", "default_iqn"]

IQN_PREFIX = "iqn.2026-12.org.calypso"


def default_iqn(name: str) -> str:
    return f"{IQN_PREFIX}:{name}"


class Portal(CalypsoModel):
    """An address and TCP port the target daemon listens on (0.0.0.0 or :: for every address)."""

    address = models.GenericIPAddressField(protocol="both", default="0.0.0.0", help_text=_(  # noqa: S104 - the operator chooses
        "IPv4 or IPv6 address to listen on; 0.0.0.0 listens on every IPv4 address."))
    port = models.PositiveIntegerField(default=3260, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("address", "port")
        constraints = [models.UniqueConstraint(fields=("address", "port"), name="iscsi_portal_unique")]

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in (self.address or "") else f"{self.address}:{self.port}"


class InitiatorGroup(CalypsoModel):
    """Initiators allowed to log in to the targets that name this group: those whose name is one of
    ``initiators`` and those connecting from one of ``networks`` (either is enough); a group with neither
    admits every initiator."""

    name = models.CharField(max_length=64, unique=True, validators=[validate_safe_name])
    initiators = models.JSONField(default=list, blank=True, help_text=_(
        "Initiator IQNs allowed, one per line (e.g. iqn.1993-08.org.debian:01:abcdef)."))
    networks = models.JSONField(default=list, blank=True, help_text=_(
        "Initiators connecting from these addresses or networks are allowed whatever their name, one per line "
        "(e.g. 10.0.0.0/8; tgt only). With no initiators and no networks the group admits everyone."))
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        validate_each(v.validate_iqn, self.initiators, "initiators")
        validate_each(v.validate_network, self.networks, "networks")


class Target(CalypsoModel):
    """An iSCSI target: its name (IQN), who may log in (initiator groups, CHAP) and its LUNs."""

    name = models.CharField(max_length=63, unique=True, validators=[v.validate_target_name], help_text=_(
        "Short name: lower-case letters, digits, . and - (the default IQN ends with it)."))
    iqn = models.CharField(max_length=223, unique=True, blank=True, validators=[v.validate_iqn], help_text=_(
        "iSCSI qualified name; empty: iqn.2026-12.org.calypso:<name>."))
    alias = models.CharField(max_length=64, blank=True, validators=[validate_safe_name], help_text=_(
        "Friendly name initiators may show (SCST only)."))
    portals = models.ManyToManyField(Portal, blank=True, related_name="targets", help_text=_(
        "SCST: the portals this target answers on (none: all). tgt serves every target on every portal."))
    initiator_groups = models.ManyToManyField(InitiatorGroup, blank=True, related_name="targets", help_text=_(
        "Who may log in. No group: nobody may log in (the target refuses every initiator)."))
    chap_user = models.CharField(max_length=64, blank=True, validators=[v.validate_chap_user], help_text=_(
        "CHAP: initiators must log in with this user and secret (empty: no CHAP)."))
    chap_secret = EncryptedTextField(blank=True, validators=[v.validate_chap_secret], help_text=_(
        "12 to 16 characters. Never shown again."))
    mutual_chap_user = models.CharField(max_length=64, blank=True, validators=[v.validate_chap_user], help_text=_(
        "Mutual CHAP: the target proves itself to initiators with this user and secret (needs CHAP)."))
    mutual_chap_secret = EncryptedTextField(blank=True, validators=[v.validate_chap_secret], help_text=_(
        "12 to 16 characters, different from the CHAP secret. Never shown again."))
    tid = models.PositiveIntegerField(null=True, blank=True, editable=False, help_text=_(
        "tgt's target id, assigned when the target is created on the host."))
    description = models.CharField(max_length=255, blank=True)

    secret_fields = ("chap_secret", "mutual_chap_secret")

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.iqn or self.name

    def save(self, *args, **kwargs) -> None:
        if not self.iqn and self.name:
            self.iqn = default_iqn(self.name)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if bool(self.chap_user) != bool(self.chap_secret):
            errors["chap_secret" if self.chap_user else "chap_user"] = _(
                "Give both the CHAP user and its secret, or neither.")
        if bool(self.mutual_chap_user) != bool(self.mutual_chap_secret):
            errors["mutual_chap_secret" if self.mutual_chap_user else "mutual_chap_user"] = _(
                "Give both the mutual CHAP user and its secret, or neither.")
        if self.mutual_chap_user and not self.chap_user:
            errors["mutual_chap_user"] = _("Mutual CHAP needs one-way CHAP: set the CHAP user and secret too.")
        if self.mutual_chap_secret and self.mutual_chap_secret == self.chap_secret:
            errors["mutual_chap_secret"] = _("The mutual CHAP secret must differ from the CHAP secret.")
        if self.mutual_chap_user and self.mutual_chap_user == self.chap_user:
            errors["mutual_chap_user"] = _("The mutual CHAP user must differ from the CHAP user.")
        if errors:
            raise ValidationError(errors)


class Lun(CalypsoModel):
    """A logical unit of a target, backed by a ZFS volume or by a file in a managed filesystem dataset."""

    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="luns")
    lun = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(255)], help_text=_(
        "LUN number initiators see: 0-255 (tgt: 1-255, its LUN 0 is the controller)."))
    kind = models.CharField(max_length=8, choices=BackingKind.choices, default=BackingKind.FILE)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="iscsi_luns", help_text=_(
        "ZFS volume: the volume itself. File: the filesystem dataset the file lives in."))
    path = models.CharField(max_length=4096, blank=True, help_text=_(
        "File: its absolute path inside the dataset's mountpoint, created sparse when missing. "
        "ZFS volume: leave empty (/dev/zvol/<volume> is used)."))
    size_bytes = models.BigIntegerField(null=True, blank=True, validators=[MinValueValidator(1)], help_text=_(
        "File: the size a missing file is created with (an existing file keeps its own)."))
    block_size = models.PositiveIntegerField(choices=BlockSize.choices, default=BlockSize.B512)
    read_only = models.BooleanField(default=False)
    serial = models.CharField(max_length=16, blank=True, validators=[v.validate_serial], help_text=_(
        "Unit serial number (1-16 letters or digits); empty: the daemon's default."))
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("target", "lun")
        verbose_name = "LUN"
        constraints = [models.UniqueConstraint(fields=("target", "lun"), name="iscsi_lun_unique_per_target")]

    def __str__(self) -> str:
        iqn = self.target.iqn if self.target_id else "?"
        return f"LUN {self.lun} of {iqn}"

    @property
    def device_path(self) -> str:
        """What the target daemon opens: the zvol device node, or the file."""
        return self.device_path_of(self.kind, self.dataset.name if self.dataset_id is not None else None, self.path)

    @staticmethod
    def device_path_of(kind: str, dataset_name: str | None, path: str) -> str:
        return f"/dev/zvol/{dataset_name}" if kind == BackingKind.ZVOL and dataset_name else path

    def clean(self) -> None:
        if self.dataset_id is None:
            return
        dataset = self.dataset
        if dataset.gone:
            raise ValidationError({"dataset": _("%(n)s is no longer on the host.") % {"n": dataset.name}})
        if self.kind == BackingKind.ZVOL:
            self._clean_zvol(dataset)
        else:
            self._clean_file(dataset)

    def _clean_zvol(self, dataset: Dataset) -> None:
        if dataset.kind != DatasetKind.VOLUME or dataset.pool.backend != Backend.ZFS:
            raise ValidationError({"dataset": _("%(n)s is not a ZFS volume.") % {"n": dataset.name}})
        if self.path:
            raise ValidationError({"path": _("A ZFS volume LUN has no path: leave it empty.")})

    def _clean_file(self, dataset: Dataset) -> None:
        if dataset.kind == DatasetKind.VOLUME or not dataset.mountpoint.startswith("/"):
            raise ValidationError({"dataset": _("%(n)s is not a mounted filesystem dataset.") % {"n": dataset.name}})
        path = self.path or ""
        try:  # it goes into tgt's and SCST's files, and through tgt-admin's shell: a safe path or none
            validate_config_path(path)
        except ValidationError as exc:
            raise ValidationError({"path": exc.messages}) from exc
        mount = posixpath.normpath(dataset.mountpoint)
        if path == mount or os.path.commonpath([path, mount]) != mount:
            raise ValidationError({"path": _("%(p)s is outside %(n)s (mounted at %(m)s): the file must be inside "
                                             "the dataset's mountpoint.") % {"p": path, "n": dataset.name, "m": mount}})
        inner = Dataset.objects.filter(pool_id=dataset.pool_id, name__startswith=f"{dataset.name}/", gone=False)
        for child in inner.exclude(mountpoint=""):
            if os.path.commonpath([path, posixpath.normpath(child.mountpoint)]) == posixpath.normpath(child.mountpoint):
                raise ValidationError({"path": _("%(p)s is inside dataset %(c)s: choose that dataset.") % {
                    "p": path, "c": child.name}})
