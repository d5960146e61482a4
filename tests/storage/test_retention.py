"""Snapshot policy engine: naming, due periods, pruning, protection and long-run simulation."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import pytest

from apps.storage.retention import (
    DEFAULT_TEMPLATE,
    ExistingSnapshot,
    Frequency,
    PlannedSnapshot,
    RetentionRule,
    dry_run,
    due_snapshots,
    format_snapshot_name,
    parse_snapshot_name,
    period_start,
    prune_plan,
    simulate,
    validate_template,
)

T = DEFAULT_TEMPLATE


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def snap(frequency: Frequency, when: datetime, holds: tuple[str, ...] = ()) -> ExistingSnapshot:
    return ExistingSnapshot(format_snapshot_name(T, frequency, when), when, holds)


def due(rule: RetentionRule, existing: list[ExistingSnapshot], now: datetime) -> set[Frequency]:
    return {p.frequency for p in due_snapshots(rule, T, existing, now)}


def hourlies(count: int, newest: datetime) -> list[ExistingSnapshot]:
    return [snap(Frequency.HOURLY, newest - timedelta(hours=i)) for i in range(count)]


# --- naming -----------------------------------------------------------------------------------


def test_default_name_and_roundtrip() -> None:
    when = at(2026, 11, 24)
    name = format_snapshot_name(T, Frequency.DAILY, when)
    assert name == "calypso_daily_2026-11-24_00:00:00"
    assert parse_snapshot_name(T, name) == (Frequency.DAILY, when)


@pytest.mark.parametrize("frequency", list(Frequency))
def test_roundtrip_every_frequency_and_custom_template(frequency: Frequency) -> None:
    template = "auto-{time:%Y%m%d.%H%M}-{frequency}"
    when = at(2027, 2, 3, 4, 5)
    name = format_snapshot_name(template, frequency, when)
    assert name == f"auto-20270203.0405-{frequency.value}"
    assert parse_snapshot_name(template, name) == (frequency, when)


def test_names_are_rendered_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    name = format_snapshot_name(T, Frequency.HOURLY, datetime(2026, 1, 1, 1, 30, tzinfo=plus_two))
    assert name == "calypso_hourly_2025-12-31_23:30:00"


def test_time_placeholder_without_spec_uses_default_format() -> None:
    assert format_snapshot_name("x_{frequency}_{time}", Frequency.YEARLY, at(2026, 1, 1)) == (
        "x_yearly_2026-01-01_00:00:00"
    )


@pytest.mark.parametrize(
    "name",
    [
        "manual-before-upgrade",
        "calypso_daily_2026-11-24",
        "calypso_weekly2_2026-11-24_00:00:00",
        "calypso_daily_2026-13-40_00:00:00",
        "calypso_daily_2026-11-24_00:00:00x",
        "xcalypso_daily_2026-11-24_00:00:00",
        "calypso_Daily_2026-11-24_00:00:00",
        "zrepl_20261124_000000_000",
    ],
)
def test_foreign_names_are_not_recognised(name: str) -> None:
    assert parse_snapshot_name(T, name) is None


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("", "empty"),
        ("calypso {frequency}_{time}", "disallowed"),
        ("calypso/{frequency}_{time}", "disallowed"),
        ("calypso@{frequency}_{time}", "disallowed"),
        ("c_{frequency}_{time:%Y-%m-%d %H:%M}", "disallowed"),
        ("c_{frequency}_{time:%Y-%m-%d_%H:%M:%f}", "%f"),
        ("c_{frequency}_{time:%Y-%m-%d_%H}", "%M"),
        ("c_{frequency}_{time:%Y-%m-%d_%H:%M:%M}", "repeated"),
        ("c_{time}", "{frequency}"),
        ("c_{frequency}", "{time}"),
        ("c_{frequency}_{frequency}_{time}", "more than once"),
        ("c_{dataset}_{frequency}_{time}", "{dataset}"),
        ("c_{frequency:>10}_{time}", "format spec"),
        ("c_{frequency!r}_{time}", "conversion"),
        ("c_{frequency_{time}", "malformed"),
        ("c_{{literal}}_{frequency}_{time}", "disallowed"),
        ("c" * 190 + "_{frequency}_{time}", "longer than"),
    ],
)
def test_invalid_templates_are_rejected_with_the_problem(template: str, problem: str) -> None:
    with pytest.raises(ValueError, match="template") as info:
        validate_template(template)
    assert problem in str(info.value)


def test_valid_templates_pass() -> None:
    validate_template(T)
    validate_template("a.b-c:{frequency}_{time:%Y-%m-%dT%H.%M.%S}")


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_snapshot_name(T, Frequency.DAILY, datetime(2026, 1, 1))


# --- rule -------------------------------------------------------------------------------------


def test_rule_validation_and_counts() -> None:
    rule = RetentionRule(frequent_count=4, hourly=24, daily=7, weekly=4, monthly=12, yearly=2)
    assert [rule.count(f) for f in Frequency] == [4, 24, 7, 4, 12, 2]
    with pytest.raises(ValueError, match="hourly"):
        RetentionRule(hourly=-1)
    with pytest.raises(ValueError, match="frequent_period_minutes"):
        RetentionRule(frequent_period_minutes=7)
    with pytest.raises(ValueError, match="frequent_period_minutes"):
        RetentionRule(frequent_period_minutes=0)


# --- due logic --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "now", "start"),
    [
        (Frequency.FREQUENT, at(2026, 11, 24, 13, 44, 59), at(2026, 11, 24, 13, 30)),
        (Frequency.HOURLY, at(2026, 11, 24, 13, 44, 59), at(2026, 11, 24, 13)),
        (Frequency.DAILY, at(2026, 11, 24, 13, 44), at(2026, 11, 24)),
        (Frequency.WEEKLY, at(2026, 11, 29, 23, 59), at(2026, 11, 23)),
        (Frequency.WEEKLY, at(2026, 11, 30), at(2026, 11, 30)),
        (Frequency.MONTHLY, at(2026, 11, 24, 13), at(2026, 11, 1)),
        (Frequency.YEARLY, at(2026, 11, 24, 13), at(2026, 1, 1)),
    ],
)
def test_period_start(frequency: Frequency, now: datetime, start: datetime) -> None:
    assert period_start(frequency, now) == start


def test_nothing_due_for_zero_counts_and_all_due_initially() -> None:
    now = at(2026, 11, 24, 10, 7)
    assert due_snapshots(RetentionRule(), T, [], now) == []
    rule = RetentionRule(frequent_count=1, hourly=1, daily=1, weekly=1, monthly=1, yearly=1)
    planned = due_snapshots(rule, T, [], now)
    assert [p.frequency for p in planned] == list(Frequency)
    assert planned[1] == PlannedSnapshot(Frequency.HOURLY, "calypso_hourly_2026-11-24_10:07:00")


def test_hourly_due_at_top_of_hour() -> None:
    rule = RetentionRule(hourly=24)
    existing = [snap(Frequency.HOURLY, at(2026, 11, 24, 10, 0, 5))]
    assert due(rule, existing, at(2026, 11, 24, 10, 59, 59)) == set()
    assert due(rule, existing, at(2026, 11, 24, 11)) == {Frequency.HOURLY}


def test_frequent_due_per_slot() -> None:
    rule = RetentionRule(frequent_count=4, frequent_period_minutes=15)
    existing = [snap(Frequency.FREQUENT, at(2026, 11, 24, 10, 15))]
    assert due(rule, existing, at(2026, 11, 24, 10, 29, 59)) == set()
    assert due(rule, existing, at(2026, 11, 24, 10, 30)) == {Frequency.FREQUENT}


def test_daily_due_just_after_midnight() -> None:
    rule = RetentionRule(daily=7)
    existing = [snap(Frequency.DAILY, at(2026, 11, 24))]
    assert due(rule, existing, at(2026, 11, 24, 23, 59, 59)) == set()
    assert due(rule, existing, at(2026, 11, 25)) == {Frequency.DAILY}


def test_weekly_due_on_monday() -> None:
    rule = RetentionRule(weekly=4)
    existing = [snap(Frequency.WEEKLY, at(2026, 11, 23, 0, 1))]  # a Monday
    assert due(rule, existing, at(2026, 11, 29, 23, 59, 59)) == set()  # Sunday night
    assert due(rule, existing, at(2026, 11, 30)) == {Frequency.WEEKLY}


def test_monthly_due_on_the_first() -> None:
    rule = RetentionRule(monthly=12)
    existing = [snap(Frequency.MONTHLY, at(2026, 11, 1, 3))]
    assert due(rule, existing, at(2026, 11, 30, 23, 59, 59)) == set()
    assert due(rule, existing, at(2026, 12, 1)) == {Frequency.MONTHLY}


def test_yearly_due_on_january_first() -> None:
    rule = RetentionRule(yearly=2)
    existing = [snap(Frequency.YEARLY, at(2026, 1, 1))]
    assert due(rule, existing, at(2026, 12, 31, 23, 59, 59)) == set()
    assert due(rule, existing, at(2027, 1, 1)) == {Frequency.YEARLY}


def test_frequencies_are_independent_and_foreign_snapshots_do_not_count() -> None:
    rule = RetentionRule(hourly=24, daily=7)
    now = at(2026, 11, 24, 12, 30)
    existing = [
        snap(Frequency.HOURLY, at(2026, 11, 24, 12)),
        ExistingSnapshot("calypso_daily_manual", at(2026, 11, 24, 1)),
        ExistingSnapshot("before-upgrade", at(2026, 11, 24, 2)),
    ]
    assert due(rule, existing, now) == {Frequency.DAILY}


# --- pruning ----------------------------------------------------------------------------------


def test_keeps_newest_n_per_frequency_and_destroys_oldest_first() -> None:
    now = at(2026, 11, 24, 12)
    existing = hourlies(6, now) + [snap(Frequency.DAILY, at(2026, 11, d)) for d in range(20, 25)]
    plan = prune_plan(RetentionRule(hourly=3, daily=2), T, existing, now, set())
    assert plan.destroy == [
        "calypso_hourly_2026-11-24_07:00:00",
        "calypso_hourly_2026-11-24_08:00:00",
        "calypso_hourly_2026-11-24_09:00:00",
        "calypso_daily_2026-11-20_00:00:00",
        "calypso_daily_2026-11-21_00:00:00",
        "calypso_daily_2026-11-22_00:00:00",
    ]
    assert plan.by_frequency[Frequency.HOURLY] == plan.destroy[:3]
    assert plan.kept_protected == []


def test_zero_count_prunes_the_whole_frequency() -> None:
    now = at(2026, 11, 24, 12)
    plan = prune_plan(RetentionRule(daily=7), T, hourlies(2, now), now, set())
    assert len(plan.destroy) == 2


def test_ordering_uses_creation_time_not_list_order() -> None:
    now = at(2026, 11, 24, 12)
    existing = list(reversed(hourlies(3, now)))
    plan = prune_plan(RetentionRule(hourly=1), T, existing, now, set())
    assert plan.destroy == ["calypso_hourly_2026-11-24_10:00:00", "calypso_hourly_2026-11-24_11:00:00"]


def test_held_and_protected_snapshots_are_never_pruned() -> None:
    now = at(2026, 11, 24, 12)
    existing = hourlies(5, now)
    held = snap(Frequency.HOURLY, now - timedelta(hours=4), holds=("replication", "backup"))
    existing[4] = held
    base = existing[3].short_name
    plan = prune_plan(RetentionRule(hourly=1), T, existing, now, {base})
    assert held.short_name not in plan.destroy and base not in plan.destroy
    assert plan.destroy == [existing[2].short_name, existing[1].short_name]
    assert plan.kept_protected == [
        (held.short_name, "held (backup, replication)"),
        (base, "protected (still needed, e.g. as a replication base)"),
    ]


def test_protected_mapping_supplies_reasons() -> None:
    now = at(2026, 11, 24, 12)
    existing = hourlies(2, now)
    protected = {existing[1].short_name: "incremental base of replication task offsite"}
    plan = prune_plan(RetentionRule(hourly=1), T, existing, now, protected)
    assert plan.destroy == []
    assert plan.kept_protected == [(existing[1].short_name, "incremental base of replication task offsite")]


def test_protection_only_reported_for_snapshots_that_would_go() -> None:
    now = at(2026, 11, 24, 12)
    existing = hourlies(2, now)
    plan = prune_plan(RetentionRule(hourly=2), T, existing, now, {existing[0].short_name})
    assert plan.destroy == [] and plan.kept_protected == []


def test_future_snapshots_are_kept() -> None:
    now = at(2026, 11, 24, 12)
    future = snap(Frequency.DAILY, now + timedelta(days=1))
    plan = prune_plan(RetentionRule(hourly=1), T, [future], now, set())
    assert plan.destroy == []
    assert "clock skew" in plan.kept_protected[0][1]


def test_foreign_snapshots_are_never_touched() -> None:
    now = at(2026, 11, 24, 12)
    foreign = [
        ExistingSnapshot("before-upgrade", at(2020, 1, 1)),
        ExistingSnapshot("calypso_hourly_yesterday", at(2020, 1, 1)),
        ExistingSnapshot("other_hourly_2020-01-01_00:00:00", at(2020, 1, 1)),
    ]
    plan = prune_plan(RetentionRule(), T, foreign + hourlies(3, now), now, set())
    assert len(plan.destroy) == 3
    assert not {f.short_name for f in foreign} & set(plan.destroy)


def test_other_template_snapshots_are_foreign() -> None:
    now = at(2026, 11, 24, 12)
    other = ExistingSnapshot(format_snapshot_name("site-b_{frequency}_{time}", Frequency.HOURLY, now), now)
    assert parse_snapshot_name(T, other.short_name) is None
    assert prune_plan(RetentionRule(), T, [other], now, set()).destroy == []


# --- dry run ----------------------------------------------------------------------------------


def test_dry_run_lines() -> None:
    now = at(2026, 11, 25, 0, 0, 30)
    existing = hourlies(3, at(2026, 11, 24, 23))
    existing[2] = snap(Frequency.HOURLY, at(2026, 11, 24, 21), holds=("send",))
    result = dry_run(RetentionRule(hourly=2, daily=7), T, existing, now, set())
    assert result.create == [
        "create calypso_hourly_2026-11-25_00:00:30 (hourly)",
        "create calypso_daily_2026-11-25_00:00:30 (daily)",
    ]
    assert result.destroy == ["destroy calypso_hourly_2026-11-24_22:00:00 (hourly: beyond the newest 2)"]
    assert result.kept == ["keep calypso_hourly_2026-11-24_21:00:00: held (send)"]
    assert [p.frequency for p in result.planned] == [Frequency.HOURLY, Frequency.DAILY]
    assert str(result) == "\n".join(result.create + result.destroy + result.kept)


def test_dry_run_with_nothing_to_do() -> None:
    now = at(2026, 11, 24, 12, 10)
    result = dry_run(RetentionRule(hourly=24), T, hourlies(1, at(2026, 11, 24, 12)), now, set())
    assert result.lines == ["nothing to do"]
    assert str(result) == "nothing to do"


# --- simulation -------------------------------------------------------------------------------


def by_frequency(snapshots: list[ExistingSnapshot]) -> Counter[Frequency]:
    parsed = [parse_snapshot_name(T, s.short_name) for s in snapshots]
    return Counter(p[0] for p in parsed if p)


def test_simulate_300_hours() -> None:
    start = at(2026, 11, 1)
    end = start + timedelta(hours=300)
    final = simulate(RetentionRule(hourly=24, daily=7), T, start, end, timedelta(hours=1))
    assert by_frequency(final) == {Frequency.HOURLY: 24, Frequency.DAILY: 7}
    newest = end - timedelta(hours=1)
    assert {s.created_at for s in final if "hourly" in s.short_name} == {newest - timedelta(hours=i) for i in range(24)}
    assert {s.created_at for s in final if "daily" in s.short_name} == {at(2026, 11, d) for d in range(7, 14)}


def test_simulate_short_run_keeps_what_exists() -> None:
    start = at(2026, 11, 1, 5, 30)
    final = simulate(RetentionRule(hourly=24, daily=7), T, start, start + timedelta(hours=50), timedelta(hours=1))
    # Daily snapshots on Nov 1 (first run), Nov 2 and Nov 3.
    assert by_frequency(final) == {Frequency.HOURLY: 24, Frequency.DAILY: 3}


def test_simulate_long_run_all_frequencies() -> None:
    rule = RetentionRule(frequent_count=4, hourly=48, daily=30, weekly=8, monthly=12, yearly=3)
    start = at(2026, 3, 10, 8, 20)
    final = simulate(rule, T, start, start + timedelta(days=5 * 365), timedelta(hours=12))
    counts = by_frequency(final)
    assert counts == {
        Frequency.FREQUENT: 4,
        Frequency.HOURLY: 48,
        Frequency.DAILY: 30,
        Frequency.WEEKLY: 8,
        Frequency.MONTHLY: 12,
        Frequency.YEARLY: 3,
    }
    yearly = sorted(s.created_at.year for s in final if "yearly" in s.short_name)
    assert yearly == [2029, 2030, 2031]


def test_simulate_respects_existing_holds() -> None:
    start = at(2026, 11, 1)
    held = snap(Frequency.HOURLY, start - timedelta(days=3), holds=("keep",))
    final = simulate(RetentionRule(hourly=2), T, start, start + timedelta(hours=10), timedelta(hours=1), [held])
    assert held in final and by_frequency(final)[Frequency.HOURLY] == 3


def test_simulate_rejects_non_positive_step() -> None:
    with pytest.raises(ValueError, match="step"):
        simulate(RetentionRule(hourly=1), T, at(2026, 1, 1), at(2026, 1, 2), timedelta(0))
