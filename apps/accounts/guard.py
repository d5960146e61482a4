"""Password guessing: failed sign-ins are counted per account *and* client address, and per address over
all accounts; past a few failures each further attempt waits twice as long as the one before.

Keyed on the pair, an attacker slows down only themselves: the administrator signing in from another
address is not locked out. The address comes from ``apps.core.clients`` (forwarded headers only from a
trusted proxy), so a forged ``X-Forwarded-For`` does not reset the count. Every path that checks a
password goes through ``GuardedModelBackend``: the API's login and token endpoints and the admin's login
page alike.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from apps.core.clients import client_address

__all__ = ["GuardedModelBackend", "SignInLocked", "failed", "succeeded", "wait_seconds"]

WINDOW_S = 3600  # failures are forgotten after an hour without one
MAX_WAIT_S = 900


class SignInLocked(PermissionDenied):
    def __init__(self, wait: int):
        self.wait = wait
        super().__init__(f"Too many failed sign-ins: try again in {wait} s.")


def _keys(username: str, address: str | None) -> list[tuple[str, int]]:
    account = hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:24]
    addr = address or "-"
    return [(f"signin:pair:{account}:{addr}", settings.CALYPSO_SIGNIN_FREE_FAILURES),
            (f"signin:addr:{addr}", settings.CALYPSO_SIGNIN_FREE_FAILURES_PER_ADDRESS)]


def _backoff(failures: int, free: int) -> int:
    return 0 if failures < free else min(MAX_WAIT_S, 2 ** (failures - free))


def wait_seconds(username: str, address: str | None) -> int:
    """Seconds before another attempt for this account from this address is looked at (0: go ahead)."""
    now = time.time()
    until = max((cache.get(key) or {}).get("until", 0) for key, _ in _keys(username, address))
    return max(0, math.ceil(until - now))


def failed(username: str, address: str | None) -> None:
    now = time.time()
    for key, free in _keys(username, address):
        state = cache.get(key) or {"n": 0, "until": 0}
        state["n"] += 1
        wait = _backoff(state["n"], free)
        state["until"] = now + wait if wait else 0
        cache.set(key, state, WINDOW_S + MAX_WAIT_S)


def succeeded(username: str, address: str | None) -> None:
    cache.delete(_keys(username, address)[0][0])


class GuardedModelBackend(ModelBackend):
    """Django's model backend behind the guard: a locked pair is refused before the password is looked at
    (so waiting is the only way on), failures are counted, a success clears the pair's count."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if request is None or username is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        address = client_address(request)
        wait = wait_seconds(username, address)
        if wait:
            raise SignInLocked(wait)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            failed(username, address)
        else:
            succeeded(username, address)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
