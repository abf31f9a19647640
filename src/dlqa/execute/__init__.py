"""Executors: how a map over chunks of work is run (in-process, local process pool, later Dask)."""

from dlqa.execute.base import Executor, WorkerDied
from dlqa.execute.local import LocalExecutor, get_executor

__all__ = ["Executor", "LocalExecutor", "WorkerDied", "get_executor"]
