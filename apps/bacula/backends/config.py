"""Bacula's resource syntax for the include files Calypso writes (the director's clients, filesets, schedules,
pools, storages and jobs; the storage daemon's autochangers and devices), and the daemons' own ``-t`` check of a
configuration before it replaces the one in force."""

from __future__ import annotations

from collections.abc import Iterable

from apps.core.configfiles import HEADER
from apps.core.errors import BackendError
from apps.core.runner import CommandError, Runner

from .base import (
    AutochangerSpec,
    ClientSpec,
    DeviceSpec,
    DirectorResources,
    FileSetSpec,
    Flavour,
    JobSpec,
    PoolSpec,
    ScheduleSpec,
    StorageResources,
    StorageSpec,
    quote,
    validate_path,
)

__all__ = ["candidate_main", "check_config", "render_director", "render_storage", "with_include"]


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _block(kind: str, body: Iterable[str], indent: str = "") -> list[str]:
    return [f"{indent}{kind} {{", *(f"{indent}  {line}" for line in body), f"{indent}}}"]


def _client(c: ClientSpec) -> list[str]:
    return _block("Client", [
        f"Name = {c.name}", f"Address = {c.address}", f"FDPort = {c.port}", f"Catalog = {c.catalog}",
        f"Password = {quote(c.password)}", f"File Retention = {c.file_retention_days} days",
        f"Job Retention = {c.job_retention_days} days", f"AutoPrune = {_yes(c.autoprune)}"])


def _fileset(f: FileSetSpec) -> list[str]:
    options = [f"Signature = {f.signature}", f"OneFS = {_yes(f.one_fs)}"]
    if f.compression:
        options.append(f"Compression = {f.compression}")
    include = ["Options {", *(f"  {o}" for o in options), "}", *(f"File = {quote(p)}" for p in f.include)]
    body = [f"Name = {f.name}", *_block("Include", include)]
    if f.exclude:
        body += _block("Exclude", [f"File = {quote(p)}" for p in f.exclude])
    return _block("FileSet", body)


def _schedule(s: ScheduleSpec) -> list[str]:
    return _block("Schedule", [f"Name = {s.name}", *(f"Run = {run}" for run in s.runs)])


def _pool(p: PoolSpec) -> list[str]:
    body = [f"Name = {p.name}", f"Pool Type = {p.pool_type}", f"Volume Retention = {p.volume_retention_days} days",
            f"Recycle = {_yes(p.recycle)}", f"AutoPrune = {_yes(p.autoprune)}"]
    if p.maximum_volume_bytes:
        body.append(f"Maximum Volume Bytes = {p.maximum_volume_bytes}")
    if p.label_format:
        body.append(f"Label Format = {quote(p.label_format)}")
    if p.storage:
        body.append(f"Storage = {p.storage}")
    return _block("Pool", body)


def _storage(s: StorageSpec) -> list[str]:
    return _block("Storage", [
        f"Name = {s.name}", f"Address = {s.address}", f"SDPort = {s.port}", f"Password = {quote(s.password)}",
        f"Device = {s.device}", f"Media Type = {s.media_type}", f"Autochanger = {_yes(s.autochanger)}",
        f"Maximum Concurrent Jobs = {s.maximum_concurrent_jobs}"])


def _job(j: JobSpec) -> list[str]:
    body = [f"Name = {j.name}", f"Type = {j.type}"]
    if j.type != "Restore":
        body.append(f"Level = {j.level}")
    body += [f"Client = {j.client}", f"FileSet = {j.fileset}", f"Pool = {j.pool}", f"Storage = {j.storage}",
             f"Messages = {j.messages}", f"Priority = {j.priority}"]
    if j.schedule:
        body.append(f"Schedule = {j.schedule}")
    if j.where:
        body.append(f"Where = {quote(j.where)}")
    return _block("Job", body)


def _sorted(items):
    return sorted(items, key=lambda item: item.name)


def render_director(resources: DirectorResources) -> str:
    """The director's include file: every resource Calypso manages, in a fixed order."""
    resources.validate()
    out = [HEADER.rstrip("\n")]
    for render, items in ((_client, resources.clients), (_fileset, resources.filesets),
                          (_schedule, resources.schedules), (_pool, resources.pools),
                          (_storage, resources.storages), (_job, resources.jobs)):
        for item in _sorted(items):
            item.validate()
            out += ["", *render(item)]
    return "\n".join(out) + "\n"


def _device(d: DeviceSpec) -> list[str]:
    file_like = d.kind == "File"
    return _block("Device", [
        f"Name = {d.name}", f"Device Type = {d.kind}", f"Media Type = {d.media_type}",
        f"Archive Device = {quote(d.archive_device)}", f"Autochanger = {_yes(d.autochanger)}",
        f"Drive Index = {d.drive_index}", "LabelMedia = yes", f"Random Access = {_yes(file_like)}",
        "AutomaticMount = yes", "RemovableMedia = yes", "AlwaysOpen = yes"])


def _autochanger(c: AutochangerSpec) -> list[str]:
    devices = sorted(c.devices, key=lambda d: (d.drive_index, d.name))
    return _block("Autochanger", [
        f"Name = {c.name}", f"Device = {', '.join(d.name for d in devices)}",
        f"Changer Device = {quote(c.changer_device)}", f"Changer Command = {quote(c.changer_command)}"])


def render_storage(resources: StorageResources) -> str:
    """The storage daemon's include file: autochangers, then every device (theirs and the lone ones)."""
    resources.validate()
    out = [HEADER.rstrip("\n")]
    for changer in _sorted(resources.autochangers):
        changer.validate()
        out += ["", *_autochanger(changer)]
    devices = [d for c in _sorted(resources.autochangers) for d in sorted(c.devices, key=lambda d: d.drive_index)]
    for device in [*devices, *_sorted(resources.devices)]:
        device.validate()
        out += ["", *_device(device)]
    return "\n".join(out) + "\n"


def _tool_words(text: str) -> str:
    """The refusal as the daemon words it: its first error block, without the repeated copy it prints."""
    rows = [r.rstrip() for r in text.splitlines()]
    start = next((i for i, r in enumerate(rows) if "Config error" in r or "ERROR" in r), 0)
    block: list[str] = []
    for row in rows[start:]:
        if not row.strip() and block:
            break
        if row.strip():
            block.append(row.split("ERROR TERMINATION at ", 1)[0].rstrip(": ") if "ERROR TERMINATION" in row
                         else row)
    words = [r for r in block if r.strip() and not r.endswith(("-dir", "-sd", "-fd"))]
    return "\n".join(words).strip() or text.strip()


def check_config(runner: Runner, flavour: Flavour, daemon: str, main_conf: str) -> None:
    """Have the daemon itself read ``main_conf`` (``-t``); BackendError with its own words when it refuses."""
    validate_path(main_conf, "main_conf")
    argv = [flavour.binary(daemon), "-t", "-c", main_conf]
    try:
        result = runner.run(argv, timeout=60, check=False)
    except CommandError as exc:  # not installed, timed out
        raise BackendError.from_command(exc) from exc
    if result.returncode != 0:
        output = "\n".join(t for t in (result.stdout, result.stderr) if t.strip())
        raise BackendError(_tool_words(output), argv=result.argv, returncode=result.returncode,
                           stderr=_tool_words(output))


def with_include(main_text: str, include_path: str) -> str:
    """``main_text`` with an ``@include_path`` line (added at its end when it has none)."""
    validate_path(include_path, "include_path")
    if any(row.strip() == f"@{include_path}" for row in main_text.splitlines()):
        return main_text
    return main_text.rstrip("\n") + f"\n\n# Resources managed by Calypso\n@{include_path}\n"


def candidate_main(main_text: str, include_path: str, candidate_path: str) -> str:
    """``main_text`` with its ``@include_path`` line pointed at ``candidate_path``, to ``-t`` a candidate."""
    validate_path(include_path, "include_path")
    validate_path(candidate_path, "candidate_path")
    rows = main_text.splitlines(keepends=True)
    hits = [i for i, row in enumerate(rows) if row.strip() == f"@{include_path}"]
    if not hits:
        raise BackendError(f"include_path: the main configuration has no line @{include_path}")
    for i in hits:
        indent = rows[i][: len(rows[i]) - len(rows[i].lstrip())]
        rows[i] = f"{indent}@{candidate_path}\n"
    return "".join(rows)
