"""Shared fixtures: users in each role, API clients, replay runners."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.roles import ADMINISTRATOR, AUDITOR, OPERATOR, VIEWER, sync_roles


def _user(username: str, role: str | None, **extra) -> User:
    from django.contrib.auth.models import Group

    sync_roles()
    user = User.objects.create_user(username=username, password="correct horse battery", **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db):
    return _user


@pytest.fixture
def admin_user(db):
    return _user("admin1", ADMINISTRATOR, is_superuser=True, is_staff=True)


@pytest.fixture
def operator_user(db):
    return _user("operator1", OPERATOR, is_staff=True)


@pytest.fixture
def auditor_user(db):
    return _user("auditor1", AUDITOR, is_staff=True)


@pytest.fixture
def viewer_user(db):
    return _user("viewer1", VIEWER, is_staff=True)


@pytest.fixture
def plain_user(db):
    """Logged in, but no role at all."""
    return _user("nobody1", None)


@pytest.fixture
def client_for():
    """``client_for(user)`` -> an APIClient authenticated as ``user`` (anonymous for None)."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
