import pytest

from dlqa.core.errors import ConfigError
from dlqa.core.registry import CheckSpec, all_specs, get_spec, verdict
from dlqa.core.results import CheckResult, Status
from dlqa.core.suite import Suite

DATA_CHECK_IDS = {
    "data.unreadable", "data.format_mismatch", "data.dark", "data.bright", "data.low_contrast",
    "data.blurry", "data.low_information", "data.grayscale", "data.odd_size",
    "data.exact_duplicates", "data.near_duplicates", "data.conflicting_labels",
    "data.split_leakage", "data.class_balance", "data.label_names", "data.property_outliers",
}  # fmt: skip


def test_every_documented_data_check_is_registered():
    assert {spec.check_id for spec in all_specs("data")} == DATA_CHECK_IDS
    for spec in all_specs("data"):
        assert spec.description and spec.title
        assert set(spec.param_docs) == set(spec.defaults), spec.check_id


def test_resolve_params_validates_names_and_types():
    spec = get_spec("data.dark")
    params = spec.resolve_params({"max_brightness": 20, "level": "fail"})
    assert params["max_brightness"] == 20.0 and isinstance(params["max_brightness"], float)
    assert params["level"] == "fail" and params["enabled"] is True
    with pytest.raises(ConfigError, match=r'gates\."data.dark"\.max_brightnes: unknown parameter'):
        spec.resolve_params({"max_brightnes": 20})
    with pytest.raises(ConfigError, match="expected float, got str"):
        spec.resolve_params({"max_brightness": "dark"})
    with pytest.raises(ConfigError, match="level"):
        spec.resolve_params({"level": "fatal"})
    with pytest.raises(ConfigError, match="unknown check id"):
        get_spec("data.nope")


def test_verdict_follows_level():
    assert verdict(False, {"level": "fail"}) is Status.PASS
    assert verdict(True, {"level": "fail"}) is Status.FAIL
    assert verdict(True, {"level": "warn"}) is Status.WARN


def _spec(check_id, func, **kw):
    return CheckSpec(check_id, "t", "d", func, **kw)


def test_suite_turns_a_crash_into_an_error_and_runs_the_rest():
    def boom(ctx, params):
        raise RuntimeError("kaput")

    def fine(ctx, params):
        return CheckResult("t.fine", Status.PASS, f"saw {ctx}")

    seen = []
    outcome = Suite([_spec("t.boom", boom), _spec("t.fine", fine)]).run(
        "ctx", on_result=seen.append
    )
    assert [r.status for r in outcome.results] == [Status.ERROR, Status.PASS]
    assert "RuntimeError: kaput" in outcome.results[0].summary
    assert "Traceback" in outcome.results[0].details["traceback"]
    assert outcome.exit_code == 1 and [r.check_id for r in outcome.failed] == ["t.boom"]
    assert seen == outcome.results


def test_suite_gates_disable_and_override():
    def measured(ctx, params):
        return CheckResult("t.m", verdict(ctx > params["limit"], params), "m")

    spec = _spec("t.m", measured, defaults={"limit": 5})
    assert Suite([spec]).run(10).exit_code == 1
    assert Suite([spec], {"t.m": {"limit": 20}}).run(10).exit_code == 0
    assert Suite([spec], {"t.m": {"level": "warn"}}).run(10).results[0].status is Status.WARN
    skipped = Suite([spec], {"t.m": {"enabled": False}}).run(10)
    assert skipped.results[0].status is Status.SKIP and skipped.exit_code == 0
