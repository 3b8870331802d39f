"""API errors as the real server shapes them (contract §11): raised deep, rendered once."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An API failure; `to_status()` is the `Status` body the HTTP layer sends."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status


def _details(qualified: str, name: str) -> dict[str, Any]:
    plural, _, group = qualified.partition(".")
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def not_found(qualified: str, name: str) -> ApiError:
    """`qualified` is `jobs.batch` or `pods` (ResourceType.qualified)."""
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', _details(qualified, name))


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def already_exists(qualified: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists',
                    _details(qualified, name))


def conflict(qualified: str, name: str, why: str | None = None) -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
                    _details(qualified, name))


def invalid(kind: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """causes: (field, reason, message) e.g. ("spec.ports[0].nodePort", "FieldValueInvalid",
    "Invalid value: 30080: provided port is already allocated")."""
    text = ", ".join(f"{field}: {message}" for field, _, message in causes)
    if len(causes) > 1:
        text = f"[{text}]"
    return ApiError(
        422, "Invalid", f'{kind} "{name}" is invalid: {text}',
        {"name": name, "kind": kind,
         "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]},
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def expired(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got "{content_type}")')


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", message)


def invalid_object(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """`invalid` for a grouped kind: message `Lease.coordination.k8s.io "l" is invalid: ...`,
    details carry the group as the real server does."""
    qualified_kind = f"{kind}.{group}" if group else kind
    error = invalid(qualified_kind, name, causes)
    assert error.details is not None
    error.details["kind"] = kind
    if group:
        error.details["group"] = group
    return error


def forbidden(qualified: str, name: str, why: str) -> ApiError:
    details = _details(qualified, name)
    return ApiError(403, "Forbidden", f'{qualified} "{name}" is forbidden: {why}', details)
