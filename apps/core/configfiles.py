"""Configuration files Calypso owns on the host: a Samba include, an exports file, a Ganesha or tgt
configuration, ``scst.conf``.

Each is written whole from the database (never edited in place), and ``install`` follows one discipline:
write the candidate next to the file -> let the tool validate the candidate (``testparm``, ...) -> put it in
place -> activate it (a reload) -> on any failure put the previous file back (or remove a file that did not
exist), activate that again, and raise a ``BackendError`` that says what failed and that the previous
configuration is in place. ``host_lock(name)`` serialises everything that renders one file, across
processes, so two changes never render from two different views of the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from .errors import BackendError

__all__ = ["Installed", "host_lock", "install", "integration_path", "service_argv", "traversable"]

SYSTEMD_RUN, INIT_D = Path("/run/systemd/system"), Path("/etc/init.d")  # how host services are run here
HEADER = "# Written by Calypso from its database: changes made here are replaced on the next change.\n"


def integration_path(*parts: str) -> Path:
    """``/etc/calypso/integrations/<parts>`` (``CALYPSO_INTEGRATIONS_DIR``): where Calypso's own files for a
    host service live; the service's main configuration includes them."""
    return Path(settings.CALYPSO_INTEGRATIONS_DIR, *parts)


@contextlib.contextmanager
def host_lock(name: str) -> Iterator[None]:
    """An exclusive lock, across processes, on everything that renders the file(s) called ``name``."""
    directory = Path(settings.RUN_DIR) / "locks"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(directory / f"{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def service_argv(action: str, unit: str, *, script: str | None = None,
                 configured: Sequence[str] | None = None) -> list[str]:
    """The command that starts, stops or restarts a host service: ``configured`` when a setting gives one, else
    ``systemctl`` when systemd runs, else its init script (``script``, default ``/etc/init.d/<unit>`` without a
    systemd suffix); [] when there is neither."""
    if action not in ("start", "stop", "restart", "reload"):
        raise ValueError(f"not a service action: {action!r}")
    if configured is not None:
        return list(configured)
    if SYSTEMD_RUN.is_dir():
        return ["systemctl", action, unit]
    path = INIT_D / (script or unit.split(".", 1)[0])  # mhvtl.target -> /etc/init.d/mhvtl
    return [str(path), action] if path.exists() else []


def traversable(path: Path) -> None:
    """Let a daemon that runs under its own user reach ``path`` (a directory under Calypso's integrations
    directory): it and the directories above it, up to the integrations directory's parent, get search
    permission for everyone (0711: reachable by name, not listable). The files keep their own modes."""
    top = Path(settings.CALYPSO_INTEGRATIONS_DIR).parent
    path = Path(path)
    if not path.is_relative_to(Path(settings.CALYPSO_INTEGRATIONS_DIR)):
        raise ValueError(f"{path} is not under {settings.CALYPSO_INTEGRATIONS_DIR}")
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    for directory in (path, *path.parents):
        directory.chmod(directory.stat().st_mode & 0o7777 | 0o011)
        if directory == top:
            break


@dataclass(frozen=True)
class Installed:
    path: Path
    changed: bool  # False: the file already said exactly this (nothing was written or reloaded)


def _write(path: Path, text: str, mode: int, *, durable: bool = True, owner: tuple[int, int] | None = None) -> None:
    tmp = path.with_name(f".{path.name}.calypso-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if owner is not None:
            os.chown(tmp, *owner)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def install(path: Path, text: str, *, validate: Callable[[Path], None] | None = None,
            activate: Callable[[], None] | None = None, mode: int = 0o644, force: bool = False,
            owner: tuple[int, int] | None = None) -> Installed:
    """Put ``text`` in ``path`` the safe way (see the module's docstring). ``validate(candidate)`` checks the
    candidate file before it replaces anything; ``activate()`` makes the service read the new file. Both
    raise ``BackendError`` on refusal. ``force`` activates even when the text is unchanged. ``owner`` (uid, gid)
    for a file a daemon reads under its own user (Bacula's run as ``bacula``): see ``traversable``."""
    path = Path(path)
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    previous = path.read_text(encoding="utf-8") if path.exists() else None
    if previous == text and not force:
        return Installed(path, changed=False)
    if validate is not None:
        candidate = path.with_name(f".{path.name}.candidate")
        try:
            _write(candidate, text, mode, durable=False)  # read once by the checker, then removed
            validate(candidate)
        except BackendError as exc:
            raise BackendError(_("%(tool)s refused the new configuration, which was not installed: %(why)s. "
                                 "%(path)s is unchanged.") % {"tool": exc.argv[0] if exc.argv else _("Validation"),
                                                              "why": exc.message.strip().rstrip("."), "path": path},
                               argv=exc.argv, returncode=exc.returncode) from exc
        finally:
            candidate.unlink(missing_ok=True)
    _write(path, text, mode, owner=owner)
    if activate is None:
        return Installed(path, changed=True)
    try:
        activate()
    except BackendError as exc:
        _restore(path, previous, activate, mode, owner)
        raise BackendError(_("Activating the new configuration failed: %(why)s. The previous configuration was put "
                             "back in %(path)s.") % {"why": exc.message.strip().rstrip("."), "path": path},
                           argv=exc.argv, returncode=exc.returncode) from exc
    return Installed(path, changed=True)


def _restore(path: Path, previous: str | None, activate: Callable[[], None], mode: int,
             owner: tuple[int, int] | None = None) -> None:
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        _write(path, previous, mode, owner=owner)
    with contextlib.suppress(BackendError):  # the service may be down altogether: the file is what we can mend
        activate()
