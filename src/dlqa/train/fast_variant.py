"""Run the project's fast variant of training (a function or a command) and judge its losses.

``dlqa.toml`` names the fast variant in ``[train]``, either as a function or as a command:

- ``fast = "module:function"``: a function taking no arguments that trains a few steps (fewer
  steps, a smaller model) and returns the losses, as a sequence of numbers (floats, 0-d tensors,
  a 1-d tensor or array) or as a dict with a ``"losses"`` entry holding one.
- ``fast_command = "python train.py --fast"``: a shell command, run in the project folder. Its
  standard output reports the losses by either of two protocols:

  * one loss per line, as a whitespace-separated token ``loss=<float>`` anywhere on the line,
    e.g. ``step 3 loss=0.913 lr=0.001``;
  * a final JSON line ``{"losses": [2.30, 2.11, ...]}``; when the last non-empty line of the
    output is such an object, it takes precedence over ``loss=`` lines.

The check ``train.fast_loop`` fails when the fast variant does not complete (an exception, a
non-zero exit status, a command that cannot be found, or a command running past ``timeout``),
when it reports fewer than two losses or a non-finite one, or when the loss did not drop: the
mean of the last k losses must be below the mean of the first k by more than ``min_drop``, with
k a quarter of the losses (at least one). A function runs in this process with the working
directory set to the project folder for the duration of the call (so that it reads the same
relative paths as the command would); ``timeout`` applies to commands only.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult, Evidence, Status

CHECK_ID = "train.fast_loop"  # the check whose results these functions return
DEFAULT_TIMEOUT = 600.0
MAX_LOG_LINES = 20  # lines of stderr (or of a traceback) kept as evidence
MAX_LOSSES_KEPT = 1000  # losses stored in details; longer runs keep the first and last halves

_LOSS_TOKEN = re.compile(r"(?:^|\s)loss=(\S+)")


def run_fast(
    fast: Callable[[], Any] | None = None,
    command: str | None = None,
    *,
    cwd: Path,
    timeout: float = DEFAULT_TIMEOUT,
    min_drop: float = 0.0,
) -> CheckResult:
    """Run the fast variant (exactly one of ``fast`` and ``command``) and check its losses."""
    if (fast is None) == (command is None):
        raise UsageError(
            "the fast loop needs exactly one of a function and a command",
            hint='set [train] fast = "module:function" or fast_command = "..." in dlqa.toml',
        )
    cwd = Path(cwd)
    if not cwd.is_dir():
        raise UsageError(f"the fast loop's working folder {cwd} does not exist")
    if fast is not None:
        if not callable(fast):
            raise UsageError(f"the fast variant must be a function, got {type(fast).__name__}")
        losses, failure = _run_function(fast, cwd)
        origin = f"function {getattr(fast, '__qualname__', repr(fast))}"
    else:
        assert command is not None
        losses, failure = _run_command(command, cwd, timeout)
        origin = f"command {command!r}"
    if failure is not None:
        return failure
    assert losses is not None
    return judge_losses(losses, min_drop=min_drop, origin=origin)


def judge_losses(
    losses: Sequence[float], *, min_drop: float = 0.0, origin: str = ""
) -> CheckResult:
    """Pass when there are at least two losses, all finite, and the last k average more than
    ``min_drop`` below the first k (k = a quarter of the losses, at least one)."""
    where = f" ({origin})" if origin else ""
    details: dict[str, Any] = {"origin": origin, "steps": len(losses), **_kept_losses(losses)}
    if len(losses) < 2:
        return CheckResult(
            CHECK_ID,
            Status.FAIL,
            f"the fast variant reported {len(losses)} loss(es), at least 2 are needed{where}",
            value=float(len(losses)),
            threshold=2.0,
            details=details,
        )
    bad = [(step, loss) for step, loss in enumerate(losses) if not math.isfinite(loss)]
    if bad:
        rows = [{"step": step, "loss": str(loss)} for step, loss in bad]
        return CheckResult(
            CHECK_ID,
            Status.FAIL,
            f"{len(bad)} of {len(losses)} losses are not finite, the first at step {bad[0][0]}"
            f"{where}",
            value=float(len(bad)),
            threshold=0.0,
            evidence=[Evidence("table", rows[:MAX_LOSSES_KEPT], len(rows), "non-finite losses")],
            details=details,
        )
    window = max(1, len(losses) // 4)
    first = sum(losses[:window]) / window
    last = sum(losses[-window:]) / window
    drop = first - last
    details.update(window=window, first_mean=first, last_mean=last)
    measured = (
        f"mean loss of the last {window} steps {last:.4g} vs the first {window} steps {first:.4g}"
    )
    if drop > min_drop:
        return CheckResult(
            CHECK_ID,
            Status.PASS,
            f"the fast variant completed {len(losses)} steps and its loss dropped: {measured}",
            value=drop,
            threshold=min_drop,
            details=details,
        )
    rows = [
        {"steps": f"first {window}", "mean_loss": first},
        {"steps": f"last {window}", "mean_loss": last},
    ]
    return CheckResult(
        CHECK_ID,
        Status.FAIL,
        f"the loss of the fast variant did not drop by more than {min_drop:g}: {measured}{where}",
        value=drop,
        threshold=min_drop,
        evidence=[Evidence("table", rows, len(rows), "mean loss at the start and the end")],
        details=details,
    )


def parse_losses(stdout: str) -> list[float]:
    """Losses from a command's standard output (see the module docstring for the protocol)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if lines and lines[-1].startswith("{"):
        try:
            final = json.loads(lines[-1])
        except json.JSONDecodeError:
            final = None
        if isinstance(final, dict) and "losses" in final:
            return _as_losses(final["losses"])
    losses = []
    for line in lines:
        for token in _LOSS_TOKEN.findall(line):
            with contextlib.suppress(ValueError):
                losses.append(float(token))
    return losses


def _run_function(
    fast: Callable[[], Any], cwd: Path
) -> tuple[list[float] | None, CheckResult | None]:
    name = getattr(fast, "__qualname__", repr(fast))
    try:
        with contextlib.chdir(cwd):
            returned = fast()
    except Exception as exc:  # the user's training raised: that is the finding
        trace = traceback.format_exc().rstrip().splitlines()[-MAX_LOG_LINES:]
        return None, CheckResult(
            CHECK_ID,
            Status.FAIL,
            f"the fast variant {name} raised {type(exc).__name__}: {exc}",
            evidence=[Evidence("log", trace, len(trace), "end of the traceback")],
            details={"origin": f"function {name}", "exception": type(exc).__name__},
        )
    if isinstance(returned, dict):
        returned = returned.get("losses")
    try:
        return _as_losses(returned), None
    except (TypeError, ValueError):
        return None, CheckResult(
            CHECK_ID,
            Status.FAIL,
            f"the fast variant {name} returned {type(returned).__name__}, expected a sequence "
            'of losses or a dict with "losses"',
            details={"origin": f"function {name}"},
        )


def _run_in_own_group(command: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run ``command`` through a shell in a process group of its own, and on timeout (or
    Ctrl-C) kill the whole group: the shell's children (python train.py, its DataLoader
    workers) must not outlive it."""
    # A shell, because dlqa.toml holds the command as one line a person would type.
    with subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise subprocess.TimeoutExpired(command, timeout, stdout, stderr) from None
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _run_command(
    command: str, cwd: Path, timeout: float
) -> tuple[list[float] | None, CheckResult | None]:
    origin = f"command {command!r}"
    try:
        completed = _run_in_own_group(command, cwd, timeout)
    except subprocess.TimeoutExpired as exc:
        tail = _tail(exc.stderr)
        return None, CheckResult(
            CHECK_ID,
            Status.FAIL,
            f"the fast variant did not finish within {timeout:g} s ({origin})",
            value=timeout,
            threshold=timeout,
            evidence=[Evidence("log", tail, len(tail), "end of stderr")] if tail else [],
            details={"origin": origin, "timeout": timeout},
        )
    except OSError as exc:  # the shell itself could not be started
        return None, CheckResult(
            CHECK_ID,
            Status.FAIL,
            f"the fast variant could not be started ({origin}): {exc}",
            details={"origin": origin},
        )
    if completed.returncode != 0:
        tail = _tail(completed.stderr) or _tail(completed.stdout)
        not_found = completed.returncode == 127  # the shell's "command not found"
        reason = "was not found" if not_found else f"exited with status {completed.returncode}"
        return None, CheckResult(
            CHECK_ID,
            Status.FAIL,
            f"the fast variant {reason} ({origin})",
            value=float(completed.returncode),
            evidence=[Evidence("log", tail, len(tail), "end of stderr")] if tail else [],
            details={"origin": origin, "exit_status": completed.returncode},
        )
    return parse_losses(completed.stdout), None


def _as_losses(values: Any) -> list[float]:
    if values is None or isinstance(values, (str, bytes)):
        raise TypeError("not a sequence of losses")
    if hasattr(values, "detach"):  # a tensor: no graph, on the CPU
        values = values.detach().cpu().reshape(-1).tolist()
    elif hasattr(values, "reshape") and hasattr(values, "tolist"):  # a numpy array
        values = values.reshape(-1).tolist()
    # Elements may be 0-d tensors still attached to the graph (a list of ``loss`` objects).
    return [float(v.detach() if hasattr(v, "detach") else v) for v in values]


def _tail(text: str | bytes | None) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    lines = [line.rstrip() for line in (text or "").splitlines() if line.strip()]
    return lines[-MAX_LOG_LINES:]


def _kept_losses(losses: Sequence[float]) -> dict[str, Any]:
    def plain(value: float) -> float | str:
        return value if math.isfinite(value) else str(value)  # JSON has no NaN

    if len(losses) <= MAX_LOSSES_KEPT:
        return {"losses": [plain(v) for v in losses]}
    half = MAX_LOSSES_KEPT // 2
    return {
        "losses_first": [plain(v) for v in losses[:half]],
        "losses_last": [plain(v) for v in losses[-half:]],
    }
