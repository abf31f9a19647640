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
