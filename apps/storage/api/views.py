from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.audit.choices import AuditSource
from apps.core.api import CalypsoModelViewSet, CalypsoReadOnlyViewSet, JobAccepted
from apps.core.errors import ServiceError
from apps.core.permissions import perm_name, restrict
from apps.storage import filters, policies, services
from apps.storage.models import Dataset, Pool, Snapshot, SnapshotPolicy, StorageEvent

from . import serializers

__all__ = ["DatasetViewSet", "PoolViewSet", "SnapshotPolicyViewSet", "SnapshotViewSet", "StorageEventViewSet"]

API = AuditSource.API


def _body(request, *names, required=()):
    missing = [n for n in required if request.data.get(n) in (None, "")]
    if missing:
        raise ServiceError("invalid", f"{missing[0]}: this field is required.", field=missing[0])
    return {n: request.data.get(n) for n in names}


def _check_object(request, obj, action_name: str) -> None:
    """A related object named in a body (a dataset's pool): 404 unless visible, 403 without ``action``."""
    if not restrict(type(obj).objects.filter(pk=obj.pk), request.user, "view").exists():
        raise ServiceError("not_found", "Not found.", status=404)
    perm = perm_name(type(obj), action_name)
    if not (request.user.has_perm(perm) or request.user.has_perm(perm, obj)):
        raise ServiceError("permission_denied", "You do not have permission to perform this action.", status=403)


class PoolViewSet(CalypsoReadOnlyViewSet):
    queryset = Pool.objects.prefetch_related("vdevs")
    serializer_class = serializers.PoolSerializer
    filterset_class = filters.PoolFilterSet
    search_fields = ("name",)
    ordering_fields = ("name", "health", "capacity_percent")

    def get_serializer_class(self):
        if self.action == "list":
            return serializers.PoolBriefSerializer
        return super().get_serializer_class()

    @extend_schema(request=serializers.PoolCreateSerializer, responses={202: dict, 201: serializers.PoolSerializer})
    def create(self, request):
        """ZFS: queue a pool creation (202 with the job). Btrfs: register a mounted filesystem (201)."""
        data = serializers.PoolCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        if d["backend"] == "btrfs":
            if not d.get("mountpoint"):
                raise ServiceError("invalid", "mountpoint: this field is required.", field="mountpoint")
            pool = services.register_btrfs_pool(d["mountpoint"], actor=request.user, source=API)
            return Response(serializers.PoolSerializer(pool).data, status=status.HTTP_201_CREATED)
        if not d.get("name"):
            raise ServiceError("invalid", "name: this field is required.", field="name")
        job = services.create_pool(
            d["name"], vdevs=d.get("vdevs"), layout=d.get("layout"), disks=d.get("disks", ()),
            spares=d.get("spares", ()), cache=d.get("cache", ()), log=d.get("log", ()),
            mountpoint=d.get("mountpoint"), properties=d.get("properties"), fs_properties=d.get("fs_properties"),
            force=d["force"], actor=request.user, source=API)
        return JobAccepted(job, request)

    @extend_schema(request=None, responses={202: dict})
    def destroy(self, request, pk=None):
        """Queue destroying the pool; body or query ``confirm`` must repeat its name."""
        confirm = request.data.get("confirm") or request.query_params.get("confirm", "")
        force = str(request.data.get("force", "")).lower() in ("1", "true")
        return JobAccepted(services.destroy_pool(self.get_object(), confirm=confirm, force=force,
                                                 actor=request.user, source=API), request)

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"], required_action="scrub")
    def scrub(self, request, pk=None):
        return JobAccepted(services.start_scrub(self.get_object(), actor=request.user, source=API), request)

    @action(detail=True, methods=["post"], required_action="scrub", url_path="scrub/pause")
    def pause_scrub(self, request, pk=None):
        pool = services.pause_scrub(self.get_object(), actor=request.user, source=API)
        return Response(serializers.PoolSerializer(pool).data)

    @action(detail=True, methods=["post"], required_action="scrub", url_path="scrub/stop")
    def stop_scrub(self, request, pk=None):
        pool = services.stop_scrub(self.get_object(), actor=request.user, source=API)
        return Response(serializers.PoolSerializer(pool).data)

    def _member(self, request, func, **extra):
        body = _body(request, "device", required=("device",))
        pool = func(self.get_object(), body["device"], actor=request.user, source=API, **extra)
        return Response(serializers.PoolSerializer(pool).data)

    @action(detail=True, methods=["post"], required_action="maintain")
    def offline(self, request, pk=None):
        return self._member(request, services.offline_member, temporary=bool(request.data.get("temporary")))

    @action(detail=True, methods=["post"], required_action="maintain")
    def online(self, request, pk=None):
        return self._member(request, services.online_member)

    @action(detail=True, methods=["post"], required_action="maintain")
    def replace(self, request, pk=None):
        return self._member(request, services.replace_member, new_device=request.data.get("new_device") or None)

    @action(detail=True, methods=["post"], required_action="maintain")
    def detach(self, request, pk=None):
        return self._member(request, services.detach_member)

    @action(detail=True, methods=["post"], required_action="maintain", url_path="add-vdevs")
    def add_vdevs(self, request, pk=None):
        d = request.data
        job = services.add_vdevs(self.get_object(), vdevs=d.get("vdevs") or (), spares=d.get("spares") or (),
                                 log=d.get("log") or (), cache=d.get("cache") or (), force=bool(d.get("force")),
                                 actor=request.user, source=API)
        return JobAccepted(job, request)

    @action(detail=True, methods=["post"], required_action="export")
    def export(self, request, pk=None):
        pool = services.export_pool(self.get_object(), force=bool(request.data.get("force")), actor=request.user,
                                    source=API)
        return Response(serializers.PoolSerializer(pool).data)

    @action(detail=False, methods=["get"], required_action="import")
    def importable(self, request):
        dirs = request.query_params.getlist("search_dir")
        return Response(services.list_importable(dirs))

    @action(detail=False, methods=["post"], required_action="import", url_path="import")
    def import_pool(self, request):
        body = _body(request, "name", "new_name", required=("name",))
        job = services.import_pool(str(body["name"]), search_dirs=request.data.get("search_dirs") or (),
                                   new_name=body["new_name"] or None, force=bool(request.data.get("force")),
                                   actor=request.user, source=API)
        return JobAccepted(job, request)

    @action(detail=True, methods=["get"], url_path="device-stats")
    def device_stats(self, request, pk=None):
        return Response(services.device_stats(self.get_object()))

    @extend_schema(responses=dict)
    @action(detail=True, methods=["get"], url_path="balance-status")
    def balance_status(self, request, pk=None):
        """Btrfs: whether a balance runs or is paused, with chunks done and percent."""
        return Response(services.balance_status(self.get_object()))

    @action(detail=False, methods=["post"], required_action="change")
    def sync(self, request):
        """Re-read the inventory now (as a job)."""
        from apps.jobs import services as jobs

        return JobAccepted(jobs.enqueue("storage.sync", user=request.user, source=API, lock_key="storage:sync"),
                           request)


class DatasetViewSet(CalypsoReadOnlyViewSet):
    queryset = Dataset.objects.select_related("pool")
    serializer_class = serializers.DatasetSerializer
    filterset_class = filters.DatasetFilterSet
    search_fields = ("name",)
    ordering_fields = ("name", "used_bytes")

    @extend_schema(request=serializers.DatasetCreateSerializer, responses={201: serializers.DatasetSerializer})
    def create(self, request):
        data = serializers.DatasetCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        _check_object(request, d["pool"], "view")
        dataset = services.create_dataset(d["pool"], d["name"], kind=d["kind"], volsize=d.get("volsize"),
                                          sparse=d["sparse"], properties=data.collected_properties(),
                                          actor=request.user, source=API)
        return Response(serializers.DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.DatasetUpdateSerializer, responses=serializers.DatasetSerializer)
    def partial_update(self, request, pk=None):
        dataset = self.get_object()
        data = serializers.DatasetUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = services.update_dataset(dataset, properties=data.collected_properties(),
                                          inherit=data.validated_data.get("inherit") or (), actor=request.user,
                                          source=API)
        return Response(serializers.DatasetSerializer(dataset).data)

    def destroy(self, request, pk=None):
        recursive = str(request.data.get("recursive") or request.query_params.get("recursive", "")).lower()
        services.destroy_dataset(self.get_object(), recursive=recursive in ("1", "true"), actor=request.user,
                                 source=API)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], required_action="change")
    def rename(self, request, pk=None):
        body = _body(request, "new_name", required=("new_name",))
        dataset = services.rename_dataset(self.get_object(), str(body["new_name"]), actor=request.user, source=API)
        return Response(serializers.DatasetSerializer(dataset).data)


class SnapshotViewSet(CalypsoReadOnlyViewSet):
    queryset = Snapshot.objects.select_related("dataset")
    serializer_class = serializers.SnapshotSerializer
    filterset_class = filters.SnapshotFilterSet
    ordering_fields = ("created_at", "name")
    ordering = ("-created_at",)

    @extend_schema(request=serializers.SnapshotCreateSerializer, responses={201: serializers.SnapshotSerializer})
    def create(self, request):
        data = serializers.SnapshotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        _check_object(request, d["dataset"], "view")
        snap = services.create_snapshot(d["dataset"], d["name"], recursive=d["recursive"], actor=request.user,
                                        source=API)
        return Response(serializers.SnapshotSerializer(snap).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        services.destroy_snapshots([self.get_object()], actor=request.user, source=API)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=False, methods=["post"], required_action="delete", url_path="bulk-destroy")
    def bulk_destroy(self, request):
        ids = request.data.get("ids") or []
        if not isinstance(ids, list) or not ids:
            raise ServiceError("invalid", "ids: give a list of snapshot ids.", field="ids")
        snaps = list(restrict(Snapshot.objects.select_related("dataset__pool"), request.user, "delete")
                     .filter(pk__in=ids))
        if len(snaps) != len(set(ids)):
            raise ServiceError("not_found", "Some snapshots do not exist or are not yours to destroy.", status=404)
        return Response({"destroyed": services.destroy_snapshots(snaps, actor=request.user, source=API)})

    @action(detail=True, methods=["post"], required_action="rollback")
    def rollback(self, request, pk=None):
        body = _body(request, "confirm", "destroy_newer")
        snap = services.rollback_snapshot(self.get_object(), confirm=body["confirm"] or "",
                                          destroy_newer=bool(body["destroy_newer"]), actor=request.user, source=API)
        return Response(serializers.SnapshotSerializer(snap).data)

    @action(detail=True, methods=["post"], required_action="clone")
    def clone(self, request, pk=None):
        body = _body(request, "target", "properties", required=("target",))
        dataset = services.clone_snapshot(self.get_object(), str(body["target"]), properties=body["properties"],
                                          actor=request.user, source=API)
        return Response(serializers.DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], required_action="hold")
    def hold(self, request, pk=None):
        body = _body(request, "tag", required=("tag",))
        snap = services.hold_snapshot(self.get_object(), str(body["tag"]), recursive=bool(request.data.get("recursive")),
                                      actor=request.user, source=API)
        return Response(serializers.SnapshotSerializer(snap).data)

    @action(detail=True, methods=["post"], required_action="hold")
    def release(self, request, pk=None):
        body = _body(request, "tag", required=("tag",))
        snap = services.release_snapshot(self.get_object(), str(body["tag"]),
                                         recursive=bool(request.data.get("recursive")), actor=request.user, source=API)
        return Response(serializers.SnapshotSerializer(snap).data)


class StorageEventViewSet(CalypsoReadOnlyViewSet):
    queryset = StorageEvent.objects.select_related("pool")
    serializer_class = serializers.StorageEventSerializer
    filterset_class = filters.StorageEventFilterSet




class SnapshotPolicyViewSet(CalypsoModelViewSet):
    queryset = SnapshotPolicy.objects.select_related("dataset__pool")
    serializer_class = serializers.SnapshotPolicySerializer
    filterset_class = filters.SnapshotPolicyFilterSet
    search_fields = ("name",)
    ordering_fields = ("name", "last_run_at", "next_due_at")

    def perform_create(self, serializer):
        _check_object(self.request, serializer.validated_data["dataset"], "view")
        serializer.instance = policies.create_policy(actor=self.request.user, source=API, **serializer.validated_data)

    def perform_update(self, serializer):
        if "dataset" in serializer.validated_data:
            _check_object(self.request, serializer.validated_data["dataset"], "view")
        policies.update_policy(serializer.instance, actor=self.request.user, source=API, **serializer.validated_data)

    def perform_destroy(self, instance):
        policies.delete_policy(instance, actor=self.request.user, source=API)

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"], required_action="run")
    def run(self, request, pk=None):
        """Queue a run now (202 with the job); 409 while a run of this policy is active."""
        return JobAccepted(policies.start_policy_run(self.get_object(), actor=request.user, source=API), request)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        """What a run now would create and prune, per dataset, with the reason for each line."""
        policy = self.get_object()
        plans = policies.plan_subtree(policy)
        return Response({"policy": policy.pk, "datasets": [_plan_body(policy, p) for p in plans],
                         "lines": [f"{p.dataset.name}: {line}" for p in plans for line in p.dry_run.lines]})


def _plan_body(policy: SnapshotPolicy, part: policies.DatasetPlan) -> dict:
    dry, rule = part.dry_run, policy.rule()
    doomed = [(name, frequency) for frequency, names in dry.plan.by_frequency.items() for name in names]
    return {
        "dataset": part.dataset.name,
        "create": [{"name": p.short_name, "frequency": p.frequency.value} for p in dry.planned],
        "destroy": [{"name": name, "frequency": f.value, "reason": f"beyond the newest {rule.count(f)} {f.value}"}
                    for name, f in doomed],
        "kept_protected": [{"name": name, "reason": reason} for name, reason in dry.plan.kept_protected],
        "lines": dry.lines,
    }
