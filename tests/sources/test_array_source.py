"""ArraySource: stacked arrays, lists of arrays and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from dlqa.core.errors import UsageError
from dlqa.sources import ArraySource


def test_stacked_array_yields_views_with_default_ids() -> None:
    images = np.arange(3 * 4 * 5 * 3, dtype=np.uint8).reshape(3, 4, 5, 3)

    source = ArraySource(images, labels=np.array([7, 8, 7]), splits=["train", "train", "test"])
    samples = list(source)

    assert source.root == "<arrays>"
    assert source.kind == "arrays"
    assert len(source) == 3
    assert [s.sample_id for s in samples] == ["0", "1", "2"]
    assert [s.label for s in samples] == ["7", "8", "7"]
    assert [s.split for s in samples] == ["train", "train", "test"]
    assert all(s.path is None for s in samples)
    np.testing.assert_array_equal(samples[1].array, images[1])


def test_list_of_grayscale_arrays_of_different_sizes() -> None:
    images = [np.zeros((4, 4), np.uint8), np.full((6, 2), 9, np.uint8)]

    samples = list(ArraySource(images, ids=["a", "b"]))

    assert [s.sample_id for s in samples] == ["a", "b"]
    assert samples[1].array.shape == (6, 2)
    assert samples[0].label is None


def test_length_mismatch_names_both_lengths() -> None:
    with pytest.raises(UsageError, match="2 labels for 3 images"):
        ArraySource(np.zeros((3, 4, 4), np.uint8), labels=["a", "b"])


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(UsageError, match="ids must be unique"):
        ArraySource(np.zeros((2, 4, 4), np.uint8), ids=["x", "x"])


def test_float_images_are_rejected_with_a_conversion_hint() -> None:
    with pytest.raises(UsageError) as error:
        ArraySource(np.zeros((2, 4, 4), np.float32))

    assert "float32" in str(error.value)
    assert "astype(np.uint8)" in str(error.value)


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 4, 4, 1), (2, 3, 8, 8)])
def test_wrong_shapes_are_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(UsageError, match="expected"):
        ArraySource(np.zeros(shape, np.uint8))


def test_list_items_must_be_arrays() -> None:
    with pytest.raises(UsageError, match="image 1 is a list"):
        ArraySource([np.zeros((2, 2), np.uint8), [[0, 1]]])
