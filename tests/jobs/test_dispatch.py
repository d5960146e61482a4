"""What a new process does before its first job: the web server warms its job sender as it starts."""

from __future__ import annotations

import contextlib
import logging
import threading

import pytest
from asgiref.testing import ApplicationCommunicator

import calypso.asgi
from apps.jobs import services
from apps.jobs.tasks import run_job_task


@pytest.mark.asyncio
async def test_the_server_warms_the_job_sender_as_it_starts(monkeypatch):
    calls = []
    monkeypatch.setattr(calypso.asgi, "warm_up_sender", lambda: calls.append(threading.current_thread()) or True)
    server = ApplicationCommunicator(calypso.asgi.application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await server.send_input({"type": "lifespan.startup"})
    assert await server.receive_output(timeout=5) == {"type": "lifespan.startup.complete"}
    assert len(calls) == 1 and calls[0] is not threading.main_thread()  # in a thread: the loop goes on
    await server.send_input({"type": "lifespan.shutdown"})
    assert await server.receive_output(timeout=5) == {"type": "lifespan.shutdown.complete"}


def test_warm_up_connects_and_every_thread_shares_the_result_backend():
    """Each HTTP request runs in a thread of its own: a per-thread backend would be built on every enqueue."""
    assert services.warm_up_sender() is True
    app = run_job_task.app
    with app.producer_or_acquire() as producer:
        assert producer.connection.connected
    here, there = app.backend, []
    thread = threading.Thread(target=lambda: there.append(app.backend))
    thread.start()
    thread.join(5)
    assert there == [here]


def test_warm_up_with_the_broker_down_says_so_and_lets_the_first_enqueue_connect(monkeypatch, caplog):
    @contextlib.contextmanager
    def refused(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")
        yield

    monkeypatch.setattr(run_job_task.app, "producer_or_acquire", refused)
    with caplog.at_level(logging.WARNING, logger="calypso.jobs"):
        assert services.warm_up_sender() is False
    assert "could not connect to the job queue's broker yet" in caplog.text
