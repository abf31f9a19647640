"""Exporting a PyTorch model as a bundle: ``model.onnx`` plus ``dlqa-model.json``.

The export uses PyTorch's TorchScript-based ONNX exporter with a dynamic batch axis: it
traces one forward pass, names an unsupported operator in its error ("aten::..."), and
needs no ``torch.export``-clean model code. (The ``torch.export``-based exporter is stricter
about data-dependent control flow; a bundle does not need it.) The golden outputs are
computed through the bundle's own predictor (manifest preprocessing + ONNX Runtime), so that
a served copy is compared with what this export answers.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.deploy.manifest import (
    FORMAT,
    MANIFEST_NAME,
    MODEL_NAME,
    read_manifest,
    write_manifest,
)
from dlqa.deploy.spec import (
    Preprocessing,
    TextPreprocessing,
    modality_of,
    read_preprocessing,
)
from dlqa.evaluate.guardrails import Guardrails

DEFAULT_OPSET = 17
# Golden outputs are probabilities computed by this same ONNX Runtime build; a served copy of
# the bundle on the same runtime reproduces them to ~1e-7, another CPU or thread count to
# ~1e-6. 1e-4 leaves room for that and still catches a changed model or preprocessing.
GOLDEN_ATOL = 1e-4
_UNSUPPORTED = re.compile(r"operator '([^']+)'")


def weights_fingerprint(model: Any) -> str:
    """sha256 over the state_dict's names, shapes, dtypes and values, in name order."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tuple(value.shape)}|{value.dtype}|".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def _export_onnx(model: Any, example: Any, path: Path, opset: int) -> None:
    import torch

    quiet = io.StringIO()
    try:
        with warnings.catch_warnings(), redirect_stdout(quiet), redirect_stderr(quiet):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, (example,), str(path), input_names=["input"], output_names=["output"],
                dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                opset_version=opset, dynamo=False,
            )  # fmt: skip
    except Exception as exc:  # the exporter raises many types; all are the model's
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        found = _UNSUPPORTED.search(str(exc))
        if found:
            raise UsageError(
                f"the model does not export to ONNX: operator {found.group(1)!r} is not "
                f"supported at opset {opset} ({message})",
                hint="replace that operation, or try a newer opset (--opset)",
            ) from None
        raise UsageError(
            f"the model does not export to ONNX: {type(exc).__name__}: {message}"
        ) from None


def _example_tensor(example_input: Any) -> Any:
    import torch

    tensor = example_input if isinstance(example_input, torch.Tensor) else None
    if tensor is None:
        try:
            tensor = torch.as_tensor(np.asarray(example_input))
        except Exception:
            raise UsageError(
                f"example_input must be a tensor or array, got {type(example_input).__name__}"
            ) from None
    if tensor.ndim < 1 or len(tensor) < 1:
        raise UsageError(f"example_input must be a batch (n, ...), got shape {tuple(tensor.shape)}")
    return tensor


def _copy_golden(files: Sequence[Path | str], folder: Path) -> list[dict[str, Any]]:
    target = folder / "golden"
    items = []
    for index, name in enumerate(files):
        source = Path(name).expanduser()
        if not source.is_file():
            raise UsageError(f"golden input {source} does not exist")
        target.mkdir(exist_ok=True)
        copied = target / f"{index:03d}-{source.name}"
        shutil.copyfile(source, copied)
        items.append({"id": source.stem, "source": str(source), "file": f"golden/{copied.name}"})
    return items


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import torch

    from dlqa._version import __version__

    return {"dlqa": __version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}  # fmt: skip


def export(
    model: Any,
    folder: Path | str,
    *,
    example_input: Any,
    preprocessing: Preprocessing | Mapping[str, Any],
    class_names: Sequence[str],
    golden_inputs: Sequence[Path | str] = (),
    modality: str | None = None,
    outputs: str = "logits",
    guardrails: Guardrails | Mapping[str, Any] | None = None,
    training_run: str | None = None,
    tokenizer: Path | str | None = None,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Write the bundle of ``model`` to ``folder`` and return the folder.

    ``example_input`` is one batch of model inputs (its batch size is recorded: the parity
    matrix runs at it, the batch sweep at others). ``preprocessing`` is the serving spec (a
    spec object or a mapping with the keys of its modality). ``golden_inputs`` are raw files
    whose outputs the bundle seals. An existing bundle at ``folder`` is replaced; any other
    non-empty folder is refused.
    """
    import torch

    folder = Path(folder).expanduser()
    if isinstance(preprocessing, Mapping):
        spec = read_preprocessing(modality or "image", dict(preprocessing))
    else:
        spec = preprocessing
    modality = modality or modality_of(spec)
    if outputs not in ("logits", "probs"):
        raise UsageError(f'outputs must be "logits" or "probs", got {outputs!r}')
    names = [str(n) for n in class_names]
    if len(set(names)) != len(names) or not names:
        raise UsageError("class_names must be unique and not empty")
    rails = (
        Guardrails.model_validate(dict(guardrails))
        if isinstance(guardrails, Mapping)
        else guardrails
    )
    if rails is not None:
        unknown = sorted({c for rule in rails.forbidden for c in rule.classes} - set(names))
        if unknown:
            raise UsageError(f"guardrails forbid unknown class(es) {unknown}; classes: {names}")
    if folder.exists() and any(folder.iterdir()) and not (folder / MANIFEST_NAME).is_file():
        raise UsageError(f"{folder} is not empty and not a bundle: refusing to overwrite it")
    example = _example_tensor(example_input)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            reference = model(example)
    except Exception as exc:
        raise UsageError(f"the model's forward pass failed on example_input: {exc}") from None
    finally:
        model.train(was_training)
    if reference.ndim != 2 or reference.shape[1] != len(names):
        raise UsageError(
            f"the model outputs shape {tuple(reference.shape)} for a batch of {len(example)}; "
            f"a bundle needs (batch, {len(names)}) scores, one per class name"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".dlqa-bundle-", dir=folder.parent))
    try:
        model.eval()
        _export_onnx(model, example, staging / MODEL_NAME, opset)
        model.train(was_training)
        batch_free = _runs_at_any_batch(staging / MODEL_NAME, example)
        if tokenizer is not None:
            if not isinstance(spec, TextPreprocessing):
                raise UsageError("a tokenizer goes with a text model's preprocessing")
            shutil.copyfile(Path(tokenizer).expanduser(), staging / spec.tokenizer)
        golden = _copy_golden(golden_inputs, staging)
        dtype = "int64" if example.dtype == torch.int64 else "float32"
        manifest = {
            "format": FORMAT,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "modality": modality,
            "model": {"file": MODEL_NAME, "opset": opset,
                      "exporter": "torch.onnx (TorchScript)", "versions": _versions()},
            "input": {"name": "input", "dtype": dtype, "shape": ["batch", *example.shape[1:]],
                      "dynamic_axes": {"0": "batch"}, "example_batch": int(example.shape[0]),
                      "batch_free": batch_free},
            "output": {"name": "output", "kind": outputs, "classes": len(names)},
            "preprocessing": spec.to_dict(),
            "class_names": names,
            "guardrails": None if rails is None else rails.model_dump(mode="json"),
            "fingerprints": {"weights": weights_fingerprint(model), "training_run": training_run},
        }  # fmt: skip
        write_manifest(manifest, staging)
        if golden:
            _seal_golden(staging, manifest, golden)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def _runs_at_any_batch(path: Path, example: Any) -> bool:
    """Whether the exported graph gives the export batch's answers at batch size 1 too
    (False when the trace baked the batch size into the graph: the predictor then runs it
    only at the export's batch size, and ``deploy.batch_sweep`` reports it)."""
    from dlqa.deploy.predictor import onnx_session

    batch = example.detach().cpu().numpy()
    try:
        session = onnx_session(path, threads=1)
        name = session.get_inputs()[0].name
        full = session.run(None, {name: batch})[0]
        single = session.run(None, {name: batch[:1]})[0]
    except Exception:  # onnxruntime's shape errors have several types
        return False
    return single.shape == full[:1].shape and bool(
        np.allclose(single, full[:1], atol=1e-4, rtol=1e-3)
    )


def _seal_golden(folder: Path, manifest: dict[str, Any], golden: list[dict[str, Any]]) -> None:
    """Run the golden inputs through the bundle as exported and seal their outputs."""
    from dlqa.deploy.predictor import load

    predictor = load(folder)
    probs = predictor.predict_files([folder / item["file"] for item in golden])
    for item, row in zip(golden, probs, strict=True):
        item["probs"] = [float(v) for v in row]
        item["label"] = predictor.class_names[int(np.argmax(row))]
    manifest = dict(read_manifest(folder))
    manifest["golden"] = {"pairs": golden, "atol": GOLDEN_ATOL}
    write_manifest(manifest, folder)


__all__ = ["DEFAULT_OPSET", "GOLDEN_ATOL", "export", "weights_fingerprint"]
