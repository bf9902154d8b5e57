"""File helpers: transparent ``.gz`` reading, atomic writes, the suffix table, and row writers."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "TABLE_SUFFIXES",
    "atomic_dir",
    "atomic_path",
    "atomic_write_text",
    "cache_dir",
    "csv_rows",
    "open_binary",
    "parse_json",
    "read_json_or_yaml",
    "recover_dir",
    "table_format",
    "write_records",
]

#: File suffix -> tabular format, for every reader and writer of rows (``.gz`` is stripped first).
TABLE_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
                  ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: str | Path) -> str | None:
    """``jsonl``, ``csv``, ``tsv`` or ``parquet`` from a file name (``.gz`` ignored), else None.

    Example:
        >>> table_format("scores.articles.parquet"), table_format("feed.jsonl.gz"), table_format("a.xml")
        ('parquet', 'jsonl', None)
    """
    name = Path(path).name.lower().removesuffix(".gz")
    return TABLE_SUFFIXES.get(Path(name).suffix)


def csv_rows(reader: Any, source: str) -> Iterator[tuple[int, dict[str, Any]] | Any]:
    """``(line, row)`` for each row of a ``csv.DictReader``, or a
    :class:`~framescope.data.errors.RecordError` for a malformed row or one with more cells than
    header columns (the reader goes on after either)."""
    import csv

    from framescope.data.errors import RecordError

    columns = len(reader.fieldnames or [])
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RecordError(source, reader.line_num, "<record>", f"malformed CSV: {exc}", "check quoting")
            continue
        if None in row:
            yield RecordError(source, reader.line_num, "<record>",
                              f"{len(row[None]) + columns} cells for {columns} columns",
                              "quote cells that contain the delimiter")
            continue
        yield reader.line_num, row


class DuplicateKeyError(ValueError):
    """A JSON object names a key twice; ``key`` is the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r} (a JSON object may hold each key once; the "
                         "second value would silently replace the first)")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def parse_json(text: str) -> Any:
    """``json.loads`` for untrusted input: duplicate keys and nesting too deep to parse are
    errors (``ValueError`` with a readable message) instead of a silent overwrite or a crash.

    Example:
        >>> parse_json('{"a": 1, "a": 2}')
        Traceback (most recent call last):
        ValueError: duplicate key 'a' (a JSON object may hold each key once; the second value would silently replace the first)
    """
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read (thousands of levels)") from None


def cache_dir() -> Path:
    """framescope's cache folder: ``$FRAMESCOPE_CACHE``, default ``~/.cache/framescope``
    (ONNX exports, the assembled mpnet backbone, tokenised datasets)."""
    return Path(os.environ.get("FRAMESCOPE_CACHE", Path.home() / ".cache" / "framescope"))


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for binary reading, decompressing ``.gz`` transparently."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _umask() -> int:
    """The process umask (read without changing it where /proc allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    A crash (even ``kill -9``) leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get normal modes
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system or file system does not offer it."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def _old_copies(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.old-*"), key=lambda p: p.stat().st_mtime)


def recover_dir(path: str | Path) -> bool:
    """Put back a folder that an interrupted :func:`atomic_dir` left moved aside.

    Only the fallback swap (two renames, used where an atomic exchange is not available) has
    such a window: killed between its renames, it leaves ``path`` missing and the old folder
    as ``.NAME.old-PID``. Returns True when a folder was restored; leftovers beside an
    existing ``path`` are removed.
    """
    import shutil

    path = Path(path)
    olds = _old_copies(path)
    if not olds:
        return False
    if path.exists():
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)
        return False
    os.replace(olds[-1], path)
    for old in olds[:-1]:
        shutil.rmtree(old, ignore_errors=True)
    return True


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path``.

    On Linux the new folder and the old one trade places in one atomic step
    (``renameat2(RENAME_EXCHANGE)``), so a ``kill -9`` at any moment leaves the old folder or
    the new one at ``path``. Elsewhere the old folder is first moved aside to
    ``.NAME.old-PID`` and removed only after the new one is in place; a run killed between the
    two renames leaves it there, and :func:`recover_dir` (called here on the next write, and
    by readers such as the model loader) puts it back.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        for child in tmp.rglob("*"):  # libraries write some files 0600 (safetensors weights)
            if child.is_file():
                os.chmod(child, 0o666 & ~_umask())
        if path.exists() and _exchange(tmp, path):
            pass  # tmp now holds the old folder and is removed below
        else:
            old = None
            if path.exists():
                old = path.parent / f".{path.name}.old-{os.getpid()}"
                os.replace(path, old)
            os.replace(tmp, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
            for k, v in row.items()}


def write_records(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write dict rows atomically as JSONL, CSV/TSV or Parquet (chosen by the suffix).

    Lists and dicts become JSON strings in CSV. Returns the number of rows written.
    """
    path = Path(path)
    fmt = table_format(path)
    count = 0
    with atomic_path(path) as tmp:
        if fmt == "jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    count += 1
        elif fmt in ("csv", "tsv"):
            import csv

            rows = list(rows)
            columns: list[str] = []
            for row in rows:
                columns.extend(k for k in row if k not in columns)
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns,
                                        delimiter="\t" if fmt == "tsv" else ",")
                writer.writeheader()
                for row in rows:
                    writer.writerow(_flat(row))
                    count += 1
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            rows = list(rows)
            columns = []
            for row in rows:
                columns.extend(k for k in row if k not in columns)
            table = pa.Table.from_pylist([_flat({c: r.get(c) for c in columns}) for r in rows])
            pq.write_table(table, tmp)
            count = len(rows)
        else:
            raise ValueError(f"cannot write {path}: unknown suffix {path.suffix!r} "
                             "(use .jsonl, .csv, .tsv or .parquet)")
    return count


def read_json_or_yaml(path: str | Path, what: str) -> Any:
    """Parse a JSON (``.json``) or YAML file (anything else) with one error style.

    Raises:
        DataError: when the file is missing or does not parse; the message names ``what``.
    """
    from framescope.data.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    text = path.read_text(encoding="utf-8-sig")
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:  # json and yaml raise different types
        raise DataError(f"{path}: cannot parse the {what}: {exc}") from exc
