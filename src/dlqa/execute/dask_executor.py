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


def _worker_environ(dask: ModuleType) -> dict[str, Any]:
    """Dask's environment for new workers, less ``MALLOC_TRIM_THRESHOLD_``: setting it turns
    off glibc's adaptive mmap threshold, so that every decoded image's buffer is mapped and
    unmapped again (measured: 10 % more CPU per image profiled). The local pool's workers run
    with glibc's defaults; these do too."""
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


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

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        *,
        worker_root: str | None = None,
    ) -> None:
        distributed = _import_distributed()
        self.address = address
        # Where the workers see the root of the data being processed, when they mount the
        # shared file system elsewhere than this machine (None: at the same path). Tasks then
        # carry paths relative to the root (see dlqa.data.chunk_probe.worker_path).
        self.worker_root = worker_root
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
            # Both wake every worker's event loop many times a second (the statistical profiler
            # every 10 ms, the blocked-loop monitor every 20 ms), and each wake takes the GIL
            # from the probe running beside it. The profiles only show on a dashboard, which
            # this cluster does not serve; the monitor only warns in the worker's own log.
            "distributed.worker.profile.enabled": False,
            "distributed.admin.tick.interval": "1s",
            "distributed.nanny.pre-spawn-environ": _worker_environ(dask),
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

    def map_unordered(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        resources: dict[str, float] | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        """Yield ``(item, fn(item))`` as each task finishes, every task submitted at once
        (for a few long tasks: seed runs), each holding ``resources`` of its worker while
        it runs (``{"GPU": 1}``: only workers started with ``--resources GPU=...`` take it).
        A task that kept killing its workers yields a ``WorkerDied`` in place of its result.
        Tasks not finished when the consumer stops (Ctrl-C) are cancelled.
        """
        from distributed import as_completed

        if self._closed:
            raise RuntimeError("this executor is closed; create a new one")
        if resources:
            self.require_resources(resources)
        futures = {
            self._client.submit(fn, item, pure=False, resources=resources): item for item in items
        }
        try:
            # The client's own loop: this client is never the process's default one.
            for future in as_completed(futures, loop=self._client.loop):
                item = futures.pop(future)
                yield item, _outcome(item, future, yield_deaths=True)
        finally:
            if futures and not self._closed:
                self._client.cancel(list(futures))

    def require_resources(self, resources: dict[str, float]) -> None:
        """A usage error unless some worker offers all of ``resources``: a task that no worker
        can take would wait for one forever."""
        workers = _every_worker(self._client)
        offered = [info.get("resources") or {} for info in workers.values()]
        if any(
            all(has.get(name, 0) >= need for name, need in resources.items()) for has in offered
        ):
            return
        wanted = ", ".join(f"{name}={amount:g}" for name, amount in resources.items())
        seen = sorted({f"{n}={a:g}" for has in offered for n, a in has.items()}) or ["none"]
        raise UsageError(
            f"no Dask worker offers {wanted}, which each task needs ({len(workers)} worker(s); "
            f"resources offered: {', '.join(seen)})",
            hint=f"start workers with `dask worker {self.scheduler_address} --resources "
            f'"{wanted}"`, or ask for less',
        )

    @property
    def scheduler_address(self) -> str:
        return str(self._client.scheduler.address)

    def first_missing_path(self, paths: list[str]) -> tuple[str, str] | None:
        """(the first of ``paths`` that some worker cannot see, that worker's address), or
        None when every worker sees every one. Asks each worker once, on the worker itself."""
        if not paths:
            return None
        answers = self._client.run(_index_of_first_missing, list(paths))
        missing = [(index, worker) for worker, index in answers.items() if index is not None]
        if not missing:
            return None
        index, worker = min(missing)
        return paths[index], worker

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


def _every_worker(client: Any) -> dict[str, Any]:
    """Address -> what the scheduler knows of each worker (all of them: newer Dask lists only
    the first few unless told otherwise, older Dask does not know the option)."""
    try:
        info = client.scheduler_info(n_workers=-1)
    except TypeError:
        info = client.scheduler_info()
    return dict(info.get("workers", {}))


def _index_of_first_missing(paths: list[str]) -> int | None:
    """Runs on a worker: the position of the first path it cannot see (None: it sees all).
    A relative path resolves against the worker's working directory, as its tasks' would."""
    for index, path in enumerate(paths):
        if not os.path.exists(path):
            return index
    return None


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
