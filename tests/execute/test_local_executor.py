"""LocalExecutor: ordered results, bounded look-ahead, clean errors for bad settings."""

from __future__ import annotations

import os
import time

import pytest

from dlqa.core.errors import UsageError
from dlqa.execute import Executor, LocalExecutor, get_executor


def square_after_delay(value: int) -> int:
    # Later items finish first, so an unordered map would return them out of order.
    time.sleep(0.02 * (5 - value % 5))
    return value * value


def worker_thread_setting(_: object) -> tuple[int, str | None]:
    return os.getpid(), os.environ.get("OMP_NUM_THREADS")


def fail_on_three(value: int) -> int:
    if value == 3:
        raise ValueError("three is not allowed")
    return value


class CountingItems:
    """An iterable that records how many items the executor has pulled from it."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pulled = 0

    def __iter__(self):
        for value in range(self.n):
            self.pulled += 1
            yield value


@pytest.mark.parametrize("workers", [1, 2])
def test_map_returns_results_in_input_order(workers: int) -> None:
    with LocalExecutor(workers) as executor:
        assert list(executor.map(square_after_delay, range(12))) == [v * v for v in range(12)]


@pytest.mark.parametrize("workers", [1, 2])
def test_map_keeps_at_most_max_in_flight_tasks_ahead_of_the_consumer(workers: int) -> None:
    items = CountingItems(50)
    with LocalExecutor(workers) as executor:
        consumed = 0
        for _ in executor.map(abs, items, max_in_flight=3):
            consumed += 1
            # Items pulled but not yet consumed are the tasks in flight; an unbounded map
            # would have pulled all 50 before the first result.
            assert items.pulled - consumed <= 3
        assert consumed == 50
        assert items.pulled == 50


def test_in_process_executor_is_lazy() -> None:
    items = CountingItems(1000)
    with LocalExecutor(1) as executor:
        results = executor.map(abs, items)
        assert items.pulled == 0
        assert next(results) == 0
        assert items.pulled == 1


def test_pool_workers_run_with_one_numeric_thread() -> None:
    with LocalExecutor(2) as executor:
        results = list(executor.map(worker_thread_setting, range(8)))
    assert all(setting == "1" for _, setting in results)
    assert os.getpid() not in {pid for pid, _ in results}


def test_task_exception_reaches_the_consumer() -> None:
    with LocalExecutor(2) as executor, pytest.raises(ValueError, match="three"):
        list(executor.map(fail_on_three, range(6)))


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_workers_value_is_a_usage_error(bad: object) -> None:
    with pytest.raises(UsageError, match="workers must be a positive whole number"):
        LocalExecutor(bad)  # type: ignore[arg-type]


def test_bad_max_in_flight_is_a_usage_error() -> None:
    with LocalExecutor(1) as executor, pytest.raises(UsageError, match="max_in_flight"):
        executor.map(abs, [1], max_in_flight=0)


def test_default_workers_is_the_cpu_count_and_get_executor_fits_the_protocol() -> None:
    executor = get_executor(None)
    try:
        assert executor.workers == (os.cpu_count() or 1)
        assert isinstance(executor, Executor)
    finally:
        executor.close()


def test_closed_executor_refuses_new_work() -> None:
    executor = get_executor(1)
    executor.close()
    with pytest.raises(RuntimeError, match="closed"):
        executor.map(abs, [1])
