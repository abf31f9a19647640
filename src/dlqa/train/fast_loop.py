"""The check ``train.fast_loop``: the fast variant named in dlqa.toml, run and judged.

``[train] fast`` / ``fast_command`` become a :class:`FastLoopSetup`; the registered check runs
it with :func:`dlqa.train.fast_variant.run_fast` under the gate's ``min_drop`` and ``timeout``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Status
from dlqa.train.fast_variant import CHECK_ID, DEFAULT_TIMEOUT, run_fast

__all__ = ["CHECK_ID", "FastLoopSetup", "check_fast_loop", "fast_loop_from_config"]


@dataclass(frozen=True)
class FastLoopSetup:
    """The project's fast variant: a function or a shell command, run in ``cwd``."""

    fast: Callable[[], Any] | None = None
    command: str | None = None
    cwd: Path = Path(".")


def fast_loop_from_config(config: Any) -> FastLoopSetup | None:
    """The fast variant named in ``[train]`` of a loaded ``dlqa.config.Config``, or ``None``
    when the file names neither ``fast`` nor ``fast_command``."""
    from dlqa.train.setup import load_object

    train = config.train
    if train.fast is None and train.fast_command is None:
        return None
    fast = None
    if train.fast is not None:
        search_path = [config.resolve(folder) for folder in train.python_path]
        fast = load_object(train.fast, search_path=search_path, key="fast")
        if not callable(fast):
            raise UsageError(f"train.fast = {train.fast!r}: expected a function, not a value")
    return FastLoopSetup(fast=fast, command=train.fast_command, cwd=config.base_dir)


@register_check(
    CHECK_ID,
    title="Fast training loop",
    description=(
        "The project's fast variant of training ([train] fast or fast_command) completes and "
        "its loss drops: the mean of the last quarter of the losses is below the mean of the "
        "first quarter by more than `min_drop`."
    ),
    defaults={
        "min_drop": Param(
            0.0, doc="smallest drop of the mean loss from the first to the last quarter", ge=0
        ),
        "timeout": Param(
            DEFAULT_TIMEOUT, doc="seconds a fast_command may run before it counts as failed", gt=0
        ),
    },
)
def check_fast_loop(context: Any, params: dict[str, Any]) -> CheckResult:
    """``context`` is a :class:`FastLoopSetup`, or holds one as ``context.fast_loop``."""
    setup = context if isinstance(context, FastLoopSetup) else getattr(context, "fast_loop", None)
    if setup is None:
        return CheckResult(
            CHECK_ID,
            Status.SKIP,
            "no fast variant configured (set [train] fast or fast_command in dlqa.toml)",
        )
    result = run_fast(
        setup.fast,
        setup.command,
        cwd=setup.cwd,
        timeout=float(params["timeout"]),
        min_drop=float(params["min_drop"]),
    )
    if result.status is Status.FAIL:  # the gate's level: fail or only warn
        return dataclasses.replace(result, status=verdict(True, params))
    return result
