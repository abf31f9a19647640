"""The fast loop's public names, importable from here as before the module was split.

Running the fast variant (a function or a shell command) and judging its losses live in
:mod:`dlqa.train.fast_variant`; the check ``train.fast_loop`` and its setup from dlqa.toml in
:mod:`dlqa.train.fast_loop`.
"""

from __future__ import annotations

from dlqa.train.fast_loop import FastLoopSetup, check_fast_loop, fast_loop_from_config
from dlqa.train.fast_variant import CHECK_ID, judge_losses, parse_losses, run_fast

__all__ = [
    "CHECK_ID",
    "FastLoopSetup",
    "check_fast_loop",
    "fast_loop_from_config",
    "judge_losses",
    "parse_losses",
    "run_fast",
]
