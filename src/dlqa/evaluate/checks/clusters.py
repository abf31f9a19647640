"""``eval.embedding_clusters``: a class whose samples form separate clusters in the model's
embedding space (one label for two things), and the 2-D map of the eval set."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from dlqa.core.gates import verdict
from dlqa.core.registry import register_check
from dlqa.core.results import CheckResult, Evidence
from dlqa.evaluate.clusters import split_classes
from dlqa.evaluate.context import EvalContext
from dlqa.evaluate.embeddings import embedding_map

# Members listed per cluster (every one up to this; views show the first few as a gallery).
MAX_MEMBERS = 1000


class ClusterParams(BaseModel):
    min_cluster_size: int = Field(
        10, ge=2, description="samples a cluster needs to count (smaller ones are outliers)"
    )
    max_points: int = Field(5000, ge=100, description="points drawn on the 2-D map")


@register_check(
    "eval.embedding_clusters",
    title="Classes that split into clusters",
    description=(
        "Per class, whether its test samples form well-separated clusters in the model's "
        "embedding space (one label that means two things, like 'jaguar' the cat and the "
        "car), decided on the projection between the two cluster centres, so a single "
        "elongated blob does not count; a gallery per cluster, and a 2-D map of the eval set "
        "coloured by label with the misclassified points marked. Warns by default."
    ),
    params=ClusterParams,
    level="warn",
    needs=("embeddings",),
)
def check_embedding_clusters(context: EvalContext, params: dict[str, Any]) -> CheckResult:
    rows = context.test_index
    assert context.embeddings is not None
    embeddings = context.embeddings[rows]
    labels = context.labels[rows]
    splits = split_classes(
        embeddings, labels, class_names=context.class_names,
        min_cluster_size=params["min_cluster_size"],
    )  # fmt: skip
    flagged = [s for s in splits if s.split]
    evidence: list[Evidence] = []
    groups = []
    for split in flagged:
        for k, members in enumerate(split.clusters):
            shown = rows[np.asarray(members)][:MAX_MEMBERS]
            groups.append(
                {
                    "ids": [context.sample_ids[r] for r in shown],
                    "labels": [split.name] * len(shown),
                    "name": f"{split.name}: cluster {k + 1} of {len(split.clusters)} "
                    f"({len(members)} samples)",
                    "size": len(members),
                }
            )
    if groups:
        evidence.append(Evidence("groups", groups, len(groups), "a gallery per cluster"))
    picture = embedding_map(
        embeddings, labels=labels, max_points=params["max_points"], seed=context.seed
    )
    shown = rows[picture.indices]
    points = [
        [round(float(x), 3), round(float(y), 3), int(context.labels[r]),
         int(context.predictions[r])]
        for (x, y), r in zip(picture.coords, shown, strict=True)
    ]  # fmt: skip
    evidence.append(
        Evidence(
            "map",
            [{"method": picture.method, "classes": list(context.class_names), "points": points,
              "ids": [context.sample_ids[r] for r in shown]}],
            1,
        )
    )  # fmt: skip
    examined = [s for s in splits if np.isfinite(s.separation)]
    details = {
        "classes_examined": len(examined),
        "split_classes": [s.name for s in flagged],
        "separation": {s.name: round(float(s.separation), 3) for s in examined},
        "reasons": {s.name: s.reason for s in splits if s.split},
        "map_method": picture.method,
        "embedding_dim": int(embeddings.shape[1]),
    }
    status = verdict(bool(flagged), params)
    summary = (
        f"{len(flagged)} class(es) split into separate clusters: "
        + ", ".join(f"{s.name} ({len(s.clusters)} clusters)" for s in flagged)
        if flagged
        else f"no class of {len(examined)} examined splits into separate clusters"
    )
    return CheckResult(
        "eval.embedding_clusters", status, summary, value=float(len(flagged)), threshold=0.0,
        n=int(rows.size), evidence=evidence, details=details,
    )  # fmt: skip
