"""DataLoader batch checks on real DataLoaders over real (digit) images: a clean loader passes
every check, and each pipeline fault is caught by its own check and by no other."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from dlqa.core.results import Status
from dlqa.data.batches import CHECK_IDS, check_batches
from tests.data.batch_images import (
    CLASS_NAMES,
    DECLARED,
    IMAGES,
    MEAN,
    STD,
    DigitImages,
    loader,
    normalize,
    to_tensor,
)


def by_id(results):
    return {r.check_id: r for r in results}


def not_passing(results):
    return {r.check_id: r.status for r in results if r.status is not Status.PASS}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_shuffled_normalised_loader_passes_every_check(seed):
    results = check_batches(loader(seed=seed), **DECLARED)
    assert [r.check_id for r in results] == list(CHECK_IDS)
    assert not_passing(results) == {}, [r.summary for r in results]


def test_without_declarations_a_clean_loader_raises_nothing():
    results = by_id(check_batches(loader()))
    assert results["data.batch_normalization"].status is Status.SKIP  # nothing declared
    assert {r.status for r in results.values()} <= {Status.PASS, Status.SKIP}
    assert results["data.batch_class_mix"].status is Status.PASS


def test_a_missing_normalisation_is_caught_by_the_normalisation_check_only():
    def unnormalised(image):
        return to_tensor(image)  # ToTensor, and the Normalize step forgotten

    results = check_batches(loader(DigitImages(unnormalised)), **DECLARED)
    assert not_passing(results) == {"data.batch_normalization": Status.FAIL}
    assert "is not applied" in by_id(results)["data.batch_normalization"].summary


def test_normalising_twice_or_before_scaling_fails_and_says_which():
    def twice(image):
        return normalize(normalize(to_tensor(image)))

    result = by_id(check_batches(loader(DigitImages(twice)), **DECLARED))
    assert result["data.batch_normalization"].status is Status.FAIL
    assert "normalised twice?" in result["data.batch_normalization"].summary
    assert result["data.batch_range"].status is Status.FAIL  # far outside the expected range

    def raw(image):
        return torch.from_numpy(image).permute(2, 0, 1).float()  # 0..255, never scaled

    result = by_id(check_batches(loader(DigitImages(raw)), **DECLARED))
    assert result["data.batch_normalization"].status is Status.FAIL
    assert "raw 0..255 pixels" in result["data.batch_normalization"].summary


def test_labels_off_by_one_are_caught_by_the_label_check_only():
    results = check_batches(loader(DigitImages(label_offset=1)), **DECLARED)
    assert not_passing(results) == {"data.batch_labels": Status.FAIL}
    labels = by_id(results)["data.batch_labels"]
    assert "off by one" in labels.summary
    assert [row["label"] for row in labels.evidence[0].items] == [10]
    assert labels.value == 40  # every sample of the last class


def test_a_nan_batch_is_caught_by_the_finite_check_and_named():
    results = check_batches(loader(DigitImages(nan_at=123)), **DECLARED)
    assert not_passing(results) == {"data.batch_finite": Status.FAIL}
    rows = by_id(results)["data.batch_finite"].evidence[0].items
    assert len(rows) == 1 and rows[0]["nan"] == 1 and rows[0]["samples"] == 1
    # the named batch and position hold sample 123 (the same seed gives the same order)
    where = []
    for b, (x, _) in enumerate(loader(DigitImages(nan_at=123))):
        bad = torch.isnan(x).flatten(1).any(1).nonzero().flatten().tolist()
        where += [(b, position) for position in bad]
    assert where == [(rows[0]["batch"], rows[0]["first_samples"][0])]


def test_an_unshuffled_sorted_loader_is_caught_by_the_class_mix_check_only():
    results = check_batches(loader(shuffle=False), **DECLARED)
    assert not_passing(results) == {"data.batch_class_mix": Status.FAIL}
    mix = by_id(results)["data.batch_class_mix"]
    assert mix.value > 0.5 and mix.details["p_value"] <= 0.001
    assert mix.details["classes_per_batch"] < 1.5 < mix.details["classes_per_batch_shuffled"]
    # declared as an evaluation loader, order is not judged
    quiet = by_id(check_batches(loader(shuffle=False), shuffled=False, **DECLARED))
    assert quiet["data.batch_class_mix"].status is Status.SKIP


def test_one_class_in_every_batch_of_a_sorted_loader_fails_when_more_are_declared():
    # 5 batches of 20 from the first class only: the permutation test has nothing to split
    results = by_id(check_batches(loader(shuffle=False), max_batches=2, **DECLARED))
    assert results["data.batch_class_mix"].status is Status.INCONCLUSIVE  # 40 samples only
    first = torch.utils.data.Subset(DigitImages(), range(0, 40))
    many = [batch for _ in range(3) for batch in loader(first, shuffle=False)]  # 120 samples
    results = by_id(check_batches(many, **DECLARED))
    assert results["data.batch_class_mix"].status is Status.FAIL
    assert "all 120 labelled samples" in results["data.batch_class_mix"].summary


def test_few_batches_are_inconclusive_not_a_false_alarm():
    results = by_id(check_batches(loader(), max_batches=2, **DECLARED))
    assert results["data.batch_class_mix"].status is Status.INCONCLUSIVE
    one = by_id(check_batches(loader(), max_batches=1, **DECLARED))
    assert one["data.batch_class_mix"].status is Status.INCONCLUSIVE


def test_inconsistent_shapes_are_caught_by_the_shape_check():
    x = torch.zeros(4, 3, 16, 16)
    batches = [(x, torch.zeros(4, dtype=torch.long)),
               (torch.zeros(4, 3, 12, 12), torch.zeros(4, dtype=torch.long)),
               (x, torch.zeros(3, dtype=torch.long))]  # fmt: skip
    shapes = by_id(check_batches(batches))["data.batch_shapes"]
    assert shapes.status is Status.FAIL
    assert "2 different sample shapes" in shapes.summary
    assert "different number of labels and inputs" in shapes.summary
    # In a real DataLoader the default collate raises; the checks report it, not crash.
    results = by_id(check_batches(loader(DigitImages(odd_size_at=5), shuffle=False), **DECLARED))
    assert results["data.batch_shapes"].status is Status.FAIL
    assert "raised at batch 0" in results["data.batch_shapes"].summary
    assert "stack expects each tensor to be equal size" in results["data.batch_shapes"].summary


def test_a_loader_that_raises_midway_is_a_finding_and_the_batches_before_are_checked():
    results = by_id(check_batches(loader(DigitImages(raise_at=250), shuffle=False), **DECLARED))
    assert results["data.batch_shapes"].status is Status.FAIL
    assert "OSError: image 250 is truncated" in results["data.batch_shapes"].summary
    assert results["data.batch_shapes"].details["meta"]["batches"] == 12


def test_a_wrong_dtype_is_caught_by_the_dtype_check():
    def as_float64(image):
        return normalize(to_tensor(image)).double()  # numpy's default leaking through

    results = check_batches(loader(DigitImages(as_float64)), **DECLARED)
    assert not_passing(results) == {"data.batch_dtype": Status.FAIL}
    assert "float64" in by_id(results)["data.batch_dtype"].summary

    def uint8(image):
        return torch.from_numpy(image).permute(2, 0, 1).contiguous()

    dtype = by_id(check_batches(loader(DigitImages(uint8)), **DECLARED))["data.batch_dtype"]
    assert dtype.status is Status.FAIL and "not converted to float" in dtype.summary
    undeclared = by_id(check_batches(loader(DigitImages(uint8))))["data.batch_dtype"]
    assert undeclared.status is Status.WARN  # uint8 images might be converted on the GPU
    assert (
        by_id(check_batches(loader(DigitImages(uint8)), dtype="uint8"))["data.batch_dtype"].status
        is Status.PASS
    )


def test_float_class_labels_fail_and_int32_labels_warn():
    x = normalize(torch.rand(8, 3, 16, 16))
    floats = [(x, torch.arange(8, dtype=torch.float32) % 4)] * 3
    result = by_id(check_batches(floats, class_names=list("abcd")))["data.batch_dtype"]
    assert result.status is Status.FAIL and "class probabilities" in result.summary
    ints = [(x, torch.arange(8, dtype=torch.int32) % 4)] * 3
    assert (
        by_id(check_batches(ints, class_names=list("abcd")))["data.batch_dtype"].status
        is Status.WARN
    )


def test_the_normalisation_inverts_to_the_decoded_input():
    def plain(image):
        return normalize(to_tensor(image))

    raw = [(torch.from_numpy(IMAGES[i : i + 20]), None) for i in range(0, 400, 20)]
    results = by_id(check_batches(loader(DigitImages(plain), shuffle=False), decoded=raw,
                                  shuffled=False, **DECLARED))  # fmt: skip
    result = results["data.batch_normalization"]
    assert result.status is Status.PASS and result.n == 400
    assert result.details["scale"] == 255.0  # uint8 decoded, statistics in 0..1
    assert result.details["largest_error"] < 1e-5

    unnormalised = loader(DigitImages(to_tensor), shuffle=False)
    missing = by_id(check_batches(unnormalised, decoded=raw, shuffled=False, **DECLARED))[
        "data.batch_normalization"
    ]
    assert missing.status is Status.FAIL
    assert "the normalisation is not applied" in missing.summary
    swapped = by_id(check_batches(loader(DigitImages(plain), shuffle=False), decoded=raw,
                                  shuffled=False, class_names=CLASS_NAMES, mean=MEAN[::-1],
                                  std=STD[::-1]))["data.batch_normalization"]  # fmt: skip
    assert swapped.status is Status.FAIL
    np.testing.assert_allclose(swapped.details["fitted_mean"], MEAN, atol=1e-4)
    np.testing.assert_allclose(swapped.details["fitted_std"], STD, atol=1e-4)


def test_the_preview_is_a_png_grid_of_the_first_samples():
    preview = by_id(check_batches(loader(), preview=10, **DECLARED))["data.batch_preview"]
    assert preview.status is Status.PASS
    (evidence,) = preview.evidence
    assert evidence.kind == "image" and evidence.total == 1
    item = evidence.items[0]
    assert "de-normalised with mean" in item["caption"]
    assert item["data_uri"].startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(item["data_uri"].split(",", 1)[1])))
    assert image.format == "PNG" and image.width > image.height > 0
    pixels = np.asarray(image.convert("L"))
    assert pixels.min() < 50 and pixels.max() > 200  # digits visible, not a grey smear


def test_the_preview_skips_inputs_that_are_not_images():
    tabular = [(torch.randn(16, 5), torch.arange(16) % 2) for _ in range(4)]
    results = by_id(check_batches(tabular, class_names=["no", "yes"]))
    assert results["data.batch_preview"].status is Status.SKIP
    assert results["data.batch_labels"].status is Status.PASS


def test_a_gate_at_warn_level_turns_a_failure_into_a_warning():
    gates = {"data.batch_class_mix": {"level": "warn"}}
    results = by_id(check_batches(loader(shuffle=False), gates=gates, **DECLARED))
    assert results["data.batch_class_mix"].status is Status.WARN
