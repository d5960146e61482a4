"""iSCSI names and values, checked before anything reaches a model, a config file or a command line.

- IQN/EUI/NAA names follow RFC 3720 section 3.2.6.3 and RFC 3721: ``iqn.YYYY-MM.reversed.domain[:anything]``
  (lower case: Calypso refuses upper case rather than folding it, so what the operator typed is what the
  initiators see), ``eui.`` + 16 hex digits, ``naa.`` + 16 or 32 hex digits; 223 bytes at most.
- CHAP user names and secrets: iSCSI initiators (Microsoft, open-iscsi) want secrets of 12 to 16 characters;
  both are printable ASCII without spaces, quotes, ``#`` or ``;`` (they go into tgt and SCST config files).
- Initiator networks: an IPv4/IPv6 address or CIDR network.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core.validators import MAX_IQN_BYTES, ip_network_or_none, validate_iqn

__all__ = ["MAX_IQN_BYTES", "validate_chap_secret", "validate_chap_user", "validate_iqn", "validate_network",
           "validate_serial", "validate_target_name"]

_CHAP_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,63}")
# tgt's own configuration tool hands secrets to a shell (tgt-admin at boot): only characters no shell reads.
_CHAP_SECRET = re.compile(r"[A-Za-z0-9!+,./:=@^_~-]{12,16}")
_SERIAL = re.compile(r"[A-Za-z0-9]{1,16}")
_TARGET_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?")


def validate_target_name(value: str) -> str:
    """A target's short name: lower-case letters, digits, ``.`` and ``-`` (it becomes the IQN's suffix)."""
    if not isinstance(value, str) or not _TARGET_NAME.fullmatch(value):
        raise ValidationError(_("'%(value)s' is not a valid target name: lower-case letters, digits, . and -, "
                                "starting and ending with a letter or digit, 63 characters at most."),
                              code="invalid_target_name", params={"value": value})
    return value


def validate_chap_user(value: str) -> str:
    if not isinstance(value, str) or not _CHAP_USER.fullmatch(value):
        raise ValidationError(_("'%(value)s' is not a valid CHAP user name: letters, digits and _ . @ : + -, "
                                "64 characters at most, no spaces."), code="invalid_chap_user",
                              params={"value": value})
    return value


def validate_chap_secret(value: str) -> str:
    """12 to 16 characters (what iSCSI initiators accept) of letters, digits and ! + , . / : = @ ^ _ ~ - (none a
    shell reads). The value itself never appears in the message: it is a secret."""
    if not isinstance(value, str) or not _CHAP_SECRET.fullmatch(value):
        raise ValidationError(_("A CHAP secret is 12 to 16 characters: letters, digits and ! + , . / : = @ ^ _ ~ -."),
                              code="invalid_chap_secret")
    return value


def validate_network(value: str) -> str:
    """An IPv4/IPv6 address or CIDR network (``10.0.0.0/8``, ``192.0.2.7``, ``2001:db8::/32``)."""
    if ip_network_or_none(value) is None:
        raise ValidationError(_("'%(value)s' is not an IP address or network: give e.g. 192.0.2.7 or "
                                "10.0.0.0/8."), code="invalid_network", params={"value": value})
    return value


def validate_serial(value: str) -> str:
    """A LUN serial number: 1 to 16 letters or digits (the INQUIRY unit serial number page)."""
    if not isinstance(value, str) or not _SERIAL.fullmatch(value):
        raise ValidationError(_("'%(value)s' is not a valid serial number: 1 to 16 letters or digits."),
                              code="invalid_serial", params={"value": value})
    return value
