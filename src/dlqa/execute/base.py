"""The executor protocol: an ordered, bounded map that every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

from dlqa.core.errors import UsageError

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn`` over items and yields the results in input order.

    At most ``max_in_flight`` tasks are submitted ahead of the consumer, so memory stays flat
    however many items there are. Kept deliberately small so a Dask backend can implement it.
    """

    workers: int

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        max_in_flight: int | None = None,
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
