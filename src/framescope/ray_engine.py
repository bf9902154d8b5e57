"""The ``ray`` engine: the same chunks as the local engine, scored on Ray Data.

The driver reads, validates and cuts the inputs (the data module), cuts the same
deterministic chunks as the local engine and commits results in input order, so outputs,
``--resume`` and the errors file behave exactly as with ``--engine local``. Scoring runs in
``Dataset.map_batches`` with a model-holding callable class (:class:`ChunkScorer`) on a fixed
actor pool: each actor loads the model once per window of chunks from bytes placed in the Ray
object store (no shared filesystem needed) and scores one whole chunk per call, with the same
length-sorted batching, so scores match the local engine.

``ray.init`` starts a local instance (``num_cpus`` = this machine's CPUs) unless the
environment names a cluster with ``RAY_ADDRESS`` (for example ``ray://head:10001`` or
``auto``); framescope must be installed on the cluster's nodes.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from framescope.inference import ChunkResult, PassageScorer
from framescope.runtime import RuntimeUnavailable

if TYPE_CHECKING:
    from framescope.modeling import Artifact

__all__ = ["ChunkScorer", "RayExecutor", "artifact_files", "init_ray"]

logger = logging.getLogger(__name__)


def init_ray(num_cpus: int | None = None) -> bool:
    """Connect to Ray: the cluster in ``RAY_ADDRESS`` when set, else a new local instance with
    ``num_cpus`` CPUs (default: all). Returns True when this call started the connection (the
    caller then shuts it down)."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeUnavailable("--engine ray needs Ray Data: pip install 'framescope[ray]'") from exc
    if ray.is_initialized():
        return False
    address = os.environ.get("RAY_ADDRESS")
    if address:
        logger.info("connecting to the Ray cluster at %s", address)
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                 log_to_driver=False)
    return True


def artifact_files(path: Path) -> dict[str, bytes]:
    """The files of a model folder, to ship to Ray workers through the object store."""
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


class ChunkScorer:
    """Ray Data callable class: loads the model once per actor and scores one chunk per row.

    Input rows: ``{"chunk": int, "texts": [str, ...]}``; output rows: ``{"chunk", "n",
    "probs" (float64 bytes, n × labels), "decisions" (packed bits, n × labels), "evidence"
    (JSON or null)}``.
    """

    def __init__(self, model: Any, precision: str, batch_size: int, evidence: bool,
                 evidence_top_k: int, evidence_units: int) -> None:
        import ray

        from framescope.modeling import load_artifact

        if isinstance(model, list):  # [ObjectRef], wrapped so Ray passes the ref itself
            model = model[0]
        if isinstance(model, ray.ObjectRef):
            model = ray.get(model)
        self._tmp = tempfile.TemporaryDirectory(prefix="framescope-model-")
        folder = Path(self._tmp.name) / "model"
        folder.mkdir()
        for name, data in model.items():
            (folder / name).write_bytes(data)
        artifact = load_artifact(folder)
        self.scorer = PassageScorer(artifact, precision=precision, batch_size=batch_size,
                             evidence=evidence, evidence_top_k=evidence_top_k,
                             evidence_units=evidence_units)

    def __call__(self, batch: Any) -> Any:
        import json

        import pyarrow as pa

        chunks, ns, probs, decisions, evidence = [], [], [], [], []
        for row in batch.to_pylist():
            result = self.scorer.score(row["texts"])
            chunks.append(int(row["chunk"]))
            ns.append(len(row["texts"]))
            probs.append(np.ascontiguousarray(result.probs, dtype=np.float64).tobytes())
            decisions.append(np.packbits(result.decisions.astype(bool), axis=None).tobytes())
            evidence.append(None if result.evidence is None
                            else json.dumps(result.evidence, ensure_ascii=False))
        return pa.table({"chunk": pa.array(chunks, pa.int64()), "n": pa.array(ns, pa.int64()),
                         "probs": pa.array(probs, pa.binary()),
                         "decisions": pa.array(decisions, pa.binary()),
                         "evidence": pa.array(evidence, pa.string())})


class RayExecutor:
    """Scores a stream of chunks on Ray Data, window by window, yielding them in input order.

    Args:
        artifact: the loaded model (its folder is shipped to the workers).
        precision: a concrete precision.
        batch_size: passages per forward pass.
        evidence, evidence_top_k, evidence_units: as in :class:`framescope.inference.PassageScorer`.
        workers: actors (default: one per CPU of the Ray instance).
        window: chunks per Ray Data run (default: 4 per worker); bounds driver memory.
    """

    def __init__(self, artifact: Artifact, *, precision: str, batch_size: int, evidence: bool,
                 evidence_top_k: int, evidence_units: int = 32, workers: int | None = None,
                 window: int | None = None) -> None:
        if artifact.path is None:
            raise ValueError("--engine ray needs a model saved in a folder (Artifact.path is None)")
        self.artifact = artifact
        self.kwargs = {"precision": precision, "batch_size": batch_size, "evidence": evidence,
                       "evidence_top_k": evidence_top_k, "evidence_units": evidence_units}
        self.workers = workers
        self.window = window
        self.labels = len(artifact.taxonomy)

    def __call__(self, chunks: Iterator[Any]) -> Iterator[tuple[Any, ChunkResult]]:
        import ray

        started = init_ray(self.workers)
        try:
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False
            ctx.print_on_execution_start = False
            ctx.verbose_stats_logs = False
            cpus = int(ray.cluster_resources().get("CPU", 1))
            workers = self.workers or max(1, cpus)
            window = self.window or max(4 * workers, 4)
            model_ref = ray.put(artifact_files(self.artifact.path))  # type: ignore[arg-type]
            buf: list[Any] = []
            for chunk in chunks:
                buf.append(chunk)
                if len(buf) >= window:
                    yield from self._run(buf, model_ref, workers)
                    buf = []
            if buf:
                yield from self._run(buf, model_ref, workers)
        finally:
            if started:
                ray.shutdown()

    def _run(self, chunks: list[Any], model_ref: Any,
             workers: int) -> Iterator[tuple[Any, ChunkResult]]:
        import json

        import ray

        todo = [(i, c) for i, c in enumerate(chunks) if c.passages]
        results: dict[int, ChunkResult] = {}
        if todo:
            items = [{"chunk": i, "texts": [p.text for p in c.passages]} for i, c in todo]
            ds = ray.data.from_items(items, override_num_blocks=len(items))
            scored = ds.map_batches(
                ChunkScorer, batch_size=1, batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=min(workers, len(items))),
                fn_constructor_kwargs={"model": [model_ref], **self.kwargs}, num_cpus=1)
            for row in scored.iter_rows():
                n = int(row["n"])
                probs = np.frombuffer(row["probs"], dtype=np.float64).reshape(n, self.labels)
                bits = np.unpackbits(np.frombuffer(row["decisions"], dtype=np.uint8))
                decided = bits[:n * self.labels].reshape(n, self.labels).astype(bool)
                evidence = json.loads(row["evidence"]) if row["evidence"] is not None else None
                results[int(row["chunk"])] = ChunkResult(probs.copy(), decided, evidence)
        for i, chunk in enumerate(chunks):
            if not chunk.passages:
                yield chunk, ChunkResult(np.zeros((0, self.labels)), np.zeros((0, self.labels), dtype=bool),
                                         [] if self.kwargs["evidence"] else None)
            else:
                yield chunk, results[i]
