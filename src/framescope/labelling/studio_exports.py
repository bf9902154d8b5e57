"""Readers of Label Studio exports: JSON (tasks with annotations), JSON-MIN and CSV (one row
per annotation).

What the real exports look like (``tests/fixtures/label_studio/README.md`` records them from a
live server): in JSON, ``annotations[].completed_by`` is the user's integer id, a cancelled
annotation has ``was_cancelled: true`` and ``result: []``, and each annotation embeds the model's
``prediction`` (never read here, nor the task's ``predictions``). JSON-MIN spreads ``data`` at
the top level and then overwrites ``id`` with Label Studio's task id (the passage id is lost);
the control's value is a bare string for one choice, ``{"choices": [...]}`` for several and
absent for none; cancelled annotations have no row; an unannotated task has one row with
``annotation_id`` null. CSV holds the same rows, but there the data's ``id`` (the passage id)
wins over the task id; lists and objects are JSON text.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from framescope.data.errors import RecordError
from framescope.labelling.votes import (
    ExportFile,
    ExportTask,
    Vote,
    annotator_name,
    file_error,
    items,
    label_list,
    str_id,
)

__all__ = ["csv_export_rows", "read_ls_json", "read_ls_rows"]

#: JSON-MIN/CSV columns that describe the annotation, not the task's data.
_MIN_KEYS = {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time",
             "agreement", "history", "was_cancelled"}
#: CSV cells read back as integers / as JSON.
_CSV_INTS = ("start", "end", "rank", "index")
_CSV_JSON = ("scores",)


def _ls_result_choices(result: Any, control: str, where: str) -> list[str] | str:
    """The choices of ``control`` in a Label Studio ``result`` list (``[]`` when none ticked)."""
    if result is None:
        return []
    if not isinstance(result, list):
        return f"{where}: expected a list of results, got {type(result).__name__}"
    chosen: list[str] = []
    others: list[str] = []
    for k, item in enumerate(result):
        if not isinstance(item, dict):
            return f"{where}[{k}]: expected a result object, got {type(item).__name__}"
        name = item.get("from_name")
        if name != control:
            if item.get("type") == "choices":
                others.append(str(name))
            continue
        if item.get("type") not in ("choices", None):
            return (f"{where}[{k}]: control {control!r} has type {item.get('type')!r}, expected "
                    f"'choices'")
        value = item.get("value")
        got = label_list(value.get("choices") if isinstance(value, dict) else value,
                          f"{where}[{k}].value.choices")
        if isinstance(got, str):
            return got
        chosen.extend(c for c in got if c not in chosen)
    if not chosen and others:
        return (f"{where}: choices under {sorted(set(others))}, none under {control!r}; the "
                f"labelling config must use <Choices name=\"{control}\">")
    return chosen


def _min_value(value: Any, where: str, *, csv_cell: bool) -> list[str] | str:
    """A JSON-MIN/CSV control value: ``"a"``, ``{"choices": [...]}``, a list of those, or
    nothing (``[]``: no frame ticked)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if csv_cell and text[:1] in ("{", "["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                return f"{where}: looks like JSON but does not parse ({exc.msg}): {text[:60]!r}"
        else:
            return [value]
    if isinstance(value, dict):
        return label_list(value.get("choices"), f"{where}.choices")
    if isinstance(value, list):
        out: list[str] = []
        for k, part in enumerate(value):
            got = _min_value(part, f"{where}[{k}]", csv_cell=False)
            if isinstance(got, str):
                return got
            out.extend(c for c in got if c not in out)
        return out
    return f"{where}: expected a label, {{\"choices\": [...]}} or a list, got {value!r:.60}"


def read_ls_json(doc: Any, out: ExportFile, control: str) -> None:
    source = out.path.as_posix()
    for n, task in items(doc):
        if not isinstance(task, dict):
            out.errors.append(RecordError(source, n, "<task>", f"item {n}: expected a task object, "
                                          f"got {type(task).__name__}", "export the project again"))
            continue
        tid = str_id(task.get("id")) or f"#{n}"
        data = task.get("data")
        fields = {"*": "data.", "votes": "annotations"}
        et = ExportTask(tid, None, {}, [], source, n, "ls-json", fields)
        out.tasks.append(et)
        if not isinstance(data, dict):
            et.problems.append(RecordError(source, n, "data", f"task {tid}: expected a 'data' object "
                                           f"with the passage, got {type(data).__name__}",
                                           "import the tasks written by `framescope label select`",
                                           record_id=tid))
            continue
        et.data = dict(data)
        et.passage_id = str_id(data.get("passage_id")) or str_id(data.get("id"))
        anns = task.get("annotations", task.get("completions"))
        if anns is None:
            anns = []
        if not isinstance(anns, list):
            et.problems.append(RecordError(source, n, "annotations", f"task {tid}: expected a list of "
                                           f"annotations, got {type(anns).__name__}",
                                           "export the project again as JSON", record_id=tid))
            continue
        for j, ann in enumerate(anns):
            where = f"annotations[{j}]"
            if not isinstance(ann, dict):
                et.problems.append(RecordError(source, n, where, f"task {tid}: expected an "
                                               f"annotation object, got {type(ann).__name__}",
                                               "export the project again", record_id=tid))
                continue
            who = annotator_name(ann.get("completed_by")) or f"annotation-{ann.get('id', j)}"
            when = ann.get("updated_at") or ann.get("created_at")
            aid = str_id(ann.get("id"))
            if ann.get("was_cancelled") or ann.get("skipped"):
                et.votes.append(Vote(who, None, "cancelled", aid, when, f"{where}.was_cancelled",
                                     source, n))
                continue
            got = _ls_result_choices(ann.get("result"), control, f"{where}.result")
            if isinstance(got, str):
                et.problems.append(RecordError(source, n, f"{where}.result", f"{et.where}, annotator "
                                               f"{who}: {got}", "check the labelling config's "
                                               f"<Choices name=\"{control}\">", record_id=tid))
                continue
            et.votes.append(Vote(who, got, "submitted", aid, when, f"{where}.result", source, n))


def read_ls_rows(rows: Iterator[tuple[int, Any]], out: ExportFile, control: str, *,
                  csv_cells: bool) -> None:
    """JSON-MIN or CSV rows, one per annotation, grouped into tasks by their ``id``."""
    source = out.path.as_posix()
    fmt = "ls-csv" if csv_cells else "ls-json-min"
    unit = "row" if csv_cells else "item"
    by_id: dict[str, ExportTask] = {}
    for n, row in rows:
        if isinstance(row, RecordError):
            out.errors.append(row)
            continue
        if not isinstance(row, dict):
            out.errors.append(RecordError(source, n, "<row>", f"{unit} {n}: expected an object, got "
                                          f"{type(row).__name__}", "export the project again"))
            continue
        tid = str_id(row.get("id"))
        if tid is None:
            out.errors.append(RecordError(source, n, "id", f"{unit} {n}: no task id",
                                          "export the project again; every row carries its task "
                                          "id in 'id'"))
            continue
        data = {k: v for k, v in row.items() if k not in _MIN_KEYS and k != control}
        if csv_cells:
            data = _csv_data(data)
        et = by_id.get(tid)
        if et is None:
            # CSV: the data's own 'id' (the passage id) wins over the task id; JSON-MIN: the
            # task id wins, so only an explicit 'passage_id' names the passage
            pid = str_id(data.get("passage_id")) or (tid if csv_cells else None)
            fields = {"*": "", "id": "id" if csv_cells else "passage_id", "votes": "annotation_id"}
            et = by_id[tid] = ExportTask(tid, pid, data, [], source, n, fmt, fields)
            out.tasks.append(et)
        elif data.get("text") != et.data.get("text"):
            et.problems.append(RecordError(source, n, "text", f"{et.where}: {unit} {n} holds a "
                                           f"different text than {unit} {et.line} of the same task",
                                           "export the project again", record_id=tid))
        aid = str_id(row.get("annotation_id"))
        who = annotator_name(row.get("annotator"))
        if aid is None and who is None:
            continue  # the row of a task without annotations
        who = who or f"annotation-{aid}"
        got = _min_value(row.get(control), control, csv_cell=csv_cells)
        if isinstance(got, str):
            et.problems.append(RecordError(source, n, control, f"{et.where}, annotator {who}: {got}",
                                           f"check the labelling config's <Choices name=\"{control}\">",
                                           record_id=tid))
            continue
        when = row.get("updated_at") or row.get("created_at")
        et.votes.append(Vote(who, got, "submitted", aid, when or None, control, source, n))


def _csv_data(data: dict[str, Any]) -> dict[str, Any]:
    """Task data from CSV cells: ``""`` is absent, offsets and ranks are ints again and the
    ``scores`` object parses; every other cell (the text above all) stays as written."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value == "":
            continue
        if key in _CSV_INTS and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        elif key in _CSV_JSON and isinstance(value, str) and value[:1] in ("{", "["):
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        out[key] = value
    return out


def csv_export_rows(path: Path, out: ExportFile, control: str) -> Iterator[tuple[int, Any]]:
    from framescope.data.io import csv_rows

    source = path.as_posix()
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        out.errors.append(file_error(source, f"invalid UTF-8 at byte {exc.start}",
                                      "export the file again; exports are UTF-8"))
        return
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = reader.fieldnames or []
    if f"{control}.responses" in header:
        out.errors.append(file_error(source, "an Argilla table (column "
                                      f"'{control}.responses'); CSV cells of lists cannot be read "
                                      "back reliably", "export the records with "
                                      "dataset.records.to_json(PATH) instead"))
        return
    if "text" not in header or not ({"annotation_id", "annotator"} & set(header)):
        out.errors.append(file_error(source, f"not a Label Studio CSV export: columns "
                                      f"{[c[:30] for c in header[:8]]}; expected 'text', 'annotator' and "
                                      "'annotation_id'", "export the project as CSV from Label "
                                      "Studio, or pass the right --format"))
        return
    for item in csv_rows(reader, source):
        if isinstance(item, RecordError):
            yield item.line, item
        else:
            yield item
