"""Training data: reading each role, the seed-data defaults, the label set of a run, and the
old data replayed when a model is trained further on new labels.

All reading goes through :mod:`framescope.data`; what is recorded in the artifact comes from
:mod:`framescope.data.provenance`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope.data.dataset import LoadedData, expand_inputs, load_passages
from framescope.data.errors import DataError
from framescope.data.fingerprint import fingerprint, normalise_text
from framescope.data.provenance import (
    carve_dev,
    load_recorded,
    options_from_record,
    resolve_recorded_path,
    source_record,
)
from framescope.data.records import ReadOptions
from framescope.data.resources import bundled
from framescope.data.schema import Passage
from framescope.data.taxonomy import Label, Taxonomy, load_taxonomy
from framescope.modeling import Artifact
from framescope.training.config import TrainConfig

__all__ = [
    "Source",
    "default_paths",
    "grown_taxonomy",
    "overlap_key",
    "read_role",
    "replay_sources",
    "resolve_taxonomy",
]

logger = logging.getLogger(__name__)


def overlap_key(p: Passage) -> str:
    """The form in which two passages count as the same text (leak checks, replay overlap)."""
    return normalise_text(p.text)


@dataclass
class Source:
    """Passages of one role with their provenance record and the labels they are annotated for."""

    passages: list[Passage]
    record: dict[str, Any]
    annotated: list[str] | None = None  # label ids annotated (None = all)


def read_role(paths: Sequence[str], cfg: TrainConfig, taxonomy: Taxonomy | str | None, *,
              what: str, options: ReadOptions | None = None) -> LoadedData:
    """Read the data of one role (train, dev, test, replay) with the run's error policy; rejected
    records go to ``OUT.ROLE.errors.jsonl`` beside the model (or ``--errors``)."""
    missing = [str(p) for p in expand_inputs(paths) if not p.exists()]
    if missing:
        raise DataError(f"{what}: not found: {', '.join(missing)}")
    errors = Path(cfg.errors) if cfg.errors else Path(cfg.out).parent / f"{Path(cfg.out).name}.{what}.errors.jsonl"
    data = load_passages(list(paths), options or cfg.read_options(), taxonomy=taxonomy,  # type: ignore[arg-type]
                         on_error=cfg.on_error, errors_path=errors)  # type: ignore[arg-type]
    if data.stats.rejected:
        logger.warning("%s: %s; rejected records written to %s", what, data.stats.summary(), errors)
    return data


def replay_sources(old: Artifact, cfg: TrainConfig, new_keys: set[str]) -> list[Source]:
    """Old-label data for continued training: explicit --replay files or the old model's data."""
    out: list[Source] = []
    if cfg.no_replay:
        return out
    old_ids = old.taxonomy.ids
    if cfg.replay:
        options = cfg.read_options()
        data = read_role(cfg.replay, cfg, old.taxonomy, what="replay", options=options)
        record = source_record(cfg.replay, options, data) | {"source": "--replay", "labels": old_ids}
        out.append(Source(data.passages, record, old_ids))
    else:
        meta = old.meta
        try:
            passages = load_recorded(meta, artifact_path=old.path, which="train")
        except DataError as exc:
            raise DataError(f"cannot replay the old model's training data: {exc}. Pass --replay "
                            "PATH with old-label data, or --no-replay.") from exc
        train_sec = (meta.get("data") or {}).get("train") or {}
        labels = list(train_sec.get("labels") or old_ids)
        record = {"source": f"{old.path}: data.train", "paths": train_sec.get("paths"),
                  "read_options": train_sec.get("read_options"), "labels": labels,
                  "fingerprint": fingerprint(passages), "passages": len(passages),
                  "recorded_fingerprint": train_sec.get("fingerprint"),
                  "carved_dev": train_sec.get("carved_dev")}
        out.append(Source(passages, record, labels))
        for i, older in enumerate((meta.get("data") or {}).get("replay") or []):
            paths = [resolve_recorded_path(p, old.path) for p in older.get("paths") or []]
            if not paths or any(not p.exists() for p in expand_inputs(paths)):
                logger.warning("replay source %d of %s (%s) is not readable here; skipped", i,
                               old.path, older.get("paths"))
                continue
            loaded = load_passages(paths, options_from_record(older), taxonomy=None, on_error="skip")
            if older.get("carved_dev"):
                cd = older["carved_dev"]
                loaded.passages = carve_dev(loaded.passages, ratio=cd["ratio"], group_by=cd["group_by"],
                                            seed=cd["seed"])[0]
            rec = dict(older) | {"fingerprint": fingerprint(loaded.passages),
                                 "passages": len(loaded.passages)}
            out.append(Source(loaded.passages, rec, list(older.get("labels") or old_ids)))
    for src in out:
        unknown = sorted({lab for p in src.passages for lab in p.labels or []} - set(old_ids))
        if unknown:
            src.passages = [Passage(**{**dataclasses.asdict(p), "labels": [
                lab for lab in p.labels or [] if lab in old_ids]}) for p in src.passages]
            logger.warning("replay data carries labels the old model lacks (%s); ignored", unknown)
        before = len(src.passages)
        src.passages = [p for p in src.passages if overlap_key(p) not in new_keys]
        src.record["dropped_overlap"] = before - len(src.passages)
        src.record["used"] = len(src.passages)
    return out


def resolve_taxonomy(cfg: TrainConfig, old: Artifact | None, *, seed_data: bool = False) -> Taxonomy | str | None:
    """The taxonomy to read the training data with (``"infer"`` or ``None`` = decided later);
    the default taxonomy for the bundled seed data, inferred from the data otherwise."""
    if old is not None:
        return None if cfg.taxonomy in (None, "infer") else load_taxonomy(cfg.taxonomy)
    if cfg.taxonomy is None:
        return load_taxonomy("default") if seed_data else "infer"
    if cfg.taxonomy == "infer":
        return "infer"
    return load_taxonomy(cfg.taxonomy)  # a file, or a bundled name such as 'default'


def grown_taxonomy(old: Taxonomy, given: Taxonomy | None, passages: Sequence[Passage]) -> Taxonomy:
    """Old labels first (same order), then new ones from ``given`` or (sorted) from the data."""
    labels = [Label(**dataclasses.asdict(lab)) for lab in old.labels]
    known = set(old.ids)
    if given is not None:
        new = [lab for lab in given.labels if lab.id not in known]
        labels.extend(Label(**dataclasses.asdict(lab)) for lab in new)
        seen = set(given.ids) | known
        outside = sorted({lab for p in passages for lab in p.labels or []} - seen)
        if outside:
            raise DataError(f"training data labels {outside} are neither in the old model "
                            f"({old.ids}) nor in the given taxonomy; add them to the taxonomy file")
    else:
        new_ids = sorted({lab for p in passages for lab in p.labels or []} - known)
        labels.extend(Label(id=x) for x in new_ids)
    return Taxonomy(labels, id=old.id if given is None else given.id,
                    name=old.name if given is None else (given.name or old.name),
                    description=old.description if given is None else (given.description or old.description),
                    source=old.source)


def default_paths(cfg: TrainConfig) -> TrainConfig:
    """With no data arguments: the bundled seed data's train, dev and test files."""
    if not cfg.uses_seed_data:
        return cfg
    seed_dir = bundled("seed")
    train = seed_dir / "train.jsonl"
    if not train.exists():
        raise DataError(f"the bundled seed data {train} is missing; pass --train PATH "
                        "(and --dev/--test), or restore data/seed/")
    dev = [str(seed_dir / "dev.jsonl")] if (seed_dir / "dev.jsonl").exists() else []
    test = [str(seed_dir / "test.jsonl")] if (seed_dir / "test.jsonl").exists() else []
    return dataclasses.replace(cfg, train=[str(train)], dev=cfg.dev or dev, test=cfg.test or test)
