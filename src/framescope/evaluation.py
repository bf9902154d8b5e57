"""Evaluate a framescope model on labelled data and build the ``metrics.json`` result.

The pipeline: load the artifact; read the data through :mod:`framescope.data` (optionally
keeping one ``split``); map data labels to model labels (``--labels-map``) and check that the
label sets agree; build evaluation *units* (each record at ``level="passage"``, each
``article_id`` at ``level="article"``); score them through the one passage path of
:mod:`framescope.inference` (records longer than the model's window are cut into passages, the
pieces' scores are combined with the model's rule or ``--aggregate``, decisions use the model's
thresholds); compute metrics, bootstrap intervals over whole articles, calibration and curves;
run the baselines (TF-IDF trained on the model's own training data, cue-word matching from the
taxonomy); optionally score a second model and test the differences.

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
from framescope.data.dataset import load_labelled
from framescope.data.errors import DataError
from framescope.data.labels_map import apply_labels_map, load_labels_map
from framescope.data.passages import approx_tokens
from framescope.data.provenance import options_from_record, recorded_paths, resolve_recorded_path
from framescope.data.records import ReadOptions
from framescope.data.schema import Passage
from framescope.data.taxonomy import Taxonomy, label_matrix
from framescope.inference import (
    COMBINE_RULES,
    combine,
    cut_records,
    decide,
    passage_budget,
    predict_proba,
    record_scores,
    token_counter,
)
from framescope.modeling import Artifact, load_artifact, versions

__all__ = [
    "BASELINES",
    "RESULT_FORMAT",
    "EvalConfig",
    "Units",
    "build_units",
    "check_label_sets",
    "evaluate",
    "write_outputs",
]

logger = logging.getLogger(__name__)

#: Version of the ``metrics.json`` layout.
RESULT_FORMAT = 1
Level = Literal["passage", "article"]
#: Baselines ``--baseline`` accepts (``none`` runs neither).
BASELINES = ("tfidf", "cues")
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
            ``article_id``, gold labels = union, scores combined).
        aggregate: how passage scores become a unit score: ``max``, ``noisy-or``
            (``1 - prod(1 - p)``) or ``mean``; ``None`` = the model's rule (max for multi-label
            models, mean for single-label ones; see :mod:`framescope.inference`).
        compare: a second artifact scored on the same units, with a paired bootstrap test.
        baseline: ``None`` (both baselines when they can run, skipped with a note otherwise),
            ``"none"``, or the baselines required: ``"tfidf"``, ``"cues"`` or a list of them.
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
    aggregate: str | None = None
    compare: Path | None = None
    baseline: str | Sequence[str] | None = None
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
        if self.aggregate is not None and self.aggregate not in COMBINE_RULES:
            raise ValueError(f"The 'aggregate' parameter must be one of {', '.join(COMBINE_RULES)}. "
                             f"Got {self.aggregate!r} instead.")
        given = [self.baseline] if isinstance(self.baseline, str) else list(self.baseline or [])
        if any(b not in (*BASELINES, "none") for b in given) or ("none" in given and len(given) > 1):
            raise ValueError(f"The 'baseline' parameter must be none or some of {', '.join(BASELINES)}. "
                             f"Got {self.baseline!r} instead.")
        if self.n_boot < 1:
            raise ValueError(f"The 'n_boot' parameter must be at least 1. Got {self.n_boot} instead.")
        self.model = Path(self.model)
        self.data = [str(d) for d in self.data]

    def baselines(self) -> dict[str, bool]:
        """Baselines to run and whether each is required (a failure is then an error)."""
        if self.baseline is None:
            return dict.fromkeys(BASELINES, False)
        given = [self.baseline] if isinstance(self.baseline, str) else list(self.baseline)
        return {} if given == ["none"] else dict.fromkeys(given, True)


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


# --------------------------------------------------------------------------- units


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
        cut: how many records were cut into several pieces.
        titles: a display title per unit (may be ``None``).
        records: the records as read (what the TF-IDF baseline scores: it has no window).
        record_unit: index of the unit each record belongs to.
    """

    ids: list[str]
    groups: list[str]
    y: np.ndarray
    pieces: list[Passage]
    piece_unit: np.ndarray
    cut: int = 0
    titles: list[str | None] = field(default_factory=list)
    records: list[Passage] = field(default_factory=list)
    record_unit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)


def build_units(passages: Sequence[Passage], taxonomy: Taxonomy, *, level: Level = "passage",
                max_tokens: int | None = None,
                count_tokens: Callable[[str], int] | None = None) -> Units:
    """Group records into units and cut records over ``max_tokens`` into passages
    (:func:`framescope.inference.cut_records`; ``count_tokens`` defaults to an estimate)."""
    index: dict[str, int] = {}
    gold: list[set[str]] = []
    groups: list[str] = []
    titles: list[str | None] = []
    record_unit: list[int] = []
    for p in passages:
        key = p.id if level == "passage" else p.group
        u = index.get(key)
        if u is None:
            u = index[key] = len(index)
            gold.append(set())
            groups.append(p.group)
            titles.append(p.title)
        gold[u].update(p.labels or [])
        record_unit.append(u)
    rec_unit = np.asarray(record_unit, dtype=np.int64)
    if max_tokens is None:
        pieces = cut_records(passages, count_tokens or approx_tokens, 10**9)
    else:
        pieces = cut_records(passages, count_tokens or approx_tokens, max_tokens)
    fake = [Passage(id=k, text="x", labels=sorted(g)) for k, g in zip(index, gold)]
    return Units(list(index), groups, label_matrix(fake, taxonomy).astype(bool), pieces.passages,
                 rec_unit[pieces.owner] if len(pieces.owner) else pieces.owner, pieces.cut, titles,
                 list(passages), rec_unit)


# --------------------------------------------------------------------------- one system


@dataclass
class _System:
    name: str
    kind: str
    item_probs: np.ndarray  # scores of the scored items (model: pieces; baselines: records)
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


def _best_piece(piece_probs: np.ndarray, piece_unit: np.ndarray, unit: int, col: int) -> int:
    idx = np.flatnonzero(piece_unit == unit)
    return int(idx[np.argmax(piece_probs[idx, col])])


def _errors(sys_: _System, units: Units, labels: list[str], *, single_label: bool,
            k: int) -> list[dict[str, Any]]:
    y, out = units.y, []
    for e in M.confident_errors(y, sys_.probs, sys_.pred, labels, k=k, single_label=single_label):
        u = e["row"]
        col = labels.index(e["label"])
        piece = sys_.items[_best_piece(sys_.item_probs, sys_.item_unit, u, col)]
        text = piece.text
        out.append({
            "id": units.ids[u], "article_id": units.groups[u], "title": units.titles[u],
            "label": e["label"], "kind": e["kind"], "score": e["score"],
            "threshold": float(sys_.thresholds[col]), "confidence": e["confidence"],
            "gold": [lab for lab, on in zip(labels, y[u]) if on],
            "predicted": [lab for lab, on in zip(labels, sys_.pred[u]) if on],
            "passage_id": piece.id,
            "text": text[:ERROR_TEXT_CHARS] + ("…" if len(text) > ERROR_TEXT_CHARS else ""),
            **({"gold_label": e["gold_label"]} if "gold_label" in e else {}),
        })
    return out


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
        block["per_label"][lab]["ece"] = M.calibration(y[:, j:j + 1], sys_.probs[:, j:j + 1])["ece"]
    block["pr_curves"] = M.pr_curves(y, sys_.probs, labels)
    block["cooccurrence_predicted"] = M.cooccurrence(sys_.pred)
    block["errors"] = _errors(sys_, units, labels, single_label=single_label, k=cfg.top_errors)
    return block


def _model_info(art: Artifact) -> dict[str, Any]:
    meta = art.meta
    return {
        "name": art.name, "path": str(art.path) if art.path else None,
        "fingerprint": art.fingerprint, "base_model": meta.get("base_model"),
        "problem_type": meta.get("problem_type", "multi_label"), "max_length": art.max_length,
        "taxonomy": art.taxonomy.id, "labels": art.taxonomy.ids,
        "training_data": {k: {kk: v.get(kk) for kk in ("paths", "fingerprint", "passages")}
                          for k, v in (meta.get("data") or {}).items() if isinstance(v, dict)},
    }


def _model_system(art: Artifact, key: str, units: Units, labels: list[str], method: str,
                  cfg: EvalConfig) -> _System:
    """Score the units' pieces with a model (its columns put in ``labels`` order)."""
    from framescope.runtime import resolve_precision

    order = [art.taxonomy.index[lab] for lab in labels]
    t0 = time.perf_counter()
    raw = predict_proba(art, [p.text for p in units.pieces], batch_size=cfg.batch_size,
                        precision=cfg.precision, progress=cfg.progress)
    probs = record_scores(art, raw, units.piece_unit, len(units), method,
                          texts=[p.text for p in units.records], text_owner=units.record_unit)[:, order]
    secs = time.perf_counter() - t0
    piece_probs = raw[:, order]
    thresholds = art.record_threshold_vector()[order]
    if art.fusion is not None:
        recorded = {lab: f"fused ({src})" for lab, src in
                    (art.fusion.info.get("threshold_source") or {}).items()}
    else:
        recorded = art.meta.get("threshold_source") or {}
    sources = [str(recorded.get(lab, "recorded" if lab in art.thresholds else "default 0.5"))
               for lab in labels]
    info: dict[str, Any] = {"model": _model_info(art), "score_seconds": round(secs, 2)}
    if art.fusion is not None:
        info["fusion"] = {"kind": "tfidf", "weight": art.fusion.weight,
                          "note": f"record scores are {art.fusion.weight:g} x the network's "
                                  f"+ {1 - art.fusion.weight:g} x its TF-IDF model's"}
    if key == "model":
        info["precision"] = {"requested": cfg.precision, "used": resolve_precision(cfg.precision)}
        info["passages_per_second"] = round(len(units.pieces) / max(secs, 1e-9), 1)
    return _System(art.name, key, piece_probs, probs,
                   decide(probs, thresholds, single_label=art.single_label), thresholds, sources,
                   info, units.pieces, units.piece_unit)


def _baseline_systems(art: Artifact, cfg: EvalConfig, units: Units, method: str,
                      notes: list[str]) -> tuple[dict[str, _System], dict[str, str | None]]:
    """The baselines that ran, and why each one that did not was skipped."""
    from framescope.baseline import CueBaseline, tfidf_for_model

    systems: dict[str, _System] = {}
    reason = f"not requested (--baseline {cfg.baseline if isinstance(cfg.baseline, str) else ' '.join(cfg.baseline or [])})"
    skipped: dict[str, str | None] = dict.fromkeys(BASELINES, reason)
    for name, required in cfg.baselines().items():
        try:
            if name == "tfidf":
                base, info, extra = tfidf_for_model(
                    art, train=cfg.baseline_train, dev=cfg.baseline_dev, eval_passages=units.records,
                    seed=cfg.seed, on_error=cfg.on_error, errors_path=cfg.errors_path)
                notes.extend(extra)
                key, title = "baseline", "TF-IDF + logistic regression"
                info = {"baseline": info}
            else:
                base, key, title = CueBaseline(art.taxonomy, single_label=art.single_label), "cues", "cue words"
                info = {"baseline": base.describe()}
        except DataError as exc:
            if required:
                raise
            skipped[name] = str(exc)
            if name == "tfidf":
                notes.append(f"TF-IDF baseline skipped: {exc}")
                logger.warning("TF-IDF baseline skipped: %s", exc)
            continue
        skipped[name] = None
        # baselines have no window: they score whole records, as they were built on them
        rp = base.predict_proba([p.text for p in units.records])
        probs = combine(rp, units.record_unit, len(units), method)
        systems[key] = _System(title, key, rp, probs, base.decide(probs),
                               np.asarray(base.thresholds_, dtype=np.float64),
                               list(base.threshold_sources_), info, units.records, units.record_unit)
    return systems, skipped


# --------------------------------------------------------------------------- main entry


def _load_data(cfg: EvalConfig, art: Artifact, notes: list[str]) -> tuple[list[str], ReadOptions, Any]:
    data_paths, options = list(cfg.data), cfg.read_options
    if not data_paths:
        recorded, test_sec = recorded_paths(art.meta, "test")
        if not recorded:
            raise DataError(f"no --data given and model {art.name!r} records no test data "
                            "(framescope.json data.test.paths); pass --data PATH")
        data_paths = [resolve_recorded_path(p, art.path) for p in recorded]
        options = options_from_record(test_sec, options)
        notes.append(f"Data: the test set recorded in the model ({', '.join(data_paths)}).")
    data = load_labelled(data_paths, options, what="evaluation data", split=cfg.split,
                         on_error=cfg.on_error, errors_path=cfg.errors_path)
    tags = sorted({p.split for p in data.passages if p.split})
    if len(tags) > 1:
        notes.append(f"The data mixes records of the splits {', '.join(tags)}; pass --split NAME "
                     "to evaluate on one of them.")
    return data_paths, options, data


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    """Run an evaluation and return the JSON-ready result (what ``metrics.json`` holds).

    Keys: ``format_version``, ``created``, ``command``, ``versions``, ``settings``, ``model``,
    ``data``, ``labels``, ``gold`` (label counts, co-occurrence), ``systems`` (``model``,
    ``baseline`` (TF-IDF), ``cues``, ``compare`` blocks with ``per_label``, ``overall``,
    ``intervals``, ``calibration``, ``pr_curves``, ``cooccurrence_predicted``, ``errors``),
    ``comparisons`` (paired bootstrap tests), ``baseline_skipped``, ``cues_skipped`` and
    ``notes``.

    Raises:
        DataError: unreadable data, label-set mismatch, a missing model, or a required baseline
            that cannot run.
    """
    t_start = time.perf_counter()
    notes: list[str] = []
    art = load_artifact(cfg.model)
    labels = art.taxonomy.ids
    single = art.single_label
    method = cfg.aggregate or art.combine
    data_paths, options, data = _load_data(cfg, art, notes)
    passages = data.passages

    map_info = None
    if cfg.labels_map is not None:
        map_info = apply_labels_map(passages, load_labels_map(cfg.labels_map), labels,
                                    where=str(cfg.labels_map))
        map_info["path"] = str(cfg.labels_map)
    absent = check_label_sets({lab for p in passages for lab in (p.labels or [])}, labels,
                              data_name=f"the data ({', '.join(data_paths)})", model_name=art.name)
    if absent:
        notes.append(f"{len(absent)} model label(s) never occur in this data ({', '.join(absent)}): "
                     "their recall, ROC-AUC and average precision are undefined and reported as null.")

    tok = art.tokenizer
    units = build_units(passages, art.taxonomy, level=cfg.level,
                        max_tokens=passage_budget(tok, art.max_length), count_tokens=token_counter(tok))
    if units.cut:
        notes.append(f"{units.cut} record(s) were longer than the model's window "
                     f"({art.max_length} tokens) and were cut into passages whose scores were "
                     f"combined with {method}.")
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

    baselines, skipped = _baseline_systems(art, cfg, units, method, notes)
    systems = {"model": _model_system(art, "model", units, labels, method, cfg)}
    systems.update(baselines)
    if other is not None:
        systems["compare"] = _model_system(other, "compare", units, labels, method, cfg)

    blocks = {key: _system_block(s, units, labels, single_label=single, cfg=cfg) for key, s in systems.items()}
    comparisons = []
    for key in ("compare", "baseline", "cues"):
        if key not in systems:
            continue
        for metric in ("macro_f1", "micro_f1"):
            test = M.paired_bootstrap(units.y, systems["model"].pred, systems[key].pred,
                                      groups=units.groups, metric=metric, n_boot=cfg.n_boot,
                                      seed=cfg.seed, level=cfg.ci_level)
            comparisons.append({"a": "model", "b": key, "a_name": systems["model"].name,
                                "b_name": systems[key].name, **test})

    import sklearn

    y = units.y
    has_articles = any(p.article_id for p in passages)
    precision_used = blocks["model"]["precision"]
    result: dict[str, Any] = {
        "format_version": RESULT_FORMAT,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": cfg.command if cfg.command is not None else list(sys.argv),
        "versions": versions() | {"numpy": np.__version__, "scikit_learn": sklearn.__version__,
                                  "python": platform.python_version()},
        "settings": {
            "level": cfg.level, "aggregate": method, "split": cfg.split,
            "bootstrap": {"n_boot": cfg.n_boot, "seed": cfg.seed, "level": cfg.ci_level,
                          "method": "percentile bootstrap over whole groups",
                          "resample_unit": "article" if (has_articles or cfg.level == "article")
                          else "passage", "groups": len(set(units.groups))},
            "calibration_bins": 10, "batch_size": cfg.batch_size, "precision": precision_used,
            "top_errors": cfg.top_errors,
        },
        "model": _model_info(art),
        "data": {
            "paths": data_paths, "format": options.format, "fingerprint": data.fingerprint,
            "read": {"read": data.stats.read, "accepted": data.stats.accepted,
                     "rejected": data.stats.rejected, "excluded": data.stats.excluded},
            "records": len(passages), "units": len(units), "pieces": len(units.pieces),
            "cut_records": units.cut, "groups": len(set(units.groups)),
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
        "baseline_skipped": skipped["tfidf"],
        "cues_skipped": skipped["cues"],
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
