"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with keys from the environment or a key file.

``CALYPSO_ENCRYPTION_KEYS`` lists keys newest first (rotation: add a new key in front; old values
still decrypt and are re-encrypted when saved). Without it, a key is generated once into the data
folder's ``secrets/encryption.key`` (0600); on an appliance it lives in ``/etc/calypso/secrets.env``.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

__all__ = ["EncryptedTextField", "SecretDecryptionError", "decrypt", "encrypt", "mask"]

PREFIX = "fernet:"


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@cache
def _fernet() -> MultiFernet:
    keys = list(settings.CALYPSO_ENCRYPTION_KEYS)
    if not keys:
        path = settings.CALYPSO_ENCRYPTION_KEY_FILE
        if not path.exists():
            path.write_bytes(Fernet.generate_key())
            path.chmod(0o600)
        keys = [path.read_text().strip()]
    return MultiFernet([Fernet(k.encode()) for k in keys])


def encrypt(plaintext: str) -> str:
    return PREFIX + _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token.startswith(PREFIX):
        raise SecretDecryptionError("value is not an encrypted secret")
    try:
        return _fernet().decrypt(token[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError("secret cannot be decrypted with the configured keys") from exc


def mask(value) -> str:
    return "********" if value else ""


class EncryptedTextField(models.TextField):
    """Stores ciphertext; the Python value is the plaintext. Never put it in a serializer's output."""

    def from_db_value(self, value, expression, connection):
        return value if value in (None, "") else decrypt(value)  # empty stays empty (NOT NULL columns)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return value if value in (None, "") else encrypt(value)
