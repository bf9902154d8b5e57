"""The scoring service behind the HTTP app: the model, the micro-batcher and the state.

It calls the one passage path and the one row schema, exactly as ``framescope score`` does:
records are cut with :func:`framescope.inference.cut_records` (``paragraphs=True``, the model's
token budget), scored by :class:`framescope.inference.PassageScorer` (rounded scores and the
decisions made on them, evidence when asked), and turned into rows by
:func:`framescope.scored.passage_rows` and :class:`framescope.scored.ArticleCombiner` with the
model's combine rule. Only the batching differs: passages of concurrent requests share forward
passes (:mod:`framescope.serving.batcher`).

States: ``loading`` → ``ready`` → ``draining`` (SIGTERM: queued work is finished, new work is
refused with 503) → ``stopped``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from framescope.data.schema import Passage
from framescope.heap import release_memory
from framescope.inference import (
    ChunkResult,
    PassageScorer,
    article_fuser,
    cut_records,
    model_stamp,
    passage_budget,
    record_decisions,
    token_counter,
)
from framescope.scored import ArticleCombiner, article_columns, passage_columns, passage_rows
from framescope.serving.batcher import BatcherClosed, MicroBatcher
from framescope.serving.config import ServeConfig
from framescope.serving.errors import ApiError
from framescope.serving.metrics import ServeMetrics

if TYPE_CHECKING:
    from framescope.modeling import Artifact

__all__ = ["ScoringService"]

#: how often (at most) the worker thread hands freed heap pages back to the system. Batches of
#: ever-changing shapes from concurrent requests fragment glibc's heap: without this a server
#: under 16 clients grew ~1.4 MB/s for as long as the load lasted (bench/serve_load.py's soak);
#: trimming after every batch cost ~20% throughput, once a second costs little.
TRIM_SECONDS = 1.0

logger = logging.getLogger(__name__)


class ScoringService:
    """Loads the model, batches passages across requests, and builds the scored rows.

    Args:
        config: the service settings.
        artifact: an already loaded model (tests, embedding); ``None`` loads ``config.model``
            in :meth:`start`.

    Example:
        >>> service = ScoringService(ServeConfig(model="models/default"))  # doctest: +SKIP
        >>> await service.start(); await service.score(records, level="both")  # doctest: +SKIP
    """

    def __init__(self, config: ServeConfig, artifact: Artifact | None = None) -> None:
        self.config = config
        self.artifact = artifact
        self.metrics = ServeMetrics()
        self.state = "loading"
        self.batcher: MicroBatcher | None = None
        self._scorers: dict[bool, PassageScorer] = {}
        self.precision = ""
        self._trimmed = 0.0

    # ------------------------------------------------------------------------------ lifecycle

    @property
    def ready(self) -> bool:
        """True while the model is loaded and new work is accepted."""
        return self.state == "ready"

    async def start(self) -> None:
        """Load the model (in a thread), warm its runner up and start the micro-batcher."""
        await asyncio.to_thread(self._load)
        self.batcher = MicroBatcher(self._run, max_batch=self.config.max_batch,
                                    max_wait_ms=self.config.max_wait_ms,
                                    on_batch=self.metrics.batch_size.observe,
                                    on_queue=self.metrics.queue_depth.set)
        self.batcher.start()
        if self.state == "loading":
            self.state = "ready"
        logger.info("model %s (%s) ready at precision %s", self.stamp["name"], self.stamp["fingerprint"],
                    self.precision)

    def _load(self) -> None:
        threads = self.config.torch_threads()
        if threads:
            import torch

            torch.set_num_threads(threads)
        if self.artifact is None:
            from framescope.modeling import load_artifact

            self.artifact = load_artifact(self.config.model)
        art = self.artifact
        common = {"precision": self.config.precision, "batch_size": self.config.max_batch}
        self._scorers = {
            False: PassageScorer(art, **common),
            True: PassageScorer(art, evidence=True, evidence_top_k=self.config.evidence_top_k,
                                evidence_units=self.config.evidence_units, **common),
        }
        self.precision = self._scorers[False].precision
        self.labels = list(art.taxonomy.ids)
        self.count = token_counter(art.tokenizer)
        self.budget = passage_budget(art.tokenizer, art.max_length)
        self.method = art.combine
        self.stamp = model_stamp(art)
        self._scorers[False].predict(["warm-up"])  # builds the runner (an ONNX export, int8 weights)

    def begin_drain(self) -> None:
        """Refuse new work from now on (readiness turns 503); queued work still finishes."""
        if self.state in ("loading", "ready"):
            self.state = "draining"
            logger.info("draining: new requests get 503, queued passages are finished")

    async def stop(self) -> None:
        """Drain: finish every queued passage, then stop the worker thread."""
        self.begin_drain()
        if self.batcher is not None:
            await self.batcher.close()
        self.state = "stopped"

    # ------------------------------------------------------------------------------ scoring

    def _run(self, texts: list[str], key: Hashable) -> list[tuple[np.ndarray, np.ndarray, Any]]:
        """One micro-batch (in the worker thread): rounded scores, decisions, evidence."""
        result = self._scorers[bool(key)].score(texts)
        now = time.monotonic()
        if now - self._trimmed >= TRIM_SECONDS:  # see TRIM_SECONDS
            release_memory()
            self._trimmed = now
        evidence = result.evidence or [None] * len(texts)
        return [(result.probs[i], result.decisions[i], evidence[i]) for i in range(len(texts))]

    def check_ready(self) -> None:
        """Raise a 503 :class:`ApiError` unless the service takes new work."""
        if self.state == "ready":
            return
        what = {"loading": "the model is still loading", "draining": "the service is shutting down",
                "stopped": "the service has stopped"}.get(self.state, self.state)
        headers = {"Retry-After": "1"}
        if self.state != "loading":  # shutting down: keep-alive clients should reconnect elsewhere,
            headers["Connection"] = "close"  # and not before this process has stopped listening
            headers["Retry-After"] = str(math.ceil(self.config.drain_seconds) + 1)
        raise ApiError(503, f"{what}; retry shortly", code="not_ready" if self.state == "loading" else "draining",
                       headers=headers)

    async def score(self, records: Sequence[Passage], *, level: str = "passage",
                    evidence: bool = False) -> dict[str, Any]:
        """Scored rows for validated records: ``{"model", "level", "passages"?, "articles"?}``
        with the same rows ``framescope score`` writes for the same records.

        Raises:
            ApiError: 503 when the service is not ready or shuts down meanwhile.
        """
        self.check_ready()
        assert self.batcher is not None
        pieces = await asyncio.to_thread(cut_records, records, self.count, self.budget, paragraphs=True)
        texts = [p.text for p in pieces.passages]
        try:
            scored = await self.batcher.submit(texts, key=bool(evidence))
        except BatcherClosed:
            self.check_ready()
            raise
        self.metrics.passages.inc(len(texts))
        chunk = ChunkResult(np.array([s[0] for s in scored]), np.array([s[1] for s in scored]),
                            [s[2] for s in scored] if evidence else None)
        rows = list(passage_rows(pieces.passages, chunk, self.labels, self.stamp))
        out: dict[str, Any] = {"model": self.stamp, "level": level}
        if level in ("passage", "both"):
            cols = passage_columns(evidence)
            out["passages"] = [{c: row.get(c) for c in cols} for row in rows]
        if level in ("article", "both"):
            art = self._scorers[False].artifact
            combiner = ArticleCombiner(self.labels, lambda p: record_decisions(art, p), method=self.method,
                                       model=self.stamp, fuse=article_fuser(art))
            cols = article_columns()
            out["articles"] = [{c: row.get(c) for c in cols} for row in combiner.rows(rows)]
        return out

    def model_info(self) -> dict[str, Any]:
        """What ``GET /v1/model`` answers: name, fingerprint, taxonomy with definitions and
        thresholds, problem type, combine rule, precision, the metrics recorded in the artifact
        (its model card's figures) when there are any, and its TF-IDF fusion (article rows) if any."""
        self.check_loaded()
        art = self.artifact
        assert art is not None
        thresholds = dict(zip(self.labels, art.threshold_vector().tolist()))
        tax = art.taxonomy
        labels = [{"id": lab.id, "name": lab.name, "description": lab.description, "cues": lab.cues,
                   "excludes": lab.excludes, "threshold": thresholds[lab.id]} for lab in tax.labels]
        meta = art.meta
        return {
            "name": self.stamp["name"], "fingerprint": self.stamp["fingerprint"],
            "problem_type": "single_label" if art.single_label else "multi_label",
            "taxonomy": {"id": tax.id, "name": tax.name, "description": tax.description, "labels": labels},
            "thresholds": thresholds, "threshold_source": meta.get("threshold_source"),
            "combine": self.method, "max_length": art.max_length, "passage_tokens": self.budget,
            "precision": self.precision, "base_model": meta.get("base_model"),
            "created": meta.get("created"), "versions": meta.get("versions"),
            "metrics": _finite(meta.get("metrics")) or None,
            "fusion": None if art.fusion is None else {
                "kind": "tfidf", "weight": art.fusion.weight,
                "article_thresholds": dict(zip(self.labels, art.fusion.thresholds.tolist()))},
        }

    def check_loaded(self) -> None:
        """Raise a 503 :class:`ApiError` while the model is not loaded yet."""
        if self.artifact is None or not self._scorers:
            raise ApiError(503, "the model is still loading; retry shortly", code="not_ready",
                           headers={"Retry-After": "1"})


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (JSON has neither)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
