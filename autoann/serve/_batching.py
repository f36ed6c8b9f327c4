"""Request batching: concurrent requests for one model share one model call, as TF Serving's ``--enable_batching``.

A :class:`Batcher` takes requests from the event loop and runs them on one
worker thread. When the worker is free it takes the oldest request, then keeps
adding queued ones until the batch holds ``max_batch_size`` rows or
``timeout_ms`` have passed since the first; the batch is one call of
``run(items) -> results``. A request larger than ``max_batch_size`` runs alone
(it is never split). ``max_batch_size=1`` turns batching off: every request is
its own call, still one at a time, so the model is never called from two
threads at once. An exception in a batch is raised to every request of that
batch; the worker goes on with the next.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence


class Batcher:
    """Queue requests (``submit``) and run them in batches of at most ``max_batch_size`` rows on one thread.

    ``size(item)`` is an item's row count; ``run(items)`` returns one result per item, in order.
    The worker starts with the first request on the running event loop; :meth:`close` stops it.
    """

    def __init__(self, run: Callable[[list[Any]], Sequence[Any]], *, max_batch_size: int = 64,
                 timeout_ms: float = 2.0, size: Callable[[Any], int] = len, name: str = "model"):
        if max_batch_size < 1 or timeout_ms < 0:
            raise ValueError(f"max_batch_size must be >= 1 and timeout_ms >= 0; got {max_batch_size} and "
                             f"{timeout_ms}.")
        self.run, self.size, self.name = run, size, name
        self.max_batch_size, self.timeout = max_batch_size, timeout_ms / 1000
        #: rows of every batch run so far (for tests and the load test's report)
        self.batch_sizes: list[int] = []
        self._queue: asyncio.Queue | None = None
        self._carry: tuple[Any, asyncio.Future] | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def submit(self, item: Any) -> Any:
        """Queue ``item`` and wait for its result (or its batch's exception)."""
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
            self._queue = asyncio.Queue()
            self._executor = self._executor or ThreadPoolExecutor(1, thread_name_prefix=f"autoann-{self.name}")
            self._worker = loop.create_task(self._work(), name=f"autoann batcher {self.name}")
        future = loop.create_future()
        await self._queue.put((item, future))
        return await future

    async def _next_batch(self) -> list[tuple[Any, asyncio.Future]]:
        """The oldest request, then what else fits in ``max_batch_size`` rows within the timeout."""
        first = self._carry or await self._queue.get()
        self._carry = None
        batch, rows = [first], self.size(first[0])
        deadline = asyncio.get_running_loop().time() + self.timeout
        while rows < self.max_batch_size:
            if not self._queue.empty():
                item = self._queue.get_nowait()
            else:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), left)
                except asyncio.TimeoutError:
                    break
            if rows + self.size(item[0]) > self.max_batch_size:
                self._carry = item  # first in the next batch
                break
            batch.append(item)
            rows += self.size(item[0])
        return batch

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            batch = [(item, future) for item, future in batch if not future.cancelled()]  # client went away
            if not batch:
                continue
            self.batch_sizes.append(sum(self.size(item) for item, _ in batch))
            try:
                results = await loop.run_in_executor(self._executor, self.run, [item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        """Stop the worker (requests still queued are cancelled) and its thread."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        pending = [self._carry] if self._carry else []
        while self._queue is not None and not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for _, future in pending:
            future.cancel()
        self._carry = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
