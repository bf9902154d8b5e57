"""Model cards: the ``README.md`` of an artifact, rendered from its ``framescope.json``.

The card is data-driven (like sentence-transformers' cards): intended use, labels with their
definitions, training data with fingerprints and label counts, per-label dev (and test)
metrics with the decision thresholds and where they came from, the training set-up, lineage
and limits. Text that comes from users (label definitions, paths, names) is escaped so a
Markdown renderer shows it as text and never as HTML.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["TEMPLATE", "render_model_card"]

#: The Jinja2 template of the card (a separate Markdown file, as setfit does).
TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card.md.j2"

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#])")


def _md(value: Any) -> str:
    """Escape text for Markdown (inline and table cells): HTML is shown, never rendered."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;")
    return _MD_SPECIAL.sub(lambda m: {"<": "&lt;", ">": "&gt;"}.get(m.group(1), "\\" + m.group(1)), text)


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_model_card(meta: dict[str, Any]) -> str:
    """The Markdown model card for an artifact's metadata (the ``framescope.json`` dict).

    Example:
        >>> card = render_model_card(json.load(open("models/default/framescope.json")))  # doctest: +SKIP
        >>> card.splitlines()[0]  # doctest: +SKIP
        '# default'
    """
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
                             autoescape=False, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.ChainableUndefined)
    env.filters["md"] = _md
    env.filters["num"] = _num
    data = meta.get("data") or {}
    metrics = meta.get("metrics") or {}
    labels = (meta.get("taxonomy") or {}).get("labels") or []
    training = meta.get("training") or {}
    return env.get_template(TEMPLATE.name).render(
        meta=meta, labels=labels, data=data, dev=metrics.get("dev") or {},
        test=metrics.get("test"), training=training, config=training.get("config") or {},
        positives=training.get("train_positives") or {},
        thresholds=meta.get("thresholds") or {}, sources=meta.get("threshold_source") or {},
        lineage=meta.get("lineage") or [], versions=meta.get("versions") or {},
    )
