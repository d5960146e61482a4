"""Choices of the shares app."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["CaseSensitivity", "NfsAccess", "NfsSecurity", "NfsSquash"]


class CaseSensitivity(models.TextChoices):
    AUTO = "auto", _("Auto (as the client asks)")
    YES = "yes", _("Case-sensitive")
    NO = "no", _("Case-insensitive")


class NfsAccess(models.TextChoices):
    READ_WRITE = "rw", _("Read-write")
    READ_ONLY = "ro", _("Read-only")


class NfsSquash(models.TextChoices):
    ROOT = "root_squash", _("root_squash (root becomes the anonymous user)")
    NONE = "no_root_squash", _("no_root_squash (root stays root)")
    ALL = "all_squash", _("all_squash (everyone becomes the anonymous user)")


class NfsSecurity(models.TextChoices):
    SYS = "sys", _("sys (trust the client's user ids)")
    KRB5 = "krb5", _("krb5 (Kerberos authentication)")
    KRB5I = "krb5i", _("krb5i (Kerberos, integrity)")
    KRB5P = "krb5p", _("krb5p (Kerberos, privacy)")
