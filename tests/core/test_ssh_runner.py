"""SshRunner against a real private sshd on a loopback port, with a pinned host key."""

import subprocess

import pytest

from apps.core.runner import CommandError, SshRunner

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sshd(ssh_server, tmp_path_factory):
    """The shared sshd (tests/hosts.py) with a client key of this module's authorized."""
    d = tmp_path_factory.mktemp("ssh-client")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True)
    ssh_server.authorize((d / "client_key.pub").read_text())
    return {"port": ssh_server.port, "dir": d, "host_key": ssh_server.host_key}


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
