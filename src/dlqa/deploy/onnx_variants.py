"""The deployment targets of an exported ONNX model (fp32, fp16 and int8 variants on an
execution provider) and the onnxruntime sessions that run them.

Design choices:

* A target is a model variant on a provider. The CPU fp16 target runs
  ``float16_rounded_model`` (fp16 rounding and range, fp32 arithmetic) and the CUDA one
  ``float16_model`` (the fp16 graph): onnxruntime's CPU provider would run the fp16 graph
  with its activations unrounded, hiding overflows (see :mod:`dlqa.deploy.onnx_fp16`).
  TensorRT builds its own fp16 engine from the fp32 graph, as it is served.
* ``int8_model`` is onnxruntime's dynamic quantisation (int8 weights, activations
  quantised per batch at run time), the one that needs no calibration data. Signed int8
  weights are tried first (onnxruntime's recommended default); an older onnxruntime whose
  CPU provider lacks the int8 ``ConvInteger`` kernel gets unsigned weights instead.
* Converted models are cached on disk (``work_dir``, or a temporary folder removed at
  exit), named by the hash of the fp32 model and dlqa's version: each converts once.
* Sessions log errors only; runs whose errors a check catches and reports log nothing.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from dlqa._version import __version__
from dlqa.deploy.onnx_fp16 import float16_model, float16_rounded_model

__all__ = [
    "TARGETS", "Target", "available_targets", "float16_model", "float16_rounded_model",
    "int8_model", "model_input", "resolve_targets", "runner", "session", "target_session",
    "variant_path",
]  # fmt: skip
VARIANTS = ("fp32", "fp16", "fp16_rounded", "int8")


@dataclass(frozen=True)
class Target:
    """A deployment target: a variant of the model on execution providers (in order)."""

    name: str
    precision: str  # "fp32", "fp16" or "int8": what it is judged as
    variant: str  # the model file it runs: one of VARIANTS
    providers: tuple[str, ...]
    options: tuple[tuple[str, str], ...] = ()  # the first provider's options

    @property
    def needs(self) -> str:
        """The provider onnxruntime must offer for this target to exist on this machine."""
        return self.providers[0]


_CPU, _CUDA, _TRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"
TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("onnx_fp32", "fp32", "fp32", (_CPU,)),
        Target("onnx_fp16", "fp16", "fp16_rounded", (_CPU,)),
        Target("onnx_int8", "int8", "int8", (_CPU,)),
        Target("cuda_fp32", "fp32", "fp32", (_CUDA, _CPU)),
        Target("cuda_fp16", "fp16", "fp16", (_CUDA, _CPU)),
        Target(
            "tensorrt_fp16", "fp16", "fp32", (_TRT, _CUDA, _CPU), (("trt_fp16_enable", "True"),)
        ),
    )
}


def available_targets() -> list[str]:
    """The targets this machine's onnxruntime can run: the CPU ones always, the CUDA and
    TensorRT ones when their execution provider is installed."""
    providers = set(ort.get_available_providers())
    return [name for name, target in TARGETS.items() if target.needs in providers]


def resolve_targets(targets: list[str] | tuple[str, ...] | None) -> list[str]:
    """The named targets checked against :data:`TARGETS` (all available ones for None)."""
    if targets is None:
        return available_targets()
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise ValueError(f"unknown target(s) {unknown}; the known targets are {list(TARGETS)}")
    return list(targets)


# -- sessions -----------------------------------------------------------------------------


def session(
    model: Path | bytes,
    providers: list[str],
    *,
    threads: int | None = None,
    provider_options: list[dict[str, str]] | None = None,
) -> ort.InferenceSession:
    """An onnxruntime session on ``providers`` (in order of preference), quiet (errors
    only) and using ``threads`` intra-op threads (default: the machine's cores)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(
        source, options, providers=providers, provider_options=provider_options
    )


def target_session(
    target: str, model_path: Path, *, work_dir: Path | None = None, threads: int | None = None
) -> ort.InferenceSession:
    """The session that runs ``target`` for the fp32 model at ``model_path``, converting the
    model (cached in ``work_dir``, or a temporary folder) when the target needs it."""
    spec = TARGETS[resolve_targets([target])[0]]
    path = variant_path(Path(model_path), spec.variant, work_dir)
    options = [dict(spec.options)] + [{} for _ in spec.providers[1:]]
    return session(path, list(spec.providers), threads=threads, provider_options=options)


def runner(sess: ort.InferenceSession) -> Callable[[np.ndarray], np.ndarray]:
    """The session as a function of a batch to its first output, logging nothing: its
    errors are raised, for the caller to report."""
    name, quiet = sess.get_inputs()[0].name, ort.RunOptions()
    quiet.log_severity_level = 4
    return lambda batch: sess.run(None, {name: batch}, quiet)[0]


def variant_path(model_path: Path, variant: str, work_dir: Path | None = None) -> Path:
    """The model file of a variant: the fp32 export itself, or its cached conversion."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    if variant == "fp32":
        return model_path
    # The key holds dlqa's version too: a later converter does not reuse an older file.
    digest = hashlib.sha256(model_path.read_bytes() + __version__.encode()).hexdigest()[:16]
    folder = Path(work_dir) if work_dir is not None else _temp_dir()
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{model_path.stem}.{digest}.{variant}.onnx"
    if out.exists():
        return out
    if variant == "int8":
        return int8_model(model_path, out)
    convert = float16_model if variant == "fp16" else float16_rounded_model
    partial = out.with_suffix(".partial")
    onnx.save(convert(onnx.load(str(model_path))), str(partial))
    partial.replace(out)
    return out


_TEMP: list[Path] = []


def _temp_dir() -> Path:
    if not _TEMP:
        path = Path(tempfile.mkdtemp(prefix="dlqa-onnx-"))
        atexit.register(shutil.rmtree, path, True)
        _TEMP.append(path)
    return _TEMP[0]


def model_input(model_path: Path) -> tuple[str, list[int | str | None], np.dtype]:
    """The name, dimensions (an int when fixed, the dim_param name or None when free) and
    numpy dtype of the model's one input; a ValueError when it takes several."""
    graph = onnx.load(str(model_path), load_external_data=False).graph
    inits = {t.name for t in graph.initializer}
    inputs = [v for v in graph.input if v.name not in inits]
    if len(inputs) != 1:
        names = [v.name for v in inputs]
        raise ValueError(f"{Path(model_path).name} takes {len(inputs)} inputs {names}; one only")
    tensor = inputs[0].type.tensor_type
    dims = [
        d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim
    ]
    return inputs[0].name, dims, np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type))


# -- int8 ---------------------------------------------------------------------------------


def int8_model(path: Path, out: Path) -> Path:
    """The dynamically quantised (int8 weights) copy of the model at ``path``, at ``out``.

    Shape inference runs first (what ``quant_pre_process`` does without its optimisation
    pass, which would take a second of a CI run for nothing a small model needs) so that
    MatMul weights are recognised. Signed weights first, unsigned when this onnxruntime
    cannot run the signed ones on CPU.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path, out = Path(path), Path(out)
    with tempfile.TemporaryDirectory(prefix="dlqa-int8-") as scratch:
        inferred = Path(scratch) / "inferred.onnx"
        onnx.save(onnx.shape_inference.infer_shapes(onnx.load(str(path))), str(inferred))
        error: Exception | None = None
        for weight_type in (QuantType.QInt8, QuantType.QUInt8):
            candidate = Path(scratch) / f"{weight_type.name}.onnx"
            with _quiet_quantizer():
                quantize_dynamic(inferred, candidate, weight_type=weight_type)
            try:
                session(candidate, [_CPU], threads=1)
            except Exception as exc:  # NOT_IMPLEMENTED kernels: try the next weight type
                error = exc
                continue
            shutil.copyfile(candidate, out.with_suffix(".partial"))
            return out.with_suffix(".partial").replace(out)
    raise RuntimeError(f"no int8 variant of {path.name} runs on onnxruntime's CPU: {error}")


class _DropQuantizerAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ours = "onnxruntime" in record.pathname.replace("\\", "/")
        return record.levelno >= logging.ERROR or not ours


@contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """onnxruntime's quantiser gives advice on the root logger ("consider pre-processing");
    drop its records while it runs, and nobody else's."""
    root, dropper = logging.getLogger(), _DropQuantizerAdvice()
    root.addFilter(dropper)
    try:
        yield
    finally:
        root.removeFilter(dropper)
