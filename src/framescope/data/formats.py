"""Which reader reads a file: format detection (name, layout, first bytes) and dispatch.

Generic formats are read by :mod:`framescope.data.readers`, the public research datasets by
:mod:`framescope.data.adapters`, the real-text yardstick's label files by
:mod:`framescope.data.real`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from framescope.data import adapters, readers
from framescope.data.errors import RecordError
from framescope.data.io import open_binary, table_format
from framescope.data.real import TSV_COLUMNS, read_real_tsv
from framescope.data.records import FORMATS, Item, ReadOptions

__all__ = ["FORMATS", "detect_format", "iter_file"]

_REAL_HEADER = "\t".join(TSV_COLUMNS[:3]).encode()


def _strip_gz(path: Path) -> str:
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def _head(path: Path, n: int = 512) -> bytes:
    try:
        with open_binary(path) as fh:
            return fh.read(n)
    except OSError:
        return b""


def detect_format(path: Path) -> str:
    """Guess the format of ``path`` from its name, layout or first bytes.

    Raises:
        ValueError: when nothing tells the format (the message lists ``--format`` values).

    Example:
        >>> detect_format(Path("feed.xml"))
        'rss'
    """
    if path.is_dir():
        names = {p.name for p in path.iterdir()}
        if any(n.endswith("-labels-subtask-3.txt") for n in names):
            return "semeval-persuasion"
        if any(n.endswith("-labels-subtask-2.txt") for n in names):
            return "semeval-frames"
        if any(n.startswith("final_labels_") and n.endswith(".csv") for n in names):
            return "babe"
        return "txt-dir"
    name = _strip_gz(path)
    if name.endswith(("-labels-subtask-3.txt", "-labels-subtask-3.template")):
        return "semeval-persuasion"
    if name.endswith("-labels-subtask-2.txt"):
        return "semeval-frames"
    if name.startswith("final_labels_") and name.endswith(".csv"):
        return "babe"
    table = table_format(Path(name))
    if table == "tsv" and _head(path).lstrip(b"\xef\xbb\xbf").startswith(_REAL_HEADER):
        return "real"
    if table is not None:
        return table
    if name.endswith((".xml", ".rss", ".atom")):
        return "rss"
    if name.endswith(".txt"):
        return "txt-dir"
    head = _head(path).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "rss"
    if head.startswith(b"{"):
        return "jsonl"
    raise ValueError(f"{path}: cannot tell the format from the name; pass --format "
                     f"({', '.join(FORMATS[1:])})")


def _real(path: Path, opts: ReadOptions) -> Iterator[Item]:
    return read_real_tsv(path, labels_sep=opts.labels_sep, labels_required=opts.labels_required)


_READERS: dict[str, Callable[[Path, ReadOptions], Iterator[Item]]] = {
    "jsonl": readers.read_jsonl,
    "csv": lambda path, opts: readers.read_csv(path, opts, ","),
    "tsv": lambda path, opts: readers.read_csv(path, opts, "\t"),
    "parquet": readers.read_parquet,
    "rss": readers.read_rss,
    "txt-dir": readers.read_txt,
    "real": _real,
    **adapters.ADAPTERS,
}


def iter_file(path: Path, opts: ReadOptions) -> Iterator[Item]:
    """Yield the records of one input (file or folder) in its detected or given format."""
    problem = readers.file_problem(path)
    if problem:
        yield problem
        return
    try:
        fmt = detect_format(path) if opts.format == "auto" else opts.format
    except ValueError as exc:
        yield RecordError(str(path), 0, "<file>", str(exc), "pass --format")
        return
    yield from _READERS[fmt](path, opts)
