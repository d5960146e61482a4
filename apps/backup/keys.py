"""The age key pair stream files are encrypted to: made with ``age-keygen`` on first use, the secret half
kept encrypted in the database (apps.core.crypto), handed to ``age -d`` in a private file only while a
restore runs, and shown to an operator only by an audited export."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import BackendError, ServiceError
from apps.core.runner import CommandError, Runner

from .models import BackupKey

__all__ = ["EXPORT_WARNING", "backup_key", "export_key", "identity_file", "made_once", "parse_age_keygen",
           "private_directory", "sweep_private_directories"]

M = TypeVar("M")

_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")
_SECRET = re.compile(r"^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$")
EXPORT_WARNING = _("Keep a copy of this key off the appliance (a password manager, a printed copy in a safe): "
                   "without it no stream file can be restored, by Calypso or anyone else. Whoever holds it can "
                   "read every backup.")


def parse_age_keygen(stdout: str) -> tuple[str, str]:
    """(recipient, secret) from ``age-keygen``'s output ("# public key: age1..." and the secret line)."""
    recipient = secret = ""
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("# public key:"):
            recipient = line.partition(":")[2].strip()
        elif line.startswith("AGE-SECRET-KEY-"):
            secret = line
    if not _RECIPIENT.match(recipient) or not _SECRET.match(secret):
        raise BackendError("age-keygen printed no key pair this version of Calypso can read")
    return recipient, secret


def made_once(model: type[M], make: Callable[[], dict]) -> M:
    """The ``default`` row of ``model``, created from ``make()`` (a key pair a tool generates) the first time;
    when two runs race, the one stored first wins and the other's pair is dropped."""
    found = model.objects.filter(name="default").first()
    if found is not None:
        return found
    try:
        fields = make()
    except CommandError as exc:
        raise BackendError.from_command(exc) from exc
    try:
        with transaction.atomic():
            return model.objects.create(name="default", **fields)
    except IntegrityError:
        return model.objects.get(name="default")


def backup_key(runner: Runner) -> BackupKey:
    """The default key, made now if there is none yet."""

    def make() -> dict:
        recipient, secret = parse_age_keygen(runner.run(["age-keygen"]).stdout)
        return {"recipient": recipient, "secret": secret}

    return made_once(BackupKey, make)


def export_key(key: BackupKey, *, actor=None) -> dict:
    """The key pair, for the operator to keep a copy off the appliance (audited by its operation)."""
    BackupKey.objects.filter(pk=key.pk).update(exported_at=timezone.now())
    return {"name": key.name, "recipient": key.recipient, "secret": key.secret, "warning": str(EXPORT_WARNING),
            "file": f"# public key: {key.recipient}\n{key.secret}\n"}


@contextlib.contextmanager
def private_directory() -> Iterator[str]:
    """A directory only this process's user can enter, removed afterwards, for secrets a tool reads from a file
    (age -d -i, ssh -i). It lives under the data directory's ``secrets/run`` (not the shared /tmp); what a killed
    worker left there is removed when a worker starts (``sweep_private_directories``)."""
    base = Path(settings.DATA_DIR, "secrets", "run")
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="calypso-", dir=base) as private:
        yield private


def sweep_private_directories() -> int:
    """Remove what killed workers left in ``secrets/run``; returns how many directories went."""
    base = Path(settings.DATA_DIR, "secrets", "run")
    gone = 0
    for path in base.glob("calypso-*") if base.is_dir() else ():
        shutil.rmtree(path, ignore_errors=True)
        gone += 1
    return gone


@contextlib.contextmanager
def identity_file(recipient: str) -> Iterator[Path]:
    """The secret of the key ``recipient`` names, in a file only this process's user can read, removed
    afterwards (``age -d -i`` reads identities from files)."""
    key = BackupKey.objects.filter(recipient=recipient).first()
    if key is None:
        raise ServiceError("key_missing", _(
            "The stream files are encrypted to %(r)s, a key this appliance does not hold. Import the exported "
            "key file (see the README's disaster recovery section), then restore again.") % {"r": recipient})
    with private_directory() as private:
        path = Path(private, "identity")
        path.touch(mode=0o600)
        path.write_text(f"{key.secret}\n")
        yield path
