"""Local execution: in-process for one worker, a process pool for more."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import Any

from dlqa.execute.base import Executor, resolve_max_in_flight, validate_workers

# Numeric libraries start one thread per core in every process; with one process per core
# that oversubscribes the machine many times over. Pool workers run single-threaded.
_THREAD_LIMIT_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def limit_worker_threads() -> None:
    """Pool-worker initializer: one numeric thread per worker process.

    The environment variables take effect for libraries imported afterwards (torch reads
    OMP_NUM_THREADS when it starts), so torch is only told directly when it is already loaded:
    importing it here would cost every data worker a second and hundreds of MB for nothing.
    """
    for name in _THREAD_LIMIT_VARIABLES:
        os.environ[name] = "1"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def pool_context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context pool workers start from (forkserver where available)."""
    # fork is unsafe once the parent runs threads (pyarrow, BLAS); forkserver starts workers
    # from a clean single-threaded process and is available on Linux and macOS.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class LocalExecutor:
    """Runs tasks in this process (``workers == 1``) or in a pool of worker processes.

    ``workers=None`` uses every CPU core. Results come back in input order.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = validate_workers((os.cpu_count() or 1) if workers is None else workers)
        self._pool: ProcessPoolExecutor | None = None
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=pool_context(),
                initializer=limit_worker_threads,
            )
        self._closed = False

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        max_in_flight: int | None = None,
    ) -> Iterator[Any]:
        """Yield ``fn(item)`` for each item, in order, with at most ``max_in_flight`` pending."""
        if self._closed:
            raise RuntimeError("this executor is closed; create a new one")
        limit = resolve_max_in_flight(max_in_flight, self.workers)
        if self._pool is None:
            # In-process: a lazy generator has exactly one task in flight.
            return (fn(item) for item in items)
        return self._map_in_pool(self._pool, fn, items, limit)

    @staticmethod
    def _map_in_pool(
        pool: ProcessPoolExecutor,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        limit: int,
    ) -> Iterator[Any]:
        pending: deque[Future[Any]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= limit:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            # The consumer stopped early or a task failed: do not run work nobody will read.
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._closed = True

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def get_executor(workers: int | None = None) -> Executor:
    """The executor for ``workers`` processes (None: one per CPU core; 1: in-process)."""
    return LocalExecutor(workers)
