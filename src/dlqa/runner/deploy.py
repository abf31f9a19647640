"""Work that spans the evaluation and deployment stages, kept above both so that neither
imports the other for it: evaluating through a bundle, and the deploy commands' runs.

``dlqa model eval BUNDLE`` evaluates the bundle's own inference path (manifest preprocessing
and ONNX Runtime, :func:`dlqa.deploy.load`), never the training code: the eval stage receives
the bundle's predictor and class names as inputs, in place of ``[eval]``'s model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlqa.config import Config
from dlqa.core.stages import ProgressFactory
from dlqa.runner.check import run_configured_checks
from dlqa.runner.session import RunSession


def bundle_eval_inputs(bundle: Path | str) -> dict[str, Any]:
    """The eval stage's inputs that make it evaluate through ``bundle``."""
    from dlqa.deploy import load
    from dlqa.evaluate.model_run import Predictor

    predictor = load(bundle)

    def run(inputs: list[Any]) -> tuple[np.ndarray, None]:
        if predictor.modality == "image":
            return predictor.predict_images(inputs), None
        if predictor.modality == "text":
            return predictor.predict_texts(inputs), None
        return predictor.predict_files(inputs), None  # audio: eval hands over the paths

    fingerprints = predictor.manifest["fingerprints"]
    return {
        "predictor": Predictor(run),
        "class_names": predictor.class_names,
        "model_name": f"bundle {predictor.folder}",
        "bundle_meta": {
            "path": str(predictor.folder),
            "fingerprint": fingerprints["manifest"],
            "weights": fingerprints.get("weights"),
        },  # fmt: skip
    }


def run_bundle_eval(
    config: Config, bundle: Path | str, sets: dict[str, str], **session: Any
) -> RunSession:
    """`dlqa model eval BUNDLE`: the ``eval.*`` checks on the bundle's predictions."""
    inputs = {**bundle_eval_inputs(bundle), **sets}
    return run_configured_checks(
        config, stages=("eval",), kind="model.eval", inputs={"eval": inputs}, **session
    )


def run_deploy_checks(
    config: Config,
    *,
    bundle: Path | str | None = None,
    export: bool | None = None,
    checks: list[str] | None = None,
    progress: ProgressFactory | None = None,
    **session: Any,
) -> RunSession:
    """`dlqa deploy check [BUNDLE]` (and `dlqa deploy export`, with only deploy.bundle)."""
    inputs: dict[str, Any] = {}
    if bundle is not None:
        inputs["bundle"] = Path(bundle).expanduser()
    if export is False:
        inputs["no_export"] = True
    return run_configured_checks(
        config, stages=("deploy",), kind="deploy.check", inputs={"deploy": inputs},
        checks=checks, progress=progress, **session,
    )  # fmt: skip


# With the local bundle, a smoke test also checks the bundle itself and asks the server the
# inputs that trigger each sealed guardrail.
SMOKE_CHECKS = ["deploy.bundle", "deploy.smoke", "deploy.guardrails"]


def run_smoke(
    config: Config, url: str, *, bundle: Path | str | None = None, token: str | None = None,
    **session: Any,
) -> RunSession:  # fmt: skip
    """`dlqa deploy smoke URL`: the golden set against a served bundle, stored as a run."""
    inputs = {"url": url, "token": token, "bundle": bundle}
    return run_configured_checks(
        config, stages=("deploy",), kind="deploy.smoke", inputs={"deploy": inputs},
        checks=SMOKE_CHECKS if bundle else ["deploy.smoke"], **session,
    )  # fmt: skip


__all__ = ["bundle_eval_inputs", "run_bundle_eval", "run_deploy_checks", "run_smoke"]
