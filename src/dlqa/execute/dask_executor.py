"""The Dask backend: the ``Executor`` protocol on ``dask.distributed``.

With an address it runs on an existing scheduler (``tcp://HOST:PORT``); without one it starts
a ``LocalCluster`` of single-threaded worker processes on loopback. Dask is an optional
dependency (``pip install 'dlqa[dask]'``), so it is imported here only, when an executor is
created: importing ``dlqa.execute`` never loads it.

A worker that dies under a task costs Dask a retry on another worker (the scheduler's
``distributed.scheduler.allowed-failures``); a task that keeps killing workers ends in
``KilledWorker``, which this backend turns into ``WorkerDied`` so that callers report the
samples lost, as with the local pool, rather than dying.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType, TracebackType
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.execute.base import (
    WorkerDeathPolicy,
    WorkerDied,
    resolve_max_in_flight,
    validate_worker_death_policy,
    validate_workers,
)

# The contract: an unreachable scheduler is a clear message within 10 seconds.
# Client start-up adds a little to the connect timeout, so the timeout keeps a margin.
CONNECT_TIMEOUT_S = 5.0

# A task may kill one worker and still be retried on another; a second death is the task's
# own doing (a decoder that segfaults on that input), so it becomes WorkerDied. Applies to the
# LocalCluster this backend starts; an existing scheduler keeps its own setting.
_ALLOWED_FAILURES = 1

# As in execute.local: numeric libraries would start one thread per core in every worker.
_SINGLE_THREAD_ENV = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
    )
}

INSTALL_HINT = "install the Dask extra: pip install 'dlqa[dask]'"


def _import_distributed() -> ModuleType:
    try:
        import distributed
    except ImportError as error:
        raise UsageError(
            f"the Dask executor needs dask.distributed, which is not installed ({error})",
            hint=INSTALL_HINT,
        ) from None
    return distributed


def _validate_address(address: str) -> str:
    if not isinstance(address, str) or "://" not in address:
        raise UsageError(
            f"a Dask scheduler address looks like tcp://HOST:PORT, got {address!r}",
            hint="pass the address the scheduler printed at start-up (--address tcp://...)",
        )
    return address


class DaskExecutor:
    """Runs tasks on a Dask cluster; results come back in input order.

    ``address`` names an existing scheduler; None starts a ``LocalCluster`` of ``workers``
    processes (None: one per CPU core), closed by ``close()``. ``workers`` of a connected
    cluster is the number of its workers at connection (at least 1), used to size the
    default look-ahead.
    """

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        distributed = _import_distributed()
        self.address = address
        self._cluster: Any = None
        self._closed = False
        if address is None:
            self.workers = validate_workers((os.cpu_count() or 1) if workers is None else workers)
            self._client = self._start_local_cluster(distributed)
        else:
            requested = None if workers is None else validate_workers(workers)
            self._client = self._connect(distributed, _validate_address(address))
            connected = len(self._client.scheduler_info().get("workers", {}))
            self.workers = requested or max(1, connected)

    def _start_local_cluster(self, distributed: ModuleType) -> Any:
        import dask

        settings = {
            "distributed.scheduler.allowed-failures": _ALLOWED_FAILURES,
            # One task per single-threaded worker, none queued behind it: a worker that dies
            # then counts against the task that killed it only, not against innocent tasks
            # waiting on it (which would end in KilledWorker after two such deaths).
            "distributed.scheduler.worker-saturation": 1.0,
        }
        with dask.config.set(settings):
            self._cluster = distributed.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                # No dashboard and loopback only: nothing of this run is reachable from
                # another machine, and no port is taken that a second run would clash on.
                dashboard_address=None,
                host="127.0.0.1",
                # The scheduler still serves its health routes over HTTP, on 8787 unless told:
                # a free loopback port instead, so that runs side by side do not clash.
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                env=_SINGLE_THREAD_ENV,
            )
        try:
            return distributed.Client(self._cluster, set_as_default=False)
        except BaseException:
            self._cluster.close()
            raise

    @staticmethod
    def _connect(distributed: ModuleType, address: str) -> Any:
        try:
            return distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            # Dask's own message repeats the address; its kind is what adds information.
            raise UsageError(
                f"cannot reach the Dask scheduler at {address} within "
                f"{CONNECT_TIMEOUT_S:g} s ({type(error).__name__})",
                hint="check that the scheduler runs and that this machine can reach "
                "that host and port, or leave out --address to start a local cluster",
            ) from None

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        max_in_flight: int | None = None,
        on_worker_death: WorkerDeathPolicy = "raise",
    ) -> Iterator[Any]:
        """Yield ``fn(item)`` for each item, in order, with at most ``max_in_flight`` pending.

        A task that kept killing its workers raises ``WorkerDied`` there
        (``on_worker_death="raise"``) or yields it in place of its result (``"yield"``).
        An exception raised by ``fn`` propagates, as with the local executor.
        """
        if self._closed:
            raise RuntimeError("this executor is closed; create a new one")
        limit = resolve_max_in_flight(max_in_flight, self.workers)
        yield_deaths = validate_worker_death_policy(on_worker_death) == "yield"
        return self._map(fn, items, limit, yield_deaths)

    def _map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        limit: int,
        yield_deaths: bool,
    ) -> Iterator[Any]:
        pending: deque[tuple[Any, Any]] = deque()
        try:
            for item in items:
                # pure=False: two equal items (or a retry of one) are separate tasks, and
                # nothing is spent hashing the item to find an identical one.
                pending.append((item, self._client.submit(fn, item, pure=False)))
                if len(pending) >= limit:
                    yield _outcome(*pending.popleft(), yield_deaths)
            while pending:
                yield _outcome(*pending.popleft(), yield_deaths)
        finally:
            # The consumer stopped early or a task failed: do not run work nobody will read.
            if pending and not self._closed:
                self._client.cancel([future for _, future in pending])

    def close(self) -> None:
        """Disconnect; a cluster this executor started is shut down (its workers with it)."""
        if self._closed:
            return
        self._closed = True
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _outcome(item: Any, future: Any, yield_deaths: bool) -> Any:
    from distributed.scheduler import KilledWorker

    try:
        return future.result()
    except KilledWorker as error:
        # Dask already retried the task on another worker; tasks_before=0 tells callers
        # (data.profile) not to try it once more on their own.
        death = WorkerDied(f"Dask workers died running it ({error})", item=item)
        if yield_deaths:
            return death
        raise death from None
