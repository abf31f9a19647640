"""Import paths from dlqa.toml and batch extraction: every mistake is one clear UsageError."""

import sys

import pytest

from dlqa.core.errors import ConfigError, UsageError
from dlqa.train.setup import first_batch, load_object


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "proj_model.py").write_text(
        "def build():\n    return 'model'\nclass Holder:\n    value = 42\n"
    )
    (tmp_path / "proj_broken.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "proj_needs_torch.py").write_text(  # as on a machine without the torch extra
        "raise ModuleNotFoundError(\"No module named 'torch.nn'\", name='torch.nn')\n"
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name in ("proj_model", "proj_broken", "proj_needs_torch"):
        sys.modules.pop(name, None)


def test_load_object_resolves_module_and_dotted_attribute(project):
    assert load_object("proj_model:build", search_path=[project])() == "model"
    assert load_object("proj_model:Holder.value", search_path=[project]) == 42


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("proj_model", 'expected "module:attribute"'),
        ("no_such_module_xyz:build", "cannot import module 'no_such_module_xyz'"),
        ("proj_model:missing", "has no attribute 'missing'"),
        ("proj_broken:anything", "raised RuntimeError: boom at import"),
    ],
)
def test_load_object_errors_name_the_key(project, path, message):
    with pytest.raises(UsageError) as info:
        load_object(path, search_path=[project], key="model")
    assert message in str(info.value) and "train.model" in str(info.value)
    if path == "proj_model":
        assert isinstance(info.value, ConfigError)


def test_a_module_that_needs_torch_says_how_to_install_it(project):
    with pytest.raises(UsageError) as info:
        load_object("proj_needs_torch:fast", search_path=[project], key="fast")
    assert "train.fast" in str(info.value) and "needs PyTorch" in str(info.value)
    assert "pip install 'dlqa[torch]'" in str(info.value)


def test_first_batch_from_batch_loader_and_callable():
    assert first_batch((1, 2)) == (1, 2)
    assert first_batch(iter([(3, 4), (5, 6)])) == (3, 4)  # a loader-like iterable: first batch
    assert first_batch(lambda: (7, 8)) == (7, 8)
    with pytest.raises(UsageError, match="yielded no batch"):
        first_batch([])
    with pytest.raises(UsageError, match=r"expected a batch \(inputs, targets\).*got int"):
        first_batch(5)
    with pytest.raises(UsageError, match="got dict"):
        first_batch({"x": 1, "y": 2})


DICT_MODEL = """
import torch
from torch import nn


class DictModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(8, 3)

    def forward(self, x):
        return {"features": x, "logits": self.layer(x)}


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.1)


def one_batch():
    return torch.randn(12, 8), torch.arange(12) % 3
"""


@pytest.mark.parametrize(("toml_value", "expected"), [('"logits"', "logits"), ("1", 1)])
def test_output_key_from_dlqa_toml_reaches_the_battery(tmp_path, monkeypatch, toml_value, expected):
    pytest.importorskip("torch")
    from dlqa.config import load_config
    from dlqa.core.results import Status
    from dlqa.train.sanity import run_setup
    from dlqa.train.stage import training_setup

    module = f"proj_dict_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(DICT_MODEL)
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "dlqa.toml").write_text(
        "[train]\n"
        f'model = "{module}:DictModel"\n'
        'loss = "torch.nn:CrossEntropyLoss"\n'
        f'optimizer = "{module}:make_optimizer"\n'
        f'batch = "{module}:one_batch"\n'
        f"output_key = {toml_value}\n"
    )
    try:
        setup = training_setup(load_config(tmp_path / "dlqa.toml"))
        assert setup.output_key == expected
        if expected == "logits":
            (shape,) = run_setup(setup, checks=["train.output_shape"])
            assert shape.status is Status.PASS, shape.summary
        else:  # index 1 of a dict: not one of its keys
            with pytest.raises(UsageError, match="output_key=1 is not one of"):
                run_setup(setup, checks=["train.output_shape"])
    finally:
        sys.modules.pop(module, None)


def test_output_key_must_be_an_index_or_a_key(tmp_path):
    from dlqa.config import load_config

    (tmp_path / "dlqa.toml").write_text('[train]\nmodel = "m:f"\noutput_key = [0]\n')
    with pytest.raises(ConfigError, match="output_key"):
        load_config(tmp_path / "dlqa.toml")
