"""The ``deploy.*`` checks, registered for the ``[deploy]`` stage and :func:`dlqa.deploy.check`.

Each reads a :class:`~dlqa.deploy.context.DeployContext` and calls the library function that
does the work; the functions take plain arguments and can be used on their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.deploy.context import DeployContext
from dlqa.deploy.inputs import InputError

# Raw files ([deploy] files) searched for inputs that trigger a guardrail on a server.
MAX_GUARDRAIL_FILES = 256
CHECK_ORDER = (
    "deploy.bundle",
    "deploy.parity",
    "deploy.batch_sweep",
    "deploy.preprocessing",
    "deploy.unexpected_inputs",
    "deploy.guardrails",
    "deploy.smoke",
)
INPUT_HINTS = {
    "bundle": "a bundle folder ([deploy] bundle, or the BUNDLE argument)",
    "predictor": "a bundle that loads (deploy.bundle says why it does not)",
    "server": "the URL of a served bundle (dlqa deploy smoke URL)",
    "reference": "the eager model, the training transform and raw files ([deploy] model, "
    "transform, files; or model=, transform=, files= in deploy.check())",
    "transform": "the training transform and raw files ([deploy] transform and files)",
}


@register_check(
    "deploy.bundle",
    title="Bundle integrity",
    description=(
        "The bundle matches the fingerprints sealed at export (model.onnx, every file, each "
        "manifest section), its golden inputs reproduce their sealed outputs through the "
        "bundle's own predictor within the manifest's tolerance, and, when the eager model is "
        "given, its weights are those the bundle was exported from."
    ),
    needs=("bundle",),
)
def check_bundle(context: DeployContext, params: dict[str, Any]) -> CheckResult:
    if context.bundle_error is not None:
        return CheckResult("deploy.bundle", Status.FAIL, f"refused: {context.bundle_error}",
                           details={"error": context.bundle_error})  # fmt: skip
    predictor = context.predictor
    assert predictor is not None
    problems: list[str] = []
    pairs = predictor.golden_pairs()
    atol = float((predictor.manifest.get("golden") or {}).get("atol", 0.0))
    worst, items = 0.0, []
    if pairs:
        probs = predictor.predict_files([path for _, path, _ in pairs])
        for (sample_id, _, expected), row in zip(pairs, probs, strict=True):
            diff = float(np.abs(row - expected).max())
            worst = max(worst, diff)
            if diff > atol:
                items.append({"id": sample_id, "max_abs_diff": diff})
        if items:
            problems.append(f"{len(items)} of {len(pairs)} golden inputs differ beyond {atol:g}")
    weights = None
    if context.model is not None:
        from dlqa.deploy.exporter import weights_fingerprint

        weights = weights_fingerprint(context.model)
        sealed = predictor.manifest["fingerprints"].get("weights")
        if sealed and sealed != weights:
            problems.append("the model given is not the one exported (weights fingerprint differs)")
    details = {"fingerprint": predictor.manifest["fingerprints"]["manifest"], "golden": len(pairs),
               "golden_max_abs_diff": worst, "golden_atol": atol, "weights_match": weights is None
               or weights == predictor.manifest["fingerprints"].get("weights")}  # fmt: skip
    evidence = [Evidence("inputs", items, len(items), "golden inputs that differ")] if items else []
    if problems:
        return CheckResult("deploy.bundle", Status.FAIL, "; ".join(problems), value=worst,
                           threshold=atol, evidence=evidence, details=details)  # fmt: skip
    golden = f"{len(pairs)} golden inputs reproduce (max diff {worst:.1e})" if pairs else (
        "no golden inputs sealed")  # fmt: skip
    return CheckResult("deploy.bundle", Status.PASS, f"fingerprints match; {golden}",
                       value=worst, threshold=atol, details=details, n=len(pairs))  # fmt: skip


class ParityParams(BaseModel):
    targets: list[str] | None = Field(
        None, description="targets to compare (default: every one available here)"
    )
    tolerances: dict[str, dict[str, float | bool | None]] | None = Field(
        None,
        description="per target, overrides of its default tolerance: atol, rtol, "
        "min_top1_agreement, agreement_by_interval, max_metric_drop",
    )


@register_check(
    "deploy.parity",
    title="Parity matrix",
    description=(
        "The eager PyTorch fp32 model against each ONNX Runtime target (fp32, fp16, int8 "
        "dynamic quantisation; CUDA and TensorRT where present) on the same inputs: max "
        "absolute and relative difference, top-1 agreement with a Wilson interval, and the "
        "accuracy delta when labels are known. fp32 is judged elementwise and tightly, fp16 "
        "more loosely, int8 by agreement and accuracy delta. One result per target."
    ),
    params=ParityParams,
    needs=("reference",),
)
def check_parity(context: DeployContext, params: dict[str, Any]) -> list[CheckResult]:
    from dlqa.deploy.parity_checks import parity_results

    inputs, _ = context.training_inputs()
    return parity_results(
        context.reference, context.folder / context.manifest["model"]["file"], inputs,
        labels=context.kept_labels(), sample_ids=context.kept_ids(), targets=params["targets"],
        tolerances=params["tolerances"], batch_size=context.batch_size, work_dir=context.work_dir,
    )  # fmt: skip


@register_check(
    "deploy.batch_sweep",
    title="Batch sizes",
    description=(
        "The fp32 ONNX model at batch sizes 1, 2 and a large one against the eager model: a "
        "reshape that baked the export's batch size into the graph fails here, naming the "
        "batch size and the error."
    ),
    needs=("reference",),
)
def check_batch_sweep(context: DeployContext, params: dict[str, Any]) -> CheckResult:
    from dlqa.deploy.parity_checks import batch_sweep_result

    inputs, _ = context.training_inputs()
    return batch_sweep_result(
        context.reference, context.folder / context.manifest["model"]["file"], inputs,
        sample_ids=context.kept_ids(), batch_size=context.batch_size,
    )  # fmt: skip


@register_check(
    "deploy.preprocessing",
    title="Preprocessing parity",
    description=(
        "The training transform against the serving preprocessing read from the manifest, on "
        "the same raw files: max pixel difference and top-1 agreement through the bundle's "
        "model, and a diagnosis that names the mismatch (interpolation, resize library, "
        "channel order, colour mode, normalisation, crop)."
    ),
    needs=("transform",),
)
def check_preprocessing(context: DeployContext, params: dict[str, Any]) -> CheckResult:
    from dlqa.deploy.preprocessing_parity import preprocessing_parity_result
    from dlqa.deploy.spec import ImagePreprocessing

    predictor = context.predictor
    assert predictor is not None
    if not isinstance(predictor.spec, ImagePreprocessing):
        return CheckResult("deploy.preprocessing", Status.SKIP,
                           f"preprocessing parity compares image pipelines; this bundle takes "
                           f"{predictor.modality}")  # fmt: skip
    return preprocessing_parity_result(
        context.transform, predictor.spec, context.files, predict=predictor.predict_arrays,
        sample_ids=context.sample_ids,
    )  # fmt: skip


@register_check(
    "deploy.unexpected_inputs",
    title="Unexpected inputs",
    description=(
        "The serving path fed corrupt and empty files, unusual image modes (L, RGBA, CMYK, "
        "16-bit), a 1x1 and a huge image, NaN and infinite tensors, audio at another sample "
        "rate, empty text: each must give a clear error or its documented handling, never a "
        "crash or silent garbage. One result per input kind."
    ),
    needs=("predictor",),
)
def check_unexpected_inputs(context: DeployContext, params: dict[str, Any]) -> list[CheckResult]:
    from dlqa.deploy.robustness import unexpected_inputs_results

    return unexpected_inputs_results(context.predictor, work_dir=context.work_dir)


@register_check(
    "deploy.guardrails",
    title="Serving guardrails",
    description=(
        "The guardrails sealed in the bundle (abstention under min_confidence, forbidden "
        "outputs, output bounds) are enforced by its predictor, or by the server in a smoke "
        "test, on inputs that trigger them; a guardrail declared in [eval.guardrails] but "
        "missing from the bundle fails."
    ),
    needs=("predictor",),
)
def check_guardrails(context: DeployContext, params: dict[str, Any]) -> list[CheckResult]:
    from dlqa.deploy.serving_guardrails import (
        guardrail_results,
        http_served,
        served_guardrail_results,
    )

    if context.url:  # a served copy (dlqa deploy smoke URL --bundle): ask the server itself
        from dlqa.deploy.guardrail_cases import candidate_inputs

        served = http_served(context.url, token=context.token)
        candidates = list(candidate_inputs(context.predictor))
        for path in context.files[:MAX_GUARDRAIL_FILES]:  # real inputs trigger real rules
            try:
                candidates.append(context.predictor.preprocess_file(path))
            except InputError:
                continue
        return served_guardrail_results(
            context.predictor, served, candidates, declared=context.declared_guardrails
        )
    return guardrail_results(context.predictor, declared=context.declared_guardrails)


@register_check(
    "deploy.smoke",
    title="Smoke test of a served bundle",
    description=(
        "The bundle's golden inputs sent to a served copy (dlqa serve) over HTTP: the served "
        "manifest is the bundle's, and every answer matches its sealed output within the "
        "manifest's tolerance; an unreachable server fails."
    ),
    needs=("server",),
)
def check_smoke(context: DeployContext, params: dict[str, Any]) -> CheckResult:
    from dlqa.deploy.smoke_test import smoke_result

    return smoke_result(context.url, context.folder, token=context.token)


__all__ = ["CHECK_ORDER", "INPUT_HINTS"]
