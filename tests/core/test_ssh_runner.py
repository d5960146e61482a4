"""SshRunner against a real private sshd on a loopback port, with a pinned host key."""

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from apps.core.runner import CommandError, SshRunner
from apps.core.testing import require_root, require_tools

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    require_root()
    require_tools("ssh", "ssh-keygen", "sshd")
    d = tmp_path_factory.mktemp("sshd")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    os.chmod(d / "authorized_keys", 0o600)
    port = _free_port()
    (d / "sshd_config").write_text(
        f"HostKey {d / 'host_key'}\nAuthorizedKeysFile {d / 'authorized_keys'}\nStrictModes no\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n"
        f"PidFile {d / 'sshd.pid'}\n")
    os.makedirs("/run/sshd", exist_ok=True)
    sshd_bin = shutil.which("sshd") or "/usr/sbin/sshd"
    proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(d / "sshd_config"), "-p", str(port),
                             "-o", "ListenAddress=127.0.0.1"], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=open(d / "sshd.log", "w"))
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    host_key = (d / "host_key.pub").read_text().split()
    try:
        yield {"port": port, "dir": d, "host_key": f"{host_key[0]} {host_key[1]}"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def _runner(sshd, host_key: str) -> SshRunner:
    kh = SshRunner.write_known_hosts(sshd["dir"] / "known_hosts", "127.0.0.1", sshd["port"], host_key)
    return SshRunner("127.0.0.1", port=sshd["port"], known_hosts_file=kh, identity_file=sshd["dir"] / "client_key")


def test_runs_remote_command_with_literal_arguments(sshd):
    runner = _runner(sshd, sshd["host_key"])
    nasty = "a b; echo injected $(id) `id` | cat"
    result = runner.run(["printf", "%s", nasty])
    assert result.stdout == nasty
    assert result.argv == ("printf", "%s", nasty)


def test_remote_commands_get_c_locale_and_utc(sshd):
    runner = _runner(sshd, sshd["host_key"])
    probe = ["sh", "-c", 'echo "$LC_ALL $LANG $TZ"']
    assert runner.run(probe).stdout.split() == ["C", "C", "UTC"]
    lines = []
    runner.stream(probe, on_line=lines.append)
    assert lines == ["C C UTC"]


def test_remote_failure_raises_with_stderr(sshd):
    runner = _runner(sshd, sshd["host_key"])
    with pytest.raises(CommandError) as err:
        runner.run(["sh", "-c", "echo remote-boom >&2; exit 7"])
    assert err.value.returncode == 7
    assert "remote-boom" in err.value.stderr


def test_stdin_and_stream_over_ssh(sshd):
    runner = _runner(sshd, sshd["host_key"])
    assert runner.run(["cat"], stdin="piped").stdout == "piped"
    lines = []
    runner.stream(["sh", "-c", "echo one; echo two"], on_line=lines.append)
    assert lines == ["one", "two"]


def test_wrong_pinned_host_key_is_refused(sshd):
    other = sshd["dir"] / "other_key"
    if not other.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    fake = " ".join((sshd["dir"] / "other_key.pub").read_text().split()[:2])
    runner = _runner(sshd, fake)
    with pytest.raises(CommandError) as err:
        runner.run(["true"])
    assert "ssh to 127.0.0.1" in str(err.value)
    assert "host key" in err.value.stderr.lower() or "verification failed" in err.value.stderr.lower()
