"""The training monitor as a Lightning ``Callback`` (needs ``lightning`` or ``pytorch_lightning``).

```python
import dlqa

callback = dlqa.monitor_callback(
    predictions=lambda outputs, batch: (outputs["logits"], batch[1])
)
trainer = lightning.Trainer(callbacks=[callback])
trainer.fit(model, loader)  # stored as a run: dlqa report <callback.monitor.run_id>
callback.results()  # the monitor.* CheckResults; callback.monitor has the raw findings
```

``dlqa.monitor_callback`` is this module's :class:`MonitorCallback` with a recorder that
stores each ``trainer.fit`` as a run; ``MonitorCallback()`` made directly stores nothing.

Lightning calls ``on_before_backward`` with the loss and ``on_before_optimizer_step`` after
the backward pass and before the optimizer step, which is exactly where
``TrainingMonitor.step()`` belongs. With gradient accumulation the monitor sees the last
micro-batch's loss of each optimizer step. A non-finite loss is traced to a module by replaying
the forward pass only when ``training_step`` calls the LightningModule itself (``self(x)``).
With ``precision="16-mixed"`` the precision plugin's GradScaler is handed to the monitor, so
steps it skips are not NaN findings. A training that raises (or is interrupted) finishes the
stored run as failed (interrupted), with what was found until then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult
from dlqa.train.monitor import TrainingMonitor
from dlqa.train.monitor_grads import scale_tensor

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:
    try:
        from pytorch_lightning.callbacks import Callback
    except ImportError:
        raise UsageError(
            "dlqa.train.lightning needs Lightning, which is not installed",
            hint="pip install lightning (or pytorch-lightning); in a plain PyTorch loop use "
            "`with dlqa.monitor(model, optimizer) as m:` instead",
        ) from None

PredictionsFn = Callable[[Any, Any], "tuple[Any, Any] | None"]


class MonitorCallback(Callback):
    """Runs a :class:`TrainingMonitor` over ``trainer.fit``.

    ``predictions(outputs, batch)`` (optional) returns ``(logits_or_labels, targets)`` from what
    ``training_step`` returned and the batch, for the per-epoch confusion matrix; the other
    keyword options are those of :class:`dlqa.train.monitor.TrainingMonitor` (``recorder``
    included: ``dlqa.monitor_callback()`` passes one that stores the run).
    """

    def __init__(self, predictions: PredictionsFn | None = None, **options: Any) -> None:
        super().__init__()
        self.predictions = predictions
        self.options = options
        self.monitor: TrainingMonitor | None = None
        self._loss: Any = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        # One optimizer: its step hook measures updates exactly; several: compare weights.
        optimizers = list(getattr(trainer, "optimizers", []) or [])
        optimizer = optimizers[0] if len(optimizers) == 1 else None
        self.monitor = TrainingMonitor(pl_module, optimizer, **self.options).attach()

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: Any) -> None:
        self._loss = loss.detach()

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self.monitor is not None and self._loss is not None:
            scaler, loss = _grad_scaler(trainer), self._loss
            tensor, number = scale_tensor(scaler)
            if tensor is not None or number:
                # Lightning hands on_before_backward the scaled loss; the scale has not
                # changed since (the scaler updates after the optimizer step).
                loss = loss / (tensor if tensor is not None else number)
            self.monitor.step(loss, scaler=scaler)
            self._loss = None

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.monitor is None or self.predictions is None:
            return
        pair = self.predictions(outputs, batch)
        if pair is not None:
            self.monitor.record_predictions(*pair)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is not None:
            self.monitor.end_epoch()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is not None:
            self.monitor.close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.monitor is not None:
            self.monitor.close(exception)

    def results(self, gates: dict[str, dict[str, Any]] | None = None) -> list[CheckResult]:
        """The monitor's CheckResults (after ``trainer.fit``)."""
        if self.monitor is None:
            raise UsageError("MonitorCallback.results(): the trainer has not started training")
        return self.monitor.results(gates)


def _grad_scaler(trainer: Any) -> Any:
    """The GradScaler of Lightning's mixed-precision plugin (None without one): it has
    unscaled the gradients before ``on_before_optimizer_step`` and skips the step on inf."""
    strategy = getattr(trainer, "strategy", None)
    plugin = getattr(strategy, "precision_plugin", None) or getattr(
        trainer, "precision_plugin", None
    )
    return getattr(plugin, "scaler", None)
