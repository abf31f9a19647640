"""The cases :mod:`dlqa.deploy.serving_guardrails` sends: rows that must trigger each rule,
and controls that must be answered.

Synthetic probability rows are built to trigger one rule (a top probability just under
``min_confidence``, a forbidden class on top with the rule's slice value, a probability past
``output_bounds``, a row of NaN) and, where possible, no other, so that a withheld answer is
withheld for that rule. Controls are rows no rule applies to: one confident row of an allowed
class, and each sliced forbidden row again with another slice value (a rule for ``kids``
must not silence every audience). For a server that takes inputs, not probabilities, the same
roles are filled by candidate inputs the bundle's predictor scores (:func:`input_cases`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlqa.deploy.guardrail_rules import NON_FINITE, Rule, expected_label

CONTROL = "control"
OTHER_VALUE = "__dlqa_other__"  # a slice value no rule names
MARGIN = 1e-3


@dataclass(frozen=True)
class Case:
    """One row sent to the serving decision and the answer the rules require (None:
    withheld)."""

    subject: str  # the rule it probes, or "control"
    probs: np.ndarray
    context: Mapping[str, Any] = field(default_factory=dict)
    expected: str | None = None
    what: str = ""
    index: int = -1  # the candidate input behind it (input cases)


def row(classes: int, top: int, value: float, low: tuple[int, float] | None = None) -> np.ndarray:
    """Probabilities with ``value`` on ``top``, optionally one class at a low value, the rest
    shared evenly."""
    p = np.full(classes, np.nan)
    p[top] = value
    if low is not None:
        p[low[0]] = low[1]
    rest = np.isnan(p)
    if rest.any():
        p[rest] = (1.0 - np.nansum(p)) / rest.sum()
    else:
        p[top] = 1.0 - (p.sum() - p[top])
    return p


def confident_value(rules: Sequence[Rule], classes: int) -> float | None:
    """A top probability no confidence or bounds rule withholds (None: none exists)."""
    low_t = max([1.0 / classes + MARGIN] + [r.threshold + MARGIN for r in rules
                                            if r.threshold is not None])  # fmt: skip
    high_t = 1.0 - MARGIN
    for rule in rules:
        if rule.bounds is not None:
            high_t = min(high_t, rule.bounds[1], 1.0 - rule.bounds[0] * (classes - 1)) - MARGIN
    return (low_t + high_t) / 2 if low_t < high_t else None


def _allowed_class(rules: Sequence[Rule], names: Sequence[str]) -> int | None:
    always = {c for r in rules if r.kind == "forbidden" and r.slice is None for c in r.classes}
    return next((i for i, name in enumerate(names) if name not in always), None)


def _triggers(
    rule: Rule, names: Sequence[str], confident: float, top: int
) -> tuple[list[tuple[np.ndarray, dict[str, Any], str]], str]:
    """(probs, context, description) rows meant to trigger ``rule``, or why none can."""
    n = len(names)
    if rule.kind == NON_FINITE:
        return [(np.full(n, np.nan), {}, "a row of NaN probabilities")], ""
    if rule.kind == "min_confidence":
        assert rule.threshold is not None
        if rule.threshold <= 1.0 / n + 1e-9:
            return [], f"the top of {n} probabilities is never under {rule.threshold:g}"
        step = min(0.01, (rule.threshold - 1.0 / n) / 2)
        under, over = rule.threshold - step, min(rule.threshold + step, 1.0)
        return [
            (row(n, top, v), {}, f"a row with top probability {v:.4f}") for v in (under, over)
        ], ""
    if rule.kind == "output_bounds":
        assert rule.bounds is not None
        lo, hi = rule.bounds
        made = []
        if hi < 1.0:
            made.append((row(n, top, (hi + 1) / 2), {}, f"a row with a probability over {hi:g}"))
        if lo > 0.0 and n > 1:
            under = row(n, top, confident, ((top + 1) % n, lo / 2))
            made.append((under, {}, f"a row with a probability under {lo:g}"))
        return made, "" if made else "bounds [0, 1] hold every probability"
    made = []
    for name in rule.classes:
        for context in rule.contexts():
            p = row(n, names.index(name), confident)
            made.append((p, context, f"a row whose top class is {name!r} (p={confident:.3f})"))
    return made, ""


def synthetic_cases(
    probed: Sequence[Rule], names: Sequence[str], every: Sequence[Rule] | None = None
) -> tuple[list[Case], dict[str, str]]:
    """The synthetic cases for the ``probed`` rules, and per subject without one, why. The
    answer each case requires follows ``every`` rule (default: the probed ones)."""
    rules = list(every if every is not None else probed)
    cases: list[Case] = []
    notes: dict[str, str] = {}
    confident = confident_value(rules, len(names))
    top = _allowed_class(rules, names)
    if confident is not None and top is not None:
        p = row(len(names), top, confident)
        cases.append(Case(CONTROL, p, {}, names[top], f"a row whose top class is {names[top]!r} "
                          f"(p={confident:.3f})"))  # fmt: skip
    else:
        notes[CONTROL] = "no probability row escapes every guardrail: every answer is withheld"
    for rule in probed:
        made, why = _triggers(rule, names, confident or 0.9, 0 if top is None else top)
        for p, context, what in made:
            label = expected_label(p, context, rules, names)
            if rule.applies(p, context, names) or label is not None:  # a trigger, or a control
                cases.append(Case(rule.subject, p, context, label, what))
            cases += _slice_controls(rule, p, what, rules, names)
        if not any(case.subject == rule.subject for case in cases):
            notes[rule.subject] = why or "no row triggers it"
    return _unique(cases), notes


def _unique(cases: list[Case]) -> list[Case]:
    """``cases`` without repeats (a sliced rule's controls repeat once per slice value)."""
    seen, out = set(), []
    for case in cases:
        key = (case.subject, case.index, case.probs.tobytes(), repr(sorted(case.context.items())))
        if key not in seen:
            seen.add(key)
            out.append(case)
    return out


def _slice_controls(
    rule: Rule, p: np.ndarray, what: str, rules: Sequence[Rule], names: Sequence[str]
) -> list[Case]:
    """The same row in a request the rule's slice does not select, where nothing else
    withholds it: it must be answered."""
    if rule.kind != "forbidden" or rule.slice is None:
        return []
    out = []
    for context in ({rule.slice: OTHER_VALUE}, {}):
        label = expected_label(p, context, rules, names)
        if label is not None:
            out.append(Case(rule.subject, p, context, label, what))
    return out


def input_cases(
    probs: np.ndarray, found: Mapping[str, list[int]], probed: Sequence[Rule],
    names: Sequence[str], per_rule: int, every: Sequence[Rule] | None = None,
) -> tuple[list[Case], dict[str, str]]:  # fmt: skip
    """Cases over candidate inputs: ``found`` (from ``triggering_inputs``) per subject."""
    rules = list(every if every is not None else probed)
    cases, notes = [], {}
    for i in found.get(CONTROL, [])[:per_rule]:
        cases.append(Case(CONTROL, probs[i], {}, expected_label(probs[i], {}, rules, names),
                          _input_what(i, probs[i], names), index=i))  # fmt: skip
    for rule in probed:
        chosen = found.get(rule.subject, [])[:per_rule]
        for i in chosen:
            what = _input_what(i, probs[i], names)
            for context in rule.contexts():
                label = expected_label(probs[i], context, rules, names)
                cases.append(Case(rule.subject, probs[i], context, label, what, index=i))
            cases += [Case(c.subject, c.probs, c.context, c.expected, c.what, index=i)
                      for c in _slice_controls(rule, probs[i], what, rules, names)]  # fmt: skip
        cases = _unique(cases)
        if not chosen:
            notes[rule.subject] = (f"none of the {len(probs)} candidate inputs triggers it alone "
                                   f"(clear of every threshold by {MARGIN:g})")  # fmt: skip
    if not found.get(CONTROL):
        notes[CONTROL] = f"none of the {len(probs)} candidate inputs escapes every guardrail"
    return cases, notes


def _input_what(index: int, p: np.ndarray, names: Sequence[str]) -> str:
    top = int(np.argmax(p))
    return f"candidate input #{index} (top class {names[top]!r}, p={float(p[top]):.3f})"


def candidate_inputs(predictor: Any, n: int = 96, seed: int = 0) -> np.ndarray:
    """Model inputs to look for triggering ones among: the golden inputs, generated inputs
    of the modality through the serving path, blends of two of them, and those scaled (a
    larger input moves an untrained or calibrated model's outputs to confident corners and
    back)."""
    from dlqa.deploy.robustness_inputs import encode, natural_image, tone, vocab_size, wav

    rng = np.random.default_rng(seed)
    found = []
    for _, path, _ in predictor.golden_pairs() if hasattr(predictor, "golden_pairs") else []:
        try:
            found.append(np.asarray(predictor.preprocess_file(path)))
        except Exception:  # a golden input that does not load is deploy.bundle's business
            continue
    spec, shape = predictor.spec, tuple(predictor.input_shape)
    if (predictor.manifest.get("input") or {}).get("dtype") == "int64":
        vocab, length = vocab_size(predictor) or 2, int(shape[-1])
        for _ in range(n - len(found)):
            ids = np.full(length, getattr(spec, "pad_id", 0), dtype=np.int64)
            used = int(rng.integers(1, length + 1))
            ids[:used] = rng.integers(0, vocab, size=used)
            found.append(ids)
        return np.stack(found[:n])
    if predictor.modality == "image":
        files = [encode(natural_image(s, (40 + 4 * s, 56 - 2 * s))) for s in range(8)]
    else:
        files = [wav(tone(int(spec.sample_rate), float(spec.duration or 1.0)) * a,
                     spec.sample_rate) for a in (0.2, 1.0, 1.8)]  # fmt: skip
    found += [np.asarray(predictor.preprocess_file(f)) for f in files]
    base = list(found)
    # Half of one input and half of another: evidence for two classes at once, where a
    # trained model is least sure (what an abstention rule is about).
    found += [(a + b) / 2 for a, b in zip(base, base[1:] + base[:1], strict=True)]
    found.append(np.zeros_like(base[0]))  # no evidence at all: the model's prior
    for k in (0.1, 0.5, -1.0, 2.0, 4.0, 8.0):
        found += [b * k for b in base]
    while len(found) < n:
        found.append(rng.normal(0.0, float(rng.choice([1.0, 3.0, 10.0])), size=base[0].shape))
    return np.stack(found[:n]).astype(np.float32)


__all__ = ["CONTROL", "Case", "candidate_inputs", "input_cases", "row", "synthetic_cases"]
