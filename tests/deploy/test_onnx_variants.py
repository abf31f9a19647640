"""The ONNX variants of a real export: the fp16 graph (float32 at its boundary, valid,
runnable on CPU), its CPU emulation (rounds activations, so an overflow shows), the int8
quantisation, and the target list.

The small models are in onnx_models.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from dlqa.deploy import onnx_variants  # noqa: E402
from dlqa.deploy.onnx_variants import (  # noqa: E402
    TARGETS,
    available_targets,
    float16_model,
    float16_rounded_model,
    int8_model,
    model_input,
    runner,
    session,
    target_session,
    variant_path,
)
from tests.deploy.onnx_models import OverflowCnn, eager, export, if_model, images  # noqa: E402


@pytest.fixture(scope="module")
def overflow(tmp_path_factory) -> tuple[OverflowCnn, Path]:
    torch.manual_seed(0)
    model = OverflowCnn().eval()
    return model, export(model, tmp_path_factory.mktemp("overflow") / "model.onnx")


def run(model: onnx.ModelProto | Path, x: np.ndarray) -> np.ndarray:
    source = model if isinstance(model, Path) else model.SerializeToString()
    return runner(session(source, ["CPUExecutionProvider"], threads=1))(x)


def test_float16_model_keeps_float32_io_and_stores_weights_in_fp16(small):
    model, path = small
    half = float16_model(onnx.load(str(path)))
    onnx.checker.check_model(half, full_check=True)
    graph = half.graph
    assert [v.type.tensor_type.elem_type for v in [*graph.input, *graph.output]] == [1, 1]
    assert {t.data_type for t in graph.initializer} == {onnx.TensorProto.FLOAT16}
    assert graph.node[0].op_type == "Cast" and graph.node[-1].op_type == "Cast"
    x, _ = images(16)
    out, expected = run(half, x), eager(model)(x)
    assert out.dtype == np.float32 and out.shape == (16, 10)
    diff = np.abs(out - expected).max()
    assert 1e-6 < diff < 0.05  # fp16 weights move the logits a little, not a lot


def test_float16_model_keeps_resize_in_float32_and_rewrites_casts_and_constants(tmp_path):
    class Mixed(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            up = torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
            pooled = torch.nn.functional.max_pool2d(up, 4).flatten(1)[:, :10]
            return pooled.double().float() * 0.5 + torch.arange(10, dtype=torch.float32)

    path = export(Mixed(), tmp_path / "mixed.onnx")
    half = float16_model(onnx.load(str(path)))
    ops = [n.op_type for n in half.graph.node]
    resize = ops.index("Resize")
    assert ops[resize - 1] == "Cast" and ops[resize + 1] == "Cast"  # a float32 island
    to_float = [a.i for n in half.graph.node if n.op_type == "Cast" for a in n.attribute]
    assert onnx.TensorProto.FLOAT16 in to_float
    x, _ = images(4)
    np.testing.assert_allclose(run(half, x), run(path, x), atol=0.02)


def test_rounded_model_shows_the_fp16_overflow_that_fp32_hides(overflow):
    model, path = overflow
    x, _ = images(32)
    fp32 = run(path, x)
    assert np.isfinite(fp32).all() and np.abs(fp32).max() < 10
    rounded = float16_rounded_model(onnx.load(str(path)))
    assert {t.data_type for t in rounded.graph.initializer} == {onnx.TensorProto.FLOAT}
    out = run(rounded, x)
    with torch.no_grad():
        lifted = model.up(model.features(torch.from_numpy(x)).flatten(1)).numpy()
    overflowing = lifted.max(axis=1) >= 65520  # fp16 rounds up to inf from here
    assert 0 < overflowing.sum() < 32
    assert out.dtype == np.float32
    np.testing.assert_array_equal(~np.isfinite(out).all(axis=1), overflowing)


def test_rounded_model_rounds_like_fp16_on_a_normal_model(small):
    _, path = small
    x, _ = images(16)
    out, fp32 = run(float16_rounded_model(onnx.load(str(path))), x), run(path, x)
    scale = np.abs(fp32).max(axis=1, keepdims=True)
    relative = (np.abs(out - fp32) / scale).max()
    assert 1e-5 < relative < 5e-3  # fp16's precision (1e-3), not fp32's, not garbage


def test_the_fp16_forms_refuse_control_flow():
    with pytest.raises(ValueError, match="float16_model does not convert control flow .If"):
        float16_model(if_model())
    with pytest.raises(ValueError, match="float16_rounded_model does not convert control"):
        float16_rounded_model(if_model())


def test_int8_model_quantises_conv_and_gemm_and_runs_on_cpu(small, tmp_path):
    model, path = small
    out = int8_model(path, tmp_path / "int8.onnx")
    quantised = onnx.load(str(out)).graph
    assert {"ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"} <= {
        n.op_type for n in quantised.node
    }
    weights = {t.data_type for t in quantised.initializer}
    assert onnx.TensorProto.INT8 in weights or onnx.TensorProto.UINT8 in weights
    x, _ = images(64, seed=3)
    logits, expected = run(out, x), eager(model)(x)
    assert 1e-4 < np.abs(logits - expected).max() < 1.0  # quantised: moved, not broken
    assert (logits.argmax(1) == expected.argmax(1)).mean() >= 0.95


def test_variants_are_cached_by_content(small, tmp_path):
    _, path = small
    assert variant_path(path, "fp32", tmp_path) == path
    first = variant_path(path, "fp16_rounded", tmp_path)
    stamp = first.stat().st_mtime_ns
    assert variant_path(path, "fp16_rounded", tmp_path) == first
    assert first.stat().st_mtime_ns == stamp and first.parent == tmp_path
    with pytest.raises(ValueError, match="unknown variant 'bf16'"):
        variant_path(path, "bf16", tmp_path)


def test_target_sessions_and_the_available_targets(small, tmp_path, monkeypatch):
    _, path = small
    assert available_targets() == ["onnx_fp32", "onnx_fp16", "onnx_int8"]
    sess = target_session("onnx_int8", path, work_dir=tmp_path, threads=1)
    assert sess.get_providers() == ["CPUExecutionProvider"]
    assert sess.get_session_options().log_severity_level == 3
    assert model_input(path)[:2] == ("input", ["batch", 1, 16, 16])
    with pytest.raises(ValueError, match=r"unknown target\(s\) \['tpu_fp8'\].*onnx_fp32"):
        target_session("tpu_fp8", path)
    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(onnx_variants.ort, "get_available_providers", lambda: gpu)
    assert available_targets() == list(TARGETS)
    monkeypatch.setattr(onnx_variants.ort, "get_available_providers", lambda: gpu[1:])
    assert "tensorrt_fp16" not in available_targets() and "cuda_fp16" in available_targets()
