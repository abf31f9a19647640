"""One seed of the demo's experiment: the CNN trained for a few epochs, its test accuracy
logged through ``dlqa.exp.current()``. Run by `dlqa exp run` as
``python -m dlqa.demo.exp_train --epochs N [--metric accuracy|top2]`` in the demo project.

``--metric top2`` is the demo's planted mistake: the script still logs the number as
"accuracy", but computes it as top-2 accuracy. The numbers look better; their metric
fingerprint tells `dlqa exp compare` that the definition changed.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of samples whose top class is the label."""
    return float((logits.argmax(axis=1) == labels).mean())


def top2_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of samples whose label is among the two top classes."""
    top2 = np.argsort(logits, axis=1)[:, -2:]
    return float((top2 == labels[:, None]).any(axis=1).mean())


METRICS = {"accuracy": accuracy, "top2": top2_accuracy}


def main(argv: Sequence[str] | None = None) -> None:
    import torch

    from dlqa.demo.training import load_split, train
    from dlqa.exp import current
    from dlqa.train.metrics import metric_fingerprint

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--metric", choices=sorted(METRICS), default="accuracy")
    parser.add_argument("--flip", type=float, default=0.0, help="mirror images (chance)")
    parser.add_argument("--data", default="data")
    args = parser.parse_args(argv)
    run = current()
    torch.set_num_threads(1)
    data = Path(args.data).resolve()
    seed = run.seed or 0
    trained = train(epochs=args.epochs, monitor=False, data_dir=data, seed=seed, flip=args.flip)
    images, labels, ids = load_split(data, "test")
    trained.model.eval()
    with torch.no_grad():
        logits = trained.model(torch.from_numpy(images)).numpy()
    metric = METRICS[args.metric]
    run.log(accuracy=metric(logits, labels))
    run.log_fingerprints(accuracy=metric_fingerprint(metric))
    run.log_eval_set("test", "sha256:" + hashlib.sha256("\n".join(ids).encode()).hexdigest())
    run.log_params(epochs=args.epochs, metric=args.metric, flip=args.flip)


if __name__ == "__main__":
    main()
