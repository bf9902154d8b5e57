"""One training run as named steps over a small state.

:func:`train` runs, in order:

1. :func:`read_data` — the data of every role through :mod:`framescope.data` (train; dev, or a
   grouped, stratified dev carved from train; optional test), the label set, and, with
   ``--from``, the old model and the old data replayed for its labels;
2. :func:`build` — a fresh model on a backbone, or the old model with its head grown for the
   new labels (old rows kept exactly), layers frozen;
3. :func:`make_datasets` — records over the token budget cut into passages
   (:func:`framescope.inference.cut_records`), tokenised Arrow datasets, loss weights and the
   label mask of replayed data;
4. :func:`init_head` — new head rows fitted as a linear probe (or left random);
5. :func:`fit` — the Hugging Face Trainer, dev metrics every epoch through the one passage path
   (:mod:`framescope.inference`), the best epoch kept, early stopping;
6. :func:`set_thresholds` — per-label thresholds on dev (:mod:`framescope.thresholds`) and
   the dev metrics at the stored decision rule;
7. :func:`score_test` — the held-out test set, once;
8. :func:`save` — the artifact folder (atomic) with its model card and full provenance.

Example:
    >>> from framescope.training import TrainConfig, train
    >>> result = train(TrainConfig(train=["data.jsonl"], out="models/demo"))  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from framescope import metrics as M
from framescope.data.errors import DataError
from framescope.data.fingerprint import fingerprint
from framescope.data.hf_dataset import BagCollator, Collator, to_bags, to_dataset
from framescope.data.provenance import carve_dev, portable_path, source_record
from framescope.data.schema import Passage
from framescope.data.taxonomy import Taxonomy, label_matrix
from framescope.inference import (
    Pieces,
    combine,
    cut_records,
    decide,
    default_combine,
    passage_budget,
    probabilities,
    token_counter,
)
from framescope.modeling import Artifact
from framescope.thresholds import choose_thresholds
from framescope.training.config import TrainConfig
from framescope.training.data import (
    Source,
    default_paths,
    grown_taxonomy,
    overlap_key,
    read_role,
    replay_sources,
    resolve_taxonomy,
)
from framescope.training.head import freeze, grow_head, label_weights, probe_head
from framescope.training.summary import TrainResult
from framescope.training.trainer import (
    Selection,
    callbacks,
    choose_precision,
    in_order,
    trainer_class,
    training_args,
)

__all__ = ["TrainState", "train"]

logger = logging.getLogger(__name__)


@dataclass
class TrainState:
    """Everything one run has read, built and measured so far (filled step by step)."""

    cfg: TrainConfig
    say: Callable[[str], None]
    progress: bool
    seed_data: bool
    epochs_rule: str = "given"
    t_start: float = field(default_factory=time.perf_counter)
    # read_data
    old: Artifact | None = None
    taxonomy: Taxonomy | None = None
    train: list[Passage] = field(default_factory=list)
    dev: list[Passage] = field(default_factory=list)
    test: list[Passage] = field(default_factory=list)
    records: dict[str, Any] = field(default_factory=dict)
    replay: list[Source] = field(default_factory=list)
    # build
    model: Any = None
    tokenizer: Any = None
    base_info: dict[str, Any] = field(default_factory=dict)
    max_length: int = 128
    frozen_layers: int = 0
    frozen: int = 0
    # make_datasets
    train_ds: Any = None
    piece_ds: Any = None  # the training passages (== train_ds unless training is multiple-instance)
    combine: str = "max"  # how a record's passage scores are combined (dev, test, the artifact)
    train_batch: int = 16  # training rows (passages, or records with --record-loss) per batch
    dev_ds: Any = None
    new_pieces: int = 0
    dev_pieces: Pieces | None = None
    cut: dict[str, int] = field(default_factory=dict)
    y_train: np.ndarray | None = None
    y_dev: np.ndarray | None = None
    mask: np.ndarray | None = None
    weights: np.ndarray | None = None
    # init_head / fit
    head_lr: float = 0.0
    probe: dict[str, Any] | None = None
    precision: str = "fp32"
    precision_reason: str = ""
    on_gpu: bool = False
    steps_per_epoch: int = 0
    selection: Selection | None = None
    trainer: Any = None
    train_seconds: float = 0.0
    # choose_thresholds / score_test
    thresholds: np.ndarray | None = None
    sources: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def single(self) -> bool:
        return self.cfg.single_label

    @property
    def labels(self) -> list[str]:
        assert self.taxonomy is not None
        return self.taxonomy.ids


# ----------------------------------------------------------------------------- steps


def read_data(st: TrainState) -> None:
    """Step 1: the old model (``--from``), every role's data, the label set, replay data."""
    from framescope.modeling import load_artifact

    cfg = st.cfg
    if cfg.from_model:
        st.old = load_artifact(cfg.from_model)
        if st.old.single_label != cfg.single_label:
            raise DataError(f"{cfg.from_model} is a {st.old.meta.get('problem_type')} model; "
                            f"{'add' if st.old.single_label else 'drop'} --single-label to continue it")
    if not cfg.train:
        raise DataError("continued training needs new data: pass --train PATH")
    tax_arg = resolve_taxonomy(cfg, st.old, seed_data=st.seed_data)
    options = cfg.read_options()
    if st.old is not None:
        given = tax_arg if isinstance(tax_arg, Taxonomy) else None
        data = read_role(cfg.train, cfg, given, what="train", options=options)
        st.taxonomy = grown_taxonomy(st.old.taxonomy, given, data.passages)
    else:
        data = read_role(cfg.train, cfg, tax_arg, what="train", options=options)
        st.taxonomy = data.taxonomy if data.taxonomy is not None else tax_arg  # type: ignore[assignment]
    assert isinstance(st.taxonomy, Taxonomy)
    train_record = source_record(cfg.train, options, data) | {"labels": st.taxonomy.ids}
    st.train = data.passages
    if cfg.dev:
        dev = read_role(cfg.dev, cfg, st.taxonomy, what="dev", options=options)
        st.dev, dev_record = dev.passages, source_record(cfg.dev, options, dev)
    else:
        st.train, st.dev, carve = carve_dev(st.train, ratio=cfg.dev_ratio, group_by=cfg.group_by,
                                            seed=cfg.seed)
        dev_record = {"paths": [], **carve, "fingerprint": fingerprint(st.dev), "passages": len(st.dev)}
        train_record["carved_dev"] = carve
        st.say(f"no --dev: carved {len(st.dev)} dev passages ({cfg.dev_ratio:.0%} of the groups by "
               f"{cfg.group_by}, stratified, seed {cfg.seed}) from {len(data.passages)} training passages")
    train_record["used"] = len(st.train)
    train_record["used_fingerprint"] = fingerprint(st.train)
    st.records = {"train": train_record, "dev": dev_record}
    if cfg.test:
        test = read_role(cfg.test, cfg, st.taxonomy, what="test", options=options)
        st.test, st.records["test"] = test.passages, source_record(cfg.test, options, test)
    held_out = {overlap_key(p) for p in st.dev} | {overlap_key(p) for p in st.test}
    leaked = sum(overlap_key(p) in held_out for p in st.train)
    if leaked:
        logger.warning("%d training passage(s) also occur (same text) in dev/test; their "
                       "scores are optimistic", leaked)
    if st.old is not None:
        st.replay = replay_sources(st.old, cfg, {overlap_key(p) for p in st.train} | held_out)
        added = [lab for lab in st.taxonomy.ids if lab not in st.old.taxonomy.ids]
        st.say(f"continuing {st.old.path}: {len(st.old.taxonomy)} old labels + {len(added)} new "
               f"({', '.join(added) or 'none'}); replaying "
               f"{sum(len(r.passages) for r in st.replay)} old passages")


def build(st: TrainState) -> None:
    """Step 2: the model and tokenizer (fresh, or the old one with a grown head), frozen layers."""
    from transformers import set_seed

    from framescope.modeling import DEFAULT_BASE, build_model, resolve_base

    cfg = st.cfg
    set_seed(cfg.seed)
    if st.old is not None:
        st.model, st.tokenizer = st.old.model, st.old.tokenizer
        st.base_info = dict(st.old.meta.get("base_model") or {})
        grow_head(st.model, st.old.taxonomy, st.taxonomy, seed=cfg.seed)  # type: ignore[arg-type]
        st.max_length = int(cfg.max_length or st.old.max_length)
    else:
        base_dir = resolve_base(cfg.base)
        st.model, st.tokenizer = build_model(base_dir, st.taxonomy, single_label=cfg.single_label)  # type: ignore[arg-type]
        st.base_info = {"name": cfg.base or DEFAULT_BASE, "path": portable_path(base_dir)}
        st.max_length = int(cfg.max_length or 128)
    tok_limit = st.tokenizer.model_max_length if st.tokenizer.model_max_length < 1e6 else 512
    limit = min(int(getattr(st.model.config, "max_position_embeddings", 512) or 512), int(tok_limit))
    if st.max_length > limit:
        logger.warning("max_length %d exceeds the backbone's limit; using %d", st.max_length, limit)
        st.max_length = limit
    st.frozen_layers, st.frozen = freeze(st.model, cfg.freeze_embeddings, cfg.freeze_layers)
    st.model.train()


def _cut(st: TrainState, records: list[Passage], what: str) -> Pieces:
    if st.cfg.long_records == "truncate" or not records:
        return Pieces(list(records), np.arange(len(records), dtype=np.int64), 0)
    budget = passage_budget(st.tokenizer, st.max_length)
    pieces = cut_records(records, token_counter(st.tokenizer), budget)
    if pieces.cut:
        logger.info("%s: %d record(s) over %d tokens cut into passages (%d pieces in all)",
                    what, pieces.cut, budget, len(pieces.passages))
    return pieces


def make_datasets(st: TrainState) -> None:
    """Step 3: passages cut to the budget, tokenised datasets, loss weights, label masks."""
    tax = st.taxonomy
    assert tax is not None
    cfg = st.cfg
    mil = cfg.record_loss != "pieces"
    # a multiple-instance model scores records by the rule it was trained on (max is the default)
    st.combine = cfg.record_loss if cfg.record_loss in ("noisy-or", "mean") else default_combine(st.single)
    n_old = len(st.old.taxonomy) if st.old is not None else len(tax)
    train_pieces = _cut(st, st.train, "train")
    pieces = list(train_pieces.passages)
    records = list(st.train)
    owners = [train_pieces.owner]
    masks = [np.ones((len(pieces), len(tax)), dtype=np.float32)]
    record_masks = [np.ones((len(st.train), len(tax)), dtype=np.float32)]
    for src in st.replay:
        cut = _cut(st, src.passages, "replay")
        rp = cut.passages
        m = np.zeros((len(rp), len(tax)), dtype=np.float32)
        cols = [tax.index[lab] for lab in (src.annotated or tax.ids[:n_old]) if lab in tax.index]
        m[:, cols] = 1.0
        owners.append(cut.owner + len(records))
        rm = np.zeros((len(src.passages), len(tax)), dtype=np.float32)
        rm[:, cols] = 1.0
        record_masks.append(rm)
        records.extend(src.passages)
        pieces.extend(rp)
        masks.append(m)
    mask = np.concatenate(masks) if st.replay else None
    st.mask = None if mask is None or mask.min() == 1.0 else mask
    st.dev_pieces = _cut(st, st.dev, "dev")
    st.cut = {"train": train_pieces.cut, "dev": st.dev_pieces.cut}
    st.new_pieces = len(train_pieces.passages)
    st.y_train = label_matrix(pieces, tax)
    st.y_dev = label_matrix(st.dev, tax)
    st.piece_ds = st.train_ds = to_dataset(pieces, tax, st.tokenizer, st.max_length,
                                           single_label=st.single, mask=st.mask)
    st.train_batch = cfg.batch_size
    if mil:
        # one training row per record; its loss is on the combined score of its passages
        y_rec = label_matrix(records, tax)
        rmask = np.concatenate(record_masks) if st.mask is not None else None
        st.train_ds = to_bags(st.piece_ds, np.concatenate(owners), y_rec, rmask)
        # about as many passages per step as --batch-size, so the schedule stays comparable
        per_bag = len(pieces) / max(len(st.train_ds), 1)
        st.train_batch = max(1, round(cfg.batch_size / per_bag))
        st.weights = label_weights(y_rec, rmask, mode=cfg.pos_weight, single_label=False)
    else:
        st.weights = label_weights(st.y_train, st.mask, mode=cfg.pos_weight, single_label=st.single)
    st.dev_ds = to_dataset(st.dev_pieces.passages, tax, st.tokenizer, st.max_length,
                           single_label=st.single)
    missing = [lab for j, lab in enumerate(tax.ids) if st.y_train[:, j].sum() == 0]
    if missing:
        logger.warning("labels without a single training positive (the model cannot learn them): %s",
                       ", ".join(missing))


def init_head(st: TrainState) -> None:
    """Step 4: the head's learning rate, and new head rows fitted as a linear probe."""
    cfg = st.cfg
    st.head_lr = cfg.head_lr if cfg.head_lr is not None else (cfg.lr if cfg.head_init == "probe" else 10 * cfg.lr)
    if cfg.head_init != "probe":
        return
    n_old = len(st.old.taxonomy) if st.old is not None else 0
    fit = list(range(n_old, len(st.labels)))
    if fit:
        st.say(f"fitting {len(fit)} head row(s) as a linear probe on the backbone's features "
               f"({len(st.piece_ds)} passages)")
        st.probe = probe_head(st.model, st.piece_ds, Collator(st.tokenizer, st.single), st.y_train,  # type: ignore[arg-type]
                              fit, weights=st.weights, mask=st.mask, single_label=st.single,
                              batch_size=cfg.eval_batch_size, progress=st.progress)


def _dev_probs(st: TrainState, logits: np.ndarray) -> np.ndarray:
    """Dev records' scores from their pieces' logits: the one passage path's combine rule."""
    assert st.dev_pieces is not None
    return combine(probabilities(logits, single_label=st.single), st.dev_pieces.owner, len(st.dev),
                   st.combine)


def _record_loss(probs: np.ndarray, y: np.ndarray, weight: np.ndarray | None) -> float:
    """Mean binary cross-entropy of the records' combined scores, positives weighted as in
    training: the multiple-instance objective, on dev."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-7, 1 - 1e-7)
    w = 1.0 if weight is None else np.asarray(weight, dtype=np.float64)
    return float((-(w * y * np.log(p) + (1 - y) * np.log1p(-p))).mean())


def _f1s(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> tuple[float, float]:
    ov = M.overall_metrics(y.astype(bool), pred, labels)
    return ov["macro_f1"] or 0.0, ov["micro_f1"] or 0.0


def fit(st: TrainState, scratch: str) -> None:
    """Step 5: fine-tune with the Trainer; dev metrics each epoch; the best state restored."""
    import torch
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    cfg = st.cfg
    st.precision, st.precision_reason = choose_precision(cfg.precision)
    st.on_gpu = torch.cuda.is_available()
    st.steps_per_epoch = math.ceil(len(st.train_ds) / st.train_batch)
    total_steps = max(1, math.ceil(st.steps_per_epoch * cfg.epochs))
    sel = st.selection = Selection(cfg.patience, cfg.epochs)
    if cfg.max_minutes:
        sel.deadline = time.monotonic() + 60 * cfg.max_minutes  # checked at the end of each epoch
    half = np.full(len(st.labels), 0.5)
    mil = st.train_ds is not st.piece_ds

    def compute_metrics(pred: Any) -> dict[str, float]:
        probs = sel.last_probs = _dev_probs(st, in_order(pred))
        macro, micro = _f1s(st.y_dev, decide(probs, half, single_label=st.single), st.labels)  # type: ignore[arg-type]
        out = {"macro_f1": macro, "micro_f1": micro}
        if mil:  # the Trainer's eval_loss is per passage; the objective is per record
            out["record_loss"] = _record_loss(probs, st.y_dev, st.weights)  # type: ignore[arg-type]
        return out

    args = training_args(scratch, cfg, total_steps, st.precision, st.on_gpu, st.progress,
                         batch_size=st.train_batch)
    collate = BagCollator(st.piece_ds, st.tokenizer) if mil else Collator(st.tokenizer, st.single)
    st.trainer = trainer_class()(model=st.model, args=args, train_dataset=st.train_ds,
                                 eval_dataset=st.dev_ds, data_collator=collate,
                                 compute_metrics=compute_metrics, pos_weight=st.weights,
                                 single_label=st.single, head_lr=st.head_lr,
                                 record_loss=cfg.record_loss)
    st.trainer.remove_callback(ProgressCallback)
    st.trainer.remove_callback(PrinterCallback)
    for cb in callbacks(st.model, sel, st.progress):
        st.trainer.add_callback(cb)
    replayed = len(st.piece_ds) - st.new_pieces
    st.say(f"training {len(st.piece_ds)} passages ({st.new_pieces} new"
           + (f" + {replayed} replayed" if st.replay else "") + ")"
           + (f" as {len(st.train_ds)} records, loss on each record's {cfg.record_loss} score, "
              f"{st.train_batch} record(s) a step" if mil else "")
           + f", dev {len(st.dev)}, {len(st.labels)} labels, up to {cfg.epochs:g} epochs x "
           f"{st.steps_per_epoch} steps, {st.precision} on {'cuda' if st.on_gpu else 'cpu'} "
           f"({st.precision_reason})")
    t0 = time.perf_counter()
    st.trainer.train()
    st.train_seconds = time.perf_counter() - t0
    if sel.best_state is not None:
        st.model.load_state_dict(sel.best_state)


def _metrics_block(st: TrainState, y: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Overall and per-label metrics at the stored decision rule."""
    assert st.thresholds is not None
    pred = decide(probs, st.thresholds, single_label=st.single)
    overall = M.overall_metrics(y.astype(bool), pred, st.labels)
    per = M.per_label_metrics(y.astype(bool), probs, pred, st.labels, thresholds=st.thresholds.tolist(),
                              threshold_sources=st.sources)
    keep = ("precision", "recall", "f1", "support", "predicted", "roc_auc", "average_precision",
            "threshold", "threshold_source")
    out: dict[str, Any] = {k: overall[k] for k in ("units", "macro_f1", "micro_f1", "macro_precision",
                                                   "macro_recall", "weighted_f1", "samples_f1",
                                                   "subset_accuracy", "macro_f1_labels")}
    out["per_label"] = {lab: {k: v.get(k) for k in keep} for lab, v in per.items()}
    if st.single:
        out["accuracy"] = float((probs.argmax(1) == y.argmax(1)).mean()) if len(y) else None
    return _round(out)


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    return v


def set_thresholds(st: TrainState) -> None:
    """Step 6: per-label thresholds on the best epoch's dev scores, and the dev metrics."""
    assert st.selection is not None and st.y_dev is not None
    cfg, probs = st.cfg, st.selection.best_probs
    if probs is None:  # no evaluation ran (e.g. zero epochs completed)
        probs = np.zeros(st.y_dev.shape)
    if st.single:
        st.thresholds, st.sources = np.full(len(st.labels), 0.5), ["default"] * len(st.labels)
    else:
        st.thresholds, st.sources = choose_thresholds(
            st.y_dev, probs, policy=cfg.threshold_policy, min_positives=cfg.min_dev_positives,
            shrink=cfg.threshold_shrink, seed=cfg.seed)
    dev = _metrics_block(st, st.y_dev, probs)
    macro, micro = _f1s(st.y_dev, decide(probs, np.full(len(st.labels), 0.5), single_label=st.single),
                        st.labels)
    dev["macro_f1_at_0.5"], dev["micro_f1_at_0.5"] = round(macro, 6), round(micro, 6)
    dev["note"] = ("thresholds were tuned on this dev set, so these figures are optimistic; see "
                   "metrics.test or `framescope evaluate`")
    st.metrics["dev"] = dev


def score_test(st: TrainState) -> None:
    """Step 7: the held-out test set, scored once by the final model."""
    if not st.test:
        return
    pieces = _cut(st, st.test, "test")
    ds = to_dataset(pieces.passages, st.taxonomy, st.tokenizer, st.max_length,  # type: ignore[arg-type]
                    single_label=st.single, cache=False)
    st.trainer.compute_metrics = None  # dev metrics only; the test set is scored here
    logits = in_order(st.trainer.predict(ds))
    probs = combine(probabilities(logits, single_label=st.single), pieces.owner, len(st.test),
                    st.combine)
    st.metrics["test"] = _metrics_block(st, label_matrix(st.test, st.taxonomy), probs)  # type: ignore[arg-type]


def _meta(st: TrainState) -> dict[str, Any]:
    import accelerate
    import transformers

    from framescope.modeling import FORMAT_VERSION, versions

    cfg, sel, old = st.cfg, st.selection, st.old
    assert sel is not None
    lineage: list[dict[str, Any]] = []
    if old is not None:
        previous = {"name": old.name, "path": portable_path(old.path or cfg.from_model or ""),
                    "fingerprint": old.fingerprint, "labels": old.taxonomy.ids,
                    "created": old.meta.get("created"),
                    "dev_macro_f1": ((old.meta.get("metrics") or {}).get("dev") or {}).get("macro_f1")}
        lineage = [*(old.meta.get("lineage") or []), previous]
    config = cfg.to_dict() | {"max_length": st.max_length, "freeze_layers": st.frozen_layers,
                              "head_lr": st.head_lr}
    weights = None if st.weights is None else dict(zip(st.labels, [round(float(w), 4) for w in st.weights]))
    assert st.y_train is not None
    return {
        "format_version": FORMAT_VERSION,
        "name": Path(cfg.out).name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base_model": st.base_info,
        "problem_type": "single_label" if st.single else "multi_label",
        "threshold_source": dict(zip(st.labels, st.sources)),
        "max_length": st.max_length,
        "training": {
            "config": config,
            "precision": st.precision, "precision_reason": st.precision_reason,
            "device": "cuda" if st.on_gpu else "cpu",
            "world_size": int(st.trainer.args.world_size),
            "train_passages": len(st.piece_ds), "new_passages": st.new_pieces,
            "record_loss": cfg.record_loss,
            "train_records": len(st.train_ds) if st.train_ds is not st.piece_ds else None,
            "train_batch": st.train_batch,
            "frozen_parameters": st.frozen,
            "trainable_parameters": sum(p.numel() for p in st.model.parameters() if p.requires_grad),
            "records_cut_into_passages": st.cut,
            "steps_per_epoch": st.steps_per_epoch,
            "epochs_run": max((h["epoch"] for h in sel.history), default=0),
            "best_epoch": sel.best_epoch, "stopped_early": sel.stopped_early,
            "epochs_rule": st.epochs_rule, "max_minutes": cfg.max_minutes,
            "stop_reason": sel.stop_reason or ("epoch cap" if sel.history else "no epoch finished"),
            "history": sel.history, "train_seconds": round(st.train_seconds, 2),
            "head_init": st.probe or {"method": "kept" if old is not None and cfg.head_init == "probe"
                                      else "random"},
            "label_weights": weights,
            "loss": ("cross-entropy" if st.single else "binary cross-entropy with logits")
                    + ("" if cfg.record_loss == "pieces" else
                       f" on each record's {cfg.record_loss} of its passages' scores (multiple-instance)")
                    + ("" if st.weights is None else f", weights: {cfg.pos_weight}")
                    + (", masked for labels the replayed data was not annotated for"
                       if st.mask is not None else ""),
            "train_positives": {lab: int(st.y_train[:, j].sum()) for j, lab in enumerate(st.labels)},
            "selection": ("epoch with the best dev macro-F1 at threshold 0.5" if not st.single else
                          "epoch with the best dev macro-F1 (argmax)") + ", ties broken by dev loss",
            "combine": st.combine,
            "threshold_policy": cfg.threshold_policy,
            "transformers_trainer": transformers.__version__,
        },
        "data": {**st.records, "replay": [r.record for r in st.replay]},
        "metrics": st.metrics,
        "versions": versions() | {"accelerate": accelerate.__version__, "numpy": np.__version__,
                                  "python": platform.python_version()},
        "seed": cfg.seed,
        "lineage": lineage,
    }


def save(st: TrainState) -> TrainResult:
    """Step 8: the artifact folder (main process only) and the run's result."""
    from framescope.model_card import render_model_card
    from framescope.modeling import save_artifact

    st.model.eval()
    meta = _meta(st)
    assert st.thresholds is not None and st.taxonomy is not None
    thresholds = {lab: float(t) for lab, t in zip(st.labels, st.thresholds)}
    artifact = Artifact(st.model, st.tokenizer, st.taxonomy, thresholds, meta)
    out = Path(st.cfg.out)
    is_main = st.trainer.is_world_process_zero()
    if is_main:
        card = render_model_card(dict(meta, taxonomy=st.taxonomy.to_dict(), thresholds=thresholds))
        save_artifact(artifact, out, card=card)
    return TrainResult(out, artifact.meta, time.perf_counter() - st.t_start, artifact, main_process=is_main)


# ----------------------------------------------------------------------------- the run


def train(config: TrainConfig, *, progress: bool = True,
          echo: Callable[[str], None] | None = None) -> TrainResult:
    """Train (or continue training) a framescope model and save it to ``config.out``.

    Args:
        config: the run's settings.
        progress: show progress bars and one line per epoch (on stderr).
        echo: where to send short status lines (default: the module logger).

    Returns:
        A :class:`TrainResult` with the artifact folder, its ``framescope.json`` content and
        the wall time.

    Raises:
        DataError: bad or missing data, unknown labels, unreadable replay data.
        ArtifactError: a missing, incomplete or unsafe ``--base``/``--from`` model folder.
    """
    from framescope.modeling import quiet_transformers

    quiet_transformers()
    rank0 = int(os.environ.get("RANK", "0") or 0) == 0  # torchrun / accelerate launch set RANK
    say: Callable[[str], None] = (echo or logger.info) if rank0 else (lambda _line: None)
    epochs, rule = config.auto_epochs()
    st = TrainState(default_paths(dataclasses.replace(config, epochs=epochs)), say, progress,
                    seed_data=config.uses_seed_data, epochs_rule=rule)
    read_data(st)
    build(st)
    make_datasets(st)
    init_head(st)
    with tempfile.TemporaryDirectory(prefix="framescope-train-") as scratch:
        fit(st, scratch)
        set_thresholds(st)
        score_test(st)
    return save(st)
