"""Local execution: in-process for one worker, a process pool (``execute.pool``) for more."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.execute.base import (
    Executor,
    WorkerDeathPolicy,
    WorkerDied,
    resolve_max_in_flight,
    validate_worker_death_policy,
    validate_workers,
)
from dlqa.execute.pool import WorkerPool

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

    ``workers=None`` uses every CPU core. Results come back in input order. In the pool, a
    worker that dies (a decoder's segfault, the out-of-memory killer) fails only the task it
    was running, with ``WorkerDied``; a fresh worker takes its place (see ``execute.pool``).
    On Ctrl-C (workers ignore SIGINT, so only this process sees it) or any other exception
    through ``with``, pending tasks are cancelled and the workers terminated at once.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = validate_workers((os.cpu_count() or 1) if workers is None else workers)
        self._pool: WorkerPool | None = None
        if self.workers > 1:
            self._pool = WorkerPool(self.workers, pool_context(), limit_worker_threads)
        self._closed = False

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        max_in_flight: int | None = None,
        on_worker_death: WorkerDeathPolicy = "raise",
    ) -> Iterator[Any]:
        """Yield ``fn(item)`` for each item, in order, with at most ``max_in_flight`` pending.

        A task whose worker died raises ``WorkerDied`` there (``on_worker_death="raise"``) or
        yields it in place of its result (``"yield"``), and the map goes on with the rest.
        """
        if self._closed:
            raise RuntimeError("this executor is closed; create a new one")
        limit = resolve_max_in_flight(max_in_flight, self.workers)
        yield_deaths = validate_worker_death_policy(on_worker_death) == "yield"
        if self._pool is None:
            # In-process: a lazy generator has exactly one task in flight.
            return (fn(item) for item in items)
        return self._map_in_pool(self._pool, fn, items, limit, yield_deaths)

    def _map_in_pool(
        self,
        pool: WorkerPool,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        limit: int,
        yield_deaths: bool,
    ) -> Iterator[Any]:
        pending: deque[Future[Any]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= limit:
                    yield _outcome(pool, pending.popleft(), yield_deaths)
            while pending:
                yield _outcome(pool, pending.popleft(), yield_deaths)
        except KeyboardInterrupt:
            # Ctrl-C while waiting on the workers: stop them now, not when the stack unwinds.
            self.close()
            raise
        finally:
            # The consumer stopped early or a task failed: do not run work nobody will read.
            for future in pending:
                future.cancel()

    def close(self) -> None:
        """Cancel queued tasks and stop the workers (those still busy are terminated)."""
        if self._pool is not None:
            self._pool.close()
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


def _outcome(pool: WorkerPool, future: Future[Any], yield_deaths: bool) -> Any:
    pool.wait(future)
    death = future.exception()
    if yield_deaths and isinstance(death, WorkerDied):
        return death
    return future.result()


def get_executor(
    workers: int | None = None,
    *,
    backend: str = "local",
    address: str | None = None,
    worker_root: str | None = None,
) -> Executor:
    """The executor for ``workers`` processes (None: one per CPU core; 1: in-process).

    ``backend="dask"`` runs on the Dask scheduler at ``address``, or on a LocalCluster of
    ``workers`` processes without one; dask is imported only then (it is optional).
    ``worker_root`` is where its workers see the data's root when they mount the shared file
    system elsewhere than this machine.
    """
    if backend == "dask":
        from dlqa.execute.dask_executor import DaskExecutor

        return DaskExecutor(address, workers, worker_root=worker_root)
    if worker_root is not None:
        raise UsageError(
            "worker_root is for the Dask backend", hint='set backend = "dask" or leave it out'
        )
    if backend != "local":
        raise UsageError(
            f"unknown executor {backend!r}", hint="choose 'local' (the default) or 'dask'"
        )
    return LocalExecutor(workers)
