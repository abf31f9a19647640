"""``evaluate``: the plain-array entry point that every other way of evaluating builds on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from numpy.typing import ArrayLike

from dlqa.core.errors import ConfigError
from dlqa.core.registry import all_specs, get_spec
from dlqa.core.results import CheckResult
from dlqa.core.suite import Suite
from dlqa.evaluate.context import DEFAULT_RESAMPLES, EvalContext
from dlqa.evaluate.guardrails import Guardrails, read_guardrails
from dlqa.evaluate.inputs import (
    check_class_names,
    check_embeddings,
    check_labels,
    check_probs,
    check_sample_ids,
    check_sets,
    check_slices,
)


def eval_context(
    labels: ArrayLike,
    probs: ArrayLike,
    *,
    class_names: Sequence[str] | None = None,
    sample_ids: Sequence[Any] | None = None,
    slices: Mapping[str, ArrayLike] | None = None,
    embeddings: ArrayLike | None = None,
    sets: Mapping[str, ArrayLike] | None = None,
    guardrails: Mapping[str, Any] | Guardrails | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    **extra: Any,
) -> EvalContext:
    """The checked :class:`EvalContext` of these arrays; bad input is a UsageError that names
    it (exit code 2 from the command line). ``extra`` sets the stage's fields (previous
    outcomes, notes, failures, paths)."""
    probs_array = check_probs(probs)
    n, n_classes = probs_array.shape
    names = check_class_names(class_names, n_classes)
    slice_columns = check_slices(slices, n)
    set_rows = check_sets(sets, n)
    return EvalContext(
        labels=check_labels(labels, n, names),
        probs=probs_array,
        class_names=names,
        sample_ids=check_sample_ids(sample_ids, n),
        sets=set_rows,
        slices=slice_columns,
        embeddings=check_embeddings(embeddings, n),
        guardrails=read_guardrails(guardrails, names, list(slice_columns), list(set_rows)),
        n_resamples=n_resamples,
        seed=seed,
        **extra,
    )


def eval_suite(
    gates: Mapping[str, Mapping[str, Any]] | None, checks: Sequence[str] | None = None
) -> Suite:
    """The ``eval.*`` checks with ``gates`` applied (a ``[gates]`` mapping: ids of other
    stages are ignored, an unknown id is a ConfigError)."""
    from dlqa.evaluate.checks import CHECK_ORDER

    own = {
        check_id: dict(params)
        for check_id, params in (gates or {}).items()
        if get_spec(check_id).stage == "eval"  # an unknown id is a ConfigError
    }
    wanted = None if checks is None else set(checks)
    for check_id in wanted or ():
        if get_spec(check_id).stage != "eval":
            raise ConfigError(
                f"{check_id} is not an evaluation check", hint="`dlqa checks` lists the eval.* ids"
            )
    specs = [s for s in all_specs("eval") if wanted is None or s.check_id in wanted]
    return Suite(specs, own, order=CHECK_ORDER)


def evaluate(
    labels: ArrayLike,
    probs: ArrayLike,
    class_names: Sequence[str] | None = None,
    sample_ids: Sequence[Any] | None = None,
    slices: Mapping[str, ArrayLike] | None = None,
    embeddings: ArrayLike | None = None,
    sets: Mapping[str, ArrayLike] | None = None,
    guardrails: Mapping[str, Any] | None = None,
    gates: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    checks: Sequence[str] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> list[CheckResult]:
    """Evaluate a classifier's predictions: the ``eval.*`` checks on plain arrays.

    ``labels``: (n,) class indices. ``probs``: (n, C) probabilities (rows sum to 1).
    ``class_names``: C names (default "0".."C-1"). ``sample_ids``: n ids for the evidence.
    ``slices``: slice column name -> n values (strings, or numbers, which are binned).
    ``embeddings``: (n, d) penultimate-layer embeddings (for ``eval.embedding_clusters``).
    ``sets``: case-set name (``golden``, ``regression``; ``test`` optional) -> the indices
    of its samples; the headline metrics are those of ``sets["test"]``, by default every
    sample outside the case sets. ``guardrails``: the mapping of ``[eval.guardrails]``.
    ``gates``: the mapping of ``[gates]`` (``{"eval.accuracy": {"min": 0.9}}``).

    Checks whose input is not given (slices, embeddings, a case set, guardrails) are left
    out; ``checks`` runs only the named ones (those lacking input then skip and say why).
    Bad input raises :class:`dlqa.core.errors.UsageError`, which names the problem.
    """
    from dlqa.evaluate.checks import INPUT_HINTS

    context = eval_context(
        labels, probs, class_names=class_names, sample_ids=sample_ids, slices=slices,
        embeddings=embeddings, sets=sets, guardrails=guardrails, n_resamples=n_resamples,
        seed=seed,
    )  # fmt: skip
    suite = eval_suite(gates, checks)
    suite.for_inputs(context.inputs(), INPUT_HINTS, explicit=checks is not None)
    return suite.run(context).results
