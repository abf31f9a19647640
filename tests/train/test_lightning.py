"""The monitor's Lightning callback under a real `pytorch_lightning.Trainer` (CPU, a few steps)."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("pytorch_lightning")
nn = torch.nn

import dlqa  # noqa: E402
from dlqa.core.results import Status  # noqa: E402
from dlqa.store import open_store  # noqa: E402
from dlqa.train.lightning import MonitorCallback  # noqa: E402
from tests.train.buggy_models import LogOfShifted  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
NAN_STEP = 7
STEPS = 12


class Classifier(pl.LightningModule):
    """A small classifier whose log layer turns NaN at optimizer step ``nan_at``."""

    def __init__(self, nan_at: int | None = NAN_STEP, fail_at: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.hidden = nn.Linear(6, 8)
        self.log_layer = LogOfShifted()
        self.head = nn.Linear(8, 3)
        self.nan_at, self.fail_at = nan_at, fail_at

    def forward(self, x):
        return self.head(self.log_layer(torch.tanh(self.hidden(x))))

    def training_step(self, batch, batch_idx):
        if self.global_step == self.fail_at:
            raise RuntimeError("training_step broke")
        self.log_layer.shift = -5.0 if self.global_step == self.nan_at else 100.0
        inputs, targets = batch
        logits = self(inputs)  # through the module: the monitor can replay the forward pass
        return {"loss": nn.functional.cross_entropy(logits, targets), "logits": logits}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def loader():
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(16 * STEPS, 6, generator=generator)
    targets = torch.randint(0, 3, (16 * STEPS,), generator=generator)
    dataset = torch.utils.data.TensorDataset(inputs, targets)
    return torch.utils.data.DataLoader(dataset, batch_size=16)


def fit(model, callback, tmp_path):
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=STEPS,
        callbacks=[callback],
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and logging
        trainer.fit(model, loader())
    return trainer


def test_the_nan_step_is_named_and_the_run_is_stored(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    callback = dlqa.monitor_callback(
        predictions=lambda outputs, batch: (outputs["logits"], batch[1]),
        db=url,
        activation_every=0,
    )
    fit(Classifier(), callback, tmp_path)

    m = callback.monitor
    assert m.steps == STEPS
    nonfinite = [f for f in m.findings if f["kind"].startswith("nonfinite")]
    assert (nonfinite[0]["step"], nonfinite[0]["kind"]) == (NAN_STEP, "nonfinite_loss")
    culprit = next(f for f in nonfinite if f["kind"] == "nonfinite_activation")
    assert (culprit["step"], culprit["module"], culprit["source"]) == (
        NAN_STEP,
        "log_layer",
        "replay",
    )
    assert sum(matrix.sum() for matrix in m.confusion) == 16 * STEPS  # predictions= counted

    with open_store(url, project_dir=tmp_path) as store:
        run = store.get_run(m.run_id)
        results = {r.check_id: r for r in store.results_for_run(m.run_id)}
    assert run.kind == "train.monitor" and run.status == "finished"
    assert results["monitor.nonfinite"].status is Status.FAIL
    assert results["monitor.nonfinite"].details["first_step"] == NAN_STEP
    assert "`log_layer` (LogOfShifted)" in results["monitor.nonfinite"].summary
    assert run.report["meta"]["model"] == "Classifier"


def test_a_failing_training_step_leaves_a_failed_run_with_what_was_found(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    callback = dlqa.monitor_callback(db=url, activation_every=0)
    with pytest.raises(RuntimeError, match="training_step broke"):
        fit(Classifier(nan_at=2, fail_at=5), callback, tmp_path)
    with open_store(url, project_dir=tmp_path) as store:
        run = store.get_run(callback.monitor.run_id)
        results = {r.check_id: r for r in store.results_for_run(run.id)}
    assert run.status == "failed"
    assert results["monitor.nonfinite"].details["first_step"] == 2


def test_the_plain_callback_stores_nothing(tmp_path):
    callback = MonitorCallback(activation_every=0)
    fit(Classifier(nan_at=None), callback, tmp_path)
    assert callback.monitor.run_id is None
    results = {r.check_id: r.status for r in callback.results()}
    assert results["monitor.nonfinite"] is Status.PASS
    assert results["monitor.loss_spikes"] is Status.PASS


def test_mixed_precision_hands_the_grad_scaler_and_the_unscaled_loss_to_the_monitor(tmp_path):
    from pytorch_lightning.plugins.precision import MixedPrecision

    try:
        scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12, growth_interval=3)
        plugin = MixedPrecision("16-mixed", "cpu", scaler=scaler)
    except (AttributeError, TypeError, RuntimeError, ValueError) as exc:
        pytest.skip(f"no CPU GradScaler or float16 mixed precision here: {exc}")
    callback = MonitorCallback(activation_every=0)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=STEPS,
        callbacks=[callback],
        plugins=[plugin],
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(Classifier(nan_at=None), loader())
    m = callback.monitor
    assert m.amp.steps == STEPS and m.amp.scale_history[0] == (0, 4096.0)
    assert len(m.amp.scale_history) >= 3  # it doubled every 3 good steps
    assert max(m.losses) < 10  # the unscaled loss (cross-entropy over 3 classes), not x4096
    results = {r.check_id: r.status for r in callback.results()}
    assert results["monitor.nonfinite"] is Status.PASS  # skipped steps are no NaN findings
    assert results["monitor.grad_explosion"] is Status.PASS  # nor a growing scale an explosion
    assert results["monitor.amp_scaler"] is Status.PASS
