"""The command line without a portal: config handling, output formatting, the API client's paging and
errors (over a mock transport), following a job (fake streams), shell completion and the entry point."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from apps.cli import main as cli_main
from apps.cli.client import ApiError, Client, CliError
from apps.cli.config import Config, ConfigError, config_path, load_config, save_config
from apps.cli.follow import ProgressView, WebSocketUnavailable, follow_job, ws_url
from apps.cli.output import detail, size, table, when

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cal_abc123.s3cret-value"


# Config -----------------------------------------------------------------------------------------------------------

def test_config_path_follows_calypso_config_then_xdg_then_home(tmp_path):
    assert config_path({"CALYPSO_CONFIG": str(tmp_path / "c.toml")}) == tmp_path / "c.toml"
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "calypso" / "cli.toml"
    assert config_path({}) == Path.home() / ".config" / "calypso" / "cli.toml"


def test_saved_config_is_private_and_read_back(tmp_path):
    path = tmp_path / "sub" / "cli.toml"
    tricky = 'cal_x."quote"\\back'
    save_config(path, url="https://nas.example.org/", token=tricky)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    config = load_config({"CALYPSO_CONFIG": str(path)})
    assert (config.url, config.token, config.path) == ("https://nas.example.org", tricky, path)
    save_config(path, token="cal_new")  # the other settings stay
    assert load_config({"CALYPSO_CONFIG": str(path)}).url == "https://nas.example.org"


def test_environment_goes_before_the_file_and_url_option_before_both(tmp_path):
    path = tmp_path / "cli.toml"
    save_config(path, url="http://file:8000", token="cal_file")
    env = {"CALYPSO_CONFIG": str(path), "CALYPSO_TOKEN": "cal_env"}
    config = load_config(env)
    assert (config.url, config.token) == ("http://file:8000", "cal_env")
    assert load_config({**env, "CALYPSO_URL": "http://env:1"}, url="http://option:2").url == "http://option:2"
    assert load_config({"CALYPSO_CONFIG": str(tmp_path / "missing.toml")}).url == "http://127.0.0.1:8000"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_config_file_open_to_others_is_refused(tmp_path, mode):
    path = tmp_path / "cli.toml"
    save_config(path, token=TOKEN)
    path.chmod(mode)
    with pytest.raises(ConfigError, match=f"mode {mode:04o}.*chmod 600") as err:
        load_config({"CALYPSO_CONFIG": str(path)})
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize(("text", "message"), [("url = [", "not valid TOML"), ("colour = 'x'", "unknown setting colour"),
                                               ("token = 5", "token must be a string")])
def test_bad_config_file_says_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "cli.toml"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=message):
        load_config({"CALYPSO_CONFIG": str(path)})


def test_config_repr_hides_the_token():
    assert TOKEN not in repr(Config(token=TOKEN))


# Output ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "text"), [(None, "-"), (0, "0"), (512, "512"), (1536, "1.5K"),
                                             (10 * 2**20, "10M"), (int(3.64 * 2**40), "3.64T"),
                                             (123 * 2**30, "123G")])
def test_sizes_read_like_zfs_list(value, text):
    assert size(value) == text


def test_table_aligns_columns_under_headers():
    rows = [{"name": "tank", "n": 1, "flag": True}, {"name": "a-longer-name", "n": None, "flag": False}]
    lines = table(rows, [("name", lambda r: r["name"]), ("n", lambda r: r["n"]),
                         ("flag", lambda r: r["flag"])]).splitlines()
    assert lines == ["NAME           N  FLAG",
                     "tank           1  yes",
                     "a-longer-name  -  no"]


def test_detail_and_times():
    assert detail({"id": 4, "state": "running", "params": {"a": 1}}).splitlines() == [
        "id      4", "state   running", 'params  {"a": 1}']
    assert when("2026-12-01T18:01:16.123456+01:00") == "2026-12-01 18:01:16" and when(None) == "-"


# Client ----------------------------------------------------------------------------------------------------------

def _client(handler, url: str = "http://portal:8000", token: str = TOKEN) -> Client:
    client = Client(Config(url=url, token=token))
    client.http = httpx.Client(base_url=url, headers=client.http.headers, transport=httpx.MockTransport(handler))
    return client


def _paged(request: httpx.Request, total: int = 7) -> httpx.Response:
    size_ = int(request.url.params.get("limit", 3))
    start = int(request.url.params.get("cursor", 0))
    rows = [{"id": i} for i in range(start, min(start + size_, total))]
    nxt = start + size_
    # The server names itself by another address (a proxy): the client stays on its configured one.
    link = f"http://elsewhere.example/api/v1/things/?cursor={nxt}&limit={size_}" if nxt < total else None
    return httpx.Response(200, json={"next": link, "previous": None, "results": rows})


def test_pages_follow_next_links_on_the_configured_address_only():
    seen = []

    def handler(request):
        seen.append(request)
        return _paged(request)

    client = _client(handler)
    assert [r["id"] for r in client.pages("/things/")] == list(range(7))
    assert {r.url.host for r in seen} == {"portal"} and len(seen) == 3
    assert all(r.headers["Authorization"] == f"Token {TOKEN}" for r in seen)
    seen.clear()
    assert [r["id"] for r in client.pages("/things/", limit=4)] == [0, 1, 2, 3]
    assert len(seen) == 1 and seen[0].url.params["limit"] == "4"


def test_api_error_format_is_raised_with_its_fields():
    body = {"error": {"status": 400, "code": "invalid", "message": "name: Too long.", "fields": {"name": ["Too long."]}}}
    client = _client(lambda request: httpx.Response(400, json=body))
    with pytest.raises(ApiError) as err:
        client.get("/x/")
    assert (err.value.status, err.value.code, err.value.message, err.value.fields, err.value.body) == (
        400, "invalid", "name: Too long.", {"name": ["Too long."]}, body)


def test_an_answer_not_from_the_portal_is_an_error_naming_the_status():
    client = _client(lambda request: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(ApiError, match="HTTP 502 Bad Gateway"):
        client.get("/x/")
    client = _client(lambda request: httpx.Response(200, text="<html>hello</html>"))
    with pytest.raises(CliError, match="other than JSON"):
        client.get("/x/")


def test_unreachable_portal_is_one_line_without_the_token():
    def handler(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(CliError, match="cannot reach http://portal:8000") as err:
        _client(handler).get("/x/")
    assert TOKEN not in str(err.value)


def test_no_token_and_bad_address_are_refused_before_any_request():
    with pytest.raises(CliError, match="calypso login"):
        Client(Config(url="http://portal", token=""))
    with pytest.raises(CliError, match="not a portal address"):
        Client(Config(url="portal:8000", token=TOKEN))


# Following a job -------------------------------------------------------------------------------------------------

class FakeApi:
    """``get`` answers a job's row from a list of states, one per call (the last one repeats)."""

    def __init__(self, states, config=None, log=()):
        self.states, self.calls, self.log = list(states), 0, list(log)
        self.config = config or Config(url="https://nas:8443/portal", token=TOKEN)

    def pages(self, path, params=None, limit=0):
        assert path == "/jobs/42/log/"
        return iter(self.log)

    def get(self, path):
        state, progress = self.states[min(self.calls, len(self.states) - 1)]
        self.calls += 1
        return {"id": 42, "state": state, "progress": progress, "step": f"at {progress}",
                "error": "disk on fire" if state == "failed" else ""}


class FakeSocket:
    def __init__(self, events):
        self.events = [json.dumps(e) for e in events]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def recv(self, timeout=None):
        if not self.events:
            raise ConnectionError("closed")
        return self.events.pop(0)


def test_websocket_address_keeps_scheme_security_and_prefix():
    assert ws_url("https://nas:8443/portal/", 42) == "wss://nas:8443/portal/ws/jobs/42/"
    assert ws_url("http://127.0.0.1:8000", 7) == "ws://127.0.0.1:8000/ws/jobs/7/"


def test_follow_over_the_websocket_draws_progress_and_log_until_the_final_state():
    events = [{"event": "snapshot", "job": 42, "state": "running", "progress": 0, "step": ""},
              {"event": "progress", "job": 42, "state": "running", "progress": 50, "step": "Half"},
              {"event": "log", "job": 42, "level": "info", "message": "Started", "id": 1},  # also in the first page
              {"event": "log", "job": 42, "level": "info", "message": "hello", "time": "2026-12-01T18:00:01+00:00",
               "id": 2},
              {"event": "progress", "job": 42, "state": "running", "progress": 100, "step": "All"},
              {"event": "state", "job": 42, "state": "succeeded", "progress": 100, "step": "All", "error": ""}]
    out, opened = io.StringIO(), []

    def connect(url, token, ca_file):
        opened.append((url, token))
        return FakeSocket(events)

    api = FakeApi([("running", 0)], log=[{"id": 1, "level": "info", "message": "Started",
                                           "time": "2026-12-01T18:00:00+00:00"}])
    state = follow_job(api, 42, ProgressView(out, tty=False), connect=connect)
    assert state == "succeeded" and opened == [("wss://nas:8443/portal/ws/jobs/42/", TOKEN)]
    text = out.getvalue()
    assert text.startswith("18:00:00 info    Started\n") and text.count("Started") == 1
    assert " 50%  running   Half" in text and "18:00:01 info    hello" in text
    assert text.rstrip().endswith("Job 42 succeeded")


def test_follow_unpacks_batch_frames_and_reads_the_row_on_a_resync():
    batch = {"type": "batch", "events": [
        {"event": "progress", "job": 42, "state": "running", "progress": 40, "step": "Chunk 2"},
        {"event": "log", "job": 42, "level": "info", "message": "inside a batch", "id": 5},
        {"event": "progress", "job": 7, "state": "running", "progress": 90, "step": "another job"}]}
    events = [{"event": "snapshot", "job": 42, "state": "running", "progress": 0, "step": ""}, batch,
              {"type": "batch", "events": [{"event": "resync", "job": None}]}]
    api, out = FakeApi([("running", 0), ("succeeded", 100)]), io.StringIO()
    state = follow_job(api, 42, ProgressView(out, tty=False), connect=lambda *a: FakeSocket(events))
    assert state == "succeeded" and api.calls == 2  # before the stream, then the resync: no quiet wait
    text = out.getvalue()
    assert " 40%  running   Chunk 2" in text and "inside a batch" in text and "another job" not in text
    assert text.rstrip().endswith("Job 42 succeeded")


def test_a_batch_holding_the_final_state_ends_the_follow():
    events = [{"type": "batch", "events": [
        {"event": "progress", "job": 42, "state": "running", "progress": 100, "step": "All"},
        {"event": "state", "job": 42, "state": "succeeded", "progress": 100, "step": "All", "error": ""}]}]
    api = FakeApi([("running", 0)])
    assert follow_job(api, 42, ProgressView(io.StringIO(), tty=False), connect=lambda *a: FakeSocket(events)) \
        == "succeeded"
    assert api.calls == 1  # the row only before the stream: the end came in the batch


def test_follow_falls_back_to_polling_when_the_websocket_fails():
    def connect(url, token, ca_file):
        raise WebSocketUnavailable("InvalidStatus: server rejected WebSocket connection: HTTP 403")

    api, out, warnings, sleeps = FakeApi([("queued", 0), ("running", 30), ("running", 70), ("failed", 70)]), \
        io.StringIO(), [], []
    state = follow_job(api, 42, ProgressView(out, tty=False), connect=connect, interval=0.5,
                       sleep=sleeps.append, warn=warnings.append)
    assert state == "failed" and api.calls == 4 and sleeps == [0.5, 0.5]
    assert "polling every 0.5 s" in warnings[0] and "HTTP 403" in warnings[0]
    assert " 30%" in out.getvalue() and out.getvalue().rstrip().endswith("Job 42 failed: disk on fire")


def test_follow_of_a_stream_that_closes_early_polls_the_rest():
    events = [{"event": "snapshot", "job": 42, "state": "running", "progress": 10, "step": ""}]
    api = FakeApi([("running", 10), ("running", 10), ("cancelled", 10)])
    state = follow_job(api, 42, ProgressView(io.StringIO(), tty=False), connect=lambda *a: FakeSocket(events),
                       sleep=lambda s: None)
    assert state == "cancelled"


def test_without_a_terminal_lines_come_per_ten_points_or_slow_step_changes():
    now = [0.0]
    out = io.StringIO()
    view = ProgressView(out, tty=False, clock=lambda: now[0])
    for pct in range(0, 101, 5):  # a step each time, all within one second
        view.update("running", pct, f"Step {pct}")
    now[0] = 5.0
    view.update("running", 100, "Flushing")  # same bucket, but the step is news after a while
    view.update("succeeded", 100, "Flushing")
    view.finish(42, "succeeded")
    lines = out.getvalue().splitlines()
    assert [line.split("%")[0].split("]")[1].strip() for line in lines[:11]] == [str(p) for p in range(0, 101, 10)]
    assert lines[11:] == ["[##############################] 100%  running   Flushing",
                          "[##############################] 100%  succeeded Flushing", "Job 42 succeeded"]


def test_terminal_bar_redraws_one_line():
    out = io.StringIO()
    view = ProgressView(out, tty=True)
    view.update("running", 40, "Copying")
    view.log("warning", "slow disk")
    view.finish(42, "succeeded")
    text = out.getvalue()
    assert "\r\x1b[2K[############------------------]  40%  running   Copying" in text
    assert "warning slow disk\n" in text and text.endswith("Job 42 succeeded\n")


# The command -----------------------------------------------------------------------------------------------------

@pytest.fixture
def api_answers(monkeypatch, tmp_path):
    """The command's client answers from ``handler``; no config file of the user's is read."""
    monkeypatch.setenv("CALYPSO_CONFIG", str(tmp_path / "cli.toml"))
    monkeypatch.setenv("CALYPSO_URL", "http://portal:8000")
    monkeypatch.setenv("CALYPSO_TOKEN", TOKEN)
    answers = {}

    def make(config, **kwargs):
        return _client(lambda request: answers["handler"](request), url=config.url, token=config.token)

    monkeypatch.setattr(cli_main, "Client", make)
    return answers


def _run(*args, **kwargs):
    return CliRunner().invoke(cli_main.cli, list(args), prog_name="calypso", **kwargs)


def test_api_error_is_printed_with_its_code_and_exit_code_1(api_answers):
    body = {"error": {"status": 404, "code": "not_found", "message": "Not found."}}
    api_answers["handler"] = lambda request: httpx.Response(404, json=body)
    result = _run("job", "show", "9")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == "Error: Not found. (404 not_found)"
    result = _run("--json", "job", "show", "9")
    assert result.exit_code == 1 and json.loads(result.stderr) == body


def test_refused_token_says_how_to_get_another(api_answers):
    body = {"error": {"status": 401, "code": "authentication_failed", "message": "Invalid, expired or revoked token."}}
    api_answers["handler"] = lambda request: httpx.Response(401, json=body)
    result = _run("pool", "list")
    assert result.exit_code == 1 and "revoked token" in result.stderr and "calypso login" in result.stderr
    assert TOKEN not in result.output


def test_lists_are_tables_or_the_apis_json(api_answers):
    rows = [{"id": 1, "backend": "zfs", "name": "tank", "health": "ONLINE", "size_bytes": 2**40,
             "allocated_bytes": 2**39, "free_bytes": 2**39, "capacity_percent": 50, "scan_state": "none",
             "scan_percent": 0, "gone": False}]
    api_answers["handler"] = lambda request: httpx.Response(200, json={"next": None, "results": rows})
    result = _run("pool", "list")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].split() == ["tank", "zfs", "ONLINE", "1T", "512G", "512G", "50%", "-"]
    assert json.loads(_run("pool", "list", "--json").stdout) == rows


def test_more_rows_than_the_limit_are_cut_with_a_note(api_answers):
    api_answers["handler"] = lambda request: _paged(request, total=10)
    result = _run("--json", "job", "list", "--limit", "4")
    assert [r["id"] for r in json.loads(result.stdout)] == [0, 1, 2, 3]
    assert "--limit 0 shows all" in result.stderr
    assert len(json.loads(_run("--json", "job", "list", "--limit", "0").stdout)) == 10


def test_snapshot_create_needs_dataset_at_name(api_answers):
    result = _run("snapshot", "create", "tank-data")
    assert result.exit_code == 2 and "DATASET@NAME" in result.stderr


def test_completion_script_for_each_shell():
    for shell, marker in (("bash", "complete -o nosort -F _calypso_completion calypso"),
                          ("zsh", "#compdef calypso"), ("fish", "complete --no-files --command calypso")):
        result = _run(env={"_CALYPSO_COMPLETE": f"{shell}_source"})
        assert result.exit_code == 0 and marker in result.stdout, shell


def test_the_command_line_imports_no_django():
    code = ("import sys, apps.cli.main; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('django', 'rest_framework', 'calypso') or m.startswith('apps.') and not m.startswith('apps.cli'));"
            " print(bad); sys.exit(bool(bad))")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_installed_entry_point_completes_commands(tmp_path):
    """``.venv/bin/calypso`` (make run / make test install it) runs from any folder."""
    exe = Path(sys.executable).parent / "calypso"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: bin/lib.sh ensure_cli installs it")
    env = {**os.environ, "_CALYPSO_COMPLETE": "bash_complete", "COMP_WORDS": "calypso sn", "COMP_CWORD": "1"}
    done = subprocess.run([str(exe)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.split() == ["plain,snapshot"], done.stderr
