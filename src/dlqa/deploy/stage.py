"""The deployment stage: ``[deploy]`` names the bundle, how to export it, and what to compare
it with; `dlqa deploy check` and `dlqa check` run the ``deploy.*`` checks on it.

    [deploy]
    bundle = "models/bundle"              # where the bundle is written and read
    export = true                         # export it from the model first
    preprocessing = { resize = [32, 32], interpolation = "bilinear", color_mode = "L" }
    transform = "train_pkg.data:serving_side_transform"   # default: [eval] transform
    files = "eval/test"                   # raw files to compare on; default: [eval] test

``model``, ``weights``, ``class_names`` and the guardrails default to ``[eval]``'s; ``wrap``
names a function applied to the loaded model to give the module to export (layers that
travel inside the bundle, such as a feature front end). Registered through the
``dlqa.stages`` entry point ``deploy``; importing it does not import torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from dlqa.core.errors import UsageError
from dlqa.core.stages import StageRun, StageSpec, register_stage
from dlqa.deploy.checks import CHECK_ORDER, INPUT_HINTS
from dlqa.deploy.context import DeployContext, file_ids


class DeployConfig(BaseModel):
    """``[deploy]``."""

    model_config = ConfigDict(extra="forbid")

    bundle: str | None = Field(None, description="the bundle folder (written by export)")
    export: bool = Field(True, description="export the bundle from the model before checking")
    model: str | None = Field(None, description="() -> nn.Module; default: [eval] model")
    weights: str | None = Field(None, description="state_dict file; default: [eval] weights")
    wrap: str | None = Field(
        None, description="module:function applied to the loaded model: the module to export"
    )
    transform: str | None = Field(
        None, description="the training-side transform (decoded input -> model input)"
    )
    preprocessing: dict[str, Any] = Field(
        default_factory=dict, description="the serving preprocessing spec of the bundle"
    )
    class_names: list[str] | None = Field(
        None, description="the model's classes in output order; default: [eval] class_names"
    )
    modality: Literal["image", "audio", "text"] = "image"
    outputs: Literal["logits", "probs"] = "logits"
    files: str | None = Field(None, description="raw labelled files; default: [eval] test")
    golden: str | None = Field(None, description="golden inputs sealed in the bundle")
    max_files: int = Field(512, ge=1, description="files compared at most (the first, sorted)")
    example_batch: int = Field(8, ge=1, description="the export's batch size")
    opset: int = Field(17, ge=11, le=23)
    tokenizer: str | None = Field(None, description="text models: a tokenizers JSON file")
    training_run: str | None = Field(None, description="the training run's id, for provenance")
    python_path: list[str] = Field(default_factory=lambda: ["."])


def _eval_section(run: StageRun) -> Any:
    return run.config.section("eval")


def _setting(run: StageRun, name: str) -> Any:
    """``[deploy] name``, else ``[eval] name``."""
    own = getattr(run.section, name, None)
    if own:
        return own
    section = _eval_section(run)
    return getattr(section, name, None) if section is not None else None


def _labelled_files(run: StageRun, path: Path, limit: int) -> tuple[list[Path], list[str], list]:
    from dlqa.sources import open_source

    source = open_source(path, modality=run.section.modality)
    samples = [s for s in source if s.path][:limit]
    files = [Path(str(s.path)) for s in samples]
    return files, [s.sample_id for s in samples], [s.label for s in samples]


def build_deploy_context(run: StageRun) -> DeployContext:
    """The bundle (exported first when ``[deploy] export``), the model, the transform and the
    files; with a ``url`` input (``dlqa deploy smoke``), only the bundle and the server."""
    section: DeployConfig = run.section
    given = run.inputs.get("bundle")
    folder = (
        Path(given) if given else (run.config.resolve(section.bundle) if section.bundle else None)
    )
    url = run.inputs.get("url")
    if url is not None:  # a smoke test compares with the bundle given, else the server's own
        files_path = section.files or getattr(_eval_section(run), "test", None)
        files = []
        if given and files_path:  # inputs that may trigger the guardrails on the server
            files, _, _ = _labelled_files(run, run.config.resolve(files_path), section.max_files)
        context = DeployContext.open(
            given, url=url, token=run.inputs.get("token"), files=files,
            declared_guardrails=getattr(_eval_section(run), "guardrails", None),
        )  # fmt: skip
        _record(run, context, 0)
        return context
    if folder is None:
        raise UsageError("no bundle to check", hint='set [deploy] bundle = "path"')
    base = run.config.base_dir
    search = [base / p for p in section.python_path]
    model = _model(run, search)
    transform = None
    if _setting(run, "transform"):
        from dlqa.train.setup import load_object

        transform = load_object(_setting(run, "transform"), search_path=search, key="transform",
                                section="deploy")  # fmt: skip
    files, ids, labels = [], [], []
    files_path = section.files or getattr(_eval_section(run), "test", None)
    if files_path:
        files, ids, labels = _labelled_files(run, run.config.resolve(files_path), section.max_files)
    if section.export and not run.inputs.get("no_export"):
        if model is None:
            raise UsageError(
                "[deploy] export = true needs a model", hint="set [deploy] or [eval] model"
            )
        export_bundle(run, folder, model, files)
    context = DeployContext.open(
        folder, model=model, transform=transform, files=files, sample_ids=ids,
        declared_guardrails=getattr(_eval_section(run), "guardrails", None),
    )  # fmt: skip
    names = (context.manifest or {}).get("class_names") or []
    if labels and all(label in names for label in labels):
        context.labels = np.asarray([names.index(label) for label in labels], dtype=np.int64)
    _record(run, context, len(files))
    return context


def _model(run: StageRun, search: list[Path]) -> Any:
    """The eager module: ``model`` with its ``weights``, passed through ``wrap``."""
    model_path = _setting(run, "model")
    if not model_path:
        return None
    from dlqa.evaluate.model_run import load_module
    from dlqa.train.setup import load_object

    model = load_module(model_path, _setting(run, "weights"), search, run.config.base_dir, "deploy")
    if run.section.wrap:
        wrap = load_object(run.section.wrap, search_path=search, key="wrap", section="deploy")
        model = wrap(model).eval()
    return model


def _record(run: StageRun, context: DeployContext, n_files: int) -> None:
    """What the report and the model card need: which bundle, by its fingerprints."""
    manifest = context.manifest or {}
    fingerprints = manifest.get("fingerprints") or {}
    run.report_parts["deploy"] = {
        "bundle": None if context.folder is None else str(context.folder),
        "fingerprint": fingerprints.get("manifest"), "weights": fingerprints.get("weights"),
        "training_run": fingerprints.get("training_run"), "refused": context.bundle_error,
        "files": n_files, "url": context.url,
    }  # fmt: skip


def export_bundle(run: StageRun, folder: Path, model: Any, files: list[Path]) -> Path:
    """Export ``model`` as the ``[deploy]`` section describes."""
    import torch

    from dlqa.deploy.exporter import export
    from dlqa.deploy.spec import read_preprocessing

    section: DeployConfig = run.section
    spec = read_preprocessing(
        section.modality, section.preprocessing, where="[deploy] preprocessing"
    )
    names = _setting(run, "class_names")
    if not names:
        raise UsageError("[deploy] needs the model's class names", hint="set [eval] class_names")
    golden: list[Path] = []
    golden_path = section.golden or getattr(_eval_section(run), "golden", None)
    if golden_path:
        golden, _, _ = _labelled_files(run, run.config.resolve(golden_path), 64)
    example = _example_batch(spec, files, section.example_batch, torch)
    rails = getattr(_eval_section(run), "guardrails", None)
    tokenizer = run.config.resolve(section.tokenizer) if section.tokenizer else None
    return export(
        model, folder, example_input=example, preprocessing=spec, class_names=names,
        golden_inputs=golden, modality=section.modality, outputs=section.outputs,
        guardrails=rails, training_run=section.training_run, tokenizer=tokenizer,
        opset=section.opset,
    )  # fmt: skip


def _example_batch(spec: Any, files: list[Path], size: int, torch: Any) -> Any:
    """``size`` inputs through the serving spec (real files when there are, so the trace sees
    real values)."""
    from dlqa.deploy.inputs import decode_image
    from dlqa.deploy.spec import ImagePreprocessing

    if not isinstance(spec, ImagePreprocessing) or not files:
        raise UsageError("[deploy] export needs image files to trace the model with",
                         hint="set [deploy] files (or [eval] test)")  # fmt: skip
    rows = [spec.apply(decode_image(files[i % len(files)])) for i in range(size)]
    return torch.from_numpy(np.stack(rows))


STAGE = register_stage(
    StageSpec(
        name="deploy",
        title="Deployment",
        section=DeployConfig,
        build_context=build_deploy_context,
        is_configured=lambda section: bool(section.bundle),
        order=40,
        check_order=CHECK_ORDER,
        inputs_of=lambda context: context.inputs(),
        input_hints=INPUT_HINTS,
    )
)

__all__ = ["STAGE", "DeployConfig", "build_deploy_context", "export_bundle", "file_ids"]
