"""The HTTP app of ``framescope serve`` (FastAPI): routes, middleware and lifecycle.

Endpoints:

``POST /v1/score``   texts or articles → the passage and/or article rows ``framescope score``
                     writes (:class:`~framescope.serving.service.ScoringService`)
``GET /v1/model``    name, fingerprint, taxonomy with definitions, thresholds, recorded metrics
``GET /healthz``     the process answers (liveness)
``GET /readyz``      200 once the model is loaded; 503 before, and while draining
``GET /metrics``     Prometheus metrics (:mod:`framescope.serving.metrics`)
``GET /``            the web page (:mod:`framescope.serving.page`)
``GET /docs``        OpenAPI docs, served offline (:mod:`framescope.serving.docs`); also
                     ``/redoc`` and ``/openapi.json``

Middleware, outermost first: metrics (every answer counted, 413 and 401 included), the API
key (``/v1/...`` only, before the body is read), the body-size limit, then FastAPI's routing
with the error handlers of :mod:`framescope.serving.errors`.

Example:
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> with TestClient(create_app(ServeConfig(model="models/default"))) as client:  # doctest: +SKIP
    ...     client.post("/v1/score", json={"texts": ["Kyiv says the attack was unprovoked."]}).json()
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from framescope import __version__
from framescope.serving.auth import ApiKeyMiddleware
from framescope.serving.config import CONFIG_ENV, ServeConfig
from framescope.serving.docs import add_offline_docs
from framescope.serving.errors import ApiError, install_error_handlers
from framescope.serving.inputs import ScoreRequest, parse_score_request, records_from_request
from framescope.serving.limits import BodyLimitMiddleware
from framescope.serving.metrics import CONTENT_TYPE_LATEST, ServeMetrics
from framescope.serving.page import new_nonce, page_headers, render_page
from framescope.serving.responses import ErrorBody, ScoreResponse
from framescope.serving.service import ScoringService
from framescope.serving.signals import drain_on_signals

if TYPE_CHECKING:
    from framescope.modeling import Artifact

__all__ = ["app_from_env", "create_app"]

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Score news passages for framing with a fine-tuned transformer. `POST /v1/score` returns the
same passage and article rows as `framescope score` on the same records. When the service was
started with `--api-key-env VAR`, every `/v1/...` call needs `Authorization: Bearer KEY` or
`X-API-Key: KEY`.
"""
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": what} for code, what in {
        400: "malformed JSON", 401: "API key missing or wrong", 413: "body too large",
        422: "invalid input: every bad field named (texts[3].text, ...)",
        503: "model not loaded yet, or the service is shutting down"}.items()}


class MetricsMiddleware:
    """ASGI middleware counting every answer by endpoint (the route's path template) and status."""

    def __init__(self, app: Any, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "other"
            self.metrics.observe_request(endpoint, status, time.perf_counter() - start)


class CloseWhileDraining:
    """ASGI middleware: once the service drains, every answer (a 200 for work accepted before
    SIGTERM too) carries ``Connection: close``. No keep-alive connection is then idle when
    uvicorn closes idle connections at the end of the drain window, so no client can send a
    request into a connection that the server is closing at the same moment (the request would
    be lost on the wire: bench/serve_load.py saw one such reset per shutdown before)."""

    def __init__(self, app: Any, service: ScoringService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def close_if_draining(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and self.service.state in ("draining", "stopped"):
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, close_if_draining)


def create_app(config: ServeConfig, artifact: Artifact | None = None) -> FastAPI:
    """The service's FastAPI app.

    Args:
        config: the settings; the API key is read now from ``config.api_key_env``.
        artifact: an already loaded model; ``None`` loads ``config.model`` at startup.

    Raises:
        ValueError: when ``config.api_key_env`` names an unset or empty variable.
    """
    key = config.api_key()
    service = ScoringService(config, artifact)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        restore = drain_on_signals(service.begin_drain, delay=config.drain_seconds)
        try:
            yield
        finally:
            restore()
            await service.stop()

    app = FastAPI(title="framescope", version=__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.service = service
    install_error_handlers(app)
    add_offline_docs(app)
    _add_routes(app, service, config, auth=key is not None)
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    if key is not None:
        app.add_middleware(ApiKeyMiddleware, key=key)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    app.add_middleware(CloseWhileDraining, service=service)
    return app


def _add_routes(app: FastAPI, service: ScoringService, config: ServeConfig, *, auth: bool) -> None:
    request_body = {"required": True, "content": {"application/json": {
        "schema": ScoreRequest.model_json_schema(ref_template="#/components/schemas/{model}")}}}

    @app.post("/v1/score", response_model=None, summary="Score texts or articles",
              responses={200: {"model": ScoreResponse}, **_ERRORS},
              openapi_extra={"requestBody": request_body})
    async def score(request: Request) -> JSONResponse:
        """Cut each text into passages, score them, and return the passage and/or article rows
        (`level`), with evidence spans when `evidence` is true. The body is read as JSON
        whatever its content type."""
        service.check_ready()
        body = parse_score_request(await request.body())
        records = records_from_request(body, max_texts=config.max_texts, max_chars=config.max_chars)
        return JSONResponse(await service.score(records, level=body.level, evidence=body.evidence))

    @app.get("/v1/model", summary="The model: name, fingerprint, taxonomy, thresholds, metrics",
             responses={k: v for k, v in _ERRORS.items() if k in (401, 503)})
    async def model() -> JSONResponse:
        return JSONResponse(service.model_info())

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: 200 once the model is loaded, 503 before and while draining",
             responses={503: {"model": ErrorBody}})
    async def readyz() -> JSONResponse:
        if not service.ready:
            try:
                service.check_ready()
            except ApiError as exc:
                return JSONResponse({"status": service.state, "error": exc.code, "message": exc.message},
                                    status_code=503, headers=exc.headers)
        return JSONResponse({"status": "ready", "model": service.stamp})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        nonce = new_nonce()
        html = render_page(service.model_info(), nonce=nonce, auth=auth, max_chars=config.max_chars)
        return HTMLResponse(html, headers=page_headers(nonce))


def app_from_env() -> FastAPI:
    """The app factory each uvicorn worker calls (``framescope serve --workers N``): settings
    from :data:`~framescope.serving.config.CONFIG_ENV`.

    Raises:
        RuntimeError: when the variable is not set.
    """
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{CONFIG_ENV} is not set; start the service with 'framescope serve'")
    if not logging.getLogger().handlers:  # a worker process: log like the command does
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return create_app(ServeConfig.from_json(text))
