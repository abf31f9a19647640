"""deploy.unexpected_inputs: the tiny bundles pass every kind of their modality, and planted
faults in the serving path (a crash, a skipped NaN check, a clipped 16-bit image, a vague
refusal) fail or warn the kind they concern."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlqa.core.results import Status

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from dlqa.deploy import inputs  # noqa: E402
from dlqa.deploy.inputs import InputError  # noqa: E402
from dlqa.deploy.predictor import load  # noqa: E402
from dlqa.deploy.robustness import CHECK_ID, garbage, unexpected_inputs_results  # noqa: E402

IMAGE_KINDS = {
    "corrupt_file", "truncated_file", "empty_file", "grayscale", "palette", "rgba",
    "transparent_background", "cmyk", "png_16bit", "float_tiff", "float_tiff_nan", "tiny_1x1",
    "huge_image", "nan_tensor", "inf_tensor", "unbatched_tensor", "wrong_shape_tensor",
}  # fmt: skip
TEXT_KINDS = {
    "empty_text", "whitespace_text", "very_long_text", "non_ascii_text", "non_utf8_file",
    "nan_tensor", "inf_tensor", "unbatched_tensor", "wrong_shape_tensor", "out_of_range_ids",
    "negative_ids",
}  # fmt: skip
# Gaps of predictor.py (reported): raw bytes decoded without InputError, token ids unchecked.
TEXT_PREDICTOR_GAPS = {"non_utf8_file", "out_of_range_ids", "negative_ids"}
SENTENCES = ["the cat sat on the mat", "a dog ran in the park", "stocks fell on monday",
             "the team won the match", "the market rose in the morning"]  # fmt: skip


def by_kind(results: list) -> dict:
    return {r.subject: r for r in results}


@pytest.fixture
def predictor(tiny_bundle: Path):
    return load(tiny_bundle, threads=1)


def make_text_bundle(folder: Path) -> Path:
    """A bag-of-embeddings text classifier over a WordLevel tokenizer of a few sentences."""
    tokenizers = pytest.importorskip("tokenizers")
    from dlqa.deploy.exporter import export
    from dlqa.deploy.spec import TextPreprocessing

    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    trainer = tokenizers.trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"])
    tokenizer.train_from_iterator(SENTENCES, trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    torch.manual_seed(0)
    torch.set_num_threads(1)
    vocab = tokenizer.get_vocab_size()
    model = torch.nn.Sequential(torch.nn.EmbeddingBag(vocab, 8, mode="mean"),
                                torch.nn.Linear(8, 3)).eval()  # fmt: skip
    return export(model, folder / "bundle", example_input=torch.zeros(2, 16, dtype=torch.int64),
                  preprocessing=TextPreprocessing(max_length=16),
                  tokenizer=folder / "tokenizer.json",
                  class_names=["animals", "finance", "sport"])  # fmt: skip


def test_tiny_image_bundle_passes_every_kind(predictor, tmp_path: Path) -> None:
    results = unexpected_inputs_results(predictor, work_dir=tmp_path / "work")
    kinds = by_kind(results)
    assert set(kinds) == IMAGE_KINDS
    assert {r.status for r in results} == {Status.PASS}, [r.summary for r in results]
    for result in results:
        assert result.check_id == CHECK_ID
        assert {"fed", "outcome", "expected", "file"} <= set(result.details)
        assert Path(result.details["file"]).is_file()
        json.dumps(result.to_dict(), allow_nan=False)
    assert kinds["huge_image"].details["outcome"].startswith("refused: image over")
    assert kinds["rgba"].details["max_prob_diff"] <= 1e-4
    assert "0x" not in kinds["corrupt_file"].summary  # no "<_io.BytesIO object at 0x...>"


def test_a_crash_on_cmyk_fails_that_kind(predictor, monkeypatch) -> None:
    real = predictor.preprocess_file

    def keyerror_on_cmyk(source):
        if isinstance(source, bytes) and source[:4] == b"II*\x00":  # the TIFFs: CMYK and float
            from io import BytesIO

            from PIL import Image

            if Image.open(BytesIO(source)).mode == "CMYK":
                raise KeyError("CMYK")
        return real(source)

    monkeypatch.setattr(predictor, "preprocess_file", keyerror_on_cmyk)
    kinds = by_kind(unexpected_inputs_results(predictor))
    assert kinds["cmyk"].status is Status.FAIL
    assert "a crash, not a clear error: KeyError: 'CMYK'" in kinds["cmyk"].summary
    assert [k for k, r in kinds.items() if r.status is not Status.PASS] == ["cmyk"]


def test_a_skipped_nan_check_fails_the_tensor_kinds(predictor, monkeypatch) -> None:
    """A serving path that zeroes NaN instead of refusing it answers silently: FAIL."""
    import dlqa.deploy.predictor as module

    def zero_nan(batch, shape, name="input"):
        return np.nan_to_num(np.asarray(batch))

    monkeypatch.setattr(module, "finite_batch", zero_nan)
    kinds = by_kind(unexpected_inputs_results(predictor))
    for kind in ("nan_tensor", "inf_tensor"):
        assert kinds[kind].status is Status.FAIL
        assert "was silently answered" in kinds[kind].summary
        assert kinds[kind].details["outcome"].startswith("answered ")


def test_clipping_16_bit_instead_of_scaling_fails(predictor, monkeypatch) -> None:
    from PIL import Image

    real = inputs.to_standard_mode

    def clip_16_bit(image):
        if image.mode.startswith("I;16"):
            return Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), "L")
        return real(image)

    monkeypatch.setattr(inputs, "to_standard_mode", clip_16_bit)
    result = by_kind(unexpected_inputs_results(predictor))["png_16bit"]
    assert result.status is Status.FAIL
    assert "the conversion is not the documented one" in result.summary
    assert result.details["max_prob_diff"] > 1e-4


def test_refusals_vague_or_of_handled_kinds(predictor, monkeypatch) -> None:
    """A refusal that does not name the problem warns; refusing an RGBA upload fails."""
    real = predictor.preprocess_file

    def picky(source):
        if isinstance(source, bytes) and len(source) < 100 and source[:4] == b"\x89PNG":
            raise InputError("bad input")  # the 1x1 PNG
        if isinstance(source, bytes) and source[:4] == b"\x89PNG" and source[25:26] == b"\x06":
            raise InputError("RGBA images are not supported")  # IHDR colour type 6: RGBA
        return real(source)

    monkeypatch.setattr(predictor, "preprocess_file", picky)
    kinds = by_kind(unexpected_inputs_results(predictor))
    assert kinds["tiny_1x1"].status is Status.WARN
    assert "does not name the problem" in kinds["tiny_1x1"].summary
    for kind in ("rgba", "transparent_background"):
        assert kinds[kind].status is Status.FAIL
        assert "documents handling it" in kinds[kind].summary


def test_garbage_probabilities() -> None:
    assert garbage(np.array([[0.2, 0.8]]), 2) is None
    assert "sum to" in garbage(np.array([[0.6, 0.6]]), 2)
    assert "outside [0, 1]" in garbage(np.array([[2.0, -1.0]]), 2)
    assert "non-finite" in garbage(np.array([[np.nan, 1.0]]), 2)
    assert "shape" in garbage(np.array([0.5, 0.5]), 2)


def test_text_bundle_kinds(tmp_path: Path) -> None:
    predictor = load(make_text_bundle(tmp_path / "text"), threads=1)
    kinds = by_kind(unexpected_inputs_results(predictor))
    assert set(kinds) == TEXT_KINDS
    passing = {k: r for k, r in kinds.items() if k not in TEXT_PREDICTOR_GAPS}
    assert {r.status for r in passing.values()} == {Status.PASS}, [
        r.summary for r in passing.values()
    ]
    assert kinds["very_long_text"].details["max_prob_diff"] <= 1e-4
    assert kinds["non_ascii_text"].details["outcome"].startswith("answered ")


def test_text_bundle_refuses_bad_bytes_and_ids(tmp_path: Path) -> None:
    predictor = load(make_text_bundle(tmp_path / "text"), threads=1)
    kinds = by_kind(unexpected_inputs_results(predictor))
    assert all(kinds[k].status is Status.PASS for k in TEXT_PREDICTOR_GAPS)


def test_audio_bundle_passes_every_kind(tmp_path: Path) -> None:
    pytest.importorskip("scipy")
    from dlqa.deploy.exporter import export
    from dlqa.deploy.spec import AudioPreprocessing

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 9, stride=4), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(),
                                torch.nn.Linear(4, 3)).eval()  # fmt: skip
    folder = export(model, tmp_path / "audio", example_input=torch.randn(2, 1, 4000),
                    preprocessing=AudioPreprocessing(sample_rate=8000, duration=0.5),
                    class_names=["speech", "music", "noise"])  # fmt: skip
    results = unexpected_inputs_results(load(folder, threads=1))
    assert {r.subject for r in results} == {
        "corrupt_file", "empty_file", "empty_audio", "stereo", "wrong_sample_rate",
        "nan_audio_file", "nan_tensor", "inf_tensor", "unbatched_tensor", "wrong_shape_tensor",
    }  # fmt: skip
    assert {r.status for r in results} == {Status.PASS}, [r.summary for r in results]
