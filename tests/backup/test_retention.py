"""Retention of a task's snapshots on both sides: examples, then random schedules with random failures
(hypothesis): the chain is never broken."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.backup.retention import newest_common, prune_plan


def _names(*numbers: int) -> list[str]:
    return [f"calypso-1-2026120{n}T000000000000Z" for n in numbers]


def test_each_side_keeps_its_newest_and_both_keep_the_newest_common():
    source, target = _names(1, 2, 3, 4), _names(1, 2, 3)  # the run of 4 was not received
    plan = prune_plan(source, target, keep_source=1, keep_target=1)
    assert plan.common == _names(3)[0]
    assert plan.source == tuple(_names(1, 2))  # 4 is the newest, 3 the base
    assert plan.target == tuple(_names(1, 2))
    assert any("next incremental's base" in line for line in plan.lines)


def test_nothing_in_common_prunes_by_count_only_and_refuses_zero():
    plan = prune_plan(_names(1, 2, 3), [], keep_source=2, keep_target=5)
    assert plan.common is None and plan.source == tuple(_names(1)) and plan.target == ()
    with pytest.raises(ValueError, match="at least 1"):
        prune_plan(_names(1), [], keep_source=0, keep_target=1)


# One step of a schedule. A run fails before its snapshot; or its send fails (the undo destroys the new
# snapshot); or its worker is killed after the snapshot (no undo: the source keeps it, the target never got
# it), or after the receive (both have it, nothing pruned); or pruning the target fails after the source was
# pruned; or it succeeds (sent from the newest common snapshot, verified, both sides pruned).
STEP = st.sampled_from(["ok", "ok", "ok", "fail_before", "fail_send", "killed_after_snapshot",
                        "killed_after_receive", "target_prune_failed"])


@settings(max_examples=400, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=40), keep_source=st.integers(1, 5), keep_target=st.integers(1, 8))
def test_random_schedules_with_failures_never_break_the_chain(steps, keep_source, keep_target):
    source: set[str] = set()
    target: set[str] = set()
    for i, step in enumerate(steps):
        name = f"calypso-1-{i:06d}"
        if step in ("fail_before", "fail_send"):
            continue
        if target and newest_common(source, target) is None:
            pytest.fail(f"step {i}: the replica holds snapshots but none in common: the chain is broken")
        source.add(name)
        if step == "killed_after_snapshot":
            continue
        target.add(name)
        if step == "killed_after_receive":
            continue
        plan = prune_plan(source, target, keep_source, keep_target)
        assert plan.common == name  # what was just sent is the newest on both sides: the next base
        assert name not in plan.source and name not in plan.target
        source -= set(plan.source)
        if step != "target_prune_failed":
            target -= set(plan.target)
            assert len(target) <= keep_target
        assert len(source) <= keep_source + 1  # its newest, plus the common one when it is older
    assert not target or newest_common(source, target) is not None
