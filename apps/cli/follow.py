"""``calypso job follow``: a job's progress and log lines live over the WebSocket ``/ws/jobs/<id>/`` (token
header, no ``Origin``), or, when the WebSocket cannot be used, its progress by polling ``/api/v1/jobs/<id>/``
(``calypso job log`` shows the log then). Returns the job's final state."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from .client import Client, ssl_context
from .output import when

__all__ = ["SUCCEEDED", "TERMINAL_STATES", "ProgressView", "WebSocketUnavailable", "follow_job", "ws_url"]

SUCCEEDED = "succeeded"
TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled", "rolled_back"})
QUIET_CHECK_S = 5.0  # no event for this long: read the job's row (an event may have been lost)


class WebSocketUnavailable(Exception):
    """The stream could not be opened or ended before the job did: polling takes over."""


class ProgressView:
    """Draws the progress: on a terminal one bar redrawn in place (cut to the terminal's width), log lines
    printed above it; elsewhere (a pipe, a log file) a line per ten points of progress or change of state,
    and for a new step alone at most every ``step_every_s``."""

    width = 30
    step_every_s = 2.0  # without a terminal, a new step alone is printed at most this often

    def __init__(self, out: TextIO, *, tty: bool, show_log: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.tty, self.show_log, self.clock = out, tty, show_log, clock
        self.state, self.progress, self.step = "", -1, None
        self._printed: tuple | None = None
        self._printed_at = float("-inf")
        self._bar_shown = False

    def update(self, state: str | None = None, progress: int | None = None, step: str | None = None) -> None:
        self.state = state or self.state
        self.progress = self.progress if progress is None else int(progress)
        self.step = self.step if step is None else step
        if self.tty:
            self._draw_bar()
            return
        key = (self.state, self.progress // 10, self.step)
        if self._printed is None or key[:2] != self._printed[:2] or (
                key[2] != self._printed[2] and self.clock() - self._printed_at >= self.step_every_s):
            self._print_status(key)

    def log(self, level: str, message: str, time_: str | None = None) -> None:
        if not self.show_log:
            return
        self._clear_bar()
        stamp = f"{when(time_)[11:]} " if time_ else ""
        self._line(f"{stamp}{level:<7} {message}")
        if self.tty and self.progress >= 0:
            self._draw_bar()

    def finish(self, job_id: int, state: str, error: str = "") -> None:
        self._clear_bar()
        key = (self.state, self.progress // 10, self.step)
        if self.progress >= 0 and key != self._printed:
            self._print_status(key)
        self._line(f"Job {job_id} {state.replace('_', ' ')}" + (f": {error}" if error else ""))

    def _status(self) -> str:
        pct = max(self.progress, 0)
        filled = self.width * pct // 100
        bar = "#" * filled + "-" * (self.width - filled)
        return f"[{bar}] {pct:3d}%  {self.state:<9} {self.step or ''}".rstrip()

    def _print_status(self, key: tuple) -> None:
        self._printed, self._printed_at = key, self.clock()
        self._line(self._status())

    def _draw_bar(self) -> None:
        self.out.write("\r\x1b[2K" + self._status()[:shutil.get_terminal_size().columns - 1])
        self.out.flush()
        self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self.out.write("\r\x1b[2K")
            self._bar_shown = False

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def ws_url(base_url: str, job_id: int) -> str:
    """``http(s)://host[:port][/prefix]`` -> ``ws(s)://host[:port][/prefix]/ws/jobs/<id>/``."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + f"/ws/jobs/{job_id}/", "", ""))


def _connect_ws(url: str, token: str, ca_file: str = ""):
    try:
        from websockets.sync.client import connect
    except ImportError as exc:  # the client library is optional: polling works without it
        raise WebSocketUnavailable(f"no WebSocket client ({exc})") from None
    kwargs = {"ssl": ssl_context(ca_file)} if url.startswith("wss:") else {}
    try:
        return connect(url, additional_headers={"Authorization": f"Token {token}"}, open_timeout=10,
                       close_timeout=2, **kwargs)
    except Exception as exc:
        raise WebSocketUnavailable(f"{type(exc).__name__}: {exc}") from None


def _via_websocket(client: Client, job_id: int, view: ProgressView, connect: Callable) -> str:
    config = client.config
    with connect(ws_url(config.url, job_id), config.token, config.ca_file) as ws:
        last_log_id = 0
        if view.show_log:  # the lines written before the stream opened; later ones arrive on it, once
            for row in client.pages(f"/jobs/{job_id}/log/"):
                view.log(str(row.get("level", "")), str(row.get("message", "")), row.get("time"))
                last_log_id = max(last_log_id, int(row.get("id") or 0))
        while True:
            try:
                raw = ws.recv(timeout=QUIET_CHECK_S)
            except TimeoutError:
                if state := _from_row(client, job_id, view):  # quiet: the row is the truth
                    return state
                continue
            except Exception as exc:  # closed (refused: 4401/4404, or the server went away)
                raise WebSocketUnavailable(f"{type(exc).__name__}: {exc}") from None
            for event in _events(raw):
                if event.get("job") not in (None, job_id):
                    continue
                kind = event.get("event")
                if kind == "log":
                    if int(event.get("id") or 0) and int(event["id"]) <= last_log_id:
                        continue
                    view.log(str(event.get("level", "")), str(event.get("message", "")), event.get("time"))
                elif kind == "resync":  # events were missed: the row says where the job is
                    if state := _from_row(client, job_id, view):
                        return state
                elif kind in ("snapshot", "progress", "state"):
                    view.update(event.get("state"), event.get("progress"), event.get("step"))
                    state = event.get("state")
                    if kind != "progress" and state in TERMINAL_STATES:
                        view.finish(job_id, state, event.get("error") or "")
                        return state


def _events(raw) -> list[dict]:
    """The events of one frame: one event, or a batch of them (``{"type": "batch", "events": [...]}``)."""
    try:
        frame = json.loads(raw)
    except (TypeError, ValueError):
        return []
    if not isinstance(frame, dict):
        return []
    events = frame.get("events") if frame.get("type") == "batch" else [frame]
    return [e for e in events or () if isinstance(e, dict)]


def _from_row(client: Client, job_id: int, view: ProgressView) -> str:
    """Draw the job's row; its state when the job has ended (and the view finished), else ""."""
    job = client.get(f"/jobs/{job_id}/")
    view.update(job["state"], job["progress"], job["step"])
    if job["state"] in TERMINAL_STATES:
        view.finish(job_id, job["state"], job.get("error") or "")
        return job["state"]
    return ""


def _via_polling(client: Client, job_id: int, view: ProgressView, interval: float,
                 sleep: Callable[[float], None]) -> str:
    while not (state := _from_row(client, job_id, view)):
        sleep(interval)
    return state


def follow_job(client: Client, job_id: int, view: ProgressView, *, websocket: bool = True, interval: float = 1.0,
               connect: Callable = _connect_ws, sleep: Callable[[float], None] = time.sleep,
               warn: Callable[[str], None] = lambda _message: None) -> str:
    """Follow job ``job_id`` to its end and return its final state. The WebSocket first (when
    ``websocket``); if it cannot be opened, or closes before the job ends, polling the job's row."""
    job = client.get(f"/jobs/{job_id}/")  # unknown or hidden: the API's 404, before any stream
    if job["state"] in TERMINAL_STATES:
        view.update(job["state"], job["progress"], job["step"])
        view.finish(job_id, job["state"], job.get("error") or "")
        return job["state"]
    if websocket:
        try:
            return _via_websocket(client, job_id, view, connect)
        except WebSocketUnavailable as exc:
            warn(f"live updates unavailable ({exc}); polling every {interval:g} s")
    return _via_polling(client, job_id, view, interval, sleep)
