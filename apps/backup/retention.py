"""Which of a task's snapshots to prune on each side: pure, so the rules are tested on their own.

A task's snapshot names end with their UTC time at a fixed width, so sorting names sorts by age. Each side
keeps its newest ``keep`` snapshots, and both always keep the newest snapshot they have in common: the
base of the next incremental send (without it the next run would have to send everything again, and a
replica with snapshots of its own refuses a full receive).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PrunePlan", "newest_common", "prune_plan"]


@dataclass(frozen=True, slots=True)
class PrunePlan:
    source: tuple[str, ...]  # names to destroy on the source, oldest first
    target: tuple[str, ...]  # on the target
    common: str | None  # the newest name on both sides: kept on both
    lines: tuple[str, ...]  # one line per decision, for the dry run and the job log


def newest_common(source: Iterable[str], target: Iterable[str]) -> str | None:
    """The newest name present on both sides."""
    return max(set(source) & set(target), default=None)


def _side(names: Iterable[str], keep: int, common: str | None, where: str) -> tuple[list[str], list[str]]:
    ordered = sorted(set(names))
    if keep < 1:
        raise ValueError(f"keep on the {where} must be at least 1, not {keep}")
    newest = set(ordered[-keep:])
    doomed, lines = [], []
    for name in ordered:
        if name in newest:
            lines.append(f"{where}: keep {name} (one of the newest {keep})")
        elif name == common:
            lines.append(f"{where}: keep {name} (the newest snapshot on both sides: the next incremental's base)")
        else:
            doomed.append(name)
            lines.append(f"{where}: destroy {name} (beyond the newest {keep})")
    return doomed, lines


def prune_plan(source: Iterable[str], target: Iterable[str], keep_source: int, keep_target: int) -> PrunePlan:
    """What to destroy on each side so that each keeps its newest ``keep_*`` and both the newest common one."""
    source, target = list(source), list(target)
    common = newest_common(source, target)
    doomed_source, source_lines = _side(source, keep_source, common, "source")
    doomed_target, target_lines = _side(target, keep_target, common, "target")
    return PrunePlan(tuple(doomed_source), tuple(doomed_target), common, tuple(source_lines + target_lines))
