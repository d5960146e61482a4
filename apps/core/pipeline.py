"""Host process pipelines: ``a | b | tap | c | d`` or ``a | b | tap > file``, without a shell.

Backup and replication streams (``zfs send | zstd | age > file``, ``zfs send -i | zfs receive``,
``btrfs send | ssh host btrfs receive``) are chains of host processes joined by OS pipes. Between the
producers and the consumers sits one *tap* in this process: it moves the bytes on (with ``os.splice``,
zero-copy, unless a digest is asked for), counts them, hashes them on request, reports progress and
watches for cancellation and the timeout. No data touches a temporary file. With a ``rate_limit`` the
tap also paces the stream: it moves smaller chunks and waits whenever it is ahead of the allowed rate,
so the producers and consumers simply block on their pipes meanwhile.

Every process is started as ``LocalRunner`` starts one: argv only, ``BASE_ENV`` plus the caller's env,
its own process group (so killing it kills its children too), stderr to a temporary file. A pipeline
succeeds only when every stage exits 0 and the tap saw no error; otherwise ``PipelineError`` names
the root cause, not the stages that merely died of a broken pipe because of it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import select
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from apps.core.runner import BASE_ENV, CommandError, CommandNotFound, CommandResult, check_argv, kill_group

__all__ = ["PipelineCancelled", "PipelineError", "PipelineResult", "PipelineTimeout", "run_pipeline"]

CHUNK = 1 << 20  # bytes moved per splice / read: large enough for GB/s, small enough for prompt checks
OUTPUT_CAP = 64 * 1024  # captured stdout (last consumer) and stderr (every stage) per process
PIPE_SIZE = 1 << 20  # kernel pipe buffer asked for (the default 64 KiB costs a wakeup every 64 KiB)
TICK = 0.25  # should_stop() and the timeout are checked at least this often
PROGRESS_EVERY = 0.5
RATE_CHUNK_MIN = 64 * 1024  # under a rate limit: chunks of a tenth of a second, but not below this
RATE_BURST = 1.0  # seconds of unused allowance a rate-limited tap may catch up on after the source stalled
FAILURE_GRACE = 5.0  # after a failure, how long the other stages get to end on EOF/EPIPE before being killed
# Errors of the tap's write side that the destination caused, not the data source.
_WRITE_ERRNOS = {errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """Every process of a pipeline, in pipeline order, and what passed the tap.

    ``stages[i].stdout`` is empty except for the last consumer's (capped at 64 KiB); stderr of every
    stage keeps its last 64 KiB. ``tap_index`` is the number of stages before the tap (the producers).
    """

    stages: tuple[CommandResult, ...]
    bytes: int
    sha256: str | None
    seconds: float
    tap_index: int = 0
    source: str | None = None
    sink: str | None = None

    @property
    def command_line(self) -> str:
        return _command_line([s.argv for s in self.stages], self.tap_index, self.source, self.sink)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.stages)


class PipelineError(CommandError):
    """A pipeline failed. ``failed`` is the root-cause stage (the tap appears as ``write <destination>``);
    ``argv``/``returncode``/``stderr`` come from it, ``result`` is the whole ``PipelineResult``."""

    def __init__(self, result: PipelineResult, failed: CommandResult, message: str | None = None) -> None:
        super().__init__(failed, message)
        self.result = result  # CommandError set the failed stage here; the whole pipeline is more useful
        self.failed = failed


class PipelineCancelled(PipelineError):
    """``should_stop()`` answered True; every stage's process group was killed."""


class PipelineTimeout(PipelineError):
    """The pipeline ran past its timeout; every stage's process group was killed."""


def _command_line(argvs: Sequence[Sequence[str]], tap_index: int, source: str | None, sink: str | None) -> str:
    parts = [shlex.join(a) for a in argvs]
    if source is not None:
        redirect = f"< {shlex.quote(source)}"
        if tap_index:
            parts[0] += " " + redirect
        else:
            parts.insert(0, redirect)  # the tap itself reads the file: "< file | age -d | ..."
    line = " | ".join(parts)
    if sink is not None:
        line += f" > {shlex.quote(sink)}"
    return line


class _Stopped(Exception):  # noqa: N818 - internal signal, not an error
    def __init__(self, kind: str) -> None:
        self.kind = kind


class _TapFailed(Exception):  # noqa: N818 - carries the pseudo-stage for the tap
    def __init__(self, verb: str, target: str, exc: OSError) -> None:
        self.verb, self.target, self.exc = verb, target, exc


@dataclass(slots=True)
class _Stage:
    argv: tuple[str, ...]
    proc: subprocess.Popen
    stderr: IO[bytes]
    started: float
    ended: float | None = None
    killed: bool = False  # killed by the pipeline after another stage failed: a consequence, not a cause

    def result(self, stdout: str = "") -> CommandResult:
        """Once the process has been reaped (reads and closes the stderr file)."""
        rc = self.proc.returncode if self.proc.returncode is not None else -9
        ended = self.ended if self.ended is not None else time.monotonic()
        return CommandResult(self.argv, rc, stdout, _tail(self.stderr), round(ended - self.started, 6))


def _tail(f: IO[bytes]) -> str:
    try:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - OUTPUT_CAP))
        return f.read().decode("utf-8", "replace")
    finally:
        f.close()


def _close(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def _pipe() -> tuple[int, int]:
    r, w = os.pipe()  # non-inheritable: children only get the ends handed to them as stdin/stdout
    with contextlib.suppress(OSError):
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_SIZE)  # EPERM past the user's pipe quota: keep the default
    return r, w


class _Drain:
    """Reads the last consumer's stdout so it never blocks, keeping the first 64 KiB."""

    def __init__(self, fd: int) -> None:
        self.data = bytearray()
        self._file = open(fd, "rb", buffering=0)  # noqa: SIM115 - closed by the thread
        self._thread = threading.Thread(target=self._run, name="pipeline-stdout", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self._file:
            while chunk := self._file.read(OUTPUT_CAP):
                self.data += chunk[: OUTPUT_CAP - len(self.data)]

    def text(self) -> str:
        self._thread.join(5)
        return bytes(self.data).decode("utf-8", "replace")


class _Pipeline:
    """One run: the open ends, the processes, the tap's counters. Not shared between threads."""

    def __init__(self, producers, consumers, sink, source, digest, on_progress, should_stop, timeout, env,
                 rate_limit=None):
        self.producers, self.consumers = producers, consumers
        self.sink, self.source = sink, source
        self.hasher = hashlib.sha256() if digest else None
        self.on_progress, self.should_stop, self.timeout = on_progress, should_stop, timeout
        self.env = {**BASE_ENV, **(env or {})}
        self.stages: list[_Stage] = []
        self.fds: set[int] = set()  # parent-side descriptors still to close
        self.tap_in: int | None = None
        self.tap_out: int | None = None
        self.drain: _Drain | None = None
        self.sink_created = False
        self.bytes = 0
        self.started = time.monotonic()
        self.deadline = None if timeout is None else self.started + timeout
        self.next_check = self.started + TICK
        self.next_progress = self.started + PROGRESS_EVERY
        self.reported = -1
        self.tap_failure: CommandResult | None = None
        self.tap_failed_at: float | None = None
        self.tap_epipe = False  # the consumer stopped reading: a consequence of its failure, not a cause
        self.rate = rate_limit or 0  # bytes per second through the tap; 0 = unlimited
        # Small chunks under a limit keep the flow smooth instead of one burst and a long pause per chunk.
        self.chunk = min(CHUNK, max(RATE_CHUNK_MIN, int(self.rate) // 10)) if self.rate else CHUNK
        self.rate_origin = self.started  # the allowance is rate * (now - rate_origin)

    # -- setup ---------------------------------------------------------------------------------------

    def open_files(self) -> None:
        """Source and sink before any process starts: a missing source or an existing sink starts nothing."""
        if self.source is not None:
            self.tap_in = self._own(os.open(self.source, os.O_RDONLY | os.O_CLOEXEC))
        if self.sink is not None:
            # O_EXCL: a backup never overwrites an existing file, and the file removed on failure is ours.
            fd = os.open(self.sink, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            self.sink_created = True
            self.tap_out = self._own(fd)

    def _own(self, fd: int) -> int:
        self.fds.add(fd)
        return fd

    def _release(self, fd: int | None) -> None:
        if fd is not None and fd in self.fds:
            self.fds.discard(fd)
            _close(fd)

    def _spawn(self, argv: tuple[str, ...], stdin: int, stdout: int) -> None:
        err = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the result is collected
        try:
            proc = subprocess.Popen(  # noqa: S603 - argv list, never a shell
                argv, stdin=stdin, stdout=stdout, stderr=err, env=self.env,
                start_new_session=True)  # own process group: a kill reaches the tool's children too
        except FileNotFoundError as exc:
            err.close()
            raise CommandNotFound(CommandResult(argv, 127, "", str(exc), 0.0),
                                  f"{argv[0]}: command not found on this host") from exc
        except BaseException:
            err.close()
            raise
        self.stages.append(_Stage(argv, proc, err, time.monotonic()))

    def start(self) -> None:
        prev = self.tap_in if self.producers else None
        for argv in self.producers:
            r, w = map(self._own, _pipe())
            self._spawn(argv, subprocess.DEVNULL if prev is None else prev, w)
            # The parent must not hold the child's ends: EOF and SIGPIPE only propagate once it lets go.
            self._release(prev)
            self._release(w)
            prev = r
        if self.producers:
            self.tap_in = prev
        if self.consumers:
            prev, self.tap_out = map(self._own, _pipe())
            for argv in self.consumers:
                r, w = map(self._own, _pipe())
                self._spawn(argv, prev, w)
                self._release(prev)
                self._release(w)
                prev = r
            self.fds.discard(prev)
            self.drain = _Drain(prev)
        # The tap never blocks for long: it polls with a timeout so should_stop and the deadline stay live.
        for fd, is_pipe in ((self.tap_in, bool(self.producers)), (self.tap_out, bool(self.consumers))):
            if is_pipe:
                os.set_blocking(fd, False)

    # -- the tap -------------------------------------------------------------------------------------

    def check(self) -> None:
        """Cancellation, timeout and progress; cheap enough to call once per chunk."""
        now = time.monotonic()
        if now < self.next_check:
            return
        self.next_check = now + TICK
        if self.should_stop is not None and self.should_stop():
            raise _Stopped("cancelled")
        if self.deadline is not None and now >= self.deadline:
            raise _Stopped("timeout")
        if self.on_progress is not None and now >= self.next_progress and self.bytes != self.reported:
            self.next_progress = now + PROGRESS_EVERY
            self.reported = self.bytes
            self.on_progress(self.bytes)

    def throttle(self) -> None:
        """Under a rate limit, wait until the bytes moved so far are within the allowance; cancellation
        and the timeout stay live (checked every TICK) while waiting."""
        if not self.rate:
            return
        while True:
            self.check()
            now = time.monotonic()
            # A source that stalled must not earn an unbounded burst afterwards: cap the unused allowance.
            self.rate_origin = max(self.rate_origin, now - self.bytes / self.rate - RATE_BURST)
            ahead = self.bytes / self.rate - (now - self.rate_origin)
            if ahead <= 0:
                return
            time.sleep(max(0.0, min(ahead, self.next_check - now)))

    def _poll_ms(self) -> int:
        wait = TICK if self.deadline is None else max(0.0, min(TICK, self.deadline - time.monotonic()))
        return int(wait * 1000) + 1

    def _await_input(self) -> bool:
        """Wait for data (or EOF) on the tap's input. A consumer that has gone ends the wait at once
        (POLLERR on our write end) as a broken pipe: the producers may have nothing to send for a while."""
        poller = select.poll()
        poller.register(self.tap_in, select.POLLIN)
        if self.consumers:
            poller.register(self.tap_out, 0)  # errors only
        events = dict(poller.poll(self._poll_ms()))
        if events.get(self.tap_out, 0) & select.POLLERR:
            raise _TapFailed("write", self._names()[1], BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE)))
        return bool(events)

    def _await_output(self) -> None:
        if self.consumers:
            poller = select.poll()
            poller.register(self.tap_out, select.POLLOUT)
            poller.poll(self._poll_ms())

    def _names(self) -> tuple[str, str]:
        src = self.source if not self.producers else self.producers[-1][0]
        dst = self.sink if self.sink is not None else self.consumers[0][0]
        return src, dst

    def pump(self) -> None:
        if self.hasher is None and (self.producers or self.consumers):
            if self._splice():
                return
        self._copy()

    def _splice(self) -> bool:
        """Zero-copy transfer; False when splice is impossible here (then the copy loop takes over)."""
        flags = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
        while True:
            self.check()
            self.throttle()
            try:
                n = os.splice(self.tap_in, self.tap_out, self.chunk, flags=flags)
            except BlockingIOError:
                if self._await_input():
                    self._await_output()
                continue
            except OSError as exc:
                if exc.errno == errno.EINVAL:
                    return False  # e.g. a sink on a filesystem without splice_write
                src, dst = self._names()
                raise _TapFailed(*(("write", dst) if exc.errno in _WRITE_ERRNOS else ("read", src)), exc) from exc
            if n == 0:
                return True
            self.bytes += n

    def _copy(self) -> None:
        buf = memoryview(bytearray(self.chunk))  # one buffer for the whole stream
        src, _ = self._names()
        while True:
            self.check()
            self.throttle()
            try:
                n = os.readv(self.tap_in, [buf])
            except BlockingIOError:
                self._await_input()
                continue
            except OSError as exc:
                raise _TapFailed("read", src, exc) from exc
            if n == 0:
                return
            chunk = buf[:n]
            if self.hasher is not None:
                self.hasher.update(chunk)
            self._write_all(chunk)
            self.bytes += n

    def _write_all(self, data: memoryview) -> None:
        done = 0
        while done < len(data):
            try:
                done += os.write(self.tap_out, data[done:])
            except BlockingIOError:
                self.check()
                self._await_output()
            except OSError as exc:
                raise _TapFailed("write", self._names()[1], exc) from exc

    def finish_tap(self) -> None:
        """Close both ends (the first consumer sees EOF); a sink is flushed to disk first."""
        self._release(self.tap_in)
        try:
            if self.sink is not None and self.tap_failure is None:
                try:
                    os.fsync(self.tap_out)  # a backup is done only once it is on disk; NFS reports ENOSPC here
                except OSError as exc:
                    self.record_tap_failure(_TapFailed("write", self.sink, exc))
        finally:
            self._release(self.tap_out)

    def record_tap_failure(self, failure: _TapFailed) -> None:
        argv = (failure.verb, failure.target)
        message = failure.exc.strerror or str(failure.exc)
        self.tap_failure = CommandResult(argv, 1, "", message, round(time.monotonic() - self.started, 6))
        self.tap_failed_at = time.monotonic()
        self.tap_epipe = failure.exc.errno == errno.EPIPE

    # -- the end -------------------------------------------------------------------------------------

    def wait_all(self) -> None:
        """Reap every stage. After a failure the others get FAILURE_GRACE to end on EOF/EPIPE, then are killed."""
        failed_at = self.tap_failed_at
        while True:
            now = time.monotonic()
            running = []
            for stage in self.stages:
                if stage.ended is None and stage.proc.poll() is not None:
                    stage.ended = now
                if stage.ended is None:
                    running.append(stage)
                elif stage.proc.returncode != 0 and failed_at is None:
                    failed_at = now
            if not running:
                return
            if failed_at is not None and now - failed_at >= FAILURE_GRACE:
                for stage in running:
                    if not stage.killed:
                        stage.killed = True
                        kill_group(stage.proc)
            self.check()
            with contextlib.suppress(subprocess.TimeoutExpired):
                running[0].proc.wait(min(0.05, TICK))

    def kill_all(self) -> list[int]:
        """SIGKILL every stage's process group; returns the indexes of the stages that were still running."""
        running = [i for i, s in enumerate(self.stages) if s.proc.poll() is None]
        for stage in self.stages:
            kill_group(stage.proc)  # also groups whose leader is gone but whose children live on
        return running

    def close(self) -> None:
        """Release everything, whatever happened: fds, processes (killed if still running), temp files."""
        for fd in list(self.fds):
            self._release(fd)
        for stage in self.stages:
            if stage.proc.poll() is None:
                kill_group(stage.proc)
            stage.proc.wait()
            if stage.ended is None:
                stage.ended = time.monotonic()
        if self.drain is not None:
            self.drain.text()

    def dispose(self) -> None:
        """Close the stderr files that no result has read (the run ended with an exception)."""
        for stage in self.stages:
            stage.stderr.close()

    def results(self) -> tuple[CommandResult, ...]:
        out = []
        for i, stage in enumerate(self.stages):
            last = i == len(self.stages) - 1 and self.drain is not None
            out.append(stage.result(self.drain.text() if last else ""))
        return tuple(out)

    def result(self, stages: tuple[CommandResult, ...]) -> PipelineResult:
        return PipelineResult(
            stages=stages, bytes=self.bytes, sha256=self.hasher.hexdigest() if self.hasher else None,
            seconds=round(time.monotonic() - self.started, 6), tap_index=len(self.producers),
            source=self.source, sink=self.sink)

    def root_cause(self, stages: tuple[CommandResult, ...]) -> CommandResult | None:
        """The first failure in pipeline order that is not a broken-pipe consequence of another one."""
        n = len(self.producers)
        ordered = [(r, self._consequence(r, self.stages[i])) for i, r in enumerate(stages)]
        if self.tap_failure is not None:
            ordered.insert(n, (self.tap_failure, self.tap_epipe))
        failures = [(r, consequence) for r, consequence in ordered if not r.ok]
        if not failures:
            return None
        return next((r for r, consequence in failures if not consequence), failures[-1][0])

    @staticmethod
    def _consequence(result: CommandResult, stage: _Stage) -> bool:
        return stage.killed or result.returncode == -13 or "broken pipe" in result.stderr.lower()


def run_pipeline(
    producers: Sequence[Sequence[str]],
    consumers: Sequence[Sequence[str]] = (),
    *,
    sink: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
    digest: bool = False,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    log: Callable[[str], None] | None = None,
    rate_limit: int | None = None,
) -> PipelineResult:
    """Run ``producers[0] < source | ... | producers[-1] | TAP | consumers[0] | ... | consumers[-1]``
    (or ``... | TAP > sink``) and wait for every process.

    The tap counts the bytes (and with ``digest`` hashes them with SHA-256). ``sink`` is created new
    (FileExistsError if it exists, before anything starts) and removed again if the pipeline fails.
    ``on_progress(bytes)`` runs at most every 0.5 s and once at the end; ``should_stop()`` and the
    ``timeout`` are checked at least every 0.25 s and kill every stage's process group.
    ``rate_limit`` (bytes per second, None or 0 = unlimited) caps the average rate through the tap: it
    waits before each chunk while it is ahead, so ``bytes / seconds`` stays at or below the limit.
    Raises PipelineError (root cause in ``.failed``), PipelineCancelled, PipelineTimeout or CommandNotFound.
    """
    prods = tuple(check_argv(a) for a in producers)
    cons = tuple(check_argv(a) for a in consumers)
    if bool(cons) == (sink is not None):
        raise ValueError("give exactly one destination: consumers or a sink file")
    if not prods and source is None:
        raise ValueError("nothing to read: give producers or a source file")
    if rate_limit is not None and rate_limit < 0:
        raise ValueError(f"rate_limit must be >= 0 bytes per second, not {rate_limit}")
    src = None if source is None else os.fspath(source)
    dst = None if sink is None else os.fspath(sink)
    run = _Pipeline(prods, cons, dst, src, digest, on_progress, should_stop, timeout, env, rate_limit)
    succeeded = False
    try:
        run.open_files()
        if log is not None:
            log(_command_line([*prods, *cons], len(prods), src, dst))
        run.start()
        result = _run(run)
        succeeded = True
        return result
    finally:
        run.close()
        run.dispose()
        if run.sink_created and not succeeded:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(dst)


def _run(run: _Pipeline) -> PipelineResult:
    try:
        try:
            run.pump()
        except _TapFailed as failure:
            run.record_tap_failure(failure)
        run.finish_tap()
        run.wait_all()
    except _Stopped as stop:
        still_running = run.kill_all()
        run.close()
        stages = run.results()
        result = run.result(stages)
        # The stage the pipeline was still waiting for stands for the whole (the first one, upstream).
        failed = stages[still_running[0] if still_running else -1] if stages else CommandResult(
            ("tap", *run._names()), -9, "", "", result.seconds)
        if stop.kind == "timeout":
            raise PipelineTimeout(result, failed, f"{result.command_line} timed out after {run.timeout} s"
                                                  " and was killed") from None
        raise PipelineCancelled(result, failed, f"{result.command_line} was cancelled after "
                                                f"{result.seconds:.1f} s and was killed") from None
    run.close()
    stages = run.results()
    result = run.result(stages)
    if run.on_progress is not None:
        run.on_progress(result.bytes)
    failed = run.root_cause(stages)
    if failed is not None:
        raise PipelineError(result, failed)
    return result
