"""Helpers shared by the HTML reports: figures embedded as ``data:`` URIs (no network, no files)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

__all__ = ["bytes_to_data_uri", "figure_to_data_uri", "figure_to_png", "markdown_escape", "template_env"]


def figure_to_png(fig: Any, *, dpi: int = 144) -> bytes:
    """Render a matplotlib figure to PNG bytes.

    Example:
        >>> from matplotlib.figure import Figure
        >>> figure_to_png(Figure(figsize=(1, 1)))[:4]
        b'\\x89PNG'
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def bytes_to_data_uri(data: bytes, mime: str = "image/png") -> str:
    """A ``data:`` URI holding ``data`` (base64), for self-contained HTML."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def figure_to_data_uri(fig: Any, *, dpi: int = 144) -> str:
    """Render a matplotlib figure as a base64 PNG ``data:`` URI for an ``<img src=…>``.

    Example:
        >>> from matplotlib.figure import Figure
        >>> figure_to_data_uri(Figure(figsize=(1, 1))).startswith("data:image/png;base64,")
        True
    """
    return bytes_to_data_uri(figure_to_png(fig, dpi=dpi))


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]#|!~"})


def markdown_escape(text: str) -> str:
    """Make untrusted text inert in Markdown: HTML-escaped, Markdown specials and pipes
    backslash-escaped, line breaks turned into spaces (safe in tables and list items).

    Example:
        >>> markdown_escape("<script>x</script> *a* | b\\nc")
        '&lt;script&gt;x&lt;/script&gt; \\\\*a\\\\* \\\\| b c'
    """
    import html

    text = html.escape(text, quote=False).translate(_MD_SPECIAL)
    return " ".join(text.split())


def template_env(folder: str | Path, kind: str) -> Any:
    """A jinja2 environment over the templates in ``folder`` for one output kind.

    ``html``: autoescaped. ``md``: every plain string is passed through
    :func:`markdown_escape` on output; wrap trusted Markdown with the ``raw`` filter.
    """
    import jinja2
    from markupsafe import Markup

    kwargs: dict[str, Any] = {
        "loader": jinja2.FileSystemLoader(str(folder)), "undefined": jinja2.StrictUndefined,
        "trim_blocks": True, "lstrip_blocks": True, "keep_trailing_newline": True,
    }
    if kind == "html":
        return jinja2.Environment(autoescape=True, **kwargs)

    def finalize(value: Any) -> Any:
        if isinstance(value, Markup) or not isinstance(value, str):
            return value
        return markdown_escape(value)

    env = jinja2.Environment(autoescape=False, finalize=finalize, **kwargs)
    env.filters["raw"] = Markup
    return env
