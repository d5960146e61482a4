"""How the portal's ASGI server is started: one argv for ``make run`` (the supervisor), the live test
stack and the benchmarks."""

from __future__ import annotations

__all__ = ["uvicorn_argv"]


def uvicorn_argv(python: str, app: str, host: str, port: int) -> list[str]:
    """uvicorn serving ``app``: warnings only; no forwarded headers believed (the portal decides which
    proxies it trusts, apps.core.clients); WebSocket frames uncompressed: job event frames are small JSON
    sent many times a second to every socket, and per-message deflate (a compressor per socket) was the
    largest share of the server's CPU with 100 sockets (benchmarks/progress_load.py)."""
    return [python, "-m", "uvicorn", app, "--host", host, "--port", str(port), "--ws", "websockets-sansio",
            "--ws-per-message-deflate", "false", "--log-level", "warning", "--no-proxy-headers"]
