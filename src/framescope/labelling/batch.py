"""Reading back the batch ``framescope label select`` wrote, as passage id -> selected text.

``label import --batch SELECTED`` checks every imported task against it. A batch is any of the
files ``label select`` writes: Label Studio tasks (JSON), Argilla records (JSON Lines) or the
spreadsheet CSV, whose text cells may carry a leading ``'`` against formula injection (the
``text_sha1`` column, of the original text, tells when to drop it).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from framescope.data.errors import DataError
from framescope.labelling.imports import read_export, text_sha1

__all__ = ["read_batch"]


def _read_csv(path: Path) -> dict[str, str]:
    source = path.as_posix()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: batch file: invalid UTF-8 at byte {exc.start}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not {"id", "text"} <= set(reader.fieldnames or []):
        raise DataError(f"{source}: batch file: expected 'id' and 'text' columns, found "
                        f"{sorted(reader.fieldnames or [])[:12]} (fix: pass the file `framescope "
                        "label select` wrote)")
    out: dict[str, str] = {}
    for row in reader:
        pid, body, sha = row.get("id") or "", row.get("text") or "", row.get("text_sha1")
        if sha and body.startswith("'") and text_sha1(body) != sha and text_sha1(body[1:]) == sha:
            body = body[1:]  # the formula guard written by label select
        if pid:
            out[pid] = body
    return out


def read_batch(path: str | Path, *, control: str = "frames") -> dict[str, str]:
    """Passage id -> text of a selected batch.

    Raises:
        DataError: when the file is missing, cannot be read, or names no passage.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"batch file not found: {path} (fix: pass the file `framescope label "
                        "select --out` wrote)")
    if path.suffix.lower() in (".csv", ".tsv"):
        out = _read_csv(path)
    else:
        f = read_export(path, control=control)
        if f.errors:
            raise DataError(f"batch file: {f.errors[0]}")
        out = {t.passage_id: t.data["text"] for t in f.tasks
               if t.passage_id is not None and isinstance(t.data.get("text"), str)}
    if not out:
        raise DataError(f"{path}: batch file names no passage (fix: pass the file `framescope "
                        "label select --out` wrote)")
    return out
