"""The mode matrix: combinations, group names, placeholders and environment; the comparison on
every combination with Holm over all of them (a regression on one mode only is caught), and
the results of a sequential comparison."""

from __future__ import annotations

import numpy as np
import pytest

from dlqa.core.results import Status
from dlqa.exp.checks import ExpContext
from dlqa.exp.compare_results import (
    compare_results,
    holm_adjusted,
    mode_matrix_results,
    sequential_result,
)
from dlqa.exp.groups import SEED_OK, SeedGroup, SeedRecord
from dlqa.exp.modes import (
    apply_mode,
    check_modes,
    check_placeholders,
    combinations,
    mode_environment,
    mode_group,
    placeholders,
    select_modes,
)
from dlqa.exp.sequential import compare_sequential
from dlqa.exp.stats import holm

MODES = {"backbone": ["resnet", "vit"], "precision": ["fp32", "amp"]}


def test_every_combination_in_declared_order_with_its_group_name_and_environment() -> None:
    found = combinations(MODES)
    assert [mode_group("g", c) for c in found] == [
        "g@backbone=resnet,precision=fp32",
        "g@backbone=resnet,precision=amp",
        "g@backbone=vit,precision=fp32",
        "g@backbone=vit,precision=amp",
    ]
    assert mode_environment(found[3]) == {
        "DLQA_MODE_BACKBONE": "vit",
        "DLQA_MODE_PRECISION": "amp",
    }
    assert combinations({}) == []


def test_placeholders_are_replaced_and_other_braces_kept() -> None:
    command = ["python", "train.py", "--arch={backbone}", '{"lr": 1}', "{precision}"]
    assert placeholders(command) == ["backbone", "precision"]
    assert apply_mode(command, {"backbone": "vit", "precision": "amp"}) == [
        "python", "train.py", "--arch=vit", '{"lr": 1}', "amp",
    ]  # fmt: skip


def test_a_placeholder_that_names_no_mode_is_refused() -> None:
    check_placeholders(["train.py", "{backbone}"], MODES)
    with pytest.raises(ValueError, match=r"uses \{optimizer\} but no mode 'optimizer'"):
        check_placeholders(["train.py", "{optimizer}"], MODES)
    with pytest.raises(ValueError, match=r"\[exp\] modes is empty"):
        check_placeholders(["train.py", "{backbone}"], {})


@pytest.mark.parametrize(
    ("modes", "message"),
    [
        ({"back-bone": ["a"]}, "identifier"),
        ({"backbone": []}, "non-empty list"),
        ({"backbone": "resnet"}, "non-empty list"),
        ({"backbone": ["a,b"]}, "group name cannot hold"),
        ({"backbone": ["a", "a"]}, "listed twice"),
    ],
)
def test_unusable_modes_are_refused(modes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_modes(modes)


def test_select_narrows_and_refuses_unknown_modes_and_values() -> None:
    assert select_modes(MODES, ["backbone=vit"]) == {"backbone": ["vit"], **{
        "precision": ["fp32", "amp"]}}  # fmt: skip
    with pytest.raises(ValueError, match="no mode 'optimizer'"):
        select_modes(MODES, ["optimizer=adam"])
    with pytest.raises(ValueError, match="no value 'mlp'"):
        select_modes(MODES, ["backbone=mlp"])
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        select_modes(MODES, ["backbone"])


def group(name: str, values: list[float], mode: dict | None = None) -> SeedGroup:
    seeds = [SeedRecord(i, SEED_OK, metrics={"accuracy": v}) for i, v in enumerate(values)]
    return SeedGroup(name, seeds, mode=mode)


def matrix_context(hurt: str | None) -> ExpContext:
    """Baseline and candidate on four modes; the candidate loses 0.05 on ``hurt`` only."""
    rng = np.random.default_rng(0)
    pairs = []
    for combination in combinations(MODES):
        label = ",".join(f"{k}={v}" for k, v in combination.items())
        base = list(0.8 + rng.normal(0, 0.004, 5))
        shift = -0.05 if label == hurt else 0.0
        cand = list(0.8 + shift + rng.normal(0, 0.004, 5))
        pairs.append((label, group(f"b@{label}", base, combination),
                      group(f"c@{label}", cand, combination)))  # fmt: skip
    return ExpContext(mode_pairs=pairs, metrics=["accuracy"], min_effect=0.02)


def test_a_regression_on_one_mode_only_fails_the_matrix_and_that_mode() -> None:
    context = matrix_context("backbone=vit,precision=amp")
    compared = {r.subject: r for r in compare_results(context)}
    assert compared["accuracy @ backbone=vit,precision=amp"].status is Status.FAIL
    others = [r for s, r in compared.items() if "vit,precision=amp" not in s]
    assert len(others) == 3 and all(r.status is Status.PASS for r in others)
    (matrix,) = mode_matrix_results(context)
    assert matrix.status is Status.FAIL and matrix.value == 1.0
    assert "backbone=vit,precision=amp" in matrix.summary
    items = matrix.evidence[0].items
    assert matrix.evidence[0].kind == "mode_matrix" and len(items) == 4
    hurt = next(i for i in items if i["label"] == "backbone=vit,precision=amp")
    assert hurt["verdict"] == "regressed"
    assert hurt["mode"] == {"backbone": "vit", "precision": "amp"}
    assert hurt["difference"] < -0.04 and hurt["p_holm"] >= hurt["p_value"]


def test_no_regression_anywhere_passes_the_matrix() -> None:
    (matrix,) = mode_matrix_results(matrix_context(None))
    assert matrix.status is Status.PASS, matrix.summary
    assert all(i["verdict"] == "no_difference" for i in matrix.evidence[0].items)


def test_holm_adjusted_p_values_agree_with_holm_rejections() -> None:
    ps = [0.01, 0.04, 0.03, 0.005, None]
    adjusted = holm_adjusted(ps)
    assert adjusted[-1] is None
    assert adjusted[3] == pytest.approx(0.025) and adjusted[0] == pytest.approx(0.04)
    rejected = holm([1.0 if p is None else p for p in ps], 0.05)
    assert [a is not None and a <= 0.05 for a in adjusted] == rejected


def test_a_sequential_result_carries_its_path_and_a_failed_seed_fails() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 1, (2, 20))
    result = compare_sequential(
        lambda s: float(noise[0, s]), lambda s: float(3 + noise[1, s]), min_effect=1.0
    )
    context = ExpContext(
        baseline=group("b", result.baseline),
        candidate=group("c", result.candidate),
        metrics=["accuracy"],
        sequential=result,
    )
    (found,) = compare_results(context)
    assert found.status is Status.PASS and "improved (sequential" in found.summary
    path = next(e for e in found.evidence if e.kind == "sequential_path").items
    assert len(path) == len(result.looks) and path[-1]["decision"] == "improved"
    assert path[0]["planned_max"] == 20 and path[0]["min_effect"] == 1.0

    from dlqa.exp.sequential_seeds import SeedFailed

    failed = SeedRecord(4, "failed", reason="exit code 3", log_tail="Traceback\nOOM")
    context.sequential, context.sequential_failure = None, SeedFailed("c", failed, "exit code 3")
    stopped = sequential_result(context)
    assert stopped.status is Status.FAIL and "c seed 4: exit code 3 (OOM)" in stopped.summary
