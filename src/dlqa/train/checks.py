"""The training sanity checks (ids ``train.*``): ids, documentation and defaults.

This module must import without torch (``dlqa checks`` lists every check, and gates in
dlqa.toml are validated, on machines without the torch extra). Each registered function
imports its torch implementation from ``dlqa.train.sanity`` only when it runs.
"""

from __future__ import annotations

from typing import Any

from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult

# The order the battery runs its checks in: cheap structural checks first, so that a broken
# forward pass is reported before the checks that train.
CHECK_ORDER = (
    "train.output_shape",
    "train.finite_outputs",
    "train.initial_loss",
    "train.gradients",
    "train.updates",
    "train.frozen",
    "train.loss_decreases",
    "train.overfit_batch",
    "train.batch_independence",
    "train.input_dependence",
    "train.determinism",
    "train.modes",
)


@register_check(
    "train.output_shape",
    title="Output shape",
    description=(
        "The model's output has the declared shape (`expected_output_shape`, None for any "
        "size), or, when none is declared, one row per sample and a shape the loss accepts."
    ),
)
def check_output_shape(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import forward

    return forward.check_output_shape(context, params)


@register_check(
    "train.finite_outputs",
    title="Finite outputs",
    description="The freshly initialised model's outputs and loss on the batch are finite.",
)
def check_finite_outputs(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import forward

    return forward.check_finite_outputs(context, params)


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
    defaults={"init_allowance": 0.1, "per_sample_std": 0.5, "sigmas": 3.0},
    param_docs={
        "init_allowance": (
            "fraction of the uniform-prediction loss allowed above it for the spread of "
            "freshly initialised logits"
        ),
        "per_sample_std": "assumed spread (nats) of per-sample losses at initialisation",
        "sigmas": "standard errors of the batch mean loss allowed (the batch-size term)",
    },
)
def check_initial_loss(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import forward

    return forward.check_initial_loss(context, params)


@register_check(
    "train.gradients",
    title="Gradients",
    description=(
        "Every trainable parameter gets a finite gradient whose norm exceeds `min_norm` "
        "after one backward pass; the parameters that do not are named."
    ),
    defaults={"min_norm": 0.0},
    param_docs={"min_norm": "gradient norms at or below this count as zero"},
)
def check_gradients(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import gradients

    return gradients.check_gradients(context, params)


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

    return gradients.check_updates(context, params)


@register_check(
    "train.frozen",
    title="Frozen parameters and constant buffers",
    description=(
        "Parameters with requires_grad=False and buffers declared constant (`frozen_buffers`) "
        "are unchanged after `steps` training steps."
    ),
    defaults={"steps": 2},
    param_docs={"steps": "training steps to take before comparing"},
)
def check_frozen(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import gradients

    return gradients.check_frozen(context, params)


@register_check(
    "train.loss_decreases",
    title="Loss decreases",
    description=(
        "Training on the batch for `steps` steps lowers the loss by at least "
        "`min_relative_drop` of its first value, with every loss finite."
    ),
    defaults={"steps": 10, "min_relative_drop": 0.01},
    param_docs={
        "steps": "training steps on the batch",
        "min_relative_drop": "smallest drop of the loss, as a fraction of the first loss",
    },
)
def check_loss_decreases(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import optimisation

    return optimisation.check_loss_decreases(context, params)


@register_check(
    "train.overfit_batch",
    title="Overfit one batch",
    description=(
        "The model drives the loss on the one batch below `target_fraction` of its first "
        "value within `max_steps` steps (train-mode loss, or eval-mode loss every "
        "`eval_every` steps); the steps it took and the accuracy reached are reported."
    ),
    defaults={"max_steps": 200, "target_fraction": 0.05, "eval_every": 10},
    param_docs={
        "max_steps": "step budget",
        "target_fraction": "target loss as a fraction of the first loss",
        "eval_every": "steps between eval-mode loss measurements (dropout off)",
    },
)
def check_overfit_batch(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import optimisation

    return optimisation.check_overfit_batch(context, params)


@register_check(
    "train.batch_independence",
    title="Batch independence",
    description=(
        "In eval mode (so that BatchNorm's batch statistics do not mix samples legitimately), "
        "a sample's output does not depend on any other sample's input: the gradient with "
        "respect to the other inputs is zero (float inputs) or changing another input leaves "
        "it unchanged (integer inputs such as token ids)."
    ),
    defaults={"max_probes": 8, "tolerance": 1e-6},
    param_docs={
        "max_probes": "samples whose dependence on the others is measured",
        "tolerance": "largest dependence allowed, relative to the sample's own",
    },
)
def check_batch_independence(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import independence

    return independence.check_batch_independence(context, params)


@register_check(
    "train.input_dependence",
    title="Input dependence",
    description=(
        "Training `steps` steps on the real inputs ends with a loss at least "
        "`min_relative_gap` below training the same model on zeroed inputs."
    ),
    defaults={"steps": 30, "min_relative_gap": 0.05},
    param_docs={
        "steps": "training steps of each of the two runs",
        "min_relative_gap": "smallest gap between the final losses, relative to the zeroed run",
    },
)
def check_input_dependence(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import optimisation

    return optimisation.check_input_dependence(context, params)


@register_check(
    "train.determinism",
    title="Determinism",
    description=(
        "Two training runs of `steps` steps from the same seed give the same losses, within "
        "`tolerance` (relative) on CPU and `cuda_tolerance` on CUDA."
    ),
    defaults={"steps": 5, "tolerance": 1e-6, "cuda_tolerance": 1e-3},
    param_docs={
        "steps": "training steps of each run",
        "tolerance": "largest relative difference of a loss on CPU",
        "cuda_tolerance": "largest relative difference on CUDA (kernels may be non-deterministic)",
    },
)
def check_determinism(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import determinism

    return determinism.check_determinism(context, params)


@register_check(
    "train.modes",
    title="Train and eval modes",
    description=(
        "Eval mode is deterministic (two passes agree within `tolerance`), and a model with "
        "dropout or BatchNorm gives different outputs in train and eval mode."
    ),
    defaults={"tolerance": 1e-6},
    param_docs={"tolerance": "largest relative difference between two eval-mode passes"},
)
def check_modes(context: Any, params: dict[str, Any]) -> CheckResult:
    from dlqa.train.sanity import determinism

    return determinism.check_modes(context, params)
