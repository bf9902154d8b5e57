"""Dynamic micro-batching: passages of concurrent requests scored together, off the event loop.

Each request submits its passage texts as one job (:meth:`MicroBatcher.submit`). A collector
task packs waiting jobs into batches of at most ``max_batch`` passages: it waits until the
oldest waiting job is ``max_wait_ms`` old or the batch is full, whichever comes first, then
hands the batch to ``run`` in a single worker thread (inference never blocks the event loop,
and one model runs one batch at a time). ``run`` length-sorts the batch itself
(:func:`framescope.inference.predict_proba` does), so the packed passages become
length-sorted forward passes. Each job's results are routed back to its future in order.

A job larger than ``max_batch`` is spread over several batches. Jobs carry a ``key`` (here:
whether evidence is wanted); a batch only holds jobs of one key, so a cheap request never
waits for another request's evidence.

:meth:`MicroBatcher.close` drains: it refuses new jobs (:class:`BatcherClosed`) and finishes
every job already queued before it returns.

Example:
    >>> async def main():
    ...     batcher = MicroBatcher(lambda items, key: [x * 2 for x in items], max_batch=8)
    ...     batcher.start()
    ...     out = await batcher.submit([1, 2, 3])
    ...     await batcher.close()
    ...     return out
    >>> asyncio.run(main())
    [2, 4, 6]
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatcherClosed", "MicroBatcher"]

logger = logging.getLogger(__name__)


class BatcherClosed(RuntimeError):
    """The batcher is draining or closed and takes no new work."""


@dataclass(eq=False)
class _Job:
    items: Sequence[Any]
    key: Hashable
    future: asyncio.Future[list[Any]]
    enqueued: float
    results: list[Any] = field(default_factory=list)
    taken: int = 0  # items handed to a batch so far
    done: int = 0  # items with results

    def __post_init__(self) -> None:
        self.results = [None] * len(self.items)


class MicroBatcher:
    """Packs concurrent jobs into batches and runs them in one worker thread.

    Args:
        run: ``run(items, key) -> results``, one result per item, in order; called in the
            worker thread with at most ``max_batch`` items of one ``key``.
        max_batch: most items per batch.
        max_wait_ms: longest wait for more jobs once the oldest waiting job arrived.
        on_batch: called (in the event loop) with the size of each batch run.
        on_queue: called with the number of items waiting, whenever it changes.

    Attributes:
        batches: batches run so far.
    """

    def __init__(self, run: Callable[[list[Any], Hashable], Sequence[Any]], *, max_batch: int = 64,
                 max_wait_ms: float = 10.0, on_batch: Callable[[int], None] | None = None,
                 on_queue: Callable[[int], None] | None = None) -> None:
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"The 'max_batch' parameter must be a positive integer. Got {max_batch!r} instead.")
        if not isinstance(max_wait_ms, (int, float)) or max_wait_ms < 0:
            raise ValueError(f"The 'max_wait_ms' parameter must be a number >= 0. Got {max_wait_ms!r} instead.")
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.on_batch = on_batch
        self.on_queue = on_queue
        self.batches = 0
        self._jobs: collections.deque[_Job] = collections.deque()
        self._waiting = 0  # items queued and not yet in a batch
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._closing = False

    @property
    def closing(self) -> bool:
        """True once :meth:`close` was called (new jobs are refused)."""
        return self._closing

    @property
    def waiting(self) -> int:
        """Items queued and not yet handed to a batch."""
        return self._waiting

    def start(self) -> None:
        """Start the collector task (call from the running event loop)."""
        if self._task is not None:
            return
        self._wakeup = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                               thread_name_prefix="framescope-infer")
        self._task = asyncio.get_running_loop().create_task(self._collect(), name="framescope-batcher")

    async def submit(self, items: Sequence[Any], key: Hashable = None) -> list[Any]:
        """Queue ``items`` as one job and wait for their results (in order).

        Raises:
            BatcherClosed: when the batcher is draining or closed.
            Exception: whatever ``run`` raised for a batch holding this job.
        """
        if self._closing or self._task is None:
            raise BatcherClosed("the service is shutting down" if self._closing else "the batcher is not started")
        if not items:
            return []
        job = _Job(items, key, asyncio.get_running_loop().create_future(), time.monotonic())
        self._jobs.append(job)
        self._queued(len(items))
        assert self._wakeup is not None
        self._wakeup.set()
        return await job.future

    async def close(self) -> None:
        """Refuse new jobs, finish every queued job, then stop the worker thread."""
        self._closing = True
        if self._task is None:
            return
        assert self._wakeup is not None
        self._wakeup.set()
        await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    # ----------------------------------------------------------------------------------- internals

    def _queued(self, delta: int) -> None:
        self._waiting += delta
        if self.on_queue is not None:
            self.on_queue(self._waiting)

    def _drop_finished(self) -> None:
        """Forget jobs whose callers went away (cancelled futures) before they were batched."""
        for job in [j for j in self._jobs if j.future.done()]:
            self._jobs.remove(job)
            self._queued(-(len(job.items) - job.taken))

    def _take(self) -> tuple[list[tuple[_Job, int, int]], list[Any], Hashable]:
        """The next batch: slices ``(job, start, stop)`` of jobs with the head job's key."""
        key = self._jobs[0].key
        parts: list[tuple[_Job, int, int]] = []
        items: list[Any] = []
        for job in list(self._jobs):
            if len(items) >= self.max_batch:
                break
            if job.key != key:
                continue
            take = min(self.max_batch - len(items), len(job.items) - job.taken)
            parts.append((job, job.taken, job.taken + take))
            items.extend(job.items[job.taken:job.taken + take])
            job.taken += take
            if job.taken == len(job.items):
                self._jobs.remove(job)
        self._queued(-len(items))
        return parts, items, key

    async def _collect(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            self._drop_finished()
            if not self._jobs:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            head = self._jobs[0]
            same = sum(len(j.items) - j.taken for j in self._jobs if j.key == head.key)
            delay = head.enqueued + self.max_wait - time.monotonic()
            if same < self.max_batch and delay > 0 and not self._closing:
                self._wakeup.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=delay)
                continue
            parts, items, key = self._take()
            self.batches += 1
            if self.on_batch is not None:
                self.on_batch(len(items))
            try:
                results = await loop.run_in_executor(self._executor, self.run, items, key)
                if len(results) != len(items):
                    raise RuntimeError(f"the batch function returned {len(results)} results for "
                                       f"{len(items)} items")
            except Exception as exc:  # every job of the batch fails with the batch's error
                for job, _, _ in parts:
                    if not job.future.done():
                        job.future.set_exception(exc)
                    if job in self._jobs:
                        self._jobs.remove(job)
                        self._queued(-(len(job.items) - job.taken))
                continue
            pos = 0
            for job, start, stop in parts:
                job.results[start:stop] = results[pos:pos + stop - start]
                pos += stop - start
                job.done += stop - start
                if job.done == len(job.items) and not job.future.done():
                    job.future.set_result(job.results)
