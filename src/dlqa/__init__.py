"""dlqa: automated QA for deep-learning pipelines."""

from dlqa.core.results import CheckResult, Evidence, Status

__version__ = "0.1.0"
__all__ = ["CheckResult", "Evidence", "Status", "__version__"]
