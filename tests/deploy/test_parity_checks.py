"""The parity matrix and the batch sweep on real exports: a normal model passes every CPU
target, a planted fp16 overflow fails fp16 alone, a batch size baked into a reshape passes
parity but fails the sweep naming the batch size, and misuse raises a ValueError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from dlqa.core.results import Status  # noqa: E402
from dlqa.deploy.parity_checks import (  # noqa: E402
    DEFAULT_TOLERANCES,
    Tolerance,
    batch_sweep_result,
    parity_results,
)
from tests.deploy.onnx_models import (  # noqa: E402
    EXPORT_BATCH,
    OverflowCnn,
    SmallCnn,
    eager,
    export,
    if_model,
    images,
)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("variants")


def by_target(results) -> dict:
    return {r.subject: r for r in results}


def test_a_normal_model_passes_fp32_fp16_and_int8(small, work):
    model, path = small
    x, y = images(256, seed=5)  # 256: enough for int8's Wilson bound to clear 0.98
    results = by_target(parity_results(
        eager(model), path, x, labels=y, batch_size=EXPORT_BATCH, work_dir=work, threads=1,
    ))  # fmt: skip
    assert list(results) == ["onnx_fp32", "onnx_fp16", "onnx_int8"]
    assert all(r.check_id == "deploy.parity" and r.n == 256 for r in results.values())
    assert {t: r.status for t, r in results.items()} == dict.fromkeys(results, Status.PASS)
    fp32, fp16, int8 = results.values()
    assert 0 < fp32.details["max_abs_diff"] < 1e-4 and fp32.details["max_rel_diff"] < 1e-5
    assert 1e-4 < fp16.details["max_abs_diff"] < 0.1  # fp16 rounding shows, within bounds
    assert int8.details["max_abs_diff"] > 1e-3  # int8 moves logits further: not judged so
    assert int8.details["tolerance"]["atol"] is None and int8.threshold == 0.98
    assert int8.value == 1.0 and int8.interval.low > 0.98 and int8.details["top1_agree"] == 256
    assert int8.details["metric"]["reference"] > 0.9
    assert abs(int8.details["metric"]["delta"]) <= 0.01
    assert "CPU provider" in fp16.details["note"] and "note" not in fp32.details
    assert fp32.details["providers"] == ["CPUExecutionProvider"]
    assert all(not r.evidence for r in results.values())
    assert "256/256" in int8.summary and "min 0.98: clears" in int8.summary


def test_int8_on_few_inputs_is_inconclusive_and_says_how_many_would_decide(small, work):
    model, path = small
    x, _ = images(48, seed=6)
    (int8,) = parity_results(
        eager(model), path, x, targets=["onnx_int8"], batch_size=EXPORT_BATCH, work_dir=work,
        threads=1,
    )  # fmt: skip
    assert int8.status is Status.INCONCLUSIVE and int8.interval.low < 0.98
    assert int8.details["n_to_decide"] > 48 and "too few inputs" in int8.summary


def test_a_planted_overflow_fails_fp16_and_names_the_inputs(tmp_path, work):
    torch.manual_seed(0)
    model = OverflowCnn().eval()
    path = export(model, tmp_path / "model.onnx")
    x, _ = images(64, seed=7)
    x[:40] *= 0.1  # faint inputs keep the lifted activations under 65504
    ids = [f"img{i:02d}" for i in range(64)]
    labels = eager(model)(x).argmax(axis=1)
    results = by_target(parity_results(
        eager(model), path, x, labels=labels, sample_ids=ids, targets=["onnx_fp32", "onnx_fp16"],
        batch_size=EXPORT_BATCH, work_dir=work, threads=1,
    ))  # fmt: skip
    fp32, fp16 = results["onnx_fp32"], results["onnx_fp16"]
    assert fp32.status is Status.PASS and fp32.details["non_finite_outputs"] == 0
    assert fp16.status is Status.FAIL
    bad = fp16.details["non_finite_outputs"]
    assert 0 < bad <= 24 and fp16.details["inf_values"] + fp16.details["nan_values"] > 0
    assert f"{bad} of 64 outputs hold" in fp16.summary and "an fp16 overflow" in fp16.summary
    (evidence,) = fp16.evidence
    assert evidence.kind == "inputs" and evidence.total >= bad and len(evidence.items) <= 20
    first = evidence.items[0]
    assert first["non_finite"] and first["target_top1"] == -1 and first["max_abs_diff"] is None
    assert int(first["id"][3:]) >= 40  # one of the large inputs
    agree = fp16.details["top1_agree"]
    assert agree <= 64 - bad and fp16.value == agree / 64
    assert fp16.details["metric"]["delta"] == pytest.approx(agree / 64 - 1.0)
    assert fp32.details["metric"] == {"name": "accuracy", "reference": 1.0, "target": 1.0,
                                      "delta": 0.0}  # fmt: skip


def test_a_baked_batch_size_passes_parity_and_fails_the_sweep(tmp_path, work):
    torch.manual_seed(0)
    model = SmallCnn(baked=True).eval()
    path = export(model, tmp_path / "model.onnx")
    x, _ = images(20, seed=8)  # 20 = 8 + 8 + 4: the last chunk is padded to 8
    (fp32,) = parity_results(
        eager(model), path, x, targets=["onnx_fp32"], batch_size=EXPORT_BATCH, threads=1,
        work_dir=work,
    )  # fmt: skip
    assert fp32.status is Status.PASS and fp32.n == 20
    sweep = batch_sweep_result(eager(model), path, x, batch_size=EXPORT_BATCH, threads=1)
    assert sweep.check_id == "deploy.batch_sweep" and sweep.status is Status.FAIL
    assert sweep.details["failed"] == ["batch size 1", "batch size 2", "batch size 32"]
    assert sweep.summary.startswith("the ONNX model fails at batch size 1: ")
    assert "baked batch size 8 into the graph" in sweep.summary
    assert "Reshape" in sweep.details["likely_cause"]
    rows = sweep.details["per_batch"]
    assert [r["batch_size"] for r in rows] == [1, 2, 32] and not any(r["ok"] for r in rows)
    assert all(r["error"] for r in rows) and sweep.value == 3.0


def test_the_sweep_passes_a_dynamic_model_and_reports_each_size(small):
    model, path = small
    x, _ = images(20, seed=9)
    sweep = batch_sweep_result(
        eager(model), path, x, batch_sizes=(1, 3, 32), batch_size=EXPORT_BATCH, threads=1
    )
    assert sweep.status is Status.PASS and sweep.value == 0.0
    rows = sweep.details["per_batch"]
    assert [r["batch_size"] for r in rows] == [1, 3, 32]
    assert all(r["ok"] and 0 <= r["max_abs_diff"] < 1e-4 for r in rows)
    assert sweep.details["likely_cause"] is None and "batch size 32" in sweep.summary


def test_the_sweep_covers_a_named_sequence_dimension(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv1d(2, 4, 3, padding=1), torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten()
    ).eval()
    path = export(
        model, tmp_path / "seq.onnx", example=torch.zeros(4, 2, 12),
        input_axes={0: "batch", 2: "seq"},
    )  # fmt: skip
    x = np.random.default_rng(0).standard_normal((6, 2, 12)).astype(np.float32)
    sweep = batch_sweep_result(
        eager(model), path, x, batch_sizes=(1,), batch_size=4, extra_shapes={"seq": [5, 30]},
        threads=1,
    )  # fmt: skip
    assert sweep.status is Status.PASS
    assert [r.get("seq") for r in sweep.details["per_batch"]] == [None, 5, 30]
    assert "seq 30" in sweep.summary
    with pytest.raises(ValueError, match="no dimension named \\['time'\\]"):
        batch_sweep_result(eager(model), path, x, batch_size=4, extra_shapes={"time": [3]})


def test_tolerances_override_the_defaults(small, work):
    model, path = small
    x, _ = images(40, seed=10)
    labels = eager(model)(x).argmax(axis=1)
    strict = {"onnx_fp32": Tolerance(atol=0.0, rtol=0.0), "onnx_fp16": {"max_metric_drop": 0.0}}
    results = by_target(parity_results(
        eager(model), path, x, labels=labels, targets=["onnx_fp32", "onnx_fp16"],
        tolerances=strict, batch_size=EXPORT_BATCH, work_dir=work, threads=1,
    ))  # fmt: skip
    fp32 = results["onnx_fp32"]
    assert fp32.status is Status.FAIL and fp32.details["inputs_beyond_tolerance"] > 0
    assert fp32.evidence[0].total == fp32.details["inputs_beyond_tolerance"]
    assert len(fp32.evidence[0].items) == min(20, fp32.evidence[0].total)
    assert fp32.evidence[0].items[0]["max_abs_diff"] == fp32.details["max_abs_diff"]
    assert "beyond 0 + 0 x" in fp32.summary
    fp16 = results["onnx_fp16"]
    assert fp16.status is Status.PASS
    assert fp16.details["tolerance"] == {**DEFAULT_TOLERANCES["onnx_fp16"].to_dict(),
                                         "max_metric_drop": 0.0}  # fmt: skip
    assert fp16.details["metric"] == {
        "name": "accuracy", "reference": 1.0, "target": 1.0, "delta": 0.0,
    }  # fmt: skip


def test_a_target_that_cannot_run_is_a_failing_result(small, work):
    model, _ = small
    torch.manual_seed(0)
    baked = export(SmallCnn(baked=True).eval(), work / "baked.onnx")
    x, _ = images(3, seed=11)

    def any_batch(batch: np.ndarray) -> np.ndarray:  # a reference that runs at any size
        return eager(model)(batch)

    (result,) = parity_results(any_batch, baked, x, targets=["onnx_fp32"], threads=1)
    assert result.status is Status.FAIL and result.subject == "onnx_fp32"
    assert "onnxruntime could not run the model" in result.summary
    assert "Gemm node" in result.details["error"]


def test_misuse_raises_with_the_names(small):
    model, path = small
    x, _ = images(8)
    with pytest.raises(ValueError, match=r"unknown target\(s\) \['onnx_bf16'\].*cuda_fp16"):
        parity_results(eager(model), path, x, targets=["onnx_bf16"])
    wrong = np.zeros((8, 3, 16, 16), np.float32)
    with pytest.raises(ValueError, match=r"shape \(8, 3, 16, 16\).*takes \(batch, 1, 16, 16\)"):
        parity_results(eager(model), path, wrong, targets=["onnx_fp32"])
    with pytest.raises(ValueError, match="2 sample ids for 8 inputs"):
        parity_results(eager(model), path, x, sample_ids=["a", "b"])
    with pytest.raises(ValueError, match="reference .eager. model failed at batch size 3"):
        parity_results(lambda b: np.zeros((1, 10)), path, x, batch_size=3)


def test_a_target_that_cannot_be_converted_is_an_error_result(tmp_path, work):
    path = tmp_path / "if.onnx"
    onnx.save(if_model(), str(path))
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    results = by_target(parity_results(
        lambda batch: batch, path, x, targets=["onnx_fp32", "onnx_fp16"], work_dir=work,
        threads=1,
    ))  # fmt: skip
    assert results["onnx_fp32"].status is Status.PASS
    assert results["onnx_fp32"].details["max_abs_diff"] == 0.0
    fp16 = results["onnx_fp16"]
    assert fp16.status is Status.ERROR and "could not be made" in fp16.summary
    assert "does not convert control flow (If node)" in fp16.details["error"]


def test_tolerance_typos_raise(small):
    model, path = small
    x, _ = images(8)
    with pytest.raises(ValueError, match=r"unknown target\(s\) \['onnx_fp61'\]"):
        parity_results(eager(model), path, x, tolerances={"onnx_fp61": {"atol": 1.0}})
    with pytest.raises(ValueError, match=r"unknown tolerance field\(s\) \['atl'\]"):
        parity_results(eager(model), path, x, tolerances={"onnx_fp32": {"atl": 1.0}})
