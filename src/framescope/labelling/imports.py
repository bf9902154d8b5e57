"""Readers of annotation exports: Label Studio (JSON, JSON-MIN, CSV), filled ``label select``
sheets (CSV) and Argilla 2.x records.

Each reader turns one export file into :class:`ExportTask` objects (a passage, its data fields
and every annotator's :class:`Vote`) or a :class:`~framescope.data.errors.RecordError` for a
file that cannot be read at all. Nothing here decides labels: merging tasks across files,
majority votes and adjudication live in :mod:`framescope.labelling.consensus`.

The shapes read (checked against the exporters' own code and real exports: see
``tests/fixtures/label_studio/README.md`` and ``tests/fixtures/argilla/make_fixtures.py``):

* **Label Studio JSON**: a list of tasks ``{"id", "data": {...}, "annotations": [{"id",
  "completed_by", "result": [{"from_name": "frames", "type": "choices", "value": {"choices":
  [...]}}], "was_cancelled", "created_at", "updated_at", ...}], "predictions": [...]}``.
  ``predictions`` (the model's pre-annotations) are never read.
* **Label Studio JSON-MIN**: one row per annotation, the task's ``data`` at the top level, then
  ``id`` (the *task* id: it overwrites a data field called ``id``), ``annotator``,
  ``annotation_id``, ``created_at``, ``updated_at``, ``lead_time`` and the control's value:
  ``"frames": "a"`` for one choice, ``{"choices": ["a", "b"]}`` for several, absent for none.
  A task without annotations is one row with ``annotation_id`` null; cancelled annotations are
  left out by the exporter.
* **Label Studio CSV**: the JSON-MIN row as columns; dicts and lists are JSON text.
* **Sheet** (``--format sheet``): the spreadsheet CSV ``label select --out BATCH.csv`` wrote,
  with its ``labels`` column filled in (``a; b``, ``none`` for no frame; an empty cell is an
  error); one annotator per file (the file stem) unless an ``annotator`` column says otherwise.
  Read by :mod:`framescope.labelling.sheet_exports`, which also tells it from a Label Studio
  CSV export (that one has ``annotation_id``, ``created_at``... columns).
* **Argilla 2.x**: ``Dataset.records.to_json``/``to_disk`` (``{"id", "fields": {"text"},
  "metadata", "suggestions", "responses": {"frames": [{"value", "user_id"}]}, "status"}``: the
  response status is dropped by that exporter), ``records.to_list(flatten=True)`` /
  ``to_datasets()`` rows (``frames.responses``, ``frames.responses.users``,
  ``frames.responses.status``), and the API's shapes (``responses`` as a list of
  ``{"question_name", "value", "user_id", "status"}`` or of ``{"values": {"frames": {"value"}},
  "user_id", "status"}``). Suggestions are never read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from framescope.data.errors import RecordError
from framescope.data.io import parse_json
from framescope.labelling.argilla_exports import read_argilla
from framescope.labelling.sheet_exports import csv_format, read_sheet
from framescope.labelling.studio_exports import csv_export_rows, read_ls_json, read_ls_rows
from framescope.labelling.votes import (
    CONTROL,
    ExportFile,
    ExportTask,
    JsonLines,
    Vote,
    file_error,
    items,
    text_sha1,
)

__all__ = [
    "CONTROL",
    "EXPORT_FORMATS",
    "ExportFile",
    "ExportTask",
    "Vote",
    "detect_export_format",
    "read_export",
    "text_sha1",
]

#: Values of ``--format`` for ``framescope label import``.
EXPORT_FORMATS = ("auto", "ls-json", "ls-json-min", "ls-csv", "sheet", "argilla")
#: Formats read from CSV/TSV files.
_CSV_FORMATS = ("ls-csv", "sheet")


def _load_json(path: Path) -> tuple[Any, RecordError | None]:
    """The parsed JSON document, or a list of JSONL rows, or an error naming the line."""
    source = str(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, file_error(source, f"invalid UTF-8 at byte {exc.start}",
                                 "export the file again; exports are UTF-8")
    stripped = text.strip()
    if not stripped:
        return None, file_error(source, "the file is empty", "export the project again")
    try:
        return parse_json(stripped), None
    except json.JSONDecodeError as exc:
        if stripped.startswith("{") and "\n" in stripped:
            return _load_jsonl(text, source)
        return None, file_error(source, f"not valid JSON: {exc.msg} at line {exc.lineno} column "
                                 f"{exc.colno}", "the file may be truncated or edited by hand "
                                 "(download the export again), or not JSON (check --format)", line=exc.lineno)
    except ValueError as exc:
        return None, file_error(source, f"not valid JSON: {exc}", "download the export again")


def _load_jsonl(text: str, source: str) -> tuple[Any, RecordError | None]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except ValueError as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            return None, file_error(source, f"not valid JSON Lines: line {n}: {msg}",
                                     "each line must be one JSON object; download the export "
                                     "again", line=n)
        rows.append((n, row))
    return JsonLines(rows), None


def _first_dict(doc: Any) -> dict[str, Any] | None:
    for _, item in items(doc):
        return item if isinstance(item, dict) else None
    return None


def _shape_of(item: dict[str, Any], control: str) -> str | None:
    keys = set(item)
    if "annotations" in keys or "completions" in keys or isinstance(item.get("data"), dict):
        return "ls-json"
    if keys & {"fields", "responses", "suggestions"} or any(
            k.startswith(f"{control}.") for k in keys):
        return "argilla"
    if "annotation_id" in keys or "annotator" in keys:
        return "ls-json-min"
    return None


def detect_export_format(path: str | Path, *, control: str = CONTROL) -> str | RecordError:
    """The export format of ``path`` (one of :data:`EXPORT_FORMATS` but ``auto``), or an error
    that lists what was found.

    ``.csv``/``.tsv`` files are a filled ``label select`` sheet when their header has
    ``text_sha1``, ``labels`` and ``rank`` and no Label Studio annotation column, else Label
    Studio CSV; JSON and JSON Lines are told apart by their first record's keys.
    """
    path = Path(path)
    if path.suffix.lower() in (".csv", ".tsv"):
        found = csv_format(path, control)
        return "ls-csv" if found is None else found
    doc, err = _load_json(path)
    if err is not None:
        return err
    return _detect_doc(doc, str(path), control)


def _detect_doc(doc: Any, source: str, control: str) -> str | RecordError:
    if isinstance(doc, dict):  # one task or record (a one-line JSON Lines file)
        shape = _shape_of(doc, control)
        if shape is not None:
            return shape
        return file_error(source, f"expected a JSON list of tasks or records, got an object with "
                          f"keys {sorted(doc)[:12]}", "export 'JSON', 'JSON_MIN' or 'CSV' from "
                          "Label Studio, or Argilla's dataset.records.to_json(...)")
    if not isinstance(doc, list):
        return file_error(source, f"expected a JSON list of tasks or records, got "
                           f"{type(doc).__name__}", "export the project as JSON, JSON_MIN or CSV")
    first = _first_dict(doc)
    if first is None:
        if doc:
            return file_error(source, "expected a list of JSON objects (tasks or records), the "
                               "first item is not an object", "export the project again")
        return "ls-json"  # an empty export: no tasks in any format
    shape = _shape_of(first, control)
    if shape is None:
        return file_error(source, f"unknown export format: the first record has keys "
                           f"{sorted(first)[:12]}; expected Label Studio JSON ('data', "
                           f"'annotations'), JSON-MIN ('annotator', 'annotation_id') or Argilla "
                           f"records ('fields', 'responses')",
                           "pass --format ls-json|ls-json-min|ls-csv|sheet|argilla, or export again")
    return shape


def _read_csv(path: Path, fmt: str, control: str) -> ExportFile:
    found = csv_format(path, control)
    if fmt == "auto":
        fmt = found if isinstance(found, str) else "ls-csv"
    out = ExportFile(path, fmt)
    if isinstance(found, RecordError):
        out.errors.append(found)
    elif found is not None and found != fmt:
        out.errors.append(file_error(path.as_posix(), f"--format {fmt} given, but the file looks "
                                     f"like a {found} export (its header)", f"pass --format "
                                     f"{found}, or leave --format auto"))
    elif fmt == "sheet":
        read_sheet(path, out)
    else:
        read_ls_rows(csv_export_rows(path, out, control), out, control, csv_cells=True)
    return out


def read_export(path: str | Path, fmt: str = "auto", *, control: str = CONTROL) -> ExportFile:
    """Read one export file into tasks and votes.

    Args:
        path: a Label Studio JSON/JSON-MIN/CSV export, a filled ``label select`` sheet (CSV)
            or an Argilla records export.
        fmt: one of :data:`EXPORT_FORMATS`.
        control: the choices control (Label Studio) or question (Argilla) holding the labels.

    Returns:
        An :class:`ExportFile`; a file that cannot be read has no tasks and one error naming
        the file (and the line, for a JSON syntax error).

    Raises:
        ValueError: for an unknown ``fmt``.
        FileNotFoundError: when ``path`` does not exist.

    Example:
        >>> import json, tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "export.json"
        >>> _ = p.write_text(json.dumps([{"id": 1, "data": {"id": "p1", "text": "Hi."},
        ...     "annotations": [{"id": 9, "completed_by": 2, "result": []}]}]))
        >>> f = read_export(p)
        >>> f.format, f.tasks[0].passage_id, f.tasks[0].votes[0].labels
        ('ls-json', 'p1', [])
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"The 'fmt' parameter of read_export must be one of "
                         f"{', '.join(EXPORT_FORMATS)}. Got {fmt!r} instead.")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"export file not found: {path}")
    if fmt in _CSV_FORMATS or (fmt == "auto" and path.suffix.lower() in (".csv", ".tsv")):
        return _read_csv(path, fmt, control)
    doc, err = _load_json(path)
    if err is None:
        found = _detect_doc(doc, path.as_posix(), control)
        first = _first_dict(doc) if isinstance(doc, list) else doc
        if fmt == "auto" and isinstance(found, RecordError):
            err = found
        elif fmt == "auto":
            fmt = found
        elif isinstance(first, dict) and isinstance(found, str) and found != fmt:
            err = file_error(path.as_posix(), f"--format {fmt} given, but the file looks like a "
                             f"{found} export (first record's keys: {sorted(first)[:8]})",
                             f"pass --format {found}, or leave --format auto")
    out = ExportFile(path, fmt)
    if err is not None:
        out.errors.append(err)
        return out
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        out.errors.append(file_error(path.as_posix(), f"expected a JSON list of "
                                      f"{'records' if fmt == 'argilla' else 'tasks'}, got "
                                      f"{type(doc).__name__}", "export the project again"))
        return out
    if fmt == "ls-json":
        read_ls_json(doc, out, control)
    elif fmt == "ls-json-min":
        read_ls_rows(items(doc), out, control, csv_cells=False)
    else:
        read_argilla(doc, out, control)
    return out
