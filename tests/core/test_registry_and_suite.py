import pytest

from dlqa.core.errors import ConfigError
from dlqa.core.gates import verdict
from dlqa.core.params import Param
from dlqa.core.plugins import PluginError
from dlqa.core.registry import all_specs, get_spec, register_check, unregister_check
from dlqa.core.results import CheckResult, Status
from dlqa.core.suite import Suite

DATA_CHECK_IDS = {
    "data.unreadable", "data.format_mismatch", "data.dark", "data.bright", "data.low_contrast",
    "data.blurry", "data.low_information", "data.grayscale", "data.odd_size",
    "data.channel_mode", "data.exact_duplicates", "data.near_duplicates",
    "data.conflicting_labels", "data.split_leakage", "data.class_balance", "data.label_names",
    "data.property_outliers",
    # audio
    "data.near_silent", "data.truncated", "data.clipped", "data.dc_offset",
    "data.sample_rate_mismatch", "data.duration_outliers",
    # text
    "data.empty_text", "data.control_characters", "data.mojibake", "data.extreme_length",
    # label quality and change
    "data.label_errors", "data.prior_shift", "data.property_drift", "data.domain_classifier",
    "data.review_error_rate", "data.confirmed_label_errors",
}  # fmt: skip
BATCH_CHECK_IDS = {
    "data.batch_dtype", "data.batch_shapes", "data.batch_range", "data.batch_finite",
    "data.batch_labels", "data.batch_class_mix", "data.batch_normalization",
    "data.batch_preview",
}  # fmt: skip
# Checks that judge one modality only; every other data check works on all three.
ONE_MODALITY = {
    "image": {
        "data.dark", "data.bright", "data.low_contrast", "data.blurry", "data.low_information",
        "data.grayscale", "data.odd_size", "data.channel_mode",
    },
    "audio": {
        "data.near_silent", "data.truncated", "data.clipped", "data.dc_offset",
        "data.sample_rate_mismatch", "data.duration_outliers",
    },
    "text": {
        "data.empty_text", "data.control_characters", "data.mojibake", "data.extreme_length",
    },
}  # fmt: skip


@pytest.fixture
def registered():
    """Register throwaway checks in the test's own namespace; removed afterwards."""
    ids = []

    def register(check_id, func, **kw):
        kw.setdefault("title", "t")
        kw.setdefault("description", "d")
        register_check(check_id, **kw)(func)
        ids.append(check_id)
        return get_spec(check_id)

    yield register
    for check_id in ids:
        unregister_check(check_id)


def test_every_documented_data_check_is_registered():
    # The DataLoader batch checks (data.batch_*) read the batches stage's context.
    assert {spec.check_id for spec in all_specs("data")} == DATA_CHECK_IDS
    assert {spec.check_id for spec in all_specs("batches")} == BATCH_CHECK_IDS
    for spec in all_specs("data"):
        assert spec.description and spec.title
        assert set(spec.param_docs) == set(spec.defaults), spec.check_id
        assert spec.origin == "dlqa" and spec.stage == "data"
    for modality, ids in ONE_MODALITY.items():
        for check_id in ids:
            assert get_spec(check_id).modalities == {modality}, check_id
    shared = DATA_CHECK_IDS - set().union(*ONE_MODALITY.values())
    assert all(get_spec(check_id).modalities is None for check_id in shared)


def test_resolve_params_validates_names_types_and_ranges():
    spec = get_spec("data.dark")
    params = spec.resolve_params({"max_brightness": 20, "level": "fail"})
    assert params["max_brightness"] == 20 and params["level"] == "fail"
    assert params["enabled"] is True and params["on_inconclusive"] == "fail"
    with pytest.raises(ConfigError, match=r'gates\."data.dark"\.max_brightnes: unknown parameter'):
        spec.resolve_params({"max_brightnes": 20})
    with pytest.raises(ConfigError, match=r"max_brightness: Input should be a valid number"):
        spec.resolve_params({"max_brightness": "dark"})
    with pytest.raises(ConfigError, match="level"):
        spec.resolve_params({"level": "fatal"})
    with pytest.raises(ConfigError, match="unknown check id"):
        get_spec("data.nope")


def test_every_problem_of_a_gate_is_named_at_once(registered):
    spec = registered("t.ranged", lambda c, p: None, defaults={
        "fraction": Param(0.1, ge=0, le=1), "steps": Param(5, ge=1), "flag": True})  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        spec.resolve_params({"fraction": 2, "steps": 0, "flag": 1})
    message = caught.value.message
    assert 'gates."t.ranged".fraction: Input should be less than or equal to 1 (got 2)' in message
    assert 'gates."t.ranged".steps: Input should be greater than or equal to 1 (got 0)' in message
    assert 'gates."t.ranged".flag' in message  # 1 is not a boolean


def test_verdict_follows_level():
    assert verdict(False, {"level": "fail"}) is Status.PASS
    assert verdict(True, {"level": "fail"}) is Status.FAIL
    assert verdict(True, {"level": "warn"}) is Status.WARN


def test_register_check_refuses_bad_ids_and_builtin_namespaces():
    with pytest.raises(ValueError, match="namespace.name"):
        register_check("NoDot", title="t", description="d")

    # A function outside dlqa registering in dlqa's own namespace.
    def sneaky(context, params):
        return CheckResult("data.sneaky", Status.PASS, "s")

    sneaky.__module__ = "somebody_else"
    with pytest.raises(PluginError, match="dlqa's own namespace 'data'"):
        register_check("data.sneaky", title="t", description="d")(sneaky)
    assert "data.sneaky" not in {s.check_id for s in all_specs()}


def test_an_id_registered_twice_by_different_functions_is_refused(registered):
    registered("t.twice", lambda c, p: CheckResult("t.twice", Status.PASS, "a"))

    def other(context, params):
        return CheckResult("t.twice", Status.PASS, "b")

    with pytest.raises(PluginError, match="'t.twice', which dlqa already registered"):
        register_check("t.twice", title="t", description="d")(other)


def test_suite_turns_a_crash_into_an_error_and_runs_the_rest(registered):
    def boom(ctx, params):
        raise RuntimeError("kaput")

    def fine(ctx, params):
        return CheckResult("t.fine", Status.PASS, f"saw {ctx}")

    seen = []
    outcome = Suite([registered("t.boom", boom), registered("t.fine", fine)]).run(
        "ctx", on_result=seen.append
    )
    assert [r.status for r in outcome.results] == [Status.ERROR, Status.PASS]
    assert "RuntimeError: kaput" in outcome.results[0].summary
    assert "Traceback" in outcome.results[0].details["traceback"]
    assert outcome.exit_code == 1 and [r.check_id for r in outcome.failed] == ["t.boom"]
    assert seen == outcome.results


@pytest.mark.parametrize(
    ("returned", "reason"),
    [
        ({"status": "pass"}, "returned dict, not a CheckResult"),
        (None, "returned NoneType, not a CheckResult"),
        ([], "returned no result"),
        (CheckResult("t.other", Status.PASS, "s"), "returned a result for 't.other'"),
        ([CheckResult("t.bad", Status.PASS, "a"), CheckResult("t.bad", Status.PASS, "b")],
         "several results without subjects"),
    ],
)  # fmt: skip
def test_a_check_that_breaks_the_contract_is_an_error_and_the_rest_run(
    registered, returned, reason
):
    bad = registered("t.bad", lambda ctx, params: returned)
    fine = registered("t.fine", lambda ctx, params: CheckResult("t.fine", Status.PASS, "ok"))
    outcome = Suite([bad, fine]).run(None)
    assert [r.status for r in outcome.results] == [Status.ERROR, Status.PASS]
    assert reason in outcome.results[0].summary


def test_suite_gates_disable_and_override(registered):
    def measured(ctx, params):
        return CheckResult("t.m", verdict(ctx > params["limit"], params), "m")

    spec = registered("t.m", measured, defaults={"limit": 5})
    assert Suite([spec]).run(10).exit_code == 1
    assert Suite([spec], {"t.m": {"limit": 20}}).run(10).exit_code == 0
    assert Suite([spec], {"t.m": {"level": "warn"}}).run(10).results[0].status is Status.WARN
    skipped = Suite([spec], {"t.m": {"enabled": False}}).run(10)
    assert skipped.results[0].status is Status.SKIP and skipped.exit_code == 0


def test_subjects_narrow_a_gate(registered):
    def per_target(ctx, params):
        return [
            CheckResult("t.parity", Status.FAIL, "drifts", subject="onnx_fp16"),
            CheckResult("t.parity", Status.PASS, "same", subject="onnx_fp32"),
        ]

    spec = registered("t.parity", per_target)
    assert Suite([spec]).run(None).exit_code == 1
    narrowed = Suite([spec], {"t.parity": {"subjects": ["onnx_fp32"]}}).run(None)
    assert narrowed.exit_code == 0
    fp16 = narrowed.results[0]
    assert fp16.status is Status.WARN and fp16.details["gated"] is False


def test_suite_runs_in_the_stage_order(registered):
    def make(check_id):
        return registered(check_id, lambda c, p: CheckResult(check_id, Status.PASS, "s"))

    specs = [make("t.a"), make("t.b"), make("t.c")]
    outcome = Suite(specs, order=("t.c", "t.a")).run(None)
    assert [r.check_id for r in outcome.results] == ["t.c", "t.a", "t.b"]


def test_a_suite_leaves_out_checks_of_another_modality_unless_named(registered):
    ran = []

    def image_only(context, params):
        ran.append("image")
        return CheckResult("mine.image_only", Status.PASS, "ok")

    def everywhere(context, params):
        ran.append("all")
        return CheckResult("mine.everywhere", Status.PASS, "ok")

    specs = [
        registered("mine.image_only", image_only, stage="mine", modalities=("image",)),
        registered("mine.everywhere", everywhere, stage="mine"),
    ]
    suite = Suite(specs)
    suite.for_modality("audio")
    assert [r.check_id for r in suite.run(None).results] == ["mine.everywhere"]

    named = Suite(specs)
    named.for_modality("audio", explicit=True)
    results = named.run(None).results
    assert [(r.check_id, r.status) for r in results] == [
        ("mine.image_only", Status.SKIP),
        ("mine.everywhere", Status.PASS),
    ]
    assert results[0].summary == "applies to image data; this dataset is audio"
    assert ran == ["all", "all"]
