"""The one error format in the OpenAPI schema: every operation documents the error answers it may give
(``components.schemas.Error``), so a client, and a schema-driven test, knows a 400 or a 404 body."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ERROR_SCHEMA", "error_responses"]

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every 4xx and 5xx answer.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message"],
            "properties": {
                "status": {"type": "integer", "description": "The HTTP status, again."},
                "code": {"type": "string", "description": "What a client branches on: invalid, not_found..."},
                "message": {"type": "string", "description": "One line an operator can act on."},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                           "description": "The inputs at fault (400), each with its messages."},
            },
            "additionalProperties": True,
        },
    },
}

ERRORS = {
    "400": "Input refused: `fields` names each input at fault (body, filter or query parameter).",
    "401": "Not signed in: send `Authorization: Token <key>` or a session cookie.",
    "403": "Signed in, but without the permission this needs.",
    "404": "No such object, or one you may not see.",
    "409": "Refused by the service or the host in the current state (a job running, a tool's refusal).",
}
THROTTLED = {"429": "Too many requests from this address: retry later."}
_REF = {"$ref": "#/components/schemas/Error"}


def _template(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _throttled(generator, path: str, method: str) -> bool:
    for endpoint_path, _regex, endpoint_method, callback in getattr(generator, "endpoints", None) or ():
        if _template(endpoint_path) == _template(path) and endpoint_method.lower() == method:
            return bool(getattr(getattr(callback, "cls", None), "throttle_classes", ()))
    return False


def error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the error answers to every operation that does not
    declare its own for that status."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            errors = {**ERRORS, **(THROTTLED if _throttled(generator, path, method) else {})}
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                responses.setdefault(status, {"description": description, "content": {"application/json": {
                    "schema": _REF}}})
    return result
