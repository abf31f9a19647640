"""deploy.guardrails: the tiny bundle's sealed guardrails are enforced by its predictor; a
serving path that drops one (the planted fault: a server answering the argmax) fails that
rule, over probability rows and over model inputs; a declared rule the bundle does not seal
fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlqa.core.results import Status

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from dlqa.deploy.predictor import load  # noqa: E402
from dlqa.deploy.serving_guardrails import (  # noqa: E402
    CHECK_ID,
    guardrail_results,
    label_of,
    served_guardrail_results,
    triggering_inputs,
)
from dlqa.evaluate.guardrails import Guardrails  # noqa: E402

FORBIDDEN = "forbidden:stripe[audience]"
KIDS = [{"classes": ["stripe"], "slice": "audience", "values": ["kids"]}]
SEALED = {"min_confidence": 0.34, "forbidden": KIDS}


def by_subject(results: list) -> dict:
    return {r.subject: r for r in results}


@pytest.fixture
def predictor(tiny_bundle: Path):
    return load(tiny_bundle, threads=1)


def correct(predictor):
    """The predictor's decision, with a non-finite row withheld (see the xfail below)."""

    def serve(probs, contexts):
        labels = [d.label for d in predictor.decide(probs, contexts)]
        return [
            None if not np.isfinite(p).all() else label
            for p, label in zip(probs, labels, strict=True)
        ]

    return serve


def argmax_server(predictor):
    """The planted fault: a server that applies min_confidence but not the forbidden rule."""

    def serve(probs, contexts):
        return [predictor.class_names[int(np.argmax(p))] if p.max() >= 0.34 else None
                for p in probs]  # fmt: skip

    return serve


def test_the_bundle_predictor_enforces_its_guardrails(predictor) -> None:
    results = by_subject(guardrail_results(predictor))
    assert set(results) == {"min_confidence", FORBIDDEN, "non_finite_output", "control"}
    for subject in ("min_confidence", FORBIDDEN, "control"):
        assert results[subject].status is Status.PASS, results[subject].summary
        assert results[subject].check_id == CHECK_ID
        json.dumps(results[subject].to_dict(), allow_nan=False)
    rows = results[FORBIDDEN].evidence[0].items
    assert {json.dumps(r["context"]) for r in rows} == {
        '{"audience": "kids"}', '{"audience": "__dlqa_other__"}', "{}"}  # fmt: skip
    assert [r["served"] for r in rows if r["context"] == {"audience": "kids"}] == ["withheld"]


def test_the_bundle_predictor_withholds_nan_rows(predictor) -> None:
    assert by_subject(guardrail_results(predictor))["non_finite_output"].status is Status.PASS


def test_a_correct_serving_function_passes(predictor) -> None:
    results = guardrail_results(predictor, serve=correct(predictor))
    assert {r.status for r in results} == {Status.PASS}, [r.summary for r in results]


def test_a_server_ignoring_the_forbidden_rule_fails_it(predictor) -> None:
    results = by_subject(guardrail_results(predictor, serve=argmax_server(predictor)))
    failed = results[FORBIDDEN]
    assert failed.status is Status.FAIL
    assert "forbidden ['stripe'] for audience in ['kids'] is not enforced" in failed.summary
    assert "with audience='kids' was answered 'stripe' instead of withheld" in failed.summary
    assert results["min_confidence"].status is Status.PASS
    assert results["control"].status is Status.PASS


def test_over_withholding_fails_the_controls(predictor) -> None:
    """A rule applied to every slice value, or every answer withheld, is wrong too."""

    def no_slice(probs, contexts):
        labels = correct(predictor)(probs, contexts)
        return [None if predictor.class_names[int(np.argmax(p))] == "stripe" else label
                for p, label in zip(probs, labels, strict=True)]  # fmt: skip

    failed = by_subject(guardrail_results(predictor, serve=no_slice))[FORBIDDEN]
    assert failed.status is Status.FAIL
    assert "was withheld, though no guardrail applies to it" in failed.summary
    silent = by_subject(guardrail_results(predictor, serve=lambda p, c: [None] * len(p)))
    assert silent["control"].status is Status.FAIL


def test_declared_guardrails_missing_from_the_bundle_fail(predictor) -> None:
    declared = {"min_confidence": 0.5, "output_bounds": [0.01, 0.99], "forbidden": [
        {"classes": ["stripe"], "slice": "audience", "values": ["kids", "teens"]},
        {"classes": ["square"]}]}  # fmt: skip
    results = by_subject(guardrail_results(predictor, declared=declared))
    for subject in ("output_bounds", "forbidden:square"):
        assert results[subject].status is Status.FAIL
        assert (
            "declared in [eval.guardrails] but not sealed in the bundle" in results[subject].summary
        )
    assert "bundle seals 0.34" in results["min_confidence"].summary
    assert "does not forbid stripe for audience=teens" in results[FORBIDDEN].summary
    same = by_subject(guardrail_results(predictor, declared=SEALED, serve=correct(predictor)))
    assert {r.status for r in same.values()} == {Status.PASS}


def test_output_bounds_and_no_guardrails(predictor) -> None:
    predictor.guardrails = Guardrails(output_bounds=(0.05, 0.95))
    results = by_subject(guardrail_results(predictor, serve=correct(predictor)))
    assert results["output_bounds"].status is Status.PASS
    assert len(results["output_bounds"].evidence[0].items) == 2  # over 0.95, under 0.05
    ignored = by_subject(guardrail_results(predictor, serve=argmax_server(predictor)))
    assert ignored["output_bounds"].status is Status.FAIL
    none = guardrail_results(None, None, ["a", "b"], serve=lambda p, c: [None] * len(p))
    assert [r.status for r in none] == [Status.SKIP]
    assert "No guardrails are declared" in none[0].summary


def test_a_crashing_serving_function_is_an_error(predictor) -> None:
    def broken(probs, contexts):
        raise ConnectionError("refused")

    (result,) = guardrail_results(predictor, serve=broken)
    assert result.status is Status.ERROR and "ConnectionError: refused" in result.summary
    assert label_of({"label": "a"}) == "a" and label_of(None) is None


def test_served_inputs_find_the_planted_server_fault(predictor) -> None:
    predictor.guardrails = Guardrails(min_confidence=0.37, forbidden=KIDS)
    from dlqa.deploy.guardrail_cases import candidate_inputs

    candidates = candidate_inputs(predictor)
    found = triggering_inputs(predictor, candidates)
    assert found["min_confidence"] and found[FORBIDDEN] and found["control"]

    def good(batch, contexts):
        return predictor.decide(predictor.predict_arrays(batch), contexts)  # Decisions

    def argmax(batch, contexts):
        probs = predictor.predict_arrays(batch)
        return [predictor.class_names[int(np.argmax(p))] if p.max() >= 0.37 else None
                for p in probs]  # fmt: skip

    passed = served_guardrail_results(predictor, good, candidates)
    assert {r.status for r in passed} == {Status.PASS}, [r.summary for r in passed]
    failed = by_subject(served_guardrail_results(predictor, argmax, candidates))
    assert failed[FORBIDDEN].status is Status.FAIL
    assert "candidate input #" in failed[FORBIDDEN].summary
    assert failed["min_confidence"].status is Status.PASS


def test_a_rule_no_candidate_triggers_is_skipped(predictor) -> None:
    """min_confidence 0.34 of three classes: this model never answers under it."""

    def served(batch, contexts):
        return predictor.decide(predictor.predict_arrays(batch), contexts)

    results = by_subject(served_guardrail_results(predictor, served))
    assert results["min_confidence"].status is Status.SKIP
    assert "none of the 96 candidate inputs triggers it alone" in results["min_confidence"].summary


def test_a_running_server_enforces_the_sealed_guardrails(predictor) -> None:
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    from dlqa.deploy.server import serving
    from dlqa.deploy.serving_guardrails import http_served

    with serving(predictor) as url:
        results = by_subject(served_guardrail_results(predictor, http_served(url)))
    assert results[FORBIDDEN].status is Status.PASS, results[FORBIDDEN].summary
    assert results["control"].status is Status.PASS
