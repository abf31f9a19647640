"""Serving guardrails: does the serving decision enforce what the model was evaluated under?

``[eval.guardrails]`` declares when the model must abstain (``min_confidence``), outputs it
must never give (``forbidden``, for every input or for a slice of requests) and bounds its
probabilities must keep (``output_bounds``). Evaluation checks the model against them; in
production they hold only if the serving path applies them. This check builds cases that
must trigger each rule and controls that must be answered, sends them through the serving
decision in one batch, and compares what comes back with what the rules require:

* :func:`guardrail_results` sends probability rows: to the predictor's ``decide``, or to a
  ``serve`` callable ``serve(probs, contexts) -> labels``;
* :func:`served_guardrail_results` sends model inputs to ``served(batch, contexts) ->
  labels`` (e.g. a function that posts them to a running server, which computes the
  probabilities itself): the inputs that trigger each rule are found among candidates by
  running the bundle's predictor on them (:func:`triggering_inputs`); :func:`http_served`
  makes that callable for a ``dlqa serve`` URL.

Both callables return one entry per row: the served class name, or ``None`` when the answer
is withheld (a :class:`~dlqa.deploy.predictor.Decision` or a mapping with ``"label"`` is read
as its label). A triggering case that gets an answer fails its rule's result, naming the
rule and the case; a control that is withheld or answered another class fails too. A rule
declared in ``[eval.guardrails]`` (``declared``) that the bundle does not seal fails whatever
the probe shows: the server applies the sealed rules only. One result per rule (subject
``min_confidence``, ``output_bounds``, ``forbidden:<classes>[<slice>]``, ``non_finite_output``)
and one for the controls; a SKIP when no guardrail is declared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.deploy.guardrail_cases import CONTROL, MARGIN, Case, input_cases, synthetic_cases
from dlqa.deploy.guardrail_rules import (
    NON_FINITE,
    Rule,
    as_guardrails,
    coverage_problem,
    every_rule,
    expected_label,
    probed_rules,
    rules_of,
    stability,
)
from dlqa.evaluate.guardrails import Guardrails

CHECK_ID = "deploy.guardrails"
Serve = Callable[[np.ndarray, list[dict[str, Any]]], Sequence[Any]]


def label_of(answer: Any) -> str | None:
    """A served answer as a class name or None: a string, a Decision, a mapping, None."""
    if answer is None or isinstance(answer, str):
        return answer
    if isinstance(answer, Mapping):
        return answer.get("label")
    return getattr(answer, "label", answer)


def _decider(predictor_or_decide: Any) -> Serve:
    decide = getattr(predictor_or_decide, "decide", predictor_or_decide)
    if not callable(decide):
        raise TypeError("give a BundlePredictor, a decide(probs, contexts) callable or serve=")
    return decide


def guardrail_results(
    predictor_or_decide: Any = None,
    manifest_or_guardrails: Mapping[str, Any] | Guardrails | None = None,
    class_names: Sequence[str] | None = None,
    *,
    declared: Mapping[str, Any] | Guardrails | None = None,
    serve: Serve | None = None,
) -> list[CheckResult]:
    """``deploy.guardrails`` on synthetic probability rows.

    The sealed guardrails are ``manifest_or_guardrails`` (a manifest, a Guardrails or its
    mapping), by default those of the predictor; ``class_names`` likewise. The rows go to
    ``serve(probs, contexts)`` when given, else to ``predictor_or_decide.decide`` (or to
    ``predictor_or_decide`` itself, a ``decide(probs, contexts)`` callable).
    """
    sealed = as_guardrails(manifest_or_guardrails) if manifest_or_guardrails is not None else \
        getattr(predictor_or_decide, "guardrails", None)  # fmt: skip
    names = list(class_names if class_names is not None else predictor_or_decide.class_names)
    wanted = as_guardrails(declared)
    rules = probed_rules(sealed, wanted)
    if not rules:
        return [_none_declared()]
    cases, notes = synthetic_cases(rules, names, every_rule(sealed, wanted))
    batch = np.stack([case.probs for case in cases]) if cases else np.zeros((0, len(names)))
    route = "serve" if serve is not None else "decide"
    send = serve if serve is not None else _decider(predictor_or_decide)
    return _evaluate(send, batch, cases, notes, rules, sealed, wanted, route)


def triggering_inputs(
    predictor: Any, candidates: Sequence[np.ndarray] | np.ndarray, *,
    declared: Mapping[str, Any] | Guardrails | None = None,
) -> dict[str, list[int]]:  # fmt: skip
    """Per rule subject, the candidates (indices) whose probabilities trigger that rule alone
    in its request context, clearest first; under ``"control"`` those no rule withholds.
    Candidates nearer a threshold than :data:`MARGIN` are left out."""
    sealed, wanted = predictor.guardrails, as_guardrails(declared)
    probs = predictor.predict_arrays(np.stack(list(candidates)))
    return _triggering(probs, _searchable(sealed, wanted), list(predictor.class_names))


def _searchable(sealed: Guardrails | None, declared: Guardrails | None) -> list[Rule]:
    """The rules inputs can be searched for. A finite input that makes the model output NaN
    is not found by searching: the non-finite rule is probed on synthetic rows only."""
    return [r for r in every_rule(sealed, declared) if r.kind != NON_FINITE]


def _triggering(probs: np.ndarray, every: list[Rule], names: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {rule.subject: [] for rule in every}
    found[CONTROL] = []
    order = np.argsort([-stability(p, every) for p in probs], kind="stable")
    for i in (int(i) for i in order):
        p = probs[i]
        if stability(p, every) <= MARGIN:
            continue
        if expected_label(p, {}, every, names) is not None:
            found[CONTROL].append(i)
        for subject, context in {r.subject: r.contexts()[0] for r in every}.items():
            hits = {r.subject for r in every if r.applies(p, context, names)}
            if hits == {subject}:  # this rule alone withholds it (in its own context)
                found[subject].append(i)
    return found


def served_guardrail_results(
    predictor: Any, served: Serve, candidates: Sequence[np.ndarray] | np.ndarray | None = None,
    *, declared: Mapping[str, Any] | Guardrails | None = None, per_rule: int = 3,
) -> list[CheckResult]:  # fmt: skip
    """``deploy.guardrails`` through ``served(batch, contexts) -> labels`` on model inputs:
    up to ``per_rule`` triggering inputs per rule and controls, found among ``candidates``
    (default :func:`~dlqa.deploy.guardrail_cases.candidate_inputs`) by the predictor."""
    from dlqa.deploy.guardrail_cases import candidate_inputs

    pool = np.stack(list(candidates)) if candidates is not None else candidate_inputs(predictor)
    sealed, wanted = predictor.guardrails, as_guardrails(declared)
    rules = [r for r in probed_rules(sealed, wanted) if r.kind != NON_FINITE]
    if not rules:
        return [_none_declared()]
    names, every = list(predictor.class_names), _searchable(sealed, wanted)
    probs = predictor.predict_arrays(pool)
    found = _triggering(probs, every, names)
    cases, notes = input_cases(probs, found, rules, names, per_rule, every)
    batch = pool[[case.index for case in cases]]
    return _evaluate(served, batch, cases, notes, rules, sealed, wanted, "served")


def http_served(url: str, *, token: str | None = None, timeout: float = 30.0) -> Serve:
    """A ``served`` callable that posts model inputs to a running ``dlqa serve`` at ``url``
    (``{"inputs": [...], "context": [...]}``) and reads each slot's label; a refused input
    reads as withheld, an unusable answer raises (the result is then an ERROR)."""
    import json

    from dlqa.deploy.smoke_test import Client, ServerProblem

    client = Client(url, token=token, timeout=timeout)

    def served(batch: np.ndarray, contexts: list[dict[str, Any]]) -> list[str | None]:
        body = json.dumps({"inputs": np.asarray(batch).tolist(), "context": contexts})
        status, payload = client.request("/predict", body.encode(), "application/json")
        slots = payload.get("predictions") if isinstance(payload, dict) else None
        if status not in (200, 422) or not isinstance(slots, list):
            raise ServerProblem(f"POST {url}/predict answered {status}: {str(payload)[:200]}")
        return [slot.get("label") for slot in slots]

    return served


def _none_declared() -> CheckResult:
    return CheckResult(CHECK_ID, Status.SKIP, "No guardrails are declared in [eval.guardrails] "
                       "or sealed in the bundle, so there is nothing to enforce.")  # fmt: skip


def _evaluate(
    send: Serve, batch: np.ndarray, cases: list[Case], notes: dict[str, str], rules: list[Rule],
    sealed: Guardrails | None, declared: Guardrails | None, route: str,
) -> list[CheckResult]:  # fmt: skip
    contexts = [dict(case.context) for case in cases]
    try:
        served = [label_of(a) for a in send(batch, contexts)] if cases else []
    except Exception as exc:  # the serving path is under test: its crash is reported
        return [CheckResult(CHECK_ID, Status.ERROR, f"The serving decision ({route}) raised "
                            f"{type(exc).__name__}: {exc}.")]  # fmt: skip
    if len(served) != len(cases):
        return [CheckResult(CHECK_ID, Status.ERROR, f"The serving decision ({route}) returned "
                            f"{len(served)} answers for {len(cases)} rows.")]  # fmt: skip
    sealed_rules = rules_of(sealed)
    declared_subjects = {rule.subject for rule in rules_of(declared)}
    results = []
    for rule in [*rules, None]:
        subject = CONTROL if rule is None else rule.subject
        mine = [(c, s) for c, s in zip(cases, served, strict=True) if c.subject == subject]
        problem = None
        if rule is not None and rule.subject in declared_subjects:
            problem = coverage_problem(rule, sealed_rules)
        results.append(_judge(rule, subject, mine, problem or "", notes.get(subject, ""), route))
    return results


def _judge(
    rule: Rule | None, subject: str, pairs: list[tuple[Case, str | None]], problem: str,
    note: str, route: str,
) -> CheckResult:  # fmt: skip
    text = "controls (rows no guardrail applies to)" if rule is None else rule.text
    rows = [_row(case, got) for case, got in pairs]
    wrong = [(case, got) for case, got in pairs if got != case.expected]
    details: dict[str, Any] = {"rule": text, "route": route, "cases": len(pairs)}
    evidence = [Evidence("table", rows, len(rows), "each case, what the rules require and "
                         "what the serving path answered")] if rows else []  # fmt: skip
    if problem:
        details["problem"] = problem
        status, summary = Status.FAIL, f"{text}: {problem}."
    elif wrong:
        details["wrong"] = len(wrong)
        status, summary = Status.FAIL, _wrong_summary(text, *wrong[0])
    elif not any(case.expected is None for case, _ in pairs) and rule is not None:
        details["untested"] = note
        status, summary = Status.SKIP, f"{text} was not tested: {note or 'no case triggers it'}."
    elif not pairs:
        status, summary = Status.SKIP, f"{text}: not tested: {note}."
    elif rule is None:
        status = Status.PASS
        summary = f"{len(pairs)} control row(s), which no guardrail applies to, were answered."
    else:
        withheld = sum(case.expected is None for case, _ in pairs)
        status = Status.PASS
        summary = (f"{text} is enforced ({route}): {withheld} triggering case(s) withheld, "
                   f"{len(pairs) - withheld} control(s) answered.")  # fmt: skip
    value = float(len(wrong)) if pairs else None  # the cases the serving path got wrong
    return CheckResult(CHECK_ID, status, summary, value=value, evidence=evidence,
                       details=details, subject=subject)  # fmt: skip


def _wrong_summary(text: str, case: Case, got: str | None) -> str:
    what = f"{case.what}{_where(case.context)}"
    if case.expected is None:
        return f"{text} is not enforced: {what} was answered {got!r} instead of withheld."
    if got is None:
        return f"{text}: {what} was withheld, though no guardrail applies to it."
    return f"{text}: {what} was answered {got!r}, not {case.expected!r}."


def _where(context: Mapping[str, Any]) -> str:
    return "" if not context else " with " + ", ".join(f"{k}={v!r}" for k, v in context.items())


def _row(case: Case, got: str | None) -> dict[str, Any]:
    return {"case": case.what, "context": dict(case.context),
            "probs": [round(float(v), 4) for v in case.probs],
            "expected": "withheld" if case.expected is None else case.expected,
            "served": "withheld" if got is None else got, "ok": got == case.expected}  # fmt: skip


__all__ = [
    "CHECK_ID",
    "guardrail_results",
    "http_served",
    "label_of",
    "served_guardrail_results",
    "triggering_inputs",
]
