"""DatasetSource: map-style torch datasets of images, waveforms and texts, and broken items."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from dlqa.core.errors import UsageError
from dlqa.data.chunk_probe import probe_sample
from dlqa.sources import DatasetSource

torch = pytest.importorskip("torch")


class ListDataset(torch.utils.data.Dataset):
    """Items from a list; an Exception in the list is raised when its item is read."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        item = self.items[index]
        if isinstance(item, Exception):
            raise item
        return item


def test_chw_float_tensors_become_hwc_uint8_images_with_named_classes() -> None:
    image = torch.zeros(3, 4, 5)
    image[0] = 1.0  # red
    dataset = ListDataset([(image, 1), (torch.full((1, 4, 5), 0.5), torch.tensor(0))])

    source = DatasetSource(dataset, class_names=["cat", "dog"])
    samples = list(source)

    assert (source.modality, source.kind, source.root) == (
        "image",
        "dataset",
        "<dataset ListDataset>",
    )
    assert [(s.sample_id, s.label) for s in samples] == [("0", "dog"), ("1", "cat")]
    assert samples[0].array.shape == (4, 5, 3) and samples[0].array.dtype == np.uint8
    assert samples[0].array[0, 0].tolist() == [255, 0, 0]
    assert samples[1].array.shape == (4, 5, 1) and samples[1].array.max() == 128
    assert all(s.in_memory and s.path is None and s.error is None for s in samples)


def test_hwc_uint8_arrays_are_kept_and_labels_without_names_are_numbers() -> None:
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    samples = list(DatasetSource(ListDataset([(image, np.int64(7)), (image[:, :, 0], 2.0)])))

    assert samples[0].array is image
    assert samples[1].array.shape == (4, 4)
    assert [s.label for s in samples] == ["7", "2"]


def test_a_normalised_tensor_is_min_max_scaled() -> None:
    normalised = torch.linspace(-2.0, 2.0, 3 * 2 * 2).reshape(3, 2, 2)

    (sample,) = DatasetSource(ListDataset([(normalised, 0)]))

    assert sample.array.min() == 0 and sample.array.max() == 255


def test_int_tensors_within_0_255_are_taken_as_pixel_values() -> None:
    (sample,) = DatasetSource(ListDataset([(torch.full((2, 2), 200, dtype=torch.int64), 0)]))

    assert sample.array.dtype == np.uint8 and sample.array.max() == 200


def test_pil_images_are_read_in_their_mode() -> None:
    items = [
        (Image.new("RGB", (5, 4), (10, 20, 30)), "a"),
        (Image.new("L", (5, 4), 9), "b"),
        (Image.new("P", (5, 4)), "c"),
        (Image.new("I;16", (5, 4), 1000), "d"),
    ]
    samples = list(DatasetSource(ListDataset(items)))

    assert [s.array.shape for s in samples] == [(4, 5, 3), (4, 5), (4, 5, 3), (4, 5)]
    assert samples[0].array[0, 0].tolist() == [10, 20, 30]
    assert [s.label for s in samples] == ["a", "b", "c", "d"]


def test_1d_tensors_are_audio_and_need_a_sample_rate() -> None:
    dataset = ListDataset([(torch.zeros(800), "yes"), (np.zeros((2, 400), np.float32), "no")])

    with pytest.raises(UsageError, match=r"needs its sample rate(?s:.*)sample_rate=16000"):
        DatasetSource(dataset)
    samples = list(DatasetSource(dataset, sample_rate=8000))

    assert [s.array.shape for s in samples] == [(800,), (400, 2)]  # (channels, frames) swapped
    assert [s.sample_rate for s in samples] == [8000, 8000]


def test_torchaudio_style_channels_first_waveforms_with_the_modality_given() -> None:
    dataset = ListDataset([(torch.zeros(1, 1600), 0)])

    (sample,) = DatasetSource(dataset, modality="audio", sample_rate=16000)

    assert sample.array.shape == (1600, 1) and sample.array.dtype == np.float32


def test_strings_are_texts_and_ids_can_be_given() -> None:
    source = DatasetSource(ListDataset([("good film", 1), ("bad", 0)]), ids=["r1", "r2"])

    assert source.modality == "text"
    assert [(s.sample_id, s.text, s.label) for s in source] == [
        ("r1", "good film", "1"), ("r2", "bad", "0")]  # fmt: skip


def test_an_item_that_raises_is_a_sample_with_the_error() -> None:
    dataset = ListDataset([("fine", 0), OSError("disk gone"), ("also fine", 1)])

    samples = list(DatasetSource(dataset))

    assert [s.text for s in samples] == ["fine", None, "also fine"]
    broken = samples[1]
    assert broken.error == "dataset[1] raised OSError: disk gone"
    assert not broken.in_memory and broken.path is None
    assert probe_sample(broken, "text")["error"] == "unreadable"  # not a crash


@pytest.mark.parametrize(
    ("item", "error"),
    [
        (("text in an image set", 0), "dataset[1]: the input is a str, not an image"),
        ((torch.zeros(2, 5, 5), 0), "no axis of 1, 3 or 4 channels"),
        ((torch.tensor([[float("nan"), 0.0]]), 0), "1 NaN or infinite value(s)"),
        ((torch.zeros(3, 2, 2), torch.zeros(10)), "the label is a tensor of shape (10,)"),
        ((torch.zeros(3, 2, 2), {"a": 1}), "the label is a dict"),
    ],
)
def test_an_item_that_cannot_be_read_is_a_sample_with_the_reason(item: Any, error: str) -> None:
    dataset = ListDataset([(torch.zeros(3, 2, 2), 0), item])

    samples = list(DatasetSource(dataset))

    assert samples[0].error is None
    assert error in samples[1].error


def test_labels_out_of_range_of_the_class_names_stay_numbers() -> None:
    dataset = ListDataset([("a", 0), ("b", 5), ("c", None), ("d", float("nan"))])

    labels = [s.label for s in DatasetSource(dataset, class_names=("neg", "pos"))]

    assert labels == ["neg", "5", None, None]


def test_items_that_are_not_pairs_are_unlabelled_inputs() -> None:
    samples = list(DatasetSource(ListDataset(["just text", ("one",), ("x", 1, {"extra": 1})])))

    assert [(s.text, s.label) for s in samples] == [("just text", None), ("one", None), ("x", "1")]


def test_detection_failures_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"dataset\[0\] raised KeyError(?s:.*)modality="):
        DatasetSource(ListDataset([KeyError("k")]))
    with pytest.raises(UsageError, match=r"input of dataset\[0\] is a dict"):
        DatasetSource(ListDataset([({"a": 1}, 0)]))
    with pytest.raises(UsageError, match="has no items"):
        DatasetSource(ListDataset([]))
    with pytest.raises(UsageError, match="unknown modality"):
        DatasetSource(ListDataset([("a", 0)]), modality="video")


def test_an_iterable_dataset_is_refused() -> None:
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from []

    with pytest.raises(UsageError, match=r"only a map-style dataset(?s:.*)IterableDataset"):
        DatasetSource(Stream())


def test_the_modality_given_is_not_detected_from_a_broken_first_item() -> None:
    source = DatasetSource(ListDataset([ValueError("bad"), ("ok", 0)]), modality="text")

    assert [s.error for s in source] == ["dataset[0] raised ValueError: bad", None]
