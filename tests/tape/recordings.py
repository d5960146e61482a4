"""Recorded tape-tool outputs (tests/tape/fixtures/, see its README.md): the first line is ``$ command``, an
optional ``# returncode: N`` follows, the rest is what the tool printed."""

from __future__ import annotations

import shlex
from pathlib import Path

from apps.core.runner import ReplayRunner

FIXTURES = Path(__file__).parent / "fixtures"


def body(name: str) -> str:
    """The output of recording ``name``, without its command and returncode lines."""
    text = (FIXTURES / name).read_text().partition("\n")[2]
    return text.partition("\n")[2] if text.startswith("# returncode:") else text


def argv_of(name: str) -> list[str]:
    return shlex.split((FIXTURES / name).read_text().partition("\n")[0][2:])


def config(name: str) -> str:
    """An mhVTL configuration file as mhVTL ships it (fixtures/mhvtl/)."""
    return (FIXTURES / "mhvtl" / name).read_text()


def replay(*names: str) -> ReplayRunner:
    """A runner answering every recording in ``names`` with what it recorded."""
    return ReplayRunner().add_files(FIXTURES / n for n in names)


def answer(runner: ReplayRunner, argv: list[str], name: str) -> ReplayRunner:
    """``argv`` answers the output of recording ``name`` (a recording made on another node path)."""
    return runner.add(argv, stdout=body(name))
