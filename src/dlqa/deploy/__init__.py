"""Deployment QA: the export bundle (``model.onnx`` + ``dlqa-model.json``), its predictor,
the parity matrix, preprocessing parity, unexpected inputs, serving guardrails and staging.

    from dlqa import deploy
    deploy.export(model, "bundle/", example_input=x, preprocessing=spec, class_names=names,
                  golden_inputs=files)
    predictor = deploy.load("bundle/")     # predict_files, classify_files, predict_texts
    results = deploy.check("bundle/", model=model, transform=train_transform, files=paths)

Importing this package does not import torch or onnxruntime; using a bundle does.
"""

from dlqa.deploy.api import (
    batch_sweep,
    check,
    guardrails,
    parity,
    preprocessing,
    smoke,
    unexpected_inputs,
)
from dlqa.deploy.exporter import export
from dlqa.deploy.inputs import InputError
from dlqa.deploy.manifest import BundleError, read_manifest
from dlqa.deploy.predictor import BundlePredictor, load
from dlqa.deploy.spec import (
    INTERPOLATIONS,
    AudioPreprocessing,
    ImagePreprocessing,
    TextPreprocessing,
)

__all__ = [
    "INTERPOLATIONS",
    "AudioPreprocessing",
    "BundleError",
    "BundlePredictor",
    "ImagePreprocessing",
    "InputError",
    "TextPreprocessing",
    "batch_sweep",
    "check",
    "export",
    "guardrails",
    "load",
    "parity",
    "preprocessing",
    "read_manifest",
    "smoke",
    "unexpected_inputs",
]
