"""Request-size limits enforced before a request reaches the app: the body size (413).

The per-request limits on texts and characters are checked with the request's fields in
:mod:`framescope.serving.inputs` (422 naming the field).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["BodyLimitMiddleware"]

Scope = dict[str, Any]


class BodyLimitMiddleware:
    """ASGI middleware answering 413 to a request whose body exceeds ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before any byte is read; a body sent
    in chunks is read up to the limit, then refused, so memory stays bounded by the limit
    either way. The body read is replayed to the app unchanged.

    Args:
        app: the ASGI app.
        max_bytes: the largest body accepted.
        on_reject: called with the request path for each refusal (metrics).
    """

    def __init__(self, app: Any, max_bytes: int, on_reject: Any = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await self._refuse(scope, send, int(declared))
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send, None)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Any, size: int | None) -> None:
        if self.on_reject is not None:
            self.on_reject(scope.get("path", ""))
        got = f"{size:,} bytes" if size is not None else "more"
        payload = json.dumps({"error": "body_too_large",
                              "message": f"the request body is {got}, over the limit of "
                                         f"{self.max_bytes:,} bytes; send fewer or shorter texts "
                                         "per request (or raise --max-body-bytes)"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
