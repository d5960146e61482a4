"""Real servers on 127.0.0.1 for the notification tests: an HTTP server that answers a scripted list of statuses
and records every request (webhooks, ntfy), and an SMTP server (aiosmtpd) with optional AUTH, STARTTLS or
implicit TLS that records every message; a self-signed certificate for 127.0.0.1 the clients trust for the test.
Each is started by its fixture and stopped at the end of the test."""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["HttpRecorder", "Mailbox", "http_server", "loopback_cert", "smtp_server"]

LOOPBACK = "127.0.0.1"


# ------------------------------------------------------------------ HTTP
@dataclass
class HttpRecorder:
    """What the server answers (``statuses``, in order; then ``default``) and what it was sent."""

    statuses: list[int] = field(default_factory=list)
    default: int = 200
    requests: list[dict] = field(default_factory=list)
    url: str = ""

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else self.default


def _handler(recorder: HttpRecorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            recorder.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            status = recorder.answer()
            answer = b"ok" if status < 300 else b"upstream exploded"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:  # quiet test output
            pass

    return Handler


@pytest.fixture
def http_server():
    """An HttpRecorder serving on a free loopback port for the test."""
    recorder = HttpRecorder()
    server = ThreadingHTTPServer((LOOPBACK, 0), _handler(recorder))
    recorder.url = f"http://{LOOPBACK}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ------------------------------------------------------------------ TLS
@pytest.fixture
def loopback_cert(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, self-signed; the test's TLS clients trust it (SSL_CERT_FILE)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "loopback.crt", tmp_path / "loopback.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    return cert_path, key_path


def _server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    return context


# ------------------------------------------------------------------ SMTP
@dataclass
class Mailbox:
    """The messages the SMTP server accepted, and the users who signed in."""

    port: int = 0
    messages: list[dict] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    credentials: dict[str, str] = field(default_factory=dict)

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message,
                              "authenticated": bool(session.authenticated),
                              "tls": server.transport.get_extra_info("ssl_object") is not None})
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.credentials.get(login) == password:
                self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """``smtp_server(credentials=None, starttls=None, implicit_tls=None)`` -> a Mailbox served on loopback; with
    credentials AUTH is required, with a certificate STARTTLS is required (or the whole session is TLS)."""
    controllers = []

    def start(credentials: dict[str, str] | None = None, starttls: tuple[Path, Path] | None = None,
              implicit_tls: tuple[Path, Path] | None = None) -> Mailbox:
        box = Mailbox(port=_free_port(), credentials=credentials or {})
        options: dict = {}
        if credentials:
            options.update(authenticator=box.authenticate, auth_required=True,
                           auth_require_tls=bool(starttls or implicit_tls))
        if starttls:
            options.update(tls_context=_server_context(starttls), require_starttls=True)
        controller = Controller(box, hostname=LOOPBACK, port=box.port,
                                ssl_context=_server_context(implicit_tls) if implicit_tls else None, **options)
        controller.start()
        controllers.append(controller)
        return box

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()
