"""Reader of the spreadsheet ``framescope label select --out BATCH.csv`` writes, once annotators
have filled in its ``labels`` column (``framescope label import --format sheet``).

The sheet (:func:`framescope.labelling.exports.csv_table`) has the columns ``id, text,
text_sha1, source, record_id, start, end, rank, strategy, predicted, p_<label>..., labels``. Every
data row becomes one :class:`~framescope.labelling.votes.ExportTask` (its task id is the
spreadsheet row number, the header being row 1) with one
:class:`~framescope.labelling.votes.Vote`; merging copies, majority votes, ties and agreement are
:mod:`framescope.labelling.consensus`'s, as for every other format.

* **labels**: label ids separated by ``;`` (``,`` and ``|`` work too; spaces around them are
  dropped). ``none`` (any case) or ``-`` alone is "no frame" (``[]``). An **empty** cell is
  "not labelled yet": an error naming the file, the line, the row, the passage and the field
  ``labels`` (never a silent "no frame").
* **annotator**: one annotator per sheet, named after the file stem (``ann1.csv`` ->
  ``ann1``), so filled copies of one sheet, one per annotator, merge by passage id. An optional
  ``annotator`` column overrides the stem row by row. Two sheets with the same stem would be
  one annotator answering twice: the later file is rejected (:func:`stem_clashes`).
* **formula guard**: the writer puts a ``'`` before cells a spreadsheet would run as a formula
  (:func:`framescope.reports.analyst.csv_safe`). The text loses it only when the text does not
  hash to ``text_sha1`` but the unguarded text does; other cells lose it whenever it is exactly
  what ``csv_safe`` adds. A text that matches neither way is reported by the import as changed
  since selection.
* **cells**: ``start``/``end``/``rank`` are integers again, empty cells are absent, and
  ``predicted`` and the ``p_<label>`` columns (the model's view) are never read.
* **detection**: a CSV whose header has ``text_sha1``, ``labels`` and ``rank`` and none of Label
  Studio's annotation columns (:data:`LS_ANNOTATION_COLUMNS`) is a sheet; a ``;``-delimited
  file (what spreadsheets save in some locales) is read too.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from framescope.data.errors import RecordError
from framescope.data.records import LABEL_SHEET_MARKERS
from framescope.labelling.votes import ExportFile, ExportTask, Vote, file_error, text_sha1
from framescope.reports.analyst import csv_safe

__all__ = [
    "LS_ANNOTATION_COLUMNS",
    "NO_FRAME",
    "SHEET_MARKERS",
    "csv_format",
    "parse_label_cell",
    "read_sheet",
    "stem_clashes",
    "unguard",
]

#: Columns that make a CSV a filled sheet (with no Label Studio annotation column).
SHEET_MARKERS = LABEL_SHEET_MARKERS
#: Columns only Label Studio's CSV export has (one row per annotation).
LS_ANNOTATION_COLUMNS = ("annotation_id", "lead_time", "created_at", "updated_at", "was_cancelled",
                         "completed_by")
#: Cells meaning "no frame" (``[]``).
NO_FRAME = ("none", "-")
#: Columns a sheet must have.
_REQUIRED = ("id", "text", "labels")
#: Columns that are not the passage's data.
_NOT_DATA = ("labels", "predicted", "annotator")
_INTS = ("start", "end", "rank", "index")
_SEPARATORS = re.compile(r"[;,|]")
_FIX_EMPTY = ("write the labels (ids separated by ';'), or `none` for no frame; or pass "
              "--on-error skip to leave the row out")


def unguard(value: str) -> str:
    """``value`` without the ``'`` that :func:`~framescope.reports.analyst.csv_safe` adds.

    Example:
        >>> unguard("'=SUM(A1)"), unguard("'quoted'"), unguard("plain")
        ('=SUM(A1)', "'quoted'", 'plain')
    """
    if value.startswith("'") and csv_safe(value[1:]) == value:
        return value[1:]
    return value


def parse_label_cell(cell: str) -> list[str] | str | None:
    """The labels of a ``labels`` cell: a list (``[]`` for ``none``/``-``), ``None`` for an
    empty cell, or a message (str) when the cell cannot be read.

    Example:
        >>> parse_label_cell("alpha; beta"), parse_label_cell("NONE"), parse_label_cell(" ")
        (['alpha', 'beta'], [], None)
    """
    text = unguard(cell.strip()).strip()
    if not text:
        return None
    if text.lower() in NO_FRAME:
        return []
    labels: list[str] = []
    for part in _SEPARATORS.split(text):
        part = part.strip()
        if part.lower() in NO_FRAME:
            return f"{part!r} (no frame) together with labels in {cell.strip()!r}"
        if part and part not in labels:
            labels.append(part)
    return labels or f"no label ids in {cell.strip()!r}"


def _decode(path: Path) -> str | RecordError:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return file_error(path.as_posix(), f"invalid UTF-8 at byte {exc.start}", "save the sheet "
                          "as 'CSV UTF-8' (Excel) or with the UTF-8 character set (LibreOffice)")


def _delimiter(text: str, path: Path) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    first = text.split("\n", 1)[0]
    if "," not in first and ";" in first:  # a spreadsheet saved in a ';' locale
        return ";"
    return ","


def _header(text: str, delimiter: str) -> list[str]:
    try:
        return [c.strip() for c in next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))]
    except (StopIteration, csv.Error):
        return []


def csv_format(path: str | Path, control: str = "frames") -> str | RecordError | None:
    """``"sheet"`` for a filled ``label select`` sheet (:data:`SHEET_MARKERS`, no Label Studio
    column), ``"ls-csv"`` for a CSV with Label Studio's annotation columns
    (:data:`LS_ANNOTATION_COLUMNS`, or the ``control`` column), ``None`` when the header is
    neither, or the error when the file cannot be read."""
    path = Path(path)
    text = _decode(path)
    if isinstance(text, RecordError):
        return text
    header = set(_header(text, _delimiter(text, path)))
    if header & (set(LS_ANNOTATION_COLUMNS) | ({control} - {"labels"})):
        return "ls-csv"
    return "sheet" if set(SHEET_MARKERS) <= header else None


def _data(row: dict[str, str]) -> dict[str, Any]:
    """The passage's data from a row: no empty cells, no guard, integers where the writer wrote
    them; ``text`` is left as it stands (see :func:`read_sheet`)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in _NOT_DATA or key.startswith("p_") or value == "":
            continue
        if key != "text":
            value = unguard(value.strip())
            if key in _INTS and value.isascii() and value.isdigit():
                value = int(value)
        out[key] = value
    sha = out.get("text_sha1")
    text = out.get("text")
    if isinstance(sha, str) and isinstance(text, str) and text_sha1(text) != sha \
            and unguard(text) != text and text_sha1(unguard(text)) == sha:
        out["text"] = unguard(text)  # the formula guard of `label select`, not an edit
    return out


def read_sheet(path: Path, out: ExportFile) -> None:
    """Read a filled sheet into ``out``: one task per passage id, one vote per row.

    Rows are numbered as a spreadsheet shows them (header = row 1); errors carry the line of
    the file where the row starts (they differ only when a text holds line breaks). A row whose
    cells are all empty is skipped.
    """
    source = path.as_posix()
    text = _decode(path)
    if isinstance(text, RecordError):
        out.errors.append(text)
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text, path))
    header = _header(text, _delimiter(text, path))
    try:
        next(reader)
    except (StopIteration, csv.Error):
        out.errors.append(file_error(source, "the file is empty", "save the filled sheet again"))
        return
    missing = [c for c in _REQUIRED if c not in header]
    twice = sorted({c for c in header if header.count(c) > 1})
    if missing or twice:
        what = (f"columns {missing} missing" if missing else f"columns {twice} appear twice")
        out.errors.append(file_error(source, f"not a `label select` sheet: {what} (found "
                                     f"{[c[:30] for c in header[:12]]})", "keep the columns "
                                     "`framescope label select --out BATCH.csv` wrote and fill "
                                     "in 'labels'", line=1))
        return
    by_id: dict[str, ExportTask] = {}
    row_no = 1
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            row_no += 1
            out.errors.append(RecordError(source, line, "<row>", f"row {row_no}: malformed CSV: "
                                          f"{exc}", "check the quoting of the row's cells"))
            continue
        row_no += 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            out.errors.append(RecordError(source, line, "<row>", f"row {row_no}: {len(cells)} cells "
                                          f"for {len(header)} columns", "quote cells that contain "
                                          "the delimiter"))
            continue
        row = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        _read_row(row, row_no, line, path, out, by_id)


def _read_row(row: dict[str, str], row_no: int, line: int, path: Path, out: ExportFile,
              by_id: dict[str, ExportTask]) -> None:
    source = path.as_posix()
    pid = unguard(row["id"].strip())
    if not pid:
        out.errors.append(RecordError(source, line, "id", f"row {row_no}: no passage id",
                                      "keep the 'id' column `label select` wrote"))
        return
    where = f"row {row_no} (passage {pid})"
    who = unguard(row.get("annotator", "").strip()) or path.stem
    data = _data(row)
    et = by_id.get(pid)
    if et is None:
        et = by_id[pid] = ExportTask(str(row_no), pid, data, [], source, line, "sheet",
                                     {"*": "", "votes": "labels"})
        out.tasks.append(et)
    elif data.get("text") != et.data.get("text"):
        et.problems.append(RecordError(source, line, "text", f"{where}: a different text than "
                                       f"row {et.task_id} of the same passage", "keep one row "
                                       "per passage as `label select` wrote it", record_id=pid))
        return
    elif any(v.annotator == who for v in et.votes):
        et.problems.append(RecordError(source, line, "id", f"{where}: annotator {who} answers this "
                                       f"passage again (first in row {et.task_id})", "keep one row "
                                       "per passage (per annotator, with an 'annotator' column)",
                                       record_id=pid))
        return
    got = parse_label_cell(row["labels"])
    if got is None:
        et.problems.append(RecordError(source, line, "labels", f"{where}: not labelled (the "
                                       "'labels' cell is empty)", _FIX_EMPTY, record_id=pid))
        return
    if isinstance(got, str):
        et.problems.append(RecordError(source, line, "labels", f"{where}: {got}", "write label ids "
                                       "separated by ';', or `none` alone for no frame",
                                       record_id=pid))
        return
    et.votes.append(Vote(who, got, "submitted", None, None, "labels", source, line))


def stem_clashes(files: list[ExportFile]) -> None:
    """Reject a sheet whose file stem (its annotator) another given sheet already has: the two
    would count as one annotator answering twice, and one answer per passage would be lost.
    The rejected file keeps no tasks and one error naming both files."""
    seen: dict[str, Path] = {}
    for f in files:
        if f.format != "sheet":
            continue
        stem = f.path.stem
        if stem not in seen:
            seen[stem] = f.path
        elif any(v.annotator == stem for t in f.tasks for v in t.votes):
            f.tasks = []
            f.errors.append(file_error(f.path.as_posix(), f"another sheet, {seen[stem].as_posix()}, "
                                       f"has the same file name: both would be annotator {stem!r}",
                                       "name each annotator's copy after them (ann1.csv, "
                                       "ann2.csv), or fill in an 'annotator' column"))
