"""docs/plugins.md: the ten-line example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa

from dlqa.core.registry import get_spec, unregister_check
from dlqa.core.results import Status
from dlqa.data.context import DataProfile

ROOT = Path(__file__).resolve().parents[1]


def test_the_example_check_of_docs_plugins_runs() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    example = re.search(r"```python\n# acme_dlqa/checks.py\n(.*?)```", text, re.S).group(1)
    body = [
        line for line in example.splitlines() if line.strip() and not line.startswith(("from", "#"))
    ]
    assert len(body) <= 12, "the example promises about ten lines"
    namespace: dict = {"__name__": "acme_dlqa.checks"}
    try:
        exec(compile(example, "plugins.md", "exec"), namespace)  # noqa: S102
        spec = get_spec("acme.too_few_cats")
        table = pa.table({"sample_id": ["a", "b", "c"], "label": ["cat", "dog", "cat"]})
        result = spec.func(DataProfile(table), spec.resolve_params({"min": 3}))
        assert result.status is Status.FAIL and result.value == 2
        assert result.evidence[0].items == [{"id": "a"}, {"id": "c"}]
        assert np.isclose(result.threshold, 3)
    finally:
        unregister_check("acme.too_few_cats")
