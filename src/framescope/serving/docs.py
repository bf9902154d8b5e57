"""OpenAPI documentation pages that work offline: ``/docs`` (Swagger UI) and ``/redoc``.

FastAPI's default pages load Swagger UI and ReDoc from a CDN. The PyPI package
``fastapi-offline`` ships those assets (``swagger-ui-bundle.js``, ``swagger-ui.css``,
``redoc.standalone.js``, a favicon); they are served from this process under
``/static/docs``, and the pages are FastAPI's own, pointed at the local files. Swagger UI's
online validator badge is switched off (``validatorUrl: null``), so nothing is fetched from
anywhere but the service.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_URL", "add_offline_docs", "docs_assets"]

STATIC_URL = "/static/docs"


def docs_assets() -> Path:
    """The folder of Swagger UI and ReDoc assets shipped by ``fastapi-offline``.

    Raises:
        ModuleNotFoundError: when ``fastapi-offline`` is not installed (``pip install 'framescope[serve]'``).
    """
    import importlib.util

    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the offline API docs need fastapi-offline: pip install 'framescope[serve]'",
                                  name="fastapi_offline")
    return Path(spec.origin).parent / "static"


def add_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` with locally served assets (the app must be built with
    ``docs_url=None, redoc_url=None``)."""
    app.mount(STATIC_URL, StaticFiles(directory=str(docs_assets())), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}", title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None})

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}{openapi_url}", title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
                              with_google_fonts=False)
