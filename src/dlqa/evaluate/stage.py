"""The evaluation stage: ``[eval]`` names a model and its eval sets; `dlqa model eval` and
`dlqa check` run the model on them and the ``eval.*`` checks on its outputs.

Registered through the ``dlqa.stages`` entry point ``eval``. Importing this module does not
import torch; running a PyTorch model does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult
from dlqa.core.stages import StageRun, StageSpec, register_stage
from dlqa.evaluate.api import eval_context
from dlqa.evaluate.checks import CHECK_ORDER, INPUT_HINTS
from dlqa.evaluate.context import EvalContext
from dlqa.evaluate.eval_sets import (
    SET_NAMES,
    EvalSet,
    class_index,
    join_sets,
    previous_outcomes,
    read_eval_set,
    slice_columns,
)
from dlqa.evaluate.guardrails import Guardrails
from dlqa.evaluate.model_run import load_predictor, run_model


class EvalConfig(BaseModel):
    """``[eval]``: the model, its eval sets, the slices and the guardrails."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="() -> torch.nn.Module (module:attribute)")
    weights: str | None = Field(None, description="the model's state_dict (torch.save)")
    transform: str | None = Field(
        None, description="one decoded input (PIL image, text, audio path) -> one tensor"
    )
    predict: str | None = Field(
        None, description="(list of decoded inputs) -> (n, C) array, instead of model"
    )
    outputs: Literal["logits", "probs"] = Field(
        "logits", description='what the model returns: "logits" (softmax applied) or "probs"'
    )
    embedding_layer: str | None = Field(
        None, description="named module whose output is the embedding (forward hook)"
    )
    class_names: list[str] | None = Field(
        None, description="the model's classes in output order; default: the test labels sorted"
    )
    test: str | None = Field(None, description="the test set: a folder tree or a manifest")
    golden: str | None = Field(None, description="curated hard and edge cases")
    regression: str | None = Field(
        None, description="bad cases from user reports: a manifest with id, expected, note"
    )
    slices: list[str] = Field(
        default_factory=list,
        description='slice columns: manifest metadata ("meta.camera") or profile properties',
    )
    guardrails: Guardrails | None = None
    path_column: str = "path"
    label_column: str = "label"
    expected_column: str = Field("expected", description="the regression set's label column")
    note_column: str = Field("note", description="the regression set's note column")
    id_column: str | None = None
    text_column: str | None = None
    modality: Literal["image", "audio", "text"] | None = None
    batch_size: int = Field(64, ge=1)
    n_resamples: int = Field(1000, ge=100, le=100_000, description="bootstrap resamples")
    python_path: list[str] = Field(
        default_factory=lambda: ["."], description="folders added to sys.path for the imports"
    )

    @field_validator("model", "transform", "predict")
    @classmethod
    def _import_path(cls, value: str | None) -> str | None:
        if value is not None and (value.count(":") != 1 or not all(value.split(":"))):
            raise ValueError(f'expected "module:attribute", got {value!r}')
        return value


def _set_path(run: StageRun, name: str) -> Path | None:
    given = run.inputs.get(name)
    if given is not None:
        return Path(given).expanduser()
    configured = getattr(run.section, name)
    return None if configured is None else run.config.resolve(configured)


def build_eval_context(run: StageRun) -> EvalContext:
    """Run the model on every configured eval set and build what the checks read."""
    section: EvalConfig = run.section
    paths = {name: _set_path(run, name) for name in SET_NAMES}
    if paths["test"] is None:
        raise UsageError("no test set to evaluate on", hint='set [eval] test = "path"')
    # A predictor handed over by the runner (`dlqa model eval BUNDLE`: the bundle's own
    # inference path, which this stage must not import) takes the place of [eval]'s model.
    predictor = run.inputs.get("predictor") or load_predictor(section, run.config.base_dir)
    sets: list[EvalSet] = []
    for name in SET_NAMES:
        path = paths[name]
        if path is not None:
            sets.append(read_eval_set(run, name, path))
    test = sets[0]
    names = tuple(
        run.inputs.get("class_names")
        or section.class_names
        or sorted({str(s.label) for s in test.samples})
    )
    index = class_index(names, sets)  # labels the model does not know: before any inference
    outputs = {}
    for eval_set in sets:
        advance = run.progress(len(eval_set.samples), f"Predicting the {eval_set.name} set")
        outputs[eval_set.name] = run_model(
            predictor, eval_set.samples, eval_set.source.modality,
            batch_size=section.batch_size, advance=advance,
        )  # fmt: skip
    n_outputs = next(iter(outputs.values())).probs.shape[1]
    if n_outputs != len(names):
        raise UsageError(
            f"the model outputs {n_outputs} classes but there are {len(names)} class names",
            hint="set [eval] class_names to the model's classes, in output order",
        )
    joined, failures = join_sets(
        sets, {s.name: outputs[s.name].failures for s in sets}, index, section.note_column,
    )  # fmt: skip
    if not joined.sets.get("test"):
        raise UsageError(f"the model failed on every test sample (first: {failures[0]['reason']})")
    probs = np.concatenate([_kept(outputs[s.name].probs, outputs[s.name].failures) for s in sets])
    embeddings = _embeddings(sets, outputs)
    fingerprints = {s.name: s.fingerprint for s in sets}
    previous, previous_run = {}, None
    if "golden" in fingerprints:
        previous_run, outcomes = previous_outcomes(run, "golden", fingerprints["golden"])
        if outcomes is not None:
            previous["golden"] = outcomes
    run.report_parts.update(
        meta={
            "model": run.inputs.get("model_name") or section.predict or section.model,
            "weights": None if "predictor" in run.inputs else section.weights,
            "bundle": run.inputs.get("bundle_meta"),
            "classes": len(names), "modality": test.source.modality,
            "failed_inputs": len(failures),
        },
        eval={"sets": {s.name: {"source": s.source.root, "samples": len(s.samples),
                                "fingerprint": s.fingerprint, "snapshot_id": s.snapshot_id}
                       for s in sets}},
    )  # fmt: skip
    return eval_context(
        np.asarray(joined.labels, dtype=np.int64), probs, class_names=names,
        sample_ids=joined.ids, slices=slice_columns(section.slices, sets, joined) or None,
        embeddings=embeddings, sets={k: np.asarray(v, dtype=np.int64)
                                     for k, v in joined.sets.items()},
        guardrails=section.guardrails, n_resamples=section.n_resamples,
        previous=previous, previous_run=previous_run, notes=joined.notes, failures=failures,
        paths=joined.paths, fingerprints=fingerprints, modality=test.source.modality,
    )  # fmt: skip


def _kept(array: np.ndarray, failures: dict[int, str]) -> np.ndarray:
    keep = np.ones(len(array), dtype=bool)
    keep[list(failures)] = False
    return array[keep]


def _embeddings(sets: list[EvalSet], outputs: dict[str, Any]) -> np.ndarray | None:
    parts = [outputs[s.name].embeddings for s in sets]
    if any(p is None for p in parts):
        return None
    return np.concatenate(
        [_kept(p, outputs[s.name].failures) for p, s in zip(parts, sets, strict=True)]
    )


def store_eval_media(context: EvalContext, results: list[CheckResult], run: StageRun) -> None:
    """Thumbnails of the samples in the evidence, so that galleries show them."""
    from dlqa.data.stage import evidence_sample_ids, store_media_of_files

    wanted = evidence_sample_ids(results)
    files = {i: context.paths[i] for i in sorted(wanted) if i in context.paths}
    if files and context.modality:
        store_media_of_files(run, context.modality, files)


STAGE = register_stage(
    StageSpec(
        name="eval",
        title="Evaluation",
        section=EvalConfig,
        build_context=build_eval_context,
        after_checks=store_eval_media,
        is_configured=lambda section: bool(section.test),
        order=30,
        check_order=CHECK_ORDER,
        inputs_of=lambda context: context.inputs(),
        input_hints=INPUT_HINTS,
    )
)

__all__ = ["STAGE", "EvalConfig", "build_eval_context"]
