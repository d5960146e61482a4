"""What the operator wants shared over the network: SMB shares (Samba) and the SMB accounts of Calypso
users, and NFS exports. Each share lives on a path inside a dataset Calypso manages; the services render
the host's configuration from these rows."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import CalypsoModel
from apps.core.validators import ip_network_or_none, is_unix_user
from apps.storage.models import Dataset

from .backends.nfs import NFS_PATH_FORBIDDEN
from .choices import CaseSensitivity

__all__ = ["NfsExport", "SmbShare", "SmbUser", "nfs_client_errors", "normalized_nfs_client", "validate_host_spec",
           "validate_nfs_clients", "validate_nfs_host", "validate_nfs_path", "validate_principal", "validate_share_name",
           "validate_smb_options"]

_SHARE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.$-]{0,79}$")
RESERVED_SHARE_NAMES = {"global", "homes", "printers", "print$", "ipc$"}
_PRINCIPAL = re.compile(r"^[@+&]?[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_HOST_NAME = re.compile(r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
_IP_PREFIX = re.compile(r"^(\d{1,3}\.){1,3}$")  # Samba's "192.168.1." form
# The further smb.conf parameters a share may set: Samba reads a parameter name without its spaces, _ and case
# (readonly, Read_Only), and has synonyms (directory = path), so names are compared in that form against
# what is allowed, never against what is not.
SMB_OPTIONS = frozenset(name.replace(" ", "") for name in (
    "oplocks", "level2 oplocks", "kernel oplocks", "strict locking", "posix locking", "locking", "strict sync",
    "sync always", "create mask", "directory mask", "force create mode", "force directory mode",
    "inherit permissions", "inherit acls", "inherit owner", "map acl inherit", "nt acl support", "acl map full control",
    "store dos attributes", "ea support", "map archive", "map hidden", "map readonly", "map system",
    "veto files", "hide files", "hide dot files", "hide unreadable", "hide special files", "delete veto files",
    "dos filemode", "dos filetimes", "fake oplocks", "mangled names", "default case", "preserve case",
    "short preserve case", "max connections", "smb encrypt", "server smb encrypt", "csc policy",
    "access based share enum", "strict allocate", "allocation roundup size", "aio read size", "aio write size",
    "fruit:metadata", "fruit:resource", "fruit:encoding", "fruit:time machine", "fruit:posix_rename",
))
_OPTION_NAME = re.compile(r"^[a-z][a-z0-9 _:]{0,63}$")
# Text Samba would read as its own syntax in a value: a new line, or a final \ (which joins the next line).
_LINE_BREAKING = re.compile(r"[\n\r\x00]|\\\s*$")


def smb_option_key(name: str) -> str:
    """A parameter name as Samba compares it: lower case, without spaces or _ (fruit:time machine -> ...)."""
    return str(name).lower().replace(" ", "").replace("_", "")


def one_smb_line(value) -> bool:
    """Whether ``value`` stays one smb.conf line (no line break, no final backslash)."""
    return not _LINE_BREAKING.search(str(value))


def validate_share_name(value: str) -> None:
    if not _SHARE_NAME.fullmatch(value or "") or value.lower() in RESERVED_SHARE_NAMES:
        raise ValidationError(_("Give 1-80 letters, digits, _ . $ - (starting with a letter or digit; not global, "
                                "homes, printers, print$ or ipc$)."), code="invalid_share_name")


def validate_principal(value) -> None:
    """A user name, or a group as @group (+group, &group: Unix or NIS only)."""
    if not isinstance(value, str) or not _PRINCIPAL.fullmatch(value):
        raise ValidationError(_("%(v)r is not a user or @group name (letters, digits, _ . -).") % {"v": value},
                              code="invalid_principal")


def validate_host_spec(value) -> None:
    """A client: an IP address, a network (CIDR), a host name, a wildcard domain (*.example.com) or Samba's
    address prefix (192.168.1.). Never spaces, commas or ; (they would split or end the line)."""
    if not isinstance(value, str) or not value or len(value) > 255:
        raise ValidationError(_("Give a host, address or network."), code="invalid_host")
    if ip_network_or_none(value) is not None or _IP_PREFIX.fullmatch(value) or _HOST_NAME.fullmatch(value):
        return
    raise ValidationError(_("%(v)r is not a host name, address, network (10.0.0.0/24) or wildcard (*.example.com).")
                          % {"v": value}, code="invalid_host")


def _each(validator, value) -> None:
    if not isinstance(value, list):
        raise ValidationError(_("Give a list."), code="invalid")
    errors = []
    for item in value:
        try:
            validator(item)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)


def validate_principals(value) -> None:
    _each(validate_principal, value)


def validate_host_specs(value) -> None:
    _each(validate_host_spec, value)


def validate_smb_options(value) -> None:
    """Further smb.conf parameters of one share ({name: value}): only those Samba reads as share settings that
    neither widen access nor run anything (``SMB_OPTIONS``), one line each."""
    if not isinstance(value, dict):
        raise ValidationError(_("Give parameter = value pairs."), code="invalid")
    allowed = {smb_option_key(n) for n in SMB_OPTIONS}
    errors = []
    for name, setting in value.items():
        if not _OPTION_NAME.fullmatch(" ".join(str(name).lower().split())):
            errors.append(_("%(n)r is not an smb.conf parameter name.") % {"n": name})
        elif smb_option_key(name) not in allowed:
            errors.append(_("%(n)s cannot be set here: the share's own fields set access, and parameters that "
                            "run commands, read other files or widen access are not offered.") % {"n": name})
        elif not isinstance(setting, str | int | bool) or not one_smb_line(setting) or len(str(setting)) > 1024:
            errors.append(_("The value of %(n)s must be one line of text, not ending with \\.") % {"n": name})
    if errors:
        raise ValidationError(errors, code="invalid_option")


class SmbShare(CalypsoModel):
    """An SMB share of a directory inside a managed dataset."""

    name = models.CharField(max_length=80, unique=True, validators=[validate_share_name],
                            help_text=_("What clients see, e.g. projects."))
    path = models.CharField(max_length=4096, help_text=_("A directory inside a dataset, e.g. /tank/projects."))
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="smb_shares", editable=False,
                                help_text=_("The dataset that holds the path (found from the path)."))
    comment = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True, help_text=_("Off: kept here, not offered to clients."))
    read_only = models.BooleanField(default=False)
    browseable = models.BooleanField(default=True, help_text=_("Listed when a client browses the server."))
    guest_ok = models.BooleanField(default=False, help_text=_("Clients may connect without a password."))
    valid_users = models.JSONField(default=list, blank=True, validators=[validate_principals], help_text=_(
        "Users and @groups allowed to connect (empty: every account)."))
    admin_users = models.JSONField(default=list, blank=True, validators=[validate_principals], help_text=_(
        "Users and @groups who act as root on this share."))
    hosts_allow = models.JSONField(default=list, blank=True, validators=[validate_host_specs], help_text=_(
        "Clients allowed (addresses, networks, host names; empty: all)."))
    hosts_deny = models.JSONField(default=list, blank=True, validators=[validate_host_specs], help_text=_(
        "Clients refused (ALL refuses everyone not allowed)."))
    case_sensitive = models.CharField(max_length=8, choices=CaseSensitivity.choices, default=CaseSensitivity.AUTO)
    previous_versions = models.BooleanField(default=False, help_text=_(
        "Offer the dataset's snapshots as Windows \"Previous Versions\" (vfs shadow_copy2)."))
    recycle_bin = models.BooleanField(default=False, help_text=_(
        "Deleted files go to .recycle/<user> in the share (vfs recycle)."))
    audit_log = models.BooleanField(default=False, help_text=_(
        "Log connects, opens, writes, renames and deletes to syslog (vfs full_audit)."))
    extra_options = models.JSONField(default=dict, blank=True, validators=[validate_smb_options], help_text=_(
        "Further smb.conf parameters, name = value, checked by testparm."))

    class Meta:
        ordering = ("name",)
        verbose_name = "SMB share"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        twin = SmbShare.objects.filter(name__iexact=self.name).exclude(pk=self.pk).first()
        if twin is not None:  # Samba's share names are case-insensitive
            raise ValidationError({"name": _("Share %(n)s already exists.") % {"n": twin.name}})
        if not one_smb_line(self.comment):
            raise ValidationError({"comment": _("One line of text, not ending with \\.")})


def validate_unix_name(value: str) -> None:
    if not is_unix_user(value):
        raise ValidationError(_("An SMB account needs a user name of lower-case letters, digits, _ and - (at most "
                                "32, starting with a letter)."), code="invalid_unix_name")


class SmbUser(CalypsoModel):
    """A Calypso user's SMB account: a Samba password (in Samba's own database, never here) for the Unix
    account of the same name (created when missing)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="smb_account")
    username = models.CharField(max_length=32, unique=True, editable=False, validators=[validate_unix_name])
    enabled = models.BooleanField(default=True, editable=False)
    unix_account_created = models.BooleanField(default=False, editable=False, help_text=_(
        "Calypso created the Unix account (and removes it with the SMB account)."))
    password_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("username",)
        verbose_name = "SMB account"
        permissions = [("set_password_smbuser", "Can set an SMB account's password")]

    def __str__(self) -> str:
        return self.username


# ---------------------------------------------------------------------------------------------- NFS
NFS_CLIENT_DEFAULTS = {"access": "ro", "sync": True, "squash": "root_squash", "anonuid": None, "anongid": None,
                       "sec": ["sys"]}
NFS_CLIENT_KEYS = ("host", *NFS_CLIENT_DEFAULTS)
NFS_ACCESS = ("rw", "ro")
NFS_SQUASH = ("root_squash", "no_root_squash", "all_squash")
NFS_SECURITY = ("sys", "krb5", "krb5i", "krb5p")
NFS_MAX_ID = 2**32 - 2  # uid_t; (uid_t)-1 means "no id"
NFS_MAX_CLIENTS = 64
# Host names and wildcards (* and ? in a label, as exports(5) and NFS-Ganesha take them), netgroups.
_NFS_LABEL = r"[A-Za-z0-9*?]([A-Za-z0-9*?-]*[A-Za-z0-9*?])?"
_NFS_HOST = re.compile(rf"^{_NFS_LABEL}(\.{_NFS_LABEL})*$")
_NETGROUP = re.compile(r"^@[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
# What an exports(5) line or a Ganesha block cannot carry in a path (or would read as its own syntax).


def validate_nfs_host(value) -> None:
    """An NFS client: an IP address, a network (CIDR), a host name, a wildcard (*.example.com) or @netgroup.
    Never a space, comma, ; or parenthesis (they would end the client or split the line)."""
    if not isinstance(value, str) or not value or len(value) > 255:
        raise ValidationError(_("Give a host, address, network or @netgroup."), code="invalid_host")
    if ip_network_or_none(value) is not None or _NETGROUP.fullmatch(value) or (
            _NFS_HOST.fullmatch(value) and not value.replace(".", "").isdigit()):
        return
    raise ValidationError(_("%(v)r is not an address, network (10.0.0.0/24), host name, wildcard (*.example.com) or "
                            "@netgroup.") % {"v": value}, code="invalid_host")


def _nfs_id(value) -> str | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= NFS_MAX_ID:
        return _("Give a whole number from 0 to %(max)d (or nothing).") % {"max": NFS_MAX_ID}
    return None


def nfs_client_errors(client) -> dict[str, str]:
    """What is wrong with one client, by key (an empty dict when nothing)."""
    if not isinstance(client, dict):
        return {"non_field_errors": _("Give a client as an object with host, access, sync, squash, anonuid, "
                                      "anongid and sec.")}
    errors = {str(key): _("Unknown option.") for key in client if key not in NFS_CLIENT_KEYS}
    if "host" not in client:
        errors["host"] = _("This field is required.")
    else:
        try:
            validate_nfs_host(client["host"])
        except ValidationError as exc:
            errors["host"] = " ".join(exc.messages)
    if client.get("access", "ro") not in NFS_ACCESS:
        errors["access"] = _("Give rw or ro.")
    if type(client.get("sync", True)) is not bool:
        errors["sync"] = _("Give true (sync) or false (async).")
    if client.get("squash", "root_squash") not in NFS_SQUASH:
        errors["squash"] = _("Give root_squash, no_root_squash or all_squash.")
    for key in ("anonuid", "anongid"):
        problem = _nfs_id(client.get(key))
        if problem:
            errors[key] = problem
    sec = client.get("sec", ["sys"])
    if (not isinstance(sec, list) or not sec or any(not isinstance(s, str) or s not in NFS_SECURITY for s in sec)
            or len(set(sec)) != len(sec)):
        errors["sec"] = _("Give one or more of sys, krb5, krb5i, krb5p (each once).")
    return errors


def normalized_nfs_client(client: dict) -> dict:
    """A valid client with every option present (defaults filled in), keys in one order."""
    return {"host": client["host"], **{key: client.get(key, default) if key != "sec" else list(client.get(key, default))
                                       for key, default in NFS_CLIENT_DEFAULTS.items()}}


def validate_nfs_clients(value) -> None:
    if not isinstance(value, list):
        raise ValidationError(_("Give a list of clients."), code="invalid")
    if len(value) > NFS_MAX_CLIENTS:
        raise ValidationError(_("Give at most %(n)d clients.") % {"n": NFS_MAX_CLIENTS}, code="invalid")
    messages, hosts = [], set()
    for index, client in enumerate(value):
        for key, message in nfs_client_errors(client).items():
            messages.append(f"clients.{index}.{key}: {message}")
        host = client.get("host") if isinstance(client, dict) else None
        if isinstance(host, str) and host.lower() in hosts:
            messages.append(f"clients.{index}.host: " + _("%(h)s is listed twice.") % {"h": host})
        hosts.add(host.lower() if isinstance(host, str) else host)
    if messages:
        raise ValidationError(messages, code="invalid_client")


def validate_nfs_path(value: str) -> None:
    if not isinstance(value, str) or NFS_PATH_FORBIDDEN.search(value) or value != value.strip():
        raise ValidationError(_('An exported path cannot hold ", \\, #, control characters, or start or end with a '
                                "space."), code="invalid_path")


class NfsExport(CalypsoModel):
    """An NFS export of a directory inside a managed dataset, to the clients listed."""

    path = models.CharField(max_length=1024, unique=True, validators=[validate_nfs_path],
                            help_text=_("A directory inside a dataset, e.g. /tank/projects (also the NFSv4 path)."))
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="nfs_exports", editable=False,
                                help_text=_("The dataset that holds the path (found from the path)."))
    description = models.CharField(max_length=255, blank=True)
    enabled = models.BooleanField(default=True, help_text=_("Off: kept here, not exported."))
    clients = models.JSONField(default=list, validators=[validate_nfs_clients], help_text=_(
        "Who may mount it: each a host (address, network, host name, *.domain or @netgroup) with access (rw/ro), "
        "sync, squash, anonuid/anongid and sec flavours."))

    class Meta:
        ordering = ("path",)
        verbose_name = "NFS export"

    def __str__(self) -> str:
        return self.path

    def clean(self) -> None:
        if any(c in self.description for c in "\n\r\x00"):
            raise ValidationError({"description": _("One line of text.")})
