"""Where a scoring run keeps its state, and who may write an output.

A run on ``OUT`` keeps, beside it:

* ``.OUT.framescope-lock``: the :class:`OutputLock` of the one run allowed to write ``OUT``;
* ``.OUT.framescope-run/``: the work folder of an unfinished run (part files and ``state.json``
  with the committed offsets and the run's identity);
* ``.OUT.framescope-run.json``: the identity of the finished run, so ``--resume`` on a finished
  output still checks that model, inputs and every setting that changes a row are the same.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from framescope.data.dataset import expand_inputs
from framescope.data.errors import DataError

__all__ = ["STATE_FILE", "STATE_VERSION", "OutputLock", "check_key", "check_writable", "done_file",
           "input_signature", "load_done", "load_state", "work_dir"]

#: bumped when the identity or the state layout changes: an older run cannot be resumed
STATE_VERSION = 2
STATE_FILE = "state.json"


def input_signature(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    out = []
    for path in expand_inputs(paths):
        entry: dict[str, Any] = {"path": str(Path(path).resolve())}
        if path.is_file():
            st = path.stat()
            entry.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
        elif path.is_dir():
            digest = hashlib.sha256()
            for f in sorted(path.iterdir()):
                if f.is_file():
                    st = f.stat()
                    digest.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            entry["listing"] = digest.hexdigest()[:16]
        else:
            entry["missing"] = True
        out.append(entry)
    return out


def load_state(work: Path, name: str = STATE_FILE) -> dict[str, Any]:
    path = work / name
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:  # pragma: no cover - written atomically
        raise DataError(f"{path}: unreadable run state ({exc.msg}); pass --overwrite to start "
                        "again") from None


def check_key(state: dict[str, Any], key: dict[str, Any], work: Path, *, finished: bool = False) -> None:
    """Refuse to resume (or to call finished) a run made with other inputs, model or settings."""
    old = state.get("key", {})
    what = "the finished output was" if finished else "the interrupted run was"
    if state.get("version") != STATE_VERSION:
        raise DataError(f"{work}: {what} written by another framescope version "
                        f"(state {state.get('version')!r}); pass --overwrite to start again")
    diff = sorted(k for k in set(old) | set(key) if old.get(k) != key.get(k))
    if diff:
        details = "; ".join(f"{k}: was {str(old.get(k))[:120]}, now {str(key.get(k))[:120]}" for k in diff[:4])
        raise DataError(f"cannot --resume: {what} made with different settings, model or inputs "
                        f"({details}). Re-run the same command with --resume, or pass --overwrite "
                        "to score again")


class OutputLock:
    """An exclusive lock on one output (``.OUT.framescope-lock`` beside it), held for a run.

    A second ``framescope score`` on the same output is refused at once with the holder's pid.
    The lock is a ``flock`` on an open file, so the system releases it when the holding process
    ends, even by ``kill -9``: a later run takes it over without any clean-up. (Where ``fcntl``
    does not exist, runs are not locked.)
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out.with_name(f".{out.name}.framescope-lock")
        self.fd: int | None = None

    def __enter__(self) -> OutputLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown"
                os.close(fd)
                raise DataError(f"another framescope score run (pid {holder}) is writing {self.out}; "
                                "wait for it to finish or stop it, then run again (a run that was "
                                "killed releases the lock by itself)") from None
            try:  # the holder before us may have removed the file after we opened it: retry
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None


def done_file(out: Path) -> Path:
    """Where a finished run records its identity (the key ``--resume`` compares)."""
    return out.with_name(f".{out.name}.framescope-run.json")


def load_done(out: Path) -> dict[str, Any]:
    path = done_file(out)
    if not path.exists():
        raise DataError(f"{out} exists but records no run identity ({path.name} is missing), so "
                        "--resume cannot tell whether it matches this command; pass --overwrite "
                        "to score again")
    return load_state(path.parent, path.name)


def check_writable(folder: Path) -> None:
    """Fail early, with the folder named, when outputs cannot be written there."""
    import tempfile

    if folder.exists() and not folder.is_dir():
        raise DataError(f"cannot write the output: {folder} is a file, not a folder; choose another --out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DataError(f"cannot write the output in {folder}: {exc.strerror or exc}; choose another "
                        "--out, or fix the folder's permissions") from None


def work_dir(out: Path) -> Path:
    return out.with_name(f".{out.name}.framescope-run")
