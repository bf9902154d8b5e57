"""Errors raised for bad input, and the log that collects them.

Every problem found in an input file becomes a :class:`RecordError` that names the
file, the line (or feed item) and the field, says what was expected and how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DataError", "ErrorLog", "ReadStats", "RecordError"]


@dataclass(frozen=True)
class RecordError:
    """One rejected input record.

    Attributes:
        source: the file the record came from.
        line: 1-based line number (or item number for feeds and folders); 0 for the whole file.
        field: the offending field (``"<record>"`` when the record itself is broken).
        message: what was expected and what was found.
        hint: how to fix it.
        excluded: True when an adapter drops the record by a documented rule (for example
            BABE's "No agreement" rows); such records are rejected but never stop a run.
        raw: a short excerpt of the raw record, for the errors file.
        record_id: the record's id when it could be read (duplicate checks still see it).
    """

    source: str
    line: int
    field: str
    message: str
    hint: str = ""
    excluded: bool = False
    raw: str = ""
    record_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        text = f"{where}: field '{self.field}': {self.message}"
        if self.hint:
            text += f" (fix: {self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DataError(ValueError):
    """Raised when input data is invalid and the run must stop before writing anything.

    ``errors`` holds the first errors found (at most ``ErrorLog.keep``) and ``total`` the
    number of bad records in all.
    """

    def __init__(self, errors: Iterable[RecordError] | str, total: int | None = None) -> None:
        if isinstance(errors, str):
            self.errors: list[RecordError] = []
            self.total = total or 1
            super().__init__(errors)
            return
        self.errors = list(errors)
        self.total = total if total is not None else len(self.errors)
        lines = [str(e) for e in self.errors]
        more = self.total - len(self.errors)
        head = f"{self.total} bad input record(s); nothing was written."
        if more > 0:
            lines.append(f"... and {more} more")
        hint = "Fix the records above, or pass --on-error skip to write them to an errors file and go on."
        super().__init__("\n".join([head, *lines, hint]))


@dataclass
class ReadStats:
    """Counts of one read: ``read == accepted + rejected`` always holds."""

    read: int = 0
    accepted: int = 0
    rejected: int = 0
    excluded: int = 0  # the part of ``rejected`` dropped by an adapter rule

    def summary(self) -> str:
        extra = f", of which {self.excluded} excluded by a dataset rule" if self.excluded else ""
        return (
            f"records read: {self.read} = accepted {self.accepted} + rejected {self.rejected}{extra}"
        )


@dataclass
class ErrorLog:
    """Collects rejected records; optionally streams them to a JSONL errors file.

    Args:
        errors_path: where ``--on-error skip`` writes rejected records (JSONL, one per line).
        keep: how many errors to keep in memory for messages.
    """

    errors_path: Path | None = None
    keep: int = 50
    first: list[RecordError] = field(default_factory=list)
    count: int = 0
    fatal: int = 0
    _fh: Any = None

    def add(self, error: RecordError) -> None:
        self.count += 1
        if not error.excluded:
            self.fatal += 1
        if len(self.first) < self.keep:
            self.first.append(error)
        if self.errors_path is not None:
            if self._fh is None:
                self.errors_path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.errors_path, "w", encoding="utf-8")  # noqa: SIM115
            self._fh.write(json.dumps(error.to_dict(), ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def raise_if_fatal(self) -> None:
        """Raise :class:`DataError` when any non-excluded record was rejected."""
        if self.fatal:
            shown = [e for e in self.first if not e.excluded][:20]
            raise DataError(shown, total=self.fatal)
