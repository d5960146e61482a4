"""Snapshot policy engine: naming, due snapshots and count-based pruning for retention rules."""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache

__all__ = [
    "DEFAULT_TEMPLATE",
    "DEFAULT_TIME_FORMAT",
    "MAX_NAME_LENGTH",
    "DryRun",
    "ExistingSnapshot",
    "Frequency",
    "PlannedSnapshot",
    "Protected",
    "PrunePlan",
    "RetentionRule",
    "dry_run",
    "due_snapshots",
    "format_snapshot_name",
    "parse_snapshot_name",
    "period_start",
    "prune_plan",
    "simulate",
    "validate_template",
]

DEFAULT_TIME_FORMAT = "%Y-%m-%d_%H:%M:%S"
DEFAULT_TEMPLATE = "calypso_{frequency}_{time:" + DEFAULT_TIME_FORMAT + "}"
MAX_NAME_LENGTH = 200
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")
_DIRECTIVES = {"Y": r"\d{4}", "m": r"\d{2}", "d": r"\d{2}", "H": r"\d{2}", "M": r"\d{2}", "S": r"\d{2}"}
_REQUIRED_DIRECTIVES = "YmdHM"
_MINUTES_PER_DAY = 24 * 60
_PROTECTED_REASON = "protected (still needed, e.g. as a replication base)"
# Snapshot names pruning must keep: a collection, or a mapping of name -> why.
Protected = Collection[str] | Mapping[str, str]


class Frequency(StrEnum):
    """How often a policy snapshot is taken; declaration order is shortest period first."""

    FREQUENT = "frequent"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


@dataclass(frozen=True)
class RetentionRule:
    """How many snapshots of each frequency to keep (0 disables the frequency and prunes it)."""

    frequent_count: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    frequent_period_minutes: int = 15

    def __post_init__(self) -> None:
        """Reject negative counts and frequent periods that do not divide a day evenly."""
        for name in ("frequent_count", "hourly", "daily", "weekly", "monthly", "yearly"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"retention count {name} must be a non-negative integer, got {value!r}")
        period = self.frequent_period_minutes
        if isinstance(period, bool) or not isinstance(period, int) or period < 1 or _MINUTES_PER_DAY % period:
            raise ValueError(f"frequent_period_minutes must be a positive divisor of 1440, got {period!r}")

    def count(self, frequency: Frequency) -> int:
        """The number of snapshots of `frequency` to keep."""
        return getattr(self, "frequent_count" if frequency is Frequency.FREQUENT else frequency.value)


@dataclass(frozen=True)
class ExistingSnapshot:
    """A snapshot of the dataset as listed by the backend (short name is the part after '@')."""

    short_name: str
    created_at: datetime
    holds: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedSnapshot:
    """A snapshot the policy wants taken now."""

    frequency: Frequency
    short_name: str


@dataclass
class PrunePlan:
    """Snapshots to destroy (oldest first) and the ones kept only because they are protected."""

    destroy: list[str] = field(default_factory=list)
    kept_protected: list[tuple[str, str]] = field(default_factory=list)
    by_frequency: dict[Frequency, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class DryRun:
    """What a policy run would do, structured and as human-readable lines."""

    planned: list[PlannedSnapshot]
    plan: PrunePlan
    create: list[str]
    destroy: list[str]
    kept: list[str]

    @property
    def lines(self) -> list[str]:
        """All lines in execution order, or a single 'nothing to do' line."""
        return [*self.create, *self.destroy, *self.kept] or ["nothing to do"]

    def __str__(self) -> str:
        """The lines joined with newlines."""
        return "\n".join(self.lines)


@dataclass(frozen=True)
class _Template:
    """A validated template: a str.format layout and a regex recognising its names."""

    layout: str
    pattern: re.Pattern[str]
    time_format: str


def _utc(moment: datetime) -> datetime:
    """`moment` converted to UTC; naive datetimes are rejected."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment!r} must be timezone-aware")
    return moment.astimezone(UTC)


def _check_chars(template: str, text: str, where: str) -> None:
    """Raise when `text` has characters that are not allowed in snapshot names."""
    bad = sorted(set(text) - _ALLOWED)
    if bad:
        raise ValueError(
            f"snapshot name template {template!r}: {where} contains disallowed character(s) "
            f"{''.join(bad)!r}; names may only use letters, digits and _ . : -"
        )


def _time_regex(template: str, time_format: str) -> str:
    """The regex group matching `time_format`, validating its directives and literal characters."""
    pieces: list[str] = []
    found: list[str] = []
    for token in re.findall(r"%.?|[^%]+", time_format, flags=re.DOTALL):
        if not token.startswith("%"):
            _check_chars(template, token, "time format")
            pieces.append(re.escape(token))
            continue
        directive = token[1:]
        if directive not in _DIRECTIVES:
            raise ValueError(
                f"snapshot name template {template!r}: time directive {token!r} is not supported "
                "(use %Y %m %d %H %M %S)"
            )
        if directive in found:
            raise ValueError(f"snapshot name template {template!r}: time directive {token!r} is repeated")
        found.append(directive)
        pieces.append(_DIRECTIVES[directive])
    missing = [f"%{d}" for d in _REQUIRED_DIRECTIVES if d not in found]
    if missing:
        raise ValueError(f"snapshot name template {template!r}: time format lacks {' '.join(missing)}")
    return "(?P<time>" + "".join(pieces) + ")"


def _field(template: str, name: str, spec: str, conversion: str | None) -> tuple[str, str, str | None]:
    """Layout piece, regex piece and time format (for {time}) of one placeholder."""
    if conversion:
        raise ValueError(f"snapshot name template {template!r}: conversion !{conversion} is not allowed")
    if name == "frequency" and not spec:
        alternatives = "|".join(re.escape(f.value) for f in Frequency)
        return "{frequency}", f"(?P<frequency>{alternatives})", None
    if name == "time":
        time_format = spec or DEFAULT_TIME_FORMAT
        return "{time:" + time_format + "}", _time_regex(template, time_format), time_format
    problem = "takes no format spec" if name == "frequency" else "is unknown (use {frequency} and {time:...})"
    raise ValueError(f"snapshot name template {template!r}: placeholder {{{name}}} {problem}")


def _parts(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """The str.format parts of `template`, rejecting malformed braces."""
    if not isinstance(template, str) or not template:
        raise ValueError("snapshot name template is empty")
    try:
        return list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"snapshot name template {template!r} is malformed: {exc}") from None


@lru_cache(maxsize=64)
def _compile(template: str) -> _Template:
    """Validate `template` and build its layout and recognising regex."""
    layout, regex, seen, time_format = [], [], [], DEFAULT_TIME_FORMAT
    for literal, name, spec, conversion in _parts(template):
        _check_chars(template, literal, "text")
        layout.append(literal)
        regex.append(re.escape(literal))
        if name is None:
            continue
        if name in seen:
            raise ValueError(f"snapshot name template {template!r}: placeholder {{{name}}} appears more than once")
        seen.append(name)
        piece, pattern, fmt = _field(template, name, spec or "", conversion)
        layout.append(piece)
        regex.append(pattern)
        time_format = fmt or time_format
    for required in ("frequency", "time"):
        if required not in seen:
            raise ValueError(f"snapshot name template {template!r} lacks the {{{required}}} placeholder")
    compiled = _Template("".join(layout), re.compile("".join(regex)), time_format)
    _check_length(template, compiled)
    return compiled


def _check_length(template: str, compiled: _Template) -> None:
    """Raise when the longest name the template can produce exceeds MAX_NAME_LENGTH."""
    sample = datetime(2000, 12, 31, 23, 59, 59, tzinfo=UTC)
    longest = max((compiled.layout.format(frequency=f.value, time=sample) for f in Frequency), key=len)
    if len(longest) > MAX_NAME_LENGTH:
        raise ValueError(f"snapshot name template {template!r} yields names longer than {MAX_NAME_LENGTH} characters")


def validate_template(template: str) -> None:
    """Raise ValueError naming the problem when `template` cannot produce safe, parseable names."""
    _compile(template)


def format_snapshot_name(template: str, frequency: Frequency, when: datetime) -> str:
    """The short snapshot name for `frequency` taken at `when` (rendered in UTC)."""
    return _compile(template).layout.format(frequency=Frequency(frequency).value, time=_utc(when))


def parse_snapshot_name(template: str, short_name: str) -> tuple[Frequency, datetime] | None:
    """(frequency, UTC time) of a name the template produced, or None for foreign snapshots."""
    return _parse(template, short_name)


@lru_cache(maxsize=8192)
def _parse(template: str, short_name: str) -> tuple[Frequency, datetime] | None:
    """Cached body of parse_snapshot_name (both arguments and the result are immutable)."""
    compiled = _compile(template)
    match = compiled.pattern.fullmatch(short_name)
    if match is None:
        return None
    try:
        when = datetime.strptime(match["time"], compiled.time_format).replace(tzinfo=UTC)
    except ValueError:
        return None
    frequency = Frequency(match["frequency"])
    if compiled.layout.format(frequency=frequency.value, time=when) != short_name:
        return None
    return frequency, when


def period_start(frequency: Frequency, now: datetime, frequent_period_minutes: int = 15) -> datetime:
    """Start (UTC) of the period of `frequency` that contains `now`."""
    now = _utc(now)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    match Frequency(frequency):
        case Frequency.FREQUENT:
            minutes = now.hour * 60 + now.minute
            return midnight + timedelta(minutes=minutes - minutes % frequent_period_minutes)
        case Frequency.HOURLY:
            return now.replace(minute=0, second=0, microsecond=0)
        case Frequency.DAILY:
            return midnight
        case Frequency.WEEKLY:
            return midnight - timedelta(days=now.weekday())
        case Frequency.MONTHLY:
            return midnight.replace(day=1)
        case _:
            return midnight.replace(month=1, day=1)


def _policy_groups(template: str, existing: Iterable[ExistingSnapshot]) -> dict[Frequency, list[ExistingSnapshot]]:
    """Snapshots made by the template, per frequency, newest first; foreign ones are left out."""
    groups: dict[Frequency, list[ExistingSnapshot]] = {f: [] for f in Frequency}
    for snapshot in existing:
        parsed = parse_snapshot_name(template, snapshot.short_name)
        if parsed is not None:
            groups[parsed[0]].append(snapshot)
    for snapshots in groups.values():
        snapshots.sort(key=lambda s: (_utc(s.created_at), s.short_name), reverse=True)
    return groups


def due_snapshots(
    rule: RetentionRule, template: str, existing: Iterable[ExistingSnapshot], now: datetime
) -> list[PlannedSnapshot]:
    """Snapshots to take now: one per kept frequency with no snapshot yet in its current period."""
    now = _utc(now)
    existing = list(existing)
    groups = _policy_groups(template, existing)
    names = {snapshot.short_name for snapshot in existing}
    planned = []
    for frequency in Frequency:
        if rule.count(frequency) == 0:
            continue
        start = period_start(frequency, now, rule.frequent_period_minutes)
        if any(_utc(snapshot.created_at) >= start for snapshot in groups[frequency]):
            continue
        name = format_snapshot_name(template, frequency, now)
        if name not in names:
            planned.append(PlannedSnapshot(frequency, name))
    return planned


def _protection_reasons(protected: Protected) -> dict[str, str]:
    """Name -> reason for caller-protected snapshots (a mapping may supply its own reasons)."""
    if isinstance(protected, Mapping):
        return {name: reason or _PROTECTED_REASON for name, reason in protected.items()}
    return dict.fromkeys(protected, _PROTECTED_REASON)


def _why_kept(snapshot: ExistingSnapshot, reasons: Mapping[str, str], now: datetime) -> str:
    """Why a snapshot beyond its count must still be kept, or '' when it may be destroyed."""
    why = []
    if snapshot.holds:
        why.append(f"held ({', '.join(sorted(snapshot.holds))})")
    if snapshot.short_name in reasons:
        why.append(reasons[snapshot.short_name])
    if _utc(snapshot.created_at) > now:
        why.append("created after the reference time (clock skew?)")
    return "; ".join(why)


def prune_plan(rule: RetentionRule, template: str, existing: Iterable[ExistingSnapshot], now: datetime,
               protected: Protected = frozenset()) -> PrunePlan:
    """Policy snapshots beyond the newest N of each frequency, except held or protected ones."""
    now = _utc(now)
    reasons = _protection_reasons(protected)
    plan = PrunePlan()
    for frequency, snapshots in _policy_groups(template, existing).items():
        for snapshot in reversed(snapshots[rule.count(frequency) :]):
            why = _why_kept(snapshot, reasons, now)
            if why:
                plan.kept_protected.append((snapshot.short_name, why))
                continue
            plan.destroy.append(snapshot.short_name)
            plan.by_frequency.setdefault(frequency, []).append(snapshot.short_name)
    return plan


def _after_creating(
    existing: Iterable[ExistingSnapshot], planned: list[PlannedSnapshot], now: datetime
) -> list[ExistingSnapshot]:
    """`existing` plus the planned snapshots as if they had just been taken at `now`."""
    return [*existing, *(ExistingSnapshot(p.short_name, now) for p in planned)]


def dry_run(rule: RetentionRule, template: str, existing: Iterable[ExistingSnapshot], now: datetime,
            protected: Protected = frozenset()) -> DryRun:
    """What a run would do at `now`: take due snapshots, then prune (counting the new ones)."""
    now = _utc(now)
    planned = due_snapshots(rule, template, existing := list(existing), now)
    plan = prune_plan(rule, template, _after_creating(existing, planned, now), now, protected)
    create = [f"create {p.short_name} ({p.frequency.value})" for p in planned]
    destroy = [
        f"destroy {name} ({frequency.value}: beyond the newest {rule.count(frequency)})"
        for frequency, names in plan.by_frequency.items()
        for name in names
    ]
    kept = [f"keep {name}: {reason}" for name, reason in plan.kept_protected]
    return DryRun(planned, plan, create, destroy, kept)


def simulate(
    rule: RetentionRule,
    template: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    existing: Iterable[ExistingSnapshot] = (),
) -> list[ExistingSnapshot]:
    """Run the policy at start, start+step, ... (before `end`) and return the surviving snapshots, oldest first."""
    if step <= timedelta(0):
        raise ValueError("simulation step must be positive")
    snapshots, moment, end = list(existing), _utc(start), _utc(end)
    while moment < end:
        snapshots = _after_creating(snapshots, due_snapshots(rule, template, snapshots, moment), moment)
        doomed = set(prune_plan(rule, template, snapshots, moment).destroy)
        snapshots = [s for s in snapshots if s.short_name not in doomed]
        moment += step
    return sorted(snapshots, key=lambda s: (_utc(s.created_at), s.short_name))
