"""Guardrails: outputs a model must never give, and when it must abstain.

Declared in ``dlqa.toml`` as ``[eval.guardrails]`` (or passed to ``evaluate`` as the same
mapping)::

    [eval.guardrails]
    min_confidence = 0.6          # below this top probability the model must abstain
    max_abstain_rate = 0.2        # ... and may not abstain on more of the test set than this
    output_bounds = [0.0, 0.999]  # every output probability lies within

    [[eval.guardrails.forbidden]]
    classes = ["weapon"]          # never emitted ...
    slice = "meta.audience"       # ... for inputs whose slice column ...
    values = ["kids"]             # ... has one of these values (no slice: for any input)
    note = "policy 4.2"

``eval.guardrails`` checks the predictions of the eval sets against them; a prediction under
``min_confidence`` counts as an abstention, not as an emitted class. (The deployment stage
checks that the serving path enforces the same declarations.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dlqa.core.errors import UsageError


class ForbiddenOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classes: list[str] = Field(min_length=1, description="classes never to be emitted")
    slice: str | None = Field(None, description="slice column that selects the inputs")
    values: list[str | int | float | bool] | None = Field(
        None, description="values of that slice column the rule applies to"
    )
    sets: list[str] | None = Field(None, description="eval sets the rule applies to")
    note: str = ""

    @model_validator(mode="after")
    def _slice_and_values(self) -> ForbiddenOutput:
        if (self.slice is None) != (self.values is None):
            raise ValueError("give slice and values together (or neither: for every input)")
        return self


class Guardrails(BaseModel):
    """``[eval.guardrails]``."""

    model_config = ConfigDict(extra="forbid")

    min_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="below this top probability the model must abstain"
    )
    max_abstain_rate: float | None = Field(
        None, ge=0.0, le=1.0, description="most of the test set the model may abstain on"
    )
    output_bounds: tuple[float, float] | None = Field(
        None, description="[low, high]: every output probability must lie within"
    )
    forbidden: list[ForbiddenOutput] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bounds(self) -> Guardrails:
        if self.output_bounds is not None and not self.output_bounds[0] < self.output_bounds[1]:
            raise ValueError(f"output_bounds must be [low, high], got {self.output_bounds}")
        if self.max_abstain_rate is not None and self.min_confidence is None:
            raise ValueError("max_abstain_rate needs min_confidence (what abstaining means)")
        return self


def read_guardrails(
    mapping: Mapping[str, Any] | Guardrails | None,
    class_names: Sequence[str],
    slice_names: Sequence[str],
    set_names: Sequence[str],
) -> Guardrails | None:
    """The validated declarations; a bad key, an unknown class, slice or set is a UsageError."""
    if mapping is None:
        return None
    try:
        rails = mapping if isinstance(mapping, Guardrails) else Guardrails.model_validate(mapping)
    except ValidationError as exc:
        lines = [
            f"eval.guardrails.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors()
        ]
        raise UsageError("\n".join(lines)) from None
    for i, rule in enumerate(rails.forbidden):
        where = f"eval.guardrails.forbidden[{i}]"
        unknown = sorted(set(rule.classes) - set(class_names))
        if unknown:
            raise UsageError(f"{where}: unknown class(es) {unknown}; classes: {list(class_names)}")
        if rule.slice is not None and rule.slice not in slice_names:
            raise UsageError(
                f"{where}: no slice column {rule.slice!r}",
                hint=f"slice columns of this evaluation: {list(slice_names) or 'none'}",
            )
        missing = sorted(set(rule.sets or ()) - set(set_names))
        if missing:
            raise UsageError(f"{where}: no eval set(s) {missing}; sets: {list(set_names)}")
    return rails


def abstains(confidence: np.ndarray, rails: Guardrails) -> np.ndarray:
    if rails.min_confidence is None:
        return np.zeros(confidence.shape, dtype=bool)
    return confidence < rails.min_confidence


def rule_applies(
    rule: ForbiddenOutput,
    n: int,
    slices: Mapping[str, np.ndarray],
    sets: Mapping[str, np.ndarray],
) -> np.ndarray:
    """The rows a forbidden-output rule applies to."""
    mask = np.ones(n, dtype=bool)
    if rule.slice is not None:
        wanted = {str(v) for v in rule.values or ()}
        mask &= np.array([str(v) in wanted for v in slices[rule.slice]], dtype=bool)
    if rule.sets is not None:
        in_sets = np.zeros(n, dtype=bool)
        for name in rule.sets:
            in_sets[sets[name]] = True
        mask &= in_sets
    return mask
