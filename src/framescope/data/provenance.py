"""Data provenance: how a model records the data it was trained on, and reading it back.

A trained model's ``framescope.json`` records, for each role (``train``, ``dev``, ``test``,
``replay``), the paths, read options, fingerprint and counts of its data (:func:`source_record`).
Paths are stored portably (:func:`portable_path`): the bundled data as ``bundled:seed/train.jsonl``
(valid wherever framescope is installed), paths under the current folder relative to it, others
absolute. :func:`load_recorded` reads a role back, carving a recorded dev split again exactly as
training did, and refuses data whose fingerprint changed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from framescope.data.dataset import LoadedData, expand_inputs, load_passages
from framescope.data.errors import DataError
from framescope.data.records import ReadOptions
from framescope.data.resources import bundled_dir
from framescope.data.schema import Passage
from framescope.data.splits import split_passages

__all__ = [
    "BUNDLED_PREFIX",
    "READ_FIELDS",
    "carve_dev",
    "load_recorded",
    "options_from_record",
    "portable_path",
    "recorded_paths",
    "resolve_recorded_path",
    "source_record",
]

#: Prefix of recorded paths that point into the bundled data.
BUNDLED_PREFIX = "bundled:"
#: The read options recorded with every data source.
READ_FIELDS = ("format", "text_column", "labels_column", "id_column", "labels_sep", "delimiter")


def portable_path(path: str | Path) -> str:
    """A path as an artifact records it: ``bundled:REL`` inside the bundled data, relative to
    the current folder when inside it, absolute otherwise (globs kept as given).

    Example:
        >>> from framescope.data.resources import bundled
        >>> portable_path(bundled("seed", "train.jsonl"))
        'bundled:seed/train.jsonl'
    """
    p = Path(str(path))
    if not p.is_absolute():
        p = Path.cwd() / p
    p = Path(os.path.normpath(p))
    for base, prefix in ((bundled_dir().resolve(), BUNDLED_PREFIX), (Path.cwd(), "")):
        try:
            return prefix + p.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(p)


def resolve_recorded_path(path: str, artifact_path: str | Path | None = None) -> str:
    """Where a recorded path is readable here: ``bundled:`` paths in the bundled data, absolute
    ones as they are, relative ones against the current folder, then the folder holding the
    model's ``models/`` folder, then the bundled data's parent (the checkout)."""
    if path.startswith(BUNDLED_PREFIX):
        return str(bundled_dir() / path[len(BUNDLED_PREFIX):])
    p = Path(path)
    if p.is_absolute():
        return str(p)
    bases = [Path.cwd()]
    if artifact_path is not None:
        bases.append(Path(artifact_path).resolve().parent.parent)
    bases.append(bundled_dir().parent)
    for base in bases:
        if expand_inputs([str(base / p)])[0].exists():
            return str(base / p)
    return str(p)


def source_record(paths: Sequence[str], options: ReadOptions, data: LoadedData) -> dict[str, Any]:
    """What an artifact records about one data source."""
    return {
        "paths": [portable_path(p) for p in paths],
        "read_options": {k: getattr(options, k) for k in READ_FIELDS},
        "fingerprint": data.fingerprint,
        "passages": len(data.passages),
        "read": {"read": data.stats.read, "accepted": data.stats.accepted,
                 "rejected": data.stats.rejected},
    }


def options_from_record(section: dict[str, Any], fallback: ReadOptions | None = None) -> ReadOptions:
    """The :class:`ReadOptions` recorded with a data source (labels required)."""
    raw = section.get("read_options") or section.get("options") or {}
    kwargs = {k: raw[k] for k in READ_FIELDS if isinstance(raw, dict) and isinstance(raw.get(k), str)}
    if "format" not in kwargs and isinstance(section.get("format"), str):
        kwargs["format"] = section["format"]
    if not kwargs and fallback is not None:
        return fallback
    return ReadOptions(**kwargs, labels_required=True)


def recorded_paths(meta: dict[str, Any], role: str) -> tuple[list[str], dict[str, Any]]:
    """The paths a model recorded for ``role`` (as recorded) and the role's whole record."""
    section = (meta.get("data") or {}).get(role) or {}
    if not isinstance(section, dict):
        return [], {}
    paths = section.get("paths") or []
    if isinstance(paths, str):
        paths = [paths]
    return [str(p) for p in paths], section


def carve_dev(passages: list[Passage], *, ratio: float, group_by: str,
              seed: int) -> tuple[list[Passage], list[Passage], dict[str, Any]]:
    """Carve a grouped, stratified dev split from training passages.

    Returns ``(train, dev, record)``; the record holds what :func:`load_recorded` needs to carve
    the same split again.

    Raises:
        DataError: when the groups leave train or dev empty.
    """
    try:
        parts = split_passages(passages, ratios={"train": 1 - ratio, "dev": ratio},
                               group_by=group_by, seed=seed)
    except ValueError as exc:
        raise DataError(f"cannot carve a dev split from the training data: {exc}. Pass --dev "
                        "PATH, or a --group-by with more groups.") from exc
    if not parts["dev"] or not parts["train"]:
        raise DataError(f"cannot carve a dev split: the groups by {group_by!r} leave an "
                        "empty part; pass --dev PATH")
    info = {"carved_from": "train", "ratio": ratio, "group_by": group_by, "seed": seed,
            "method": "framescope.data.split_passages (grouped, stratified)"}
    return parts["train"], parts["dev"], info


def load_recorded(meta: dict[str, Any], *, artifact_path: str | Path | None = None,
                  which: str = "train") -> list[Passage]:
    """Re-read the data a model recorded in ``framescope.json``.

    ``which="train"`` gives exactly the passages the model trained on (a dev split carved at
    training time is carved again from the same files with the same settings); ``"dev"`` the dev
    passages; ``"test"`` the recorded test data.

    Raises:
        DataError: when the files are not readable here or no longer match the recorded
            fingerprint.
    """
    if which not in ("train", "dev", "test"):
        raise ValueError(f"The 'which' parameter must be train, dev or test. Got {which!r} instead.")
    data = meta.get("data") or {}
    dev = data.get("dev") or {}
    carved = dev.get("carved_from") == "train"
    role = "train" if which == "train" or (which == "dev" and carved) else which
    recorded, section = recorded_paths(meta, role)
    paths = [resolve_recorded_path(p, artifact_path) for p in recorded]
    if not paths:
        raise DataError(f"the model records no {which} data paths (framescope.json data.{role})")
    missing = [str(p) for p in expand_inputs(paths) if not p.exists()]
    if missing:
        raise DataError(f"the model's recorded {which} data is not readable here: "
                        f"{', '.join(missing)}")
    loaded = load_passages(paths, options_from_record(section), taxonomy=None, on_error="skip")
    fp = section.get("fingerprint")
    if fp and fp != loaded.fingerprint:
        raise DataError(f"the recorded {which} data {', '.join(paths)} changed since training "
                        f"(fingerprint {loaded.fingerprint}, recorded {fp})")
    passages = loaded.passages
    if carved and which in ("train", "dev"):
        train, dev_part, _ = carve_dev(passages, ratio=float(dev["ratio"]),
                                       group_by=str(dev.get("group_by", "article_id")),
                                       seed=int(dev.get("seed", 13)))
        passages = train if which == "train" else dev_part
    return passages
