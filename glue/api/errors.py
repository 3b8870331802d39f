"""JSON errors from one place: `ApiError` and the handlers registered by `init_app`.

Typed errors raised deeper (glue.errors) are converted here, once, at the HTTP boundary.
Every error body is `{"error": <code>, "message": <text>, ...details}`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from glue.errors import InvalidJobId, InvalidRequest, RunnerBusy

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An HTTP error answer: status code, short code, message, optional details and headers."""

    def __init__(self, status_code: int, code: str, message: str, headers: dict | None = None,
                 **details: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}


def not_found(what: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f"{what} {name!r} not found")


def invalid(errors: list[dict]) -> ApiError:
    return ApiError(422, "Invalid", f"{len(errors)} field(s) break the rules", errors=errors)


def _answer(error: ApiError):
    response = jsonify(error.to_dict())
    response.status_code = error.status_code
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError):
        return _answer(error)

    @app.errorhandler(InvalidRequest)
    def handle_invalid(error: InvalidRequest):
        return _answer(invalid(error.errors))

    @app.errorhandler(InvalidJobId)
    def handle_job_id(error: InvalidJobId):
        return _answer(ApiError(404, "NotFound", str(error)))

    @app.errorhandler(RunnerBusy)
    def handle_busy(error: RunnerBusy):
        return _answer(ApiError(503, "Busy", str(error), headers={"Retry-After": "5"}))

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        return _answer(ApiError(error.code or 500, type(error).__name__, error.description or ""))

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        logger.exception("unhandled error")
        return _answer(ApiError(500, "InternalError", "internal error (see the server log)"))
