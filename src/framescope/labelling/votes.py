"""What every export reader produces: tasks, annotators' votes, and the helpers they share.

An :class:`ExportTask` is one passage as one export file holds it; a :class:`Vote` is one
annotator's answer on it. The readers (:mod:`framescope.labelling.studio_exports`,
:mod:`framescope.labelling.argilla_exports`, :mod:`framescope.labelling.sheet_exports`) build
them; :mod:`framescope.labelling.consensus` merges them across files and decides the labels.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framescope.data.errors import RecordError
from framescope.data.fingerprint import text_sha1

__all__ = [
    "CONTROL",
    "COUNTED",
    "ExportFile",
    "ExportTask",
    "JsonLines",
    "Vote",
    "annotator_name",
    "file_error",
    "items",
    "label_list",
    "str_id",
    "text_sha1",
]

#: Name of the choices control (Label Studio) / question (Argilla) that holds the frames.
CONTROL = "frames"
#: Statuses of a vote that count as the annotator's label set.
COUNTED = ("submitted", "unknown")


@dataclass
class Vote:
    """One annotator's answer on one task.

    Attributes:
        annotator: who answered (Label Studio user id or e-mail, Argilla user id).
        labels: the chosen labels (``[]`` = "no frame"); ``None`` when not a label set
            (cancelled, draft, discarded).
        status: ``submitted``, ``cancelled`` (Label Studio skip), ``draft`` or ``discarded``
            (Argilla), or ``unknown`` (an Argilla export that drops the status; counted).
        annotation_id: the export's annotation id, when it has one.
        when: ``updated_at`` or ``created_at``, for keeping an annotator's latest answer.
        field: where the answer sits in the export, for error messages.
        source, line: the export file and the line, row or item number of the task.
    """

    annotator: str
    labels: list[str] | None
    status: str
    annotation_id: str | None
    when: str | None
    field: str
    source: str
    line: int

    @property
    def counts(self) -> bool:
        """True when the vote is a label set (submitted, or of unknown status)."""
        return self.status in COUNTED and self.labels is not None


@dataclass
class ExportTask:
    """One task (passage) as one export file holds it.

    Attributes:
        task_id: the tool's task id (Label Studio), record id (Argilla) or the spreadsheet row
            number (a sheet).
        passage_id: framescope's passage id when the export keeps it (``data.id`` in Label
            Studio JSON, ``passage_id`` anywhere, Argilla's record or metadata id); ``None``
            for JSON-MIN/CSV rows, whose ``id`` is the task id.
        data: the task's data fields (``text``, ``text_sha1``, ``record_id``, ``start``, ...).
        votes: every annotation found, counted or not.
        fields: where fields sit in this format: ``"*"`` is the prefix of the data fields
            (``data.`` in Label Studio JSON), other keys name exceptions (``votes``: where the
            annotations are); see :meth:`field_of`.
        problems: rows or cells of this task that could not be read.
    """

    task_id: str
    passage_id: str | None
    data: dict[str, Any]
    votes: list[Vote]
    source: str
    line: int
    format: str
    fields: dict[str, str] = field(default_factory=dict)
    problems: list[RecordError] = field(default_factory=list)

    def field_of(self, name: str) -> str:
        """Where field ``name`` sits in this export (``text`` -> ``data.text``), for messages."""
        return self.fields.get(name) or self.fields.get("*", "") + name

    @property
    def where(self) -> str:
        """``task 12 (passage p1)``: how messages name the task (``row 3 (passage p1)`` in a
        sheet, ``record ...`` in Argilla)."""
        pid = f" (passage {self.passage_id})" if self.passage_id and self.passage_id != self.task_id else ""
        unit = {"argilla": "record", "sheet": "row"}.get(self.format, "task")
        return f"{unit} {self.task_id}{pid}"


@dataclass
class ExportFile:
    """What one export file held: its format, tasks, file-level errors and notes."""

    path: Path
    format: str
    tasks: list[ExportTask] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def file_error(source: str, message: str, hint: str, line: int = 0) -> RecordError:
    """A :class:`RecordError` about a whole export file (field ``<file>``)."""
    return RecordError(source, line, "<file>", message, hint)


class JsonLines(list):
    """JSON Lines rows as ``(line, row)`` pairs, so errors can name the line."""


def items(doc: Any) -> Iterator[tuple[int, Any]]:
    """``(number, item)`` of a JSON list (1-based item numbers) or of :class:`JsonLines`."""
    if isinstance(doc, JsonLines):
        yield from doc
    else:
        yield from enumerate(doc, 1)


def annotator_name(value: Any) -> str | None:
    """Label Studio's ``completed_by``/``annotator``: an int id, an e-mail, or a user dict.

    Example:
        >>> annotator_name(2), annotator_name({"id": 3, "email": "a@b.org"}), annotator_name(None)
        ('2', 'a@b.org', None)
    """
    if isinstance(value, dict):
        value = value.get("email") or value.get("id") or value.get("username")
    return str_id(value)


def label_list(value: Any, where: str) -> list[str] | str:
    """A list of label strings from a choices value; a message (str) when it is not one."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return f"{where}: expected a list of label strings, got {json.dumps(value, default=str)[:80]}"


def str_id(value: Any) -> str | None:
    """An id as text (``3.0`` -> ``'3'``); ``None`` for missing, empty or boolean values."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)
