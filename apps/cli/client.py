"""The REST API over HTTP: one client per command, the token in the ``Authorization`` header, errors in the
API's format (``{"error": {status, code, message, fields}}``) raised as ApiError."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from .config import Config

__all__ = ["API", "ApiError", "CliError", "Client"]

API = "/api/v1"


class CliError(Exception):
    """Something the operator must fix; printed without a traceback, exit code 1."""


class ApiError(CliError):
    """An error answer of the API."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None,
                 body: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}
        self.body = body or {"error": {"status": status, "code": code, "message": message}}

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):  # not the portal's answer (a proxy's page, say)
            return cls(response.status_code, "http_error",
                       f"HTTP {response.status_code} {response.reason_phrase} from {response.request.url.path}")
        return cls(error.get("status", response.status_code), str(error.get("code", "error")),
                   str(error.get("message", "")), error.get("fields") or {}, body)


def ssl_context(ca_file: str = "") -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file or None)


class Client:
    """``Client(config)``: ``get``, ``post`` and ``pages`` on paths below ``/api/v1``."""

    def __init__(self, config: Config, *, timeout: float = 30.0, require_token: bool = True) -> None:
        if require_token and not config.token:
            raise CliError("no API token: set CALYPSO_TOKEN, or run `calypso login`")
        parts = urlsplit(config.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CliError(f"not a portal address: {config.url!r} (expected http(s)://host[:port])")
        self.config = config
        headers = {"Accept": "application/json", "User-Agent": "calypso-cli"}
        if config.token:
            headers["Authorization"] = f"Token {config.token}"
        verify = ssl_context(config.ca_file) if parts.scheme == "https" else True
        self.http = httpx.Client(base_url=config.url, headers=headers, timeout=timeout, verify=verify,
                                 follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: dict | None = None, json: dict | None = None) -> dict | None:
        url = path if path.startswith(API) else API + path
        try:
            response = self.http.request(method, url, params=_clean(params), json=json)
        except httpx.TimeoutException:
            raise CliError(f"{self.config.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self.config.url}: {exc}") from None
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"{url} answered with something other than JSON: is {self.config.url} a portal?") from None

    def get(self, path: str, **params) -> dict:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: dict | None = None) -> dict | None:
        return self.request("POST", path, json=json or {})

    def pages(self, path: str, params: dict | None = None, *, limit: int = 0) -> Iterator[dict]:
        """The rows of a paginated list, following the cursor ``next`` links; at most ``limit`` (0: all).
        A ``next`` link is followed on the configured portal address only: the token never goes elsewhere."""
        params = dict(params or {})
        if limit:
            params["limit"] = min(limit, 1000)
        seen = 0
        url: str | None = path
        while url:
            page = self.request("GET", url, params=params)
            rows = page.get("results", []) if isinstance(page, dict) else page
            for row in rows:
                yield row
                seen += 1
                if limit and seen >= limit:
                    return
            url, params = (_path_of(page.get("next")), None) if isinstance(page, dict) else (None, None)


def _path_of(link: str | None) -> str | None:
    if not link:
        return None
    parts = urlsplit(link)
    path = parts.path[max(parts.path.find(API), 0):]  # below the configured address, whatever prefix it has
    return f"{path}?{parts.query}" if parts.query else path


def _clean(params: dict | None) -> dict | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None and v != "" and v != ()}
