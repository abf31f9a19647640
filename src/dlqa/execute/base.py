"""The executor protocol: an ordered, bounded map that every backend implements, and
``WorkerDied``, what a task gets when the process running it dies under it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from dlqa.core.errors import UsageError

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

WorkerDeathPolicy = Literal["raise", "yield"]


class WorkerDied(Exception):
    """The worker process running a task died under it (a signal such as SIGSEGV or SIGKILL,
    or an exit without a reply), so the task has no result.

    ``reason`` says how the process ended (``"signal 11 (SIGSEGV)"``, ``"exit status 3"``);
    ``tasks_before`` counts the tasks that worker had finished before this one (0: the task
    killed a fresh process on its own); ``item`` is the task's input, so that a caller can
    retry it in smaller pieces.
    """

    def __init__(
        self,
        reason: str,
        *,
        exitcode: int | None = None,
        tasks_before: int = 0,
        item: Any = None,
    ) -> None:
        super().__init__(f"a worker process died: {reason}")
        self.reason = reason
        self.exitcode = exitcode
        self.tasks_before = tasks_before
        self.item = item


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn`` over items and yields the results in input order.

    At most ``max_in_flight`` tasks are submitted ahead of the consumer, so memory stays flat
    however many items there are. Kept deliberately small so a Dask backend can implement it.

    A task whose worker process dies costs that task only: the other tasks go on, and the
    executor stays usable. With ``on_worker_death="raise"`` (the default) the map raises
    ``WorkerDied`` at that task's place; with ``"yield"`` it yields the ``WorkerDied`` in place
    of the task's result and goes on with the rest.
    """

    workers: int

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        max_in_flight: int | None = None,
        on_worker_death: WorkerDeathPolicy = "raise",
    ) -> Iterator[Any]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def validate_workers(workers: object) -> int:
    """Return ``workers`` as a positive int, or raise a UsageError that says how to fix it."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(
            f"workers must be a positive whole number, got {workers!r}",
            hint="pass workers=1 to run in-process, or leave it unset to use every CPU core",
        )
    return workers


def resolve_max_in_flight(max_in_flight: int | None, workers: int) -> int:
    """Default to two tasks per worker: enough to keep every worker busy, little to hold."""
    if max_in_flight is None:
        return 2 * workers
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
        raise UsageError(
            f"max_in_flight must be a positive whole number, got {max_in_flight!r}",
            hint="leave it unset to keep two tasks per worker in flight",
        )
    return max_in_flight


def validate_worker_death_policy(policy: object) -> WorkerDeathPolicy:
    if policy not in ("raise", "yield"):
        raise UsageError(
            f"on_worker_death must be 'raise' or 'yield', got {policy!r}",
            hint="'yield' puts a WorkerDied in place of the result of a task whose worker died",
        )
    return policy  # type: ignore[return-value]
