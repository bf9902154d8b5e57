"""``framescope serve``: the HTTP API and web page (FastAPI + uvicorn).

Modules, one concern each: :mod:`~framescope.serving.config` (``ServeConfig``),
:mod:`~framescope.serving.app` (the FastAPI app factory, routes, middleware),
:mod:`~framescope.serving.service` (model, micro-batcher, rows via ``inference`` and ``scored``),
:mod:`~framescope.serving.batcher` (dynamic micro-batching off the event loop),
:mod:`~framescope.serving.inputs` (request schema, per-item validation by the dataset module),
:mod:`~framescope.serving.limits` (body size), :mod:`~framescope.serving.auth` (API key),
:mod:`~framescope.serving.errors` (one JSON error shape), :mod:`~framescope.serving.metrics`
(Prometheus), :mod:`~framescope.serving.page` (the web page), :mod:`~framescope.serving.docs`
(offline OpenAPI docs), :mod:`~framescope.serving.signals` (drain on SIGTERM),
:mod:`~framescope.serving.server` (uvicorn, workers). See ``docs/serving.md``.

Needs the ``serve`` extra: ``pip install 'framescope[serve]'``.
"""

from __future__ import annotations

from framescope.serving.config import ServeConfig

__all__ = ["ServeConfig"]
