"""Host command runner: argv lists only, timeouts, captured output, typed errors.

Every host tool Calypso drives goes through a ``Runner``. Backends take a runner, so unit tests
pass a ``ReplayRunner`` fed from recorded real output and integration tests pass ``LocalRunner``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = [
    "SECRET_OPTIONS",
    "CommandError",
    "CommandNotFound",
    "CommandResult",
    "CommandTimeout",
    "LocalRunner",
    "LoggingRunner",
    "Recording",
    "ReplayRunner",
    "Runner",
    "RunningCommand",
    "SshRunner",
    "UnexpectedCommand",
    "check_argv",
    "get_runner",
    "kill_group",
    "mask_argv",
    "runner_override",
]

DEFAULT_TIMEOUT = 60.0
# Stable, parseable output from every tool: C locale, and times printed in UTC (parsers read them so).
OUTPUT_ENV = {"LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
BASE_ENV = {**OUTPUT_ENV, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command_line(self) -> str:
        """The command as a shell would show it, with secret option values hidden (see ``mask_argv``)."""
        return shlex.join(mask_argv(self.argv))


# Options whose value is a secret some tools only take on their command line (tgtadm's CHAP password):
# hidden wherever a command is shown (errors, job logs).
SECRET_OPTIONS = frozenset({"--password"})


def mask_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """``argv`` with the value of every secret option replaced by ********."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg in SECRET_OPTIONS:
            out[i + 1] = "********"
    return tuple(out)


class CommandError(Exception):
    """A host command failed; carries the command, its exit code and its stderr."""

    def __init__(self, result: CommandResult, message: str | None = None) -> None:
        self.result = result
        self.argv = result.argv
        self.returncode = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr
        detail = result.stderr.strip() or result.stdout.strip()
        super().__init__(message or f"{result.command_line} exited {result.returncode}: {detail}"[:2000])


class CommandTimeout(CommandError):
    """The command ran past its timeout and its process group was killed."""


class CommandNotFound(CommandError):
    """The program is not installed on the host."""


class UnexpectedCommand(AssertionError):
    """A ReplayRunner was asked for a command it has no recording of."""


class Runner(Protocol):
    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult: ...

    def stream(
        self,
        argv: Sequence[str],
        *,
        on_line: Callable[[str], None],
        timeout: float | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult: ...

    def start(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> RunningCommand: ...


def check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    if isinstance(argv, (str, bytes)) or not argv:
        raise TypeError("argv must be a non-empty list of strings, never a shell string")
    out = tuple(argv)
    for arg in out:
        if not isinstance(arg, str):
            raise TypeError(f"argv items must be str, got {type(arg).__name__}")
        if "\x00" in arg:
            raise ValueError("argv items must not contain NUL bytes")
    return out


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _finish(argv, rc, out, err, started, check, timed_out=False, timeout=None) -> CommandResult:
    result = CommandResult(argv, rc, out, err, round(time.monotonic() - started, 6))
    if timed_out:
        raise CommandTimeout(result, f"{result.command_line} timed out after {timeout} s and was killed")
    if check and rc != 0:
        raise CommandError(result)
    return result


class RunningCommand:
    """A command started with ``Runner.start()`` that the caller polls while doing other work
    (following a scrub's status, say). Output goes to temporary files, so a chatty command never
    blocks on a full pipe; ``poll()``/``wait()`` give the CommandResult once it has ended."""

    def __init__(self, argv: tuple[str, ...], proc: subprocess.Popen | None, out=None, err=None,
                 *, result: CommandResult | None = None, on_finish: Callable[[CommandResult], None] | None = None,
                 pending_polls: int = 0) -> None:
        self.argv = argv
        self._proc, self._out, self._err = proc, out, err
        self._started = time.monotonic()
        self._result = result
        self._on_finish = on_finish
        self._pending_polls = pending_polls  # replayed commands: polls that report "still running"
        self._reported = False

    def _collect(self) -> CommandResult:
        if self._result is None:
            self._out.seek(0)
            self._err.seek(0)
            self._result = CommandResult(self.argv, self._proc.returncode, self._out.read(), self._err.read(),
                                         round(time.monotonic() - self._started, 6))
            self._out.close()
            self._err.close()
        if not self._reported and self._on_finish:
            self._reported = True
            self._on_finish(self._result)
        return self._result

    def poll(self) -> CommandResult | None:
        """The result once the command has ended, else None."""
        if self._pending_polls > 0:
            self._pending_polls -= 1
            return None
        if self._proc is not None and self._proc.poll() is None:
            return None
        return self._collect()

    def wait(self, timeout: float | None = None, check: bool = True) -> CommandResult:
        """Block until the command ends (killing its process group after ``timeout``)."""
        self._pending_polls = 0
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self._proc.wait()
                raise CommandTimeout(self._collect(), f"{shlex.join(self.argv)} timed out after {timeout} s") from None
        result = self._collect()
        if check and result.returncode != 0:
            raise CommandError(result)
        return result

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            kill_group(self._proc)


class LocalRunner:
    """Runs argv on this host with ``subprocess`` (never a shell), in its own process group."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = {**BASE_ENV, **(env or {})}

    def _popen(self, argv: tuple[str, ...], env: Mapping[str, str] | None, stdin_pipe: bool):
        try:
            return subprocess.Popen(  # noqa: S603 - argv list, never a shell
                argv,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env={**self._env, **(env or {})},
                start_new_session=True,  # own process group: a timeout kills the whole tree
            )
        except FileNotFoundError as exc:
            result = CommandResult(argv, 127, "", str(exc), 0.0)
            raise CommandNotFound(result, f"{argv[0]}: command not found on this host") from exc

    def run(self, argv, *, stdin=None, timeout=DEFAULT_TIMEOUT, check=True, env=None) -> CommandResult:
        argv = check_argv(argv)
        started = time.monotonic()
        proc = self._popen(argv, env, stdin is not None)
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            return _finish(argv, -9, out, err, started, check, timed_out=True, timeout=timeout)
        return _finish(argv, proc.returncode, out, err, started, check)

    def stream(self, argv, *, on_line, timeout=None, check=True, env=None) -> CommandResult:
        """Run argv, calling ``on_line`` for every stdout line as it arrives."""
        argv = check_argv(argv)
        started = time.monotonic()
        proc = self._popen(argv, env, False)
        timed_out = threading.Event()
        timer = None
        if timeout is not None:
            timer = threading.Timer(timeout, lambda: (timed_out.set(), kill_group(proc)))
            timer.start()
        err_chunks: list[str] = []
        reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
        reader.start()
        out_lines: list[str] = []
        try:
            for line in proc.stdout:
                out_lines.append(line)
                on_line(line.rstrip("\n"))
        except BaseException:
            kill_group(proc)
            raise
        finally:
            proc.wait()
            reader.join(5)
            if timer:
                timer.cancel()
        return _finish(argv, proc.returncode, "".join(out_lines), "".join(err_chunks), started, check,
                       timed_out=timed_out.is_set(), timeout=timeout)

    def start(self, argv, *, env=None) -> RunningCommand:
        """Start argv and return at once; the command runs in its own process group."""
        argv = check_argv(argv)
        out, err = tempfile.TemporaryFile("w+", errors="replace"), tempfile.TemporaryFile("w+", errors="replace")
        try:
            proc = subprocess.Popen(  # noqa: S603 - argv list, never a shell
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True,
                env={**self._env, **(env or {})}, start_new_session=True)
        except FileNotFoundError as exc:
            out.close()
            err.close()
            raise CommandNotFound(CommandResult(argv, 127, "", str(exc), 0.0),
                                  f"{argv[0]}: command not found on this host") from exc
        return RunningCommand(argv, proc, out, err)


def _remote_argv(argv: tuple[str, ...], env: Mapping[str, str] | None) -> tuple[str, ...]:
    """``env LC_ALL=C LANG=C TZ=UTC [NAME=value...] argv...``: the remote command gets the same stable output
    environment as a local one. ``env`` would read a program name holding ``=`` as one more variable, or
    one starting with ``-`` as its own option, so such names are refused."""
    variables = {**OUTPUT_ENV, **(env or {})}
    for name in variables:
        if not _ENV_NAME.match(name):
            raise ValueError(f"invalid environment variable name: {name!r}")
    if argv[0].startswith("-") or "=" in argv[0]:
        raise ValueError(f"invalid program name for a remote command: {argv[0]!r}")
    return ("env", *(f"{k}={v}" for k, v in variables.items()), *argv)


class SshRunner:
    """Runs argv on a remote host through the OpenSSH client, with a pinned host key.

    The host key is written to a private known_hosts file and ``StrictHostKeyChecking=yes`` is
    set, so a changed key fails the connection instead of being trusted. The remote command line
    is built with ``shlex.join`` so every argument reaches the remote program literally, and runs
    under ``env LC_ALL=C LANG=C TZ=UTC`` (plus the caller's ``env``), as a local command would.
    """

    def __init__(
        self,
        host: str,
        *,
        user: str = "root",
        port: int = 22,
        known_hosts_file: str | Path,
        identity_file: str | Path | None = None,
        connect_timeout: int = 10,
        local: LocalRunner | None = None,
    ) -> None:
        self.host, self.user, self.port = host, user, int(port)
        self.known_hosts_file = str(known_hosts_file)
        self.identity_file = str(identity_file) if identity_file else None
        self.connect_timeout = connect_timeout
        self._local = local or LocalRunner()

    @staticmethod
    def write_known_hosts(path: str | Path, host: str, port: int, host_key: str) -> Path:
        """Pin ``host_key`` ("ssh-ed25519 AAAA...") for host:port in a known_hosts file."""
        name = host if int(port) == 22 else f"[{host}]:{port}"
        path = Path(path)
        path.write_text(f"{name} {host_key.strip()}\n")
        path.chmod(0o600)
        return path

    def ssh_argv(self, argv: Sequence[str]) -> list[str]:
        remote = shlex.join(check_argv(argv))
        base = [
            "ssh", "-T", "-p", str(self.port),
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts_file}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", f"ConnectTimeout={self.connect_timeout}",
            "-o", "LogLevel=ERROR",
        ]  # fmt: skip
        if self.identity_file:
            base += ["-o", "IdentitiesOnly=yes", "-i", self.identity_file]
        return [*base, f"{self.user}@{self.host}", "--", remote]

    def _wrap(self, argv: tuple[str, ...], result: CommandResult, check: bool) -> CommandResult:
        inner = CommandResult(argv, result.returncode, result.stdout, result.stderr, result.duration_s)
        if check and inner.returncode != 0:
            raise CommandError(inner)
        return inner

    def run(self, argv, *, stdin=None, timeout=DEFAULT_TIMEOUT, check=True, env=None) -> CommandResult:
        argv = check_argv(argv)
        remote = self.ssh_argv(_remote_argv(argv, env))
        result = self._local.run(remote, stdin=stdin, timeout=timeout, check=False)
        if result.returncode == 255:  # ssh's own failure: host key, auth, network
            raise CommandError(result, f"ssh to {self.host}:{self.port} failed: {result.stderr.strip()}")
        return self._wrap(argv, result, check)

    def stream(self, argv, *, on_line, timeout=None, check=True, env=None) -> CommandResult:
        argv = check_argv(argv)
        remote = self.ssh_argv(_remote_argv(argv, env))
        result = self._local.stream(remote, on_line=on_line, timeout=timeout, check=False)
        if result.returncode == 255:
            raise CommandError(result, f"ssh to {self.host}:{self.port} failed: {result.stderr.strip()}")
        return self._wrap(argv, result, check)

    def start(self, argv, *, env=None) -> RunningCommand:
        argv = check_argv(argv)
        handle = self._local.start(self.ssh_argv(_remote_argv(argv, env)))
        handle.argv = argv  # callers see the remote command, as with run()
        return handle


@dataclass(slots=True)
class Recording:
    stdout: str = ""
    stderr: str = ""
    returncode: int = 0
    polls: int = 0  # for start(): how many polls report "still running"


@dataclass
class ReplayRunner:
    """Replays recorded real outputs. Fails loudly on any command it was not given.

    Recording files: the first line is ``$ <command line>`` (shell-quoted argv), an optional
    ``# returncode: N`` line follows, the rest is stdout (stderr for a non-zero code). A success that
    also wrote on stderr keeps that text after a ``# stderr:`` line. ``calls`` lists every argv asked for.
    """

    recordings: dict[tuple[str, ...], list[Recording]] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    stdins: list[str | None] = field(default_factory=list)

    def add(self, argv: Sequence[str], stdout: str = "", stderr: str = "", returncode: int = 0,
            polls: int = 0) -> ReplayRunner:
        """Queue a response for argv; several responses for one argv replay in order, the last sticks."""
        self.recordings.setdefault(tuple(argv), []).append(Recording(stdout, stderr, returncode, polls))
        return self

    def add_file(self, path: str | Path) -> ReplayRunner:
        text = Path(path).read_text()
        first, _, rest = text.partition("\n")
        if not first.startswith("$ "):
            raise ValueError(f"{path}: first line must be '$ <command>'")
        returncode = 0
        if rest.startswith("# returncode:"):
            rc_line, _, rest = rest.partition("\n")
            returncode = int(rc_line.split(":", 1)[1])
        if returncode:
            return self.add(shlex.split(first[2:]), stderr=rest, returncode=returncode)
        stdout, marker, stderr = rest.partition("# stderr:\n")  # a success that also printed on stderr
        return self.add(shlex.split(first[2:]), stdout=stdout, stderr=stderr if marker else "")

    def add_files(self, paths: Iterable[str | Path]) -> ReplayRunner:
        for p in paths:
            self.add_file(p)
        return self

    def _next(self, argv: tuple[str, ...]) -> Recording:
        queue = self.recordings.get(argv)
        if not queue:
            raise UnexpectedCommand(f"no recording for: {shlex.join(argv)}")
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def run(self, argv, *, stdin=None, timeout=DEFAULT_TIMEOUT, check=True, env=None) -> CommandResult:
        argv = check_argv(argv)
        self.calls.append(argv)
        self.stdins.append(stdin)
        rec = self._next(argv)
        result = CommandResult(argv, rec.returncode, rec.stdout, rec.stderr, 0.0)
        if check and rec.returncode != 0:
            raise CommandError(result)
        return result

    def stream(self, argv, *, on_line, timeout=None, check=True, env=None) -> CommandResult:
        result = self.run(argv, timeout=timeout, check=False, env=env)
        for line in result.stdout.splitlines():
            on_line(line)
        if check and result.returncode != 0:
            raise CommandError(result)
        return result

    def start(self, argv, *, env=None) -> RunningCommand:
        argv = check_argv(argv)
        self.calls.append(argv)
        self.stdins.append(None)
        rec = self._next(argv)
        return RunningCommand(argv, None, result=CommandResult(argv, rec.returncode, rec.stdout, rec.stderr, 0.0),
                              pending_polls=rec.polls)


class LoggingRunner:
    """Wraps a runner and reports every command and its outcome to ``sink(level, message)``."""

    def __init__(self, inner: Runner, sink: Callable[[str, str], None]) -> None:
        self.inner = inner
        self._sink = sink

    def _log(self, argv: Sequence[str], fn: Callable[[], CommandResult]) -> CommandResult:
        self._sink("command", "$ " + shlex.join(mask_argv(argv)))
        try:
            result = fn()
        except CommandError as exc:
            self._sink("error", f"exit {exc.returncode} after {exc.result.duration_s:.2f} s: {exc.stderr.strip()[:500]}")
            raise
        self._sink("debug", f"exit {result.returncode} in {result.duration_s:.2f} s")
        return result

    def run(self, argv, *, stdin=None, timeout=DEFAULT_TIMEOUT, check=True, env=None) -> CommandResult:
        return self._log(argv, lambda: self.inner.run(argv, stdin=stdin, timeout=timeout, check=check, env=env))

    def stream(self, argv, *, on_line, timeout=None, check=True, env=None) -> CommandResult:
        return self._log(argv, lambda: self.inner.stream(argv, on_line=on_line, timeout=timeout, check=check, env=env))

    def start(self, argv, *, env=None) -> RunningCommand:
        self._sink("command", "$ " + shlex.join(mask_argv(argv)) + "  (running in the background)")
        handle = self.inner.start(argv, env=env)
        handle._on_finish = lambda r: self._sink(
            "debug" if r.returncode == 0 else "error",
            f"exit {r.returncode} after {r.duration_s:.2f} s" + (f": {r.stderr.strip()[:500]}" if r.returncode else ""))
        return handle


_overrides: list[Runner] = []


def get_runner(node: str | None = None) -> Runner:
    """The runner for host commands: this host today (``node=None``), a fleet node's SSH runner later.
    Every service and job asks here, so a test swaps the host for recordings with ``runner_override``."""
    if _overrides:
        return _overrides[-1]
    if node is not None:
        raise LookupError(f"unknown node {node!r}: only this host is managed")
    return LocalRunner()


@contextlib.contextmanager
def runner_override(runner: Runner) -> Iterator[Runner]:
    """Within the block, ``get_runner()`` answers ``runner`` (a ReplayRunner in unit tests)."""
    _overrides.append(runner)
    try:
        yield runner
    finally:
        _overrides.remove(runner)
