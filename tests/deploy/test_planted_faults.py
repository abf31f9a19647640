"""Planted deployment faults, each caught by its own check and by no other.

A clean bundle passes every ``deploy.*`` check; each fault then fails exactly the check that
owns it: the preprocessing faults ``deploy.preprocessing``, the fp16 overflow
``deploy.parity[onnx_fp16]``, the baked batch size ``deploy.batch_sweep``, the guardrail the
bundle lacks ``deploy.guardrails``, the edited manifest ``deploy.bundle``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlqa import deploy
from dlqa.core.gates import gate_fails
from dlqa.deploy.manifest import MANIFEST_NAME
from dlqa.deploy.spec import ImagePreprocessing

from .conftest import CLASSES, TinyCnn

torch = pytest.importorskip("torch")

RGB = {"resize": [16, 16], "interpolation": "bilinear", "color_mode": "RGB",
       "mean": [0.5, 0.4, 0.3], "std": [0.25, 0.2, 0.3]}  # fmt: skip


@pytest.fixture(scope="module")
def many_files(tmp_path_factory) -> list[Path]:
    """200 natural-looking images: int8 is judged by its agreement's Wilson interval, which
    needs about 190 inputs to clear 0.98 (fewer are inconclusive, as they should be)."""
    from .conftest import natural_image

    folder = tmp_path_factory.mktemp("many")
    files = []
    for seed in range(200):
        path = folder / f"img{seed:03d}.png"
        natural_image(seed, (20 + seed % 7, 24 + seed % 5)).save(path)
        files.append(path)
    return files


def transform_of(keys: dict):
    """A training transform with these settings (a PIL image -> CHW array)."""
    return ImagePreprocessing.from_dict(keys).apply


def failing(results) -> list[str]:
    return sorted(r.key for r in results if gate_fails(r))


def run(tmp_path: Path, model, files, *, serving: dict, training: dict, **kwargs):
    bundle = deploy.export(
        model, tmp_path / "bundle", example_input=torch.randn(8, *model.input_shape),
        preprocessing=serving, class_names=CLASSES, golden_inputs=files[:2],
        guardrails=kwargs.pop("sealed", None),
    )  # fmt: skip
    if "edit" in kwargs:
        kwargs.pop("edit")(bundle)
    return deploy.check(bundle, model=model, transform=transform_of(training), files=files,
                        labels=None, **kwargs)  # fmt: skip


def rgb_model():
    torch.manual_seed(1)
    model = TinyCnn(in_channels=3).eval()
    model.input_shape = (3, 16, 16)
    return model


class Overflowing(TinyCnn):
    """Scales its features by 1e5 before a layer that scales them back: fine in fp32, inf in
    fp16 (whose largest value is 65504)."""

    def forward(self, x):
        features = self.features(x) * 1e5 + 1e5
        return self.head(features * 1e-5 - 1.0)


class BakedBatch(TinyCnn):
    def forward(self, x):
        return self.head(self.features(x).reshape(8, -1))


def gray(model_class):
    torch.manual_seed(2)
    model = model_class().eval()
    model.input_shape = (1, 16, 16)
    return model


GRAY = {"resize": [16, 16], "color_mode": "L", "mean": [0.5], "std": [0.25]}


def test_a_clean_bundle_passes_every_check(tmp_path: Path, many_files) -> None:
    results = run(
        tmp_path,
        rgb_model(),
        many_files,
        serving=RGB,
        training=RGB,
        guardrails={"min_confidence": 0.2},
        sealed={"min_confidence": 0.2},
    )
    assert failing(results) == []
    ids = {r.check_id for r in results}
    assert {"deploy.bundle", "deploy.parity", "deploy.batch_sweep", "deploy.preprocessing",
            "deploy.unexpected_inputs", "deploy.guardrails"} <= ids  # fmt: skip
    targets = {r.subject for r in results if r.check_id == "deploy.parity"}
    assert {"onnx_fp32", "onnx_fp16", "onnx_int8"} <= targets


CROPPED = {**RGB, "resize": [20, 20], "crop": [16, 16]}


@pytest.mark.parametrize(
    ("serving", "training", "field"),
    [
        ({**RGB, "interpolation": "nearest"}, RGB, "interpolation"),
        ({**RGB, "channel_order": "BGR"}, RGB, "channel_order"),
        ({k: v for k, v in RGB.items() if k not in ("mean", "std")}, RGB, "normalisation"),
        (RGB, CROPPED, "crop"),
    ],
    ids=["interpolation", "bgr", "no-normalisation", "crop-missing"],
)
def test_a_serving_preprocessing_fault_fails_preprocessing_parity_only(
    tmp_path: Path, many_files, serving: dict, training: dict, field: str
) -> None:
    results = run(tmp_path, rgb_model(), many_files, serving=serving, training=training)
    assert failing(results) == ["deploy.preprocessing"]
    result = next(r for r in results if r.check_id == "deploy.preprocessing")
    assert field in {d["field"] for d in result.details["diagnosis"]}


def test_an_fp16_overflow_fails_the_fp16_target_only(tmp_path: Path, many_files) -> None:
    results = run(tmp_path, gray(Overflowing), many_files, serving=GRAY, training=GRAY)
    assert failing(results) == ["deploy.parity[onnx_fp16]"]


def test_a_baked_batch_size_fails_the_batch_sweep_only(tmp_path: Path, many_files) -> None:
    results = run(tmp_path, gray(BakedBatch), many_files, serving=GRAY, training=GRAY)
    assert failing(results) == ["deploy.batch_sweep"]
    sweep = next(r for r in results if r.check_id == "deploy.batch_sweep")
    assert "batch size 1" in sweep.summary
    # The bundle knows: its predictor runs the graph only at the export's batch size, so a
    # single request still gets the right answer.
    predictor = deploy.load(tmp_path / "bundle")
    assert predictor.manifest["input"]["batch_free"] is False
    assert predictor.predict_files(many_files[:1]).shape == (1, len(CLASSES))


def test_a_declared_guardrail_missing_from_the_bundle_fails_guardrails_only(
    tmp_path: Path, many_files
) -> None:
    results = run(
        tmp_path,
        rgb_model(),
        many_files,
        serving=RGB,
        training=RGB,
        guardrails={"min_confidence": 0.5},
    )  # declared, not sealed
    assert failing(results) == ["deploy.guardrails[min_confidence]"]


def test_a_manifest_edited_after_export_fails_the_bundle_check_only(
    tmp_path: Path, many_files
) -> None:
    def edit(bundle: Path) -> None:
        path = bundle / MANIFEST_NAME
        manifest = json.loads(path.read_text())
        manifest["preprocessing"]["interpolation"] = "bicubic"
        path.write_text(json.dumps(manifest))

    results = run(tmp_path, rgb_model(), many_files, serving=RGB, training=RGB, edit=edit)
    assert failing(results) == ["deploy.bundle"]
    assert "'preprocessing' was edited" in results[0].summary
