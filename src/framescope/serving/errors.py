"""Error responses of the service: one JSON shape, a status that says whose fault it was, and
never a stack trace (tracebacks go to the server log with a request id).

Every error body is::

    {"error": "<code>", "message": "<what was wrong and how to fix it>",
     "errors": [{"field": "texts[3].published", "message": "...", "hint": "..."}]}   # 422 only
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["ApiError", "FieldError", "error_response", "field_path", "install_error_handlers"]

logger = logging.getLogger(__name__)

_CODES = {400: "malformed_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
          413: "body_too_large", 422: "invalid_input", 503: "unavailable", 500: "internal_error"}


@dataclass
class FieldError:
    """One problem with one field of a request: ``field`` is a path such as ``texts[3].text``."""

    field: str
    message: str
    hint: str = ""

    def to_dict(self) -> dict[str, str]:
        out = {"field": self.field, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


@dataclass
class ApiError(Exception):
    """An error answered to the client with ``status`` and a JSON body (no traceback)."""

    status: int
    message: str
    errors: list[FieldError] = field(default_factory=list)
    code: str | None = None
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)


def error_response(status: int, message: str, *, errors: list[FieldError] | None = None,
                   code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error response every failure of the service uses."""
    body: dict[str, Any] = {"error": code or _CODES.get(status, "error"), "message": message}
    if errors:
        body["errors"] = [e.to_dict() for e in errors]
    return JSONResponse(body, status_code=status, headers=headers)


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """A pydantic location as a field path: ``("body", "texts", 3, "text")`` → ``texts[3].text``.

    Example:
        >>> field_path(("body", "texts", 3, "text"))
        'texts[3].text'
    """
    out = ""
    for part in loc:
        if part == "body" and not out:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<body>"


def install_error_handlers(app: FastAPI) -> None:
    """Turn every exception into the service's JSON error shape: :class:`ApiError` as given,
    malformed JSON → 400, schema violations → 422 naming the field, HTTP errors (404, 405) as
    they are, anything else → 500 with a request id (the traceback is logged, not sent)."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, errors=exc.errors, code=exc.code,
                              headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = list(exc.errors())
        bad_json = [e for e in problems if e.get("type") == "json_invalid"]
        if bad_json:
            ctx = bad_json[0].get("ctx") or {}
            where = bad_json[0].get("loc", ())
            at = f" at character {where[-1]}" if where and isinstance(where[-1], int) else ""
            detail = ctx.get("error") or "not valid JSON"
            return error_response(400, f"the request body is not valid JSON: {detail}{at}",
                                  code="malformed_json")
        errors = [FieldError(field_path(e.get("loc", ())), str(e.get("msg", "invalid")))
                  for e in problems]
        head = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return error_response(422, f"invalid request: {head}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        logger.error("request %s %s failed (ref %s)", request.method, request.url.path, ref,
                     exc_info=(type(exc), exc, exc.__traceback__))
        return error_response(500, f"internal error; the server log has the details under ref {ref}")
