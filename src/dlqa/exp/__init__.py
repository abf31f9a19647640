"""Experiment QA: did a change help, judged over several seeds rather than one run each.

``stats`` holds the pure statistics (Welch's t-test, equivalence, Holm) on plain floats;
``current()`` is what a training script run by ``dlqa exp run`` logs its metrics through::

    from dlqa.exp import current
    run = current()                       # run.seed, run.run_dir
    run.log(accuracy=0.931, loss=0.21)    # -> $DLQA_RUN_DIR/metrics.json
"""

from dlqa.exp.tracking import ExpRun, current

__all__ = ["ExpRun", "current"]
