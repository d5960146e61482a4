import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken
from apps.audit.models import AuditEvent


@pytest.fixture(autouse=True)
def _clear_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_token_is_shown_once_and_stored_hashed(operator_user):
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": "operator1", "password": "correct horse battery",
                                                   "token_name": "monitoring"}, format="json")
    assert response.status_code == 201
    key = response.json()["key"]
    token = ApiToken.objects.get(user=operator_user)
    assert key not in token.key_hash and token.key_hash == ApiToken.hash_secret(key.split(".", 1)[1])
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = client.get("/api/v1/auth/me/")
    assert me.status_code == 200 and me.json()["username"] == "operator1"
    listed = client.get("/api/v1/auth/tokens/").json()["results"]
    assert listed[0]["name"] == "monitoring" and "key" not in listed[0]
    assert AuditEvent.objects.filter(action="accounts.apitoken.create", actor=operator_user).exists()


@pytest.mark.django_db
def test_revoked_and_bad_tokens_get_401(operator_user):
    token, key = ApiToken.issue(operator_user, "x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/jobs/").status_code == 200
    assert client.delete(f"/api/v1/auth/tokens/{token.pk}/").status_code == 204
    assert client.get("/api/v1/jobs/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token cal_deadbeef.nope")
    response = client.get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_wrong_password_is_401_and_audited(operator_user):
    response = APIClient().post("/api/v1/auth/login/", {"username": "operator1", "password": "wrong"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_credentials"
    event = AuditEvent.objects.get(action="accounts.user.login")
    assert event.outcome == "denied" and event.object_label == "operator1"


@pytest.mark.django_db
def test_session_login_then_api(operator_user):
    client = APIClient(enforce_csrf_checks=False)
    response = client.post("/api/v1/auth/login/", {"username": "operator1", "password": "correct horse battery"},
                           format="json")
    assert response.status_code == 200
    assert client.get("/api/v1/auth/me/").json()["username"] == "operator1"


@pytest.mark.django_db
def test_missing_field_is_400_naming_it():
    response = APIClient().post("/api/v1/auth/token/", {"username": "x"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_login_is_throttled_per_address(operator_user, settings):
    # The request-rate throttle alone (the per-account guard is tested in test_hardening.py).
    settings.CALYPSO_SIGNIN_FREE_FAILURES = settings.CALYPSO_SIGNIN_FREE_FAILURES_PER_ADDRESS = 1000
    client = APIClient(REMOTE_ADDR="10.9.8.7")
    codes = [client.post("/api/v1/auth/login/", {"username": "operator1", "password": "bad"}, format="json").status_code
             for _ in range(101)]
    assert codes[:100] == [401] * 100
    assert codes[100] == 429
    other = APIClient(REMOTE_ADDR="10.9.8.8")
    assert other.post("/api/v1/auth/login/", {"username": "operator1", "password": "bad"},
                      format="json").status_code == 401
