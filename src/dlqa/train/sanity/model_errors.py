"""The model's own failures, as opposed to the caller's mistakes.

An exception raised inside the model's forward pass is a finding about the model (an ``error``
result that names the module), never a ``UsageError``: the batch and the factories were fine.
This module imports no torch, so that ``dlqa.train.checks`` can recognise the exception.
"""

from __future__ import annotations

from typing import Any


class ModelError(Exception):
    """The model's forward pass raised; ``module`` is the attribute path of the innermost
    module whose forward was running ("" for the model itself)."""

    def __init__(
        self, message: str, *, module: str, module_type: str, exception: str, reason: str
    ) -> None:
        super().__init__(message)
        self.message = message
        self.module = module
        self.module_type = module_type
        self.exception = exception  # the exception's type name
        self.reason = reason  # and its message

    def details(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "module_type": self.module_type,
            "exception": self.exception,
            "message": self.reason,
        }

    def kept(self) -> ModelError:
        """A copy without the traceback and cause: a finding the battery keeps must not hold
        the failed forward pass's frames (and their tensors) alive."""
        return ModelError(
            self.message,
            module=self.module,
            module_type=self.module_type,
            exception=self.exception,
            reason=self.reason,
        )
