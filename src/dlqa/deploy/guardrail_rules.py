"""The guardrails of ``[eval.guardrails]`` as single rules a serving path can be probed with.

Each rule knows when it withholds a row of probabilities (the documented meaning, written
here independently of the predictor that enforces it, so that a wrong enforcement shows),
and whether the rules sealed in a bundle cover a declared one. A row whose confidence is
not a number is withheld by any confidence or bounds rule: NaN is not "at least
min_confidence" nor "within the bounds", and a served NaN is no answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlqa.evaluate.guardrails import Guardrails

NON_FINITE = "non_finite_output"


@dataclass(frozen=True)
class Rule:
    """One guardrail: ``kind`` is min_confidence, output_bounds, forbidden or non_finite."""

    subject: str
    kind: str
    threshold: float | None = None
    bounds: tuple[float, float] | None = None
    classes: tuple[str, ...] = ()
    slice: str | None = None
    values: tuple[Any, ...] = ()

    @property
    def text(self) -> str:
        """The rule in the words of ``[eval.guardrails]``."""
        if self.kind == "min_confidence":
            return f"min_confidence = {self.threshold:g}"
        if self.kind == "output_bounds":
            assert self.bounds is not None
            return f"output_bounds = [{self.bounds[0]:g}, {self.bounds[1]:g}]"
        if self.kind == "forbidden":
            where = "" if self.slice is None else f" for {self.slice} in {list(self.values)}"
            return f"forbidden {list(self.classes)}{where}"
        return "no answer from non-finite probabilities"

    def contexts(self) -> list[dict[str, Any]]:
        """The request contexts the rule applies to: one per slice value, or any."""
        if self.slice is None:
            return [{}]
        return [{self.slice: value} for value in self.values]

    def applies(self, p: np.ndarray, context: Mapping[str, Any], classes: Sequence[str]) -> bool:
        """Whether this rule withholds the answer to ``p`` in ``context``."""
        finite = bool(np.isfinite(p).all())
        if self.kind == NON_FINITE:
            return not finite
        if self.kind == "min_confidence":
            assert self.threshold is not None
            return not (finite and float(p.max()) >= self.threshold)
        if self.kind == "output_bounds":
            assert self.bounds is not None
            return not (finite and p.min() >= self.bounds[0] and p.max() <= self.bounds[1])
        if not finite or classes[int(np.argmax(p))] not in self.classes:
            return False
        return self.slice is None or str(context.get(self.slice)) in {str(v) for v in self.values}


def forbidden_subject(classes: Sequence[str], slice_name: str | None) -> str:
    return "forbidden:" + ",".join(classes) + ("" if slice_name is None else f"[{slice_name}]")


def rules_of(rails: Guardrails | None) -> list[Rule]:
    """The single rules of ``rails`` (``max_abstain_rate`` is an eval-set rate: not served)."""
    if rails is None:
        return []
    rules = []
    if rails.min_confidence is not None:
        rules.append(Rule("min_confidence", "min_confidence", threshold=rails.min_confidence))
    if rails.output_bounds is not None:
        bounds = (float(rails.output_bounds[0]), float(rails.output_bounds[1]))
        rules.append(Rule("output_bounds", "output_bounds", bounds=bounds))
    for rule in rails.forbidden:
        rules.append(Rule(forbidden_subject(rule.classes, rule.slice), "forbidden",
                          classes=tuple(rule.classes), slice=rule.slice,
                          values=tuple(rule.values or ())))  # fmt: skip
    return rules


def as_guardrails(value: Any) -> Guardrails | None:
    """Guardrails from a Guardrails, its mapping, or a manifest holding ``guardrails``."""
    if value is None or isinstance(value, Guardrails):
        return value
    if isinstance(value, Mapping):
        if "format" in value or "class_names" in value:  # a manifest
            return as_guardrails(value.get("guardrails"))
        return Guardrails.model_validate(dict(value))
    raise TypeError(f"expected guardrails, their mapping or a manifest, got {type(value).__name__}")


NOT_SEALED = (
    "declared in [eval.guardrails] but not sealed in the bundle: the server would not apply it"
)


def coverage_problem(declared: Rule, sealed: Sequence[Rule]) -> str | None:
    """Why the sealed rules do not enforce ``declared`` (None when they do, or more)."""
    same = [rule for rule in sealed if rule.kind == declared.kind]
    if declared.kind == "min_confidence":
        if not same:
            return NOT_SEALED
        assert declared.threshold is not None and same[0].threshold is not None
        if same[0].threshold < declared.threshold:
            return (f"declared min_confidence = {declared.threshold:g} in [eval.guardrails], "
                    f"but the bundle seals {same[0].threshold:g}: answers in between are "
                    "served")  # fmt: skip
        return None
    if declared.kind == "output_bounds":
        if not same:
            return NOT_SEALED
        (dl, dh), (sl, sh) = declared.bounds, same[0].bounds  # type: ignore[misc]
        if sl < dl or sh > dh:
            return (f"declared output_bounds = [{dl:g}, {dh:g}] in [eval.guardrails], but the "
                    f"bundle seals [{sl:g}, {sh:g}]: outputs in between are served")  # fmt: skip
        return None
    return _forbidden_problem(declared, same)


def _forbidden_problem(declared: Rule, sealed: Sequence[Rule]) -> str | None:
    def covered(name: str, value: Any) -> bool:
        return any(
            name in rule.classes
            and (rule.slice is None or (rule.slice == declared.slice
                                        and str(value) in {str(v) for v in rule.values}))
            for rule in sealed
        )  # fmt: skip

    pairs = [(c, v) for c in declared.classes for v in (declared.values or (None,))]
    missing = [(c, v) for c, v in pairs if not covered(c, v)]
    if not missing:
        return None
    if len(missing) == len(pairs):
        return NOT_SEALED
    named = ", ".join(c if v is None else f"{c} for {declared.slice}={v}" for c, v in missing)
    return f"declared in [eval.guardrails], but the bundle does not forbid {named}"


def probed_rules(sealed: Guardrails | None, declared: Guardrails | None) -> list[Rule]:
    """The rules to probe: the declared ones, then the sealed ones not declared, then the
    non-finite rule when a confidence or bounds rule exists."""
    declared_rules = rules_of(declared)
    subjects = {rule.subject for rule in declared_rules}
    rules = declared_rules + [r for r in rules_of(sealed) if r.subject not in subjects]
    if any(rule.kind in ("min_confidence", "output_bounds") for rule in rules):
        rules.append(Rule(NON_FINITE, NON_FINITE))
    return rules


def every_rule(sealed: Guardrails | None, declared: Guardrails | None) -> list[Rule]:
    """Every rule a served answer must satisfy: the declared ones and the sealed ones (a seal
    stricter than the declaration is fine: its answers must still be withheld)."""
    rules = rules_of(declared) + rules_of(sealed)
    if any(rule.kind in ("min_confidence", "output_bounds") for rule in rules):
        rules.append(Rule(NON_FINITE, NON_FINITE))
    return rules


def expected_label(
    p: np.ndarray, context: Mapping[str, Any], rules: Sequence[Rule], classes: Sequence[str]
) -> str | None:
    """The answer the rules require for ``p``: the top class, or None when one withholds it."""
    if any(rule.applies(p, context, classes) for rule in rules):
        return None
    return classes[int(np.argmax(p))]


def stability(p: np.ndarray, rules: Sequence[Rule]) -> float:
    """How far ``p`` lies from flipping a rule or its top class: a row nearer than float noise
    could be decided otherwise by another runtime, and would test nothing."""
    if not np.isfinite(p).all():
        return 0.0
    ordered = np.sort(p)[::-1]
    gaps = [float(ordered[0] - ordered[1])] if len(p) > 1 else []
    for rule in rules:
        if rule.threshold is not None:
            gaps.append(abs(float(ordered[0]) - rule.threshold))
        if rule.bounds is not None:
            gaps += [abs(float(p.min()) - rule.bounds[0]), abs(float(p.max()) - rule.bounds[1])]
    return min(gaps) if gaps else 1.0


__all__ = [
    "NON_FINITE",
    "NOT_SEALED",
    "Rule",
    "as_guardrails",
    "coverage_problem",
    "every_rule",
    "expected_label",
    "probed_rules",
    "rules_of",
    "stability",
]
