"""The drift checks on profiles: random halves are quiet at 200,000 rows and at 200; a 10 %
brightness change, a change of resolution, a doubled class prior and a switch of microphone
sample rate are caught; a wrong reference is a clear finding or skip, never a crash.

Profiles are built column by column (a list of 200,000 row dicts, as conftest's
build_profile takes, would take longer than the checks).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from dlqa.core.registry import get_spec
from dlqa.core.results import CheckResult, Status
from dlqa.data.checks.drift import check_prior_shift, check_property_drift
from dlqa.data.checks.drift_domain import check_domain_classifier
from dlqa.data.context import DataProfile
from dlqa.data.modalities import AUDIO, IMAGE, TEXT, profile_schema

DRIFT_CHECKS = {
    "data.property_drift": check_property_drift,
    "data.prior_shift": check_prior_shift,
    "data.domain_classifier": check_domain_classifier,
}

IMAGE_SCHEMA = profile_schema(IMAGE, [])
AUDIO_SCHEMA = profile_schema(AUDIO, [])
CLASSES = [f"class_{k}" for k in range(10)]


def table(schema: pa.Schema, columns: dict[str, np.ndarray], labels: np.ndarray) -> pa.Table:
    """A profile table of ``len(labels)`` decoded samples: the given columns, ids, labels and
    hashes; every other column null."""
    n = len(labels)
    given = {
        "sample_id": np.array([f"s{i}.bin" for i in range(n)], dtype=object),
        "index": np.arange(n),
        "label": labels,
        "sha256": np.array([f"sha{i}" for i in range(n)], dtype=object),
        **columns,
    }
    arrays = [
        pa.array(given[field.name]).cast(field.type) if field.name in given
        else pa.nulls(n, field.type)
        for field in schema
    ]  # fmt: skip
    return pa.Table.from_arrays(arrays, schema=schema)


def image_columns(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Properties of photos: brightness and contrast bell-shaped, sharpness and file size
    log-normal, a few common resolutions."""
    sizes = np.array([[640, 480], [800, 600], [1024, 768], [480, 640]])
    size = sizes[rng.choice(len(sizes), n, p=[0.5, 0.2, 0.2, 0.1])]
    return {
        "width": size[:, 0],
        "height": size[:, 1],
        "aspect_ratio": size[:, 0] / size[:, 1],
        "brightness": np.clip(rng.normal(115, 40, n), 0, 255),
        "contrast": np.clip(rng.normal(50, 15, n), 1, 127),
        "sharpness": rng.lognormal(5, 1.2, n),
        "entropy": np.clip(rng.normal(7, 0.5, n), 0, 8),
        "colorfulness": np.abs(rng.normal(40, 20, n)),
        "file_size": rng.lognormal(11, 0.8, n).astype(np.int64),
    }


def audio_columns(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Properties of speech clips recorded at 16 kHz mono."""
    return {
        "duration": rng.uniform(1, 5, n),
        "sample_rate": np.full(n, 16000),
        "channels": np.ones(n, dtype=np.int64),
        "rms_dbfs": rng.normal(-25, 8, n),
        "peak_dbfs": rng.normal(-8, 4, n),
        "loudest_window_dbfs": rng.normal(-20, 7, n),
        "silent_fraction": rng.beta(1, 6, n),
        "clipped_fraction": np.zeros(n),
        "dc_offset": rng.normal(0, 1e-4, n),
        "file_size": rng.lognormal(11, 0.5, n).astype(np.int64),
    }


def labels(n: int, rng: np.random.Generator, shares: list[float] | None = None) -> np.ndarray:
    return np.array(CLASSES, dtype=object)[rng.choice(len(CLASSES), n, p=shares)]


def halves(schema: pa.Schema, columns: dict, labels: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """Two random halves of one dataset, as (reference, current) tables."""
    whole = table(schema, columns, labels)
    order = np.random.default_rng(1).permutation(whole.num_rows)
    half = whole.num_rows // 2
    return whole.take(pa.array(order[:half])), whole.take(pa.array(order[half:]))


def with_column(t: pa.Table, name: str, values: np.ndarray) -> pa.Table:
    field = t.schema.field(name)
    return t.set_column(t.schema.get_field_index(name), field, pa.array(values).cast(field.type))


def compared(reference: pa.Table, current: pa.Table) -> DataProfile:
    """The current profile with the reference set, as the data stage hands it to checks."""
    profile = DataProfile(current, source="current")
    profile.reference = DataProfile(reference, source="reference")
    return profile


def run(check_id: str, profile: DataProfile, **overrides) -> CheckResult:
    params = get_spec(check_id).resolve_params(overrides or None)
    return DRIFT_CHECKS[check_id](profile, params)


def run_all(profile: DataProfile) -> dict[str, CheckResult]:
    return {check_id: run(check_id, profile) for check_id in DRIFT_CHECKS}


@pytest.fixture(scope="module")
def images_200k() -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(0)
    n = 200_000
    return halves(IMAGE_SCHEMA, image_columns(n, rng), labels(n, rng))


@pytest.fixture(scope="module")
def audio_20k() -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(1)
    n = 20_000
    return halves(AUDIO_SCHEMA, audio_columns(n, rng), labels(n, rng))


def test_the_checks_need_a_reference() -> None:
    for check_id in DRIFT_CHECKS:
        assert get_spec(check_id).needs == frozenset({"reference"})
    # Called without one anyway (a plugin, a test): a skip that says why.
    profile = DataProfile(table(IMAGE_SCHEMA, {}, labels(10, np.random.default_rng(0))))
    for check_id in DRIFT_CHECKS:
        result = run(check_id, profile)
        assert result.status is Status.SKIP and "reference" in result.summary


def test_random_halves_of_200000_images_do_not_drift(images_200k) -> None:
    results = run_all(compared(*images_200k))
    for check_id, result in results.items():
        assert result.status is Status.PASS, (check_id, result.summary)
        assert result.n and result.interval is not None
    assert results["data.property_drift"].interval.high < 0.05
    assert results["data.domain_classifier"].value < 0.53
    histograms = results["data.property_drift"].evidence[0]
    assert histograms.kind == "histograms" and len(histograms.items) == 3  # the most shifted


@pytest.mark.parametrize("seed", range(6))
def test_random_halves_of_200_samples_are_not_a_false_alarm(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    reference, current = halves(IMAGE_SCHEMA, image_columns(200, rng), labels(200, rng))
    for check_id, result in run_all(compared(reference, current)).items():
        assert result.status is not Status.FAIL, (check_id, result.summary)


def test_a_10_percent_brightness_change_drifts(images_200k) -> None:
    reference, current = images_200k
    brighter = np.minimum(255, current.column("brightness").to_numpy() * 1.1)
    result = run(
        "data.property_drift", compared(reference, with_column(current, "brightness", brighter))
    )
    assert result.status is Status.FAIL
    assert result.details["drifted"] == ["brightness"]
    assert "brightness" in result.summary
    assert result.interval.low > result.threshold
    items = result.evidence[0].items
    assert [item["property"] for item in items] == ["brightness"]
    assert sum(items[0]["reference"]) == reference.num_rows
    assert sum(items[0]["current"]) == current.num_rows
    # The same change on a few hundred photos is still seen.
    small = compared(
        reference.slice(0, 400), with_column(current, "brightness", brighter).slice(0, 400)
    )
    assert run("data.property_drift", small).status is not Status.PASS


def test_a_change_of_resolution_drifts(images_200k) -> None:
    reference, current = images_200k
    changed = current
    for name in ("width", "height"):
        changed = with_column(changed, name, current.column(name).to_numpy() // 2)
    results = run_all(compared(reference, changed))
    drift_result = results["data.property_drift"]
    assert drift_result.status is Status.FAIL
    assert {"width", "height"} <= set(drift_result.details["drifted"])
    classifier = results["data.domain_classifier"]
    assert classifier.status is Status.FAIL and classifier.value > 0.9
    samples = classifier.evidence[0]
    assert samples.kind == "samples"
    assert all({"id", "label", "value", "reason"} <= set(item) for item in samples.items)
    assert any(name in samples.items[0]["reason"] for name in ("width", "height", "file_size"))
    assert results["data.prior_shift"].status is Status.PASS


def test_a_resolution_change_in_a_single_size_dataset_drifts() -> None:
    # Every reference image is 256 x 256: a constant property; any change is a shift.
    rng = np.random.default_rng(2)
    columns = image_columns(4000, rng)
    columns["width"] = columns["height"] = np.full(4000, 256)
    reference, current = halves(IMAGE_SCHEMA, columns, labels(4000, rng))
    assert run("data.property_drift", compared(reference, current)).status is Status.PASS
    resized = with_column(
        with_column(current, "width", np.full(2000, 224)), "height", np.full(2000, 224)
    )
    result = run("data.property_drift", compared(reference, resized))
    assert result.status is Status.FAIL
    assert result.value == pytest.approx(1.0)  # every current value differs
    assert "constant 256" in result.summary


def test_a_doubled_class_prior_shifts(images_200k) -> None:
    reference, current = images_200k
    shares = np.full(10, 0.8 / 9)
    shares[4] = 0.2  # class_4: 10 % -> 20 %
    relabelled = with_column(
        current, "label", labels(current.num_rows, np.random.default_rng(3), list(shares))
    )
    result = run("data.prior_shift", compared(reference, relabelled))
    assert result.status is Status.FAIL
    assert result.details["shifted_classes"] == ["class_4"]
    assert "class_4" in result.summary
    rows = result.evidence[0].items
    assert rows[0]["label"] == "class_4" and rows[0]["ratio"] == pytest.approx(2.0, rel=0.05)


def test_priors_need_labels_on_both_sides(images_200k) -> None:
    reference, current = images_200k
    unlabelled = with_column(current, "label", np.full(current.num_rows, None, dtype=object))
    result = run("data.prior_shift", compared(reference, unlabelled))
    assert result.status is Status.SKIP and "labelled" in result.summary


def test_audio_random_halves_do_not_drift(audio_20k) -> None:
    for check_id, result in run_all(compared(*audio_20k)).items():
        assert result.status is Status.PASS, (check_id, result.summary)


def test_a_switch_of_microphone_sample_rate_drifts(audio_20k) -> None:
    reference, current = audio_20k
    rates = np.where(np.arange(current.num_rows) % 3 == 0, 8000, 16000)  # a third at 8 kHz
    results = run_all(compared(reference, with_column(current, "sample_rate", rates)))
    result = results["data.property_drift"]
    assert result.status is Status.FAIL
    assert "sample_rate" in result.details["drifted"]
    assert result.details["properties"]["sample_rate"]["measure"] == "changed_share"
    assert results["data.domain_classifier"].status is Status.FAIL


def test_a_reference_of_another_modality_is_a_finding(images_200k, audio_20k) -> None:
    profile = compared(audio_20k[0], images_200k[1].slice(0, 5000))
    result = run("data.property_drift", profile)
    assert result.status is Status.FAIL
    assert "audio" in result.summary and "image" in result.summary
    assert run("data.domain_classifier", profile).status is Status.SKIP
    # Labels are labels, whatever the data: the priors can still be compared.
    assert run("data.prior_shift", profile).status in (Status.PASS, Status.FAIL)


def test_a_reference_without_shared_properties_is_skipped() -> None:
    rng = np.random.default_rng(4)
    current = table(IMAGE_SCHEMA, image_columns(500, rng), labels(500, rng))
    bare = pa.schema(
        [f for f in IMAGE_SCHEMA if f.name not in IMAGE.numeric_properties],
        metadata=IMAGE_SCHEMA.metadata,
    )
    reference = table(bare, {}, labels(500, rng))
    profile = compared(reference, current)
    for check_id in ("data.property_drift", "data.domain_classifier"):
        result = run(check_id, profile)
        assert result.status is Status.SKIP and "no numeric property" in result.summary


def test_text_profiles_are_compared_on_their_lengths() -> None:
    rng = np.random.default_rng(5)
    schema = profile_schema(TEXT, [])
    n = 4000
    chars = rng.lognormal(5, 0.6, n).astype(np.int64)
    columns = {"n_chars": chars, "n_tokens": chars // 5}
    reference, current = halves(schema, columns, labels(n, rng))
    assert run("data.property_drift", compared(reference, current)).status is Status.PASS
    longer = with_column(current, "n_chars", current.column("n_chars").to_numpy() * 2)
    result = run("data.property_drift", compared(reference, longer))
    assert result.status is Status.FAIL and result.details["drifted"] == ["n_chars"]
    assert result.details["properties"]["n_chars"]["log_scale"] is False  # not that skewed


def test_an_empty_side_is_skipped(audio_20k) -> None:
    reference, current = audio_20k
    for check_id in DRIFT_CHECKS:
        assert run(check_id, compared(reference, current.slice(0, 0))).status is Status.SKIP


def test_results_serialise_to_json(images_200k) -> None:
    reference, current = images_200k
    brighter = np.minimum(255, current.column("brightness").to_numpy() * 1.1)
    profile = compared(
        reference.slice(0, 3000), with_column(current, "brightness", brighter).slice(0, 3000)
    )
    for result in run_all(profile).values():
        assert CheckResult.from_dict(result.to_dict()).to_dict() == result.to_dict()
