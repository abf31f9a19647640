"""Claim: ``dlqa.evaluate.clusters.split_classes`` flags a label that holds two things and
stays quiet on natural classes, each a single blob, however elongated.

Natural data, nothing planted (scikit-learn's bundled sets, offline):

* ``digits_pixels``: the 1,797 8 x 8 digits, raw pixels (/16);
* ``digits_pca``: the same, PCA to 20 components;
* ``digits_mlp``: "penultimate-layer embeddings": the ReLU hidden layer (64 units) of an
  ``MLPClassifier`` trained on one half of the digits, computed from ``coefs_`` and
  ``intercepts_`` on the held-out half (~90 samples per class);
* ``iris``, ``wine``, ``breast_cancer``: standardised features.

Planted merges, in the MLP embedding (recall):

* ``merged_after``: for every pair of digits (45), the two classes of ``digits_mlp`` given
  one label. The model was trained to tell them apart, so this is the easy case;
* ``merged_before``: for every pair, the MLP is *trained* with the two digits under one
  label (what a label meaning two things does), and its held-out hidden layer is examined.
  The other 8 classes of each held-out model are natural classes too: more tests of
  quietness, each in a freshly trained embedding.

Threshold: ``MIN_SEPARATION`` is swept on the *tuning* half: ``digits_pixels`` and ``iris``
(natural) and 22 of the 45 pairs (drawn with the seed). The chosen value is the smallest
that flags no natural class of the tuning sets that the strictest value (6.0) does not:
lower, recall is bought with classes that only look apart (at 4.0 the digit 5 splits, its
two clusters differing by slant and position). Everything else is held out and reported
at the module's default: ``digits_pca``, ``digits_mlp``, ``wine``, ``breast_cancer``, the
other 8 classes of the 23 held-out pair models, and the 23 held-out merges.

A natural flag is not wrong by itself: the digits hold 9s written two ways. Each flagged
digit class is printed as the ASCII mean image of each cluster, and a flagged 9 is compared
with the 9 split in pixel space (``same_style_as_pixels``: the share of its smaller cluster
that is the pixel-space smaller cluster). Runs in about 30 s on 2 cores (BLAS on one thread:
the matrices are small). Ends with one JSON line.

    python benchmarks/eval_clusters.py [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from dlqa.evaluate.clusters import MIN_SEPARATION, split_classes

SWEEP = (3.5, 4.0, 4.5, 5.0, 5.5, 6.0)
TUNING_SETS = ("digits_pixels", "iris")
SHADES = " .:-=+*#%@"


def standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def pca(x: np.ndarray, k: int) -> np.ndarray:
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:k].T


def hidden_layer(x_train, y_train, x_test, seed: int) -> np.ndarray:
    """ReLU activations of a 64-unit MLP's hidden layer on ``x_test``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier(hidden_layer_sizes=(64,), max_iter=200, random_state=seed)
        model.fit(x_train, y_train)
    return np.maximum(x_test @ model.coefs_[0] + model.intercepts_[0], 0.0)


def ascii_means(images: np.ndarray, clusters: list[np.ndarray]) -> str:
    """The mean 8 x 8 image of each cluster, side by side."""
    arts = []
    for members in clusters:
        mean = images[members].mean(axis=0)
        rows = ["".join(SHADES[min(9, int(v / 16 * 10))] * 2 for v in row) for row in mean]
        arts.append([f"n={len(members):<14}", *rows])
    return "\n".join("   ".join(parts) for parts in zip(*arts, strict=True))


def natural_sets(seed: int) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    order = np.random.default_rng(seed).permutation(len(y))
    train, test = order[: len(y) // 2], order[len(y) // 2 :]
    sets = {
        "digits_pixels": (x, y, digits.images),
        "digits_pca": (pca(x, 20), y, digits.images),
        "digits_mlp": (
            hidden_layer(x[train], y[train], x[test], seed),
            y[test],
            digits.images[test],
        ),
    }
    for name, loader in (("iris", load_iris), ("wine", load_wine), ("bc", load_breast_cancer)):
        data = loader()
        sets["breast_cancer" if name == "bc" else name] = (
            standardise(data.data),
            data.target,
            None,
        )
    return sets, x, y, order


def flagged(results, style: set[int] | None = None) -> list[dict]:
    """The split classes; for a 9, the share of its smaller cluster that is also in the
    smaller cluster of the 9 split in pixel space (``style``: the same writing style?)."""
    out = []
    for r in results:
        if r.split:
            entry = {"label": r.label, "sizes": [len(c) for c in r.clusters]}
            entry["separation"] = round(r.separation, 2)
            if style is not None and r.label == 9:
                entry["same_style_as_pixels"] = round(
                    len(style & set(r.clusters[-1])) / len(r.clusters[-1]), 2
                )
            out.append(entry)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    sets, x, y, order = natural_sets(args.seed)
    train, test = order[: len(y) // 2], order[len(y) // 2 :]
    # The pixel-space split of the 9s (a person can look at it below): its smaller cluster,
    # as indices of the digits and of the held-out half, to compare other splits with.
    pixel_nine = split_classes(x, y)[9]
    style = set(pixel_nine.clusters[-1].tolist()) if pixel_nine.split else set()
    style_test = {i for i, j in enumerate(test) if j in style}

    natural: dict[str, dict] = {}
    tuning_flags: dict[float, int] = dict.fromkeys(SWEEP, 0)
    for name, (emb, labels, images) in sets.items():
        for s in SWEEP if name in TUNING_SETS else ():
            tuning_flags[s] += sum(r.split for r in split_classes(emb, labels, min_separation=s))
        results = split_classes(emb, labels)
        natural[name] = {
            "n": len(labels),
            "dims": emb.shape[1],
            "flagged": flagged(results, style_test if name == "digits_mlp" else style),
        }
        print(f"{name}: {len(results)} classes, {len(natural[name]['flagged'])} flagged")
        for r in results:
            if r.split and images is not None:
                print(f"  digit {r.label}: {r.reason}\n{ascii_means(images, r.clusters)}")

    # Planted merges, every pair, cut into a tuning and a held-out half.
    pairs = list(itertools.combinations(range(10), 2))
    rng = np.random.default_rng(args.seed)
    tuning_pairs = sorted(pairs[i] for i in rng.permutation(len(pairs))[: len(pairs) // 2])
    held_pairs = sorted(set(pairs) - set(tuning_pairs))
    emb_mlp, y_mlp, _ = sets["digits_mlp"]
    recall = {kind: dict.fromkeys(SWEEP, 0) for kind in ("before", "after")}
    held = {"before": 0, "after": 0, "classes": 0, "flags": [], "missed": []}
    for a, b in pairs:
        tuning = (a, b) in tuning_pairs
        merged = (y_mlp == a) | (y_mlp == b)
        relabelled = np.where(y == b, a, y)
        emb = hidden_layer(x[train], relabelled[train], x[test], args.seed)
        mask = relabelled[test] == a
        for kind, (space, members) in {"after": (emb_mlp, merged), "before": (emb, mask)}.items():
            zeros = np.zeros(int(members.sum()), dtype=np.int64)
            for s in SWEEP if tuning else (MIN_SEPARATION,):
                hit = split_classes(space[members], zeros, min_separation=s)[0].split
                if tuning:
                    recall[kind][s] += hit
                else:
                    held[kind] += hit
                    if kind == "before" and not hit:
                        held["missed"].append([a, b])
        if not tuning:  # the 8 other classes of this model: natural classes, held out
            others = [r for r in split_classes(emb, relabelled[test]) if r.label != a]
            held["classes"] += len(others)
            held["flags"] += [{"pair": [a, b], **f} for f in flagged(others, style_test)]

    # The chosen threshold: the smallest that flags no natural class of the tuning sets the
    # strictest one does not (lower, recall is bought with classes that only look apart).
    strict = tuning_flags[max(SWEEP)]
    chosen = min(s for s in SWEEP if tuning_flags[s] <= strict)
    held_sets = [n for n in natural if n not in TUNING_SETS]
    natural_flags = sum(len(natural[n]["flagged"]) for n in held_sets) + len(held["flags"])
    natural_classes = sum(len(np.unique(sets[n][1])) for n in held_sets) + held["classes"]
    all_flags = [f for n in held_sets for f in natural[n]["flagged"]] + held["flags"]
    result = {
        "benchmark": "eval_clusters",
        "min_separation": MIN_SEPARATION,
        "chosen_on_tuning": chosen,
        "tuned_on": {"sets": list(TUNING_SETS), "pairs": tuning_pairs},
        "sweep_on_tuning": {
            str(s): {
                "natural_flags": tuning_flags[s],
                "recall_merged_before_training": round(recall["before"][s] / len(tuning_pairs), 3),
                "recall_merged_after_training": round(recall["after"][s] / len(tuning_pairs), 3),
            }
            for s in SWEEP
        },
        "held_out": {
            "sets": held_sets + [f"other classes of the {len(held_pairs)} held-out pair models"],
            "natural_classes_tested": natural_classes,
            "natural_flags": natural_flags,
            "natural_flag_rate": round(natural_flags / natural_classes, 4),
            "natural_flags_by_digit": {
                str(d): sum(f["label"] == d for f in all_flags)
                for d in sorted({f["label"] for f in all_flags})
            },
            "nine_flags_same_style_as_pixels": [
                f.get("same_style_as_pixels") for f in all_flags if f["label"] == 9
            ],
            "recall_merged_before_training": round(held["before"] / len(held_pairs), 3),
            "recall_merged_after_training": round(held["after"] / len(held_pairs), 3),
            "missed_pairs_before_training": held["missed"],
        },
        "natural": natural,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
