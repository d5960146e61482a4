"""Sign-in, sessions and tokens as a hostile client would try them: forged forwarding headers, password
guessing, cross-origin posts and WebSockets, disabled accounts, and the audit trail of what was refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, User
from apps.audit.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/api/v1/auth/login/"
TOKEN = "/api/v1/auth/token/"
GOOD = "correct horse battery"


@pytest.fixture(autouse=True)
def _clear_counters():
    cache.clear()
    yield
    cache.clear()


def _guess(client: APIClient, username: str = "operator1", password: str = "wrong", **extra) -> int:
    return client.post(TOKEN, {"username": username, "password": password}, format="json", **extra).status_code


# --- client address: only trusted proxies are believed ------------------------------------------------

@pytest.mark.django_db
def test_forged_forwarded_for_does_not_reset_the_throttle(operator_user, settings, monkeypatch):
    from apps.accounts.api.views import AddressRateThrottle

    settings.CALYPSO_SIGNIN_FREE_FAILURES = settings.CALYPSO_SIGNIN_FREE_FAILURES_PER_ADDRESS = 1000
    monkeypatch.setattr(AddressRateThrottle, "THROTTLE_RATES", {"auth": "20/min"})
    client = APIClient(REMOTE_ADDR="10.9.8.7")
    codes = [_guess(client, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}") for i in range(25)]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    # And the audit trail has the real address, not the forged ones.
    addresses = set(AuditEvent.objects.filter(action="accounts.user.login").values_list("address", flat=True))
    assert addresses == {"10.9.8.7"}


@pytest.mark.django_db
def test_a_trusted_proxy_forwards_the_client_address_and_request_id(admin_user, settings):
    settings.CALYPSO_TRUSTED_PROXIES = ["10.0.0.0/24"]
    client = APIClient(REMOTE_ADDR="10.0.0.5")
    client.force_authenticate(admin_user)
    response = client.post("/api/v1/auth/users/", {"username": "viaproxy"}, format="json",
                           HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.7", HTTP_X_REQUEST_ID="lb-42")
    assert response.status_code == 201
    event = AuditEvent.objects.get(action="accounts.user.create")
    assert (event.address, event.request_id) == ("203.0.113.9", "lb-42")
    # The same headers from an untrusted peer are ignored.
    client = APIClient(REMOTE_ADDR="192.0.2.50")
    client.force_authenticate(admin_user)
    response = client.post("/api/v1/auth/users/", {"username": "direct"}, format="json",
                           HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_X_REQUEST_ID="lb-43")
    event = AuditEvent.objects.filter(action="accounts.user.create").first()
    assert (event.address, event.object_label) == ("192.0.2.50", "direct")
    assert event.request_id != "lb-43" and response["X-Request-ID"] == event.request_id


# --- password guessing: per account and address, exponential back-off --------------------------------

@pytest.mark.django_db
def test_repeated_failures_lock_the_account_for_that_address_only(operator_user, settings, monkeypatch):
    settings.CALYPSO_SIGNIN_FREE_FAILURES = 5
    now = time.time()
    # the guard's clock stands still: its 1 s lock may not run out on a slow box before the test looks
    monkeypatch.setattr("apps.accounts.guard.time", SimpleNamespace(time=lambda: now))
    attacker = APIClient(REMOTE_ADDR="10.66.0.1")
    codes = [_guess(attacker, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}") for i in range(8)]
    assert codes[:5] == [401] * 5
    assert codes[5] == 429  # locked before the password is even looked at
    locked = attacker.post(TOKEN, {"username": "operator1", "password": GOOD}, format="json")
    assert locked.status_code == 429 and int(locked["Retry-After"]) >= 1
    assert locked.json()["error"]["code"] == "sign_in_locked"
    # The real operator, from another address, still gets in.
    assert _guess(APIClient(REMOTE_ADDR="10.77.0.1"), password=GOOD) == 201
    # The admin's login page answers the same lock with a wait, not "wrong password".
    page = Client(REMOTE_ADDR="10.66.0.1").post("/admin/login/", {"username": "operator1", "password": GOOD})
    assert page.status_code == 200 and b"Too many failed sign-ins" in page.content
    assert AuditEvent.objects.filter(action="accounts.user.login", outcome="denied",
                                     message__contains="locked").exists()


@pytest.mark.django_db
def test_back_off_doubles_with_each_further_failure(operator_user, settings):
    from apps.accounts import guard

    settings.CALYPSO_SIGNIN_FREE_FAILURES = 3
    waits = []
    for _ in range(7):
        guard.failed("operator1", "10.1.1.1")
        waits.append(guard.wait_seconds("operator1", "10.1.1.1"))
    assert waits[:2] == [0, 0]
    assert waits[2:] == [1, 2, 4, 8, 16]
    assert guard.wait_seconds("operator1", "10.1.1.2") == 0
    guard.succeeded("operator1", "10.1.1.1")
    assert guard.wait_seconds("operator1", "10.1.1.1") == 0


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2_and_old_hashes_upgraded(operator_user, settings):
    from calypso import settings as production

    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS  # the production list, not the tests' MD5
    assert settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    User.objects.filter(pk=operator_user.pk).update(
        password=make_password(GOOD, hasher="pbkdf2_sha256"))
    assert _guess(APIClient(), password=GOOD) == 201
    assert User.objects.get(pk=operator_user.pk).password.startswith("argon2$argon2id$")


# --- login CSRF ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_session_login_refuses_a_cross_origin_form_post(operator_user):
    browser = APIClient(enforce_csrf_checks=True)
    forged = browser.post(LOGIN, {"username": "operator1", "password": GOOD}, HTTP_ORIGIN="https://evil.example")
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    assert "sessionid" not in browser.cookies
    assert AuditEvent.objects.filter(action="http.request.csrf_failed", outcome="denied").exists()
    # The portal's own page: GET the token, post it back from the same origin.
    token = browser.get(LOGIN).json()["csrf_token"]
    ok = browser.post(LOGIN, {"username": "operator1", "password": GOOD}, format="json",
                      HTTP_X_CSRFTOKEN=token, HTTP_ORIGIN="http://testserver")
    assert ok.status_code == 200 and browser.cookies["sessionid"].value
    # The token endpoint sets no cookie and needs no CSRF token.
    assert _guess(APIClient(enforce_csrf_checks=True), password=GOOD) == 201
    # A form of the admin posted without its token: refused, and the failure is in the audit trail.
    before = AuditEvent.objects.filter(action="http.request.csrf_failed").count()
    page = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "operator1", "password": GOOD})
    assert page.status_code == 403
    event = AuditEvent.objects.filter(action="http.request.csrf_failed").first()
    assert AuditEvent.objects.filter(action="http.request.csrf_failed").count() == before + 1
    assert "CSRF cookie not set" in event.message and event.object_label == "POST /admin/login/"


# --- tokens and accounts --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_tokens_get_a_default_lifetime_shown_when_created(operator_user, settings):
    settings.CALYPSO_TOKEN_LIFETIME_DAYS = 30
    response = APIClient().post(TOKEN, {"username": "operator1", "password": GOOD}, format="json")
    assert response.status_code == 201
    expires = ApiToken.objects.get(user=operator_user).expires
    assert abs(expires - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert response.json()["expires"] is not None
    client = APIClient()
    client.force_authenticate(operator_user)
    too_far = (timezone.now() + timedelta(days=settings.CALYPSO_TOKEN_MAX_LIFETIME_DAYS + 1)).isoformat()
    refused = client.post("/api/v1/auth/tokens/", {"name": "forever", "expires": too_far}, format="json")
    assert refused.status_code == 400 and "expires" in refused.json()["error"]["fields"]
    # Expired: 401.
    ApiToken.objects.filter(user=operator_user).update(expires=timezone.now() - timedelta(seconds=1))
    key = response.json()["key"]
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/jobs/").status_code == 401


@pytest.mark.django_db
def test_disabling_a_user_ends_sessions_and_revokes_tokens_for_good(operator_user, admin_user):
    _token, key = ApiToken.issue(operator_user, "cli")
    browser = Client()
    assert browser.login(username="operator1", password=GOOD)
    assert browser.get("/api/v1/auth/me/").status_code == 200
    admin = APIClient()
    admin.force_authenticate(admin_user)
    url = f"/api/v1/auth/users/{operator_user.pk}/"
    assert admin.patch(url, {"is_active": False}, format="json").status_code == 200
    assert admin.patch(url, {"is_active": True}, format="json").status_code == 200
    assert browser.get("/api/v1/auth/me/").status_code in (401, 403)
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/jobs/").status_code == 401
    assert not ApiToken.objects.filter(user=operator_user, revoked=False).exists()


@pytest.mark.django_db
def test_a_password_change_is_audited_without_its_value(operator_user, admin_user):
    admin = APIClient()
    admin.force_authenticate(admin_user)
    new = "another long passphrase 77"
    assert admin.patch(f"/api/v1/auth/users/{operator_user.pk}/", {"password": new}, format="json").status_code == 200
    event = AuditEvent.objects.get(action="accounts.user.update")
    assert event.message == "password changed"
    assert event.changes["password"] == ["********", "(new value, not recorded)"]
    assert new not in str(event.changes) and new not in event.message


@pytest.mark.django_db
def test_denied_and_refused_requests_are_audited(viewer_user, client_for):
    client = client_for(viewer_user)
    denied = client.post("/api/v1/auth/users/", {"username": "sneaky"}, format="json")
    assert denied.status_code == 403
    event = AuditEvent.objects.get(action="http.request.denied")
    assert (event.actor, event.outcome, event.object_label) == (viewer_user, "denied", "POST /api/v1/auth/users/")
    refused = APIClient().post(TOKEN, {"username": ""}, format="json")
    assert refused.status_code == 400
    event = AuditEvent.objects.get(action="http.request.refused")
    assert event.outcome == "denied" and "username" in event.message and "password" in event.message
    bad_token = APIClient(HTTP_AUTHORIZATION="Token cal_0000.nope").get("/api/v1/jobs/")
    assert bad_token.status_code == 401
    assert AuditEvent.objects.filter(action="http.request.denied", message__icontains="token").exists()


@pytest.mark.django_db
def test_refusal_records_are_rate_limited(settings):
    settings.CALYPSO_AUDIT_REFUSALS_PER_ADDRESS = 5
    settings.CALYPSO_AUDIT_REFUSALS_TOTAL = 300
    client = APIClient(REMOTE_ADDR="10.200.0.1")
    for _ in range(40):
        assert client.post(TOKEN, {}, format="json").status_code == 400
    events = AuditEvent.objects.filter(action="http.request.refused", address="10.200.0.1")
    assert events.count() == 6  # five, then one saying the rest are not recorded
    assert "limit reached" in events.first().message
    # Another address is still recorded.
    APIClient(REMOTE_ADDR="10.200.0.2").post(TOKEN, {}, format="json")
    assert AuditEvent.objects.filter(action="http.request.refused", address="10.200.0.2").count() == 1


# --- WebSocket origins ------------------------------------------------------------------------------------

def _scope(host: str, scheme: str = "ws") -> dict:
    return {"type": "websocket", "scheme": scheme, "headers": [(b"host", host.encode())]}


@pytest.mark.parametrize("origin, host, scheme, ok", [
    ("http://localhost:8000", "localhost:8000", "ws", True),
    ("http://localhost:31337", "localhost:8000", "ws", False),  # another port on an allowed host
    ("https://localhost:8000", "localhost:8000", "ws", False),  # another scheme
    ("http://localhost", "localhost", "ws", True),
    ("http://localhost:80", "localhost", "ws", True),
    ("https://127.0.0.1", "127.0.0.1:443", "wss", True),
    ("http://evil.example:8000", "evil.example:8000", "ws", False),  # host not allowed
    ("null", "localhost:8000", "ws", False),
    ("http://localhost:8000/path", "localhost:8000", "ws", False),
])
def test_websocket_origin_is_matched_exactly(origin, host, scheme, ok, settings):
    from apps.accounts.channels import origin_allowed

    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = []
    assert origin_allowed(origin, _scope(host, scheme)) is ok


def test_trusted_origins_are_matched_exactly(settings):
    from apps.accounts.channels import origin_allowed

    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://calypso.example.com"]
    assert origin_allowed("https://calypso.example.com", _scope("127.0.0.1:8000"))
    assert origin_allowed("https://calypso.example.com:443", _scope("127.0.0.1:8000"))
    assert not origin_allowed("https://calypso.example.com:8443", _scope("127.0.0.1:8000"))
    assert not origin_allowed("http://calypso.example.com", _scope("127.0.0.1:8000"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_websocket_handshakes(operator_user, settings):
    from asgiref.sync import sync_to_async
    from asgiref.testing import ApplicationCommunicator

    from calypso.asgi import application

    settings.ALLOWED_HOSTS = ["localhost"]
    key = (await sync_to_async(ApiToken.issue)(operator_user, "ws"))[1]

    async def attempt(headers) -> str:
        scope = {"type": "websocket", "scheme": "ws", "path": "/ws/jobs/", "raw_path": b"/ws/jobs/",
                 "query_string": b"", "headers": [(b"host", b"localhost:8000"), *headers], "subprotocols": [],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
        comm = ApplicationCommunicator(application, scope)
        await comm.send_input({"type": "websocket.connect"})
        first = await comm.receive_output(timeout=5)
        if first["type"] == "websocket.close":
            return "refused"
        # Accepted: the consumer then closes 4401 when it refuses an anonymous user.
        if await comm.receive_nothing(timeout=0.5):
            await comm.send_input({"type": "websocket.disconnect", "code": 1000})
            await comm.wait(timeout=5)
            return "open"
        second = await comm.receive_output(timeout=1)
        return str(second.get("code")) if second["type"] == "websocket.close" else "open"

    assert await attempt([(b"origin", b"http://localhost:31337"), (b"authorization", f"Token {key}".encode())]) \
        == "refused"
    assert await attempt([(b"authorization", f"Token {key}".encode())]) == "open"  # a token client: no Origin
    assert await attempt([(b"origin", b"http://localhost:8000"), (b"authorization", f"Token {key}".encode())]) \
        == "open"
    # A browser session: its own origin opens, another port is refused, no Origin at all is not a
    # browser page, so the cookie alone is not enough (4401).
    def session_cookie() -> bytes:
        browser = Client()
        browser.force_login(operator_user)
        return f"sessionid={browser.cookies['sessionid'].value}".encode()

    cookie = (b"cookie", await sync_to_async(session_cookie)())
    assert await attempt([cookie, (b"origin", b"http://localhost:8000")]) == "open"
    assert await attempt([cookie, (b"origin", b"http://localhost:31337")]) == "refused"
    assert await attempt([cookie]) == "4401"


# --- deployment settings ----------------------------------------------------------------------------------

def _docker_env() -> dict:
    """The settings the container image runs with (docker/Dockerfile ENV and compose's example env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALYPSO_")}
    for line in (ROOT / "docker" / "Dockerfile").read_text().splitlines():
        line = line.strip().rstrip("\\").strip()
        for word in line.removeprefix("ENV ").split():
            if "=" in word and word.split("=", 1)[0].isupper():
                name, value = word.split("=", 1)
                env[name] = value
    return env


def test_check_deploy_passes_with_the_container_settings(tmp_path):
    env = _docker_env()
    assert env.get("CALYPSO_HTTPS") == "1"
    env.update(CALYPSO_DATA_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
               CALYPSO_SECRET_KEY="x" * 20 + "ThisIsALongAndRandomEnoughKey-0123456789",
               CALYPSO_ALLOWED_HOSTS="calypso.example.com", CALYPSO_ENV_FILE=str(tmp_path / "none.env"))
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_hosts_do_not_include_the_test_client_host(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALYPSO_")}
    env.update(CALYPSO_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="calypso.settings",
               CALYPSO_ENV_FILE=str(tmp_path / "none.env"))
    code = "import django; django.setup(); from django.conf import settings; print(settings.ALLOWED_HOSTS)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "testserver" not in out.stdout and "localhost" in out.stdout


@pytest.mark.django_db
def test_pages_carry_csp_and_no_framing(admin_user):
    client = Client()
    client.force_login(admin_user)
    for url in ("/admin/", "/api/v1/auth/me/", "/api/v1/docs/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
    assert Client().get("/api/v1/auth/me/")["Cache-Control"] == "no-store"
