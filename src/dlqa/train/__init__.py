"""Training QA: the sanity battery, the training monitor, metric verification, gradient checks.

Needs the ``torch`` extra. Importing ``dlqa.train`` works without torch (the check ids and
their documentation stay available); using anything that needs torch raises one clear error.
"""

from __future__ import annotations

from types import ModuleType

from dlqa.core.errors import UsageError

TORCH_HINT = "install the torch extra: pip install 'dlqa[torch]'"


def require_torch() -> ModuleType:
    """The torch module, or a UsageError (exit code 2) that says how to install it."""
    try:
        import torch
    except ImportError:
        raise UsageError(
            "training QA needs PyTorch, which is not installed", hint=TORCH_HINT
        ) from None
    return torch


# (Names of submodules, such as gradcheck or monitor, are not re-exported: the import system
# would replace the function with the module on first import.)
_LAZY = {
    "verify_metric": "dlqa.train.metrics",
    "metric_fingerprint": "dlqa.train.metrics",
    "TrainingMonitor": "dlqa.train.monitor",
}


def __getattr__(name: str):  # noqa: ANN202
    # Public helpers without importing torch (or scikit-learn) when dlqa.train is imported.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dlqa.train' has no attribute {name!r}")
