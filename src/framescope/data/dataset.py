"""Reading datasets: many inputs, one error policy, label checks and the counts invariant."""

from __future__ import annotations

import glob
import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from framescope.data.errors import DataError, ErrorLog, ReadStats, RecordError
from framescope.data.fingerprint import fingerprint
from framescope.data.readers import ReadOptions, iter_file
from framescope.data.schema import Passage
from framescope.data.taxonomy import Taxonomy

__all__ = [
    "LoadedData",
    "OnError",
    "expand_inputs",
    "load_passages",
    "read_passages",
    "validate_inputs",
]

logger = logging.getLogger(__name__)

OnError = Literal["stop", "skip", "collect"]


def expand_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Expand glob patterns; paths that match nothing are kept (and reported as missing)."""
    out: list[Path] = []
    for p in paths:
        text = str(p)
        if any(ch in text for ch in "*?["):
            matches = sorted(glob.glob(text))
            out.extend(Path(m) for m in matches) if matches else out.append(Path(text))
        else:
            out.append(Path(text))
    return out


def read_passages(
    paths: Iterable[str | Path],
    options: ReadOptions | None = None,
    *,
    taxonomy: Taxonomy | None = None,
    on_error: OnError = "stop",
    log: ErrorLog | None = None,
    stats: ReadStats | None = None,
    check_duplicates: bool = True,
) -> Iterator[Passage]:
    """Stream valid passages from inputs, in constant memory (ids are kept as 8-byte hashes).

    Args:
        paths: files, folders or glob patterns.
        options: format and column mapping.
        taxonomy: when given, labels outside it are errors.
        on_error: ``stop`` raises :class:`DataError` at the first bad record; ``skip`` and
            ``collect`` record it in ``log`` and go on.
        log: collects rejected records (and writes the errors file when it has a path).
        stats: updated in place; ``read == accepted + rejected`` holds at the end.

    Raises:
        DataError: with ``on_error="stop"``, at the first bad record.
    """
    options = options or ReadOptions()
    log = log if log is not None else ErrorLog()
    stats = stats if stats is not None else ReadStats()
    seen: dict[int, tuple[str, int]] = {}

    def id_key(rid: str) -> int:
        return int.from_bytes(hashlib.blake2b(rid.encode(), digest_size=8).digest(), "big")

    def reject(error: RecordError) -> None:
        if check_duplicates and error.record_id is not None and error.field != "id":
            seen.setdefault(id_key(error.record_id), (error.source, error.line))
        stats.rejected += 1
        stats.excluded += error.excluded
        log.add(error)
        if on_error == "stop" and not error.excluded:
            raise DataError([error], total=1)

    for path in expand_inputs(paths):
        for item in iter_file(path, options):
            stats.read += 1
            if isinstance(item, RecordError):
                reject(item)
                continue
            if taxonomy is not None and item.labels:
                err = taxonomy.check(item.labels, source=item.source or str(path), line=item.line or 0)
                if err is not None:
                    reject(err)
                    continue
            if check_duplicates:
                key = id_key(item.id)
                if key in seen:
                    src, line = seen[key]
                    reject(RecordError(item.source or str(path), item.line or 0, "id",
                                       f"duplicate id {item.id!r} (first seen at {src}:{line})",
                                       "give every record a unique id"))
                    continue
                seen[key] = (item.source or str(path), item.line or 0)
            stats.accepted += 1
            yield item


@dataclass
class LoadedData:
    """Passages read into memory, with their counts, taxonomy and fingerprint."""

    passages: list[Passage]
    stats: ReadStats
    taxonomy: Taxonomy | None
    paths: list[str] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.passages)


def load_passages(
    paths: Sequence[str | Path],
    options: ReadOptions | None = None,
    *,
    taxonomy: Taxonomy | Literal["infer"] | None = None,
    on_error: Literal["stop", "skip"] = "stop",
    errors_path: Path | None = None,
    allow_empty: bool = False,
) -> LoadedData:
    """Read whole datasets (training/evaluation sized) with the full error policy.

    With ``on_error="stop"`` every input is checked and, if any record is bad, a
    :class:`DataError` lists the first errors and the total, before anything is written.
    With ``"skip"`` bad records go to ``errors_path`` and the rest is returned.
    ``taxonomy="infer"`` builds the label set from the data (with a warning). An input without
    a single valid record is an error unless ``allow_empty``.
    """
    infer = taxonomy == "infer"
    tax = None if infer or taxonomy is None else taxonomy
    log = ErrorLog(errors_path=errors_path if on_error == "skip" else None)
    stats = ReadStats()
    try:
        passages = list(read_passages(paths, options, taxonomy=tax, on_error="collect",
                                      log=log, stats=stats))
    finally:
        log.close()
    if on_error == "stop":
        log.raise_if_fatal()
    if infer and passages:
        tax = Taxonomy.infer(p.labels for p in passages)
    if not passages and not allow_empty:
        raise DataError(f"no valid records in {', '.join(map(str, paths))} ({stats.summary()})")
    return LoadedData(passages, stats, tax, [str(p) for p in paths], list(log.first))


def validate_inputs(
    paths: Sequence[str | Path],
    options: ReadOptions | None = None,
    *,
    taxonomy: Taxonomy | None = None,
) -> tuple[ReadStats, ErrorLog]:
    """Check every record of the inputs without keeping them; returns counts and errors."""
    log, stats = ErrorLog(keep=1000), ReadStats()
    for _ in read_passages(paths, options, taxonomy=taxonomy, on_error="collect", log=log,
                           stats=stats):
        pass
    return stats, log
