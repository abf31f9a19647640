"""The pytest plugin: the dlqa_sanity fixture in real pytest runs (pytester) and its outcome."""

import subprocess
import sys
import textwrap

import pytest

from dlqa.core.registry import all_specs
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.pytest_plugin import CheckOutcome

pytest_plugins = ["pytester"]

# Runs that train go to a subprocess: an in-process pytester run drops the modules it imported
# when it ends, and torch (with the submodules it imports lazily) cannot be imported twice in one
# process. The in-process run below only builds the fixture; these imports come first for it.
torch = pytest.importorskip("torch")
pytest.importorskip("dlqa.train.sanity")
all_specs()  # every check module registered once, outside the in-process run

LOAD_PLUGIN = 'pytest_plugins = ["dlqa.pytest_plugin"]\n'

# A small classifier on a fixed batch; `make_optimizer` and `Net` are swapped for buggy ones.
MODEL_MODULE = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(8, 32)
            self.head = nn.Linear(32, 3)

        def forward(self, x):
            return self.head(torch.relu(self.body(x)))

    def make_batch():
        generator = torch.Generator().manual_seed(0)
        return torch.randn(24, 8, generator=generator), torch.arange(24) % 3

    def make_optimizer(params):
        return torch.optim.Adam(params, lr=1e-2)

    def make_optimizer_without_head(params):
        # The bug: only the first layer's weight and bias reach the optimizer.
        return torch.optim.Adam(list(params)[:2], lr=1e-2)
    """
)


@pytest.fixture
def project(pytester, monkeypatch):
    # Entry points of the outer environment must not decide what the inner runs load.
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    pytester.makepyfile(toymodel=MODEL_MODULE)
    pytester.syspathinsert()
    return pytester


def test_correct_model_passes_buggy_one_fails_naming_check_and_parameter(project):
    project.makeconftest(LOAD_PLUGIN)
    project.makepyfile(
        test_model="""
        from torch import nn
        from toymodel import Net, make_batch, make_optimizer, make_optimizer_without_head

        def test_correct(dlqa_sanity):
            outcome = dlqa_sanity(Net, nn.CrossEntropyLoss(), make_optimizer, make_batch())
            outcome.assert_all()
            assert outcome.failed == []
            ids = [result.check_id for result in outcome.results]
            assert "train.updates" in ids and "train.overfit_batch" in ids
            outcome.assert_passed("train.updates", "train.gradients")
            assert outcome["train.updates"].status.value == "pass"

        def test_layer_left_out_of_the_optimizer(dlqa_sanity):
            outcome = dlqa_sanity(
                Net, nn.CrossEntropyLoss(), make_optimizer_without_head, make_batch()
            )
            assert [r.check_id for r in outcome.failed][:1] == ["train.updates"]
            outcome.assert_all()

        def test_bad_setup(dlqa_sanity):
            dlqa_sanity(Net, nn.CrossEntropyLoss(), make_optimizer, "not a batch")
        """
    )
    # One subprocess for the three tests: each subprocess pays for importing torch.
    result = project.runpytest_subprocess("-v")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*::test_correct PASSED*",
            "*::test_layer_left_out_of_the_optimizer FAILED*",
            "*::test_bad_setup FAILED*",
        ]
    )
    # A setup the battery cannot run is one readable line.
    result.stdout.fnmatch_lines(["*dlqa sanity battery could not run:*"])
    # The failing check by id, then its evidence naming the parameters left out.
    result.stdout.fnmatch_lines(
        [
            "*dlqa sanity battery: * checks failed*",
            "*train.updates [[]fail[]]:*",
            "*parameters*",
            "*- *head.weight*",
        ]
    )
    assert "head.bias" in result.stdout.str()


def test_plugin_loaded_twice_is_registered_once(project):
    # A fake installed distribution whose pytest11 entry point names the plugin as "dlqa",
    # the way dlqa's own entry point does; then the plugin is also requested by module name.
    dist_info = project.path / "site" / "dlqa_entry_point_fake-1.0.dist-info"
    dist_info.mkdir(parents=True)
    # With its Version: pytest names the plugins' distributions in its header.
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: dlqa-entry-point-fake\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text("[pytest11]\ndlqa = dlqa.pytest_plugin\n")
    project.syspathinsert(project.path / "site")
    project.makeconftest(LOAD_PLUGIN)
    project.makepyfile(
        test_model="""
        import dlqa.pytest_plugin as plugin

        def test_registered_once(request, dlqa_sanity):
            manager = request.config.pluginmanager
            names = [name for name, p in manager.list_name_plugin() if p is plugin]
            assert len(names) == 1, names
            assert callable(dlqa_sanity)
        """
    )
    for arguments in ([], ["-p", "dlqa.pytest_plugin"]):
        result = project.runpytest(*arguments)
        result.assert_outcomes(passed=1)


def test_without_torch_the_fixture_skips_with_the_install_hint(pytester):
    pytester.makeconftest(
        'import sys\nsys.modules["torch"] = None  # import torch fails\n' + LOAD_PLUGIN
    )
    pytester.makepyfile(
        test_model="""
        def test_model(dlqa_sanity):
            raise AssertionError("must not run without torch")
        """
    )
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs PyTorch*", "*pip install 'dlqa[[]torch[]]'*"])


def test_importing_the_plugin_does_not_import_torch():
    code = "import sys, dlqa.pytest_plugin; print('torch' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "False"


def outcome_of(*results: CheckResult) -> CheckOutcome:
    return CheckOutcome(list(results))


UPDATES_FAILED = CheckResult(
    "train.updates",
    Status.FAIL,
    "2 of 4 trainable parameters did not change after one step",
    evidence=[
        Evidence("parameters", [f"layer{i}.weight" for i in range(7)], 7),
        Evidence("parameters", [{"name": "head.bias", "value": 0.0, "problem": "left out"}], 1),
    ],
)
GRADIENTS_PASSED = CheckResult("train.gradients", Status.PASS, "all parameters get gradients")
FROZEN_SKIPPED = CheckResult("train.frozen", Status.SKIP, "no frozen parameters")
MODES_CRASHED = CheckResult(
    "train.modes",
    Status.ERROR,
    "check raised RuntimeError: boom",
    details={"traceback": "Traceback...\n  File x\nRuntimeError: boom\n"},
)


def test_assert_all_lists_each_failed_check_with_its_top_evidence():
    outcome = outcome_of(GRADIENTS_PASSED, UPDATES_FAILED, FROZEN_SKIPPED, MODES_CRASHED)
    assert outcome.failed == [UPDATES_FAILED, MODES_CRASHED]
    with pytest.raises(AssertionError) as info:
        outcome.assert_all()
    message = str(info.value)
    assert message.startswith("dlqa sanity battery: 2 of 4 checks failed")
    assert "train.updates [fail]: 2 of 4 trainable parameters did not change" in message
    assert "layer4.weight" in message and "layer5.weight" not in message  # top 5 of 7
    assert "showing 5 of 7" in message
    assert "head.bias: value=0, problem=left out" in message  # named items lead with the name
    assert "train.modes [error]" in message and "raised: RuntimeError: boom" in message
    assert "train.gradients" not in message and "train.frozen" not in message


def test_assert_passed_checks_only_the_named_ids():
    outcome = outcome_of(GRADIENTS_PASSED, UPDATES_FAILED, FROZEN_SKIPPED)
    assert outcome.assert_passed("train.gradients") is outcome
    with pytest.raises(AssertionError, match=r"train\.updates \[fail\]"):
        outcome.assert_passed("train.gradients", "train.updates")
    with pytest.raises(AssertionError, match=r"train\.frozen \[skip\]"):
        outcome.assert_passed("train.frozen")  # skipped verifies nothing
    with pytest.raises(AssertionError, match="no result for train.nope"):
        outcome.assert_passed("train.nope")
    with pytest.raises(AssertionError, match="1 of 3 checks failed"):
        outcome.assert_passed()  # no ids: every check


def test_outcome_indexing_by_check_id():
    outcome = outcome_of(GRADIENTS_PASSED, WARNED := CheckResult("train.x", Status.WARN, "meh"))
    assert outcome["train.x"] is WARNED
    assert outcome.assert_all() is outcome  # a warning does not fail
    with pytest.raises(KeyError, match="train.gradients, train.x"):
        outcome["train.missing"]
