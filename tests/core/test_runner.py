import os
import shlex
import time
from pathlib import Path

import pytest

from apps.core.runner import (
    CommandError,
    CommandNotFound,
    CommandResult,
    CommandTimeout,
    LocalRunner,
    LoggingRunner,
    ReplayRunner,
    RunningCommand,
    SshRunner,
    UnexpectedCommand,
)


def test_argv_with_shell_metacharacters_is_passed_literally(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    nasty = f"$(rm -f {victim}); `rm -f {victim}` | rm -f {victim} && echo pwned; *"
    result = LocalRunner().run(["printf", "%s", nasty])
    assert result.stdout == nasty
    assert victim.read_text() == "keep"


def test_shell_string_is_refused():
    with pytest.raises(TypeError):
        LocalRunner().run("ls -l")


def test_nonzero_exit_raises_with_stderr_and_exit_code():
    with pytest.raises(CommandError) as err:
        LocalRunner().run(["sh", "-c", "echo boom >&2; exit 3"])
    assert err.value.returncode == 3
    assert err.value.stderr.strip() == "boom"
    assert "boom" in str(err.value)


def test_check_false_returns_result():
    result = LocalRunner().run(["sh", "-c", "echo out; echo err >&2; exit 4"], check=False)
    assert (result.returncode, result.stdout, result.stderr) == (4, "out\n", "err\n")
    assert result.duration_s >= 0


def test_stdin_is_fed():
    assert LocalRunner().run(["cat"], stdin="hello\nworld").stdout == "hello\nworld"


def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as err:
        LocalRunner().run(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; wait"], timeout=0.5)
    assert time.monotonic() - started < 5
    assert "timed out" in str(err.value)
    child = int(pidfile.read_text())
    for _ in range(50):
        if not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]:
            break
        time.sleep(0.1)
    else:
        os.kill(child, 9)
        pytest.fail("background child survived the timeout")


def test_missing_program_is_command_not_found():
    with pytest.raises(CommandNotFound):
        LocalRunner().run(["calypso-no-such-tool"])


def test_environment_is_c_locale():
    assert LocalRunner().run(["sh", "-c", "echo $LC_ALL"]).stdout.strip() == "C"


@pytest.mark.parametrize("env", [None, {"CALYPSO_X": "1"}])
def test_every_way_to_run_gives_c_locale_and_utc(env, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")  # the portal's own zone does not leak into commands
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    probe = ["sh", "-c", 'echo "$LC_ALL $LANG $TZ"']
    runner = LocalRunner()
    assert runner.run(probe, env=env).stdout.split() == ["C", "C", "UTC"]
    lines = []
    runner.stream(probe, on_line=lines.append, env=env)
    assert lines == ["C C UTC"]
    assert runner.start(probe, env=env).wait(10).stdout.split() == ["C", "C", "UTC"]


class _FakeSshClient(LocalRunner):
    """Stands in for the local ``ssh`` client: remembers its argv, answers success."""

    def __init__(self) -> None:
        super().__init__()
        self.argvs: list[list[str]] = []

    def run(self, argv, **kwargs):
        self.argvs.append(list(argv))
        return CommandResult(tuple(argv), 0, "", "", 0.0)

    def stream(self, argv, *, on_line, **kwargs):
        return self.run(argv)

    def start(self, argv, **kwargs):
        result = self.run(argv)
        return RunningCommand(result.argv, None, result=result)


def _ssh() -> tuple[SshRunner, _FakeSshClient]:
    client = _FakeSshClient()
    return SshRunner("nas.example", known_hosts_file="/dev/null", local=client), client


def test_ssh_remote_commands_run_under_c_locale_and_utc():
    runner, client = _ssh()
    argv = ["zpool", "status", "-p", "my pool; rm -rf /"]
    assert runner.run(argv).argv == tuple(argv)  # callers see the command they asked for
    runner.stream(argv, on_line=lambda line: None)
    assert runner.start(argv).argv == tuple(argv)
    runner.run(["btrfs", "scrub", "status", "/mnt"], env={"TZ": "UTC", "CALYPSO_X": "a b"})
    remotes = [shlex.split(a[-1]) for a in client.argvs]
    assert all(a[-2] == "--" for a in client.argvs)
    expected = ["env", "LC_ALL=C", "LANG=C", "TZ=UTC", *argv]
    assert remotes[:3] == [expected] * 3
    assert remotes[3] == ["env", "LC_ALL=C", "LANG=C", "TZ=UTC", "CALYPSO_X=a b", "btrfs", "scrub", "status", "/mnt"]


@pytest.mark.parametrize(("argv", "env"), [(["-i", "sh"], None), (["A=B", "sh"], None), (["ls"], {"A=B": "x"}),
                                           (["ls"], {"-u": "x"}), (["ls"], {"": "x"})])
def test_ssh_refuses_what_env_would_read_as_its_own(argv, env):
    runner, client = _ssh()
    with pytest.raises(ValueError):
        runner.run(argv, env=env)
    assert client.argvs == []


def test_stream_delivers_lines_as_they_come():
    lines = []
    result = LocalRunner().stream(["sh", "-c", "echo a; echo b; echo c"], on_line=lines.append)
    assert lines == ["a", "b", "c"]
    assert result.returncode == 0


def test_stream_timeout():
    with pytest.raises(CommandTimeout):
        LocalRunner().stream(["sleep", "20"], on_line=lambda _: None, timeout=0.3)


def test_replay_runner_replays_and_records_calls(tmp_path):
    rec = tmp_path / "zpool_list.txt"
    rec.write_text("$ zpool list -H -o name\ntank\nbackup\n")
    runner = ReplayRunner().add_file(rec)
    assert runner.run(["zpool", "list", "-H", "-o", "name"]).stdout == "tank\nbackup\n"
    assert runner.calls == [("zpool", "list", "-H", "-o", "name")]
    with pytest.raises(UnexpectedCommand):
        runner.run(["zpool", "destroy", "tank"])


def test_replay_runner_error_recording(tmp_path):
    rec = tmp_path / "fail.txt"
    rec.write_text("$ zpool status nope\n# returncode: 1\ncannot open 'nope': no such pool\n")
    with pytest.raises(CommandError) as err:
        ReplayRunner().add_file(rec).run(["zpool", "status", "nope"])
    assert "no such pool" in err.value.stderr


def test_logging_runner_reports_command_and_failure():
    seen = []
    runner = LoggingRunner(ReplayRunner().add(["false"], stderr="nope", returncode=1).add(["true"]),
                           lambda level, msg: seen.append((level, msg)))
    runner.run(["true"])
    with pytest.raises(CommandError):
        runner.run(["false"])
    assert ("command", "$ true") in seen
    assert ("command", "$ false") in seen
    assert any(level == "error" and "nope" in msg for level, msg in seen)


def test_start_runs_in_background_and_collects_output():
    handle = LocalRunner().start(["sh", "-c", "sleep 0.3; echo done; echo warn >&2"])
    assert handle.poll() is None
    result = handle.wait(timeout=5)
    assert (result.returncode, result.stdout, result.stderr) == (0, "done\n", "warn\n")
    assert handle.poll() == result


def test_started_command_failure_and_timeout():
    with pytest.raises(CommandError) as err:
        LocalRunner().start(["sh", "-c", "echo bad >&2; exit 2"]).wait(timeout=5)
    assert err.value.returncode == 2 and err.value.stderr == "bad\n"
    handle = LocalRunner().start(["sleep", "30"])
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        handle.wait(timeout=0.3)
    assert time.monotonic() - started < 5
    with pytest.raises(CommandNotFound):
        LocalRunner().start(["calypso-no-such-tool"])


def test_replayed_start_reports_running_for_recorded_polls():
    runner = ReplayRunner().add(["btrfs", "scrub", "start", "-B", "/mnt"], stdout="scrub done\n", polls=2)
    handle = runner.start(["btrfs", "scrub", "start", "-B", "/mnt"])
    assert [handle.poll(), handle.poll()] == [None, None]
    assert handle.poll().stdout == "scrub done\n"


def test_logging_runner_logs_started_command_and_its_end():
    seen = []
    inner = ReplayRunner().add(["sleepy"], stderr="tired", returncode=1, polls=1)
    handle = LoggingRunner(inner, lambda level, msg: seen.append((level, msg))).start(["sleepy"])
    assert seen == [("command", "$ sleepy  (running in the background)")]
    assert handle.poll() is None
    assert handle.wait(check=False).returncode == 1
    assert seen[-1][0] == "error" and "tired" in seen[-1][1]
    handle.poll()
    assert len(seen) == 2  # the end is logged once
