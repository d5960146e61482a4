"""Targets on other hosts, reached over SSH with Calypso's own key pair (made on first use, the private half
stored encrypted) and the host key pinned on first contact (or beforehand by the operator), enforced from
then on: a changed key fails the connection, it is never trusted silently."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.runner import CommandError, Runner, SshRunner, get_runner

from .keys import made_once, private_directory
from .models import SshIdentity, Target

__all__ = ["check_target", "connect", "create_identity", "ssh_identity", "ssh_refusal"]

KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "ssh-rsa")


def ssh_identity(runner: Runner) -> SshIdentity:
    """Calypso's SSH key pair, made with ssh-keygen (ed25519) the first time it is needed."""

    def make() -> dict:
        with private_directory() as private:
            key = Path(private, "id_ed25519")
            runner.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "calypso-backup", "-f", str(key)])
            return {"public_key": Path(f"{key}.pub").read_text().strip(), "private_key": key.read_text()}

    return made_once(SshIdentity, make)


def _scan(runner: Runner, target: Target) -> str:
    """The host key ``target`` presents now (first contact), as "type base64"."""
    try:
        out = runner.run(["ssh-keyscan", "-T", "10", "-p", str(target.port), target.host]).stdout
    except CommandError as exc:
        out = exc.stdout
    keys = {parts[1]: parts[2] for line in out.splitlines()
            if len(parts := line.split()) >= 3 and not line.startswith("#")}
    for kind in KEY_TYPES:
        if kind in keys:
            return f"{kind} {keys[kind]}"
    raise ServiceError("unreachable", _("%(h)s:%(p)s presents no SSH host key (is sshd running and reachable from "
                                        "here?).") % {"h": target.host, "p": target.port})


def ssh_refusal(target: Target, exc: CommandError) -> ServiceError:
    """What ssh's own failure (exit 255) means for the operator, with the fix."""
    text = exc.stderr
    where = f"{target.username}@{target.host}:{target.port}"
    if "Host key verification failed" in text or "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        return ServiceError("host_key_changed", _(
            "%(w)s presents a host key other than the one pinned on %(t)s: the connection was refused. If the host "
            "was reinstalled, check its new key and clear the target's host key (it is pinned again on the next "
            "contact); otherwise someone may be in between.") % {"w": where, "t": target.name})
    if "Permission denied" in text:
        return ServiceError("ssh_denied", _(
            "%(w)s refused Calypso's key. Add the public key shown under Backup > SSH identities to "
            "~%(u)s/.ssh/authorized_keys on %(h)s.") % {"w": where, "u": target.username, "h": target.host})
    return ServiceError("unreachable", _("Cannot reach %(w)s: %(e)s. Check the host, the port and the network.") % {
        "w": where, "e": text.strip() or exc.returncode})


@contextlib.contextmanager
def connect(target: Target, runner: Runner, log: Callable[[str], None] | None = None,
            pin: bool = True) -> Iterator[SshRunner]:
    """An SshRunner for ``target``, checked with a first command; its key and known_hosts files live in a
    private directory only while it is used. The host key is pinned now if the target has none yet (``pin``;
    a read-only look never pins)."""
    if not target.host_key and not pin:
        raise ServiceError("not_connected", _("%(t)s has never been reached: use Check connection (or run the "
                                              "task) first.") % {"t": target.name})
    identity = ssh_identity(runner)
    if not target.host_key:
        target.host_key = _scan(runner, target)
        Target.objects.filter(pk=target.pk, host_key="").update(host_key=target.host_key)
        if log:
            log(f"Pinned the host key of {target.host}:{target.port} on first contact: {target.host_key[:60]}...")
    with private_directory() as private:
        key = Path(private, "identity")
        key.touch(mode=0o600)
        key.write_text(identity.private_key)
        known = SshRunner.write_known_hosts(Path(private, "known_hosts"), target.host, target.port, target.host_key)
        ssh = SshRunner(target.host, user=target.username, port=target.port, known_hosts_file=known,
                        identity_file=key)
        try:
            ssh.run(["true"], timeout=30)
        except CommandError as exc:
            raise ssh_refusal(target, exc) from exc
        yield ssh


def create_identity(*, actor=None) -> SshIdentity:
    """Calypso's SSH key pair, made now if it does not exist yet."""
    return ssh_identity(get_runner())


def check_target(target: Target, *, actor=None) -> dict:
    """Connect to ``target`` (pinning its host key on first contact) and say what answered."""
    with connect(target, get_runner()) as ssh:
        uname = ssh.run(["uname", "-srn"]).stdout.strip()
    return {"target": target.name, "host_key": target.host_key, "answered": uname}
