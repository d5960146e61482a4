"""Recorded tgtadm/scstadmin outputs (tests/iscsi/fixtures/*.txt, first line ``$ command``) and helpers that
queue what one apply reads."""

from __future__ import annotations

from pathlib import Path

from apps.core.runner import ReplayRunner

FIXTURES = Path(__file__).parent / "fixtures"
TGT = ("tgtadm", "--lld", "iscsi")
SHOW_TARGET = (*TGT, "--op", "show", "--mode", "target")
SHOW_ACCOUNT = (*TGT, "--op", "show", "--mode", "account")
SHOW_PORTAL = (*TGT, "--op", "show", "--mode", "portal")


def recorded(name: str) -> str:
    """The output part of a recording."""
    return (FIXTURES / name).read_text().partition("\n")[2]


def tgt(*args: str) -> tuple[str, ...]:
    return (*TGT, *args)


def empty_tgtd(runner: ReplayRunner, times: int = 1) -> ReplayRunner:
    """tgtd with no target and no account, as ``show`` prints it, for ``times`` applies."""
    for _ in range(times):
        runner.add(SHOW_TARGET, "")
        runner.add(SHOW_ACCOUNT, "Account list:\n")
    return runner


def tgtd_shows(runner: ReplayRunner, targets: str, accounts: str = "Account list:\n") -> ReplayRunner:
    """From now on tgtd shows ``targets`` and ``accounts`` (replacing what was queued)."""
    runner.recordings[SHOW_TARGET] = []
    runner.recordings[SHOW_ACCOUNT] = []
    return runner.add(SHOW_TARGET, targets).add(SHOW_ACCOUNT, accounts)
