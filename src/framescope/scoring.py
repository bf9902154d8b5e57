"""Streaming batch scoring of news inputs, with article aggregation and exactly-once resume.

The pipeline (one pass, constant memory):

1. **Validate** every input with the data module (``--on-error stop`` refuses the run before
   anything is written; ``skip`` goes on and writes rejected records with reasons to an errors
   file). This pass also counts the records for the progress bar.
2. **Read and split** records as a stream (:func:`framescope.data.read_passages`); articles are
   cut into passages by :func:`framescope.data.split_article`, with the model tokenizer's token
   counter and a budget that fits the model (``max_length`` minus special tokens), so nothing is
   truncated. A record that fits in one passage keeps its ``id``; longer ones get ``ID#0``, ….
3. **Score** deterministic chunks of passages (``chunk_size``): inside a chunk passages are
   sorted by token length and batched with dynamic padding (:func:`framescope.modeling
   .predict_proba`); ``--evidence`` adds occlusion spans (:mod:`framescope.evidence`). The
   ``ray`` engine scores the same chunks on Ray Data (:mod:`framescope.ray_engine`).
4. **Commit** each chunk: its passage rows are appended to a part file in a work folder beside
   the output (``.OUT.framescope-run/``), the part is fsynced, then ``state.json`` records the
   committed byte offsets and the number of input records consumed, written atomically.
   ``--resume`` truncates the part to the last committed offset and skips committed records, so
   after a ``kill -9`` at any point the output holds every passage exactly once, identical to an
   uninterrupted run (chunks and batches are the same).
5. **Finalise**: the passage file and the article file (aggregated from the passage part) are
   written to temporary files and renamed into place; then the work folder is removed. An
   existing output is replaced only at that moment.

Outputs (``--level both`` writes ``OUT`` and ``OUT`` with ``.articles`` before the suffix)::

    passage rows  id, article_id, index, start, end, text, scores {label: p}, labels,
                  [evidence {label: [{start, end, text, weight}]}], title, outlet, published,
                  url, model {name, fingerprint}
    article rows  article_id, title, outlet, published, url, passages, scores {label: p},
                  labels, best_passage {label: passage id}, model {name, fingerprint}
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from framescope.data import (
    DataError,
    ErrorLog,
    Passage,
    ReadOptions,
    ReadStats,
    RecordError,
    expand_inputs,
    read_passages,
    split_article,
    validate_inputs,
)
from framescope.data.io import atomic_path, atomic_write_text

if TYPE_CHECKING:
    from framescope.modeling import Artifact

__all__ = [
    "AGGREGATES", "ENGINES", "LEVELS", "OUTPUT_FORMATS", "ChunkResult", "ScoreConfig",
    "ScoreSummary", "Scorer", "aggregate_articles", "article_columns", "output_format",
    "output_paths", "passage_columns", "score",
]

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
LEVELS = ("passage", "article", "both")
AGGREGATES = ("max", "noisy-or")
ENGINES = ("local", "ray")
#: decimals kept in written scores (labels are decided on the written values)
SCORE_DIGITS = 7
STATE_VERSION = 1
#: default passages per committed chunk, without and with evidence
CHUNK_SIZE = 2048
EVIDENCE_CHUNK_SIZE = 128
STATE_FILE = "state.json"
PASSAGES_PART = "passages.jsonl"
ERRORS_PART = "errors.jsonl"
_META = ("title", "outlet", "published", "url")
_SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
                   ".parquet": "parquet", ".pq": "parquet"}


# --------------------------------------------------------------------------------------------
# configuration and results


@dataclass
class ScoreConfig:
    """Settings of a scoring run (the ``framescope score`` flags).

    Attributes:
        level: ``passage``, ``article`` or ``both`` (both: ``OUT`` and ``OUT.articles``).
        output_format: ``jsonl``, ``csv`` or ``parquet``; ``None`` takes it from the suffix.
        aggregate: article score from passage scores: ``max`` or ``noisy-or`` (1 - Π(1 - p)).
        evidence: add occlusion evidence spans for each predicted label.
        evidence_top_k: spans per label.
        evidence_units: most occlusion units per passage (words; neighbouring words are
            grouped in longer passages): the cost, about one forward pass each.
        precision: ``auto``, ``fp32``, ``bf16``, ``int8`` or ``onnx`` (see :mod:`framescope.runtime`).
        engine: ``local`` or ``ray``.
        workers: Ray actors (default: one per CPU of the Ray instance).
        on_error: ``stop`` (validate all inputs first, write nothing on a bad record) or ``skip``.
        errors_path: errors file for ``skip`` (default ``OUT-stem.errors.jsonl`` beside ``OUT``).
        batch_size: passages per forward pass.
        chunk_size: passages per committed chunk (the resume granularity and the progress
            bar's step; also the window in which passages are length-sorted); default 2048, or
            128 with evidence (each passage then costs ~30 forward passes). Part of the run's
            identity.
        max_tokens: passage budget in tokens (default: the model's ``max_length`` minus its
            special tokens).
        threads: torch threads (default: torch's choice, one per core).
        resume: continue an interrupted run of the same command.
        overwrite: replace existing outputs (and discard an interrupted run).
        progress: show a progress bar.
        read_options: input format and column mapping.
    """

    level: str = "passage"
    output_format: str | None = None
    aggregate: str = "max"
    evidence: bool = False
    evidence_top_k: int = 5
    evidence_units: int = 32
    precision: str = "auto"
    engine: str = "local"
    workers: int | None = None
    on_error: str = "stop"
    errors_path: Path | None = None
    batch_size: int = 64
    chunk_size: int | None = None
    max_tokens: int | None = None
    threads: int | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    read_options: ReadOptions = field(default_factory=ReadOptions)

    def __post_init__(self) -> None:
        from framescope.runtime import PRECISIONS

        choices = {"level": LEVELS, "aggregate": AGGREGATES, "engine": ENGINES,
                   "on_error": ("stop", "skip"), "precision": PRECISIONS}
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"The '{name}' parameter must be one of {', '.join(allowed)}. "
                                 f"Got {value!r} instead.")
        if self.output_format is not None and self.output_format not in OUTPUT_FORMATS:
            raise ValueError(f"The 'output_format' parameter must be one of "
                             f"{', '.join(OUTPUT_FORMATS)}. Got {self.output_format!r} instead.")
        for name in ("batch_size", "evidence_top_k", "evidence_units"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"The '{name}' parameter must be a positive integer. "
                                 f"Got {value!r} instead.")
        for name in ("workers", "threads", "max_tokens", "chunk_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"The '{name}' parameter must be a positive integer or None. "
                                 f"Got {value!r} instead.")
        if self.chunk_size is None:
            self.chunk_size = EVIDENCE_CHUNK_SIZE if self.evidence else CHUNK_SIZE
        if self.resume and self.overwrite:
            raise ValueError("--resume continues an interrupted run and --overwrite discards it; "
                             "pass one of them, not both")


@dataclass
class ScoreSummary:
    """What a scoring run did (printed at the end of ``framescope score``)."""

    stats: ReadStats
    passages: int
    articles: int
    seconds: float
    passages_this_run: int
    precision: str
    outputs: dict[str, Path]
    errors_path: Path | None
    resumed: bool = False
    already_complete: bool = False

    @property
    def passages_per_second(self) -> float:
        return self.passages_this_run / self.seconds if self.seconds > 0 else 0.0

    def describe(self) -> str:
        """A short human-readable summary."""
        if self.already_complete:
            return ("nothing to resume: " + ", ".join(str(p) for p in self.outputs.values())
                    + " already complete (pass --overwrite to score again)")
        st = self.stats
        lines = [
            f"scored {self.passages} passages from {st.accepted} records"
            + (f" ({self.passages_this_run} in this run, resumed)" if self.resumed else "")
            + f" in {self.seconds:.1f} s ({self.passages_per_second:.1f} passages/s, "
              f"precision {self.precision})",
            f"records read: {st.read} = scored {st.accepted} + rejected {st.rejected}"
            + (f" ({st.excluded} excluded by a dataset rule)" if st.excluded else ""),
        ]
        wrote = []
        for level, path in self.outputs.items():
            n = self.passages if level == "passage" else self.articles
            wrote.append(f"{path} ({n} {level} rows)")
        lines.append("wrote " + ", ".join(wrote))
        if self.errors_path is not None:
            lines.append(f"rejected records with reasons: {self.errors_path}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# output layout


def output_format(out: Path, fmt: str | None = None) -> str:
    """The output format: ``fmt`` when given, else from ``out``'s suffix.

    Raises:
        DataError: when the suffix is not one of ``.jsonl``, ``.csv``, ``.parquet``.
    """
    if fmt is not None:
        if fmt not in OUTPUT_FORMATS:
            raise DataError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
        return fmt
    found = _SUFFIX_FORMATS.get(out.suffix.lower())
    if found is None:
        raise DataError(f"cannot tell the output format of {out} from its suffix {out.suffix!r}; "
                        "name it .jsonl, .csv or .parquet, or pass --out-format")
    return found


def output_paths(out: Path, level: str) -> dict[str, Path]:
    """Where each level is written: ``{"passage": OUT}``, ``{"article": OUT}`` or, for
    ``both``, ``OUT`` and ``OUT`` with ``.articles`` before the suffix.

    Example:
        >>> output_paths(Path("scores.jsonl"), "both")["article"].name
        'scores.articles.jsonl'
    """
    if level == "passage":
        return {"passage": out}
    if level == "article":
        return {"article": out}
    return {"passage": out, "article": out.with_name(f"{out.stem}.articles{out.suffix}")}


def default_errors_path(out: Path) -> Path:
    """``reports/scores.jsonl`` → ``reports/scores.errors.jsonl``."""
    return out.with_name(out.name.split(".")[0] + ".errors.jsonl")


def _work_dir(out: Path) -> Path:
    return out.with_name(f".{out.name}.framescope-run")


def passage_columns(evidence: bool = False) -> list[str]:
    """Column order of passage rows."""
    cols = ["id", "article_id", "index", "start", "end", "text", "scores", "labels"]
    if evidence:
        cols.append("evidence")
    return [*cols, *_META, "model"]


def article_columns() -> list[str]:
    """Column order of article rows."""
    return ["article_id", *_META, "passages", "scores", "labels", "best_passage", "model"]


# --------------------------------------------------------------------------------------------
# the model side: probabilities, decisions, evidence


@dataclass
class ChunkResult:
    """Scores of one chunk: rounded probabilities and, with evidence, spans per passage."""

    probs: np.ndarray
    evidence: list[dict[str, list[dict[str, Any]]]] | None = None


class Scorer:
    """Scores lists of passage texts with one model at one precision (used by every engine).

    Args:
        artifact: the loaded classifier.
        precision: ``auto``, ``fp32``, ``bf16``, ``int8`` or ``onnx``.
        batch_size: passages per forward pass.
        evidence: also compute occlusion evidence for predicted labels.
        evidence_top_k: spans per label.
        evidence_units: most occlusion units (words or word groups) per passage.

    Example:
        >>> Scorer(artifact).score(["Shelling hit the port."]).probs.shape  # doctest: +SKIP
        (1, 9)
    """

    def __init__(self, artifact: Artifact, *, precision: str = "auto", batch_size: int = 64,
                 evidence: bool = False, evidence_top_k: int = 5,
                 evidence_units: int = 32) -> None:
        from framescope.runtime import resolve_precision

        self.artifact = artifact
        self.precision = resolve_precision(precision)
        self.batch_size = batch_size
        self.evidence = evidence
        self.evidence_top_k = evidence_top_k
        self.evidence_units = evidence_units
        self.labels = list(artifact.taxonomy.ids)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Raw float32 probabilities ``(len(texts), n_labels)``."""
        from framescope.modeling import predict_proba

        return predict_proba(self.artifact, list(texts), batch_size=self.batch_size,
                             precision=self.precision)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Decisions on written (rounded) scores: ``score >= threshold`` (argmax if single-label)."""
        if self.artifact.single_label:
            return self.artifact.decide(probs)
        thresholds = np.array([float(self.artifact.thresholds.get(lab, 0.5)) for lab in self.labels])
        return probs >= thresholds

    def score(self, texts: Sequence[str]) -> ChunkResult:
        """Rounded probabilities (and evidence spans when enabled) for ``texts``."""
        raw = self.predict(texts)
        probs = np.round(raw.astype(np.float64), SCORE_DIGITS)
        if not self.evidence:
            return ChunkResult(probs)
        from framescope.evidence import explain_passages

        decisions = self.decide(probs)
        targets = [list(np.flatnonzero(row)) for row in decisions]
        mask = getattr(self.artifact.tokenizer, "mask_token", None) or ""
        spans = explain_passages(self.predict, list(texts), raw, targets, mask=mask,
                                 top_k=self.evidence_top_k, max_units=self.evidence_units)
        evidence = [{self.labels[lab]: [s.to_dict() for s in found] for lab, found in per.items()}
                    for per in spans]
        return ChunkResult(probs, evidence)


def _model_info(artifact: Artifact) -> dict[str, str]:
    from framescope.runtime import _weights_key

    fp = artifact.fingerprint or f"sha256:{_weights_key(artifact)}"
    return {"name": artifact.name, "fingerprint": fp}


# --------------------------------------------------------------------------------------------
# rows and article aggregation


def _passage_rows(passages: Sequence[Passage], result: ChunkResult, scorer: Scorer,
                  model: dict[str, str]) -> Iterator[dict[str, Any]]:
    decisions = scorer.decide(result.probs)
    labels = scorer.labels
    for k, p in enumerate(passages):
        row: dict[str, Any] = {
            "id": p.id, "article_id": p.article_id, "index": p.index, "start": p.start,
            "end": p.end, "text": p.text,
            "scores": {lab: float(v) for lab, v in zip(labels, result.probs[k])},
            "labels": [lab for lab, on in zip(labels, decisions[k]) if on],
        }
        if result.evidence is not None:
            row["evidence"] = result.evidence[k]
        for name in _META:
            row[name] = getattr(p, name)
        row["model"] = model
        yield row


@dataclass
class _ArticleAgg:
    article_id: str
    meta: dict[str, Any]
    n: int
    top: np.ndarray
    log_none: np.ndarray
    best: list[str]

    @classmethod
    def start(cls, row: dict[str, Any], labels: Sequence[str]) -> _ArticleAgg:
        scores = np.array([float(row["scores"][lab]) for lab in labels])
        return cls(str(row.get("article_id") or row["id"]), {m: row.get(m) for m in _META}, 1,
                   scores, np.log1p(-np.minimum(scores, 1 - 1e-12)), [str(row["id"])] * len(labels))

    def add(self, other: _ArticleAgg) -> None:
        for m in _META:
            if self.meta.get(m) is None:
                self.meta[m] = other.meta.get(m)
        better = other.top > self.top
        for j in np.flatnonzero(better):
            self.best[j] = other.best[j]
        self.top = np.maximum(self.top, other.top)
        self.log_none = self.log_none + other.log_none
        self.n += other.n


def aggregate_articles(
    rows: Iterable[dict[str, Any]] | Callable[[], Iterable[dict[str, Any]]],
    labels: Sequence[str],
    decide: Callable[[np.ndarray], np.ndarray],
    *,
    method: str = "max",
    model: dict[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Article rows from passage rows.

    An article's score for a label is the maximum over its passages (``max``) or the noisy-OR
    ``1 - Π(1 - p)`` (``noisy-or``); its labels are decided on those scores with the same
    thresholds; ``best_passage`` names, for every label, the passage with the highest score
    (the first one on ties). Passages of an article are usually adjacent; articles whose
    passages are scattered through the input are also handled (two passes; only those are held
    in memory), so memory stays small for any input.

    Args:
        rows: passage rows (dicts with ``id``, ``article_id``, ``scores`` and metadata), or a
            function returning a fresh iterator over them (read twice).
        labels: label ids (the order of the score columns).
        decide: decisions from a ``(n, n_labels)`` score array.
        method: ``max`` or ``noisy-or``.
        model: the ``model`` value of the rows.

    Example:
        >>> rows = [{"id": "a#0", "article_id": "a", "scores": {"x": 0.2}},
        ...         {"id": "a#1", "article_id": "a", "scores": {"x": 0.9}}]
        >>> next(aggregate_articles(rows, ["x"], lambda p: p >= 0.5))["best_passage"]
        {'x': 'a#1'}
    """
    if method not in AGGREGATES:
        raise ValueError(f"The 'method' parameter must be one of {', '.join(AGGREGATES)}. "
                         f"Got {method!r} instead.")
    if callable(rows):
        factory = rows
    else:
        materialised = rows if isinstance(rows, (list, tuple)) else list(rows)

        def factory() -> Iterable[dict[str, Any]]:
            return materialised

    runs: dict[str, int] = {}
    previous = None
    for row in factory():
        art = str(row.get("article_id") or row["id"])
        if art != previous:
            runs[art] = runs.get(art, 0) + 1
            previous = art

    def finish(agg: _ArticleAgg) -> dict[str, Any]:
        scores = agg.top if method == "max" else 1.0 - np.exp(agg.log_none)
        scores = np.round(scores, SCORE_DIGITS)
        decided = decide(scores[None, :])[0]
        return {
            "article_id": agg.article_id, **agg.meta, "passages": agg.n,
            "scores": {lab: float(v) for lab, v in zip(labels, scores)},
            "labels": [lab for lab, on in zip(labels, decided) if on],
            "best_passage": dict(zip(labels, agg.best)),
            "model": model,
        }

    pending: dict[str, _ArticleAgg] = {}
    current: _ArticleAgg | None = None

    def close(agg: _ArticleAgg) -> dict[str, Any] | None:
        if runs[agg.article_id] == 1 and agg.article_id not in pending:
            return finish(agg)
        held = pending.get(agg.article_id)
        if held is None:
            pending[agg.article_id] = agg
        else:
            held.add(agg)
        runs[agg.article_id] -= 1
        if runs[agg.article_id] == 0:
            return finish(pending.pop(agg.article_id))
        return None

    for row in factory():
        nxt = _ArticleAgg.start(row, labels)
        if current is not None and nxt.article_id == current.article_id:
            current.add(nxt)
            continue
        if current is not None and (done := close(current)) is not None:
            yield done
        current = nxt
    if current is not None and (done := close(current)) is not None:
        yield done


# --------------------------------------------------------------------------------------------
# writers


def _json_line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def _iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _parquet_schema(kind: str, labels: Sequence[str], evidence: bool) -> Any:
    import pyarrow as pa

    model = pa.struct([("name", pa.string()), ("fingerprint", pa.string())])
    scores = pa.struct([(lab, pa.float64()) for lab in labels])
    meta = [(m, pa.string()) for m in _META]
    if kind == "article":
        return pa.schema([("article_id", pa.string()), *meta, ("passages", pa.int64()),
                          ("scores", scores), ("labels", pa.list_(pa.string())),
                          ("best_passage", pa.struct([(lab, pa.string()) for lab in labels])),
                          ("model", model)])
    fields = [("id", pa.string()), ("article_id", pa.string()), ("index", pa.int64()),
              ("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()),
              ("scores", scores), ("labels", pa.list_(pa.string()))]
    if evidence:
        span = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("text", pa.string()),
                          ("weight", pa.float64())])
        fields.append(("evidence", pa.struct([(lab, pa.list_(span)) for lab in labels])))
    return pa.schema([*fields, *meta, ("model", model)])


def write_rows(rows: Iterable[dict[str, Any]], path: Path, fmt: str, columns: Sequence[str],
               schema: Any = None) -> int:
    """Stream ``rows`` atomically to ``path`` as JSONL, CSV (dicts/lists as JSON strings) or
    Parquet (typed ``schema``, row groups of 8,192 rows). Returns the number of rows."""
    count = 0
    with atomic_path(path, suffix=f".{fmt}.tmp") as tmp:
        if fmt == "jsonl":
            with open(tmp, "wb") as fh:
                for row in rows:
                    fh.write(_json_line({c: row.get(c) for c in columns}))
                    count += 1
        elif fmt == "csv":
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(columns)
                for row in rows:
                    writer.writerow([_csv_cell(row.get(c)) for c in columns])
                    count += 1
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            writer = pq.ParquetWriter(tmp, schema)
            try:
                buf: list[dict[str, Any]] = []
                for row in rows:
                    buf.append(row)
                    count += 1
                    if len(buf) >= 8192:
                        writer.write_table(pa.Table.from_pylist(buf, schema=schema))
                        buf = []
                if buf or count == 0:
                    writer.write_table(pa.Table.from_pylist(buf, schema=schema))
            finally:
                writer.close()
        else:
            raise ValueError(f"unknown output format {fmt!r}")
    return count


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _publish(part: Path, dest: Path) -> None:
    """Put a finished part file at ``dest`` atomically, leaving the part in place (hard link,
    or a copy where links are not possible), so an interrupted finalisation can be redone."""
    with atomic_path(dest, suffix=".tmp") as tmp:
        tmp.unlink()
        try:
            os.link(part, tmp)
        except OSError:
            shutil.copyfile(part, tmp)


# --------------------------------------------------------------------------------------------
# exactly-once state


class _ErrorSink(ErrorLog):
    """An :class:`ErrorLog` that appends rejected records to the run's errors part, skipping
    those already committed by an interrupted run."""

    def __init__(self, fh: IO[bytes] | None, stats: ReadStats, skip_read: int) -> None:
        super().__init__(errors_path=None, keep=50)
        self._part = fh
        self._stats = stats
        self._skip_read = skip_read
        self.bytes = fh.tell() if fh is not None else 0

    def add(self, error: RecordError) -> None:
        super().add(error)
        if self._part is not None and self._stats.read > self._skip_read:
            data = _json_line(error.to_dict())
            self._part.write(data)
            self.bytes += len(data)


@dataclass
class _Chunk:
    passages: list[Passage]
    records: int
    read: int
    accepted: int
    rejected: int
    excluded: int
    errors_bytes: int
    final: bool


def _input_signature(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    out = []
    for path in expand_inputs(paths):
        entry: dict[str, Any] = {"path": str(Path(path).resolve())}
        if path.is_file():
            st = path.stat()
            entry.update(size=st.st_size, mtime_ns=st.st_mtime_ns)
        elif path.is_dir():
            digest = hashlib.sha256()
            for f in sorted(path.iterdir()):
                if f.is_file():
                    st = f.stat()
                    digest.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            entry["listing"] = digest.hexdigest()[:16]
        else:
            entry["missing"] = True
        out.append(entry)
    return out


def _token_counter(tokenizer: Any) -> Callable[[str], int]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # the Rust tokenizer, ~2x faster; a copy without padding/truncation
        from tokenizers import Tokenizer

        counter = Tokenizer.from_str(backend.to_str())
        counter.no_padding()
        counter.no_truncation()
        return lambda text: len(counter.encode(text, add_special_tokens=False).ids)
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _passage_budget(artifact: Artifact, max_tokens: int | None) -> int:
    specials = artifact.tokenizer.num_special_tokens_to_add(pair=False)
    limit = artifact.max_length - specials
    if max_tokens is None:
        return limit
    if max_tokens > limit:
        raise DataError(f"--max-tokens {max_tokens} exceeds what the model reads: max_length "
                        f"{artifact.max_length} minus {specials} special tokens = {limit}; "
                        f"pass --max-tokens {limit} or less")
    return max_tokens


def _chunks(records: Iterator[Passage], *, split: Callable[[Passage], list[Passage]],
            chunk_size: int, stats: ReadStats, sink: _ErrorSink, skip_read: int) -> Iterator[_Chunk]:
    """Deterministic chunks of whole records (>= chunk_size passages, the last one smaller)."""
    buf: list[Passage] = []
    n_records = 0

    def make(final: bool) -> _Chunk:
        return _Chunk(buf, n_records, stats.read, stats.accepted, stats.rejected, stats.excluded,
                      sink.bytes, final)

    for record in records:
        if stats.read <= skip_read:
            continue
        pieces = split(record)
        if len(pieces) == 1 and record.index is not None:
            pieces[0].index = record.index
        buf.extend(pieces)
        n_records += 1
        if len(buf) >= chunk_size:
            yield make(False)
            buf, n_records = [], 0
    yield make(True)


def _load_state(work: Path) -> dict[str, Any]:
    path = work / STATE_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:  # pragma: no cover - written atomically
        raise DataError(f"{path}: unreadable run state ({exc.msg}); pass --overwrite to start "
                        "again") from None


def _check_key(state: dict[str, Any], key: dict[str, Any], work: Path) -> None:
    old = state.get("key", {})
    if state.get("version") != STATE_VERSION:
        raise DataError(f"{work}: the interrupted run was written by another framescope version "
                        f"(state {state.get('version')!r}); pass --overwrite to start again")
    diff = sorted(k for k in set(old) | set(key) if old.get(k) != key.get(k))
    if diff:
        details = "; ".join(f"{k}: was {old.get(k)!r}, now {key.get(k)!r}" for k in diff[:4])
        raise DataError(f"cannot --resume: the interrupted run in {work} used different settings "
                        f"or inputs ({details}). Re-run the same command with --resume, or pass "
                        "--overwrite to start again")


# --------------------------------------------------------------------------------------------
# the run


def score(
    model: str | os.PathLike[str] | Artifact,
    inputs: Sequence[str | Path],
    out: str | os.PathLike[str],
    config: ScoreConfig | None = None,
) -> ScoreSummary:
    """Score ``inputs`` with ``model`` and write passage and/or article rows to ``out``.

    Args:
        model: a model folder or a loaded :class:`~framescope.modeling.Artifact`.
        inputs: files, folders or glob patterns the data module reads (feeds, JSONL, CSV,
            Parquet, ``.txt`` folders, …).
        out: the output file (``.jsonl``, ``.csv`` or ``.parquet``).
        config: run settings.

    Returns:
        a :class:`ScoreSummary` (counts, timing, outputs).

    Raises:
        DataError: bad input with ``on_error="stop"`` (nothing written), an existing output
            without ``overwrite``/``resume``, an interrupted run without ``resume``/``overwrite``,
            or a ``resume`` whose inputs or settings differ.

    Example:
        >>> score("models/default", ["data/samples/feed.xml"], "scores.jsonl",
        ...       ScoreConfig(level="both"))  # doctest: +SKIP
    """
    from framescope.modeling import Artifact, load_artifact
    from framescope.runtime import resolve_precision

    cfg = config or ScoreConfig()
    out = Path(out)
    fmt = output_format(out, cfg.output_format)
    outputs = output_paths(out, cfg.level)
    errors_path = (cfg.errors_path or default_errors_path(out)) if cfg.on_error == "skip" else None
    work = _work_dir(out)
    if not inputs:
        raise DataError("no inputs given: pass feed, JSONL, CSV, Parquet files or folders to score")

    # 1. what is already there: an interrupted run, finished outputs
    state: dict[str, Any] = {}
    if work.exists():
        if cfg.overwrite:
            shutil.rmtree(work)
        elif cfg.resume:
            state = _load_state(work)
        else:
            raise DataError(f"an interrupted run of this output is in {work}; pass --resume to "
                            "continue it, or --overwrite to start again")
    elif cfg.resume and all(p.exists() for p in outputs.values()):
        return ScoreSummary(ReadStats(), 0, 0, 0.0, 0, resolve_precision(cfg.precision), outputs,
                            None, already_complete=True)
    if not state and not cfg.overwrite:
        existing = [str(p) for p in outputs.values() if p.exists()]
        if existing and not cfg.resume:
            raise DataError(f"{', '.join(existing)} already exist(s); pass --overwrite to replace "
                            "(the old file stays until the new one is complete)")
    if cfg.resume and not state:
        logger.info("no interrupted run of %s found; starting a new one", out)

    if cfg.engine == "ray":
        import importlib.util

        from framescope.runtime import RuntimeUnavailable

        if importlib.util.find_spec("ray") is None:
            raise RuntimeUnavailable("--engine ray needs Ray Data: pip install 'framescope[ray]'")

    # 2. model, settings, identity of the run
    artifact = model if isinstance(model, Artifact) else load_artifact(model)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    precision = resolve_precision(cfg.precision)
    budget = _passage_budget(artifact, cfg.max_tokens)
    key = {
        "inputs": _input_signature(inputs), "model": _model_info(artifact)["fingerprint"],
        "precision": precision, "level": cfg.level, "format": fmt, "aggregate": cfg.aggregate,
        "evidence": cfg.evidence, "evidence_top_k": cfg.evidence_top_k,
        "evidence_units": cfg.evidence_units, "max_tokens": budget,
        "chunk_size": cfg.chunk_size, "batch_size": cfg.batch_size, "on_error": cfg.on_error,
        "read_options": asdict(cfg.read_options),
    }
    if state:
        _check_key(state, key, work)

    # 3. validate every input first (and count records for the progress bar)
    vstats, vlog = validate_inputs(inputs, cfg.read_options)
    if cfg.on_error == "stop" and vlog.fatal:
        raise DataError([e for e in vlog.first if not e.excluded][:20], total=vlog.fatal)
    if vstats.accepted == 0:
        raise DataError(f"no valid records to score in {', '.join(map(str, inputs))} "
                        f"({vstats.summary()})")

    # 4. score and commit chunk by chunk
    if not state:
        work.mkdir(parents=True, exist_ok=True)
        state = {"version": STATE_VERSION, "key": key, "read": 0, "records": 0, "passages": 0,
                 "bytes": {"passages": 0, "errors": 0}, "scored": False,
                 "stats": asdict(ReadStats())}
        atomic_write_text(work / STATE_FILE, json.dumps(state, indent=1) + "\n")
    resumed = state["read"] > 0 or state["scored"]
    scorer = Scorer(artifact, precision=precision, batch_size=cfg.batch_size,
                    evidence=cfg.evidence, evidence_top_k=cfg.evidence_top_k,
                    evidence_units=cfg.evidence_units)
    t0 = time.perf_counter()
    done_before = int(state["passages"])
    if not state["scored"]:
        _score_chunks(artifact, scorer, inputs, cfg, work, state, vstats.accepted, budget, outputs)
    seconds = time.perf_counter() - t0

    # 5. finalise: publish outputs atomically, then drop the work folder
    n_articles = _finalise(artifact, scorer, cfg, work, fmt, outputs, errors_path)
    stats = ReadStats(**state["stats"])
    return ScoreSummary(stats, int(state["passages"]), n_articles, seconds,
                        int(state["passages"]) - done_before, precision, outputs, errors_path,
                        resumed=resumed)


def _executor(cfg: ScoreConfig, scorer: Scorer,
              artifact: Artifact) -> Callable[[Iterator[_Chunk]], Iterator[tuple[_Chunk, ChunkResult]]]:
    if cfg.engine == "ray":
        from framescope.ray_engine import RayExecutor

        return RayExecutor(artifact, precision=scorer.precision, batch_size=cfg.batch_size,
                           evidence=cfg.evidence, evidence_top_k=cfg.evidence_top_k,
                           evidence_units=cfg.evidence_units, workers=cfg.workers)

    def local(chunks: Iterator[_Chunk]) -> Iterator[tuple[_Chunk, ChunkResult]]:
        for chunk in chunks:
            yield chunk, scorer.score([p.text for p in chunk.passages])

    return local


def _score_chunks(artifact: Artifact, scorer: Scorer, inputs: Sequence[str | Path],
                  cfg: ScoreConfig, work: Path, state: dict[str, Any], total_records: int,
                  budget: int, outputs: dict[str, Path]) -> None:
    from tqdm.auto import tqdm

    part_path, err_path = work / PASSAGES_PART, work / ERRORS_PART
    for path in (part_path, err_path):
        path.touch()
    model = _model_info(artifact)
    count = _token_counter(artifact.tokenizer)

    def split(record: Passage) -> list[Passage]:
        return split_article(record, max_tokens=budget, count_tokens=count)

    with contextlib.ExitStack() as stack:
        part = stack.enter_context(open(part_path, "r+b"))
        errs = stack.enter_context(open(err_path, "r+b")) if cfg.on_error == "skip" else None
        # drop whatever an interrupted run wrote after its last commit
        part.truncate(state["bytes"]["passages"])
        part.seek(state["bytes"]["passages"])
        if errs is not None:
            errs.truncate(state["bytes"]["errors"])
            errs.seek(state["bytes"]["errors"])
        stats = ReadStats()
        sink = _ErrorSink(errs, stats, skip_read=int(state["read"]))
        records = read_passages(inputs, cfg.read_options, on_error=cfg.on_error if cfg.on_error == "stop"
                                else "collect", log=sink, stats=stats)
        chunks = _chunks(records, split=split, chunk_size=cfg.chunk_size or CHUNK_SIZE, stats=stats, sink=sink,
                         skip_read=int(state["read"]))
        bar = stack.enter_context(tqdm(total=total_records, initial=int(state["records"]),
                                       unit="rec", desc="scoring", disable=not cfg.progress,
                                       dynamic_ncols=True))
        t0, n_run = time.perf_counter(), 0
        for chunk, result in _executor(cfg, scorer, artifact)(chunks):
            for row in _passage_rows(chunk.passages, result, scorer, model):
                part.write(_json_line(row))
            part.flush()
            os.fsync(part.fileno())
            if errs is not None:
                errs.flush()
                os.fsync(errs.fileno())
            state["read"] = chunk.read
            state["records"] = int(state["records"]) + chunk.records
            state["passages"] = int(state["passages"]) + len(chunk.passages)
            state["bytes"] = {"passages": part.tell(), "errors": chunk.errors_bytes}
            state["stats"] = {"read": chunk.read, "accepted": chunk.accepted,
                              "rejected": chunk.rejected, "excluded": chunk.excluded}
            state["scored"] = chunk.final
            atomic_write_text(work / STATE_FILE, json.dumps(state, indent=1) + "\n")
            n_run += len(chunk.passages)
            bar.update(chunk.records)
            rate = n_run / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix_str(f"{state['passages']} passages, {rate:.1f} passages/s", refresh=False)


def _finalise(artifact: Artifact, scorer: Scorer, cfg: ScoreConfig, work: Path, fmt: str,
              outputs: dict[str, Path], errors_path: Path | None) -> int:
    part = work / PASSAGES_PART
    labels = scorer.labels
    n_articles = 0
    if "passage" in outputs:
        if fmt == "jsonl":
            _publish(part, outputs["passage"])
        else:
            write_rows(_iter_jsonl(part), outputs["passage"], fmt, passage_columns(cfg.evidence),
                       _parquet_schema("passage", labels, cfg.evidence) if fmt == "parquet" else None)
    if "article" in outputs:
        rows = aggregate_articles(lambda: _iter_jsonl(part), labels, scorer.decide,
                                  method=cfg.aggregate, model=_model_info(artifact))
        n_articles = write_rows(rows, outputs["article"], fmt, article_columns(),
                                _parquet_schema("article", labels, False) if fmt == "parquet" else None)
    if errors_path is not None:
        _publish(work / ERRORS_PART, errors_path)
    shutil.rmtree(work, ignore_errors=True)
    return n_articles
