"""Recorded Bacula outputs (tests/bacula/fixtures/, see its README.md): the first line is ``$ command``, the last
``[exit status: N]``, what the tool printed in between."""

from __future__ import annotations

from pathlib import Path

from apps.core.runner import ReplayRunner

FIXTURES = Path(__file__).parent / "fixtures"
CONSOLE_ARGV = ["bconsole", "-n", "-c", "/etc/bacula/bconsole.conf"]


def body(name: str) -> str:
    """What recording ``name`` printed, without its command and exit status lines."""
    rows = (FIXTURES / name).read_text().partition("\n")[2].splitlines(keepends=True)
    # a command given several stdin lines spans several lines: the console's output starts at its greeting
    start = next((i for i, row in enumerate(rows) if row.startswith("Connecting to Director")), 0)
    rows = rows[start:]
    if rows and rows[-1].startswith("[exit status:"):
        rows = rows[:-1]
    elif rows and "[exit status:" in rows[-1]:  # a prompt left without a newline
        rows[-1] = rows[-1].split("[exit status:")[0]
    return "".join(rows)


def exit_status(name: str) -> int:
    last = (FIXTURES / name).read_text().rstrip("\n").rsplit("[exit status: ", 1)[1]
    return int(last.rstrip("]"))


def console_replay(*names: str) -> ReplayRunner:
    """A runner answering the console's argv with the recordings ``names``, in order."""
    runner = ReplayRunner()
    for name in names:
        runner.add(CONSOLE_ARGV, stdout=body(name))
    return runner
