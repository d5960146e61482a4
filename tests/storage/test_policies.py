"""Snapshot policies against a scripted zfs-fuse host: validation, dry runs, protection, beat, audit, API.
Create, update, delete and run are operations (``apps.storage.operations.POLICY``): each writes one audit event."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.runner import CommandError, CommandResult, runner_override
from apps.jobs.models import Job, JobLocked
from apps.jobs.runtime import run_job
from apps.storage import policies, retention
from apps.storage.models import Dataset, Pool, Snapshot, SnapshotPolicy
from apps.storage.operations import POLICY

T0 = datetime(2031, 3, 3, 0, 0, tzinfo=UTC)  # a Monday, midnight
SNAP_PROPS = "creation,used,referenced,userrefs,guid"


@dataclass
class FakeZfsHost:
    """Answers the zfs-fuse commands a policy run issues, from an in-memory tree; records every argv."""

    datasets: list[str]
    snapshots: dict[str, list] = field(default_factory=dict)  # name -> [creation epoch, userrefs]
    calls: list[tuple[str, ...]] = field(default_factory=list)
    clock: datetime = T0  # creation time of snapshots taken
    refuse: dict[str, str] = field(default_factory=dict)  # zfs subcommand -> the error it answers with

    def run(self, argv, *, stdin=None, timeout=60, check=True, env=None) -> CommandResult:
        argv = tuple(argv)
        self.calls.append(argv)
        out, rc, err = ("", 1, self.refuse[argv[1]]) if argv[1] in self.refuse else self._answer(argv)
        result = CommandResult(argv, rc, out, err, 0.0)
        if check and rc:
            raise CommandError(result)
        return result

    def _under(self, root: str, names) -> list[str]:
        return [n for n in names if n == root or n.startswith((f"{root}/", f"{root}@"))]

    def _answer(self, argv: tuple[str, ...]) -> tuple[str, int, str]:
        match argv:
            case ("zfs", "list", "-H", "-o", "name", "-t", "filesystem", "-r", root):
                return "".join(f"{n}\n" for n in self._under(root, self.datasets)), 0, ""
            case ("zfs", "get", "-H", "-p", "-o", "name,property,value,source", "all", *names):
                return "".join(f"{n}\ttype\tfilesystem\t-\n" for n in names), 0, ""
            case ("zfs", "get", "-H", "-p", "-r", "-o", "name,property,value", props, root) if props == SNAP_PROPS:
                rows = [(n, v) for n, v in self.snapshots.items() if self._under(root, [n.partition("@")[0]])]
                return "".join(f"{n}\tcreation\t{c}\n{n}\tuserrefs\t{r}\n{n}\tguid\t{abs(hash(n))}\n"
                               for n, (c, r) in rows), 0, ""
            case ("zfs", "snapshot", *rest):
                name = rest[-1]
                dataset, _, short = name.partition("@")
                targets = self._under(dataset, self.datasets) if "-r" in rest else [dataset]
                for ds in targets:
                    self.snapshots[f"{ds}@{short}"] = [int(self.clock.timestamp()), 0]
                return "", 0, ""
            case ("zfs", "destroy", name):
                if self.snapshots.get(name, [0, 0])[1]:
                    return "", 1, f"cannot destroy '{name}': dataset is busy\n"
                self.snapshots.pop(name, None)
                return "", 0, ""
        return "", 127, f"unexpected command: {shlex.join(argv)}"

    def stream(self, argv, *, on_line, timeout=None, check=True, env=None) -> CommandResult:
        return self.run(argv, check=check)


@pytest.fixture(autouse=True)
def _fuse(settings):
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"


@pytest.fixture
def tank(db):
    pool = Pool.objects.create(name="tank", health="ONLINE")
    Dataset.objects.create(pool=pool, name="tank")
    Dataset.objects.create(pool=pool, name="tank/data")
    Dataset.objects.create(pool=pool, name="tank/data/sub")
    return pool


@pytest.fixture
def data(tank):
    return Dataset.objects.get(name="tank/data")


def hourly_name(when: datetime) -> str:
    return f"calypso_hourly_{when:%Y-%m-%d_%H:%M:%S}"


def host_with_hourlies(count: int, *, end: datetime = T0) -> FakeZfsHost:
    """tank/data (and sub) with ``count`` hourly policy snapshots ending an hour before ``end``."""
    host = FakeZfsHost(["tank", "tank/data", "tank/data/sub"], clock=end)
    for i in range(count, 0, -1):
        when = end - timedelta(hours=i)
        host.snapshots[f"tank/data@{hourly_name(when)}"] = [int(when.timestamp()), 0]
    return host


def make_policy(dataset, **fields) -> SnapshotPolicy:
    values = {"name": "hourly-data", "dataset": dataset, "hourly": 5, "daily": 0, "monthly": 0} | fields
    return policies.create_policy(**values)


# ------------------------------------------------------------------ validation
@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "field"), [
    ({"naming_template": "snap_{time}"}, "naming_template"),
    ({"naming_template": "{frequency}_{time:%Y}"}, "naming_template"),
    ({"naming_template": "x y {frequency}_{time}"}, "naming_template"),
    ({"hourly": -1}, "hourly"),
    ({"yearly": -3}, "yearly"),
    ({"frequent_period_minutes": 7}, "frequent_period_minutes"),
    ({"protected_snapshots": "calypso_daily"}, "protected_snapshots"),
    ({"colour": "blue"}, "colour"),
])
def test_invalid_policy_names_the_field(data, fields, field):
    with pytest.raises(ValidationError) as err:
        make_policy(data, **fields)
    assert set(err.value.message_dict) == {field}, err.value.message_dict  # that field, and no other
    assert not SnapshotPolicy.objects.exists()


@pytest.mark.django_db
def test_every_bad_field_is_named_at_once(data):
    with pytest.raises(ValidationError) as err:
        make_policy(data, naming_template="nope", frequent_period_minutes=7, protected_snapshots=[""])
    assert set(err.value.message_dict) == {"naming_template", "frequent_period_minutes", "protected_snapshots"}
    assert not SnapshotPolicy.objects.exists()


@pytest.mark.django_db
def test_btrfs_policy_refuses_recursive_and_the_top_level(db):
    pool = Pool.objects.create(name="bfs", backend="btrfs", mountpoint="/mnt/bfs")
    top = Dataset.objects.create(pool=pool, name="bfs", kind="subvolume")
    home = Dataset.objects.create(pool=pool, name="bfs/home", kind="subvolume")
    with pytest.raises(ValidationError) as err:
        make_policy(home, recursive=True)
    assert set(err.value.message_dict) == {"recursive"}
    with pytest.raises(ValidationError) as err:
        make_policy(top)
    assert set(err.value.message_dict) == {"dataset"}
    assert make_policy(home).pk


@pytest.mark.django_db
def test_api_validation_is_400_naming_the_field(data, operator_user, client_for):
    client = client_for(operator_user)
    url = "/api/v1/storage/snapshot-policies/"
    base = {"name": "p1", "dataset": data.pk, "hourly": 24}
    for bad, name in (({"naming_template": "nope"}, "naming_template"), ({"daily": -2}, "daily"),
                      ({"frequent_period_minutes": 7}, "frequent_period_minutes")):
        response = client.post(url, base | bad, format="json")
        assert response.status_code == 400, response.content
        assert name in response.json()["error"]["fields"], response.json()
    assert not SnapshotPolicy.objects.exists()


# ------------------------------------------------------------------ audit and CRUD
@pytest.mark.django_db
def test_create_update_delete_are_audited(data, operator_user):
    policy = POLICY["create"].run(actor=operator_user, data={"name": "hourly-data", "dataset": data, "hourly": 5,
                                                             "daily": 0, "monthly": 0})
    pk = policy.pk
    SnapshotPolicy.objects.filter(pk=pk).update(next_due_at=T0)
    policy.refresh_from_db()
    POLICY["update"].run(actor=operator_user, obj=policy, data={"hourly": 10})
    policy.refresh_from_db()
    assert policy.hourly == 10 and policy.next_due_at is None  # an edited policy is due at the next tick
    with pytest.raises(ValidationError):
        POLICY["update"].run(actor=operator_user, obj=policy, data={"daily": -1})
    assert SnapshotPolicy.objects.get(pk=pk).daily == 0  # nothing saved
    POLICY["delete"].run(actor=operator_user, obj=policy)
    assert not SnapshotPolicy.objects.exists()
    events = AuditEvent.objects.filter(object_type="storage.snapshotpolicy").order_by("id")
    assert [(e.action, e.outcome) for e in events] == [
        ("storage.snapshotpolicy.create", "ok"), ("storage.snapshotpolicy.update", "ok"),
        ("storage.snapshotpolicy.update", "denied"), ("storage.snapshotpolicy.delete", "ok")]
    assert {e.object_id for e in events} == {str(pk)} and {e.actor for e in events} == {operator_user}
    assert events[0].changes["name"] == [None, "hourly-data"]
    assert events[1].changes["hourly"] == [5, 10] and events[1].changes["next_due_at"][1] is None
    assert "daily" in events[2].message


@pytest.mark.django_db
def test_api_crud_round_trip(data, operator_user, client_for):
    client = client_for(operator_user)
    url = "/api/v1/storage/snapshot-policies/"
    response = client.post(url, {"name": "p1", "dataset": data.pk, "hourly": 24, "daily": 7, "recursive": True,
                                 "protected_snapshots": ["base1"]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["dataset_name"] == "tank/data" and body["protected_snapshots"] == ["base1"]
    detail = f"{url}{body['id']}/"
    assert client.patch(detail, {"weekly": 4}, format="json").json()["weekly"] == 4
    assert client.get(url).json()["results"][0]["name"] == "p1"
    assert client.delete(detail).status_code == 204
    actions = set(AuditEvent.objects.filter(object_type="storage.snapshotpolicy").values_list("action", flat=True))
    assert actions == {"storage.snapshotpolicy.create", "storage.snapshotpolicy.update",
                       "storage.snapshotpolicy.delete"}


# ------------------------------------------------------------------ dry run
@pytest.mark.django_db
def test_dry_run_lists_what_would_be_created_and_pruned(data):
    host = host_with_hourlies(8)
    policy = make_policy(data, daily=2)
    dry = policies.plan(policy, T0, runner=host)
    assert [p.short_name for p in dry.planned] == [hourly_name(T0), f"calypso_daily_{T0:%Y-%m-%d_%H:%M:%S}"]
    # 8 + 1 new hourlies, keep 5: the 4 oldest go
    assert dry.plan.destroy == [hourly_name(T0 - timedelta(hours=i)) for i in (8, 7, 6, 5)]
    assert dry.lines[0].startswith("create calypso_hourly_") and "beyond the newest 5" in dry.lines[2]
    assert Snapshot.objects.filter(dataset=data).count() == 8  # refreshed from the host first
    assert not any(argv[1] in ("snapshot", "destroy") for argv in host.calls)  # a dry run changes nothing


@pytest.mark.django_db
def test_dry_run_api_gives_reasons(data, viewer_user, client_for):
    # The API's dry run is "a run now": the host's hourlies end in the hour before the current one, so an
    # hourly is due and, 5 being kept, the oldest go (the same two whatever minute this runs at).
    hour = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    host = host_with_hourlies(7, end=hour)
    held = hourly_name(hour - timedelta(hours=7))
    host.snapshots[f"tank/data@{held}"][1] = 1
    policy = make_policy(data)
    asked = timezone.now().replace(microsecond=0)
    with runner_override(host):
        response = client_for(viewer_user).get(f"/api/v1/storage/snapshot-policies/{policy.pk}/dry-run/")
    assert response.status_code == 200, response.content
    body = response.json()
    [part] = body["datasets"]
    assert body["policy"] == policy.pk and part["dataset"] == "tank/data"
    [created] = part["create"]
    frequency, when = retention.parse_snapshot_name(policy.naming_template, created["name"])
    assert created["frequency"] == frequency.value == "hourly" and when >= asked  # named for the moment asked
    assert [d["name"] for d in part["destroy"]] == [hourly_name(hour - timedelta(hours=i)) for i in (6, 5)]
    assert part["destroy"][0] == {"name": hourly_name(hour - timedelta(hours=6)), "frequency": "hourly",
                                  "reason": "beyond the newest 5 hourly"}
    assert part["kept_protected"] == [{"name": held, "reason": "held (1 hold(s))"}]
    assert body["lines"][0] == f"tank/data: create {created['name']} (hourly)"
    assert Snapshot.objects.filter(dataset=data).count() == 7  # refreshed from the host first
    assert not any(argv[1] in ("snapshot", "destroy") for argv in host.calls)  # a dry run changes nothing
    assert not AuditEvent.objects.exists()  # a read, not an operation that changes anything


# ------------------------------------------------------------------ runs and protection
@pytest.mark.django_db
def test_run_never_prunes_held_or_protected_snapshots(data, operator_user):
    host = host_with_hourlies(12)
    old = [hourly_name(T0 - timedelta(hours=i)) for i in range(12, 0, -1)]  # oldest first
    host.snapshots[f"tank/data@{old[0]}"][1] = 1  # a hold (zfs-fuse: counted, tags not listable)
    policy = make_policy(data, protected_snapshots=[old[1]], actor=operator_user)

    def replication_base(dataset):
        return {old[2]: "incremental base of replication task 7"} if dataset.name == "tank/data" else {}

    policies.register_protection_provider(replication_base)
    try:
        job = POLICY["run"].run(actor=operator_user, obj=policy, data={"now": T0})
        assert job.lock_key == f"policy:{policy.pk}" and job.kind == "storage.snapshotpolicy.run"
        assert job.params == {"now": T0.isoformat()} and job.user == operator_user
        with pytest.raises(JobLocked):
            policies.start_policy_run(policy, actor=operator_user)
        job = run_job(job.pk, runner=host)
    finally:
        policies.unregister_protection_provider(replication_base)
    assert job.state == "succeeded", job.error
    assert job.result["created"] == [f"tank/data@{hourly_name(T0)}"]
    # 13 hourlies, keep 5 -> 8 beyond; 3 of those are protected
    assert job.result["destroyed"] == [f"tank/data@{n}" for n in old[3:8]]
    assert job.result["kept_protected"] == [f"tank/data@{n}" for n in old[:3]]
    on_host = sorted(n.partition("@")[2] for n in host.snapshots)
    assert on_host == sorted([*old[:3], *old[8:], hourly_name(T0)])
    assert set(Snapshot.objects.filter(dataset=data).values_list("short_name", flat=True)) == set(on_host)
    messages = list(job.log_entries.values_list("message", flat=True))
    assert any(m.startswith("Created tank/data@calypso_hourly_") for m in messages)
    assert sum(m.startswith("Destroyed ") for m in messages) == 5
    assert any("replication task 7" in m for m in messages) and any("held" in m for m in messages)
    policy.refresh_from_db()
    assert policy.last_run_at == T0 and policy.last_error == "" and policy.next_due_at == T0 + timedelta(hours=1)
    # One event for the operation that queued the run, one for the job's outcome; the snapshots the run
    # took and destroyed are in its log and result, not separate events.
    events = AuditEvent.objects.filter(job_id=job.pk).order_by("id")
    assert [(e.action, e.outcome, e.actor) for e in events] == [
        ("storage.snapshotpolicy.run", "queued", operator_user), ("storage.snapshotpolicy.run", "ok", operator_user)]
    assert events[0].message == f"queued as job #{job.pk}" and events[0].object_id == str(policy.pk)
    assert events[1].source == "job" and events[1].object_id == str(policy.pk)


@pytest.mark.django_db
def test_recursive_run_snapshots_the_subtree_and_prunes_each_dataset(data):
    host = FakeZfsHost(["tank", "tank/data", "tank/data/sub"])
    policy = make_policy(data, recursive=True, hourly=2)
    for step in range(4):
        host.clock = T0 + timedelta(hours=step)
        job = run_job(policies.start_policy_run(policy, now=host.clock).pk, runner=host)
        assert job.state == "succeeded", job.error
    assert ("zfs", "snapshot", "-r", f"tank/data@{hourly_name(T0)}") in host.calls
    for ds in ("tank/data", "tank/data/sub"):
        kept = sorted(n for n in host.snapshots if n.startswith(f"{ds}@"))
        assert kept == [f"{ds}@{hourly_name(T0 + timedelta(hours=h))}" for h in (2, 3)]
    assert job.result["destroyed"] == [f"tank/data@{hourly_name(T0 + timedelta(hours=1))}",
                                       f"tank/data/sub@{hourly_name(T0 + timedelta(hours=1))}"]


@pytest.mark.django_db
def test_failed_run_records_the_error_on_the_policy(data):
    host = host_with_hourlies(2)
    host.datasets.remove("tank/data/sub")
    host.refuse["snapshot"] = "out of space\n"
    policy = make_policy(data)
    job = run_job(policies.start_policy_run(policy, now=T0).pk, runner=host)
    assert job.state == "failed" and "out of space" in job.error
    policy.refresh_from_db()
    assert "out of space" in policy.last_error and policy.next_due_at is None
    event = AuditEvent.objects.get(action="storage.snapshotpolicy.run", job_id=job.pk)  # the job's outcome
    assert event.outcome == "failed" and "out of space" in event.message


# ------------------------------------------------------------------ beat
@pytest.mark.django_db
def test_beat_queues_only_enabled_due_policies_and_skips_running_ones(data):
    due_never_ran = make_policy(data, name="never-ran")
    due_now = make_policy(data, name="due")
    SnapshotPolicy.objects.filter(pk=due_now.pk).update(next_due_at=T0 - timedelta(minutes=1))
    later = make_policy(data, name="later")
    SnapshotPolicy.objects.filter(pk=later.pk).update(next_due_at=T0 + timedelta(minutes=30))
    make_policy(data, name="off", enabled=False)
    queued = policies.run_due_policies(now=T0)
    assert sorted(j.target_label for j in queued) == ["due", "never-ran"]
    assert all(j.kind == "storage.snapshotpolicy.run" and j.params == {"now": T0.isoformat()} for j in queued)
    assert all(j.source == "system" and j.user is None for j in queued)
    assert policies.run_due_policies(now=T0) == []  # both still queued: locked, skipped without error
    assert Job.objects.filter(kind="storage.snapshotpolicy.run").count() == 2
    later.refresh_from_db()
    assert policies.is_due(due_never_ran, T0) and not policies.is_due(later, T0)


@pytest.mark.django_db
def test_beat_task_is_scheduled(settings):
    from apps.storage.tasks import run_due_policies_task

    entry = settings.CELERY_BEAT_SCHEDULE["storage.policies"]
    assert entry["task"] == run_due_policies_task.name == "storage.run_due_policies"


def test_next_due_is_the_earliest_next_period():
    policy = SnapshotPolicy(hourly=0, daily=7, weekly=0, monthly=2, yearly=0, frequent_count=0)
    assert policies.next_due(policy, T0 + timedelta(hours=5)) == T0 + timedelta(days=1)
    policy.hourly = 3
    assert policies.next_due(policy, T0 + timedelta(minutes=59)) == T0 + timedelta(hours=1)
    dec = datetime(2031, 12, 31, 23, 30, tzinfo=UTC)
    assert policies.next_due(SnapshotPolicy(hourly=0, daily=0, monthly=1), dec) == datetime(2032, 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------ permissions
@pytest.mark.django_db
def test_viewer_cannot_run_or_edit_operator_can_run(data, viewer_user, operator_user, client_for):
    policy = make_policy(data)
    url = f"/api/v1/storage/snapshot-policies/{policy.pk}/"
    viewer = client_for(viewer_user)
    assert viewer.get(url).status_code == 200
    assert viewer.post(f"{url}run/").status_code == 403
    assert viewer.patch(url, {"hourly": 1}, format="json").status_code == 403
    assert viewer.post("/api/v1/storage/snapshot-policies/", {"name": "x", "dataset": data.pk},
                       format="json").status_code == 403
    assert not Job.objects.exists()
    response = client_for(operator_user).post(f"{url}run/")
    assert response.status_code == 202, response.content
    assert response.json()["kind"] == "storage.snapshotpolicy.run" and response["Location"].startswith("/api/v1/jobs/")
    assert client_for(operator_user).post(f"{url}run/").status_code == 409  # one run at a time


@pytest.mark.django_db
def test_admin_lists_policies_and_runs_now(data, admin_user, client):
    policy = make_policy(data)
    client.force_login(admin_user)
    assert client.get("/admin/storage/snapshotpolicy/").status_code == 200
    page = client.get(f"/admin/storage/snapshotpolicy/{policy.pk}/change/")
    assert page.status_code == 200 and b"nothing to do" not in page.content  # never run: hourly is due
    assert f"create {hourly_name(T0)[:15]}".encode() in page.content
    response = client.post("/admin/storage/snapshotpolicy/", {"action": "run_selected", "_selected_action": [policy.pk]})
    assert response.status_code == 302
    job = Job.objects.get(kind="storage.snapshotpolicy.run", target_id=str(policy.pk))
    assert job.user == admin_user
    assert AuditEvent.objects.get(action="storage.snapshotpolicy.run").job_id == job.pk
