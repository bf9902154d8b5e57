"""``framescope label select``: pick the passages to label next and write them as a batch.

The steps, each a function:

1. **read** the inputs with the dataset module (any input ``framescope score`` reads), under the
   same bad-input policy (``stop``: nothing is written and the message names file, line and
   field; ``skip``: bad records go to an errors file and ``read = accepted + rejected``);
2. **cut** the records into paragraph passages exactly as ``framescope score`` does
   (:func:`framescope.inference.cut_records` with ``paragraphs=True``); a passage's id is its
   record's id when the record is one passage, else ``RECORD_ID:START-END`` (character
   offsets), so the same input and model give the same ids;
3. **pool**: drop passages already labelled (``--exclude`` files: same id, or the same text
   after :func:`framescope.data.normalise_text`, the dataset module's duplicate-check form) and repeated texts (the first one stays);
4. **score** the pool through :class:`framescope.inference.PassageScorer` (the scores and labels
   ``framescope score`` would write) and, for ``diversity``/``mixed``, embed it with
   :func:`framescope.inference.embed` (``mixed`` embeds only its uncertain candidates);
5. **choose** with :func:`framescope.labelling.strategies.choose` and **write** the batch
   (:mod:`framescope.labelling.exports`).

Example:
    >>> summary = select("models/default", ["feeds/*.xml"], "batch.json",
    ...                  SelectConfig(n=100, strategy="mixed"))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from framescope.data.dataset import load_passages, read_passages
from framescope.data.errors import DataError, ErrorLog, ReadStats, RecordError
from framescope.data.fingerprint import normalise_text, text_sha1
from framescope.data.records import ReadOptions
from framescope.data.schema import Passage
from framescope.inference import (
    PassageScorer,
    cut_records,
    embed,
    label_lists,
    model_stamp,
    passage_budget,
    token_counter,
)
from framescope.labelling.exports import Pick, batch_paths, output_format, write_batch
from framescope.labelling.strategies import STRATEGIES, choose, mixed_pool, uncertainty
from framescope.modeling import Artifact, load_artifact

__all__ = ["SCORE_CHUNK", "Pool", "SelectConfig", "SelectSummary", "build_pool",
           "passage_id", "read_exclusions", "select", "text_sha1"]

logger = logging.getLogger(__name__)

#: Passages scored per call (one progress-bar step).
SCORE_CHUNK = 512



def passage_id(record: Passage, piece: Passage, pieces_of_record: int) -> str:
    """A passage's id: the record's id when the record is one passage, else
    ``RECORD_ID:START-END``."""
    if pieces_of_record == 1 or piece.start is None or piece.end is None:
        return record.id
    return f"{record.id}:{piece.start}-{piece.end}"


@dataclass
class SelectConfig:
    """Settings of one selection (the ``label select`` flags).

    Attributes:
        n: passages to pick (the whole pool when it is smaller).
        strategy: ``uncertainty``, ``diversity``, ``mixed`` or ``random``.
        seed: seeds ``random`` and the k-means of ``diversity``/``mixed``.
        quota: fraction of ``n`` shared round-robin over labels (0 disables).
        output_format: ``ls``, ``argilla`` or ``csv``; default from the ``out`` suffix.
        exclude: labelled files whose passages are never selected again.
        model_version: the name predictions carry (default ``MODEL-FOLDER@FINGERPRINT8``).
        on_error: ``stop`` or ``skip`` (bad input records).
        errors_path: the errors file of ``skip``.
        precision, batch_size, max_tokens: as in ``framescope score``.
        overwrite: replace an existing batch.
        progress: show progress bars.
        read_options: input format and column mapping (also used for ``exclude`` files, with
            the format detected per file).
    """

    n: int
    strategy: str = "uncertainty"
    seed: int = 13
    quota: float = 0.3
    output_format: str | None = None
    exclude: Sequence[str | Path] = ()
    model_version: str | None = None
    on_error: Literal["stop", "skip"] = "stop"
    errors_path: Path | None = None
    precision: str = "auto"
    batch_size: int = 64
    max_tokens: int | None = None
    overwrite: bool = False
    progress: bool = False
    read_options: ReadOptions = field(default_factory=ReadOptions)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"The 'strategy' setting must be one of {', '.join(STRATEGIES)}. "
                             f"Got {self.strategy!r} instead.")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"The 'n' setting (--n) must be a whole number >= 1. Got {self.n!r} instead.")
        if not 0.0 <= self.quota <= 1.0:
            raise ValueError(f"The 'quota' setting (--quota) must be between 0 and 1. Got {self.quota!r} instead.")
        if self.on_error not in ("stop", "skip"):
            raise ValueError(f"The 'on_error' setting must be 'stop' or 'skip'. Got {self.on_error!r} instead.")
        if self.batch_size < 1:
            raise ValueError(f"The 'batch_size' setting must be >= 1. Got {self.batch_size!r} instead.")


@dataclass
class Pool:
    """The passages a selection may pick from, and what was left out.

    Attributes:
        passages: candidate passages (ids already set, repeats and labelled ones removed).
        record_ids: each candidate's record id.
        cut: passages the records were cut into (before exclusion).
        excluded_id, excluded_text: passages dropped as already labelled, by id or by text.
        duplicates: passages dropped because an earlier one had the same text.
    """

    passages: list[Passage]
    record_ids: list[str]
    cut: int = 0
    excluded_id: int = 0
    excluded_text: int = 0
    duplicates: int = 0


@dataclass
class SelectSummary:
    """What a selection read, left out, picked and wrote."""

    stats: ReadStats
    pool: Pool
    selected: int
    strategy: str
    model_version: str
    outputs: dict[str, Path]
    errors_path: Path | None = None
    exclude_records: int = 0

    def describe(self) -> str:
        """A few lines for the terminal."""
        p = self.pool
        lines = [self.stats.summary(),
                 f"passages: {p.cut} cut, {p.excluded_id + p.excluded_text} already labelled "
                 f"({p.excluded_id} by id, {p.excluded_text} by text; {self.exclude_records} labelled "
                 f"records read), {p.duplicates} repeated texts, pool {len(p.passages)}",
                 f"selected {self.selected} by {self.strategy} (model version {self.model_version})"]
        if p.passages and self.selected == len(p.passages):
            lines[-1] += " = the whole pool"
        lines += [f"wrote {path}" for path in self.outputs.values()]
        if self.errors_path is not None and self.stats.rejected:
            lines.append(f"rejected records: {self.errors_path}")
        return "\n".join(lines)


@dataclass
class _IdLog(ErrorLog):
    """An error log that keeps the ids of rejected records (they are still excluded)."""

    ids: set[str] = field(default_factory=set)

    def add(self, error: RecordError) -> None:
        super().add(error)
        if error.record_id:
            self.ids.add(error.record_id)


def read_exclusions(paths: Sequence[str | Path], options: ReadOptions) -> tuple[set[str], set[str], int]:
    """Ids and normalised texts (:func:`framescope.data.normalise_text`) of labelled files, and how many records they held.

    The format is detected per file; a record the reader rejects still excludes its id.
    """
    ids: set[str] = set()
    texts: set[str] = set()
    if not paths:
        return ids, texts, 0
    log = _IdLog(keep=0)
    stats = ReadStats()
    opts = dataclasses.replace(options, format="auto", labels_required=False)
    for passage in read_passages(paths, opts, on_error="collect", log=log, stats=stats,
                                 check_duplicates=False):
        ids.add(passage.id)
        texts.add(normalise_text(passage.text))
    ids |= log.ids
    if log.count:
        logger.warning("--exclude: %d record(s) could not be read; their ids (where readable) are "
                       "still excluded", log.count)
    return ids, texts, stats.read


def build_pool(records: Sequence[Passage], artifact: Artifact, *, exclude_ids: AbstractSet[str] = frozenset(),
               exclude_texts: AbstractSet[str] = frozenset(), max_tokens: int | None = None) -> Pool:
    """Cut records into passages as ``framescope score`` does, set their ids, and drop labelled
    ones (id in ``exclude_ids`` or the normalised text in ``exclude_texts``) and
    repeated texts."""
    tok = artifact.tokenizer
    pieces = cut_records(records, token_counter(tok), passage_budget(tok, artifact.max_length, max_tokens),
                         paragraphs=True)
    per_record = np.bincount(pieces.owner, minlength=len(records)) if len(records) else np.zeros(0, int)
    pool = Pool([], [], cut=len(pieces.passages))
    seen: set[str] = set()
    for piece, owner in zip(pieces.passages, pieces.owner.tolist()):
        record = records[owner]
        piece.id = passage_id(record, piece, int(per_record[owner]))
        key = normalise_text(piece.text)
        if piece.id in exclude_ids:
            pool.excluded_id += 1
        elif key in exclude_texts:
            pool.excluded_text += 1
        elif key in seen:
            pool.duplicates += 1
        else:
            seen.add(key)
            pool.passages.append(piece)
            pool.record_ids.append(record.id)
    return pool


def _model_version(artifact: Artifact, given: str | None) -> str:
    if given:
        return given
    folder = artifact.path.name if artifact.path is not None else artifact.name
    fingerprint = model_stamp(artifact)["fingerprint"].split(":")[-1][:8]
    return f"{folder}@{fingerprint}"


def _score(scorer: PassageScorer, texts: list[str], progress: bool) -> tuple[np.ndarray, np.ndarray]:
    from tqdm.auto import tqdm

    n_labels = len(scorer.labels)
    probs = np.zeros((len(texts), n_labels))
    decisions = np.zeros((len(texts), n_labels), dtype=bool)
    with tqdm(total=len(texts), unit="passage", desc="scoring", disable=not progress) as bar:
        for start in range(0, len(texts), SCORE_CHUNK):
            result = scorer.score(texts[start:start + SCORE_CHUNK])
            probs[start:start + SCORE_CHUNK] = result.probs
            decisions[start:start + SCORE_CHUNK] = result.decisions
            bar.update(len(result.probs))
    return probs, decisions


def _embeddings(artifact: Artifact, texts: list[str], probs: np.ndarray, cfg: SelectConfig) -> np.ndarray | None:
    if cfg.strategy not in ("diversity", "mixed"):
        return None
    rows = np.arange(len(texts))
    if cfg.strategy == "mixed":  # k-means reads only the uncertain candidates
        rows = mixed_pool(probs, artifact.threshold_vector(), cfg.n, quota=cfg.quota,
                          single_label=artifact.single_label)
    found = embed(artifact, [texts[i] for i in rows], batch_size=cfg.batch_size, progress=cfg.progress)
    out = np.zeros((len(texts), found.shape[1]), dtype=np.float32)
    out[rows] = found
    return out


def _picks(pool: Pool, order: np.ndarray, probs: np.ndarray, decisions: np.ndarray, labels: list[str],
           confidence: np.ndarray, strategy: str) -> list[Pick]:
    predicted = label_lists(labels, decisions)
    picks = []
    for rank, i in enumerate(order.tolist(), 1):
        p = pool.passages[i]
        data: dict[str, object] = {
            "id": p.id, "passage_id": p.id,  # Label Studio's JSON-MIN/CSV replace "id" with its task id
            "text": p.text, "text_sha1": text_sha1(p.text),
            "source": Path(p.source).name if p.source else "", "record_id": pool.record_ids[i],
            "start": p.start, "end": p.end,
        }
        for name in ("article_id", "title", "url"):
            if getattr(p, name) is not None:
                data[name] = getattr(p, name)
        data.update(rank=rank, strategy=strategy,
                    scores={lab: float(v) for lab, v in zip(labels, probs[i].tolist())})
        picks.append(Pick(data, predicted[i], round(float(confidence[i]), 6)))
    return picks


def select(model: str | os.PathLike[str] | Artifact, inputs: Sequence[str | Path], out: str | Path,
           cfg: SelectConfig) -> SelectSummary:
    """Pick ``cfg.n`` passages from ``inputs`` to label next and write them to ``out``.

    Raises:
        DataError: bad input with ``on_error="stop"`` (nothing is written), an empty pool, or an
            existing ``out`` without ``overwrite``.
        ValueError: an unknown output format.
    """
    out = Path(out)
    fmt = output_format(out, cfg.output_format)
    outputs = batch_paths(out, fmt)
    if not cfg.overwrite and (existing := [str(p) for p in outputs.values() if p.exists()]):
        raise DataError(f"{', '.join(existing)} already exist(s); pass --overwrite to replace, or "
                        f"choose another --out")
    artifact = model if isinstance(model, Artifact) else load_artifact(model)
    exclude_ids, exclude_texts, exclude_records = read_exclusions(cfg.exclude, cfg.read_options)
    errors_path = cfg.errors_path if cfg.on_error == "skip" else None
    data = load_passages(list(inputs), cfg.read_options, taxonomy=None, on_error=cfg.on_error,
                         errors_path=errors_path, allow_empty=True)
    pool = build_pool(data.passages, artifact, exclude_ids=exclude_ids, exclude_texts=exclude_texts,
                      max_tokens=cfg.max_tokens)
    if not pool.passages:
        raise DataError(f"nothing to select from {', '.join(map(str, inputs))}: {data.stats.summary()}; "
                        f"{pool.cut} passages, {pool.excluded_id + pool.excluded_text} already labelled, "
                        f"{pool.duplicates} repeated")
    texts = [p.text for p in pool.passages]
    scorer = PassageScorer(artifact, precision=cfg.precision, batch_size=cfg.batch_size)
    probs, decisions = _score(scorer, texts, cfg.progress)
    thresholds = artifact.threshold_vector()
    emb = _embeddings(artifact, texts, probs, cfg)
    order = choose(probs, thresholds, cfg.n, strategy=cfg.strategy, single_label=artifact.single_label,
                   embeddings=emb, seed=cfg.seed, quota=cfg.quota)
    confidence = uncertainty(probs, thresholds, single_label=artifact.single_label)
    picks = _picks(pool, order, probs, decisions, scorer.labels, confidence, cfg.strategy)
    version = _model_version(artifact, cfg.model_version)
    written = write_batch(picks, out, fmt, taxonomy=artifact.taxonomy, model_version=version,
                          single_label=artifact.single_label)
    return SelectSummary(data.stats, pool, len(picks), cfg.strategy, version, written,
                         errors_path, exclude_records)
