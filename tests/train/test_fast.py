"""The fast loop: a function or a command must complete and its loss must drop."""

import json
import math
import os
import sys
import time
from pathlib import Path

import pytest

from dlqa.config import parse_config
from dlqa.core.errors import UsageError
from dlqa.core.registry import get_spec
from dlqa.core.results import Status
from dlqa.train.fast import (
    CHECK_ID,
    FastLoopSetup,
    check_fast_loop,
    fast_loop_from_config,
    judge_losses,
    parse_losses,
    run_fast,
)

PYTHON = sys.executable


def script(tmp_path: Path, name: str, body: str) -> str:
    """A shell command running a small Python script written to tmp_path."""
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return f'"{PYTHON}" {name}'


def test_function_whose_loss_drops_passes(tmp_path):
    result = run_fast(lambda: [2.3, 2.0, 1.6, 1.2, 0.9, 0.7, 0.6, 0.5], cwd=tmp_path)
    assert result.check_id == CHECK_ID
    assert result.status is Status.PASS
    # window of 2: (2.3 + 2.0) / 2 - (0.6 + 0.5) / 2
    assert result.value == pytest.approx(2.15 - 0.55)
    assert result.details["steps"] == 8


def test_function_whose_loss_rises_fails_with_both_means(tmp_path):
    result = run_fast(lambda: {"losses": [1.0, 1.1, 1.3, 1.6]}, cwd=tmp_path)
    assert result.status is Status.FAIL
    assert result.value == pytest.approx(-0.6)
    means = {row["steps"]: row["mean_loss"] for row in result.evidence[0].items}
    assert means == {"first 1": pytest.approx(1.0), "last 1": pytest.approx(1.6)}


def test_min_drop_is_a_strict_margin(tmp_path):
    losses = [2.0, 2.0, 1.5, 1.5]
    assert run_fast(lambda: losses, cwd=tmp_path, min_drop=0.4).status is Status.PASS
    assert run_fast(lambda: losses, cwd=tmp_path, min_drop=0.5).status is Status.FAIL


def test_function_that_raises_fails_with_the_exception_as_evidence(tmp_path):
    def broken_training():
        raise RuntimeError("CUDA out of memory (pretend)")

    result = run_fast(broken_training, cwd=tmp_path)
    assert result.status is Status.FAIL
    assert "RuntimeError: CUDA out of memory (pretend)" in result.summary
    assert any("broken_training" in line for line in result.evidence[0].items)


def test_function_runs_in_the_project_folder(tmp_path):
    (tmp_path / "losses.json").write_text("[3.0, 1.0]")
    result = run_fast(lambda: json.loads(Path("losses.json").read_text()), cwd=tmp_path)
    assert result.status is Status.PASS


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ([1.0], "reported 1 loss(es), at least 2"),
        ({"accuracy": 0.3}, "returned NoneType, expected a sequence of losses"),
        ("1.0 0.5", "returned str"),
    ],
)
def test_too_few_or_unusable_losses_fail(tmp_path, returned, message):
    result = run_fast(lambda: returned, cwd=tmp_path)
    assert result.status is Status.FAIL
    assert message in result.summary


def test_non_finite_losses_fail_naming_the_step(tmp_path):
    result = run_fast(lambda: [2.0, 1.5, math.nan, 0.5], cwd=tmp_path)
    assert result.status is Status.FAIL
    assert result.evidence[0].items == [{"step": 2, "loss": "nan"}]
    json.dumps(result.to_dict(), allow_nan=False)  # the stored details stay valid JSON


def test_losses_may_be_numpy_arrays_and_tensors(tmp_path):
    np = pytest.importorskip("numpy")
    assert run_fast(lambda: np.array([2.0, 1.0, 0.5]), cwd=tmp_path).status is Status.PASS
    torch = pytest.importorskip("torch")
    values = [torch.tensor(2.0, requires_grad=True) * 1, torch.tensor(1.0)]
    assert run_fast(lambda: values, cwd=tmp_path).status is Status.PASS
    assert run_fast(lambda: torch.tensor([2.0, 1.0]), cwd=tmp_path).status is Status.PASS


def test_command_printing_loss_lines_passes(tmp_path):
    command = script(
        tmp_path,
        "fast.py",
        "for step in range(6):\n    print(f'step {step} loss={2.0 / (step + 1):.4f} lr=0.1')\n",
    )
    result = run_fast(command=command, cwd=tmp_path)
    assert result.status is Status.PASS, result.summary
    assert result.details["steps"] == 6
    assert result.details["losses"][0] == pytest.approx(2.0)


def test_command_with_a_final_json_line_passes(tmp_path):
    command = script(
        tmp_path, "fast.py", "print('warming up')\nprint('{\"losses\": [1.5, 1.2, 0.8]}')\n"
    )
    result = run_fast(command=command, cwd=tmp_path)
    assert result.status is Status.PASS
    assert result.details["losses"] == [1.5, 1.2, 0.8]


def test_command_that_exits_1_fails_with_stderr_as_evidence(tmp_path):
    command = script(
        tmp_path,
        "fast.py",
        "import sys\nprint('loss=2.0')\nprint('loss=1.0')\n"
        "sys.stderr.write('ValueError: bad learning rate\\n')\nsys.exit(1)\n",
    )
    result = run_fast(command=command, cwd=tmp_path)
    assert result.status is Status.FAIL
    assert "exited with status 1" in result.summary
    assert result.evidence[0].items[-1] == "ValueError: bad learning rate"
    assert result.details["exit_status"] == 1


def test_missing_command_is_a_clear_failure(tmp_path):
    result = run_fast(command="dlqa-no-such-trainer-xyz --fast", cwd=tmp_path)
    assert result.status is Status.FAIL
    assert "was not found" in result.summary
    assert any("dlqa-no-such-trainer-xyz" in line for line in result.evidence[0].items)


def test_command_past_its_timeout_fails(tmp_path):
    command = script(tmp_path, "slow.py", "import time\ntime.sleep(30)\n")
    result = run_fast(command=command, cwd=tmp_path, timeout=0.5)
    assert result.status is Status.FAIL
    assert "did not finish within 0.5 s" in result.summary


def test_timeout_kills_the_commands_children_too(tmp_path):
    # The shell starts a child that starts a grandchild; on timeout none of them may live on.
    pid_file = tmp_path / "grandchild.pid"
    child = script(
        tmp_path,
        "child.py",
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n",
    )
    result = run_fast(command=f"{child} && true", cwd=tmp_path, timeout=2.0)
    assert "did not finish within 2 s" in result.summary
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child that nobody reaped yet is a zombie: dead for our purpose.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_command_printing_no_losses_fails(tmp_path):
    command = script(tmp_path, "fast.py", "print('training done')\n")
    result = run_fast(command=command, cwd=tmp_path)
    assert result.status is Status.FAIL
    assert "reported 0 loss(es)" in result.summary


def test_parse_losses_protocol():
    text = "epoch 1\nstep 0 loss=2.5\nloss=nan\nval_loss=9.0 loss=1.5\nbad loss=abc\n"
    parsed = parse_losses(text)
    assert parsed[0] == 2.5 and math.isnan(parsed[1]) and parsed[2:] == [1.5]
    # a final JSON line wins over loss= lines
    assert parse_losses('loss=5\n{"losses": [1, 0.5]}\n') == [1.0, 0.5]
    # a final JSON line without "losses" is ignored
    assert parse_losses('loss=5\nloss=4\n{"accuracy": 1}\n') == [5.0, 4.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({}, "exactly one of"), ({"fast": lambda: [1.0], "command": "true"}, "exactly one of")],
)
def test_bad_arguments_are_usage_errors(tmp_path, kwargs, message):
    with pytest.raises(UsageError, match=message):
        run_fast(cwd=tmp_path, **kwargs)


def test_missing_working_folder_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        run_fast(lambda: [1.0, 0.5], cwd=tmp_path / "nowhere")


def test_registered_check_uses_gate_parameters_and_level(tmp_path):
    spec = get_spec(CHECK_ID)
    assert spec.defaults == {"min_drop": 0.0, "timeout": 600.0}
    setup = FastLoopSetup(fast=lambda: [1.0, 0.9], cwd=tmp_path)
    assert check_fast_loop(setup, spec.resolve_params()).status is Status.PASS
    strict = spec.resolve_params({"min_drop": 0.5})
    assert check_fast_loop(setup, strict).status is Status.FAIL
    warn_only = spec.resolve_params({"min_drop": 0.5, "level": "warn"})
    assert check_fast_loop(setup, warn_only).status is Status.WARN
    skipped = check_fast_loop(object(), spec.resolve_params())
    assert skipped.status is Status.SKIP and "fast_command" in skipped.summary


def test_fast_loop_from_config_loads_the_function(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "proj_fast_loop.py").write_text("def fast():\n    return [3.0, 2.0, 1.0]\n")
    config = parse_config({"train": {"fast": "proj_fast_loop:fast"}}, base_dir=tmp_path)
    setup = fast_loop_from_config(config)
    assert setup is not None and setup.cwd == tmp_path and setup.command is None
    assert check_fast_loop(setup, get_spec(CHECK_ID).resolve_params()).status is Status.PASS
    sys.modules.pop("proj_fast_loop", None)

    command_only = parse_config({"train": {"fast_command": "make fast"}}, base_dir=tmp_path)
    assert fast_loop_from_config(command_only) == FastLoopSetup(None, "make fast", tmp_path)
    assert fast_loop_from_config(parse_config({}, base_dir=tmp_path)) is None


def test_judge_losses_keeps_long_runs_bounded():
    result = judge_losses([float(3000 - step) for step in range(3000)])
    assert result.status is Status.PASS
    assert len(result.details["losses_first"]) + len(result.details["losses_last"]) == 1000
