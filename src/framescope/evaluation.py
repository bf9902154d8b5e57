"""Evaluate a framescope model on labelled data and build the ``metrics.json`` result.

The pipeline: load the artifact; read the data through :mod:`framescope.data` (optionally
keeping one ``split``); map data labels to model labels (``--labels-map``) and check that the
label sets agree; build evaluation *units* (each record at ``level="passage"``, each
``article_id`` at ``level="article"``); cut records longer than the model's window into passages
(:func:`framescope.data.split_article`); score the passages; aggregate passage scores to units
(``max`` or ``noisy-or``); decide with the model's thresholds; compute metrics, bootstrap
intervals over whole articles, calibration and curves; train and score the TF-IDF baseline on the
model's own training data; optionally score a second model and test the difference.

Everything goes into one JSON-ready dict (see :func:`evaluate`); the Markdown and HTML reports
are rendered from it by :mod:`framescope.reports.evaluation`.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from framescope import metrics as M
from framescope.data import (
    DataError,
    LoadedData,
    Passage,
    ReadOptions,
    Taxonomy,
    expand_inputs,
    fingerprint,
    label_matrix,
    load_passages,
    normalise_text,
    split_article,
    split_passages,
)

__all__ = [
    "RESULT_FORMAT",
    "EvalConfig",
    "Units",
    "aggregate",
    "apply_labels_map",
    "build_units",
    "check_label_sets",
    "evaluate",
    "load_labels_map",
    "write_outputs",
]

logger = logging.getLogger(__name__)

#: Version of the ``metrics.json`` layout.
RESULT_FORMAT = 1
Level = Literal["passage", "article"]
Aggregation = Literal["max", "noisy-or"]
AGGREGATIONS = ("max", "noisy-or")
#: Characters of passage text kept per listed error.
ERROR_TEXT_CHARS = 1200


@dataclass
class EvalConfig:
    """Settings of one evaluation run (the ``framescope evaluate`` flags).

    Attributes:
        model: the artifact folder.
        data: labelled inputs (files, folders, globs); empty = the test data recorded in the
            artifact (``data.test.paths``).
        read_options: format and column mapping of ``data``.
        split: keep only records whose ``split`` tag equals this (adapters tag train/dev).
        level: ``passage`` (each record is a unit) or ``article`` (records grouped by
            ``article_id``, gold labels = union, scores aggregated).
        aggregate: how passage scores become a unit score: ``max`` or ``noisy-or``
            (``1 - prod(1 - p)``).
        compare: a second artifact scored on the same units, with a paired bootstrap test.
        baseline: ``"tfidf"`` (required), ``"none"``, or ``None`` (TF-IDF when the model's
            training data can be read, otherwise skipped with a note).
        baseline_train, baseline_dev: override the training/dev data recorded in the artifact.
        labels_map: JSON/YAML file mapping data labels to model labels (``null`` drops one).
        n_boot, seed, ci_level: bootstrap settings.
        batch_size, precision: inference settings (precision ``auto`` picks the faster one).
        on_error, errors_path: bad-record policy (see ``framescope data``).
        top_errors: how many confident errors to list.
        command: the command line, recorded in the result.
    """

    model: Path = Path("models/default")
    data: list[str] = field(default_factory=list)
    read_options: ReadOptions = field(default_factory=lambda: ReadOptions(labels_required=True))
    split: str | None = None
    level: Level = "passage"
    aggregate: Aggregation = "max"
    compare: Path | None = None
    baseline: Literal["tfidf", "none"] | None = None
    baseline_train: list[str] = field(default_factory=list)
    baseline_dev: list[str] = field(default_factory=list)
    labels_map: Path | None = None
    n_boot: int = 1000
    seed: int = 0
    ci_level: float = 0.95
    batch_size: int = 64
    precision: str = "auto"
    on_error: Literal["stop", "skip"] = "stop"
    errors_path: Path | None = None
    top_errors: int = 20
    progress: bool = True
    command: list[str] | None = None

    def __post_init__(self) -> None:
        if self.level not in ("passage", "article"):
            raise ValueError(f"The 'level' parameter must be passage or article. Got {self.level!r} instead.")
        if self.aggregate not in AGGREGATIONS:
            raise ValueError(f"The 'aggregate' parameter must be max or noisy-or. Got {self.aggregate!r} instead.")
        if self.baseline not in (None, "tfidf", "none"):
            raise ValueError(f"The 'baseline' parameter must be tfidf or none. Got {self.baseline!r} instead.")
        if self.n_boot < 1:
            raise ValueError(f"The 'n_boot' parameter must be at least 1. Got {self.n_boot} instead.")
        self.model = Path(self.model)
        self.data = [str(d) for d in self.data]


# --------------------------------------------------------------------------- labels

def load_labels_map(path: str | Path) -> dict[str, str | None]:
    """Read a labels map: a JSON or YAML mapping ``{data_label: model_label | null}``.

    Raises:
        DataError: when the file is missing, does not parse or is not a flat mapping of strings.
    """
    path = Path(path)
    from framescope.data.io import read_json_or_yaml

    data = read_json_or_yaml(path, "labels map")
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping of data labels to model labels, e.g. "
                        f'{{"Economic": "economic_cost", "Other": null}}; got {type(data).__name__}')
    out: dict[str, str | None] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str)):
            raise DataError(f"{path}: entry {key!r}: {value!r}: expected a data label (string) "
                            "mapped to a model label (string) or null (drop the label)")
        out[key] = value
    return out


def apply_labels_map(passages: Sequence[Passage], mapping: dict[str, str | None],
                     model_labels: Sequence[str], *, where: str = "labels map") -> dict[str, Any]:
    """Rename data labels in place with ``mapping``; labels mapped to ``None`` are dropped.

    Labels not in the map are kept as they are. Returns counts for the report.

    Raises:
        DataError: when a target is not a model label (naming it and the model's labels).
    """
    known = set(model_labels)
    bad = sorted({v for v in mapping.values() if v is not None and v not in known})
    if bad:
        raise DataError(f"{where}: target label(s) {bad} are not model labels; the model's labels "
                        f"({len(model_labels)}) are: {', '.join(model_labels)}")
    renamed = dropped = 0
    for p in passages:
        if not p.labels:
            continue
        new: list[str] = []
        for lab in p.labels:
            if lab in mapping:
                target = mapping[lab]
                if target is None:
                    dropped += 1
                    continue
                renamed += lab != target
                lab = target
            if lab not in new:
                new.append(lab)
        p.labels = new
    return {"entries": len(mapping), "renamed": renamed, "dropped": dropped,
            "map": dict(mapping)}


def check_label_sets(data_labels: set[str], model_labels: Sequence[str], *, data_name: str,
                     model_name: str) -> list[str]:
    """Fail when the data uses labels the model does not know; return model labels the data lacks.

    Raises:
        DataError: listing both label sets, what differs and how to map them.
    """
    unknown = sorted(data_labels - set(model_labels))
    if unknown:
        raise DataError(
            f"label sets differ: {data_name} uses {len(unknown)} label(s) that model "
            f"{model_name!r} does not know: {unknown}\n"
            f"  model labels ({len(model_labels)}): {', '.join(model_labels)}\n"
            f"  data labels ({len(data_labels)}): {', '.join(sorted(data_labels))}\n"
            "Evaluate on data labelled with the model's taxonomy, or map data labels to model "
            "labels with --labels-map FILE (JSON/YAML, e.g. {\"Economic\": \"economic_cost\", "
            "\"Other\": null} where null drops a label).")
    return [lab for lab in model_labels if lab not in data_labels]


# --------------------------------------------------------------------------- units & aggregation

@dataclass
class Units:
    """Evaluation units and the passages ("pieces") that are scored for them.

    Attributes:
        ids: unit ids (record ids at passage level, article ids at article level).
        groups: resampling group of each unit (its article).
        y: gold multi-hot ``(n_units, n_labels)``.
        pieces: the passages the model scores (records, or parts of records longer than its
            window).
        piece_unit: index of the unit each piece belongs to.
        records: the records as read (what the TF-IDF baseline scores: it has no window).
        record_unit: index of the unit each record belongs to.
        segmented: how many records were cut into several pieces.
        titles: a display title per unit (may be ``None``).
    """

    ids: list[str]
    groups: list[str]
    y: np.ndarray
    pieces: list[Passage]
    piece_unit: np.ndarray
    segmented: int = 0
    titles: list[str | None] = field(default_factory=list)
    records: list[Passage] = field(default_factory=list)
    record_unit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)


def build_units(
    passages: Sequence[Passage],
    taxonomy: Taxonomy,
    *,
    level: Level = "passage",
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
    token_counts: Sequence[int] | None = None,
) -> Units:
    """Group records into units and cut records over ``max_tokens`` into passages.

    ``token_counts`` (one per record, e.g. from one batched tokenizer call) avoids counting
    twice; ``count_tokens`` is used inside :func:`split_article` for the long ones.
    """
    index: dict[str, int] = {}
    gold: list[set[str]] = []
    groups: list[str] = []
    titles: list[str | None] = []
    pieces: list[Passage] = []
    piece_unit: list[int] = []
    record_unit: list[int] = []
    segmented = 0
    for i, p in enumerate(passages):
        key = p.id if level == "passage" else p.group
        u = index.get(key)
        if u is None:
            u = index[key] = len(index)
            gold.append(set())
            groups.append(p.group)
            titles.append(p.title)
        gold[u].update(p.labels or [])
        record_unit.append(u)
        n_tok = token_counts[i] if token_counts is not None else None
        too_long = max_tokens is not None and (
            n_tok > max_tokens if n_tok is not None else
            (count_tokens(p.text) if count_tokens else len(p.text.split())) > max_tokens)
        if too_long:
            parts = split_article(p, max_tokens=max_tokens, count_tokens=count_tokens)
            segmented += len(parts) > 1
        else:
            parts = [p]
        pieces.extend(parts)
        piece_unit.extend([u] * len(parts))
    fake = [Passage(id=k, text="x", labels=sorted(g)) for k, g in zip(index, gold)]
    return Units(list(index), groups, label_matrix(fake, taxonomy).astype(bool), pieces,
                 np.asarray(piece_unit, dtype=np.int64), segmented, titles, list(passages),
                 np.asarray(record_unit, dtype=np.int64))


def aggregate(piece_probs: np.ndarray, piece_unit: np.ndarray, n_units: int,
              method: Aggregation = "max") -> np.ndarray:
    """Unit scores from piece scores: ``max`` or ``noisy-or`` (``1 - prod(1 - p)``).

    Example:
        >>> p = np.array([[0.5], [0.5], [0.2]])
        >>> aggregate(p, np.array([0, 0, 1]), 2, "noisy-or").round(6).ravel().tolist()
        [0.75, 0.2]
    """
    piece_probs = np.asarray(piece_probs, dtype=np.float64)
    n_labels = piece_probs.shape[1]
    if method == "max":
        out = np.full((n_units, n_labels), -np.inf)
        np.maximum.at(out, piece_unit, piece_probs)
        out[np.isinf(out)] = 0.0
        return out
    if method == "noisy-or":
        miss = np.ones((n_units, n_labels))
        np.multiply.at(miss, piece_unit, 1.0 - np.clip(piece_probs, 0.0, 1.0))
        return 1.0 - miss
    raise ValueError(f"The 'method' parameter must be max or noisy-or. Got {method!r} instead.")


def _best_piece(piece_probs: np.ndarray, piece_unit: np.ndarray, unit: int, col: int) -> int:
    idx = np.flatnonzero(piece_unit == unit)
    return int(idx[np.argmax(piece_probs[idx, col])])


# --------------------------------------------------------------------------- one system

@dataclass
class _System:
    name: str
    kind: str
    item_probs: np.ndarray  # scores of the scored items (model: pieces; baseline: records)
    probs: np.ndarray
    pred: np.ndarray
    thresholds: np.ndarray
    sources: list[str]
    info: dict[str, Any]
    items: list[Passage] = field(default_factory=list)
    item_unit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to ``None``."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if not np.isfinite(f) else f
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _system_block(sys_: _System, units: Units, labels: list[str], *, single_label: bool,
                  cfg: EvalConfig) -> dict[str, Any]:
    y = units.y
    block: dict[str, Any] = {
        "name": sys_.name, "kind": sys_.kind, **sys_.info,
        "per_label": M.per_label_metrics(y, sys_.probs, sys_.pred, labels, thresholds=sys_.thresholds,
                                         threshold_sources=sys_.sources),
        "overall": M.overall_metrics(y, sys_.pred, labels),
    }
    if single_label:
        block["overall"].update(M.single_label_metrics(y, sys_.probs, labels))
    ci = M.bootstrap_intervals(y, sys_.pred, labels, groups=units.groups, n_boot=cfg.n_boot,
                               seed=cfg.seed, level=cfg.ci_level)
    block["intervals"] = ci
    for lab in labels:
        block["per_label"][lab]["f1_ci"] = ci["per_label_f1"][lab]
    block["calibration"] = M.calibration(y, sys_.probs, single_label=single_label)
    for j, lab in enumerate(labels):
        cal = M.calibration(y[:, j:j + 1], sys_.probs[:, j:j + 1])
        block["per_label"][lab]["ece"] = cal["ece"]
    block["pr_curves"] = M.pr_curves(y, sys_.probs, labels)
    block["cooccurrence_predicted"] = M.cooccurrence(sys_.pred)
    errors = []
    for e in M.confident_errors(y, sys_.probs, sys_.pred, labels, k=cfg.top_errors,
                                single_label=single_label):
        u = e["row"]
        col = labels.index(e["label"])
        piece = sys_.items[_best_piece(sys_.item_probs, sys_.item_unit, u, col)]
        text = piece.text
        truncated = len(text) > ERROR_TEXT_CHARS
        errors.append({
            "id": units.ids[u], "article_id": units.groups[u], "title": units.titles[u],
            "label": e["label"], "kind": e["kind"], "score": e["score"],
            "threshold": float(sys_.thresholds[col]), "confidence": e["confidence"],
            "gold": [lab for lab, on in zip(labels, y[u]) if on],
            "predicted": [lab for lab, on in zip(labels, sys_.pred[u]) if on],
            "passage_id": piece.id,
            "text": text[:ERROR_TEXT_CHARS] + ("…" if truncated else ""),
            **({"gold_label": e["gold_label"]} if "gold_label" in e else {}),
        })
    block["errors"] = errors
    return block


# --------------------------------------------------------------------------- data helpers

def _read(paths: Sequence[str], options: ReadOptions, cfg: EvalConfig, *, what: str,
          split: str | None = None) -> LoadedData:
    data = load_passages(list(paths), options, taxonomy=None, on_error=cfg.on_error,
                         errors_path=cfg.errors_path)
    if split is not None:
        kept = [p for p in data.passages if p.split == split]
        if not kept:
            found = sorted({str(p.split) for p in data.passages})
            raise DataError(f"{what}: no records with split {split!r} in {', '.join(paths)}; "
                            f"splits found: {found}")
        data.passages = kept
    unlabelled = [p.id for p in data.passages if p.labels is None]
    if unlabelled:
        raise DataError(f"{what}: {len(unlabelled)} record(s) have no 'labels' field (e.g. "
                        f"{unlabelled[:3]}); evaluation needs labelled data ([] means 'no label')")
    return data


def _options_from_meta(section: dict[str, Any], fallback: ReadOptions) -> ReadOptions:
    raw = section.get("read_options") or section.get("options") or {}
    if not isinstance(raw, dict):
        raw = {}
    fields = ("format", "text_column", "labels_column", "id_column", "labels_sep")
    kwargs = {k: raw[k] for k in fields if isinstance(raw.get(k), str)}
    if "format" not in kwargs and isinstance(section.get("format"), str):
        kwargs["format"] = section["format"]
    return ReadOptions(**kwargs, labels_required=True) if kwargs else fallback


def _resolve_paths(paths: Sequence[str], artifact_path: Path | None) -> list[str]:
    """Recorded paths made readable here, as training resolves them (project root first)."""
    from framescope.training import resolve_recorded_path

    return [resolve_recorded_path(p, artifact_path) for p in paths]


def _recorded(meta: dict[str, Any], split: str) -> tuple[list[str], dict[str, Any]]:
    section = (meta.get("data") or {}).get(split) or {}
    if not isinstance(section, dict):
        return [], {}
    paths = section.get("paths") or []
    if isinstance(paths, str):
        paths = [paths]
    return [str(p) for p in paths], section


# --------------------------------------------------------------------------- baseline

def _train_baseline(art: Any, cfg: EvalConfig, labels: list[str], notes: list[str],
                    eval_passages: Sequence[Passage] = ()) -> tuple[Any, dict[str, Any]]:
    """Fit the TF-IDF baseline on the model's training data; returns (baseline, info).

    The data comes from the artifact through :func:`framescope.training.load_recorded_data`
    (the loader training itself uses, so a dev split carved at training time is carved again
    identically), or from ``--baseline-train``/``--baseline-dev``.
    """
    from framescope.baseline import TfidfBaseline

    meta = art.meta
    tax = art.taxonomy
    fallback = ReadOptions(labels_required=True)
    hint = "pass --baseline-train PATH [--baseline-dev PATH] or --baseline none"
    dev_passages: list[Passage] | None = None
    info: dict[str, Any] = {"dev": None}
    if cfg.baseline_train:
        missing = [str(p) for p in expand_inputs(cfg.baseline_train) if not p.exists()]
        if missing:
            raise DataError(f"--baseline-train: not found: {missing}")
        train = _read(cfg.baseline_train, fallback, cfg, what="baseline training data")
        train_passages = train.passages
        info["train"] = {"paths": list(cfg.baseline_train), "source": "command line",
                         "passages": len(train_passages), "fingerprint": train.fingerprint}
        if cfg.baseline_dev:
            dev = _read(cfg.baseline_dev, fallback, cfg, what="baseline dev data")
            dev_passages = dev.passages
            info["dev"] = {"paths": list(cfg.baseline_dev), "passages": len(dev_passages),
                           "fingerprint": dev.fingerprint, "carved": None}
    else:
        from framescope.training import load_recorded_data

        train_paths, _ = _recorded(meta, "train")
        if not train_paths:
            raise DataError(f"model {art.name!r} records no training data paths (framescope.json "
                            f"data.train.paths); {hint}")
        try:
            train_passages = load_recorded_data(meta, artifact_path=art.path, which="train")
        except DataError as exc:
            raise DataError(f"cannot train the baseline on the model's training data: {exc}; {hint}") from exc
        info["train"] = {"paths": train_paths, "source": "artifact", "passages": len(train_passages),
                         "fingerprint": fingerprint(train_passages)}
        dev_paths, dev_sec = _recorded(meta, "dev")
        carved = dev_sec.get("carved_from") == "train"
        if cfg.baseline_dev:
            dev = _read(cfg.baseline_dev, fallback, cfg, what="baseline dev data")
            dev_passages = dev.passages
            info["dev"] = {"paths": list(cfg.baseline_dev), "passages": len(dev_passages),
                           "fingerprint": dev.fingerprint, "carved": None}
        elif dev_paths or carved:
            try:
                dev_passages = load_recorded_data(meta, artifact_path=art.path, which="dev")
            except DataError as exc:
                raise DataError(f"cannot read the model's dev data for the baseline: {exc}; {hint}") from exc
            info["dev"] = {"paths": [] if carved else dev_paths, "passages": len(dev_passages),
                           "fingerprint": fingerprint(dev_passages),
                           "carved": (f"carved from the training data as at training time "
                                      f"({dev_sec.get('ratio')} grouped by {dev_sec.get('group_by')}, "
                                      f"seed {dev_sec.get('seed')})") if carved else None}
    if dev_passages is None and not art.single_label and len({p.group for p in train_passages}) >= 5:
        parts = split_passages(train_passages, ratios={"train": 0.9, "dev": 0.1},
                               group_by="article_id", seed=13)
        train_passages, dev_passages = parts["train"], parts["dev"]
        info["dev"] = {"paths": [], "passages": len(dev_passages),
                       "fingerprint": fingerprint(dev_passages),
                       "carved": "10% of the training data, grouped by article_id, seed 13 (no dev "
                                 "data recorded or given)"}
        notes.append("No dev data was recorded or given, so the baseline's thresholds were tuned on "
                     "a 10% grouped split carved from its training data.")
    seen = {normalise_text(p.text) for p in train_passages}
    seen.update(normalise_text(p.text) for p in dev_passages or [])
    overlap = sum(normalise_text(p.text) in seen for p in eval_passages)
    info["overlap_with_evaluation_data"] = overlap
    if overlap:
        notes.append(f"{overlap} of {len(eval_passages)} evaluation records have the same text as a "
                     "record of the training or dev data: scores on them may be optimistic.")
    y_train = label_matrix(train_passages, tax)
    y_dev = label_matrix(dev_passages, tax) if dev_passages is not None else None
    outside = sorted({lab for p in train_passages for lab in (p.labels or []) if lab not in tax})
    if outside:
        notes.append(f"The baseline's training data has labels outside the model's taxonomy, "
                     f"ignored: {outside}")
    t0 = time.perf_counter()
    base = TfidfBaseline(labels, single_label=art.single_label, seed=cfg.seed)
    base.fit([p.text for p in train_passages], y_train,
             [p.text for p in dev_passages] if dev_passages is not None else None, y_dev)
    info["train"]["units"] = len(train_passages)
    info["fit_seconds"] = round(time.perf_counter() - t0, 2)
    info.update(base.describe())
    return base, info


# --------------------------------------------------------------------------- main entry

def _versions() -> dict[str, str]:
    import sklearn

    from framescope.modeling import versions

    out = versions()
    out.update(numpy=np.__version__, scikit_learn=sklearn.__version__,
               python=platform.python_version())
    return out


def _model_info(art: Any) -> dict[str, Any]:
    meta = art.meta
    return {
        "name": art.name, "path": str(art.path) if art.path else None,
        "fingerprint": art.fingerprint, "base_model": meta.get("base_model"),
        "problem_type": meta.get("problem_type", "multi_label"), "max_length": art.max_length,
        "taxonomy": art.taxonomy.id, "labels": art.taxonomy.ids,
        "training_data": {k: {kk: v.get(kk) for kk in ("paths", "fingerprint", "passages")}
                          for k, v in (meta.get("data") or {}).items() if isinstance(v, dict)},
    }


def _precision_used(requested: str) -> str:
    from framescope.modeling import autocast_dtype

    dtype = autocast_dtype(requested)
    return "fp32" if dtype is None else "bf16"


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    """Run an evaluation and return the JSON-ready result (what ``metrics.json`` holds).

    Keys: ``format_version``, ``created``, ``command``, ``versions``, ``settings``, ``model``,
    ``data``, ``labels``, ``gold`` (label counts, co-occurrence), ``systems`` (``model``,
    ``baseline``, ``compare`` blocks with ``per_label``, ``overall``, ``intervals``,
    ``calibration``, ``pr_curves``, ``cooccurrence_predicted``, ``errors``), ``comparisons``
    (paired bootstrap tests), ``baseline_skipped`` and ``notes``.

    Raises:
        DataError: unreadable data, label-set mismatch, a missing model, or a required baseline
            whose training data cannot be read.
    """
    from framescope.modeling import load_artifact

    t_start = time.perf_counter()
    notes: list[str] = []
    art = load_artifact(cfg.model)
    labels = art.taxonomy.ids
    single = art.single_label

    data_paths = list(cfg.data)
    options = cfg.read_options
    split = cfg.split
    if not data_paths:
        data_paths, test_sec = _recorded(art.meta, "test")
        if not data_paths:
            raise DataError(f"no --data given and model {art.name!r} records no test data "
                            "(framescope.json data.test.paths); pass --data PATH")
        data_paths = _resolve_paths(data_paths, art.path)
        options = _options_from_meta(test_sec, options)
        notes.append(f"Data: the test set recorded in the model ({', '.join(data_paths)}).")
    data = _read(data_paths, options, cfg, what="evaluation data", split=split)
    data_fp = data.fingerprint
    passages = data.passages
    split_tags = sorted({p.split for p in passages if p.split})
    if len(split_tags) > 1:
        notes.append(f"The data mixes records of the splits {', '.join(split_tags)}; pass --split NAME "
                     "to evaluate on one of them.")

    map_info = None
    if cfg.labels_map is not None:
        mapping = load_labels_map(cfg.labels_map)
        map_info = apply_labels_map(passages, mapping, labels, where=str(cfg.labels_map))
        map_info["path"] = str(cfg.labels_map)
    data_labels = {lab for p in passages for lab in (p.labels or [])}
    absent = check_label_sets(data_labels, labels, data_name=f"the data ({', '.join(data_paths)})",
                              model_name=art.name)
    if absent:
        notes.append(f"{len(absent)} model label(s) never occur in this data ({', '.join(absent)}): "
                     "their recall, ROC-AUC and average precision are undefined and reported as null.")

    tok = art.tokenizer
    budget = max(8, art.max_length - 2)

    def count_tokens(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    counts = [len(ids) for ids in tok([p.text for p in passages], add_special_tokens=False)["input_ids"]]
    units = build_units(passages, art.taxonomy, level=cfg.level, max_tokens=budget,
                        count_tokens=count_tokens, token_counts=counts)
    if units.segmented:
        notes.append(f"{units.segmented} record(s) were longer than the model's window "
                     f"({art.max_length} tokens) and were cut into passages whose scores were "
                     f"aggregated with {cfg.aggregate}.")
    has_articles = any(p.article_id for p in passages)
    if single:
        bad = np.flatnonzero(units.y.sum(1) != 1)
        if len(bad):
            raise DataError(f"model {art.name!r} is single-label but {len(bad)} evaluation unit(s) "
                            f"have none or several gold labels (e.g. {[units.ids[i] for i in bad[:5]]}); "
                            "evaluate single-label models at --level passage on one-label data")

    other = None
    if cfg.compare is not None:  # checked before any scoring, so a mismatch fails fast
        other = load_artifact(cfg.compare)
        if set(other.taxonomy.ids) != set(labels):
            raise DataError(
                f"--compare: models {art.name!r} and {other.name!r} have different label sets\n"
                f"  {art.name} ({len(labels)}): {', '.join(labels)}\n"
                f"  {other.name} ({len(other.taxonomy)}): {', '.join(other.taxonomy.ids)}\n"
                "Only models with the same labels can be compared on the same data.")
        if other.single_label != single:
            raise DataError(f"--compare: {art.name!r} and {other.name!r} differ in problem type "
                            "(single-label vs multi-label)")

    baseline = None
    baseline_info: dict[str, Any] = {}
    baseline_skipped = None
    if cfg.baseline != "none":
        try:
            baseline, baseline_info = _train_baseline(art, cfg, labels, notes, passages)
        except DataError as exc:
            if cfg.baseline == "tfidf":
                raise
            baseline_skipped = str(exc)
            notes.append(f"TF-IDF baseline skipped: {exc}")
            logger.warning("TF-IDF baseline skipped: %s", exc)
    else:
        baseline_skipped = "not requested (--baseline none)"

    texts = [p.text for p in units.pieces]
    precision_used = _precision_used(cfg.precision)
    t0 = time.perf_counter()
    piece_probs = art.predict_proba(texts, batch_size=cfg.batch_size, precision=cfg.precision,
                                    progress=cfg.progress)
    score_seconds = time.perf_counter() - t0
    thresholds = art.threshold_vector().astype(np.float64)
    sources_map = art.meta.get("threshold_source") or {}
    sources = [str(sources_map.get(lab, "recorded" if lab in art.thresholds else "default 0.5"))
               for lab in labels]
    probs = aggregate(piece_probs, units.piece_unit, len(units), cfg.aggregate)
    systems: dict[str, _System] = {
        "model": _System(art.name, "model", piece_probs, probs, art.decide(probs), thresholds, sources,
                         {"model": _model_info(art), "score_seconds": round(score_seconds, 2),
                          "precision": {"requested": cfg.precision, "used": precision_used},
                          "passages_per_second": round(len(texts) / max(score_seconds, 1e-9), 1)},
                         units.pieces, units.piece_unit)}

    if baseline is not None:
        # TF-IDF has no window: it scores whole records, as it was trained on them
        bp = baseline.predict_proba([p.text for p in units.records])
        bprobs = aggregate(bp, units.record_unit, len(units), cfg.aggregate)
        systems["baseline"] = _System("TF-IDF + logistic regression", "baseline", bp, bprobs,
                                      baseline.decide(bprobs), baseline.thresholds_.astype(np.float64),
                                      list(baseline.threshold_sources_), {"baseline": baseline_info},
                                      units.records, units.record_unit)

    if other is not None:
        order = [other.taxonomy.index[lab] for lab in labels]
        t0 = time.perf_counter()
        op = other.predict_proba(texts, batch_size=cfg.batch_size, precision=cfg.precision,
                                 progress=cfg.progress)[:, order]
        secs = time.perf_counter() - t0
        oprobs = aggregate(op, units.piece_unit, len(units), cfg.aggregate)
        othr = other.threshold_vector().astype(np.float64)[order]
        osrc_map = other.meta.get("threshold_source") or {}
        osrc = [str(osrc_map.get(lab, "recorded")) for lab in labels]
        if single:
            opred = np.zeros_like(oprobs, dtype=bool)
            if len(oprobs):
                opred[np.arange(len(oprobs)), oprobs.argmax(1)] = True
        else:
            opred = oprobs >= othr
        systems["compare"] = _System(other.name, "compare", op, oprobs, opred, othr, osrc,
                                     {"model": _model_info(other), "score_seconds": round(secs, 2)},
                                     units.pieces, units.piece_unit)

    blocks = {key: _system_block(s, units, labels, single_label=single, cfg=cfg)
              for key, s in systems.items()}
    comparisons = []
    for key in ("compare", "baseline"):
        if key not in systems:
            continue
        for metric in ("macro_f1", "micro_f1"):
            test = M.paired_bootstrap(units.y, systems["model"].pred, systems[key].pred,
                                      groups=units.groups, metric=metric, n_boot=cfg.n_boot,
                                      seed=cfg.seed, level=cfg.ci_level)
            comparisons.append({"a": "model", "b": key, "a_name": systems["model"].name,
                                "b_name": systems[key].name, **test})

    y = units.y
    result: dict[str, Any] = {
        "format_version": RESULT_FORMAT,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": cfg.command if cfg.command is not None else list(sys.argv),
        "versions": _versions(),
        "settings": {
            "level": cfg.level, "aggregate": cfg.aggregate, "split": split,
            "bootstrap": {"n_boot": cfg.n_boot, "seed": cfg.seed, "level": cfg.ci_level,
                          "method": "percentile bootstrap over whole groups",
                          "resample_unit": "article" if (has_articles or cfg.level == "article")
                          else "passage", "groups": len(set(units.groups))},
            "calibration_bins": 10, "batch_size": cfg.batch_size,
            "precision": {"requested": cfg.precision, "used": precision_used},
            "top_errors": cfg.top_errors,
        },
        "model": _model_info(art),
        "data": {
            "paths": data_paths, "format": options.format, "fingerprint": data_fp,
            "read": {"read": data.stats.read, "accepted": data.stats.accepted,
                     "rejected": data.stats.rejected, "excluded": data.stats.excluded},
            "records": len(passages), "units": len(units), "pieces": len(units.pieces),
            "segmented_records": units.segmented, "groups": len(set(units.groups)),
            "labels_map": map_info, "labels_absent": absent,
        },
        "labels": labels,
        "label_names": {lab.id: lab.name for lab in art.taxonomy.labels},
        "single_label": single,
        "gold": {"support": {lab: int(n) for lab, n in zip(labels, y.sum(0))},
                 "cooccurrence": M.cooccurrence(y),
                 "units_without_labels": int((y.sum(1) == 0).sum())},
        "systems": blocks,
        "comparisons": comparisons,
        "baseline_skipped": baseline_skipped,
        "notes": notes,
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    return _clean(result)


def write_outputs(result: dict[str, Any], out: str | Path, *, reports: bool = True) -> dict[str, Path]:
    """Write ``metrics.json`` first, then ``report.md`` and ``report.html`` rendered from it.

    Returns the written paths by name. All writes are atomic.
    """
    from framescope.data.io import atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "metrics.json"}
    atomic_write_text(paths["metrics"], json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    if reports:
        from framescope.reports.evaluation import render_reports

        paths.update(render_reports(result, out))
    return paths
