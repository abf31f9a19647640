"""The guards of a comparison on constructed seed groups, and the ``exp.*`` checks as the stage
runs them (through an ExpContext): when a verdict between two groups would not mean what it
says, the guard says so, names what differs, and an override is a recorded warning."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dlqa.core.registry import get_spec
from dlqa.core.results import CheckResult, Status
from dlqa.exp import guards
from dlqa.exp.checks import ExpContext
from dlqa.exp.environment import environment_diff, environment_fingerprint
from dlqa.exp.groups import SEED_FAILED, SEED_OK, SeedGroup, SeedRecord

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FP_A, FP_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def group(
    name: str,
    values: list[float],
    *,
    metric: str = "accuracy",
    fingerprint: str | None = FP_A,
    eval_set: str | None = None,
    data: str | None = None,
    commit: str = "c0ffee",
    **fields: Any,
) -> SeedGroup:
    seeds = [
        SeedRecord(
            seed,
            SEED_OK,
            metrics={metric: value},
            metric_fingerprints={metric: fingerprint} if fingerprint else {},
            eval_sets={"val": eval_set} if eval_set else {},
            data=data,
        )
        for seed, value in enumerate(values)
    ]
    fields.setdefault("git", {"commit": commit, "dirty": False})
    return SeedGroup(name=name, seeds=seeds, **fields)


def pair(**candidate: Any) -> tuple[SeedGroup, SeedGroup]:
    return group("base", [0.80, 0.81, 0.79]), group("cand", [0.82, 0.83, 0.81], **candidate)


# exp.metric_definitions


def test_same_fingerprints_pass() -> None:
    result = guards.metric_definitions(*pair(), ["accuracy"])
    assert result.status is Status.PASS


def test_another_metric_definition_fails_naming_the_metric() -> None:
    base, cand = pair(fingerprint=FP_B)
    result = guards.metric_definitions(base, cand, ["accuracy"])
    assert result.status is Status.FAIL
    assert result.check_id == "exp.metric_definitions"
    assert "metric accuracy" in result.summary and "not comparable" in result.summary
    assert result.details["differ"] == [
        {"kind": "metric", "name": "accuracy", "baseline": [FP_A], "candidate": [FP_B]}
    ]
    assert result.evidence and result.evidence[0].total == 1


def test_another_eval_set_fails_naming_it() -> None:
    base = group("base", [0.8, 0.81], eval_set="sha256:val-v1")
    cand = group("cand", [0.8, 0.81], eval_set="sha256:val-v2")
    result = guards.metric_definitions(base, cand, ["accuracy"])
    assert result.status is Status.FAIL
    assert "eval set val" in result.summary
    assert result.details["differ"][0]["kind"] == "eval set"


def test_seeds_of_one_group_with_two_fingerprints_differ_from_the_other() -> None:
    base = group("base", [0.8, 0.81])
    base.seeds[1].metric_fingerprints = {"accuracy": FP_B}
    result = guards.metric_definitions(base, group("cand", [0.8, 0.81]), ["accuracy"])
    assert result.status is Status.FAIL


def test_only_one_side_with_fingerprints_warns() -> None:
    base, cand = pair(fingerprint=None)
    result = guards.metric_definitions(base, cand, ["accuracy"])
    assert result.status is Status.WARN
    assert "only the baseline logged its fingerprint" in result.summary
    base, cand = group("base", [0.8], fingerprint=None), group("cand", [0.8])
    result = guards.metric_definitions(base, cand, ["accuracy"])
    assert result.status is Status.WARN and "only the candidate" in result.summary


def test_no_fingerprints_at_all_skip() -> None:
    base = group("base", [0.8, 0.81], fingerprint=None)
    cand = group("cand", [0.8, 0.81], fingerprint=None)
    result = guards.metric_definitions(base, cand, ["accuracy"])
    assert result.status is Status.SKIP
    assert "log_fingerprints" in result.summary


def test_failed_seeds_do_not_count_for_fingerprints() -> None:
    base, cand = pair()
    cand.seeds.append(
        SeedRecord(9, SEED_FAILED, metric_fingerprints={"accuracy": FP_B}, reason="exit code 1")
    )
    assert guards.metric_definitions(base, cand, ["accuracy"]).status is Status.PASS


# exp.reproducible


def test_clean_groups_are_reproducible() -> None:
    result = guards.reproducible(*pair(commit="beef"))
    assert result.status is Status.PASS
    assert result.details["commits"] == {"base": "c0ffee", "cand": "beef"}


def test_a_dirty_group_fails_reproducible_with_why() -> None:
    why = "ran from a dirty tree with --allow-dirty (train.py)"
    base, cand = pair(reproducible=False, why_not_reproducible=why)
    result = guards.reproducible(base, cand)
    assert result.status is Status.FAIL
    assert f"the candidate cand is not reproducible: {why}" in result.summary
    base.reproducible = False  # both sides named
    result = guards.reproducible(base, cand)
    assert len(result.details["problems"]) == 2 and "the baseline base" in result.summary


# exp.baseline_fresh


def fresh(base: SeedGroup, cand: SeedGroup, max_age_days: float = 30.0) -> CheckResult:
    return guards.baseline_fresh(
        base, cand, max_age_days=max_age_days, environment_diff=environment_diff, now=NOW
    )


def test_a_recent_baseline_in_the_same_environment_passes() -> None:
    env = environment_fingerprint()
    base, cand = pair(environment=env)
    base.environment = copy.deepcopy(env)
    base.created_at = (NOW - timedelta(days=2)).isoformat()
    result = fresh(base, cand)
    assert result.status is Status.PASS
    assert result.details["age_days"] == pytest.approx(2.0)
    assert result.details["environment_diff"] == []


def test_a_stale_baseline_fails_with_the_rerun_hint() -> None:
    base, cand = pair()
    base.created_at = (NOW - timedelta(days=60)).isoformat(timespec="seconds")
    result = fresh(base, cand)
    assert result.status is Status.FAIL
    assert "the baseline is 60 days old (max 30)" in result.summary
    assert "dlqa exp rerun base" in result.summary
    assert fresh(base, cand, max_age_days=90).status is Status.PASS


def test_a_naive_timestamp_counts_as_utc() -> None:
    base, cand = pair()
    base.created_at = (NOW - timedelta(days=31)).replace(tzinfo=None).isoformat()
    assert fresh(base, cand).status is Status.FAIL


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda env: env.update(torch={"version": "9.9.0", "cuda": None, "cudnn": None}),
         "torch: "),
        (lambda env: env.update(cpu={**env["cpu"], "model": "Imaginary CPU 9000"}),
         "CPU model: "),
    ],
    ids=["torch", "cpu"],
)  # fmt: skip
def test_a_foreign_environment_fails_listing_the_difference(edit: Any, expected: str) -> None:
    env = environment_fingerprint()
    other = copy.deepcopy(env)
    edit(other)
    base, cand = pair(environment=env)
    base.environment = other
    result = fresh(base, cand)
    assert result.status is Status.FAIL
    assert "it ran in another environment" in result.summary and expected in result.summary
    assert any(d.startswith(expected) for d in result.details["environment_diff"])
    assert result.evidence[0].items[0]["difference"].startswith(expected)
    assert "dlqa exp rerun base" in result.summary


def test_a_side_without_an_environment_is_not_compared() -> None:
    base, cand = pair(environment=environment_fingerprint())
    assert fresh(base, cand).status is Status.PASS


# exp.code_and_data


def test_code_and_data_changed_together_warn() -> None:
    base = group("base", [0.8, 0.81], data="sha256:data-1", commit="aaa")
    cand = group("cand", [0.8, 0.81], data="sha256:data-2", commit="bbb")
    result = guards.code_and_data(base, cand)
    assert result.status is Status.WARN
    assert result.details == {"code_changed": True, "data_changed": True}
    assert "change one at a time" in result.summary


@pytest.mark.parametrize(
    ("commits", "data", "what"),
    [
        (("aaa", "bbb"), ("d1", "d1"), "the code"),
        (("aaa", "aaa"), ("d1", "d2"), "the data"),
        (("aaa", "aaa"), ("d1", "d1"), "neither code nor data"),
        (("aaa", "bbb"), (None, "d2"), "the code"),  # one side without a data fingerprint
    ],
)
def test_one_change_at_a_time_passes(
    commits: tuple[str, str], data: tuple[str | None, str | None], what: str
) -> None:
    base = group("base", [0.8], data=data[0], commit=commits[0])
    cand = group("cand", [0.8], data=data[1], commit=commits[1])
    result = guards.code_and_data(base, cand)
    assert result.status is Status.PASS and result.summary.startswith(what)


def test_a_dirty_tree_counts_as_changed_code() -> None:
    base = group("base", [0.8], data="d1")
    cand = group("cand", [0.8], data="d2", git={"commit": "c0ffee", "dirty": True})
    assert guards.code_and_data(base, cand).status is Status.WARN


# overrides


def test_an_override_turns_a_failure_into_a_warning_with_the_reason() -> None:
    base, cand = pair(fingerprint=FP_B)
    reason = "same formula, refactored (ana, 2026-05-30)"
    failed = guards.metric_definitions(base, cand, ["accuracy"])
    result = guards.apply_override(failed, {"exp.metric_definitions": reason})
    assert failed.status is Status.FAIL and "overridden" not in failed.details  # not mutated
    assert result.status is Status.WARN
    assert result.summary.startswith(f"overridden ({reason}): ")
    assert result.details["overridden"] == reason


def test_an_override_leaves_other_guards_and_passes_alone() -> None:
    base, cand = pair(fingerprint=FP_B)
    other = {"exp.baseline_fresh": "why"}
    result = guards.apply_override(guards.metric_definitions(base, cand, ["accuracy"]), other)
    assert result.status is Status.FAIL and "overridden" not in result.details
    passing = guards.reproducible(*pair())
    result = guards.apply_override(passing, {"exp.reproducible": "why"})
    assert result.status is Status.PASS and "overridden" not in result.details


# the checks through the stage's context


def run_check(check_id: str, context: ExpContext) -> list[CheckResult]:
    spec = get_spec(check_id)
    out = spec.func(context, spec.resolve_params())
    return out if isinstance(out, list) else [out]


def context(base: SeedGroup, cand: SeedGroup, **options: Any) -> ExpContext:
    return ExpContext(
        baseline=base,
        candidate=cand,
        metrics=["accuracy"],
        environment_diff=environment_diff,
        **options,
    )


def test_the_context_offers_a_comparison_only_with_both_groups() -> None:
    base, cand = pair()
    assert context(base, cand).inputs() == frozenset({"comparison"})
    assert ExpContext(group=base).inputs() == frozenset({"seeds"})
    assert ExpContext(baseline=base).inputs() == frozenset()


def test_single_seed_groups_are_inconclusive_with_the_reason() -> None:
    base, cand = group("base", [0.80]), group("cand", [0.95])
    (result,) = run_check("exp.compare", context(base, cand))
    assert result.status is Status.INCONCLUSIVE
    assert result.subject == "accuracy"
    assert "a single run per group cannot separate a change from seed noise" in result.summary
    assert result.details["verdict"] == "inconclusive"


def test_a_clear_improvement_passes() -> None:
    base = group("base", [0.800, 0.805, 0.795, 0.802, 0.798])
    cand = group("cand", [0.850, 0.855, 0.845, 0.852, 0.848])
    (result,) = run_check("exp.compare", context(base, cand))
    assert result.status is Status.PASS
    assert result.summary.startswith("accuracy: improved")
    assert result.value == pytest.approx(0.05)
    assert result.interval is not None and result.interval.low > 0
    assert result.n == 10
    seeds = result.evidence[0]
    assert seeds.kind == "seed_groups"
    assert [g["role"] for g in seeds.items] == ["baseline", "candidate"]
    assert seeds.items[1]["values"] == cand.values("accuracy")


def test_a_regression_fails() -> None:
    base = group("base", [0.850, 0.855, 0.845, 0.852, 0.848])
    cand = group("cand", [0.800, 0.805, 0.795, 0.802, 0.798])
    (result,) = run_check("exp.compare", context(base, cand))
    assert result.status is Status.FAIL
    assert result.details["verdict"] == "regressed"


def test_lower_is_better_flips_the_verdict() -> None:
    base = group("base", [0.30, 0.31, 0.29, 0.30], metric="loss")
    cand = group("cand", [0.20, 0.21, 0.19, 0.20], metric="loss")
    ctx = context(base, cand, lower_is_better={"loss"})
    ctx.metrics = ["loss"]
    (result,) = run_check("exp.compare", ctx)
    assert result.status is Status.PASS and result.details["verdict"] == "improved"


def test_failed_seeds_are_left_out_of_the_comparison() -> None:
    base = group("base", [0.80, 0.81, 0.79])
    cand = group("cand", [0.90, 0.91, 0.89])
    cand.seeds.append(SeedRecord(3, SEED_FAILED, metrics={"accuracy": 0.1}, reason="exit 1"))
    (result,) = run_check("exp.compare", context(base, cand))
    assert result.n == 6 and result.status is Status.PASS


def test_the_guard_checks_read_the_context_and_its_overrides() -> None:
    base, cand = pair(fingerprint=FP_B, reproducible=False)
    base.created_at = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    ctx = context(base, cand, overrides={"exp.baseline_fresh": "known: same GPU box"})
    found = {
        check_id: run_check(check_id, ctx)[0].status
        for check_id in (
            "exp.metric_definitions",
            "exp.reproducible",
            "exp.baseline_fresh",
            "exp.code_and_data",
        )
    }
    assert found == {
        "exp.metric_definitions": Status.FAIL,
        "exp.reproducible": Status.FAIL,
        "exp.baseline_fresh": Status.WARN,  # overridden
        "exp.code_and_data": Status.PASS,
    }
    assert get_spec("exp.code_and_data").level == "warn"
    assert get_spec("exp.metric_definitions").level == "fail"


def test_exp_seeds_reports_every_seed_and_fails_the_failed_one() -> None:
    grp = group("base", [0.8, 0.81])
    for seed in grp.seeds:
        seed.wall_s = 0.5
    grp.seeds.append(
        SeedRecord(2, SEED_FAILED, reason="exit code 1", log_tail="step 3\nloss is nan")
    )
    results = run_check("exp.seeds", ExpContext(group=grp))
    assert [(r.subject, r.status) for r in results] == [
        ("seed=0", Status.PASS),
        ("seed=1", Status.PASS),
        ("seed=2", Status.FAIL),
    ]
    assert results[2].summary == "seed 2 failed: exit code 1 (loss is nan)"
    assert results[2].details["log_tail"].endswith("loss is nan")
