"""A process pool that knows which task a dead worker was running.

``concurrent.futures.ProcessPoolExecutor`` turns the death of one worker (a decoder's
segfault, the out-of-memory killer, ``os._exit``) into ``BrokenProcessPool`` for every task in
flight and refuses all later work, without saying which task was to blame. Here each worker
holds one task at a time, on its own pipe, so a death is pinned on exactly one task: that
task's future fails with ``WorkerDied`` (saying the signal or exit status), the worker is
replaced by a fresh one, and every other task goes on.

The pool has no thread of its own: whoever waits on a future pumps it (sends tasks to idle
workers, collects results, notices deaths). That keeps it simple and makes waits on several
maps at once (a map inside a map) work, all from the one thread that uses it.

Workers ignore SIGINT: a Ctrl-C in a terminal goes to the whole process group, and only the
parent should turn it into a ``KeyboardInterrupt`` (and then shut the workers down). They are
started with SIGINT blocked, so that one arriving while a worker still imports (before it can
ignore it) is not a traceback either; this covers a forkserver that the pool itself starts.
"""

from __future__ import annotations

import contextlib
import multiprocessing.connection
import pickle
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

from dlqa.execute.base import WorkerDied

_STOP = pickle.dumps(None)
_READY = b"ready"  # a worker's first message: it is set up and about to read tasks
# Workers dying before they are ready this many times in a row: something breaks them all.
_START_FAILURES_TO_GIVE_UP = 3
# Seconds a worker told to stop (or terminated) gets before it is killed outright.
_EXIT_GRACE_S = 2.0


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, set as that exception's cause."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def describe_exit(exitcode: int | None) -> str:
    """How a process ended, in words: ``signal 11 (SIGSEGV)``, ``exit status 3``."""
    if exitcode is None:
        return "the process vanished without an exit status"
    if exitcode >= 0:
        return f"exit status {exitcode}"
    number = -exitcode
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    if number == signal.SIGKILL:
        return f"signal {number} ({name}, which the out-of-memory killer sends)"
    return f"signal {number} ({name})"


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Hold SIGINT off meanwhile: processes started now inherit a blocked mask, and a Ctrl-C
    that arrives meanwhile reaches this process as soon as the block ends.

    The mask is per thread, and another thread of this process (pyarrow's, BLAS's) may take
    the signal and have Python raise ``KeyboardInterrupt`` here all the same: in the middle
    of a worker's start, after the forkserver forked it and before it was sent what to run
    (the worker then prints ``EOFError: Ran out of input``). So, on the main thread, the
    Python handler is deferred too: a Ctrl-C meanwhile is replayed once the start is done.
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    # Starting a process starts multiprocessing's resource tracker first if need be, and that
    # unblocks SIGINT after its own start: have it running before SIGINT is blocked here.
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    deferred: list[int] = []
    handler = (
        signal.getsignal(signal.SIGINT)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    on_main = handler is not None  # None: a handler not set from Python; leave it alone
    if on_main:
        signal.signal(signal.SIGINT, lambda signum, _frame: deferred.append(signum))
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if on_main:
            signal.signal(signal.SIGINT, handler)
            if deferred:
                signal.raise_signal(signal.SIGINT)  # the Ctrl-C held off, now as it would be


def _worker_main(conn: Connection, initializer: Callable[[], None] | None) -> None:
    """A worker's life: run one task at a time until told to stop or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # first: Ctrl-C is the parent's to handle
    if hasattr(signal, "pthread_sigmask"):  # started blocked (a pending one is now discarded)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if initializer is not None:
        initializer()
    try:
        conn.send_bytes(_READY)
    except OSError:  # the pool closed while this worker was starting
        return
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):  # the parent is gone
            return
        try:
            message = pickle.loads(data)
            if message is None:
                return
            fn, item = message
            reply = ForkingPickler.dumps(("ok", fn(item)))
        except BaseException as exc:  # every failure, SystemExit too, goes back to the caller
            reply = _error_reply(exc)
        try:
            conn.send_bytes(reply)
        except (EOFError, OSError):
            return


def _error_reply(exc: BaseException) -> bytes:
    text = "".join(traceback.format_exception(exc))
    try:
        return ForkingPickler.dumps(("error", exc, text))
    except Exception:  # an exception that does not pickle: say what it was
        return ForkingPickler.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}"), text))


@dataclass(eq=False)
class _Task:
    fn: Callable[[Any], Any]
    item: Any
    future: Future[Any] = field(default_factory=Future)


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    task: _Task | None = None
    tasks_done: int = 0
    ready: bool = False


class WorkerPool:
    """Up to ``size`` worker processes from ``context``, started when work first arrives."""

    def __init__(
        self,
        size: int,
        context: multiprocessing.context.BaseContext,
        initializer: Callable[[], None] | None = None,
    ) -> None:
        self.size = size
        self._context = context
        self._initializer = initializer
        self._workers: list[_Worker] = []
        self._queue: deque[_Task] = deque()
        self._start_failures = 0
        self._closed = False

    def submit(self, fn: Callable[[Any], Any], item: Any) -> Future[Any]:
        """Queue ``fn(item)``; its future is settled while someone ``wait``s on the pool."""
        if self._closed:
            raise RuntimeError("this pool is closed")
        task = _Task(fn, item)
        self._queue.append(task)
        self._dispatch()
        return task.future

    def wait(self, future: Future[Any]) -> None:
        """Pump the pool until ``future`` is settled (a result, an error, or ``WorkerDied``)."""
        while not future.done():
            if self._closed:
                raise RuntimeError("the pool was closed while a task was waited on")
            self._pump()

    def close(self) -> None:
        """Stop idle workers, terminate busy ones (nobody will read their result), cancel the
        queue. Prompt whatever the workers are doing."""
        if self._closed:
            return
        self._closed = True
        closed = RuntimeError("the pool was closed")
        for task in self._queue:
            # A task put back after its worker failed to start is running already.
            if not task.future.cancel() and not task.future.done():
                task.future.set_exception(closed)
        self._queue.clear()
        for worker in self._workers:
            if worker.task is None and _is_ready(worker):
                with contextlib.suppress(OSError):
                    worker.conn.send_bytes(_STOP)
            else:  # busy (nobody will read its result), or still starting: do not wait
                worker.process.terminate()
        for worker in self._workers:
            worker.process.join(_EXIT_GRACE_S)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
            if worker.task is not None and not worker.task.future.done():
                worker.task.future.set_exception(closed)
        self._workers.clear()

    # -- internals -------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Give queued tasks to idle workers, starting workers up to ``size`` as needed."""
        while self._queue and not self._closed:
            worker = next((w for w in self._workers if w.task is None), None)
            if worker is None:
                if len(self._workers) >= self.size:
                    return
                worker = self._start_worker()
            task = self._queue.popleft()
            if task.future.cancelled():
                continue
            try:
                data = ForkingPickler.dumps((task.fn, task.item))
            except Exception as exc:  # the task cannot reach a worker: its caller hears why
                _mark_running(task)
                task.future.set_exception(exc)
                continue
            try:
                worker.conn.send_bytes(data)
            except OSError:  # the worker died while idle; the task never started
                self._queue.appendleft(task)
                self._bury(worker)
                continue
            _mark_running(task)
            worker.task = task

    def _start_worker(self) -> _Worker:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main,
            args=(child_end, self._initializer),
            name="dlqa-worker",
            daemon=True,
        )
        # A Ctrl-C meanwhile arrives as the block ends, once the worker is known to close().
        with _sigint_blocked():
            process.start()
            child_end.close()  # the worker holds its end; EOF on ours then means it is gone
            worker = _Worker(process, parent_end)
            self._workers.append(worker)
        return worker

    def _pump(self) -> None:
        self._dispatch()
        if not self._workers:
            raise RuntimeError("nothing is running: the waited-on task was never submitted here")
        watched: dict[Any, _Worker] = {}
        for worker in self._workers:
            watched[worker.process.sentinel] = worker
            if worker.task is not None:
                watched[worker.conn] = worker
        ready = multiprocessing.connection.wait(list(watched))
        for worker in {id(watched[obj]): watched[obj] for obj in ready}.values():
            if self._closed:  # a worker's death broke the pool
                return
            self._collect(worker)
        self._dispatch()

    def _collect(self, worker: _Worker) -> None:
        """Read what a worker sent, or notice that it died (what it sent just before dying is
        still read first)."""
        while True:
            try:
                if not worker.conn.poll():
                    break
                data = worker.conn.recv_bytes()
            except (EOFError, OSError):  # the pipe closed, or closed mid-reply: it died
                self._bury(worker)
                return
            if data == _READY:
                worker.ready = True
                self._start_failures = 0
                continue
            self._settle(worker, data)
            return
        if not worker.process.is_alive():  # only the sentinel was ready: the process ended
            self._bury(worker)

    def _settle(self, worker: _Worker, data: bytes) -> None:
        task, worker.task = worker.task, None
        worker.tasks_done += 1
        if task is None:  # a reply nobody asked for; cannot happen with one task per worker
            return
        try:
            reply = pickle.loads(data)
        except Exception as exc:  # e.g. an exception type that cannot be rebuilt here
            task.future.set_exception(RuntimeError(f"cannot read a worker's reply: {exc!r}"))
            return
        if reply[0] == "ok":
            task.future.set_result(reply[1])
        else:
            _, exc, text = reply
            exc.__cause__ = RemoteTraceback(text)
            task.future.set_exception(exc)

    def _bury(self, worker: _Worker) -> None:
        """A worker died: the task it was running fails with WorkerDied, and the next dispatch
        starts a fresh worker in its place. A worker that dies before it is ready (it never
        read a task) costs no task, but workers that keep dying as they start break the pool."""
        worker.process.join(_EXIT_GRACE_S)
        ready = _is_ready(worker)  # what it said before dying is still in the pipe
        worker.conn.close()
        self._workers.remove(worker)
        reason = describe_exit(worker.process.exitcode)
        task, worker.task = worker.task, None
        if not ready:
            if task is not None:
                self._queue.appendleft(task)
            self._start_failures += 1
            if self._start_failures >= _START_FAILURES_TO_GIVE_UP:
                self._break(
                    f"worker processes die as they start ({reason}, "
                    f"{self._start_failures} times in a row); their error output says why"
                )
            return
        if task is not None:
            task.future.set_exception(
                WorkerDied(
                    reason,
                    exitcode=worker.process.exitcode,
                    tasks_before=worker.tasks_done,
                    item=task.item,
                )
            )

    def _break(self, message: str) -> None:
        """Fail every task, queued or running, and close the pool."""
        error = RuntimeError(message)
        for task in list(self._queue) + [w.task for w in self._workers if w.task is not None]:
            if not task.future.done():
                _mark_running(task)
                task.future.set_exception(error)
        self.close()


def _is_ready(worker: _Worker) -> bool:
    """Whether an idle worker has said it is ready (reading what it sent since)."""
    with contextlib.suppress(EOFError, OSError):
        while not worker.ready and worker.conn.poll():
            worker.ready = worker.conn.recv_bytes() == _READY
    return worker.ready


def _mark_running(task: _Task) -> None:
    if not task.future.running():
        task.future.set_running_or_notify_cancel()
