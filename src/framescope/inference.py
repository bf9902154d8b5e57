"""The one passage path: cut records into passages, predict, combine piece scores, decide labels.

Training (its dev metrics), ``framescope evaluate``, ``framescope score`` (local and Ray
engines) and ``framescope serve`` all go through these functions, so a figure recorded at
training time and the same figure from ``evaluate`` are computed the same way.

The four steps:

1. **Cut** (:func:`cut_records`): a record longer than the model's window (``max_length`` minus
   the tokenizer's special tokens, :func:`passage_budget`) is cut into passages with
   :func:`framescope.data.cut_article` (paragraphs, long paragraphs into sentence windows; exact
   offsets). With ``paragraphs=True`` (scoring feeds) every article is cut into its paragraphs
   even when it fits, so scored rows are paragraph-sized.
2. **Predict** (:func:`predict_proba`): token-length-sorted batches, dynamic padding, inference
   mode, at a precision of :mod:`framescope.runtime`; :func:`probabilities` turns logits into
   scores (sigmoid for multi-label models, softmax for single-label ones, in float64).
3. **Combine** (:func:`combine`): a record's (or an article's) scores from its pieces' scores.
   Multi-label: ``max`` by default (a frame present in any passage is present in the record;
   ``noisy-or`` = ``1 - prod(1 - p)`` is optional, and the default of a model trained with
   ``--record-loss noisy-or``; :attr:`framescope.modeling.Artifact.combine`). Single-label: ``mean`` (the average of the
   pieces' class distributions is itself a distribution, and every piece votes with its
   confidence; the max of softmax columns would not sum to one and lets one confident piece
   decide alone).
4. **Decide** (:func:`decide`): multi-label, ``score >= threshold`` per label; single-label,
   the argmax.

Scores that are written out are rounded to :data:`SCORE_DIGITS` decimals and decisions are made
on the rounded values (:class:`PassageScorer`), so anyone can reproduce a row's labels from its
scores and the model's thresholds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from framescope.data.passages import cut_article, fits
from framescope.data.schema import Passage
from framescope.modeling import COMBINE_RULES, Artifact, default_combine

__all__ = [
    "COMBINE_RULES",
    "SCORE_DIGITS",
    "ChunkResult",
    "PassageScorer",
    "Pieces",
    "Prediction",
    "article_fuser",
    "combine",
    "cut_records",
    "decide",
    "decisions_of",
    "default_combine",
    "embed",
    "label_lists",
    "model_stamp",
    "passage_budget",
    "predict",
    "predict_proba",
    "predict_records",
    "probabilities",
    "record_decisions",
    "record_scores",
    "token_counter",
]

#: Decimals kept in written scores (labels are decided on the written values).
SCORE_DIGITS = 7
#: Texts tokenized per call in :func:`predict_proba` (the ids are kept, the rest is freed).
TOKENIZE_SLICE = 256


# --------------------------------------------------------------------------- scores and decisions


def probabilities(logits: np.ndarray, *, single_label: bool) -> np.ndarray:
    """Scores from logits, in float64: softmax over classes (single-label) or a sigmoid per label.

    Example:
        >>> probabilities(np.array([[0.0, 0.0]]), single_label=True).tolist()
        [[0.5, 0.5]]
    """
    logits = np.asarray(logits, dtype=np.float64)
    if single_label:
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))


def decide(probs: np.ndarray, thresholds: Sequence[float] | np.ndarray, *,
           single_label: bool) -> np.ndarray:
    """Boolean decisions ``(n, n_labels)``: ``probs >= thresholds`` (multi-label) or the argmax
    (single-label; ``thresholds`` is then ignored).

    Example:
        >>> decide(np.array([[0.6, 0.4]]), [0.5, 0.5], single_label=False).tolist()
        [[True, False]]
    """
    probs = np.asarray(probs)
    if single_label:
        out = np.zeros(probs.shape, dtype=bool)
        if len(probs):
            out[np.arange(len(probs)), probs.argmax(axis=1)] = True
        return out
    return probs >= np.asarray(thresholds, dtype=np.float64)[None, :]


def combine(piece_probs: np.ndarray, owner: np.ndarray | Sequence[int], n_units: int,
            method: str = "max") -> np.ndarray:
    """Unit scores ``(n_units, n_labels)`` from piece scores; ``owner[i]`` is piece i's unit.

    ``max``, ``noisy-or`` (``1 - prod(1 - p)``) or ``mean``. A unit without pieces scores 0.

    Example:
        >>> p = np.array([[0.5], [0.5], [0.2]])
        >>> combine(p, [0, 0, 1], 2, "noisy-or").round(6).ravel().tolist()
        [0.75, 0.2]
    """
    if method not in COMBINE_RULES:
        raise ValueError(f"The 'method' parameter must be one of {', '.join(COMBINE_RULES)}. "
                         f"Got {method!r} instead.")
    piece_probs = np.asarray(piece_probs, dtype=np.float64)
    owner = np.asarray(owner, dtype=np.int64)
    n_labels = piece_probs.shape[1] if piece_probs.ndim == 2 else 0
    if len(owner) == n_units and (owner == np.arange(n_units)).all():
        return piece_probs.copy()
    if method == "max":
        out = np.full((n_units, n_labels), -np.inf)
        np.maximum.at(out, owner, piece_probs)
        out[np.isinf(out)] = 0.0
        return out
    if method == "noisy-or":
        miss = np.ones((n_units, n_labels))
        np.multiply.at(miss, owner, 1.0 - np.clip(piece_probs, 0.0, 1.0))
        return 1.0 - miss
    total = np.zeros((n_units, n_labels))
    np.add.at(total, owner, piece_probs)
    return total / np.maximum(np.bincount(owner, minlength=n_units), 1)[:, None]


def record_scores(artifact: Artifact, piece_probs: np.ndarray, owner: np.ndarray | Sequence[int],
                  n_units: int, method: str | None = None, *, texts: Sequence[str] | None = None,
                  text_owner: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
    """Unit scores of a model: its pieces' scores combined (:func:`combine`, the model's rule by
    default), fused with its TF-IDF model when it has one (``framescope fuse``).

    ``texts`` are the records' whole texts and ``text_owner[i]`` record i's unit (default: one
    record per unit); the TF-IDF model scores each unit's text, its records' texts joined by
    blank lines (as article rows join their passages). Without ``texts`` nothing is fused.
    """
    probs = combine(piece_probs, owner, n_units, method or artifact.combine)
    if artifact.fusion is None or texts is None:
        return probs
    if text_owner is None:
        unit_texts = list(texts)
    else:
        parts: list[list[str]] = [[] for _ in range(n_units)]
        for text, unit in zip(texts, np.asarray(text_owner, dtype=np.int64)):
            parts[int(unit)].append(text)
        unit_texts = ["\n\n".join(p) for p in parts]
    return artifact.fusion.scores(probs, unit_texts)


def record_decisions(artifact: Artifact, probs: np.ndarray) -> np.ndarray:
    """Decisions on unit scores from :func:`record_scores` (the fusion's thresholds when fused)."""
    return decide(probs, artifact.record_threshold_vector(), single_label=artifact.single_label)


def article_fuser(artifact: Artifact) -> Callable[[np.ndarray, str], np.ndarray] | None:
    """For article rows built from passage rows: ``(combined scores, article text) -> fused
    scores``, or ``None`` when the model has no fusion."""
    if artifact.fusion is None:
        return None
    fusion = artifact.fusion

    def fuse(scores: np.ndarray, text: str) -> np.ndarray:
        return fusion.scores(np.asarray(scores, dtype=np.float64)[None, :], [text])[0]

    return fuse


def label_lists(labels: Sequence[str], decisions: np.ndarray) -> list[list[str]]:
    """The label ids switched on in each row of ``decisions``."""
    return [[lab for lab, on in zip(labels, row) if on] for row in decisions]


# --------------------------------------------------------------------------- cutting


def passage_budget(tokenizer: Any, max_length: int, max_tokens: int | None = None) -> int:
    """Tokens of text a passage may hold: ``max_length`` minus the tokenizer's special tokens,
    or ``max_tokens`` when given (it may not exceed that).

    Raises:
        ValueError: when ``max_tokens`` exceeds what the model reads.
    """
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    limit = max(8, int(max_length) - specials)
    if max_tokens is None:
        return limit
    if max_tokens > limit:
        raise ValueError(f"--max-tokens {max_tokens} exceeds what the model reads: max_length "
                         f"{max_length} minus {specials} special tokens = {limit}; pass "
                         f"--max-tokens {limit} or less")
    return max_tokens


def token_counter(tokenizer: Any) -> Callable[[str], int]:
    """Counts a text's tokens without special tokens, padding or truncation (the Rust
    tokenizer where there is one: about twice as fast)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        from tokenizers import Tokenizer

        counter = Tokenizer.from_str(backend.to_str())
        counter.no_padding()
        counter.no_truncation()
        return lambda text: len(counter.encode(text, add_special_tokens=False).ids)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass
class Pieces:
    """Records cut into the passages a model reads.

    Attributes:
        passages: the pieces, in record order.
        owner: for each piece, the index of its record.
        cut: how many records became more than one piece.
    """

    passages: list[Passage]
    owner: np.ndarray
    cut: int = 0


def cut_records(records: Sequence[Passage], count: Callable[[str], int], budget: int, *,
                paragraphs: bool = False) -> Pieces:
    """Cut records into pieces of at most ``budget`` tokens (counted by ``count``).

    A record that fits stays whole (and keeps its id), unless ``paragraphs`` asks for every
    article to be cut into its paragraphs. A single piece inherits the record's ``index``.
    """
    pieces: list[Passage] = []
    owner: list[int] = []
    cut = 0
    for i, record in enumerate(records):
        if paragraphs or not fits(record.text, budget, count):
            parts = cut_article(record, max_tokens=budget, count_tokens=count)
            if len(parts) == 1 and record.index is not None:
                parts[0].index = record.index
        else:
            parts = [record]
        cut += len(parts) > 1
        pieces.extend(parts)
        owner.extend([i] * len(parts))
    return Pieces(pieces, np.asarray(owner, dtype=np.int64), cut)


# --------------------------------------------------------------------------- predicting


def predict_proba(
    artifact: Artifact,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    precision: str = "auto",
    max_length: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Scores ``(len(texts), n_labels)`` (float32) in ``texts``' order.

    The texts are tokenized once (truncated to the model's ``max_length``), sorted by token
    count (longest first) so each batch pads to nearly its own length, and run through a
    :class:`framescope.runtime.Runner` at ``precision`` (``auto``, ``fp32``, ``bf16``, ``int8``
    or ``onnx``; ``auto`` is bf16 only on CPUs with native bf16). Scores are computed in float64
    from the logits (:func:`probabilities`) whatever the precision.

    Example:
        >>> predict_proba(artifact, ["Shelling hit the port."]).shape  # doctest: +SKIP
        (1, 10)
    """
    from framescope.runtime import get_runner

    out = np.zeros((len(texts), len(artifact.taxonomy)), dtype=np.float32)
    if not len(texts):
        return out
    if batch_size < 1:
        raise ValueError(f"The 'batch_size' parameter must be a positive integer. Got {batch_size!r} instead.")
    runner = get_runner(artifact, precision)
    for idx, batch in _padded_batches(artifact, texts, batch_size, max_length, progress, "scoring"):
        out[idx] = probabilities(runner.logits(batch), single_label=artifact.single_label)
    return out


def _padded_batches(artifact: Artifact, texts: Sequence[str], batch_size: int, max_length: int | None,
                    progress: bool, desc: str) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """``(row indices, {input_ids, attention_mask})`` batches of ``texts``: tokenized once
    (truncated to ``max_length``), longest first, each padded to its own longest row."""
    max_length = max_length or artifact.max_length
    n = len(texts)
    tok = artifact.tokenizer
    ids: list[list[int]] = []
    for start in range(0, n, TOKENIZE_SLICE):  # bounded: a fast tokenizer's encodings are large
        ids.extend(tok(list(texts[start:start + TOKENIZE_SLICE]), truncation=True, max_length=max_length,
                       add_special_tokens=True, return_attention_mask=False,
                       return_token_type_ids=False)["input_ids"])
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=n)
    order = np.argsort(-lengths, kind="stable")
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    left = getattr(tok, "padding_side", "right") == "left"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="passage", desc=desc)
    try:
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
            yield idx, {"input_ids": input_ids, "attention_mask": mask}
            if bar is not None:
                bar.update(len(idx))
    finally:
        if bar is not None:
            bar.close()


def embed(artifact: Artifact, texts: Sequence[str], *, batch_size: int = 64,
          max_length: int | None = None, progress: bool = False) -> np.ndarray:
    """Passage embeddings ``(len(texts), hidden)`` (float32, in ``texts``' order): the mean of the
    backbone's last hidden state over real tokens, in fp32 torch, with :func:`predict_proba`'s
    tokenizing and batching. Used to spread a labelling batch over the pool (diversity).

    Example:
        >>> embed(artifact, ["Shelling hit the port."]).shape  # doctest: +SKIP
        (1, 384)
    """
    import torch

    model = artifact.model
    backbone = getattr(model, "base_model", model)
    hidden = int(getattr(model.config, "hidden_size", 0) or getattr(model.config, "dim", 0))
    if not len(texts):
        return np.zeros((0, hidden), dtype=np.float32)
    if batch_size < 1:
        raise ValueError(f"The 'batch_size' parameter must be a positive integer. Got {batch_size!r} instead.")
    model.eval()
    device = next(model.parameters()).device
    out: np.ndarray | None = None
    for idx, batch in _padded_batches(artifact, texts, batch_size, max_length, progress, "embedding"):
        inputs = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
        with torch.inference_mode():
            states = backbone(**inputs).last_hidden_state.float()
        mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        if out is None:
            out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
        out[idx] = pooled.cpu().numpy()
    assert out is not None  # texts is not empty
    return out


@dataclass
class Prediction:
    """What :func:`predict_records` found.

    Attributes:
        probs: combined scores per record ``(n_records, n_labels)``.
        decisions: boolean decisions per record.
        pieces: the passages that were scored.
        piece_probs: their scores.
    """

    probs: np.ndarray
    decisions: np.ndarray
    pieces: Pieces
    piece_probs: np.ndarray

    def labels(self, label_ids: Sequence[str]) -> list[list[str]]:
        """The predicted label ids of each record."""
        return label_lists(label_ids, self.decisions)


def predict_records(
    artifact: Artifact,
    records: Sequence[Passage],
    *,
    method: str | None = None,
    batch_size: int = 64,
    precision: str = "auto",
    progress: bool = False,
) -> Prediction:
    """Cut, predict, combine and decide for whole records (the labelled units of evaluation).

    A fused model's record scores include its TF-IDF model (:func:`record_scores`).
    ``method`` is the combine rule (default: the model's own, :attr:`Artifact.combine`:
    ``noisy-or`` for a model trained with ``--record-loss noisy-or``, else ``max``, or ``mean``
    for single-label models).
    """
    tok = artifact.tokenizer
    pieces = cut_records(records, token_counter(tok), passage_budget(tok, artifact.max_length))
    piece_probs = predict_proba(artifact, [p.text for p in pieces.passages], batch_size=batch_size,
                                precision=precision, progress=progress)
    probs = record_scores(artifact, piece_probs, pieces.owner, len(records), method,
                          texts=[r.text for r in records])
    return Prediction(probs, record_decisions(artifact, probs), pieces, piece_probs)


def decisions_of(artifact: Artifact, probs: np.ndarray) -> np.ndarray:
    """:func:`decide` with a model's thresholds and problem type."""
    return decide(probs, artifact.threshold_vector(), single_label=artifact.single_label)


def predict(artifact: Artifact, texts: str | Sequence[str], **kwargs: Any) -> list[str] | list[list[str]]:
    """Predicted label ids for a text (returns a list) or a list of texts (a list of lists).

    Each text is one record: cut into passages when longer than the model's window.

    Example:
        >>> predict(load_artifact("models/default"), "Kyiv says the attack was unprovoked.")  # doctest: +SKIP
        ['unprovoked_aggression']
    """
    single = isinstance(texts, str)
    batch = [texts] if single else list(texts)
    records = [Passage(id=str(i), text=t) for i, t in enumerate(batch)]
    found = predict_records(artifact, records, **kwargs).labels(artifact.taxonomy.ids)
    return found[0] if single else found


# --------------------------------------------------------------------------- written scores


@dataclass
class ChunkResult:
    """Scores of a batch of passages as they are written: rounded probabilities, the decisions
    made on them and, with evidence, spans per passage (``{label: [span dicts]}``)."""

    probs: np.ndarray
    decisions: np.ndarray
    evidence: list[dict[str, list[dict[str, Any]]]] | None = None


class PassageScorer:
    """Scores passage texts as ``framescope score`` writes them (used by every engine).

    Args:
        artifact: the loaded classifier.
        precision: ``auto``, ``fp32``, ``bf16``, ``int8`` or ``onnx``.
        batch_size: passages per forward pass.
        evidence: also compute occlusion evidence for the predicted labels.
        evidence_top_k: spans per label.
        evidence_units: most occlusion units (words or word groups) per passage.

    Example:
        >>> PassageScorer(artifact).score(["Shelling hit the port."]).probs.shape  # doctest: +SKIP
        (1, 10)
    """

    def __init__(self, artifact: Artifact, *, precision: str = "auto", batch_size: int = 64,
                 evidence: bool = False, evidence_top_k: int = 5, evidence_units: int = 32) -> None:
        from framescope.runtime import resolve_precision

        self.artifact = artifact
        self.precision = resolve_precision(precision)
        self.batch_size = batch_size
        self.evidence = evidence
        self.evidence_top_k = evidence_top_k
        self.evidence_units = evidence_units
        self.labels = list(artifact.taxonomy.ids)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Raw float32 scores ``(len(texts), n_labels)``."""
        return predict_proba(self.artifact, list(texts), batch_size=self.batch_size,
                             precision=self.precision)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Decisions with the model's thresholds (argmax for single-label models)."""
        return decisions_of(self.artifact, probs)

    def score(self, texts: Sequence[str]) -> ChunkResult:
        """Rounded scores, decisions on them, and evidence spans when enabled."""
        raw = self.predict(texts)
        probs = np.round(raw.astype(np.float64), SCORE_DIGITS)
        decisions = self.decide(probs)
        if not self.evidence:
            return ChunkResult(probs, decisions)
        from framescope.evidence import explain_passages

        targets = [list(np.flatnonzero(row)) for row in decisions]
        mask = getattr(self.artifact.tokenizer, "mask_token", None) or ""
        spans = explain_passages(self.predict, list(texts), raw, targets, mask=mask,
                                 top_k=self.evidence_top_k, max_units=self.evidence_units)
        evidence = [{self.labels[lab]: [s.to_dict() for s in found] for lab, found in per.items()}
                    for per in spans]
        return ChunkResult(probs, decisions, evidence)


def model_stamp(artifact: Artifact) -> dict[str, str]:
    """The ``model`` value of scored rows: the model's name and weights fingerprint."""
    from framescope.runtime import weights_key

    return {"name": artifact.name, "fingerprint": artifact.fingerprint or f"sha256:{weights_key(artifact)}"}
