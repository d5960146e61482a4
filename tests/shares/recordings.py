"""Recorded real outputs of Samba's tools (tests/shares/fixtures/*.txt, first line ``$ command``). Paths that
differ per test are written as ``{conf}`` (the main smb.conf) and ``{candidate}`` (the file testparm checks)."""

from __future__ import annotations

from pathlib import Path

from apps.core.runner import ReplayRunner

FIXTURES = Path(__file__).parent / "fixtures"

__all__ = ["FIXTURES", "add_recording", "recorded_text"]


def recorded_text(name: str) -> str:
    """The output part of a recording (after its command and return-code lines)."""
    _first, _sep, rest = (FIXTURES / name).read_text().partition("\n")
    if rest.startswith("# returncode:"):
        rest = rest.partition("\n")[2]
    return rest.partition("# stderr:\n")[0]


def add_recording(runner: ReplayRunner, name: str, **paths: str) -> ReplayRunner:
    """Queue the recording ``name`` with its ``{placeholders}`` filled in."""
    text = (FIXTURES / name).read_text()
    for key, value in paths.items():
        text = text.replace("{" + key + "}", value)
    tmp = FIXTURES.parent / ".replay-tmp.txt"
    try:
        tmp.write_text(text)
        return runner.add_file(tmp)
    finally:
        tmp.unlink(missing_ok=True)
