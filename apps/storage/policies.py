"""Snapshot policies: a desired-state resource (create/update/delete through ``POLICIES``), dry runs,
the policy run job and the beat tick that queues due runs.

The retention engine (retention.py) decides; this module feeds it the dataset's snapshot rows after
a refresh from the host, and acts through the storage services, so every snapshot taken or destroyed
is validated and mirrored in the inventory like a manual one, and listed in the run's job log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.resources import ResourceService
from apps.core.runner import Runner, get_runner
from apps.jobs import services as jobs
from apps.jobs.models import Job, JobLocked
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext

from . import retention, services, sync
from .models import Dataset, Snapshot, SnapshotPolicy
from .retention import DryRun, ExistingSnapshot, Frequency, PlannedSnapshot

__all__ = [
    "POLICIES",
    "DatasetPlan",
    "PolicyService",
    "ProtectionProvider",
    "create_policy",
    "delete_policy",
    "dry_run",
    "is_due",
    "next_due",
    "plan",
    "plan_subtree",
    "policy_name",
    "protections",
    "refresh_snapshots",
    "register_protection_provider",
    "run_due_policies",
    "run_policy",
    "start_policy_run",
    "unregister_protection_provider",
    "update_policy",
]

ProtectionProvider = Callable[[Dataset], Mapping[str, str]]
_PROVIDERS: list[ProtectionProvider] = []
EDITABLE_FIELDS = ("name", "dataset", "recursive", "enabled", "naming_template", "frequent_count",
                   "frequent_period_minutes", "hourly", "daily", "weekly", "monthly", "yearly",
                   "protected_snapshots")  # fmt: skip


# ------------------------------------------------------------------ protection
def register_protection_provider(provider: ProtectionProvider) -> ProtectionProvider:
    """Register ``provider(dataset) -> {snapshot name after @: reason}``: names pruning must keep (a
    replication task's incremental base). Usable as a decorator; registering twice is a no-op."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def unregister_protection_provider(provider: ProtectionProvider) -> None:
    """Forget a provider (tests, app teardown)."""
    if provider in _PROVIDERS:
        _PROVIDERS.remove(provider)


def protections(policy: SnapshotPolicy, dataset: Dataset) -> dict[str, str]:
    """Names the policy lists as protected plus those every provider reports for ``dataset`` (holds aside)."""
    found = dict.fromkeys(policy.protected_snapshots or (), _("listed as protected on policy %(p)s") % {
        "p": policy.name})
    for provider in _PROVIDERS:
        for name, reason in (provider(dataset) or {}).items():
            found[name] = f"{found[name]}; {reason}" if name in found else reason
    return found


# ------------------------------------------------------------------ create / update / delete
class PolicyService(ResourceService[SnapshotPolicy]):
    """A policy's rows only (its snapshots stay on the host when it goes); an edited policy is due at
    the next tick, so new counts or a new template apply at once."""

    model = SnapshotPolicy
    fields = EDITABLE_FIELDS

    def prepare(self, obj: SnapshotPolicy, changed: set[str]) -> None:
        obj.next_due_at = None


POLICIES = PolicyService()
create_policy, update_policy, delete_policy = POLICIES.create, POLICIES.update, POLICIES.delete


# ------------------------------------------------------------------ plan
def policy_name(short_name: str) -> str:
    """The name the template produced: Btrfs rows are named ``<subvolume>@<name>``, ZFS rows ``<name>``."""
    return short_name.rpartition("@")[2]


def _moment(now: datetime | str | None) -> datetime:
    if isinstance(now, str):
        now = parse_datetime(now)
    return (now or timezone.now()).astimezone(UTC)


def _subtree(policy: SnapshotPolicy) -> list[Dataset]:
    """The policy's dataset, then (recursive ZFS policies) its present descendants."""
    root = policy.dataset
    if not policy.recursive:
        return [root]
    below = Dataset.objects.filter(pool_id=root.pool_id, gone=False, name__startswith=f"{root.name}/")
    return [root, *below.order_by("name")]


def _existing(policy: SnapshotPolicy, rows: Iterable[Snapshot]) -> list[ExistingSnapshot]:
    """Snapshot rows as the engine sees them. A policy snapshot's age is the time in its name, the
    moment the policy took it, rather than the host's creation time: identical but for seconds in
    production, and what keeps runs with a chosen ``now`` (tests, catching up) consistent."""
    out = []
    for row in rows:
        name = policy_name(row.short_name)
        parsed = retention.parse_snapshot_name(policy.naming_template, name)
        created = parsed[1] if parsed else (row.created_at or row.created)
        holds = tuple(row.holds) or ((f"{row.userrefs} hold(s)",) if row.userrefs else ())
        out.append(ExistingSnapshot(name, created, holds))
    return out


def refresh_snapshots(policy: SnapshotPolicy, runner: Runner) -> None:
    """Re-read the policy's dataset (subtree) and its snapshots from the host into the inventory."""
    dataset = policy.dataset
    sync.refresh_pool_contents(runner, dataset.pool, root=dataset.name)


def _dry_run_with(policy: SnapshotPolicy, existing: list[ExistingSnapshot], planned: list[PlannedSnapshot],
                  now: datetime, protected: Mapping[str, str]) -> DryRun:
    """A descendant's dry run: the root's snapshots are taken in it too (zfs snapshot -r), then it is pruned."""
    rule = policy.rule()
    after = [*existing, *(ExistingSnapshot(p.short_name, now) for p in planned)]
    pruned = retention.prune_plan(rule, policy.naming_template, after, now, protected)
    create = [f"create {p.short_name} ({p.frequency.value}, recursive)" for p in planned]
    destroy = [f"destroy {n} ({f.value}: beyond the newest {rule.count(f)})"
               for f, names in pruned.by_frequency.items() for n in names]
    kept = [f"keep {name}: {reason}" for name, reason in pruned.kept_protected]
    return DryRun(planned, pruned, create, destroy, kept)


@dataclass(frozen=True)
class DatasetPlan:
    """One dataset's part of a policy run."""

    dataset: Dataset
    dry_run: DryRun


def plan_subtree(policy: SnapshotPolicy, now: datetime | None = None, *, runner: Runner | None = None,
                 refresh: bool = True) -> list[DatasetPlan]:
    """What a run at ``now`` would create and prune, per dataset (one for a non-recursive policy)."""
    now = _moment(now)
    if refresh:
        refresh_snapshots(policy, runner or get_runner())
    plans: list[DatasetPlan] = []
    for dataset in _subtree(policy):
        existing = _existing(policy, Snapshot.objects.filter(dataset=dataset))
        protected = protections(policy, dataset)
        if not plans:
            dry = retention.dry_run(policy.rule(), policy.naming_template, existing, now, protected)
        else:
            dry = _dry_run_with(policy, existing, plans[0].dry_run.planned, now, protected)
        plans.append(DatasetPlan(dataset, dry))
    return plans


def plan(policy: SnapshotPolicy, now: datetime | None = None, *, runner: Runner | None = None,
         refresh: bool = True) -> DryRun:
    """The dry run of the policy's own dataset at ``now``, after refreshing its snapshots from the host."""
    return plan_subtree(policy, now, runner=runner, refresh=refresh)[0].dry_run


# ------------------------------------------------------------------ schedule
def _next_period(frequency: Frequency, start: datetime, minutes: int) -> datetime:
    match frequency:
        case Frequency.FREQUENT:
            return start + timedelta(minutes=minutes)
        case Frequency.HOURLY:
            return start + timedelta(hours=1)
        case Frequency.DAILY:
            return start + timedelta(days=1)
        case Frequency.WEEKLY:
            return start + timedelta(days=7)
        case Frequency.MONTHLY:
            return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        case _:
            return start.replace(year=start.year + 1)


def next_due(policy: SnapshotPolicy, now: datetime) -> datetime | None:
    """When the next period of a kept frequency begins after a run at ``now`` (None: nothing kept)."""
    rule, moments = policy.rule(), []
    for frequency in Frequency:
        if rule.count(frequency):
            start = retention.period_start(frequency, now, rule.frequent_period_minutes)
            moments.append(_next_period(frequency, start, rule.frequent_period_minutes))
    return min(moments, default=None)


def is_due(policy: SnapshotPolicy, now: datetime | None = None) -> bool:
    """An enabled policy whose next period has begun, or that never ran since it was created or edited."""
    now = _moment(now)
    return policy.enabled and (policy.next_due_at is None or policy.next_due_at <= now)


# ------------------------------------------------------------------ run
def start_policy_run(policy: SnapshotPolicy, *, actor=None, now: datetime | None = None) -> Job:
    """Queue a run of ``policy`` (one at a time per policy); ``now`` pins the run's reference time."""
    if policy.dataset.gone:
        raise ServiceError("dataset_gone", _("%(n)s is no longer on the host.") % {"n": policy.dataset.name})
    params = {"now": _moment(now).isoformat()} if now is not None else {}
    return jobs.enqueue("storage.snapshotpolicy.run", target=policy, user=actor, params=params,
                        lock_key=policy.lock_key)


def _create(ctx: JobContext, policy: SnapshotPolicy, planned: list[PlannedSnapshot]) -> list[str]:
    dataset, created = policy.dataset, []
    for i, due in enumerate(planned):
        ctx.progress(10 + 40 * i / max(len(planned), 1), _("Taking %(n)s") % {"n": due.short_name})
        snap = services.create_snapshot(dataset, due.short_name, recursive=policy.recursive, runner=ctx.runner)
        ctx.log.info(f"Created {snap.name} ({due.frequency.value}{', recursive' if policy.recursive else ''})")
        created.append(snap.name)
    return created


def _prune(ctx: JobContext, policy: SnapshotPolicy, now: datetime) -> tuple[list[str], list[str]]:
    """Destroy what retention no longer keeps, dataset by dataset; never a held or protected snapshot."""
    destroyed, kept = [], []
    subtree = _subtree(policy)
    for i, dataset in enumerate(subtree):
        ctx.progress(50 + 45 * i / len(subtree), _("Pruning %(n)s") % {"n": dataset.name})
        rows = list(Snapshot.objects.filter(dataset=dataset).select_related("dataset__pool"))
        pruned = retention.prune_plan(policy.rule(), policy.naming_template, _existing(policy, rows), now,
                                      protections(policy, dataset))
        order = {name: i for i, name in enumerate(pruned.destroy)}  # oldest first, as the engine planned
        victims = sorted((row for row in rows if policy_name(row.short_name) in order and not _held(row)),
                         key=lambda row: order[policy_name(row.short_name)])
        for name, reason in pruned.kept_protected:
            ctx.log.info(f"Kept {dataset.name}@{name}: {reason}")
            kept.append(f"{dataset.name}@{name}")
        if victims:
            services.destroy_snapshots(victims, runner=ctx.runner)
        for row in victims:
            ctx.log.info(f"Destroyed {row.name}")
            destroyed.append(row.name)
    return destroyed, kept


def _held(row: Snapshot) -> bool:
    return bool(row.holds or row.userrefs)  # belt and braces: the engine already spares these


@job_kind("storage.snapshotpolicy.run", "Run snapshot policy")
def run_policy(ctx: JobContext, policy: SnapshotPolicy, *, now: str | None = None, **params) -> dict:
    """Worker side: refresh, take the due snapshots, prune by retention, and record the outcome."""
    if policy is None:
        raise ServiceError("not_found", _("The policy was deleted before its run started."))
    moment = _moment(now)
    try:
        ctx.progress(2, _("Reading snapshots of %(n)s") % {"n": policy.dataset.name})
        refresh_snapshots(policy, ctx.runner)
        rows = Snapshot.objects.filter(dataset=policy.dataset)
        planned = retention.due_snapshots(policy.rule(), policy.naming_template, _existing(policy, rows), moment)
        created = _create(ctx, policy, planned)
        destroyed, kept = _prune(ctx, policy, moment)
    except Exception as exc:
        SnapshotPolicy.objects.filter(pk=policy.pk).update(last_run_at=moment, last_error=str(exc)[:4000])
        raise
    SnapshotPolicy.objects.filter(pk=policy.pk).update(last_run_at=moment, last_error="",
                                                       next_due_at=next_due(policy, moment))
    ctx.log.info(f"{len(created)} created, {len(destroyed)} destroyed, {len(kept)} kept as protected.")
    return {"created": created, "destroyed": destroyed, "kept_protected": kept}


def run_due_policies(now: datetime | None = None) -> list[Job]:
    """Beat tick: queue a run of every enabled policy with something due; a policy still running is skipped.
    A given ``now`` is pinned as the runs' reference time; otherwise each run uses its own start time."""
    pinned = now is not None
    now = _moment(now)
    params = {"now": now.isoformat()} if pinned else {}
    queued = []
    candidates = SnapshotPolicy.objects.filter(enabled=True, dataset__gone=False).filter(
        Q(next_due_at__isnull=True) | Q(next_due_at__lte=now)).select_related("dataset__pool")
    for policy in candidates:
        try:
            queued.append(jobs.enqueue("storage.snapshotpolicy.run", target=policy, source="system", params=params,
                                       lock_key=policy.lock_key))
        except JobLocked:
            continue
    return queued


def dry_run(policy: SnapshotPolicy, *, actor=None, runner: Runner | None = None) -> dict:
    """What a run now would create and prune, per dataset, with the reason for each line (reads the host)."""
    plans = plan_subtree(policy, runner=runner)
    rule = policy.rule()

    def body(part: DatasetPlan) -> dict:
        dry = part.dry_run
        doomed = [(name, f) for f, names in dry.plan.by_frequency.items() for name in names]
        return {"dataset": part.dataset.name,
                "create": [{"name": p.short_name, "frequency": p.frequency.value} for p in dry.planned],
                "destroy": [{"name": n, "frequency": f.value, "reason": f"beyond the newest {rule.count(f)} {f.value}"}
                            for n, f in doomed],
                "kept_protected": [{"name": n, "reason": r} for n, r in dry.plan.kept_protected],
                "lines": dry.lines}

    return {"policy": policy.pk, "datasets": [body(p) for p in plans],
            "lines": [f"{p.dataset.name}: {line}" for p in plans for line in p.dry_run.lines]}
