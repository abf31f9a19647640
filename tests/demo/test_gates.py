"""The gates the demo sets: written into its dlqa.toml, and reported where they differ from
the defaults."""

from __future__ import annotations

from pathlib import Path

from dlqa.config import load_config
from dlqa.core.registry import get_spec
from dlqa.demo.build import demo_config_text
from dlqa.demo.gates import DEMO_GATES, tightened_gates


def test_the_demo_config_holds_every_demo_gate(tmp_path: Path) -> None:
    (tmp_path / "dlqa.toml").write_text(demo_config_text(), encoding="utf-8")
    config = load_config(tmp_path / "dlqa.toml")

    assert config.gates == {check_id: params for check_id, (params, _) in DEMO_GATES.items()}


def test_only_gates_that_differ_from_the_defaults_are_reported(tmp_path: Path) -> None:
    (tmp_path / "dlqa.toml").write_text(demo_config_text(), encoding="utf-8")
    changes = {c.check_id: c for c in tightened_gates(load_config(tmp_path / "dlqa.toml"))}

    for check_id, (params, reason) in DEMO_GATES.items():
        spec = get_spec(check_id)
        defaults = {"level": spec.level, **spec.defaults}
        differs = any(defaults[key] != value for key, value in params.items())
        assert (check_id in changes) == differs, check_id
        if differs:
            assert changes[check_id].reason == reason
    assert changes["data.dark"].changes == ["level warn -> fail"]
    assert changes["data.dark"].describe().startswith("data.dark (level warn -> fail): ")
