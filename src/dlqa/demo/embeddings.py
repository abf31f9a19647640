"""A feature extractor for the demo's images, as a team brings its own: the demo's CNN trained
on *other* digits (the bundled digits the dataset does not use, rendered the same way), whose
conv features of every demo image are written to ``features/digits.parquet`` for
``[data] embeddings``. ``data.label_errors`` fits its k-fold model and its neighbour score on
them, so it finds the demo's mislabeled images by what they look like, not by being copies.

Generic colour and gradient features cannot tell these posed, tinted digits apart (measured:
out-of-fold accuracy 0.23-0.36 on the demo's training images); these embeddings give about
0.7, the "realistic model" range that label-error finding is meant for.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from dlqa.demo.digit_render import render_digit

EMBEDDINGS_FILE = "features/digits.parquet"
PRETRAIN_PER_CLASS = 100  # the rarest digit class leaves 112 unused at the default size
PRETRAIN_EPOCHS = 12
BATCH_SIZE = 32


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def write_image_embeddings(
    root: Path,
    data_dir: Path,
    pool: dict[int, np.ndarray],
    seed: int,
) -> Path | None:
    """Train the extractor on ``pool`` (class index -> unused 8x8 digits) and write the
    embeddings of every decodable image under ``data_dir``; None without torch."""
    if not torch_available():
        return None
    import torch

    from dlqa.demo import training

    rng = np.random.default_rng([seed, 1])  # its own stream: the dataset's bytes stay the same
    inputs, labels = [], []
    for class_index, digits in sorted(pool.items()):
        for digit in digits[:PRETRAIN_PER_CLASS]:
            rgb = np.clip(np.rint(render_digit(digit, rng)), 0, 255).astype(np.uint8)
            inputs.append(training.model_input(Image.fromarray(rgb, "RGB")))
            labels.append(class_index)
    images = torch.from_numpy(np.stack(inputs)[:, None])
    targets = torch.tensor(labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = training.build_model()
        optimizer = training.make_optimizer(model.parameters())
        for _ in range(PRETRAIN_EPOCHS):
            model.train()
            order = torch.randperm(len(targets))
            for start in range(0, len(targets), BATCH_SIZE):
                batch = order[start : start + BATCH_SIZE]
                optimizer.zero_grad()
                training.loss_fn(model(images[batch]), targets[batch]).backward()
                optimizer.step()
    model.eval()
    ids, rows = [], []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        pixels = training.decode_image(path)
        if pixels is None:
            continue  # data.unreadable reports it; an embeddings file may leave it out
        with torch.no_grad():
            features = model.features(torch.from_numpy(pixels)[None, None])
        # Pooled channels and the flattened map: what the digit is, and roughly where.
        rows.append(torch.cat([features.mean(dim=(2, 3)).flatten(), features.flatten()]).numpy())
        ids.append(path.relative_to(data_dir).as_posix())
    matrix = np.stack(rows).astype(np.float32)
    columns = {"id": pa.array(ids)}
    columns.update({f"e{j}": pa.array(matrix[:, j]) for j in range(matrix.shape[1])})
    target = root / EMBEDDINGS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), target)
    return target
