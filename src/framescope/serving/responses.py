"""Response bodies of the API, for the OpenAPI document (the rows themselves are built by
:mod:`framescope.scored`, the schema ``framescope score`` writes)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["ErrorBody", "FieldProblem", "ScoreResponse"]


class FieldProblem(BaseModel):
    field: str = Field(description="where: texts[3].published, texts, level, ...")
    message: str
    hint: str | None = None


class ErrorBody(BaseModel):
    """Every error answer (400, 401, 413, 422, 503, 500): never a stack trace."""

    error: str = Field(description="malformed_json, unauthorized, body_too_large, invalid_input, "
                                   "not_ready, draining, internal_error, ...")
    message: str
    errors: list[FieldProblem] | None = Field(None, description="422: every bad field")


class ScoreResponse(BaseModel):
    """Scored rows, exactly as ``framescope score`` writes them.

    Passage rows: ``id, article_id, index, start, end, text, scores {label: p}, labels,
    [evidence {label: [{start, end, text, weight}]}], title, outlet, published, url, model``.
    Article rows: ``article_id, title, outlet, published, url, passages, scores, labels,
    best_passage {label: passage id}, model``.
    """

    model: dict[str, str] = Field(description="{name, fingerprint} of the model that scored")
    level: str
    passages: list[dict[str, Any]] | None = Field(None, description="level passage or both")
    articles: list[dict[str, Any]] | None = Field(None, description="level article or both")
