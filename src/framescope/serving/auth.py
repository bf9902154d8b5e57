"""The optional API key: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``, compared in
constant time (:func:`hmac.compare_digest`), checked before the request body is read."""

from __future__ import annotations

import hmac
import json
from typing import Any

__all__ = ["PROTECTED_PREFIX", "ApiKeyMiddleware", "key_from_headers"]

#: Paths under this prefix need the key (the API); the page, docs, health and metrics do not.
PROTECTED_PREFIX = "/v1/"


def key_from_headers(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key a request sends: ``X-API-Key``, else the token of ``Authorization: Bearer``.

    Example:
        >>> key_from_headers([(b"authorization", b"Bearer s3cret")])
        's3cret'
    """
    found = dict(headers)
    if b"x-api-key" in found:
        return found[b"x-api-key"].decode("latin-1").strip()
    scheme, _, token = found.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class ApiKeyMiddleware:
    """ASGI middleware answering 401 to a request under :data:`PROTECTED_PREFIX` without the key.

    Args:
        app: the ASGI app.
        key: the expected key.
    """

    def __init__(self, app: Any, key: str) -> None:
        if not key:
            raise ValueError("The 'key' parameter must be a non-empty string.")
        self.app = app
        self._key = key.encode("utf-8")

    def matches(self, given: str | None) -> bool:
        """Whether ``given`` is the key (constant time in the key's content)."""
        return given is not None and hmac.compare_digest(given.encode("utf-8"), self._key)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(PROTECTED_PREFIX) \
                or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        given = key_from_headers(scope.get("headers", []))
        if self.matches(given):
            await self.app(scope, receive, send)
            return
        what = "missing" if given is None else "wrong"
        payload = json.dumps({"error": "unauthorized",
                              "message": f"API key {what}: send 'Authorization: Bearer KEY' or "
                                         "'X-API-Key: KEY'"}).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": payload})
