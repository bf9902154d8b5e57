"""What ``POST /v1/score`` accepts: the request schema, its limits, and each item validated by
the dataset module (:func:`framescope.data.records.to_passage`, the same check every file reader
applies), so a record the API accepts is one ``framescope score`` would accept, and vice versa.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from framescope.data.errors import RecordError
from framescope.data.records import ReadOptions, column_mapper, to_passage
from framescope.data.schema import Passage
from framescope.serving.errors import ApiError, FieldError, field_path

__all__ = ["ScoreRequest", "parse_score_request", "records_from_request"]

#: Where validation errors say a record came from (the field path names the item).
SOURCE = "request"


class ScoreRequest(BaseModel):
    """The body of ``POST /v1/score``.

    ``texts`` holds strings, or article objects with the fields the dataset module reads from
    a JSONL line (``text`` required; ``id``, ``title``, ``outlet``, ``published``, ``url``,
    ``article_id``, …). A string is an article without metadata. Items without an ``id`` get
    their position (``"0"``, ``"1"``, …) as id; an article longer than one passage is cut into
    paragraph passages ``ID#0``, ``ID#1``, … exactly as ``framescope score`` cuts it.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"texts": ["Kyiv says the attack was unprovoked.",
                   {"id": "a1", "title": "Talks resume", "outlet": "Example Daily",
                    "published": "2024-03-01", "text": "Negotiators met in Istanbul.\n\nThey agreed..."}],
         "level": "both", "evidence": True}]})

    texts: list[Any] = Field(description="texts (strings) or article objects ({text, id, title, "
                                         "outlet, published, url, ...})")
    level: Literal["passage", "article", "both"] = Field(
        "passage", description="passage rows, article rows, or both (as framescope score --level)")
    evidence: bool = Field(False, description="add occlusion evidence spans for each predicted label "
                                              "(slower: about one forward pass per word group)")


def parse_score_request(body: bytes) -> ScoreRequest:
    """The request body as a :class:`ScoreRequest`, whatever its declared content type.

    Raises:
        ApiError: 400 for a body that is not UTF-8 JSON; 422 naming each field that does not
            fit the schema (an unknown key, a wrong ``level``, ``texts`` not a list, ...).
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the request body is not UTF-8 (invalid byte at position {exc.start})",
                       code="malformed_json") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}", code="malformed_json") from None
    if not isinstance(data, dict):
        raise ApiError(422, f'<body>: expected a JSON object {{"texts": [...]}}, got a JSON {type(data).__name__}',
                       [FieldError("<body>", f"expected an object, got {type(data).__name__}",
                                   'send {"texts": ["..."], "level": "passage"}')])
    try:
        return ScoreRequest.model_validate(data)
    except ValidationError as exc:
        errors = [FieldError(field_path(tuple(e["loc"])), e["msg"]) for e in exc.errors()]
        head = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        raise ApiError(422, f"invalid request: {head}", errors) from None


def records_from_request(request: ScoreRequest, *, max_texts: int, max_chars: int) -> list[Passage]:
    """The request's items as validated :class:`Passage` records.

    Raises:
        ApiError: 422 listing every bad item by its field path (``texts[3].published``): too many
            items, a text over ``max_chars``, an item that is neither a string nor an object, a
            record the dataset module rejects, or an id used twice.
    """
    items = request.texts
    if not items:
        raise ApiError(422, "texts: empty; send at least one text",
                       [FieldError("texts", "empty", "send at least one text or article")])
    if len(items) > max_texts:
        raise ApiError(422, f"texts: {len(items)} items, over the limit of {max_texts} per request",
                       [FieldError("texts", f"{len(items)} items, over the limit of {max_texts}",
                                   "split the texts over several requests (or raise --max-texts)")])
    remap = column_mapper(ReadOptions())
    opts = ReadOptions(max_record_chars=max_chars)
    errors: list[FieldError] = []
    records: list[Passage] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        where = f"texts[{i}]"
        if isinstance(item, str):
            raw: Any = {"text": item}
            text_field = where
        elif isinstance(item, dict):
            raw = remap(item)
            text_field = f"{where}.text"
        else:
            errors.append(FieldError(where, f"expected a string or an object, got {type(item).__name__}",
                                     'send "text" or {"text": "...", "id": ...}'))
            continue
        text = raw.get("text")
        if isinstance(text, str) and len(text) > max_chars:
            errors.append(FieldError(text_field, f"{len(text):,} characters, over the limit of "
                                                 f"{max_chars:,} per text",
                                     "split the text (or raise --max-chars)"))
            continue
        found = to_passage(raw, SOURCE, i + 1, opts, default_id=str(i))
        if isinstance(found, RecordError):
            fld = text_field if found.field == "text" else (
                where if found.field.startswith("<") else f"{where}.{found.field}")
            errors.append(FieldError(fld, found.message, found.hint))
            continue
        if found.id in seen:
            errors.append(FieldError(f"{where}.id" if isinstance(item, dict) else where,
                                     f"duplicate id {found.id!r} (also texts[{seen[found.id]}])",
                                     "give every item a unique id"))
            continue
        seen[found.id] = i
        found.source, found.line = None, None
        records.append(found)
    if errors:
        head = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise ApiError(422, f"invalid input: {head}{more}", errors)
    return records
