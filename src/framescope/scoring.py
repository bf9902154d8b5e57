"""Streaming batch scoring of news inputs: chunks, exactly-once resume, article rows.

The pipeline (one pass, constant memory):

1. **Validate** every input with the data module (``--on-error stop`` refuses the run before
   anything is written; ``skip`` goes on and writes rejected records with reasons to an errors
   file). This pass also counts the records for the progress bar.
2. **Read and cut** records as a stream (:func:`framescope.data.read_passages`); articles are
   cut into paragraph passages by :func:`framescope.inference.cut_records` with the model
   tokenizer's token counter and a budget that fits the model, so nothing is truncated. A
   record that fits in one passage keeps its ``id``; longer ones get ``ID#0``, ….
3. **Score** deterministic chunks of passages (``chunk_size``) with
   :class:`framescope.inference.PassageScorer` (length-sorted batches; ``--evidence`` adds
   occlusion spans). The ``ray`` engine scores the same chunks on Ray Data
   (:mod:`framescope.ray_engine`).
4. **Commit** each chunk: its passage rows (:func:`framescope.scored.passage_rows`) are appended
   to a part file in a work folder beside the output (``.OUT.framescope-run/``), the part is
   fsynced, then ``state.json`` records the committed byte offsets and the number of input
   records consumed, written atomically. ``--resume`` truncates the part to the last committed
   offset and skips committed records, so after a ``kill -9`` at any point the output holds
   every passage exactly once, identical to an uninterrupted run.
5. **Finalise**: the passage file and the article file (:class:`framescope.scored.ArticleCombiner`)
   are written to temporary files and renamed into place; then the work folder is removed. An
   existing output is replaced only at that moment.

The row schema is :mod:`framescope.scored`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from framescope.data.dataset import read_passages, validate_inputs
from framescope.data.errors import DataError, ErrorLog, ReadStats, RecordError
from framescope.data.io import atomic_write_text
from framescope.data.passages import passage_spans, passages_at
from framescope.data.records import ReadOptions
from framescope.data.schema import Passage
from framescope.heap import mapped_reads, release_memory
from framescope.inference import (
    COMBINE_RULES,
    ChunkResult,
    PassageScorer,
    article_fuser,
    model_stamp,
    passage_budget,
    record_decisions,
    token_counter,
)
from framescope.modeling import Artifact, load_artifact
from framescope.run_state import (
    STATE_FILE,
    STATE_VERSION,
    OutputLock,
    check_key,
    check_writable,
    done_file,
    input_signature,
    load_done,
    load_state,
    work_dir,
)
from framescope.runtime import PRECISIONS, RuntimeUnavailable, resolve_precision
from framescope.scored import (
    LEVELS,
    OUTPUT_FORMATS,
    ArticleCombiner,
    article_columns,
    default_errors_path,
    iter_jsonl,
    json_line,
    output_format,
    output_paths,
    parquet_schema,
    passage_columns,
    passage_rows,
    publish,
    write_rows,
)

__all__ = ["CHUNK_SIZE", "ENGINES", "EVIDENCE_CHUNK_SIZE", "OutputLock", "ScoreConfig", "ScoreSummary", "score"]

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")
#: default passages per committed chunk, without and with evidence
CHUNK_SIZE = 1024
EVIDENCE_CHUNK_SIZE = 128
PASSAGES_PART = "passages.jsonl"
ERRORS_PART = "errors.jsonl"


# --------------------------------------------------------------------------------------------
# configuration and results


@dataclass
class ScoreConfig:
    """Settings of a scoring run (the ``framescope score`` flags).

    Attributes:
        level: ``passage``, ``article`` or ``both`` (both: ``OUT`` and ``OUT.articles``).
        output_format: ``jsonl``, ``csv`` or ``parquet``; ``None`` takes it from the suffix.
        aggregate: article score from passage scores: ``max``, ``noisy-or`` (1 - Π(1 - p)) or
            ``mean``; ``None`` takes the model's rule (``max`` for multi-label models,
            ``mean`` for single-label ones; see :mod:`framescope.inference`).
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
            bar's step; also the window in which passages are length-sorted); default 1024, or
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
    aggregate: str | None = None
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
        if self.aggregate is not None and self.aggregate not in COMBINE_RULES:
            raise ValueError(f"The 'aggregate' parameter must be one of {', '.join(COMBINE_RULES)}. "
                             f"Got {self.aggregate!r} instead.")
        choices = {"level": LEVELS, "engine": ENGINES,
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
            data = json_line(error.to_dict())
            self._part.write(data)
            self.bytes += len(data)


@dataclass
class _Chunk:
    """Passages to score and commit together, and where the input stands after them.

    ``read`` and the counts are those of the last record finished in or before this chunk;
    ``partial`` is how many passages of the next record this chunk already holds (a long record
    is spread over several chunks, so memory stays bounded by ``chunk_size``).
    """

    passages: list[Passage]
    records: int
    read: int
    accepted: int
    rejected: int
    excluded: int
    errors_bytes: int
    final: bool
    partial: int = 0


def _chunks(records: Iterator[Passage], *, cut: Callable[[Passage], list[tuple[int, int]]],
            chunk_size: int, stats: ReadStats, sink: _ErrorSink, skip_read: int,
            skip_partial: int = 0) -> Iterator[_Chunk]:
    """Deterministic chunks of at most ``chunk_size`` passages (a record's passages may span
    chunks); the same input always gives the same chunks, so ``--resume`` can skip exactly what
    was committed: ``skip_read`` whole records, then ``skip_partial`` passages of the next."""
    buf: list[Passage] = []
    done = {"records": 0, "read": skip_read, "accepted": 0, "rejected": 0, "excluded": 0, "errors": 0}

    def snapshot() -> None:  # where the input stands after the last finished record
        done.update(read=stats.read, accepted=stats.accepted, rejected=stats.rejected,
                    excluded=stats.excluded, errors=sink.bytes)

    def make(final: bool, partial: int) -> _Chunk:
        chunk = _Chunk(buf, done["records"], done["read"], done["accepted"], done["rejected"],
                       done["excluded"], done["errors"], final, partial)
        done["records"] = 0
        return chunk

    snapshot()
    done["read"] = skip_read
    first = True
    for record in mapped_reads(records):
        if stats.read <= skip_read:
            snapshot()
            continue
        spans = cut(record)
        pos = skip_partial if first else 0
        first = False
        while pos < len(spans):  # passages are made as they are needed, a chunk at a time
            take = min(chunk_size - len(buf), len(spans) - pos)
            for piece in itertools.islice(passages_at(record, spans, pos), take):
                if len(spans) == 1 and record.index is not None:
                    piece.index = record.index
                buf.append(piece)
            pos += take
            if len(buf) >= chunk_size and pos < len(spans):
                yield make(False, pos)
                buf = []
        done["records"] += 1
        snapshot()
        if len(buf) >= chunk_size:
            yield make(False, 0)
            buf = []
    snapshot()
    yield make(True, 0)


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
    cfg = config or ScoreConfig()
    out = Path(out)
    fmt = output_format(out, cfg.output_format)
    if not inputs:
        raise DataError("no inputs given: pass feed, JSONL, CSV, Parquet files or folders to score")
    check_writable(out.parent)  # before the model loads: fail in a second, not a minute
    with OutputLock(out):  # one writer per output; released by the system if this run is killed
        return _score_locked(model, inputs, out, fmt, cfg)


def _score_locked(model: str | os.PathLike[str] | Artifact, inputs: Sequence[str | Path], out: Path,
                  fmt: str, cfg: ScoreConfig) -> ScoreSummary:
    outputs = output_paths(out, cfg.level)
    errors_path = (cfg.errors_path or default_errors_path(out)) if cfg.on_error == "skip" else None
    work = work_dir(out)

    # 1. what is already there: an interrupted run, finished outputs
    state: dict[str, Any] = {}
    finished = False
    if work.exists():
        if cfg.overwrite:
            shutil.rmtree(work)
        elif cfg.resume:
            state = load_state(work)
        else:
            raise DataError(f"an interrupted run of this output is in {work}; pass --resume to "
                            "continue it, or --overwrite to start again")
    elif cfg.resume and all(p.exists() for p in outputs.values()):
        finished = True  # checked against the run that made it once the model is loaded
    if not state and not cfg.overwrite:
        existing = [str(p) for p in outputs.values() if p.exists()]
        if existing and not cfg.resume:
            raise DataError(f"{', '.join(existing)} already exist(s); pass --overwrite to replace "
                            "(the old file stays until the new one is complete)")
    if cfg.resume and not state and not finished:
        logger.info("no interrupted run of %s found; starting a new one", out)
    if cfg.engine == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise RuntimeUnavailable("--engine ray needs Ray Data: pip install 'framescope[ray]'")

    # 2. model, settings, identity of the run (everything that changes a row)
    artifact = model if isinstance(model, Artifact) else load_artifact(model)
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    precision = resolve_precision(cfg.precision)
    try:
        budget = passage_budget(artifact.tokenizer, artifact.max_length, cfg.max_tokens)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    method = cfg.aggregate or artifact.combine
    stamp = model_stamp(artifact)
    key = {
        "inputs": input_signature(inputs), "model": stamp["fingerprint"],
        "labels": list(artifact.taxonomy.ids), "thresholds": artifact.threshold_vector().tolist(),
        "problem_type": "single_label" if artifact.single_label else "multi_label",
        "precision": precision, "level": cfg.level, "format": fmt, "aggregate": method,
        "evidence": cfg.evidence, "evidence_top_k": cfg.evidence_top_k,
        "evidence_units": cfg.evidence_units, "max_tokens": budget,
        "chunk_size": cfg.chunk_size, "batch_size": cfg.batch_size, "on_error": cfg.on_error,
        "read_options": {k: v for k, v in asdict(cfg.read_options).items() if not k.startswith("_")},
    }
    if state:
        check_key(state, key, work)
    if finished:
        check_key(load_done(out), key, done_file(out), finished=True)
        return ScoreSummary(ReadStats(), 0, 0, 0.0, 0, precision, outputs, None, already_complete=True)

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
    scorer = PassageScorer(artifact, precision=precision, batch_size=cfg.batch_size,
                           evidence=cfg.evidence, evidence_top_k=cfg.evidence_top_k,
                           evidence_units=cfg.evidence_units)
    t0 = time.perf_counter()
    done_before = int(state["passages"])
    if not state["scored"]:
        _score_chunks(artifact, scorer, inputs, cfg, work, state, vstats.accepted, budget, stamp)
    seconds = time.perf_counter() - t0

    # 5. finalise: publish outputs atomically, record the run's identity, drop the work folder
    n_articles = _finalise(scorer, cfg, work, fmt, outputs, errors_path, method, stamp)
    atomic_write_text(done_file(out), json.dumps({"version": STATE_VERSION, "key": key,
                                                   "stats": state["stats"]}, indent=1) + "\n")
    stats = ReadStats(**state["stats"])
    return ScoreSummary(stats, int(state["passages"]), n_articles, seconds,
                        int(state["passages"]) - done_before, precision, outputs, errors_path,
                        resumed=resumed)


def _executor(cfg: ScoreConfig, scorer: PassageScorer,
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


def _score_chunks(artifact: Artifact, scorer: PassageScorer, inputs: Sequence[str | Path],
                  cfg: ScoreConfig, work: Path, state: dict[str, Any], total_records: int,
                  budget: int, stamp: dict[str, str]) -> None:
    from tqdm.auto import tqdm

    part_path, err_path = work / PASSAGES_PART, work / ERRORS_PART
    for path in (part_path, err_path):
        path.touch()
    count = token_counter(artifact.tokenizer)

    def cut(record: Passage) -> list[tuple[int, int]]:  # cut_records(paragraphs=True), as spans
        return passage_spans(record.text, max_tokens=budget, count_tokens=count)

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
        chunks = _chunks(records, cut=cut, chunk_size=cfg.chunk_size or CHUNK_SIZE, stats=stats,
                         sink=sink, skip_read=int(state["read"]), skip_partial=int(state.get("partial", 0)))
        bar = stack.enter_context(tqdm(total=total_records, initial=int(state["records"]),
                                       unit="rec", desc="scoring", disable=not cfg.progress,
                                       dynamic_ncols=True))
        t0, n_run = time.perf_counter(), 0
        for chunk, result in _executor(cfg, scorer, artifact)(chunks):
            for row in passage_rows(chunk.passages, result, scorer.labels, stamp):
                part.write(json_line(row))
            part.flush()
            os.fsync(part.fileno())
            if errs is not None:
                errs.flush()
                os.fsync(errs.fileno())
            state["read"] = chunk.read
            state["partial"] = chunk.partial
            state["records"] = int(state["records"]) + chunk.records
            state["passages"] = int(state["passages"]) + len(chunk.passages)
            state["bytes"] = {"passages": part.tell(), "errors": chunk.errors_bytes}
            state["stats"] = {"read": chunk.read, "accepted": chunk.accepted,
                              "rejected": chunk.rejected, "excluded": chunk.excluded}
            state["scored"] = chunk.final
            atomic_write_text(work / STATE_FILE, json.dumps(state, indent=1) + "\n")
            release_memory()
            n_run += len(chunk.passages)
            bar.update(chunk.records)
            rate = n_run / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix_str(f"{state['passages']} passages, {rate:.1f} passages/s", refresh=False)


def _finalise(scorer: PassageScorer, cfg: ScoreConfig, work: Path, fmt: str,
              outputs: dict[str, Path], errors_path: Path | None, method: str,
              stamp: dict[str, str]) -> int:
    part = work / PASSAGES_PART
    labels = scorer.labels
    n_articles = 0
    if "passage" in outputs:
        if fmt == "jsonl":
            publish(part, outputs["passage"])
        else:
            write_rows(iter_jsonl(part), outputs["passage"], fmt, passage_columns(cfg.evidence),
                       parquet_schema("passage", labels, cfg.evidence) if fmt == "parquet" else None)
    if "article" in outputs:
        art = scorer.artifact
        combiner = ArticleCombiner(labels, lambda p: record_decisions(art, p), method=method,
                                   model=stamp, fuse=article_fuser(art))
        n_articles = write_rows(combiner.rows(lambda: iter_jsonl(part)), outputs["article"], fmt,
                                article_columns(),
                                parquet_schema("article", labels, False) if fmt == "parquet" else None)
    if errors_path is not None:
        publish(work / ERRORS_PART, errors_path)
    shutil.rmtree(work, ignore_errors=True)
    return n_articles
