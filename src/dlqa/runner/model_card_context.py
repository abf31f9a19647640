"""What building one model card reads and gathers: the store, read through a cache, the runs
the card draws on with their roles, and the issues found in them."""

from __future__ import annotations

from dlqa.core.results import CheckResult, Status
from dlqa.report.model_card import STATUS_ORDER, Issue, RunRef
from dlqa.runner.model_card_sections import run_ref
from dlqa.store import RunRecord, Store

__all__ = ["CardContext"]

ISSUE_STATUSES = (Status.FAIL, Status.WARN, Status.INCONCLUSIVE, Status.ERROR)
_AREAS = {
    "eval": "evaluation",
    "deploy": "deployment",
    "data": "data",
    "train": "training",
    "monitor": "training",
    "labels": "labels",
}


class CardContext:
    """The store access and the findings of one card's build."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._results: dict[int, list[CheckResult]] = {}
        self._runs: dict[int, RunRecord] = {}
        self.used: dict[int, list[str]] = {}  # run id -> its roles on the card
        self.issues: list[Issue] = []
        self._issue_keys: set[tuple[int, str]] = set()  # (run id, result key) on the card

    def remember(self, record: RunRecord) -> None:
        """Cache a run record read by a listing, so that ``run`` need not read it again."""
        self._runs.setdefault(record.id, record)

    def run(self, run_id: int) -> RunRecord:
        if run_id not in self._runs:
            self._runs[run_id] = self.store.get_run(run_id)
        return self._runs[run_id]

    def results(self, run_id: int) -> list[CheckResult]:
        if run_id not in self._results:
            self._results[run_id] = self.store.results_for_run(run_id)
        return self._results[run_id]

    def use(self, run: RunRecord, role: str) -> RunRef:
        roles = self.used.setdefault(run.id, [])
        if role not in roles:
            roles.append(role)
        return run_ref(run, role)

    def collect_issues(self, run: RunRecord, area: str | None, prefix: str | None) -> None:
        """The failed, warned, inconclusive and crashed results of ``run`` (only those whose
        check id starts with ``prefix`` when given); each result once, however many roles its
        run plays on the card."""
        found = [
            r
            for r in self.results(run.id)
            if r.status in ISSUE_STATUSES and (prefix is None or r.check_id.startswith(prefix))
        ]
        found.sort(key=lambda r: STATUS_ORDER.index(r.status.value))
        for r in found:
            if (run.id, r.key) in self._issue_keys:
                continue
            self._issue_keys.add((run.id, r.key))
            where = area or _AREAS.get(r.check_id.split(".", 1)[0], "other")
            self.issues.append(Issue(run.id, where, r.key, r.status.value, r.summary))
