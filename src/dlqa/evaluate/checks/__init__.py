"""Evaluation checks. Importing this package registers them (ids ``eval.*``)."""

from dlqa.evaluate.checks import calibration, cases, clusters, guardrails, metrics, slices

# The order a report lists them in: headline metrics, then where they break down, then the
# case sets and guardrails.
CHECK_ORDER = (
    "eval.accuracy",
    "eval.macro_f1",
    "eval.per_class",
    "eval.confusion",
    "eval.calibration",
    "eval.slices",
    "eval.embedding_clusters",
    "eval.golden",
    "eval.regression_cases",
    "eval.guardrails",
)
# How a user provides each optional input (the reason a check named with --check skips).
INPUT_HINTS = {
    "slices": "slice columns ([eval] slices, or slices= in evaluate())",
    "embeddings": "embeddings ([eval] embedding_layer, or embeddings= in evaluate())",
    "golden": "a golden set ([eval] golden, or sets={'golden': ...})",
    "regression": "a regression set ([eval] regression, or sets={'regression': ...})",
    "guardrails": "guardrails ([eval.guardrails], or guardrails= in evaluate())",
}

__all__ = [
    "CHECK_ORDER",
    "INPUT_HINTS",
    "calibration",
    "cases",
    "clusters",
    "guardrails",
    "metrics",
    "slices",
]
