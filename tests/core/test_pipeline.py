"""run_pipeline with real coreutils: data integrity, root-cause errors, cancellation, cleanup."""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apps.core.pipeline import PipelineCancelled, PipelineError, PipelineResult, PipelineTimeout, run_pipeline
from apps.core.runner import CommandNotFound, CommandResult

FAIL_AFTER_10_BYTES = ["sh", "-c", "head -c 10 >/dev/null; exit 3"]


@pytest.fixture
def payload(tmp_path):
    data = os.urandom(3 << 20)
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    return path, data


@pytest.fixture(autouse=True)
def _children_before(monkeypatch):
    """Children this process already had (a session-wide server of the host fixtures) are not the test's."""
    monkeypatch.setattr(sys.modules[__name__], "_EARLIER", _all_children())


_EARLIER: set[int] = set()


def _children() -> set[int]:
    """Live (or unreaped) children this process started since the test began: after run_pipeline returns or
    raises there must be none."""
    return _all_children() - _EARLIER


def _all_children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{me}\n" in status:
            found.add(int(entry.name))
    return found


def _pid_script(pidfile: Path, command: str) -> list[str]:
    """sh that writes its pid to pidfile, then execs command (same pid)."""
    return ["sh", "-c", f'echo $$ > "$0"; exec {command}', str(pidfile)]


def _assert_gone(*pidfiles: Path) -> None:
    for pidfile in pidfiles:
        if pidfile.exists():  # it may have been killed before writing it, which is fine too
            with pytest.raises(ProcessLookupError):
                os.kill(int(pidfile.read_text()), 0)


def test_file_sink_gets_every_byte_and_the_digest(payload, tmp_path):
    src, data = payload
    sink = tmp_path / "out.bin"
    result = run_pipeline([["cat", str(src)]], sink=sink, digest=True)
    assert result.bytes == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert sink.read_bytes() == data
    assert [s.returncode for s in result.stages] == [0]
    assert result.ok and result.seconds > 0


def test_splice_into_a_consumer_captures_its_stdout(payload):
    src, data = payload
    result = run_pipeline([["cat", str(src)]], [["sha256sum"]])
    assert result.bytes == len(data)
    assert result.sha256 is None
    assert result.stages[-1].stdout.split()[0] == hashlib.sha256(data).hexdigest()
    assert result.stages[0].stdout == ""


def test_gzip_round_trip_counts_the_compressed_bytes(payload):
    src, data = payload
    compressed = subprocess.run(["gzip", "-1"], input=data, capture_output=True, check=True).stdout
    result = run_pipeline([["cat", str(src)], ["gzip", "-1"]], [["gzip", "-d"], ["sha256sum"]], digest=True)
    assert result.bytes == len(compressed)
    assert result.sha256 == hashlib.sha256(compressed).hexdigest()
    assert result.stages[-1].stdout.split()[0] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("digest", [False, True])
def test_source_without_producers_feeds_the_consumers(payload, digest):
    src, data = payload
    result = run_pipeline([], [["sha256sum"]], source=src, digest=digest)
    assert result.bytes == len(data)
    assert result.stages[-1].stdout.split()[0] == hashlib.sha256(data).hexdigest()
    assert result.command_line == f"< {src} | sha256sum"


def test_source_file_to_sink_file_falls_back_to_copying(payload, tmp_path):
    src, data = payload
    result = run_pipeline([], source=src, sink=tmp_path / "copy")
    assert result.stages == ()
    assert (result.bytes, (tmp_path / "copy").read_bytes()) == (len(data), data)


def test_source_feeds_the_first_producer(payload, tmp_path):
    src, data = payload
    result = run_pipeline([["gzip", "-1"], ["gzip", "-d"]], source=src, sink=tmp_path / "out", digest=True)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.command_line == f"gzip -1 < {src} | gzip -d > {tmp_path / 'out'}"


@pytest.mark.parametrize("with_sink", [True, False])
def test_failing_producer_is_the_root_cause_though_downstream_exits_0(tmp_path, with_sink):
    missing = tmp_path / "missing"
    sink = tmp_path / "out.gz"
    kwargs = {"sink": sink} if with_sink else {"consumers": [["gzip", "-1"]]}
    producers = [["cat", str(missing)], ["gzip", "-1"]] if with_sink else [["cat", str(missing)]]
    with pytest.raises(PipelineError) as err:
        run_pipeline(producers, **kwargs)
    exc = err.value
    assert exc.failed.argv == ("cat", str(missing))
    assert exc.returncode == 1
    assert str(exc).startswith(f"cat {missing} exited 1: cat: {missing}: No such file or directory")
    assert [s.returncode for s in exc.result.stages] == [1, 0]
    assert not sink.exists()


def test_failing_consumer_is_the_root_cause_not_the_broken_pipe_upstream():
    with pytest.raises(PipelineError) as err:
        run_pipeline([["yes"]], [FAIL_AFTER_10_BYTES])
    exc = err.value
    assert exc.failed.argv == tuple(FAIL_AFTER_10_BYTES)
    assert exc.returncode == 3
    producer = exc.result.stages[0]
    assert producer.returncode == -13 or "Broken pipe" in producer.stderr
    assert str(exc).startswith("sh -c 'head -c 10 >/dev/null; exit 3' exited 3")


def test_failing_middle_consumer_with_digest():
    with pytest.raises(PipelineError) as err:
        run_pipeline([["head", "-c", "8M", "/dev/zero"]], [FAIL_AFTER_10_BYTES, ["cat"]], digest=True)
    assert err.value.failed.returncode == 3


def test_consumer_that_ends_early_with_0_leaves_the_tap_as_the_failure():
    with pytest.raises(PipelineError) as err:
        run_pipeline([["yes"]], [["head", "-c", "10"]])
    exc = err.value
    assert exc.failed == CommandResult(("write", "head"), 1, "", "Broken pipe", exc.failed.duration_s)
    assert exc.result.stages[-1].stdout == "y\ny\ny\ny\ny\n"


def test_consumer_out_of_space_is_the_root_cause():
    with pytest.raises(PipelineError) as err:
        run_pipeline([["head", "-c", "4M", "/dev/zero"]], [["dd", "of=/dev/full", "bs=64k"]])
    exc = err.value
    assert exc.failed.argv == ("dd", "of=/dev/full", "bs=64k")
    assert "No space left on device" in exc.stderr


@pytest.mark.integration
def test_sink_out_of_space_is_the_tap_and_the_sink_is_removed(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("needs root to mount a 1 MiB tmpfs")
    try:
        with pytest.raises(PipelineError) as err:
            run_pipeline([["head", "-c", "4M", "/dev/zero"]], sink=mnt / "out")
        assert err.value.failed.argv == ("write", str(mnt / "out"))
        assert err.value.stderr == "No space left on device"
        assert list(mnt.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_existing_sink_is_refused_before_anything_starts(tmp_path):
    sink = tmp_path / "out"
    sink.write_text("keep")
    marker = tmp_path / "started"
    logged = []
    with pytest.raises(FileExistsError):
        run_pipeline([["touch", str(marker)]], sink=sink, log=logged.append)
    assert sink.read_text() == "keep"
    assert not marker.exists() and logged == []


def test_should_stop_kills_every_stage_and_removes_the_sink(tmp_path):
    pids = [tmp_path / "p1", tmp_path / "p2"]
    sink = tmp_path / "out"
    deadline = time.monotonic() + 0.5
    started = time.monotonic()
    with pytest.raises(PipelineCancelled) as err:
        run_pipeline([_pid_script(pids[0], "sleep 30"), _pid_script(pids[1], "cat")], sink=sink,
                     should_stop=lambda: time.monotonic() > deadline)
    assert time.monotonic() - started < 3
    assert all(p.exists() for p in pids)
    _assert_gone(*pids)
    assert not sink.exists()
    assert _children() == set()
    assert "was cancelled" in str(err.value)
    assert [s.returncode for s in err.value.result.stages] == [-9, -9]


def test_should_stop_while_data_flows(tmp_path):
    pidfile = tmp_path / "p"
    calls = []

    def stop():
        calls.append(time.monotonic())
        return len(calls) > 2

    with pytest.raises(PipelineCancelled):
        run_pipeline([_pid_script(pidfile, "yes")], [["cat"]], digest=True, should_stop=stop)
    _assert_gone(pidfile)
    assert _children() == set()


def test_timeout_kills_and_raises(tmp_path):
    pidfile = tmp_path / "p"
    started = time.monotonic()
    with pytest.raises(PipelineTimeout) as err:
        run_pipeline([_pid_script(pidfile, "sleep 30")], [["cat"]], timeout=0.5)
    assert 0.4 < time.monotonic() - started < 3
    assert "timed out after 0.5 s" in str(err.value)
    _assert_gone(pidfile)
    assert _children() == set()


def test_timeout_while_the_stages_are_finishing(tmp_path):
    with pytest.raises(PipelineTimeout):
        run_pipeline([["head", "-c", "1", "/dev/zero"]], [["sh", "-c", "cat >/dev/null; sleep 30"]], timeout=0.5)
    assert _children() == set()


def test_missing_program_raises_command_not_found_and_kills_what_started(tmp_path):
    pidfile = tmp_path / "p"
    sink = tmp_path / "out"
    with pytest.raises(CommandNotFound) as err:
        run_pipeline([_pid_script(pidfile, "sleep 30"), ["calypso-no-such-program", "-x"]], sink=sink)
    assert err.value.argv == ("calypso-no-such-program", "-x")
    _assert_gone(pidfile)
    assert _children() == set()
    assert not sink.exists()


def test_progress_is_increasing_and_ends_at_the_total(tmp_path):
    chunk = "head -c 1048576 /dev/zero"
    seen = []
    result = run_pipeline([["sh", "-c", f"{chunk}; sleep 0.6; {chunk}; sleep 0.6; {chunk}"]],
                          sink=tmp_path / "out", on_progress=seen.append)
    assert result.bytes == 3 << 20
    assert len(seen) >= 2
    assert seen == sorted(seen) and seen[-1] == result.bytes


def test_command_line_is_logged_once_and_quoted(tmp_path):
    src = tmp_path / "my file"
    src.write_bytes(b"x" * 100)
    sink = tmp_path / "out file.gz"
    logged = []
    result = run_pipeline([["cat", str(src)], ["gzip", "-1"]], sink=sink, log=logged.append)
    expected = f"cat '{src}' | gzip -1 > '{sink}'"
    assert logged == [expected]
    assert result.command_line == expected


def test_command_line_of_a_result():
    stages = tuple(CommandResult(a, 0, "", "", 0.0) for a in (("zfs", "send", "-i", "t/a@1", "t/a@2"),
                                                               ("zfs", "receive", "b/a")))
    result = PipelineResult(stages, 0, None, 0.0, tap_index=1)
    assert result.command_line == "zfs send -i t/a@1 t/a@2 | zfs receive b/a"


MiB = 1 << 20


@pytest.mark.parametrize("digest", [False, True])  # the splice path and the hashing copy loop
def test_rate_limit_paces_the_tap(payload, digest):
    src, data = payload
    started = time.monotonic()
    result = run_pipeline([["cat", str(src)]], [["sha256sum"]], digest=digest, rate_limit=6 * MiB)
    elapsed = time.monotonic() - started
    # 3 MiB at 6 MiB/s: about 0.5 s. Loose bounds: this checks behaviour, it is not a benchmark.
    assert 0.4 <= result.seconds <= elapsed < 2
    assert result.bytes == len(data)
    assert result.stages[-1].stdout.split()[0] == hashlib.sha256(data).hexdigest()
    assert result.command_line == f"cat {src} | sha256sum"


@pytest.mark.parametrize("case", ["consumer", "sink-digest", "source-sink", "source-consumer-digest"])
def test_rate_limit_keeps_every_byte_and_the_digest(payload, tmp_path, case):
    src, data = payload
    sink = tmp_path / "out"
    kwargs = {
        "consumer": {"producers": [["cat", str(src)]], "consumers": [["cat"]]},
        "sink-digest": {"producers": [["cat", str(src)]], "sink": sink, "digest": True},
        "source-sink": {"producers": [], "source": src, "sink": sink},
        "source-consumer-digest": {"producers": [], "source": src, "consumers": [["cat"]], "digest": True},
    }[case]
    result = run_pipeline(**kwargs, rate_limit=24 * MiB)
    assert result.bytes == len(data)
    assert result.bytes / result.seconds <= 24 * MiB
    if kwargs.get("digest"):
        assert result.sha256 == hashlib.sha256(data).hexdigest()
    if "sink" in kwargs:
        assert sink.read_bytes() == data


def test_unlimited_is_much_faster_than_limited(payload, tmp_path):
    src, _ = payload
    limited = run_pipeline([["cat", str(src)]], sink=tmp_path / "a", rate_limit=6 * MiB)
    for unlimited_rate in (None, 0):
        unlimited = run_pipeline([["cat", str(src)]], sink=tmp_path / f"b{unlimited_rate}", rate_limit=unlimited_rate)
        assert unlimited.seconds < limited.seconds / 2


@pytest.mark.parametrize("digest", [False, True])
def test_cancellation_during_a_rate_limited_transfer(tmp_path, digest):
    pidfile = tmp_path / "p"
    deadline = time.monotonic() + 0.3
    started = time.monotonic()
    with pytest.raises(PipelineCancelled) as err:
        run_pipeline([_pid_script(pidfile, "yes")], [["cat"]], digest=digest, rate_limit=1 * MiB,
                     should_stop=lambda: time.monotonic() > deadline)
    assert time.monotonic() - started < 1.3  # stopped within ~1 s of asking, though 1 MiB/s is far behind
    assert 0 < err.value.result.bytes <= 1 * MiB
    _assert_gone(pidfile)
    assert _children() == set()


def test_timeout_during_a_rate_limited_transfer():
    started = time.monotonic()
    with pytest.raises(PipelineTimeout):
        run_pipeline([["yes"]], [["cat"]], rate_limit=64 * 1024, timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert _children() == set()


@pytest.mark.parametrize("kwargs", [
    {"producers": [["yes"]], "consumers": [["cat"]], "rate_limit": -1},
    {"producers": [["yes"]]},
    {"producers": [["yes"]], "consumers": [["cat"]], "sink": "/tmp/x"},
    {"producers": [], "consumers": [["cat"]]},
])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        run_pipeline(**kwargs)


def test_shell_strings_are_refused():
    with pytest.raises(TypeError):
        run_pipeline(["cat /etc/passwd"], [["cat"]])
