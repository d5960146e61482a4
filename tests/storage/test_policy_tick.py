"""The policy beat tick survives a database that stays busy for a while: it is retried, not lost."""

from __future__ import annotations

from django.db import OperationalError

from apps.storage import policies, tasks


def test_a_tick_that_meets_a_locked_database_is_retried(monkeypatch):
    calls = []

    def flaky(now=None):
        calls.append(now)
        if len(calls) < 3:
            raise OperationalError("database is locked")
        return []

    monkeypatch.setattr(policies, "run_due_policies", flaky)
    result = tasks.run_due_policies_task.apply()
    assert result.successful(), result.traceback
    assert result.get() == {"jobs": []}
    assert len(calls) == 3


def test_a_tick_gives_up_after_its_retries(monkeypatch):
    calls = []

    def locked(now=None):
        calls.append(now)
        raise OperationalError("database is locked")

    monkeypatch.setattr(policies, "run_due_policies", locked)
    result = tasks.run_due_policies_task.apply()
    assert result.failed() and isinstance(result.result, OperationalError)
    assert len(calls) == 1 + tasks.run_due_policies_task.max_retries
