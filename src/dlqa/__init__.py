"""dlqa: automated QA for deep-learning pipelines.

The public surface for writing a check::

    from dlqa import CheckResult, Evidence, Status, register_check
"""

from dlqa._version import __version__
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Interval, Status

__all__ = [
    "CheckResult",
    "Evidence",
    "Interval",
    "Param",
    "Status",
    "__version__",
    "register_check",
]


def __getattr__(name: str):  # noqa: ANN202
    # `dlqa.monitor(model, optimizer)` and `dlqa.check_batches(loader)` without importing
    # torch when dlqa is imported. The monitor is the runner's: it stores its run.
    if name in ("monitor", "monitor_callback"):
        from dlqa.runner import monitor_run

        return getattr(monitor_run, name)
    if name == "check_batches":  # DataLoader batch checks, without importing numpy eagerly
        from dlqa.data.batches import check_batches

        return check_batches
    raise AttributeError(f"module 'dlqa' has no attribute {name!r}")
