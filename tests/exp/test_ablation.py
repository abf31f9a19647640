"""dlqa.exp.ablation on synthetic ablations whose true effects are known: the plan (full and
fractional designs with their aliasing), the effects, and the masked regression (A hurts on
its own, B helps more, A+B improves) flagged by name, and not flagged when A is neutral."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dlqa.core.results import Status
from dlqa.exp.ablation import (
    ABLATION,
    MASKED,
    ablation_results,
    analyze_ablation,
    plan_ablation,
)

FAST = {"n_resamples": 500}


def simulate(plan, effects, *, interactions=None, seeds=6, sd=0.2, base=10.0, seed=0):
    """Seed values per cell: base + the effects of the changes on (+ interactions) + noise."""
    rng = np.random.default_rng(seed)
    values = {}
    for cell in plan.cells:
        mean = base + sum(effects[c] for c in cell.on)
        for pair, size in (interactions or {}).items():
            mean += size if set(pair) <= set(cell.on) else 0.0
        values[cell.name] = (mean + rng.normal(0.0, sd, seeds)).tolist()
    return values


def test_full_factorial_plan_names_cells_groups_and_args() -> None:
    plan = plan_ablation({"A": "--lr 0.1", "B": ["--wd", "0.01"]}, name="abl")
    assert [c.name for c in plan.cells] == ["base", "A", "B", "A+B"]
    assert [c.group for c in plan.cells] == ["abl@base", "abl@A", "abl@B", "abl@A+B"]
    assert plan.cells[-1].args == ("--lr", "0.1", "--wd", "0.01")
    assert plan.cells[0].args == () and plan.resolution is None
    three = plan_ablation({"A": ["-a"], "B": ["-b"], "C": ["-c"]})
    assert len(three.cells) == 8 and all(c.in_design for c in three.cells)


def test_masked_regression_is_flagged_naming_the_change_and_what_hides_it() -> None:
    plan = plan_ablation({"A": ["--a"], "B": ["--b"]}, name="abl")
    values = simulate(plan, {"A": -0.8, "B": 2.0})
    analysis = analyze_ablation(plan, values, metric="accuracy", **FAST)
    assert analysis.own["A"].verdict == "regressed" and analysis.own["B"].verdict == "improved"
    assert analysis.versus_base["A+B"].verdict == "improved"
    masked = [f for f in analysis.findings if f.kind == "masked_regression"]
    assert [(f.change, f.cell, f.hidden_by) for f in masked] == [("A", "A+B", ("B",))]
    assert "A hurts on its own (-0.8" in masked[0].message
    assert "because B helps more" in masked[0].message
    assert any(f.kind == "hurts_in_bundle" and f.change == "A" for f in analysis.findings)
    main = analysis.main["A"]
    assert main.verdict == "regressed" and main.ci[0] < -0.8 < main.ci[1]
    ablation, result = ablation_results(analysis)
    assert (ablation.check_id, ablation.status) == (ABLATION, Status.PASS)
    assert (result.check_id, result.status, result.subject) == (MASKED, Status.FAIL, "accuracy")
    assert "A hurts on its own" in result.summary and result.interval.high < 0
    rows = ablation.evidence[0].items
    assert rows[0]["change"] == "A" and rows[0]["own"] == "regressed"
    assert rows[-1]["interaction"] == "AB"
    assert result.to_dict()["details"]["findings"][0]["change"] == "A"


def test_a_neutral_change_flags_nothing() -> None:
    plan = plan_ablation({"A": ["--a"], "B": ["--b"]})
    analysis = analyze_ablation(plan, simulate(plan, {"A": 0.0, "B": 2.0}), **FAST)
    assert analysis.own["A"].verdict == "inconclusive" and not analysis.findings
    assert not analysis.undecided
    _, result = ablation_results(analysis)
    assert result.status is Status.PASS and result.value == 0


def test_lower_is_better_masked_regression() -> None:
    plan = plan_ablation({"A": ["--a"], "B": ["--b"]})
    values = simulate(plan, {"A": 0.8, "B": -2.0})  # a loss: A raises it
    analysis = analyze_ablation(plan, values, higher_is_better=False, **FAST)
    assert [f.change for f in analysis.findings if f.kind == "masked_regression"] == ["A"]


def test_one_change_cannot_be_masked() -> None:
    plan = plan_ablation({"A": ["--a"]})
    analysis = analyze_ablation(plan, {"base": [1.0, 1.0, 1.0], "A": [0.5, 0.5, 0.5]}, **FAST)
    assert analysis.own["A"].verdict == "regressed" and not analysis.interactions
    assert analysis.main["A"].estimate == -0.5 and analysis.main["A"].ci == (-0.5, -0.5)
    assert ablation_results(analysis)[1].status is Status.PASS


def test_interaction_is_estimated_with_its_interval() -> None:
    plan = plan_ablation({"A": ["--a"], "B": ["--b"]})
    values = simulate(plan, {"A": 0.5, "B": 0.5}, interactions={("A", "B"): 1.5}, seeds=8)
    effect = analyze_ablation(plan, values, **FAST).interactions["AB"]
    means = {c: np.mean(v) for c, v in values.items()}
    by_hand = means["A+B"] - means["A"] - means["B"] + means["base"]
    assert effect.estimate == pytest.approx(by_hand)
    assert effect.verdict == "synergy" and effect.ci[0] < 1.5 < effect.ci[1]


def test_single_run_cells_make_the_masking_check_inconclusive_naming_the_change() -> None:
    plan = plan_ablation({"A": ["--a"], "B": ["--b"]})
    values = simulate(plan, {"A": -0.8, "B": 2.0}, seeds=1)
    analysis = analyze_ablation(plan, values, **FAST)
    _, result = ablation_results(analysis)
    assert result.status is Status.INCONCLUSIVE
    assert "A alone cannot be judged" in result.summary
    assert analysis.main["A"].ci is None and analysis.main["A"].verdict == "inconclusive"


def test_four_changes_use_a_resolution_iv_fraction_with_its_aliasing_stated() -> None:
    plan = plan_ablation({n: [f"--{n.lower()}"] for n in "ABCD"}, name="abl")
    assert plan.resolution == 4
    assert plan.generators == ("D = ABC",) and plan.defining_relation == "I = ABCD"
    assert "AB = CD: the AB interaction is aliased with the CD interaction" in plan.aliases
    assert any(line.startswith("D = ABC: the D main effect") for line in plan.aliases)
    design = [c for c in plan.cells if c.in_design]
    assert len(design) == 8 and "2^(4-1) fractional factorial" in plan.describe()
    names = {c.name for c in plan.cells}  # the cells the masking question needs
    assert {"base", "A", "B", "C", "D", "A+B+C+D"} <= names and len(plan.cells) == 12
    effects = {"A": -0.8, "B": 2.0, "C": 0.3, "D": 0.0}
    analysis = analyze_ablation(plan, simulate(plan, effects, seeds=5), **FAST)
    for change, size in effects.items():
        lo, hi = analysis.main[change].ci
        assert lo < size < hi
    assert analysis.interactions["AB"].aliases == ("CD",)
    assert [f.change for f in analysis.findings if f.kind == "masked_regression"] == ["A"]
    assert "aliased" in " ".join(ablation_results(analysis)[0].details["aliases"])


@pytest.mark.parametrize("k", [4, 5, 6, 7, 8, 9, 12])
def test_fractions_are_balanced_and_at_least_resolution_iv(k: int) -> None:
    names = [f"c{i}" for i in range(k)]
    plan = plan_ablation({n: [f"--{n}"] for n in names})
    assert plan.resolution >= 4 and len(plan.cells) < 2**k
    rows = [[1 if n in c.on else -1 for n in names] for c in plan.cells if c.in_design]
    x = np.array(rows)
    assert (x.sum(axis=0) == 0).all()  # each change on in half the runs
    for i, j in itertools.combinations(range(k), 2):
        assert x[:, i] @ x[:, j] == 0  # main effects orthogonal
    assert any("c0*c1" in key for key in plan.alias_of)


def test_three_changes_above_the_threshold_use_a_resolution_iii_half() -> None:
    plan = plan_ablation({"A": ["-a"], "B": ["-b"], "C": ["-c"]}, fractional_above=2)
    assert plan.resolution == 3 and plan.generators == ("C = -AB",)
    assert "C = -AB: the C main effect is aliased with the AB interaction" in plan.aliases


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "at least one change"),
        ({"A": []}, "change A names no arguments"),
        ({"A": "  "}, "change A names no arguments"),
        ({"A+B": ["-x"]}, "change name"),
        ({"base": ["-x"]}, "change name"),
        ({"A": ["-x"], "B": "-x"}, "same arguments"),
        ({"A": [1]}, "strings"),
    ],
)
def test_bad_changes_say_what_is_wrong(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_ablation(changes)


def test_bad_values_say_which_cell() -> None:
    plan = plan_ablation({"A": ["--a"]})
    with pytest.raises(ValueError, match="missing"):
        analyze_ablation(plan, {"base": [1.0, 2.0]})
    with pytest.raises(ValueError, match="cell A has no values"):
        analyze_ablation(plan, {"base": [1.0, 2.0], "A": []})
    with pytest.raises(ValueError, match="cell A holds NaN"):
        analyze_ablation(plan, {"base": [1.0, 2.0], "A": [1.0, float("nan")]})
