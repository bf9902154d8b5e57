"""The one config schema of training: ``framescope train`` flags and ``--config`` files.

Every field of :class:`TrainConfig` is a flag (``batch_size`` is ``--batch-size``,
``from_model`` is ``--from``) and a key of a JSON/YAML config file; the final config is saved
as ``training.config`` in the model's ``framescope.json``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framescope.data.errors import DataError
from framescope.data.records import ReadOptions
from framescope.thresholds import POLICIES

__all__ = ["DEFAULT_OUT", "RECORD_LOSSES", "TrainConfig"]

#: Where ``framescope train`` writes the default model.
DEFAULT_OUT = "models/default"
#: ``--epochs`` auto: the cap on your own data (early stopping decides), and the fixed count for
#: the bundled seed data and for ``--from`` warm starts.
AUTO_EPOCHS_CAP = 10.0
AUTO_EPOCHS_FIXED = 2.0
#: ``--record-loss``: per passage (inherited labels), or multiple-instance over a record's passages.
RECORD_LOSSES = ("pieces", "max", "noisy-or", "mean")


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
    epochs: float | None = field(default=None, metadata=_opt(
        "maximum training epochs (default: auto: up to 10 on your own data, stopping once dev "
        "macro-F1 has not improved for --patience epochs; 2 on the bundled seed data, whose recipe "
        "is fixed, and with --from, whose warm start needs few)"))
    max_minutes: float | None = field(default=None, metadata=_opt(
        "time budget: no new epoch starts after this many minutes of training, and the best "
        "epoch so far is kept (default: none)", metavar="MIN"))
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
    long_records: str = field(default="cut", metadata=_opt(
        "records over the token budget: 'cut' into passages (training pieces inherit the "
        "labels; dev/test scores combine the pieces' scores, see framescope.inference) or "
        "'truncate' (default: cut)", choices=("cut", "truncate"), aliases={"split": "cut"}))
    record_loss: str = field(default="pieces", metadata=_opt(
        "how a record cut into several passages is trained: 'pieces' (every passage inherits the "
        "record's labels and is an example of its own) or, multiple-instance, 'max' / 'noisy-or' "
        "/ 'mean' (the loss is taken on the record's score, the max, noisy-OR 1 - prod(1 - p) or "
        "mean of its passages' scores, so one passage can carry a label the rest of the record "
        "lacks (max, noisy-or) or a label is judged on the whole record (mean); the "
        "model then combines passage scores the same way when it scores). Multi-label models "
        "with --long-records cut only (default: pieces)", choices=RECORD_LOSSES))
    pos_weight: str = field(default="auto", metadata=_opt(
        "class-imbalance weights: 'auto' (sqrt(negatives/positives) per label, capped at 10; "
        "class weights for --single-label), 'balanced' (negatives/positives, capped at 50) or "
        "'none' (default: auto)", choices=("auto", "balanced", "none")))
    min_dev_positives: int = field(default=5, metadata=_opt(
        "dev positives a label needs for a tuned threshold; others keep 0.5 (default: 5)"))
    threshold_policy: str = field(default="tuned", metadata=_opt(
        "how per-label thresholds are chosen on dev: 'tuned' (maximise dev F1), 'shrunk' (the "
        "tuned value pulled toward 0.5 by --threshold-shrink pseudo-positives, so a label with "
        "few dev positives moves less), 'bootstrap' (median over bootstrap resamples of dev), "
        "'global' (one cut-off for all labels, maximising dev micro-F1) or "
        "'fixed' (0.5 for all) (default: tuned)", choices=POLICIES))
    threshold_shrink: float = field(default=20.0, metadata=_opt(
        "pseudo-positives of the 'shrunk' threshold policy (default: 20)"))
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
    delimiter: str | None = field(default=None, metadata={"common": True})
    max_record_chars: int = field(default=50_000_000, metadata={"common": True})
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

        if self.epochs is not None and (isinstance(self.epochs, bool) or self.epochs <= 0):
            raise bad("epochs", "a positive number")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise bad("max_minutes", "a positive number of minutes (or None: no budget)")
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
        if self.threshold_shrink < 0:
            raise bad("threshold_shrink", "a number >= 0")
        if self.long_records == "split":  # the name before 0.2 ("split" now means a data split)
            self.long_records = "cut"
        for name, choices in (("precision", ("auto", "fp32", "bf16")), ("long_records", ("cut", "truncate")),
                              ("threshold_policy", POLICIES),
                              ("pos_weight", ("auto", "balanced", "none")), ("on_error", ("stop", "skip")),
                              ("head_init", ("probe", "random")), ("record_loss", RECORD_LOSSES)):
            if getattr(self, name) not in choices:
                raise bad(name, "one of " + ", ".join(choices))
        if self.record_loss != "pieces" and self.single_label:
            raise ValueError(f"--record-loss {self.record_loss} (multiple-instance) needs a multi-label "
                             "model: drop --single-label, or use --record-loss pieces.")
        if self.record_loss != "pieces" and self.long_records != "cut":
            raise ValueError(f"--record-loss {self.record_loss} trains on a record's passages, so it "
                             "needs --long-records cut (the default); drop --long-records truncate.")
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
        """How the training data is read (labels required)."""
        return ReadOptions(format=self.format, text_column=self.text_column,
                           labels_column=self.labels_column, id_column=self.id_column,
                           labels_sep=self.labels_sep, labels_required=True,
                           delimiter="\t" if self.delimiter in ("\\t", "tab") else self.delimiter,
                           max_record_chars=self.max_record_chars)

    def auto_epochs(self) -> tuple[float, str]:
        """The epoch cap this run uses and the rule that chose it (recorded in framescope.json)."""
        if self.epochs is not None:
            return float(self.epochs), "given"
        if self.uses_seed_data:
            return AUTO_EPOCHS_FIXED, f"auto: {AUTO_EPOCHS_FIXED:g} (the bundled seed data's fixed recipe)"
        if self.from_model:
            return AUTO_EPOCHS_FIXED, f"auto: {AUTO_EPOCHS_FIXED:g} (--from: a warm start)"
        return AUTO_EPOCHS_CAP, (f"auto: up to {AUTO_EPOCHS_CAP:g}, early stopping after {self.patience} "
                                 "epochs without a better dev macro-F1")

    @property
    def uses_seed_data(self) -> bool:
        """No data arguments: the bundled seed data is used."""
        return not self.train and not self.from_model


