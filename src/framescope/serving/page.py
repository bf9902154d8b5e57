"""The web page at ``/``: paste a text (or load a .txt file), see each passage with its frames,
scores against thresholds, evidence highlighted, and each frame's definition.

One self-contained page (inline CSS and JavaScript, no CDN), rendered by an autoescaping
jinja2 template (``templates/page.html.j2``). Feed text never becomes markup: the template
escapes what it renders, and the script builds DOM nodes with ``textContent`` only. A strict
Content-Security-Policy (:func:`page_headers`) allows only the page's own script and style
(by a per-response nonce) and requests to the service itself.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from framescope.reports.html import template_env

__all__ = ["MAX_FILE_BYTES", "new_nonce", "page_headers", "render_page"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Largest .txt file the page loads into the text box.
MAX_FILE_BYTES = 1_000_000


def new_nonce() -> str:
    """A fresh CSP nonce (128 random bits, URL-safe base64)."""
    return secrets.token_urlsafe(16)


def page_headers(nonce: str) -> dict[str, str]:
    """Security headers of the page: a strict CSP (nothing loads from elsewhere; inline script
    and style only with ``nonce``), no framing, no MIME sniffing, no referrer."""
    csp = ("default-src 'none'; "
           f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
           "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'")
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def render_page(model: dict[str, Any], *, nonce: str, auth: bool, max_chars: int) -> str:
    """The page's HTML for ``model`` (what ``GET /v1/model`` answers).

    Example:
        >>> html = render_page(info, nonce=new_nonce(), auth=False, max_chars=50_000)  # doctest: +SKIP
    """
    labels = model["taxonomy"]["labels"]
    page_data = {
        "labels": [{"id": lab["id"], "name": lab["name"], "description": lab["description"],
                    "threshold": lab["threshold"]} for lab in labels],
        "single_label": model["problem_type"] == "single_label",
        "max_file_bytes": MAX_FILE_BYTES,
    }
    env = template_env(TEMPLATES, "html")
    return env.get_template("page.html.j2").render(model=model, nonce=nonce, auth=auth,
                                                   max_chars=max_chars, page_data=page_data)
