"""Worker processes that die, and Ctrl-C, on real processes: a death costs only the task that
caused it, says how the worker ended, and leaves the executor usable; workers ignore SIGINT;
the parent's KeyboardInterrupt and ``close`` stop busy workers at once."""

from __future__ import annotations

import os
import signal
import time

import pytest

from dlqa.execute import LocalExecutor, WorkerDied
from dlqa.execute.local import pool_context
from dlqa.execute.pool import WorkerPool, describe_exit

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and exit statuses of POSIX")


def die_on_some(value: int) -> int:
    """Kills its own worker on 5 (exit status 3) and 9 (SIGSEGV); returns the others."""
    if value == 5:
        os._exit(3)
    if value == 9:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.kill(os.getpid(), signal.SIGSEGV)
    return value * 10


def pid_of_worker(_: object) -> int:
    time.sleep(0.05)  # long enough that both workers take a share
    return os.getpid()


def sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def sigint_setting(_: object) -> tuple[bool, bool]:
    blocked = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN, blocked


def die_at_start() -> None:
    os._exit(1)


def unpicklable_result(_: object) -> object:
    return lambda: None


def test_a_task_that_kills_its_worker_costs_only_that_task() -> None:
    with LocalExecutor(2) as executor:
        outcomes = list(executor.map(die_on_some, range(12), on_worker_death="yield"))
        deaths = {i: o for i, o in enumerate(outcomes) if isinstance(o, WorkerDied)}
        assert sorted(deaths) == [5, 9]
        assert deaths[5].reason == "exit status 3" and deaths[5].exitcode == 3
        assert deaths[9].reason == "signal 11 (SIGSEGV)" and deaths[9].exitcode == -11
        assert deaths[5].item == 5 and deaths[9].item == 9
        assert [o for i, o in enumerate(outcomes) if i not in deaths] == [
            v * 10 for v in range(12) if v not in (5, 9)
        ]
        # The pool still maps the rest, on fresh workers.
        assert list(executor.map(abs, range(-4, 4))) == [4, 3, 2, 1, 0, 1, 2, 3]


def test_by_default_a_death_is_raised_at_its_place_and_the_executor_stays_usable() -> None:
    with LocalExecutor(2) as executor:
        results = executor.map(die_on_some, range(8))
        assert [next(results) for _ in range(5)] == [0, 10, 20, 30, 40]
        with pytest.raises(WorkerDied, match=r"a worker process died: exit status 3"):
            next(results)
        assert list(executor.map(die_on_some, [1, 2])) == [10, 20]


def test_a_death_says_whether_the_worker_had_run_other_tasks() -> None:
    with LocalExecutor(2) as executor:
        first = next(iter(executor.map(die_on_some, [9], on_worker_death="yield")))
        assert isinstance(first, WorkerDied) and first.tasks_before == 0  # a fresh worker
        list(executor.map(abs, range(20)))
        later = list(executor.map(die_on_some, [9], on_worker_death="yield"))[0]
        assert isinstance(later, WorkerDied) and later.tasks_before > 0


def test_workers_ignore_sigint_and_do_not_keep_it_blocked() -> None:
    with LocalExecutor(2) as executor:
        assert set(executor.map(sigint_setting, range(4))) == {(True, False)}


def test_ctrl_c_in_the_parent_terminates_the_workers_at_once() -> None:
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    executor = LocalExecutor(2)
    pids = set(executor.map(pid_of_worker, range(6)))
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            list(executor.map(sleep_then_pid, [30.0] * 4))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 5  # not the 30 s the tasks would take
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(RuntimeError, match="closed"):
        executor.map(abs, [1])


def test_close_does_not_wait_for_busy_workers() -> None:
    pool = WorkerPool(2, pool_context())
    futures = [pool.submit(sleep_then_pid, 30.0) for _ in range(3)]  # two run, one queued
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 5
    assert futures[2].cancelled()
    for future in futures[:2]:
        with pytest.raises(RuntimeError, match="closed"):
            future.result(timeout=0)


def test_workers_that_die_as_they_start_break_the_pool_with_a_clear_error() -> None:
    pool = WorkerPool(2, pool_context(), initializer=die_at_start)
    try:
        future = pool.submit(abs, -1)
        pool.wait(future)
        with pytest.raises(RuntimeError, match="die as they start"):
            future.result()
    finally:
        pool.close()


def test_a_result_that_cannot_be_sent_back_is_an_error_of_that_task_only() -> None:
    with LocalExecutor(2) as executor:
        with pytest.raises(Exception, match="pickle"):
            list(executor.map(unpicklable_result, [1]))
        assert list(executor.map(abs, [-1, -2])) == [1, 2]


@pytest.mark.parametrize(
    ("exitcode", "said"),
    [
        (3, "exit status 3"),
        (0, "exit status 0"),
        (-11, "signal 11 (SIGSEGV)"),
        (-9, "signal 9 (SIGKILL, which the out-of-memory killer sends)"),
        (-200, "signal 200"),
        (None, "the process vanished without an exit status"),
    ],
)
def test_describe_exit(exitcode: int | None, said: str) -> None:
    assert describe_exit(exitcode) == said
