"""dlqa: automated QA for deep-learning pipelines."""

from dlqa.core.results import CheckResult, Evidence, Status

__version__ = "0.1.0"
__all__ = ["CheckResult", "Evidence", "Status", "__version__"]


def __getattr__(name: str):  # noqa: ANN202
    # `dlqa.monitor(model, optimizer)` without importing torch when dlqa is imported.
    if name == "monitor":
        from dlqa.train.monitor import monitor

        return monitor
    raise AttributeError(f"module 'dlqa' has no attribute {name!r}")
