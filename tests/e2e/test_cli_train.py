"""`dlqa train check` and `dlqa train fast` on a project's own files, and their bad input."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from dlqa.train.checks import CHECK_ORDER
from tests.e2e.conftest import run_cli

pytest.importorskip("torch")

MODEL = textwrap.dedent(
    """
    import torch
    from torch import nn

    def build_model():
        return nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

    class WithUnusedLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = build_model()
            self.extra = nn.Linear(4, 4)  # never used in forward: no gradient, no update

        def forward(self, x):
            return self.body(x)

    def build_model_with_bug():
        return WithUnusedLayer()

    def make_optimizer(params):
        return torch.optim.Adam(params, lr=1e-2)

    def one_batch():
        generator = torch.Generator().manual_seed(0)
        return torch.randn(16, 4, 4, generator=generator), torch.arange(16) % 4

    class Folded(nn.Module):  # view(-1, 8) folds features into the batch axis
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(8, 4)

        def forward(self, x):
            return self.head(x.reshape(-1, 8))

    class PlainList(nn.Module):  # layers in a plain list: never trained, never saved
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Flatten(), nn.Linear(16, 32))
            self.blocks = [nn.Linear(32, 32), nn.Linear(32, 32)]
            self.head = nn.Linear(32, 4)

        def forward(self, x):
            x = self.stem(x)
            for block in self.blocks:
                x = torch.relu(block(x))
            return self.head(x)

    class InPlace(nn.Module):  # relu_ on the caller's batch
        def __init__(self):
            super().__init__()
            self.body = build_model()

        def forward(self, x):
            return self.body(x.relu_())

    def folded():
        return Folded()

    def plain_list():
        return PlainList()

    def in_place():
        return InPlace()

    def fast_train():
        return [1.0, 0.8, 0.6, 0.5]

    def fast_that_rises():
        return [0.5, 0.6, 0.8, 1.0]
    """
)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLQA_DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    module = f"proj_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(MODEL)
    yield tmp_path, module
    sys.modules.pop(module, None)


def write_config(module: str, **overrides: str) -> None:
    keys = {
        "model": f"{module}:build_model",
        "loss": "torch.nn:CrossEntropyLoss",
        "optimizer": f"{module}:make_optimizer",
        "batch": f"{module}:one_batch",
        "fast": f"{module}:fast_train",
        **overrides,
    }
    lines = ["[train]"] + [f'{key} = "{value}"' for key, value in keys.items() if value]
    Path("dlqa.toml").write_text("\n".join(lines) + "\n")


def statuses(path: str) -> dict[str, str]:
    return {r["check_id"]: r["status"] for r in json.loads(Path(path).read_text())["results"]}


def test_train_check_passes_on_a_correct_model(project):
    _, module = project
    write_config(module)
    code, out, err = run_cli("train", "check", "-q", "--json", "t.json")
    result = statuses("t.json")
    assert code == 0, (out, err, result)
    assert result["train.overfit_batch"] == "pass" and result["train.fast_loop"] == "pass"
    assert len(result) == len(CHECK_ORDER) + 1  # every battery check and the fast loop


def test_train_check_names_the_parameter_that_never_learns(project):
    _, module = project
    write_config(module, model=f"{module}:build_model_with_bug", fast="")
    code, _, _ = run_cli("train", "check", "-q", "--json", "t.json")
    assert code == 1
    document = json.loads(Path("t.json").read_text())
    gradients = next(r for r in document["results"] if r["check_id"] == "train.gradients")
    assert gradients["status"] == "fail"
    assert "extra.weight" in json.dumps(gradients["evidence"])


@pytest.mark.parametrize(
    ("factory", "check_id", "words"),
    [
        ("folded", "train.output_shape", "32 output rows for a batch of 16"),
        ("plain_list", "train.unregistered_parameters", "blocks[0].weight"),
        ("in_place", "train.input_mutation", "changed its input in place"),
    ],
)
def test_a_model_bug_is_a_finding_of_its_own_check(project, factory, check_id, words):
    _, module = project
    write_config(module, model=f"{module}:{factory}", fast="")
    code, out, err = run_cli("train", "check", "-q", "--json", "t.json")
    assert code == 1, (out, err)  # a finding, not a usage error (2)
    results = {r["check_id"]: r for r in json.loads(Path("t.json").read_text())["results"]}
    assert results[check_id]["status"] == "fail" and words in results[check_id]["summary"]


def test_train_fast_fails_when_the_loss_rises(project):
    _, module = project
    write_config(module, fast=f"{module}:fast_that_rises")
    code, _, _ = run_cli("train", "fast", "-q", "--json", "f.json")
    assert code == 1 and statuses("f.json") == {"train.fast_loop": "fail"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model": "no_such_module_q:build"}, "cannot import module 'no_such_module_q'"),
        ({"optimizer": "{module}:nope"}, "has no attribute 'nope'"),
        ({"batch": ""}, "[train] needs batch"),
        ({"model": "not-an-import-path"}, 'expected "module:attribute"'),
    ],
)
def test_bad_train_config_exits_2_with_one_message(project, overrides, message):
    _, module = project
    write_config(module, **{k: v.format(module=module) for k, v in overrides.items()})
    code, out, err = run_cli("train", "check")
    assert code == 2, (out, err)
    assert message in err and "Traceback" not in err


def test_without_torch_training_commands_say_how_to_install(project):
    """dlqa imports without torch; `dlqa train check` then exits 2 with the install hint."""
    import subprocess

    _, module = project
    write_config(module)
    code = (
        "import sys\n"
        "class NoTorch:\n"  # as if torch were not installed
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import dlqa, dlqa.config, dlqa.core.registry\n"
        "assert len(dlqa.core.registry.all_specs('train')) >= 12\n"
        "from dlqa.cli import main; sys.exit(main(['train', 'check']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "pip install 'dlqa[torch]'" in done.stderr and "Traceback" not in done.stderr
