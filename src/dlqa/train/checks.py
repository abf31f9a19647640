"""The training sanity checks (ids ``train.*``): ids, documentation and defaults.

This module must import without torch (``dlqa checks`` lists every check, and gates in
dlqa.toml are validated, on machines without the torch extra). Each registered function
imports its torch implementation from ``dlqa.train.sanity`` only when it runs.

It is the entry point of the ``train`` checks: importing it registers every ``train.*`` check,
also those that live beside their implementation (the fast loop, gradcheck, metric
verification), whose modules import torch only when a check runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlqa.core.params import Param
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Status

# The order the battery runs its checks in: cheap structural checks first, so that a broken
# forward pass is reported before the checks that train.
CHECK_ORDER = (
    "train.output_shape",
    "train.finite_outputs",
    "train.input_mutation",
    "train.initial_loss",
    "train.gradients",
    "train.unregistered_parameters",
    "train.updates",
    "train.frozen",
    "train.loss_decreases",
    "train.overfit_batch",
    "train.batch_independence",
    "train.input_dependence",
    "train.determinism",
    "train.modes",
)


def _on_battery(
    check_id: str,
    implementation: Callable[[Any, dict[str, Any]], CheckResult],
    context: Any,
    params: dict[str, Any],
) -> CheckResult:
    """Run a battery check on the battery's ``SanityContext``: ``context`` itself, or the one
    the train stage's context holds as ``context.sanity`` (None: no model configured)."""
    battery = getattr(context, "sanity", context)
    if battery is None:
        return CheckResult(
            check_id,
            Status.SKIP,
            "no model configured (set [train] model, loss, optimizer and batch in dlqa.toml)",
        )
    try:
        return implementation(battery, params)
    except Exception as exc:
        # The model raised in a check's own forward pass (only in eval mode, say): an error
        # finding that names the module, not the traceback of a crashed check.
        from dlqa.train.sanity.model_errors import ModelError

        if not isinstance(exc, ModelError):
            raise
        return CheckResult(check_id, Status.ERROR, exc.message, details=exc.details())


@register_check(
    "train.output_shape",
    title="Output shape",
    description=(
        "The model's output has one row per sample (a reshape that folds features into the "
        "batch axis, or a reduction over it, is diagnosed) and the declared shape "
        "(`expected_output_shape`, None for any size), or, when none is declared, a shape the "
        "loss accepts. A model that returns a tuple or dict fails unless `output_key` names "
        "the logits; a forward pass that raises is an error naming the module it raised in."
    ),
)
def check_output_shape(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import forward

    return _on_battery("train.output_shape", forward.check_output_shape, context, params)


@register_check(
    "train.finite_outputs",
    title="Finite outputs",
    description="The freshly initialised model's outputs and loss on the batch are finite.",
)
def check_finite_outputs(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import forward

    return _on_battery("train.finite_outputs", forward.check_finite_outputs, context, params)


@register_check(
    "train.input_mutation",
    title="Input mutation",
    description=(
        "A forward pass in train mode leaves its input unchanged: a model that writes into "
        "it (x.mul_(), an inplace=True activation on the input) corrupts the caller's batch; "
        "the values changed are counted and an example is shown before and after."
    ),
)
def check_input_mutation(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import mutation

    return _on_battery("train.input_mutation", mutation.check_input_mutation, context, params)


@register_check(
    "train.initial_loss",
    title="Initial loss",
    description=(
        "The loss at initialisation lies between the entropy of the batch's class prior (a "
        "bias set to the log prior) and the loss of uniform predictions (ln C for "
        "cross-entropy, ln 2 for binary cross-entropy), within a tolerance that widens for "
        "small batches; outputs that already look like probabilities fail (a softmax before "
        "CrossEntropyLoss). Skipped for losses it cannot recognise (set `loss_kind`)."
    ),
    defaults={
        "init_allowance": Param(
            0.1,
            doc=(
                "fraction of the uniform-prediction loss allowed above it for the spread of "
                "freshly initialised logits"
            ),
            ge=0,
        ),
        "per_sample_std": Param(
            0.5, doc="assumed spread (nats) of per-sample losses at initialisation", ge=0
        ),
        "sigmas": Param(
            3.0, doc="standard errors of the batch mean loss allowed (the batch-size term)", ge=0
        ),
    },
)
def check_initial_loss(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import forward

    return _on_battery("train.initial_loss", forward.check_initial_loss, context, params)


@register_check(
    "train.gradients",
    title="Gradients",
    description=(
        "Every trainable parameter gets a finite gradient whose norm exceeds `min_norm` "
        "after one backward pass; the parameters that do not are named. A loss detached from "
        "the model (no grad_fn: .detach(), .item(), torch.no_grad()) fails here, and the "
        "checks that train are skipped."
    ),
    defaults={"min_norm": Param(0.0, doc="gradient norms at or below this count as zero", ge=0)},
)
def check_gradients(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import gradients

    return _on_battery("train.gradients", gradients.check_gradient_flow, context, params)


@register_check(
    "train.unregistered_parameters",
    title="Unregistered parameters",
    description=(
        "Every tensor that requires grad and reaches the loss through the autograd graph is "
        "one of `model.parameters()`; layers kept in a plain list or dict, or requires_grad "
        "tensors kept as plain attributes, fail: the optimizer and state_dict() never see "
        "them. Each is named by its attribute path, with its shape and the fix."
    ),
)
def check_unregistered_parameters(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import parameters

    return _on_battery(
        "train.unregistered_parameters",
        parameters.check_unregistered_parameters,
        context,
        params,
    )


@register_check(
    "train.updates",
    title="Parameter updates",
    description=(
        "Every trainable parameter is held by the optimizer and changes after one step; the "
        "update-to-weight ratio of each parameter is reported."
    ),
)
def check_updates(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import gradients

    return _on_battery("train.updates", gradients.check_updates, context, params)


@register_check(
    "train.frozen",
    title="Frozen parameters and constant buffers",
    description=(
        "Parameters with requires_grad=False and buffers declared constant (`frozen_buffers`) "
        "are unchanged after `steps` training steps."
    ),
    defaults={"steps": Param(2, doc="training steps to take before comparing", ge=1)},
)
def check_frozen(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import gradients

    return _on_battery("train.frozen", gradients.check_frozen, context, params)


@register_check(
    "train.loss_decreases",
    title="Loss decreases",
    description=(
        "Training on the batch for `steps` steps lowers the loss by at least "
        "`min_relative_drop` of its first value, with every loss finite."
    ),
    defaults={
        "steps": Param(10, doc="training steps on the batch", ge=2),
        "min_relative_drop": Param(
            0.01, doc="smallest drop of the loss, as a fraction of the first loss", ge=0, le=1
        ),
    },
)
def check_loss_decreases(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import optimisation

    return _on_battery("train.loss_decreases", optimisation.check_loss_decreases, context, params)


@register_check(
    "train.overfit_batch",
    title="Overfit one batch",
    description=(
        "The model drives the loss on the one batch below `target_fraction` of its first "
        "value within `max_steps` steps (train-mode loss, or eval-mode loss every "
        "`eval_every` steps); the steps it took and the accuracy reached are reported; a run "
        "whose best loss has plateaued (even `plateau_speedup` times its pace over the last "
        "`plateau_window` steps would not reach the target by `max_steps`) stops there and "
        "fails, saying where."
    ),
    defaults={
        "max_steps": Param(200, doc="step budget", ge=1),
        "plateau_window": Param(
            20,
            doc="stop early with a fail when the best loss over this many steps improved "
            "too little to reach the target within max_steps (0: spend the whole budget)",
            ge=0,
        ),
        "plateau_speedup": Param(
            25.0,
            doc="how many times its pace over the plateau window the loss is assumed "
            "able to speed up before the run is stopped",
            ge=1,
        ),
        "target_fraction": Param(
            0.05, doc="target loss as a fraction of the first loss", gt=0, lt=1
        ),
        "eval_every": Param(
            10, doc="steps between eval-mode loss measurements (dropout off)", ge=1
        ),
    },
)
def check_overfit_batch(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import optimisation

    return _on_battery("train.overfit_batch", optimisation.check_overfit_batch, context, params)


@register_check(
    "train.batch_independence",
    title="Batch independence",
    description=(
        "In eval mode (so that BatchNorm's batch statistics do not mix samples legitimately), "
        "a sample's output does not depend on any other sample's input: the gradient with "
        "respect to the other inputs is zero (float inputs) or changing another input leaves "
        "it unchanged (integer inputs such as token ids)."
    ),
    defaults={
        "max_probes": Param(8, doc="samples whose dependence on the others is measured", ge=1),
        "tolerance": Param(
            1e-6, doc="largest dependence allowed, relative to the sample's own", ge=0
        ),
    },
)
def check_batch_independence(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import independence

    return _on_battery(
        "train.batch_independence", independence.check_batch_independence, context, params
    )


@register_check(
    "train.input_dependence",
    title="Input dependence",
    description=(
        "Training `steps` steps on the real inputs ends with a loss at least "
        "`min_relative_gap` below training the same model on zeroed inputs."
    ),
    defaults={
        "steps": Param(30, doc="training steps of each of the two runs", ge=1),
        "min_relative_gap": Param(
            0.05,
            doc="smallest gap between the final losses, relative to the zeroed run",
            ge=0,
            le=1,
        ),
    },
)
def check_input_dependence(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import optimisation

    return _on_battery(
        "train.input_dependence", optimisation.check_input_dependence, context, params
    )


@register_check(
    "train.determinism",
    title="Determinism",
    description=(
        "Two training runs of `steps` steps from the same seed give the same losses, within "
        "`tolerance` (relative) on CPU and `cuda_tolerance` on CUDA."
    ),
    defaults={
        "steps": Param(5, doc="training steps of each run", ge=1),
        "tolerance": Param(1e-6, doc="largest relative difference of a loss on CPU", ge=0),
        "cuda_tolerance": Param(
            1e-3,
            doc="largest relative difference on CUDA (kernels may be non-deterministic)",
            ge=0,
        ),
    },
)
def check_determinism(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import determinism

    return _on_battery("train.determinism", determinism.check_determinism, context, params)


@register_check(
    "train.modes",
    title="Train and eval modes",
    description=(
        "Eval mode is deterministic (two passes agree within `tolerance`), and a model with "
        "dropout or BatchNorm gives different outputs in train and eval mode."
    ),
    defaults={
        "tolerance": Param(
            1e-6, doc="largest relative difference between two eval-mode passes", ge=0
        )
    },
)
def check_modes(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import determinism

    return _on_battery("train.modes", determinism.check_modes, context, params)


# The train checks that live beside their implementation register when their module is
# imported (last, so that they may import this module's names); none of them imports torch.
from dlqa.train import fast_loop, gradcheck, metrics  # noqa: E402, F401
