"""The ``batches`` stage: checks on the batches a user's DataLoader yields.

Registered through the ``dlqa.stages`` entry point ``batches``. It has no dlqa.toml section
(a DataLoader is a Python object, not a setting), so `dlqa check` does not run it; the
Python API does (:func:`dlqa.data.batches.check_batches`,
:func:`dlqa.runner.run_batch_checks`). Its checks (``data.batch_*``) register with the data
checks; this module imports none of them (it loads under its own entry point's name).
"""

from __future__ import annotations

from typing import Any

from dlqa.core.errors import UsageError
from dlqa.core.stages import StageRun, StageSpec, register_stage
from dlqa.data.batches import CHECK_IDS, collect_batches, declarations

# Inputs of the stage that are not declarations.
_OBJECTS = ("batches", "decoded")


def build_batches_context(run: StageRun) -> Any:
    """One pass over ``run.inputs["batches"]`` with the declarations beside it."""
    if "batches" not in run.inputs:
        raise UsageError(
            "the batches stage needs the batches: pass a DataLoader",
            hint="dlqa.runner.run_batch_checks(loader, ...) or dlqa.check_batches(loader, ...)",
        )
    declared = declarations(**{k: v for k, v in run.inputs.items() if k not in _OBJECTS})
    return collect_batches(run.inputs["batches"], declared, decoded=run.inputs.get("decoded"))


def _after_checks(context: Any, results: list[Any], run: StageRun) -> None:
    run.report_parts["meta"] = context.meta()


STAGE = register_stage(
    StageSpec(
        name="batches",
        title="DataLoader batches",
        build_context=build_batches_context,
        after_checks=_after_checks,
        order=12,
        check_order=CHECK_IDS,
    )
)
