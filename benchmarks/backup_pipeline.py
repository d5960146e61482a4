"""Backup stream throughput: Calypso's own backup run beside the tools it drives, on the same snapshot.

Run as root from the checkout with the portal's virtualenv: ``sudo .venv/bin/python benchmarks/backup_pipeline.py``.
It needs zfs-fuse, zstd, age, gzip, gpg and a database (``DATABASE_URL``, default PostgreSQL
``calypso_bench``, emptied at the start and the end).

On a zfs-fuse pool it writes ``BENCH_MIB`` MiB (1024) of mixed data: real files of this host (binaries,
libraries, documentation, Python sources, as one tar stream) and random bytes (media-like, incompressible),
60/40, then snapshots it. In one run, every figure on that same snapshot:

* ``raw``: ``zfs send`` into a pipe, read and dropped (the ceiling);
* ``shell``: the best equivalent shell pipeline, writing the same kind of file as Calypso and its checksum:
  ``zfs send | zstd -2 -T0 | age -r KEY | tee FILE | sha256sum``, or ``... > FILE && sha256sum FILE``;
* ``calypso``: a backup task's run to a local repository (snapshot, the same pipeline through its hashing
  tap, the file read back whole, its manifest, pruning), timed from enqueue to the job's end;
* ``gzip_gpg``: the design documents' ``zfs send | gzip | gpg --symmetric`` (AES256, gpg's own compression).

Shell and Calypso alternate ``BENCH_ROUNDS`` (2) times, best of each kept; MiB/s is the raw stream's size
over each one's wall time. Targets: Calypso >= 90 % of the shell pipeline and >= 10x gzip|gpg, with output
no larger than gzip|gpg's. The last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from common import ensure_database, load1, setup_environment, start_zfs_fuse, stop_process

setup_environment(f"calypso-bench-{uuid.uuid4().hex[:8]}")

MIB = int(os.environ.get("BENCH_MIB", "1024"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
REAL_SHARE = 0.6
SOURCES = ["/usr/lib", "/usr/bin", "/usr/share/doc"]  # this host's own files: the compressible part
# The file and its checksum, hashed on the way (tee) or read back afterwards: whichever is faster counts.
SHELL_FORMS = ("zfs send {snap} | zstd -2 -T0 -q -c | age -r {recipient} | tee {out} | sha256sum",
               "zfs send {snap} | zstd -2 -T0 -q -c | age -r {recipient} > {out} && sha256sum {out}")


def sh(script: str, **kwargs) -> subprocess.CompletedProcess:
    """A shell pipeline, as an operator would type it (the yardsticks; Calypso itself runs no shell)."""
    return subprocess.run(["bash", "-o", "pipefail", "-c", script], check=True, capture_output=True, text=True,
                          **kwargs)


def timed(script: str) -> float:
    started = time.perf_counter()
    sh(script)
    return time.perf_counter() - started


def fill(mount: Path) -> None:
    real = int(MIB * REAL_SHARE) << 20
    tar = subprocess.Popen(["tar", "cf", "-", *SOURCES], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    with (mount / "host-files.tar").open("wb") as out:
        left = real
        while left > 0 and (chunk := tar.stdout.read(min(left, 1 << 20))):
            out.write(chunk)
            left -= len(chunk)
    tar.kill()
    tar.wait()
    with (mount / "media.bin").open("wb") as out:
        for _ in range((MIB << 20) - real >> 20):
            out.write(os.urandom(1 << 20))
    sh("sync")


def destroy_pool(pool: str, work: Path) -> None:
    """Destroy the pool (zfs-fuse says "busy" for a while after heavy writes: retry), then its image; a pool
    that will not go keeps its image, so zfs-fuse never re-imports a pool without disks."""
    for _ in range(60):
        done = subprocess.run(["zpool", "destroy", "-f", pool], capture_output=True, text=True)
        if done.returncode == 0 or "no such pool" in done.stderr:
            shutil.rmtree(work, ignore_errors=True)
            return
        time.sleep(0.5)
    print(f"could not destroy pool {pool}: {done.stderr.strip()} (its image stays in {work})", file=sys.stderr)


def calypso_run(task, runner) -> tuple[float, dict]:
    from apps.backup import services
    from apps.jobs.runtime import run_job

    started = time.perf_counter()
    job = run_job(services.start_backup_run(task).pk, runner=runner)
    seconds = time.perf_counter() - started
    if job.state != "succeeded":
        raise RuntimeError(f"the backup run failed: {job.error}")
    return seconds, job.result


def main() -> int:
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    from apps.backup import keys, services
    from apps.core.runner import LocalRunner
    from apps.storage import sync
    from apps.storage.models import Dataset

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", verbosity=0, interactive=False)
    daemon = start_zfs_fuse()
    runner = LocalRunner()
    pool = f"zbench{uuid.uuid4().hex[:8]}"
    work = Path(os.environ["CALYPSO_DATA_DIR"]).resolve() / pool
    work.mkdir(parents=True)
    image = work / "disk.img"
    rows: dict[str, dict] = {}
    try:
        sh(f"truncate -s {MIB * 3}M {image}")
        sh(f"zpool create -f -m {work / 'mnt'} {pool} {image} && zfs create {pool}/data")
        fill(work / "mnt" / "data")
        snap = f"{pool}/data@bench"
        sh(f"zfs snapshot {snap}")
        raw_bytes = int(sh(f"zfs send {snap} | wc -c").stdout)
        rows["raw"] = {"seconds": timed(f"zfs send {snap} | cat > /dev/null"), "bytes": raw_bytes}
        sync.sync_zfs(runner)
        key = keys.backup_key(runner)
        source = Dataset.objects.get(name=f"{pool}/data")
        for round_ in range(ROUNDS):
            for form in SHELL_FORMS:
                out = work / f"shell-{round_}.zst.age"
                seconds = timed(form.format(snap=snap, recipient=key.recipient, out=out))
                if seconds < rows.get("shell", {}).get("seconds", float("inf")):
                    rows["shell"] = {"seconds": seconds, "bytes": out.stat().st_size, "form": form.split(" | ", 3)[-1]}
                out.unlink()
            repo = work / f"repo-{round_}"
            repo.mkdir()
            target = services.TARGETS.create(name=f"bench-{round_}", kind="repository", path=str(repo))
            task = services.TASKS.create(name=f"bench-{round_}", source=source, target=target)
            seconds, result = calypso_run(task, runner)
            if seconds < rows.get("calypso", {}).get("seconds", float("inf")):
                rows["calypso"] = {"seconds": seconds, "bytes": result["bytes"], "pipeline_s": result["seconds"]}
            shutil.rmtree(repo)
        out = work / "gzip-gpg.gpg"
        rows["gzip_gpg"] = {"seconds": timed(
            f"zfs send {snap} | gzip -6 | gpg --batch --quiet --symmetric --cipher-algo AES256 --passphrase "
            f"bench-passphrase --pinentry-mode loopback -o {out}"), "bytes": 0}
        rows["gzip_gpg"]["bytes"] = out.stat().st_size
    finally:
        destroy_pool(pool, work)
        call_command("flush", verbosity=0, interactive=False)
        if daemon is not None:
            stop_process(daemon)

    mib = raw_bytes / 2**20
    rate = {name: round(mib / row["seconds"], 1) for name, row in rows.items()}
    shell_ratio = round(rate["calypso"] / rate["shell"], 3)
    gzip_ratio = round(rate["calypso"] / rate["gzip_gpg"], 1)
    print(f"\nzfs send stream of {mib:.0f} MiB ({MIB} MiB written: {REAL_SHARE:.0%} host files, the rest random); "
          f"best of {ROUNDS} for shell and Calypso; load average {load1():.2f}; {os.cpu_count()} cores")
    print(f"{'pipeline':<12}{'seconds':>10}{'MiB/s':>10}{'output MiB':>12}")
    for name, row in rows.items():
        print(f"{name:<12}{row['seconds']:>10.2f}{rate[name]:>10.1f}{row['bytes'] / 2**20:>12.1f}")
    print(f"fastest shell form: ... | {rows['shell']['form']}")
    ok = shell_ratio >= 0.9 and gzip_ratio >= 10 and rows["calypso"]["bytes"] <= rows["gzip_gpg"]["bytes"]
    print(f"Calypso / shell {shell_ratio:.0%} (target >= 90 %), Calypso / gzip|gpg {gzip_ratio}x (target >= 10x), "
          f"output {rows['calypso']['bytes'] / rows['gzip_gpg']['bytes']:.2f} of gzip|gpg's (target <= 1): "
          f"{'ok' if ok else 'MISSED'}")
    print(json.dumps({
        "stream_mib": round(mib, 1), "raw_send_mib_s": rate["raw"], "shell_mib_s": rate["shell"],
        "calypso_mib_s": rate["calypso"], "gzip_gpg_mib_s": rate["gzip_gpg"], "shell_bytes": rows["shell"]["bytes"],
        "calypso_bytes": rows["calypso"]["bytes"], "gzip_gpg_bytes": rows["gzip_gpg"]["bytes"],
        "calypso_vs_shell_ratio": shell_ratio, "calypso_vs_gzip_gpg_ratio": gzip_ratio,
        "calypso_pipeline_s": round(rows["calypso"]["pipeline_s"], 2), "calypso_run_s": round(rows["calypso"]["seconds"], 2),
        "load1": load1(), "cores": os.cpu_count(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
