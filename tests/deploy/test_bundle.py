"""The export bundle: what it holds, how it is loaded, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlqa.core.errors import UsageError
from dlqa.deploy import BundleError, InputError, export, load, read_manifest
from dlqa.deploy.exporter import weights_fingerprint
from dlqa.deploy.manifest import MANIFEST_NAME
from dlqa.deploy.spec import ImagePreprocessing

from .conftest import CLASSES, SPEC, TinyCnn

torch = pytest.importorskip("torch")


def eager_probs(model: TinyCnn, files: list[Path]) -> np.ndarray:
    from PIL import Image

    spec = ImagePreprocessing.from_dict(SPEC)
    rows = []
    for path in files:
        with Image.open(path) as image:
            rows.append(spec.apply(image))
    with torch.no_grad():
        return torch.softmax(model(torch.from_numpy(np.stack(rows))), 1).numpy()


def test_bundle_holds_model_manifest_and_golden_pairs(tiny_bundle: Path, tiny_model) -> None:
    manifest = read_manifest(tiny_bundle)
    assert (tiny_bundle / "model.onnx").is_file()
    assert manifest["class_names"] == CLASSES
    assert manifest["preprocessing"]["interpolation"] == "bilinear"
    assert manifest["input"]["shape"] == ["batch", 1, 16, 16]
    assert manifest["input"]["example_batch"] == 4 and manifest["input"]["batch_free"] is True
    assert manifest["fingerprints"]["weights"] == weights_fingerprint(tiny_model)
    assert set(manifest["model"]["versions"]) >= {"torch", "onnx", "onnxruntime", "dlqa"}
    pairs = manifest["golden"]["pairs"]
    assert len(pairs) == 3 and all(len(p["probs"]) == len(CLASSES) for p in pairs)
    assert manifest["guardrails"]["min_confidence"] == 0.34


def test_predictor_applies_the_manifest_preprocessing(
    tiny_bundle: Path, tiny_model, image_files: list[Path]
) -> None:
    predictor = load(tiny_bundle)
    probs = predictor.predict_files(image_files)
    assert probs.shape == (len(image_files), len(CLASSES))
    np.testing.assert_allclose(probs, eager_probs(tiny_model, image_files), atol=1e-5)
    # The golden outputs sealed at export are what the bundle answers.
    for _, path, expected in predictor.golden_pairs():
        np.testing.assert_allclose(predictor.predict_files([path])[0], expected, atol=1e-6)


def test_classify_abstains_under_min_confidence(tiny_bundle: Path, image_files) -> None:
    predictor = load(tiny_bundle)
    probs = predictor.predict_files(image_files)
    labels = predictor.classify_files(image_files)
    for row, label in zip(probs, labels, strict=True):
        if row.max() < 0.34:
            assert label is None
        else:
            assert label == CLASSES[int(np.argmax(row))]


def test_forbidden_class_is_withheld_only_for_its_slice(tiny_bundle: Path) -> None:
    predictor = load(tiny_bundle)
    stripe = np.array([[0.1, 0.1, 0.8]])
    assert predictor.decide(stripe)[0].label == "stripe"
    withheld = predictor.decide(stripe, [{"audience": "kids"}])[0]
    assert withheld.label is None and "forbidden" in withheld.reason


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (
            lambda m: m["preprocessing"].update(interpolation="nearest"),
            "'preprocessing' was edited",
        ),
        (lambda m: m["class_names"].reverse(), "'class_names' was edited"),
        (lambda m: m.pop("guardrails"), "'guardrails' was removed"),
    ],
)
def test_a_manifest_edited_after_export_is_refused(tiny_bundle: Path, edit, named) -> None:
    path = tiny_bundle / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=named):
        load(tiny_bundle)


def test_a_changed_model_file_or_added_file_is_refused(tiny_bundle: Path) -> None:
    (tiny_bundle / "notes.txt").write_text("added")
    with pytest.raises(BundleError, match="notes.txt was added after export"):
        load(tiny_bundle)
    (tiny_bundle / "notes.txt").unlink()
    with (tiny_bundle / "model.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match="model.onnx changed after export"):
        load(tiny_bundle)


def test_missing_bundle_or_manifest_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no bundle folder"):
        load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="not a dlqa bundle"):
        load(tmp_path / "empty")
    (tmp_path / "empty" / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(BundleError, match="not readable JSON"):
        load(tmp_path / "empty")


def test_unsupported_operator_is_named(tmp_path: Path) -> None:
    class Bessel(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.special.bessel_j0(x).flatten(1)[:, :3]

    with pytest.raises(UsageError, match="operator 'aten::special_bessel_j0'"):
        export(Bessel(), tmp_path / "b", example_input=torch.randn(2, 1, 4, 4),
               preprocessing=SPEC, class_names=CLASSES)  # fmt: skip
    assert not (tmp_path / "b").exists()


def test_bad_export_arguments(tmp_path: Path, tiny_model) -> None:
    x = torch.randn(2, 1, 16, 16)
    with pytest.raises(UsageError, match="unknown key"):
        export(tiny_model, tmp_path / "a", example_input=x,
               preprocessing={**SPEC, "resample": "x"}, class_names=CLASSES)  # fmt: skip
    with pytest.raises(UsageError, match="outputs shape"):
        export(tiny_model, tmp_path / "a", example_input=x, preprocessing=SPEC,
               class_names=["a", "b"])  # fmt: skip
    with pytest.raises(UsageError, match="forbid unknown class"):
        export(tiny_model, tmp_path / "a", example_input=x, preprocessing=SPEC,
               class_names=CLASSES, guardrails={"forbidden": [{"classes": ["dog"]}]})  # fmt: skip
    other = tmp_path / "taken"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty and not a bundle"):
        export(tiny_model, other, example_input=x, preprocessing=SPEC, class_names=CLASSES)
    assert (other / "keep.txt").read_text() == "mine"


def test_refused_inputs_name_the_file(tiny_bundle: Path, tmp_path: Path, image_files) -> None:
    predictor = load(tiny_bundle)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(InputError, match="broken.png: not a readable image"):
        predictor.predict_files([image_files[0], broken])
    nan = np.full((1, 1, 16, 16), np.nan, dtype=np.float32)
    with pytest.raises(InputError, match="NaN"):
        predictor.predict_arrays(nan)
    with pytest.raises(InputError, match="shape"):
        predictor.predict_arrays(np.zeros((1, 3, 16, 16), dtype=np.float32))
