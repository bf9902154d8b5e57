"""Fine-tuning: train a passage classifier, tune its thresholds, and grow it with new labels.

One config schema (:class:`TrainConfig`) serves the ``framescope train`` flags and a JSON/YAML
``--config`` file. :func:`train` runs the whole pipeline:

1. read the data through :mod:`framescope.data` (train, dev or a grouped, stratified dev
   carved from train, optional test; records longer than the token budget are cut into
   passages with :func:`~framescope.data.split_article`);
2. build a fresh model on a backbone, or, with ``from_model``, load an old framescope model and
   grow its head with the new labels (old rows kept exactly, new rows fresh) and replay the old
   model's recorded training data, masking the loss of labels that data was never annotated for;
3. fine-tune with the Hugging Face :class:`~transformers.Trainer` (so ``accelerate launch`` and
   ``torchrun`` work unchanged): per-label positive weights, length-grouped batches with dynamic
   padding, evaluation on dev every epoch, early stopping on dev macro-F1, the best state kept
   in memory (no checkpoint files);
4. tune per-label decision thresholds on dev (a label with too few dev positives keeps 0.5 and
   the artifact says so), evaluate on test once, and save the artifact atomically with its
   model card and full provenance (data paths and fingerprints, config, versions, lineage).

Example:
    >>> from framescope.training import TrainConfig, train
    >>> result = train(TrainConfig(train=["data.jsonl"], out="models/demo"))  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from framescope.data import (
    DEFAULT_TAXONOMY,
    DataError,
    Label,
    LoadedData,
    Passage,
    ReadOptions,
    Taxonomy,
    expand_inputs,
    fingerprint,
    label_matrix,
    load_passages,
    load_taxonomy,
    normalise_text,
    split_article,
    split_passages,
)

if TYPE_CHECKING:
    from framescope.modeling import Artifact

__all__ = [
    "DEFAULT_OUT",
    "ROOT",
    "SEED_DIR",
    "TrainConfig",
    "TrainResult",
    "choose_precision",
    "label_weights",
    "load_recorded_data",
    "portable_path",
    "resolve_recorded_path",
    "train",
    "tune_thresholds",
]

logger = logging.getLogger(__name__)

#: The project root (holds ``data/`` and, by convention, ``models/``).
ROOT = DEFAULT_TAXONOMY.parents[2]
#: The bundled seed dataset used when ``framescope train`` gets no data arguments.
SEED_DIR = ROOT / "data" / "seed"
#: Where ``framescope train`` writes the default model.
DEFAULT_OUT = "models/default"

_READ_FIELDS = ("format", "text_column", "labels_column", "id_column", "labels_sep")


def _opt(help: str, **extra: Any) -> dict[str, Any]:
    return {"help": help, **extra}


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as ``training.config`` in ``framescope.json``.

    The same fields are the ``framescope train`` flags (``batch_size`` is ``--batch-size``,
    ``from_model`` is ``--from``) and the keys of a ``--config`` JSON/YAML file.
    ``__post_init__`` checks the fields together and raises :class:`ValueError` with the
    standard message ("The 'x' parameter must be .... Got ... instead.").

    Example:
        >>> TrainConfig(epochs=3, lr=1e-4).batch_size
        16
    """

    train: list[str] = field(default_factory=list, metadata=_opt(
        "training data: files, folders or globs (default: the bundled seed data, "
        "data/seed/train.jsonl)", nargs="+", metavar="PATH"))
    dev: list[str] = field(default_factory=list, metadata=_opt(
        "dev data for early stopping and threshold tuning (default: data/seed/dev.jsonl with "
        "the seed data, else a grouped, stratified split carved from --train and recorded)",
        nargs="+", metavar="PATH"))
    test: list[str] = field(default_factory=list, metadata=_opt(
        "held-out test data scored once by the final model (default: data/seed/test.jsonl "
        "with the seed data; none otherwise)", nargs="+", metavar="PATH"))
    taxonomy: str | None = field(default=None, metadata=_opt(
        "label set: a YAML/JSON taxonomy file, 'default' (the war frames) or 'infer' (from the "
        "training data). Default: 'default' with the seed data, 'infer' otherwise; with --from, "
        "the old model's labels plus any new ones in this file or the data", metavar="FILE"))
    base: str | None = field(default=None, metadata=_opt(
        "backbone: 'minilm' (bundled all-MiniLM-L6-v2, the default), 'mpnet', or any local "
        "Hugging Face model folder (never downloaded)", metavar="MODEL"))
    out: str = field(default=DEFAULT_OUT, metadata=_opt(
        "output model folder, written atomically (default: models/default)", metavar="DIR"))
    from_model: str | None = field(default=None, metadata=_opt(
        "continue training a framescope model: warm-start from it, add new labels to its head "
        "and replay its recorded training data", flag="--from", metavar="DIR"))
    replay: list[str] = field(default_factory=list, metadata=_opt(
        "with --from: old-label data to mix in instead of the training data recorded in the "
        "old model", nargs="+", metavar="PATH"))
    no_replay: bool = field(default=False, metadata=_opt(
        "with --from: do not replay old training data (old labels may be forgotten)"))
    epochs: float = field(default=2.0, metadata=_opt("maximum training epochs (default: 2)"))
    lr: float = field(default=5e-5, metadata=_opt("peak learning rate (default: 5e-5)"))
    batch_size: int = field(default=16, metadata=_opt("training batch size per device (default: 16)"))
    eval_batch_size: int = field(default=64, metadata=_opt("evaluation batch size (default: 64)"))
    max_length: int | None = field(default=None, metadata=_opt(
        "token budget per passage; longer records are cut into passages (default: 128, or the "
        "old model's with --from; capped at the backbone's limit)"))
    seed: int = field(default=13, metadata=_opt("random seed for init, shuffling, dropout and the "
                                                "carved dev split (default: 13)"))
    single_label: bool = field(default=False, metadata=_opt(
        "exactly one label per passage: softmax + cross-entropy instead of sigmoid + BCE"))
    precision: str = field(default="auto", metadata=_opt(
        "auto: bf16 autocast where the hardware has native bf16 (recent GPUs, AVX-512 BF16/AMX "
        "CPUs), fp32 otherwise; fp32; bf16 (default: auto)", choices=("auto", "fp32", "bf16")))
    patience: int = field(default=2, metadata=_opt(
        "stop after this many epochs without a better dev macro-F1 (default: 2; 0 = never)"))
    group_by: str = field(default="article_id", metadata=_opt(
        "field (or a+b) whose groups never straddle the carved train/dev split "
        "(default: article_id)", metavar="FIELD"))
    dev_ratio: float = field(default=0.15, metadata=_opt(
        "share of --train carved out as dev when no --dev is given (default: 0.15)"))
    long_records: str = field(default="split", metadata=_opt(
        "records over the token budget: 'split' into passages (training pieces inherit the "
        "labels; dev/test scores are the max over pieces) or 'truncate' (default: split)",
        choices=("split", "truncate")))
    pos_weight: str = field(default="auto", metadata=_opt(
        "class-imbalance weights: 'auto' (sqrt(negatives/positives) per label, capped at 10; "
        "class weights for --single-label), 'balanced' (negatives/positives, capped at 50) or "
        "'none' (default: auto)", choices=("auto", "balanced", "none")))
    min_dev_positives: int = field(default=5, metadata=_opt(
        "dev positives a label needs for a tuned threshold; others keep 0.5 (default: 5)"))
    head_init: str = field(default="probe", metadata=_opt(
        "how new head rows start: 'probe' fits them as a logistic-regression probe on the "
        "frozen backbone's features (one forward pass over the training data; fine-tuning then "
        "starts from a head that already works, so fewer epochs are needed) or 'random' "
        "(default: probe)", choices=("probe", "random")))
    head_lr: float | None = field(default=None, metadata=_opt(
        "learning rate of the classification head (default: --lr with --head-init probe, 10x "
        "--lr with --head-init random, where the head starts from random weights)"))
    weight_decay: float = field(default=0.01, metadata=_opt("AdamW weight decay (default: 0.01)"))
    warmup_ratio: float = field(default=0.1, metadata=_opt(
        "share of steps with a linear learning-rate warm-up (default: 0.1)"))
    freeze_embeddings: bool = field(default=True, metadata=_opt(
        "keep the backbone's word embeddings frozen (faster on CPU, little or no loss with "
        "small data); --no-freeze-embeddings trains them", negatable=True))
    freeze_layers: int | None = field(default=None, metadata=_opt(
        "also freeze the embedding block and the lowest N transformer layers, which makes CPU "
        "training about 1.5x faster (default: half of the backbone's layers, 3 of MiniLM's 6; "
        "0 trains them all)", metavar="N"))
    format: str = field(default="auto", metadata={"common": True})
    text_column: str = field(default="text", metadata={"common": True})
    labels_column: str = field(default="labels", metadata={"common": True})
    id_column: str = field(default="id", metadata={"common": True})
    labels_sep: str = field(default=";", metadata={"common": True})
    on_error: str = field(default="stop", metadata={"common": True})
    errors: str | None = field(default=None, metadata={"common": True})

    def __post_init__(self) -> None:
        for name in ("train", "dev", "test", "replay"):
            value = getattr(self, name)
            if value is None:
                setattr(self, name, [])
            elif isinstance(value, (str, os.PathLike)):
                setattr(self, name, [str(value)])
            else:
                setattr(self, name, [str(v) for v in value])
        for name in ("out", "from_model", "base", "taxonomy", "errors"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                setattr(self, name, str(value))

        def bad(name: str, must: str) -> ValueError:
            return ValueError(f"The '{name}' parameter must be {must}. Got {getattr(self, name)!r} instead.")

        if not self.epochs or self.epochs <= 0:
            raise bad("epochs", "a positive number")
        if not self.lr or self.lr <= 0 or self.lr >= 1:
            raise bad("lr", "a learning rate in (0, 1)")
        for name in ("batch_size", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise bad(name, "a positive integer")
        if self.max_length is not None and not 8 <= int(self.max_length) <= 100_000:
            raise bad("max_length", "an integer of at least 8")
        if self.head_lr is not None and not 0 < self.head_lr < 1:
            raise bad("head_lr", "a learning rate in (0, 1)")
        if self.patience < 0:
            raise bad("patience", "0 (never stop early) or a positive integer")
        if not 0 < self.dev_ratio < 0.9:
            raise bad("dev_ratio", "a share in (0, 0.9)")
        if not 0 <= self.warmup_ratio < 1:
            raise bad("warmup_ratio", "a share in [0, 1)")
        if self.freeze_layers is not None and self.freeze_layers < 0:
            raise bad("freeze_layers", "0 or a positive integer")
        if self.min_dev_positives < 1:
            raise bad("min_dev_positives", "a positive integer")
        for name, choices in (("precision", ("auto", "fp32", "bf16")), ("long_records", ("split", "truncate")),
                              ("pos_weight", ("auto", "balanced", "none")), ("on_error", ("stop", "skip")),
                              ("head_init", ("probe", "random"))):
            if getattr(self, name) not in choices:
                raise bad(name, "one of " + ", ".join(choices))
        if self.from_model and self.base:
            raise ValueError("The 'base' parameter cannot be combined with 'from_model': continued "
                             f"training keeps the backbone of {self.from_model}. Drop --base.")
        if (self.replay or self.no_replay) and not self.from_model:
            raise ValueError("--replay and --no-replay only apply to continued training; add "
                             "--from models/OLD or drop them.")
        if self.replay and self.no_replay:
            raise ValueError("--replay PATH and --no-replay contradict each other; pass one.")
        if not self.train and (self.dev or self.test) and not self.from_model:
            raise ValueError("--dev/--test given without --train: pass the training data too "
                             "(with no data arguments at all, the bundled seed data is used).")
        ReadOptions(format=self.format)  # validates the format name

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, where: str = "config") -> TrainConfig:
        """Build a config from a mapping (keys are field names; ``from`` and dashes accepted).

        Raises:
            DataError: naming unknown keys and the closest known one.
        """
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected a mapping of training settings, got "
                            f"{type(data).__name__}")
        known = cls.field_names()
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = str(key).replace("-", "_")
            name = {"from": "from_model"}.get(name, name)
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise DataError(f"{where}: unknown setting {key!r}.{hint} Known settings: "
                                f"{', '.join(sorted(known))}")
            kwargs[name] = value
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: {exc}") from exc

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Load a JSON or YAML config file; ``overrides`` (e.g. CLI flags) win over the file."""
        from framescope.data.io import read_json_or_yaml

        path = Path(path)
        data = read_json_or_yaml(path, "config file")
        data = dict(data or {})
        data.update(overrides)
        return cls.from_mapping(data, where=str(path))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (``from_model`` included)."""
        return dataclasses.asdict(self)

    def read_options(self) -> ReadOptions:
        return ReadOptions(format=self.format, text_column=self.text_column,
                           labels_column=self.labels_column, id_column=self.id_column,
                           labels_sep=self.labels_sep, labels_required=True)

    @property
    def uses_seed_data(self) -> bool:
        return not self.train and not self.from_model


# ---------------------------------------------------------------------------- small helpers

def portable_path(path: str | Path) -> str:
    """A path as recorded in an artifact: relative to the project root when inside it,
    absolute otherwise (globs are kept as given, made absolute when relative)."""
    text = str(path)
    p = Path(text)
    if not p.is_absolute():
        p = Path.cwd() / p
    p = Path(os.path.normpath(p))
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def resolve_recorded_path(path: str, artifact_path: str | Path | None = None) -> str:
    """The readable location of a recorded data path: absolute as is; relative ones against
    the project root, then the folder holding ``models/``, then the current folder."""
    p = Path(path)
    if p.is_absolute():
        return str(p)
    bases = [ROOT]
    if artifact_path is not None:
        bases.append(Path(artifact_path).resolve().parent.parent)
    bases.append(Path.cwd())
    for base in bases:
        if expand_inputs([str(base / p)])[0].exists():
            return str(base / p)
    return str(ROOT / p)


def choose_precision(precision: str) -> tuple[str, str]:
    """The training precision for ``precision`` and why: ``("bf16" | "fp32", reason)``.

    ``auto`` picks bf16 autocast only where the hardware computes bf16 natively: a CUDA GPU
    that supports it, or a CPU with AVX-512 BF16/AMX. On AVX2-only CPUs bf16 autocast is
    emulated and measured several times slower than fp32, so ``auto`` keeps fp32 there.
    """
    import torch

    from framescope.modeling import cpu_supports_bf16

    if precision == "fp32":
        return "fp32", "requested"
    if precision == "bf16":
        return "bf16", "requested"
    if precision != "auto":
        raise ValueError(f"The 'precision' parameter must be auto, fp32 or bf16. Got {precision!r} instead.")
    if torch.cuda.is_available():
        if torch.cuda.is_bf16_supported():
            return "bf16", "auto: the GPU supports bf16"
        return "fp32", "auto: the GPU lacks bf16"
    if cpu_supports_bf16():
        return "bf16", "auto: the CPU has native bf16 (AVX-512 BF16 / AMX)"
    return "fp32", ("auto: the CPU has no native bf16 (AVX2 only), where bf16 autocast is "
                    "several times slower than fp32")


def tune_thresholds(y: np.ndarray, probs: np.ndarray, *, min_positives: int = 5,
                    default: float = 0.5) -> tuple[np.ndarray, list[str]]:
    """Per-label thresholds maximising dev F1; labels with too few positives keep ``default``.

    Returns ``(thresholds, sources)`` with ``sources[j]`` ``"tuned"`` or ``"default"``
    (delegates to :func:`framescope.metrics.tune_thresholds` so training and evaluation agree).

    Example:
        >>> t, src = tune_thresholds(np.array([[1], [0]]), np.array([[0.8], [0.2]]), min_positives=1)
        >>> src
        ['tuned']
    """
    from framescope.metrics import tune_thresholds as _tune

    return _tune(y, probs, min_positives=min_positives, default=default)


def label_weights(y: np.ndarray, mask: np.ndarray | None = None, *, mode: str = "auto",
                  single_label: bool = False) -> np.ndarray | None:
    """Loss weights against class imbalance, from the training label matrix.

    Multi-label: a positive weight per label, ``sqrt(neg/pos)`` capped at 10 (``auto``) or
    ``neg/pos`` capped at 50 (``balanced``), never below 1; a label without positives gets 1.
    Single-label: class weights ``(n / (k * count))**0.5`` (``auto``) or ``n / (k * count)``
    (``balanced``), normalised to mean 1. ``mode="none"`` returns ``None``. ``mask`` marks the
    entries that were annotated (replayed data is not annotated for new labels).

    Example:
        >>> label_weights(np.array([[1, 0], [0, 0], [0, 0], [0, 0], [0, 1]])).round(2).tolist()
        [2.0, 2.0]
    """
    if mode == "none":
        return None
    y = np.asarray(y, dtype=np.float64)
    m = np.ones_like(y) if mask is None else np.asarray(mask, dtype=np.float64)
    if single_label:
        counts = (y * m).sum(0)
        n, k = counts.sum(), y.shape[1]
        with np.errstate(divide="ignore"):
            w = np.where(counts > 0, n / (k * np.maximum(counts, 1)), 1.0)
        if mode == "auto":
            w = np.sqrt(w)
        return (w / w.mean()).astype(np.float32)
    pos = (y * m).sum(0)
    neg = ((1 - y) * m).sum(0)
    ratio = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
    if mode == "auto":
        w = np.clip(np.sqrt(ratio), 1.0, 10.0)
    elif mode == "balanced":
        w = np.clip(ratio, 1.0, 50.0)
    else:
        raise ValueError(f"The 'mode' parameter must be auto, balanced or none. Got {mode!r} instead.")
    return w.astype(np.float32)


# ---------------------------------------------------------------------------- data

@dataclass
class _Split:
    """Passages of one role with their provenance record and (for training) label masks."""

    passages: list[Passage]
    record: dict[str, Any]
    annotated: list[str] | None = None  # label ids annotated (None = all)


def _read(paths: Sequence[str], cfg: TrainConfig, taxonomy: Taxonomy | str | None, *,
          what: str, options: ReadOptions | None = None) -> LoadedData:
    missing = [str(p) for p in expand_inputs(paths) if not p.exists()]
    if missing:
        raise DataError(f"{what}: not found: {', '.join(missing)}")
    errors = Path(cfg.errors) if cfg.errors else Path(cfg.out).parent / f"{Path(cfg.out).name}.{what}.errors.jsonl"
    data = load_passages(list(paths), options or cfg.read_options(), taxonomy=taxonomy,  # type: ignore[arg-type]
                         on_error=cfg.on_error, errors_path=errors)  # type: ignore[arg-type]
    if data.stats.rejected:
        logger.warning("%s: %s; rejected records written to %s", what, data.stats.summary(), errors)
    return data


def _source_record(paths: Sequence[str], options: ReadOptions, data: LoadedData) -> dict[str, Any]:
    return {
        "paths": [portable_path(p) for p in paths],
        "read_options": {k: getattr(options, k) for k in _READ_FIELDS},
        "fingerprint": data.fingerprint,
        "passages": len(data.passages),
        "read": {"read": data.stats.read, "accepted": data.stats.accepted,
                 "rejected": data.stats.rejected},
    }


def _carve_dev(passages: list[Passage], cfg: TrainConfig) -> tuple[list[Passage], list[Passage], dict[str, Any]]:
    try:
        parts = split_passages(passages, ratios={"train": 1 - cfg.dev_ratio, "dev": cfg.dev_ratio},
                               group_by=cfg.group_by, seed=cfg.seed)
    except ValueError as exc:
        raise DataError(f"cannot carve a dev split from the training data: {exc}. Pass --dev "
                        "PATH, or a --group-by with more groups.") from exc
    if not parts["dev"] or not parts["train"]:
        raise DataError(f"cannot carve a dev split: the groups by {cfg.group_by!r} leave an "
                        "empty part; pass --dev PATH")
    info = {"carved_from": "train", "ratio": cfg.dev_ratio, "group_by": cfg.group_by,
            "seed": cfg.seed, "method": "framescope.data.split_passages (grouped, stratified)"}
    return parts["train"], parts["dev"], info


def _overlap_key(p: Passage) -> str:
    return normalise_text(p.text)


def load_recorded_data(meta: dict[str, Any], *, artifact_path: str | Path | None = None,
                       which: str = "train") -> list[Passage]:
    """Re-read the data a model recorded in ``framescope.json``.

    ``which="train"`` gives exactly the passages the model trained on (the recorded dev split
    is carved again from the same files with the same settings when it was carved);
    ``which="dev"`` the dev passages. Raises :class:`DataError` when the files are not
    readable here or no longer match the recorded fingerprint.
    """
    data = meta.get("data") or {}
    train = data.get("train") or {}
    dev = data.get("dev") or {}
    section = train if which == "train" or dev.get("carved_from") == "train" else dev
    if which not in ("train", "dev"):
        raise ValueError(f"The 'which' parameter must be train or dev. Got {which!r} instead.")
    paths = [resolve_recorded_path(p, artifact_path) for p in section.get("paths") or []]
    if not paths:
        raise DataError(f"the model records no {which} data paths (framescope.json data.{which})")
    missing = [str(p) for p in expand_inputs(paths) if not p.exists()]
    if missing:
        raise DataError(f"the model's recorded {which} data is not readable here: "
                        f"{', '.join(missing)}")
    opts = section.get("read_options") or {}
    options = ReadOptions(**{k: opts[k] for k in _READ_FIELDS if k in opts}, labels_required=True)
    loaded = load_passages(paths, options, taxonomy=None, on_error="skip")
    recorded = section.get("fingerprint")
    if recorded and recorded != loaded.fingerprint:
        raise DataError(f"the recorded {which} data {', '.join(paths)} changed since training "
                        f"(fingerprint {loaded.fingerprint}, recorded {recorded})")
    passages = loaded.passages
    if dev.get("carved_from") == "train":
        parts = split_passages(passages, ratios={"train": 1 - float(dev["ratio"]), "dev": float(dev["ratio"])},
                               group_by=str(dev.get("group_by", "article_id")), seed=int(dev.get("seed", 13)))
        passages = parts[which]
    return passages


def _replay_sources(old: Artifact, cfg: TrainConfig, new_keys: set[str]) -> list[_Split]:
    """Old-label data for continued training: explicit --replay files or the old model's data."""
    out: list[_Split] = []
    if cfg.no_replay:
        return out
    old_ids = old.taxonomy.ids
    if cfg.replay:
        options = cfg.read_options()
        data = _read(cfg.replay, cfg, old.taxonomy, what="replay", options=options)
        record = _source_record(cfg.replay, options, data) | {"source": "--replay", "labels": old_ids}
        out.append(_Split(data.passages, record, old_ids))
    else:
        meta = old.meta
        try:
            passages = load_recorded_data(meta, artifact_path=old.path, which="train")
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
        out.append(_Split(passages, record, labels))
        for i, older in enumerate((meta.get("data") or {}).get("replay") or []):
            paths = [resolve_recorded_path(p, old.path) for p in older.get("paths") or []]
            if not paths or any(not p.exists() for p in expand_inputs(paths)):
                logger.warning("replay source %d of %s (%s) is not readable here; skipped", i,
                               old.path, older.get("paths"))
                continue
            opts = older.get("read_options") or {}
            options = ReadOptions(**{k: opts[k] for k in _READ_FIELDS if k in opts}, labels_required=True)
            loaded = load_passages(paths, options, taxonomy=None, on_error="skip")
            if older.get("carved_dev"):
                cd = older["carved_dev"]
                loaded.passages = split_passages(
                    loaded.passages, ratios={"train": 1 - cd["ratio"], "dev": cd["ratio"]},
                    group_by=cd["group_by"], seed=cd["seed"])["train"]
            rec = dict(older) | {"fingerprint": fingerprint(loaded.passages),
                                 "passages": len(loaded.passages)}
            out.append(_Split(loaded.passages, rec, list(older.get("labels") or old_ids)))
    for src in out:
        unknown = sorted({lab for p in src.passages for lab in p.labels or []} - set(old_ids))
        if unknown:
            src.passages = [Passage(**{**dataclasses.asdict(p), "labels": [
                lab for lab in p.labels or [] if lab in old_ids]}) for p in src.passages]
            logger.warning("replay data carries labels the old model lacks (%s); ignored", unknown)
        before = len(src.passages)
        src.passages = [p for p in src.passages if _overlap_key(p) not in new_keys]
        src.record["dropped_overlap"] = before - len(src.passages)
        src.record["used"] = len(src.passages)
    return out


# ---------------------------------------------------------------------------- tokenising

def _expand_long(passages: list[Passage], tokenizer: Any, max_length: int, mode: str,
                 *, what: str) -> tuple[list[Passage], np.ndarray, int]:
    """Cut records over the budget into passages; returns (pieces, piece->record index, n cut)."""
    budget = max_length - 2
    if mode == "truncate" or not passages:
        return list(passages), np.arange(len(passages)), 0
    counts = [len(x) for x in tokenizer([p.text for p in passages], add_special_tokens=False,
                                        return_attention_mask=False,
                                        return_token_type_ids=False)["input_ids"]]

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    pieces: list[Passage] = []
    owner: list[int] = []
    cut = 0
    for i, (p, n) in enumerate(zip(passages, counts)):
        parts = split_article(p, max_tokens=budget, count_tokens=count) if n > budget else [p]
        cut += len(parts) > 1
        pieces.extend(parts)
        owner.extend([i] * len(parts))
    if cut:
        logger.info("%s: %d record(s) over %d tokens cut into passages (%d pieces in all)",
                    what, cut, budget, len(pieces))
    return pieces, np.asarray(owner, dtype=np.int64), cut


class _Rows:
    """A map-style dataset of tokenised rows (a list of dicts), all the Trainer needs.

    Kept in memory as plain lists: passages are short and few (thousands), and the length-grouped
    sampler reads each row's ``input_ids`` length.
    """

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]


def _dataset(passages: list[Passage], taxonomy: Taxonomy, tokenizer: Any, max_length: int, *,
             single_label: bool, mask: np.ndarray | None = None) -> _Rows:
    """Tokenise passages (no padding: batches are padded by the collator) with their labels."""
    y = label_matrix(passages, taxonomy)
    if single_label:
        bad = [p.id for p, row in zip(passages, y) if row.sum() != 1]
        if bad:
            raise DataError(f"--single-label needs exactly one label per passage; {len(bad)} "
                            f"passage(s) have none or several, e.g. {bad[:5]}. Drop --single-label "
                            "for multi-label data.")
        labels: list[Any] = y.argmax(axis=1).astype(np.int64).tolist()
    else:
        labels = y.tolist()
    enc = tokenizer([p.text for p in passages], truncation=True, max_length=max_length) if passages else {}
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    rows = []
    for i in range(len(passages)):
        row: dict[str, Any] = {k: enc[k][i] for k in keys}
        row["labels"] = labels[i]
        row["row_index"] = i
        if mask is not None:
            row["label_mask"] = mask[i].tolist()
        rows.append(row)
    return _Rows(rows)


class _Collator:
    """Dynamic padding of the token fields; labels, row indices (and label masks) as tensors."""

    def __init__(self, tokenizer: Any, single_label: bool) -> None:
        self.tokenizer = tokenizer
        self.single_label = single_label

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in features[0]]
        batch = self.tokenizer.pad([{k: f[k] for k in keys} for f in features], padding=True,
                                   return_tensors="pt")
        dtype = torch.long if self.single_label else torch.float32
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=dtype)
        batch["row_index"] = torch.tensor([f["row_index"] for f in features], dtype=torch.long)
        if "label_mask" in features[0]:
            batch["label_mask"] = torch.tensor([f["label_mask"] for f in features], dtype=torch.float32)
        return dict(batch)


# ---------------------------------------------------------------------------- metrics

def _probs(logits: np.ndarray, single_label: bool) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    if single_label:
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -60, 60)))


def _aggregate(piece_probs: np.ndarray, owner: np.ndarray, n: int, single_label: bool) -> np.ndarray:
    if len(owner) == n and (owner == np.arange(n)).all():
        return piece_probs
    out = np.zeros((n, piece_probs.shape[1]))
    if single_label:
        np.add.at(out, owner, piece_probs)
        return out / np.maximum(np.bincount(owner, minlength=n), 1)[:, None]
    np.maximum.at(out, owner, piece_probs)
    return out


def _decide(probs: np.ndarray, thresholds: np.ndarray, single_label: bool) -> np.ndarray:
    if single_label:
        pred = np.zeros(probs.shape, dtype=bool)
        if len(probs):
            pred[np.arange(len(probs)), probs.argmax(1)] = True
        return pred
    return probs >= thresholds[None, :]


def _quick_f1(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(macro-F1 over labels with gold or predicted positives, micro-F1)."""
    y = y.astype(bool)
    tp = (y & pred).sum(0)
    fp = (~y & pred).sum(0)
    fn = (y & ~pred).sum(0)
    den = 2 * tp + fp + fn
    macro = float(np.mean(2 * tp[den > 0] / den[den > 0])) if (den > 0).any() else 0.0
    micro = float(2 * tp.sum() / max(den.sum(), 1))
    return macro, micro


def _report(y: np.ndarray, probs: np.ndarray, taxonomy: Taxonomy, thresholds: np.ndarray,
            sources: list[str], *, single_label: bool) -> dict[str, Any]:
    """Overall and per-label metrics at the stored decision rule."""
    from framescope.metrics import overall_metrics, per_label_metrics

    pred = _decide(probs, thresholds, single_label)
    ids = taxonomy.ids
    overall = overall_metrics(y.astype(bool), pred, ids)
    per = per_label_metrics(y.astype(bool), probs, pred, ids, thresholds=thresholds.tolist(),
                            threshold_sources=sources)
    keep = ("precision", "recall", "f1", "support", "predicted", "roc_auc", "average_precision",
            "threshold", "threshold_source")
    out = {k: overall[k] for k in ("units", "macro_f1", "micro_f1", "macro_precision", "macro_recall",
                                   "weighted_f1", "samples_f1", "subset_accuracy", "macro_f1_labels")}
    out["per_label"] = {lab: {k: _round(v.get(k)) for k in keep} for lab, v in per.items()}
    if single_label:
        out["accuracy"] = float((probs.argmax(1) == y.argmax(1)).mean()) if len(y) else None
    return {k: _round(v) for k, v in out.items()}


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    return v


# ---------------------------------------------------------------------------- result

@dataclass
class TrainResult:
    """What :func:`train` did: the artifact folder, its metadata and timings."""

    path: Path
    meta: dict[str, Any]
    seconds: float
    artifact: Artifact | None = None
    #: False on the other processes of a distributed run (only the main one saves and reports)
    main_process: bool = True

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta.get("metrics", {})

    def summary(self) -> str:
        """The one-screen summary printed at the end of ``framescope train``."""
        return format_summary(self.meta, self.path, self.seconds)


def _f(v: Any, nd: int = 3) -> str:
    return "  -  " if v is None else f"{v:.{nd}f}"


def format_summary(meta: dict[str, Any], path: Path | str, seconds: float) -> str:
    """A one-screen text summary of a trained artifact (time, best epoch, dev/test F1, labels)."""
    tr = meta.get("training", {})
    data = meta.get("data", {})
    m = meta.get("metrics", {})
    dev, test = m.get("dev", {}), m.get("test")
    lines = [f"framescope train: {path}  ({len(meta['taxonomy']['labels'])} labels, "
             f"{meta.get('problem_type')}, base {meta.get('base_model', {}).get('name')}, "
             f"{tr.get('precision')} on {tr.get('device')})"]
    rep = sum(int(r.get("used", r.get("passages", 0))) for r in data.get("replay") or [])
    dev_src = "carved from train" if (data.get("dev") or {}).get("carved_from") else "given"
    lines.append(f"data     train {tr.get('train_passages')} passages"
                 + (f" + {rep} replayed" if rep else "")
                 + f", dev {dev.get('units')} ({dev_src})"
                 + (f", test {test.get('units')}" if test else ""))
    stop = "early stop" if tr.get("stopped_early") else "all epochs"
    lines.append(f"time     {seconds:.1f} s in all, training {tr.get('train_seconds', 0):.1f} s; best "
                 f"epoch {tr.get('best_epoch')} of {tr.get('epochs_run')} ({stop}, patience "
                 f"{tr.get('config', {}).get('patience')})")
    lines.append(f"dev      macro-F1 {_f(dev.get('macro_f1'))}  micro-F1 {_f(dev.get('micro_f1'))}  "
                 f"(thresholds tuned on dev: optimistic; at 0.5: macro {_f(dev.get('macro_f1_at_0.5'))})")
    if test:
        lines.append(f"test     macro-F1 {_f(test.get('macro_f1'))}  micro-F1 {_f(test.get('micro_f1'))}  "
                     "(held out, stored thresholds)")
    per_dev = dev.get("per_label", {})
    per_test = (test or {}).get("per_label", {})
    if per_dev:
        w = max(len(k) for k in per_dev) + 2
        lines.append(f"{'label':<{w}}{'dev n':>6}{'thr':>7}{'':>3}{'dev F1':>8}{'test F1':>9}")
        for lab, v in per_dev.items():
            src = "*" if v.get("threshold_source") == "default" else ""
            lines.append(f"{lab:<{w}}{v.get('support', 0):>6}{_f(v.get('threshold'), 2):>7}{src:>3}"
                         f"{_f(v.get('f1')):>8}{_f(per_test.get(lab, {}).get('f1')):>9}")
        if any(v.get("threshold_source") == "default" for v in per_dev.values()):
            lines.append(f"* fewer than {tr.get('config', {}).get('min_dev_positives')} dev positives: "
                         "threshold left at 0.5")
    if meta.get("lineage"):
        lines.append("lineage  " + " -> ".join(str(x.get("name")) for x in meta["lineage"])
                     + f" -> {meta.get('name')}")
    lines.append(f"saved    {path}  (model card {Path(path) / 'README.md'})")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- trainer pieces

#: Top-level module names of classification heads (BERT/MPNet ``classifier``, others ``score``...).


def probe_head(model: Any, dataset: Any, collate: Callable[[list[dict[str, Any]]], dict[str, Any]],
               y: np.ndarray, columns: Sequence[int], *, weights: np.ndarray | None = None,
               mask: np.ndarray | None = None, single_label: bool = False, batch_size: int = 64,
               progress: bool = False, C: float = 1.0) -> dict[str, Any]:
    """Initialise output-layer rows as a logistic-regression probe on the backbone's features.

    One forward pass (eval mode, no gradients, length-sorted batches) collects the input of the
    model's final linear layer for every training row; scikit-learn's
    :class:`~sklearn.linear_model.LogisticRegression` is then fitted per label (multi-label: one
    binary probe per column in ``columns``, positives weighted like the loss; rows whose
    ``mask`` is 0 for a label are left out of its probe) or once over all classes
    (``single_label``), and its coefficients become the layer's weights and bias. Fine-tuning
    then starts from a head that already separates the labels (linear probing, then
    fine-tuning; Kumar et al., ICLR 2022) instead of from noise, which matters when the CPU
    budget allows only a few epochs.

    Returns:
        What was done, for the artifact's record: method, rows fitted, rows skipped (a label
        with one class only keeps its initial row), seconds.
    """
    import torch
    from sklearn.linear_model import LogisticRegression
    from tqdm.auto import tqdm

    from framescope import modeling

    t0 = time.perf_counter()
    _, layer = modeling.output_layer(model)
    feats: list[Any] = [None] * len(dataset)
    captured: dict[str, Any] = {}
    hook = layer.register_forward_hook(lambda _m, inputs, _o: captured.__setitem__("x", inputs[0]))
    order = sorted(range(len(dataset)), key=lambda i: len(dataset[i]["input_ids"]))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    keys = ("input_ids", "attention_mask", "token_type_ids")
    try:
        with torch.no_grad():
            batches = range(0, len(order), batch_size)
            for start in tqdm(batches, desc="probe", unit="batch", disable=not progress, leave=False):
                idx = order[start:start + batch_size]
                batch = collate([dataset[i] for i in idx])
                model(**{k: v.to(device) for k, v in batch.items() if k in keys})
                x = captured["x"].float().cpu().numpy()
                for row, i in enumerate(idx):
                    feats[i] = x[row]
    finally:
        hook.remove()
        model.train(was_training)
    X = np.stack(feats).astype(np.float64)
    weight = layer.weight.detach().float().cpu().numpy().copy()
    bias = (layer.bias.detach().float().cpu().numpy().copy() if layer.bias is not None
            else np.zeros(weight.shape[0]))
    fitted: list[int] = []
    skipped: list[int] = []
    if single_label:
        target = y.argmax(axis=1) if y.ndim == 2 else np.asarray(y)
        present = np.unique(target)
        cw = None if weights is None else {int(c): float(weights[c]) for c in present}
        if len(present) >= 2:
            lr = LogisticRegression(C=C, max_iter=1000, class_weight=cw).fit(X, target)
            coef, icpt = lr.coef_, lr.intercept_
            if len(present) == 2:  # sklearn returns one row for two classes
                coef, icpt = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-icpt[0] / 2, icpt[0] / 2])
            for row, c in enumerate(present):
                if c in columns:
                    weight[c], bias[c] = coef[row], icpt[row]
                    fitted.append(int(c))
        skipped = [int(c) for c in columns if c not in fitted]
    else:
        for j in columns:
            rows = np.ones(len(X), dtype=bool) if mask is None else mask[:, j] > 0
            yj = y[rows, j]
            if yj.min() == yj.max():
                skipped.append(int(j))
                continue
            cw = {0: 1.0, 1: 1.0 if weights is None else float(weights[j])}
            lr = LogisticRegression(C=C, max_iter=1000, class_weight=cw).fit(X[rows], yj)
            weight[j], bias[j] = lr.coef_[0], lr.intercept_[0]
            fitted.append(int(j))
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype))
        if layer.bias is not None:
            layer.bias.copy_(torch.as_tensor(bias, dtype=layer.bias.dtype))
    return {"method": "probe", "C": C, "rows_fitted": len(fitted), "rows_skipped": skipped,
            "passages": len(X), "seconds": round(time.perf_counter() - t0, 2)}


def _make_trainer_class() -> type:
    import torch
    from transformers import Trainer

    from framescope import modeling

    class FramescopeTrainer(Trainer):
        """A :class:`~transformers.Trainer` with weighted, maskable BCE or weighted cross-entropy."""

        def __init__(self, *args: Any, pos_weight: np.ndarray | None = None,
                     single_label: bool = False, head_lr: float | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.fs_weight = None if pos_weight is None else torch.tensor(pos_weight)
            self.fs_single = single_label
            self.fs_head_lr = head_lr

        def create_optimizer(self, model: Any = None) -> Any:
            """The Trainer's AdamW, with the classification head in groups of its own learning rate."""
            opt = super().create_optimizer(model)
            if self.fs_head_lr is None or getattr(opt, "fs_split", False):
                return opt
            named = (self.model if model is None else model).named_parameters()
            head = {id(p) for n, p in named if n.split(".")[0] in modeling.HEAD_PREFIXES}
            groups = []
            for g in opt.param_groups:
                rest = {k: v for k, v in g.items() if k != "params"}
                body = [p for p in g["params"] if id(p) not in head]
                top = [p for p in g["params"] if id(p) in head]
                if body:
                    groups.append({**rest, "params": body})
                if top:
                    groups.append({**rest, "params": top, "lr": self.fs_head_lr})
            opt.param_groups.clear()
            for g in groups:
                opt.add_param_group(g)
            opt.fs_split = True
            return opt

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            labels = inputs.pop("labels")
            inputs.pop("row_index", None)
            mask = inputs.pop("label_mask", None)
            outputs = model(**inputs)
            logits = outputs.logits.float()
            weight = None if self.fs_weight is None else self.fs_weight.to(logits.device)
            if self.fs_single:
                loss = torch.nn.functional.cross_entropy(logits, labels, weight=weight)
            else:
                per = torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, labels.to(logits.dtype), pos_weight=weight, reduction="none")
                if mask is None:
                    loss = per.mean()
                else:
                    loss = (per * mask).sum() / mask.sum().clamp(min=1.0)
            return (loss, outputs) if return_outputs else loss

    return FramescopeTrainer


def _make_callbacks(model: Any, state_box: dict[str, Any], patience: int, progress: bool,
                    total_epochs: float) -> list[Any]:
    from transformers import TrainerCallback

    class KeepBest(TrainerCallback):
        """Keep the best dev state in memory; stop after ``patience`` epochs without gain."""

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None,
                        **kwargs: Any) -> None:
            if not metrics or "eval_macro_f1" not in metrics:
                return
            value = float(metrics["eval_macro_f1"])
            epoch = round(state.epoch or 0)
            entry = {"epoch": epoch, "dev_macro_f1": round(value, 6),
                     "dev_micro_f1": round(float(metrics.get("eval_micro_f1", 0.0)), 6),
                     "train_loss": state_box.get("last_loss"),
                     "dev_loss": round(float(metrics["eval_loss"]), 6) if "eval_loss" in metrics else None}
            # better dev macro-F1 wins; on a tie, the lower dev loss
            key = (round(value, 6), -float(metrics.get("eval_loss", 0.0)))
            improved = state_box["best_key"] is None or key > state_box["best_key"]
            entry["best"] = improved
            state_box["history"].append(entry)
            if improved:
                state_box.update(best=value, best_key=key, best_epoch=epoch, best_probs=state_box["last_probs"],
                                 best_state={k: v.detach().to("cpu", copy=True)
                                             for k, v in model.state_dict().items()}, waited=0)
            else:
                state_box["waited"] += 1
                if patience and state_box["waited"] >= patience and epoch < total_epochs - 1e-6:
                    control.should_training_stop = True
                    state_box["stopped_early"] = True

    class Progress(TrainerCallback):
        """A progress bar with ETA and one line per epoch (instead of raw log dicts)."""

        def __init__(self) -> None:
            self.bar: Any = None
            self.seen = 0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress and state.is_world_process_zero:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=state.max_steps, desc="training", unit="step", dynamic_ncols=True)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.update(state.global_step - self.seen)
                self.seen = state.global_step

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None,
                   **kwargs: Any) -> None:
            if logs and "loss" in logs:
                state_box["last_loss"] = round(float(logs["loss"]), 6)

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None,
                        **kwargs: Any) -> None:
            if self.bar is None or not metrics or "eval_macro_f1" not in metrics:
                return
            h = state_box["history"][-1] if state_box["history"] else {}
            mark = "  *best*" if h.get("best") else ""
            loss = state_box.get("last_loss")
            self.bar.write(f"epoch {h.get('epoch', '?')}/{math.ceil(total_epochs)}: train loss "
                           f"{'-' if loss is None else f'{loss:.4f}'}  dev loss "
                           f"{metrics.get('eval_loss', float('nan')):.4f}  dev macro-F1 "
                           f"{metrics['eval_macro_f1']:.3f}  micro-F1 "
                           f"{metrics.get('eval_micro_f1', 0):.3f}{mark}")

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    # the evaluation's own callback order matters: KeepBest records history before Progress prints
    return [KeepBest(), Progress()]


# ---------------------------------------------------------------------------- the pipeline

def _resolve_taxonomy(cfg: TrainConfig, old: Artifact | None, *, seed_data: bool = False) -> Taxonomy | str | None:
    """The taxonomy to read the training data with (``"infer"`` or ``None`` = decided later);
    the default taxonomy for the bundled seed data, inferred from the data otherwise."""
    if old is not None:
        return None if cfg.taxonomy in (None, "infer") else (
            load_taxonomy(DEFAULT_TAXONOMY) if cfg.taxonomy == "default" else load_taxonomy(cfg.taxonomy))
    if cfg.taxonomy is None:
        return load_taxonomy(DEFAULT_TAXONOMY) if seed_data else "infer"
    if cfg.taxonomy == "infer":
        return "infer"
    if cfg.taxonomy == "default":
        return load_taxonomy(DEFAULT_TAXONOMY)
    return load_taxonomy(cfg.taxonomy)


def _grown_taxonomy(old: Taxonomy, given: Taxonomy | None, passages: Sequence[Passage]) -> Taxonomy:
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


def _freeze(model: Any, embeddings: bool, layers: int | None) -> tuple[int, int]:
    """Freeze the word embeddings and/or the embedding block plus the lowest ``layers`` layers
    (``None``: half of them); returns (layers frozen, parameters frozen)."""
    import torch

    before = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    if embeddings:
        emb = model.get_input_embeddings()
        if emb is not None:
            emb.weight.requires_grad_(False)
    n_layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if layers is None:
        layers = n_layers // 2
    if layers:
        base = getattr(model, model.base_model_prefix, model)
        stacks = [m for m in base.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == n_layers]
        if not stacks:
            raise DataError(f"--freeze-layers: cannot find the {n_layers} transformer layers of "
                            f"{type(model).__name__}; use --freeze-layers 0")
        if layers >= n_layers:
            raise DataError(f"--freeze-layers {layers} would freeze all {n_layers} layers; use at "
                            f"most {n_layers - 1}")
        emb_block = getattr(base, "embeddings", None)
        if emb_block is not None:
            emb_block.requires_grad_(False)
        for layer in stacks[0][:layers]:
            layer.requires_grad_(False)
    return layers, sum(p.numel() for p in model.parameters() if not p.requires_grad) - before


def _default_paths(cfg: TrainConfig) -> TrainConfig:
    if not cfg.uses_seed_data:
        return cfg
    train = SEED_DIR / "train.jsonl"
    if not train.exists():
        raise DataError(f"the bundled seed data {train} is missing; pass --train PATH "
                        "(and --dev/--test), or restore data/seed/")
    dev = [str(SEED_DIR / "dev.jsonl")] if (SEED_DIR / "dev.jsonl").exists() else []
    test = [str(SEED_DIR / "test.jsonl")] if (SEED_DIR / "test.jsonl").exists() else []
    return dataclasses.replace(cfg, train=[str(train)], dev=cfg.dev or dev, test=cfg.test or test)


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
    t_start = time.perf_counter()
    rank0 = int(os.environ.get("RANK", "0") or 0) == 0  # torchrun / accelerate launch set RANK
    say: Callable[[str], None] = (echo or logger.info) if rank0 else (lambda _line: None)
    from framescope import modeling

    modeling._quiet_transformers()
    import torch
    import transformers
    from transformers import TrainingArguments, set_seed

    seed_data = config.uses_seed_data  # decided before the seed paths are filled in
    cfg = _default_paths(config)
    given_max_length = cfg.max_length
    old: Artifact | None = None
    if cfg.from_model:
        old = modeling.load_artifact(cfg.from_model)
        if old.single_label != cfg.single_label:
            raise DataError(f"{cfg.from_model} is a {old.meta.get('problem_type')} model; "
                            f"{'add' if old.single_label else 'drop'} --single-label to continue it")
    if not cfg.train:
        raise DataError("continued training needs new data: pass --train PATH")

    # ------------------------------------------------------------------ data
    tax_arg = _resolve_taxonomy(cfg, old, seed_data=seed_data)
    options = cfg.read_options()
    if old is not None:
        train_data = _read(cfg.train, cfg, tax_arg if isinstance(tax_arg, Taxonomy) else None,
                           what="train", options=options)
        taxonomy = _grown_taxonomy(old.taxonomy, tax_arg if isinstance(tax_arg, Taxonomy) else None,
                                   train_data.passages)
    else:
        train_data = _read(cfg.train, cfg, tax_arg, what="train", options=options)
        taxonomy = train_data.taxonomy if train_data.taxonomy is not None else tax_arg  # type: ignore[assignment]
    assert isinstance(taxonomy, Taxonomy)
    train_record = _source_record(cfg.train, options, train_data) | {"labels": taxonomy.ids}
    train_passages = train_data.passages
    if cfg.dev:
        dev_data = _read(cfg.dev, cfg, taxonomy, what="dev", options=options)
        dev_passages = dev_data.passages
        dev_record = _source_record(cfg.dev, options, dev_data)
    else:
        train_passages, dev_passages, carve = _carve_dev(train_passages, cfg)
        dev_record = {"paths": [], **carve, "fingerprint": fingerprint(dev_passages),
                      "passages": len(dev_passages)}
        train_record["carved_dev"] = carve
        say(f"no --dev: carved {len(dev_passages)} dev passages ({cfg.dev_ratio:.0%} of the groups "
            f"by {cfg.group_by}, stratified, seed {cfg.seed}) from {len(train_data.passages)} training passages")
    train_record["used"] = len(train_passages)
    train_record["used_fingerprint"] = fingerprint(train_passages)
    test_passages: list[Passage] = []
    test_record: dict[str, Any] | None = None
    if cfg.test:
        test_data = _read(cfg.test, cfg, taxonomy, what="test", options=options)
        test_passages = test_data.passages
        test_record = _source_record(cfg.test, options, test_data)
    held_out = {_overlap_key(p) for p in dev_passages} | {_overlap_key(p) for p in test_passages}
    leaked = sum(_overlap_key(p) in held_out for p in train_passages)
    if leaked:
        logger.warning("%d training passage(s) also occur (same text) in dev/test; their "
                       "scores are optimistic", leaked)

    replay: list[_Split] = []
    if old is not None:
        replay = _replay_sources(old, cfg, {_overlap_key(p) for p in train_passages} | held_out)
        added = [lab for lab in taxonomy.ids if lab not in old.taxonomy.ids]
        say(f"continuing {old.path}: {len(old.taxonomy)} old labels + {len(added)} new "
            f"({', '.join(added) or 'none'}); replaying "
            f"{sum(len(r.passages) for r in replay)} old passages")

    # ------------------------------------------------------------------ model
    set_seed(cfg.seed)
    if old is not None:
        model, tokenizer = old.model, old.tokenizer
        base_info = dict(old.meta.get("base_model") or {})
        modeling.grow_head(model, old.taxonomy, taxonomy, seed=cfg.seed)
        max_length = int(given_max_length or old.max_length)
    else:
        base_dir = modeling.resolve_base(cfg.base)
        model, tokenizer = modeling.build_model(base_dir, taxonomy, single_label=cfg.single_label)
        base_info = {"name": cfg.base or modeling.DEFAULT_BASE, "path": portable_path(base_dir)}
        max_length = int(given_max_length or 128)
    limit = min(int(getattr(model.config, "max_position_embeddings", 512) or 512),
                int(tokenizer.model_max_length if tokenizer.model_max_length < 1e6 else 512))
    if max_length > limit:
        logger.warning("max_length %d exceeds the backbone's limit; using %d", max_length, limit)
        max_length = limit
    frozen_layers, frozen = _freeze(model, cfg.freeze_embeddings, cfg.freeze_layers)
    model.train()

    # ------------------------------------------------------------------ datasets
    n_old = len(old.taxonomy) if old is not None else len(taxonomy)
    tr_pieces, _, tr_cut = _expand_long(train_passages, tokenizer, max_length, cfg.long_records, what="train")
    pieces = list(tr_pieces)
    mask_rows: list[np.ndarray] = [np.ones((len(tr_pieces), len(taxonomy)), dtype=np.float32)]
    for src in replay:
        rp, _, _ = _expand_long(src.passages, tokenizer, max_length, cfg.long_records, what="replay")
        m = np.zeros((len(rp), len(taxonomy)), dtype=np.float32)
        cols = [taxonomy.index[lab] for lab in (src.annotated or taxonomy.ids[:n_old]) if lab in taxonomy.index]
        m[:, cols] = 1.0
        pieces.extend(rp)
        mask_rows.append(m)
    mask = np.concatenate(mask_rows) if replay else None
    if mask is not None and mask.min() == 1.0:
        mask = None
    dev_pieces, dev_owner, dev_cut = _expand_long(dev_passages, tokenizer, max_length,
                                                  cfg.long_records, what="dev")
    y_train = label_matrix(pieces, taxonomy)
    weights = label_weights(y_train, mask, mode=cfg.pos_weight, single_label=cfg.single_label)
    train_ds = _dataset(pieces, taxonomy, tokenizer, max_length, single_label=cfg.single_label, mask=mask)
    dev_ds = _dataset(dev_pieces, taxonomy, tokenizer, max_length, single_label=cfg.single_label)
    y_dev = label_matrix(dev_passages, taxonomy)
    positives = {lab: int(y_train[:, j].sum()) for j, lab in enumerate(taxonomy.ids)}
    missing_pos = [lab for lab, n in positives.items() if n == 0]
    if missing_pos:
        logger.warning("labels without a single training positive (the model cannot learn them): %s",
                       ", ".join(missing_pos))

    # ------------------------------------------------------------------ trainer
    precision, why = choose_precision(cfg.precision)
    on_gpu = torch.cuda.is_available()
    steps_per_epoch = math.ceil(len(train_ds) / cfg.batch_size)
    total_steps = max(1, math.ceil(steps_per_epoch * cfg.epochs))
    box: dict[str, Any] = {"best": -1.0, "best_key": None, "best_epoch": None, "best_state": None, "best_probs": None,
                           "last_probs": None, "history": [], "waited": 0, "stopped_early": False}
    single = cfg.single_label
    head_lr = cfg.head_lr if cfg.head_lr is not None else (cfg.lr if cfg.head_init == "probe" else 10 * cfg.lr)
    probe: dict[str, Any] | None = None
    if cfg.head_init == "probe":
        fit = list(range(n_old, len(taxonomy))) if old is not None else list(range(len(taxonomy)))
        if fit:
            say(f"fitting {len(fit)} head row(s) as a linear probe on the backbone's features "
                f"({len(train_ds)} passages)")
            probe = probe_head(model, train_ds, _Collator(tokenizer, cfg.single_label), y_train,
                               fit, weights=weights, mask=mask, single_label=cfg.single_label,
                               batch_size=cfg.eval_batch_size, progress=progress)

    def compute_metrics(pred: Any) -> dict[str, float]:
        probs = _aggregate(_probs(_in_order(pred), single), dev_owner, len(dev_passages), single)
        box["last_probs"] = probs
        decided = _decide(probs, np.full(len(taxonomy), 0.5), single)
        macro, micro = _quick_f1(y_dev, decided)
        return {"macro_f1": macro, "micro_f1": micro}

    with tempfile.TemporaryDirectory(prefix="framescope-train-") as scratch:
        args = _training_args(TrainingArguments, scratch, cfg, total_steps, precision, on_gpu,
                              progress)
        trainer_cls = _make_trainer_class()
        trainer = trainer_cls(model=model, args=args, train_dataset=train_ds, eval_dataset=dev_ds,
                              data_collator=_Collator(tokenizer, single),
                              compute_metrics=compute_metrics, pos_weight=weights, single_label=single,
                              head_lr=head_lr)
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
        for cb in _make_callbacks(model, box, cfg.patience, progress, cfg.epochs):
            trainer.add_callback(cb)
        say(f"training {len(train_ds)} passages ({len(train_passages)} new"
            + (f" + {len(train_ds) - len(tr_pieces)} replayed" if replay else "")
            + f"), dev {len(dev_passages)}, {len(taxonomy)} labels, up to {cfg.epochs:g} epochs x "
            f"{steps_per_epoch} steps, {precision} on {'cuda' if on_gpu else 'cpu'} ({why})")
        t_train = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - t_train
        if box["best_state"] is not None:
            model.load_state_dict(box["best_state"])
        dev_probs = box["best_probs"]
        is_main = trainer.is_world_process_zero()

        # -------------------------------------------------------------- thresholds + metrics
        if single:
            thresholds = np.full(len(taxonomy), 0.5)
            sources = ["default"] * len(taxonomy)
        else:
            thresholds, sources = tune_thresholds(y_dev, dev_probs, min_positives=cfg.min_dev_positives)
        dev_metrics = _report(y_dev, dev_probs, taxonomy, thresholds, sources, single_label=single)
        at_half = _quick_f1(y_dev, _decide(dev_probs, np.full(len(taxonomy), 0.5), single))
        dev_metrics["macro_f1_at_0.5"] = round(at_half[0], 6)
        dev_metrics["micro_f1_at_0.5"] = round(at_half[1], 6)
        dev_metrics["note"] = ("thresholds were tuned on this dev set, so these figures are "
                               "optimistic; see metrics.test or `framescope evaluate`")
        test_metrics = None
        if test_passages:
            te_pieces, te_owner, _ = _expand_long(test_passages, tokenizer, max_length,
                                                  cfg.long_records, what="test")
            te_ds = _dataset(te_pieces, taxonomy, tokenizer, max_length, single_label=single)
            trainer.compute_metrics = None  # dev metrics only; the test set is scored below
            out = trainer.predict(te_ds)
            logits = _in_order(out)
            te_probs = _aggregate(_probs(logits, single), te_owner, len(test_passages), single)
            test_metrics = _report(label_matrix(test_passages, taxonomy), te_probs, taxonomy,
                                   thresholds, sources, single_label=single)
    model.eval()

    # ------------------------------------------------------------------ artifact
    import accelerate

    vers = modeling.versions() | {"accelerate": accelerate.__version__, "numpy": np.__version__,
                                  "python": platform.python_version()}
    lineage: list[dict[str, Any]] = []
    if old is not None:
        previous = {"name": old.name, "path": portable_path(old.path or cfg.from_model or ""),
                    "fingerprint": old.fingerprint, "labels": old.taxonomy.ids,
                    "created": old.meta.get("created"),
                    "dev_macro_f1": ((old.meta.get("metrics") or {}).get("dev") or {}).get("macro_f1")}
        lineage = [*(old.meta.get("lineage") or []), previous]
    config_dict = cfg.to_dict()
    config_dict["max_length"] = max_length
    config_dict["freeze_layers"] = frozen_layers
    config_dict["head_lr"] = head_lr
    n_epochs_run = max((h["epoch"] for h in box["history"]), default=0)
    meta: dict[str, Any] = {
        "format_version": modeling.FORMAT_VERSION,
        "name": Path(cfg.out).name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base_model": base_info,
        "problem_type": "single_label" if single else "multi_label",
        "threshold_source": dict(zip(taxonomy.ids, sources)),
        "max_length": max_length,
        "training": {
            "config": config_dict,
            "precision": precision, "precision_reason": why,
            "device": "cuda" if on_gpu else "cpu",
            "world_size": int(trainer.args.world_size),
            "train_passages": len(train_ds), "new_passages": len(tr_pieces),
            "frozen_parameters": frozen,
            "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "records_cut_into_passages": {"train": tr_cut, "dev": dev_cut},
            "steps_per_epoch": steps_per_epoch, "epochs_run": n_epochs_run,
            "best_epoch": box["best_epoch"], "stopped_early": box["stopped_early"],
            "history": box["history"], "train_seconds": round(train_seconds, 2),
            "head_init": probe or {"method": "kept" if old is not None and cfg.head_init == "probe"
                                   else "random"},
            "label_weights": (None if weights is None else
                              dict(zip(taxonomy.ids, [round(float(w), 4) for w in weights]))),
            "loss": ("cross-entropy" if single else "binary cross-entropy with logits")
                    + ("" if weights is None else f", weights: {cfg.pos_weight}")
                    + (", masked for labels the replayed data was not annotated for" if mask is not None else ""),
            "train_positives": positives,
            "selection": ("epoch with the best dev macro-F1 at threshold 0.5" if not single else
                          "epoch with the best dev macro-F1 (argmax)") + ", ties broken by dev loss",
            "transformers_trainer": transformers.__version__,
        },
        "data": {"train": train_record, "dev": dev_record,
                 **({"test": test_record} if test_record else {}),
                 "replay": [r.record for r in replay]},
        "metrics": {"dev": dev_metrics, **({"test": test_metrics} if test_metrics else {})},
        "versions": vers,
        "seed": cfg.seed,
        "lineage": lineage,
    }
    thr = {lab: float(t) for lab, t in zip(taxonomy.ids, thresholds)}
    artifact = modeling.Artifact(model, tokenizer, taxonomy, thr, meta)
    out_path = Path(cfg.out)
    if is_main:
        from framescope.model_card import render_model_card

        meta_for_card = dict(meta, taxonomy=taxonomy.to_dict(), thresholds=thr)
        modeling.save_artifact(artifact, out_path, card=render_model_card(meta_for_card))
    seconds = time.perf_counter() - t_start
    return TrainResult(out_path, artifact.meta, seconds, artifact, main_process=is_main)


def _in_order(pred: Any) -> np.ndarray:
    """Logits in dataset order: the Trainer may batch evaluation rows by length (and shards them
    across processes), so each row carries its index as a second label and is put back here."""
    logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
    index = np.asarray(pred.label_ids[1]).reshape(-1)
    out = np.empty_like(logits)
    out[index] = logits
    if len(index) != len(logits) or len(np.unique(index)) != len(index):
        raise RuntimeError(f"evaluation returned {len(logits)} rows with {len(np.unique(index))} "
                           "distinct row indices; cannot align predictions with the data")
    return out


def _training_args(cls: Any, scratch: str, cfg: TrainConfig, total_steps: int, precision: str,
                   on_gpu: bool, progress: bool) -> Any:
    """The :class:`~transformers.TrainingArguments` of a run (no checkpoints are written)."""
    names = {f.name for f in dataclasses.fields(cls)}
    # length-grouped batches: `train_sampling_strategy` in recent transformers, a flag before
    grouping = ({"train_sampling_strategy": "group_by_length"} if "train_sampling_strategy" in names
                else {"group_by_length": True})
    return cls(
        output_dir=scratch, num_train_epochs=cfg.epochs, learning_rate=cfg.lr,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.eval_batch_size,
        weight_decay=cfg.weight_decay, warmup_steps=round(cfg.warmup_ratio * total_steps),
        lr_scheduler_type="linear", eval_strategy="epoch", save_strategy="no",
        logging_strategy="epoch", report_to="none", seed=cfg.seed, data_seed=cfg.seed,
        bf16=precision == "bf16", use_cpu=not on_gpu, remove_unused_columns=False,
        label_names=["labels", "row_index"], disable_tqdm=not progress, dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
        log_level="error", **grouping,
    )
