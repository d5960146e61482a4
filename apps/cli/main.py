"""The ``calypso`` command: ``calypso [--url URL] [--json] GROUP COMMAND ...``. Tables by default, the API's
own JSON with ``--json``; an error is printed from the API's error format and exits 1."""

from __future__ import annotations

import io
import os
import socket
import sys
from collections.abc import Iterable
from urllib.parse import urlsplit

import click

from .client import ApiError, Client, CliError
from .config import ConfigError, config_path, load_config, save_config
from .follow import SUCCEEDED, ProgressView, follow_job
from .output import Column, as_json, detail, size, table, when

__all__ = ["cli", "main"]

DEFAULT_LIMIT = 100


class State:
    """What the top-level options chose, and the API client made from them on first use."""

    def __init__(self, url: str | None = None, json: bool = False) -> None:
        self.url, self.json = url, json
        self._client: Client | None = None

    def client(self) -> Client:
        if self._client is None:
            self._client = Client(load_config(url=self.url))
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class CalypsoGroup(click.Group):
    """Turns the errors an operator must act on into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ApiError as exc:
            _report_api_error(ctx, exc)
        except (CliError, ConfigError) as exc:
            click.echo(f"Error: {exc}", err=True)
        return ctx.exit(1)


def _report_api_error(ctx: click.Context, exc: ApiError) -> None:
    state = ctx.find_object(State)
    if state is not None and state.json:
        click.echo(as_json(exc.body), err=True)
        return
    message = exc.message or exc.code
    click.echo(f"Error: {message} ({exc.status} {exc.code})", err=True)
    for field, errors in exc.fields.items():
        text = "; ".join(map(str, errors)) if isinstance(errors, list) else str(errors)
        if text not in message:  # a field's error the message does not already say
            click.echo(f"  {field}: {text}", err=True)
    if exc.status == 401:
        click.echo("  Set CALYPSO_TOKEN, or run `calypso login` for a new token.", err=True)


def _json_flag(ctx: click.Context, _param, value: bool) -> None:
    if value:
        ctx.ensure_object(State).json = True


json_option = click.option("--json", "json_out", is_flag=True, expose_value=False, callback=_json_flag,
                           help="Print the API's JSON instead of a table.")
limit_option = click.option("--limit", type=click.IntRange(min=0), default=DEFAULT_LIMIT, show_default=True,
                            help="Rows to show at most (0: all, following every page).")


def _state() -> State:
    return click.get_current_context().ensure_object(State)


def _rows(path: str, params: dict | None, limit: int) -> list[dict]:
    """At most ``limit`` rows (0: all); says on stderr when there were more."""
    rows = list(_state().client().pages(path, params, limit=limit + 1 if limit else 0))
    if limit and len(rows) > limit:
        rows = rows[:limit]
        click.echo(f"(the first {limit} rows: --limit 0 shows all)", err=True)
    return rows


def _show_list(rows: list[dict], columns: Iterable[Column]) -> None:
    if _state().json:
        click.echo(as_json(rows))
    elif rows:
        click.echo(table(rows, list(columns)))
    else:
        click.echo("(none)", err=True)


def _show_one(obj: dict, text: str) -> None:
    click.echo(as_json(obj) if _state().json else text)


def _named(path: str, name: str, what: str) -> dict:
    """The object called exactly ``name`` (the API's ``name`` filter matches parts; this wants all of it).
    One still on the host before one that is gone."""
    matches = [row for row in _state().client().pages(path, {"name": name}) if row.get("name") == name]
    if not matches:
        raise CliError(f"no {what} named {name!r}")
    return sorted(matches, key=lambda row: bool(row.get("gone")))[0]


def _name(row: dict) -> str:
    return row["name"] + (" (gone)" if row.get("gone") else "")


@click.group(cls=CalypsoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", metavar="URL", help="The portal's address [env CALYPSO_URL, config file, "
                                           "default http://127.0.0.1:8000].")
@click.option("--json", "json_out", is_flag=True, help="Print the API's JSON instead of tables.")
@click.pass_context
def cli(ctx: click.Context, url: str | None, json_out: bool) -> None:
    """Calypso from the command line, over the portal's REST API with an API token.

    The token comes from CALYPSO_TOKEN or the config file ($CALYPSO_CONFIG, else
    ~/.config/calypso/cli.toml, mode 0600) that `calypso login` writes.
    """
    state = ctx.ensure_object(State)
    state.url, state.json = url, json_out
    ctx.call_on_close(state.close)


# Sign-in ---------------------------------------------------------------------------------------------------------

@cli.command()
@click.option("-u", "--username", default=lambda: os.environ.get("USER", ""), show_default="$USER",
              help="Your portal user name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.option("--token-name", default=lambda: f"cli@{socket.gethostname()}", show_default="cli@<host name>",
              help="The new token's name, as the portal lists it.")
def login(username: str, password_stdin: bool, token_name: str) -> None:
    """Get a new API token with your password and save it in the config file (mode 0600).

    The password is asked for without echo and sent only to the portal; the token is never printed.
    """
    state = _state()
    config = load_config(url=state.url)
    address = urlsplit(config.url)
    if address.scheme == "http" and address.hostname not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"Warning: {config.url} is not HTTPS: the password and the token cross the network unencrypted.",
                   err=True)
    username = username or click.prompt("Username")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(f"Password for {username} at {config.url}", hide_input=True)
    config.token = ""  # the old token plays no part in getting a new one
    with Client(config, require_token=False) as client:
        issued = client.post("/auth/token/", {"username": username, "password": password, "token_name": token_name})
    path = config_path()
    save_config(path, url=config.url, token=issued["key"])
    if state.json:
        click.echo(as_json({k: v for k, v in issued.items() if k != "key"}))
        return
    click.echo(f"Signed in to {config.url} as {username}: token {issued['name']!r} ({issued['prefix']}…, "
               f"expires {when(issued.get('expires'))}) saved in {path}")
    if os.environ.get("CALYPSO_TOKEN"):
        click.echo("Note: CALYPSO_TOKEN is set and goes before the config file; unset it to use this token.",
                   err=True)


@cli.command()
@json_option
def whoami() -> None:
    """The user the token belongs to, with its roles."""
    me = _state().client().get("/auth/me/")
    roles = ", ".join(me.get("roles") or []) or "no role"
    _show_one(me, f"{me['username']} ({roles}) at {_state().client().config.url}")


# Storage ---------------------------------------------------------------------------------------------------------

@cli.group()
def pool() -> None:
    """Pools: ZFS pools and Btrfs filesystems."""


POOL_COLUMNS: list[Column] = [
    ("name", _name), ("backend", lambda r: r["backend"]), ("health", lambda r: r["health"]),
    ("size", lambda r: size(r["size_bytes"])), ("alloc", lambda r: size(r["allocated_bytes"])),
    ("free", lambda r: size(r["free_bytes"])),
    ("cap", lambda r: None if r["capacity_percent"] is None else f"{r['capacity_percent']}%"),
    ("scan", lambda r: None if r["scan_state"] in ("", "none") else f"{r['scan_state']} {r['scan_percent']:g}%"),
]
VDEV_COLUMNS: list[Column] = [
    ("device", lambda r: "  " * r["depth"] + r["name"]), ("kind", lambda r: r["kind"]),
    ("role", lambda r: r["role"]), ("state", lambda r: r["state"]), ("read", lambda r: r["read_errors"]),
    ("write", lambda r: r["write_errors"]), ("cksum", lambda r: r["checksum_errors"]),
    ("note", lambda r: r["note"]),
]


@pool.command("list")
@limit_option
@json_option
def pool_list(limit: int) -> None:
    """List the pools, by name."""
    _show_list(_rows("/storage/pools/", {"ordering": "name"}, limit), POOL_COLUMNS)


def _vdev_tree(vdevs: list[dict]) -> list[dict]:
    """Devices in tree order, each with its depth."""
    children: dict = {}
    for vdev in vdevs:
        children.setdefault(vdev.get("parent"), []).append(vdev)
    out: list[dict] = []

    def walk(parent, depth: int) -> None:
        for vdev in children.get(parent, []):
            out.append({**vdev, "depth": depth})
            walk(vdev["id"], depth + 1)

    walk(None, 0)
    known = {v["id"] for v in out}
    out += [{**v, "depth": 0} for v in vdevs if v["id"] not in known]  # a parent not sent
    return out


@pool.command("show")
@click.argument("name")
@json_option
def pool_show(name: str) -> None:
    """Show one pool with its devices."""
    found = _named("/storage/pools/", name, "pool")
    obj = _state().client().get(f"/storage/pools/{found['id']}/")
    if _state().json:
        click.echo(as_json(obj))
        return
    shown = {k: size(v) if k.endswith("_bytes") else v for k, v in obj.items()}
    click.echo(detail(shown, skip=("vdevs", "extra")))
    if obj.get("vdevs"):
        click.echo()
        click.echo(table(_vdev_tree(obj["vdevs"]), VDEV_COLUMNS))


@cli.group()
def dataset() -> None:
    """Datasets: ZFS filesystems and volumes, Btrfs subvolumes."""


DATASET_COLUMNS: list[Column] = [
    ("name", _name), ("kind", lambda r: r["kind"]), ("used", lambda r: size(r["used_bytes"])),
    ("avail", lambda r: size(r["available_bytes"])), ("refer", lambda r: size(r["referenced_bytes"])),
    ("mountpoint", lambda r: r["mountpoint"]),
]


@dataset.command("list")
@click.option("--pool", "pool_name", metavar="NAME", help="Only this pool's datasets.")
@limit_option
@json_option
def dataset_list(pool_name: str | None, limit: int) -> None:
    """List the datasets, by name."""
    params = {"ordering": "name", "pool": _named("/storage/pools/", pool_name, "pool")["id"] if pool_name else None}
    _show_list(_rows("/storage/datasets/", params, limit), DATASET_COLUMNS)


@cli.group()
def snapshot() -> None:
    """Snapshots."""


SNAPSHOT_COLUMNS: list[Column] = [
    ("name", lambda r: r["name"]), ("used", lambda r: size(r["used_bytes"])),
    ("refer", lambda r: size(r["referenced_bytes"])), ("created", lambda r: when(r["created_at"])),
    ("holds", lambda r: r["holds"]),
]


@snapshot.command("list")
@click.option("--dataset", "dataset_name", metavar="NAME", help="Only this dataset's snapshots.")
@click.option("--pool", "pool_name", metavar="NAME", help="Only this pool's snapshots.")
@limit_option
@json_option
def snapshot_list(dataset_name: str | None, pool_name: str | None, limit: int) -> None:
    """List the snapshots, newest first."""
    params: dict = {"dataset_name": dataset_name}
    if pool_name:
        params["pool"] = _named("/storage/pools/", pool_name, "pool")["id"]
    _show_list(_rows("/storage/snapshots/", params, limit), SNAPSHOT_COLUMNS)


@snapshot.command("create")
@click.argument("full_name", metavar="DATASET@NAME")
@click.option("-r", "--recursive", is_flag=True, help="ZFS: the dataset's descendants too, atomically.")
@json_option
def snapshot_create(full_name: str, recursive: bool) -> None:
    """Take a snapshot, e.g. `calypso snapshot create tank/data@before-upgrade`."""
    dataset_name, at, name = full_name.partition("@")
    if not at or not dataset_name or not name:
        raise click.BadParameter("expected DATASET@NAME, e.g. tank/data@before-upgrade", param_hint="DATASET@NAME")
    found = _named("/storage/datasets/", dataset_name, "dataset")
    snap = _state().client().post("/storage/snapshots/", {"dataset": found["id"], "name": name,
                                                          "recursive": recursive})
    _show_one(snap, f"Created {snap['name']}")


# Jobs ------------------------------------------------------------------------------------------------------------

@cli.group()
def share() -> None:
    """Shares: SMB (Samba) and NFS exports."""


SMB_COLUMNS: list[Column] = [
    ("smb share", _name), ("path", lambda r: r["path"]), ("dataset", lambda r: r["dataset_name"]),
    ("access", lambda r: "ro" if r["read_only"] else "rw"), ("on", lambda r: "yes" if r["enabled"] else "no"),
    ("users", lambda r: " ".join(r["valid_users"]) or "all"), ("comment", lambda r: r["comment"]),
]
NFS_COLUMNS: list[Column] = [
    ("nfs export", lambda r: r["path"]), ("dataset", lambda r: r["dataset_name"]),
    ("on", lambda r: "yes" if r["enabled"] else "no"),
    ("clients", lambda r: ", ".join(f"{c['host']}({c['access']})" for c in r["clients"])),
]
SESSION_COLUMNS: list[Column] = [
    ("user", lambda r: r["username"]), ("machine", lambda r: r["machine"]), ("address", lambda r: r["address"]),
    ("protocol", lambda r: r["dialect"]), ("signing", lambda r: r["signing"]),
]


@share.command("list")
@limit_option
@json_option
def share_list(limit: int) -> None:
    """List the SMB shares and the NFS exports."""
    smb, nfs = _rows("/shares/smb/", {"ordering": "name"}, limit), _rows("/shares/nfs/", {"ordering": "path"}, limit)
    if _state().json:
        click.echo(as_json({"smb": smb, "nfs": nfs}))
        return
    _show_list(smb, SMB_COLUMNS)
    click.echo()
    _show_list(nfs, NFS_COLUMNS)


@share.command("sessions")
@json_option
def share_sessions() -> None:
    """Who is connected over SMB now, and which files are open (smbstatus)."""
    status = _state().client().get("/shares/smb/status/")
    if _state().json:
        click.echo(as_json(status))
        return
    _show_list(status["sessions"], SESSION_COLUMNS)
    for opened in status["open_files"]:
        click.echo(f"open: {opened['path']} ({opened['access']}) since {opened['opened_at']}")


@cli.group()
def iscsi() -> None:
    """iSCSI targets and their LUNs."""


TARGET_COLUMNS: list[Column] = [
    ("target", lambda r: r["iqn"]), ("tid", lambda r: r["tid"]), ("luns", lambda r: len(r["luns"])),
    ("groups", lambda r: len(r["initiator_groups"])), ("chap", lambda r: "mutual" if r["mutual_chap"] else
                                                        "yes" if r["chap"] else "no"),
]
LUN_COLUMNS: list[Column] = [
    ("target", lambda r: r["target_iqn"]), ("lun", lambda r: r["lun"]), ("kind", lambda r: r["kind"]),
    ("backing", lambda r: r["device_path"]), ("size", lambda r: size(r["size_bytes"])),
    ("ro", lambda r: "yes" if r["read_only"] else "no"),
]


@iscsi.command("list")
@limit_option
@json_option
def iscsi_list(limit: int) -> None:
    """List the targets and their LUNs."""
    targets, luns = _rows("/iscsi/targets/", {"ordering": "iqn"}, limit), _rows("/iscsi/luns/", None, limit)
    if _state().json:
        click.echo(as_json({"targets": targets, "luns": luns}))
        return
    _show_list(targets, TARGET_COLUMNS)
    click.echo()
    _show_list(sorted(luns, key=lambda r: (r["target_iqn"], r["lun"])), LUN_COLUMNS)


@cli.group()
def job() -> None:
    """Jobs: long operations with progress and a log."""


JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled", "rolling_back", "rolled_back")
JOB_COLUMNS: list[Column] = [
    ("id", lambda r: r["id"]), ("kind", lambda r: r["kind"]), ("state", lambda r: r["state"]),
    ("progress", lambda r: f"{r['progress']}%"), ("step", lambda r: r["step"]),
    ("target", lambda r: r["target_label"]), ("user", lambda r: r["user"]),
    ("created", lambda r: when(r["created"])),
]


@job.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice(JOB_STATES), help="Only jobs in this state "
              "(repeat for several).")
@click.option("--kind", help="Only jobs of this kind, e.g. storage.pool.scrub.")
@limit_option
@json_option
def job_list(states: tuple[str, ...], kind: str | None, limit: int) -> None:
    """List the jobs, newest first."""
    _show_list(_rows("/jobs/", {"state": list(states), "kind": kind}, limit), JOB_COLUMNS)


@job.command("show")
@click.argument("job_id", type=int, metavar="ID")
@json_option
def job_show(job_id: int) -> None:
    """Show one job."""
    obj = _state().client().get(f"/jobs/{job_id}/")
    _show_one(obj, detail(obj))


@job.command("log")
@click.argument("job_id", type=int, metavar="ID")
@click.option("--level", metavar="LEVELS", help="Only these levels, comma-separated (e.g. command,error).")
@click.option("--limit", type=click.IntRange(min=0), default=0, show_default=True,
              help="Lines to show at most (0: all).")
@json_option
def job_log(job_id: int, level: str | None, limit: int) -> None:
    """A job's log, oldest line first."""
    rows = _rows(f"/jobs/{job_id}/log/", {"level": level}, limit)
    if _state().json:
        click.echo(as_json(rows))
        return
    for row in rows:
        click.echo(f"{when(row['time'])}  {row['level']:<7}  {row['message']}")


@job.command("follow")
@click.argument("job_id", type=int, metavar="ID")
@click.option("--log/--no-log", "show_log", default=True, show_default=True, help="Print the log lines as they come.")
@click.option("--websocket/--poll", default=True, show_default=True,
              help="Live over the WebSocket, or by polling the API.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds between two polls (when polling).")
@click.pass_context
def job_follow(ctx: click.Context, job_id: int, show_log: bool, websocket: bool, interval: float) -> None:
    """Follow a job to its end with a progress bar (exit code 0 when it succeeded, 1 otherwise).

    Live over the WebSocket /ws/jobs/ID/; polls /api/v1/jobs/ID/ when the WebSocket cannot be used.
    With --json, prints the finished job as JSON only.
    """
    state = _state()
    client = state.client()
    out = io.StringIO() if state.json else sys.stdout  # --json: the final job only
    view = ProgressView(out, tty=not state.json and out.isatty(), show_log=show_log)
    final = follow_job(client, job_id, view, websocket=websocket, interval=interval,
                       warn=lambda message: click.echo(message, err=True))
    if state.json:
        click.echo(as_json(client.get(f"/jobs/{job_id}/")))
    ctx.exit(0 if final == SUCCEEDED else 1)


@job.command("cancel")
@click.argument("job_id", type=int, metavar="ID")
@json_option
def job_cancel(job_id: int) -> None:
    """Cancel a job: a queued one at once, a running one at its next progress report."""
    obj = _state().client().post(f"/jobs/{job_id}/cancel/")
    _show_one(obj or {}, f"Job {job_id}: cancel requested" if obj and obj.get("state") != "cancelled"
              else f"Job {job_id} cancelled")



# Tape and Bacula ---------------------------------------------------------------------------------------------------

@cli.group()
def tape() -> None:
    """Tape libraries, their drives and media."""


LIBRARY_COLUMNS: list[Column] = [
    ("library", lambda r: r["name"]), ("kind", lambda r: r["kind"]), ("slots", lambda r: r["slots"]),
    ("drives", lambda r: r["drive_count"]), ("changer", lambda r: r.get("changer") or r.get("iqn") or "-"),
]
DRIVE_COLUMNS: list[Column] = [
    ("library", lambda r: r["library_name"]), ("drive", lambda r: r["number"]), ("device", lambda r: r["device"] or "-"),
    ("loaded", lambda r: "yes" if r["medium"] else "no"), ("clean", lambda r: "needed" if r["needs_cleaning"] else "-"),
]


@tape.command("list")
@limit_option
@json_option
def tape_list(limit: int) -> None:
    """List the libraries and their drives."""
    libraries, drives = _rows("/tape/libraries/", None, limit), _rows("/tape/drives/", None, limit)
    if _state().json:
        click.echo(as_json({"libraries": libraries, "drives": drives}))
        return
    names = {library["id"]: library["name"] for library in libraries}
    _show_list(libraries, LIBRARY_COLUMNS)
    click.echo()
    _show_list([{**d, "library_name": names.get(d["library"], d["library"])} for d in drives], DRIVE_COLUMNS)


@cli.group()
def bacula() -> None:
    """Bacula backup jobs, the director's job history and its volumes."""


BACULA_JOB_COLUMNS: list[Column] = [
    ("job", lambda r: r["name"]), ("level", lambda r: r["level"]), ("client", lambda r: r["client_name"]),
    ("fileset", lambda r: r["fileset_name"]), ("schedule", lambda r: r["schedule_name"] or "by hand"),
    ("pool", lambda r: r["pool_name"]), ("storage", lambda r: r["storage_name"]),
]
HISTORY_COLUMNS: list[Column] = [
    ("jobid", lambda r: r["jobid"]), ("name", lambda r: r["name"]), ("type", lambda r: r["job_type"]),
    ("level", lambda r: r["level"]), ("status", lambda r: r["status"]), ("files", lambda r: r["files"]),
    ("size", lambda r: size(r["bytes"])), ("started", lambda r: when(r["started_at"]) if r["started_at"] else "-"),
]
VOLUME_COLUMNS: list[Column] = [
    ("volume", lambda r: r["name"]), ("pool", lambda r: r["pool_name"]), ("status", lambda r: r["status"]),
    ("slot", lambda r: r["slot"]), ("in changer", lambda r: "yes" if r["in_changer"] else "no"),
    ("size", lambda r: size(r["bytes"])),
]


@bacula.command("list")
@limit_option
@json_option
def bacula_list(limit: int) -> None:
    """List the backup jobs."""
    _show_list(_rows("/bacula/jobs/", {"ordering": "name"}, limit), BACULA_JOB_COLUMNS)


@bacula.command("history")
@limit_option
@json_option
def bacula_history(limit: int) -> None:
    """The director's job history, newest first (as last read: `calypso bacula history --refresh`)."""
    _show_list(_rows("/bacula/history/", {"ordering": "-jobid"}, limit), HISTORY_COLUMNS)


@bacula.command("volumes")
@limit_option
@json_option
def bacula_volumes(limit: int) -> None:
    """The catalog's volumes."""
    _show_list(_rows("/bacula/volumes/", {"ordering": "name"}, limit), VOLUME_COLUMNS)


@bacula.command("run")
@click.argument("name")
@click.option("--level", type=click.Choice(["Full", "Differential", "Incremental"]), help="Default: the job's own.")
@click.option("--follow/--no-follow", default=True, show_default=True, help="Follow the job to its end.")
@click.pass_context
def bacula_run(ctx: click.Context, name: str, level: str | None, follow: bool) -> None:
    """Run a backup job now, e.g. `calypso bacula run ProjectsNightly --level Full`."""
    found = _named("/bacula/jobs/", name, "backup job")
    client = _state().client()
    job = client.post(f"/bacula/jobs/{found['id']}/run/", {"level": level or ""}) or {}
    if not follow or _state().json:
        _show_one(job, f"Job {job.get('id')} queued: {name}")
        return
    view = ProgressView(sys.stdout, tty=sys.stdout.isatty(), show_log=True)
    final = follow_job(client, job["id"], view, warn=lambda message: click.echo(message, err=True))
    ctx.exit(0 if final == SUCCEEDED else 1)

def main() -> None:
    """The ``calypso`` entry point (also ``python -m apps.cli``)."""
    cli.main(prog_name="calypso")

