"""Applying one change with many shares, exports and targets defined, against the tools' own time.

Run from the checkout as root: ``.venv/bin/python benchmarks/shares_apply.py``. The last line of the
output is one JSON object with the results (keys end with their unit).

With ``BENCH_SMB`` SMB shares, ``BENCH_NFS`` NFS exports and ``BENCH_TARGETS`` iSCSI targets of
``BENCH_LUNS`` LUNs each defined, it measures in one run, each step ``BENCH_REPEATS`` times (median):

- SMB: Calypso changing one share (the row, rendering every share, ``testparm`` on the candidate, the
  swap, ``smbcontrol reload-config`` of a private smbd) against ``testparm`` + ``smbcontrol`` on the same
  file, run bare.
- NFS: Calypso changing one export (rendering every export and activating them with the configured
  backend's own command) against the same command run bare on the same file.
- iSCSI: Calypso adding a LUN to one target of a live private ``tgtd`` (every target compared with what
  tgtd reports, the one ``tgtadm`` command it needs, the persistence file) against that ``tgtadm --op
  show`` and ``tgtadm --op new`` run bare.
- The list API of each resource over HTTP (uvicorn, token auth): p95 against 30 ms.

Everything it makes lives under a temporary directory and its own database rows; the daemons it starts
(smbd, tgtd; NFS-Ganesha when that is the backend) are its own, on loopback ports, stopped by PID.
Environment: ``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/calypso_bench; every row in it is
deleted), ``REDIS_URL``, ``BENCH_SMB`` (500), ``BENCH_NFS`` (500), ``BENCH_TARGETS`` (100), ``BENCH_LUNS`` (4),
``BENCH_REPEATS`` (7), ``BENCH_REQUESTS`` (300).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from common import ROOT, TimingRunner, ensure_database, load1, measure_http_targets, setup_environment

TAG = f"calypso-bench-{uuid.uuid4().hex[:8]}"
setup_environment(TAG)

SMB = int(os.environ.get("BENCH_SMB", "500"))
NFS = int(os.environ.get("BENCH_NFS", "500"))
TARGETS = int(os.environ.get("BENCH_TARGETS", "100"))
LUNS = int(os.environ.get("BENCH_LUNS", "4"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
BARE_ROWS = int(os.environ.get("BENCH_BARE_ROWS", "1000"))
WARMUP = 30
APPLY_TARGET = 1.5
LIST_TARGET_MS = 30.0

WORK = Path(tempfile.mkdtemp(prefix="calypso-bench-shares-"))
os.environ["CALYPSO_INTEGRATIONS_DIR"] = str(WORK / "integrations")


def median_time(step: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def profile(step: Callable[[], object]) -> None:
    """With BENCH_PROFILE=1: where one more run of ``step`` spends its time (cProfile, by cumulative time)."""
    if not os.environ.get("BENCH_PROFILE"):
        return
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(step)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(35)


def run(argv: list[str]) -> None:
    """A tool run bare, the way LocalRunner runs it (C locale, output captured); it must succeed."""
    result = subprocess.run(argv, capture_output=True, env={**os.environ, "LC_ALL": "C"}, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"{argv} failed: {result.stderr.decode()[:300]}")


# ------------------------------------------------------------------ fixtures
def make_dataset(name: str):
    from apps.storage.choices import Backend, DatasetKind
    from apps.storage.models import Dataset, Pool

    mount = WORK / name
    mount.mkdir()
    pool = Pool.objects.create(name=f"bench{name}", backend=Backend.ZFS, mountpoint=str(mount))
    return Dataset.objects.create(pool=pool, name=pool.name, kind=DatasetKind.FILESYSTEM, mountpoint=str(mount))


# ------------------------------------------------------------------ SMB
def bench_smb(dataset) -> dict:
    from django.conf import settings

    from apps.shares import services
    from apps.shares.models import SmbShare

    rows = []
    for i in range(SMB):
        path = Path(dataset.mountpoint) / f"share{i:04d}"
        path.mkdir()
        rows.append(SmbShare(name=f"share{i:04d}", path=str(path), dataset=dataset, comment=f"Share {i}",
                             valid_users=["@staff"], hosts_allow=["10.0.0.0/8"], recycle_bin=i % 3 == 0,
                             audit_log=i % 5 == 0))
    SmbShare.objects.bulk_create(rows)
    services.apply_samba()
    include = services.include_path()
    shares = list(SmbShare.objects.order_by("name")[:REPEATS + 1])
    counter = iter(range(10**6))

    def calypso() -> None:
        n = next(counter)
        services.SHARES.update(shares[n % len(shares)], comment=f"changed {n}")

    def tools() -> None:
        run(["testparm", "-s", "--suppress-prompt", str(include)])
        run(["smbcontrol", "-s", settings.CALYPSO_SAMBA_CONF, "smbd", "reload-config"])

    calypso()  # warm: connections, caches
    tools()
    profile(calypso)
    apply_s, tools_s = median_time(calypso), median_time(tools)
    return {"smb_apply_s": round(apply_s, 4), "smb_tools_s": round(tools_s, 4),
            "smb_ratio": round(apply_s / tools_s, 2), "smb_file_bytes": include.stat().st_size}


# ------------------------------------------------------------------ NFS
def _reread_done(log: Path, seen: int) -> int:
    """How many times NFS-Ganesha has logged finishing a re-read of its exports."""
    return log.read_text(errors="replace").count("Reread exports complete") if log.exists() else seen


def _wait_reread(log: Path, before: int) -> None:
    deadline = time.monotonic() + 30
    while _reread_done(log, before) <= before:
        if time.monotonic() > deadline:
            raise RuntimeError("NFS-Ganesha did not finish re-reading its exports")
        time.sleep(0.002)


def bench_nfs(dataset, ganesha) -> dict:
    """NFS-Ganesha (the server this host can run): a change is live when Ganesha logs that it re-read its
    exports, so both sides are timed up to that line: Calypso's apply then the re-read, against SIGHUP then the
    re-read of the same file."""
    from django.conf import settings

    from apps.shares import services
    from apps.shares.models import NfsExport

    settings.CALYPSO_NFS_BACKEND = "ganesha"
    settings.CALYPSO_GANESHA_PID_FILE = str(ganesha.extra["pid_file"])
    log: Path = ganesha.extra["log"]
    rows = []
    for i in range(NFS):
        path = Path(dataset.mountpoint) / f"export{i:04d}"
        path.mkdir()
        path.chmod(0o755)
        rows.append(NfsExport(path=str(path), dataset=dataset, description=f"Export {i}", clients=[
            {"host": "10.0.0.0/8", "access": "rw", "sync": True, "squash": "root_squash", "anonuid": None,
             "anongid": None, "sec": ["sys"]},
            {"host": "127.0.0.1", "access": "ro", "sync": True, "squash": "all_squash", "anonuid": 65534,
             "anongid": 65534, "sec": ["sys"]}]))
    NfsExport.objects.bulk_create(rows)
    count = _reread_done(log, 0)
    services.apply_nfs(force=True)
    _wait_reread(log, count)
    exports = list(NfsExport.objects.order_by("path")[:REPEATS + 1])
    counter = iter(range(10**6))
    pid = int(Path(settings.CALYPSO_GANESHA_PID_FILE).read_text().split()[0])

    def calypso() -> None:
        n = next(counter)
        before = _reread_done(log, 0)
        services.EXPORTS.update(exports[n % len(exports)], description=f"changed {n}")
        _wait_reread(log, before)

    def tools() -> None:
        before = _reread_done(log, 0)
        run(["kill", "-HUP", str(pid)])
        _wait_reread(log, before)

    calypso()
    tools()
    profile(calypso)
    apply_s, tools_s = median_time(calypso), median_time(tools)
    return {"nfs_apply_s": round(apply_s, 4), "nfs_tools_s": round(tools_s, 4), "nfs_ratio": round(apply_s / tools_s, 2),
            "nfs_what": "change one export, until NFS-Ganesha re-read its exports (SIGHUP)"}


# ------------------------------------------------------------------ iSCSI
def bench_iscsi(dataset, control: int) -> dict:
    from django.conf import settings

    from apps.core.runner import runner_override
    from apps.iscsi import services
    from apps.iscsi.models import InitiatorGroup, Lun, Target

    settings.CALYPSO_ISCSI_BACKEND = "tgt"
    settings.CALYPSO_TGT_CONTROL_PORT = control
    group = InitiatorGroup.objects.create(name="hosts", initiators=["iqn.2026-01.org.example:host1"],
                                          networks=["10.0.0.0/8"])
    files = Path(dataset.mountpoint)
    targets = Target.objects.bulk_create(Target(name=f"t{i:03d}", iqn=f"iqn.2026-12.org.calypso:t{i:03d}")
                                         for i in range(TARGETS))
    group.targets.set(targets)
    luns = []
    for target in targets:
        for n in range(1, LUNS + 1):
            path = files / f"{target.name}-{n}.img"
            with path.open("wb") as fh:
                fh.truncate(64 << 20)
            luns.append(Lun(target=target, lun=n, kind="file", dataset=dataset, path=str(path), size_bytes=64 << 20))
    Lun.objects.bulk_create(luns)
    t0 = time.perf_counter()
    services.push()  # every target, LUN and ACL into the empty tgtd
    setup_s = time.perf_counter() - t0
    counter = iter(range(LUNS + 1, 256))
    applies, tools = [], []

    def calypso() -> None:
        n = next(counter)
        runner = TimingRunner()
        t0 = time.perf_counter()
        with runner_override(runner):
            services.LUNS.create(target=targets[0], lun=n, kind="file", dataset=dataset,
                                 path=str(files / f"extra-{n}.img"), size_bytes=64 << 20)
        applies.append(time.perf_counter() - t0)
        tools.append(runner.tools_s())

    calypso()  # warm
    profile(calypso)
    applies.clear()
    tools.clear()
    for _ in range(REPEATS):
        calypso()
    apply_s, tgtadm_s = statistics.median(applies), statistics.median(tools)
    # tgt's own desired-state tool on the same file: tgt-admin compares it with what tgtd runs and applies the
    # difference (here none: the lower bound of its time for the step)
    conf = services.generated_config()["path"]
    tgt_admin_s = median_time(lambda: run(["tgt-admin", "-C", str(control), "-e", "-c", conf]))
    return {"iscsi_apply_s": round(apply_s, 4), "iscsi_tools_s": round(tgt_admin_s, 4),
            "iscsi_ratio": round(apply_s / tgt_admin_s, 2), "iscsi_tgtadm_s": round(tgtadm_s, 4),
            "iscsi_tgtadm_ratio": round(apply_s / tgtadm_s, 2), "iscsi_setup_s": round(setup_s, 2),
            "iscsi_what": f"add a LUN; tools: tgt-admin -e on the same file (the bare tgtadm commands: "
                          f"{tgtadm_s:.4f} s, {apply_s / tgtadm_s:.1f}x)"}


# ------------------------------------------------------------------ list API
def bench_lists(urls: dict[str, str]) -> tuple[dict, dict | None]:
    """Each list over HTTP, interleaved with the bare Django + DRF yardstick's 50-row cursor list (its own
    uvicorn and database, ``BENCH_BARE_ROWS`` items) in the same rounds; (Calypso's lists, the bare page)."""
    import contextlib

    from django.conf import settings
    from stackbase import BareServer, StackbaseMissing, bare_db_name, locate_stackbase

    from apps.accounts.models import ApiToken, User
    from apps.core.testing.live import LiveStack

    admin = User.objects.create_superuser("bench-admin", "bench@example.com", "correct horse battery")
    key = ApiToken.issue(admin, "benchmark")[1]
    env = {k: os.environ[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CALYPSO_DATA_DIR",
                                      "CALYPSO_QUEUE", "CALYPSO_CHANNEL_PREFIX", "CALYPSO_CACHE_PREFIX",
                                      "CALYPSO_LOG_LEVEL", "CALYPSO_INTEGRATIONS_DIR")}
    with contextlib.ExitStack() as stop_all:
        stack = LiveStack(env, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        stop_all.callback(stack.stop)
        stack.start_server()  # the lists need no worker
        targets = {name: (stack.base_url, key, url) for name, url in urls.items()}
        try:
            home = locate_stackbase(ROOT)
        except StackbaseMissing as exc:
            print(f"*** {exc}: the bare ratio is left out")
        else:
            server = BareServer(home, bare_db_name("calypso_bench_bare", BARE_ROWS), BARE_ROWS,
                                log_dir=WORK / "log")
            server.prepare(ensure_database)
            stop_all.enter_context(server)
            targets["bare"] = (server.base_url, server.token, server.paths["cursor_first"])
        measured = measure_http_targets(targets, warmup=WARMUP, requests=REQUESTS)
    bare = measured.pop("bare", None)
    return measured, bare


# ------------------------------------------------------------------ main
def report(results: dict, lists: dict, bare: dict | None) -> None:
    print(f"\nOne change applied with {SMB} SMB shares, {NFS} NFS exports, {TARGETS} iSCSI targets x {LUNS} LUNs "
          f"defined (median of {REPEATS}; load {load1():.2f})")
    print(f"  {'':<8}{'Calypso s':>11}{'tools s':>10}{'ratio':>8}  verdict (<= {APPLY_TARGET}x)")
    for name in ("smb", "nfs", "iscsi"):
        if f"{name}_apply_s" not in results:
            continue
        ratio = results[f"{name}_ratio"]
        print(f"  {name:<8}{results[f'{name}_apply_s']:>11.4f}{results[f'{name}_tools_s']:>10.4f}{ratio:>8.2f}  "
              f"{'ok' if ratio <= APPLY_TARGET else 'MISSED'}  {results.get(f'{name}_what', '')}")
    print(f"\nList API over HTTP (token auth, {REQUESTS} requests after {WARMUP} warm-up, interleaved with the bare "
          f"Django + DRF 50-row cursor list)")
    print(f"  {'list':<14}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'vs bare':>9}  verdict (p95 < {LIST_TARGET_MS:.0f} ms)")
    for name, s in [*lists.items(), *([("bare", bare)] if bare else [])]:
        ratio = f"{s['p95'] / bare['p95']:.2f}" if bare else "-"
        print(f"  {name:<14}{s['p50']:>9}{s['p95']:>9}{s['max']:>9}{ratio:>9}  "
              f"{'ok' if s['p95'] < LIST_TARGET_MS else 'MISSED'}")
    out = {k: v for k, v in results.items() if not k.endswith("_what")}
    out.update({f"list_{name}_p95_ms": s["p95"] for name, s in lists.items()})
    out["list_p95_ms"] = max(s["p95"] for s in lists.values())
    out["bare_list_p95_ms"] = bare["p95"] if bare else None
    out["list_vs_bare_ratio"] = round(out["list_p95_ms"] / bare["p95"], 2) if bare else None
    out.update({"smb_shares": SMB, "nfs_exports": NFS, "iscsi_targets": TARGETS, "iscsi_luns": TARGETS * LUNS,
                "repeats": REPEATS, "load1": load1()})
    print(json.dumps(out))


def main() -> int:
    from apps.core.testing.daemons import start_ganesha, start_smbd, start_tgtd

    smbd = start_smbd(WORK / "samba")
    os.environ["CALYPSO_SAMBA_CONF"] = str(smbd.extra["conf"])
    daemons = [smbd]
    tgtd = start_tgtd(WORK / "tgtd")
    daemons.append(tgtd)
    os.environ["CALYPSO_GANESHA_CONF"] = str(WORK / "ganesha" / "ganesha.conf")
    ganesha = start_ganesha(WORK / "ganesha", WORK / "ganesha" / "ganesha.conf")
    daemons.append(ganesha)
    if os.environ["DATABASE_URL"].startswith("postgres"):
        ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", verbosity=0, interactive=False)
    try:
        results = bench_smb(make_dataset("smb"))
        results.update(bench_nfs(make_dataset("nfs"), ganesha))
        results.update(bench_iscsi(make_dataset("iscsi"), tgtd.extra["control"]))
        lists, bare = bench_lists({"smb": "/api/v1/shares/smb/", "nfs": "/api/v1/shares/nfs/", "iscsi_targets": "/api/v1/iscsi/targets/",
                             "iscsi_luns": "/api/v1/iscsi/luns/"})
        report(results, lists, bare)
    finally:
        call_command("flush", verbosity=0, interactive=False)
        for daemon in reversed(daemons):
            daemon.stop()
        subprocess.run(["rm", "-rf", "--one-file-system", str(WORK)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
