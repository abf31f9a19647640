"""The result of a check: verdict, value, threshold, uncertainty and evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dlqa.core.jsonsafe import finite_number, to_json_safe


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"
    # Not enough data to decide (an eval set too small, too few seeds): the interval
    # straddles the threshold. It fails its gate unless the gate or the command relaxes it.
    INCONCLUSIVE = "inconclusive"

    @property
    def fails_gate(self) -> bool:
        """Whether this status fails a gate under the default policy.

        A crashed check fails the gate too (nothing hides behind an exception), and so does
        an undecided one: a gate that cannot decide has not passed. ``gate_fails`` applies
        the relaxations (``on_inconclusive = "warn"``, ``--allow-inconclusive``).
        """
        return self in (Status.FAIL, Status.ERROR, Status.INCONCLUSIVE)


@dataclass(frozen=True)
class Interval:
    """The uncertainty of a value: ``[low, high]`` at confidence ``level`` (0.95 = 95%)."""

    low: float
    high: float
    level: float = 0.95

    def __post_init__(self) -> None:
        if not (0.0 < self.level < 1.0):
            raise ValueError(f"an interval's level lies in (0, 1), not {self.level!r}")
        if self.low > self.high:
            raise ValueError(f"an interval needs low <= high, got [{self.low}, {self.high}]")

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": finite_number(self.low),
            "high": finite_number(self.high),
            "level": self.level,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Interval | None:
        if not data or data.get("low") is None or data.get("high") is None:
            return None
        return cls(float(data["low"]), float(data["high"]), float(data.get("level", 0.95)))


@dataclass(frozen=True)
class Evidence:
    """What a person looks at. ``items`` holds every flagged item, ranked; views show the top."""

    kind: str  # "samples", "pairs", "groups", "parameters", "inputs", "table", "plot"
    items: list[Any]
    total: int
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "items": to_json_safe(list(self.items)),
            "total": int(self.total),
        }
        if self.description:
            data["description"] = self.description
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        return cls(
            kind=data["kind"],
            items=list(data["items"]),
            total=int(data["total"]),
            description=data.get("description", ""),
        )


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    status: Status
    summary: str
    value: float | None = None
    threshold: float | None = None
    evidence: list[Evidence] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # When one check yields several results (a parity target, a metric, a slice): which one.
    subject: str | None = None
    # The sample size behind ``value`` and its uncertainty, where noise matters.
    n: int | None = None
    interval: Interval | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            object.__setattr__(self, "status", Status(self.status))

    @property
    def key(self) -> str:
        """``check_id``, or ``check_id[subject]`` for one subject of a check."""
        return self.check_id if self.subject is None else f"{self.check_id}[{self.subject}]"

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON types only (the form the store and every view take)."""
        return {
            "check_id": self.check_id,
            "subject": self.subject,
            "status": self.status.value,
            "summary": str(self.summary),
            "value": finite_number(self.value),
            "threshold": finite_number(self.threshold),
            "n": None if self.n is None else int(self.n),
            "interval": None if self.interval is None else self.interval.to_dict(),
            "evidence": [e.to_dict() for e in self.evidence],
            "details": to_json_safe(dict(self.details)),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        """Read a result written by this or an earlier dlqa (v1 results have no subject, n
        or interval)."""
        return cls(
            check_id=data["check_id"],
            status=Status(data["status"]),
            summary=data["summary"],
            value=data.get("value"),
            threshold=data.get("threshold"),
            evidence=[Evidence.from_dict(e) for e in data.get("evidence") or []],
            details=dict(data.get("details") or {}),
            subject=data.get("subject"),
            n=data.get("n"),
            interval=Interval.from_dict(data.get("interval")),
        )

    def flagged_ids(self) -> set[str]:
        """Every sample id named by this result's sample, pair or group evidence."""
        ids: set[str] = set()
        for ev in self.evidence:
            for item in ev.items:
                if ev.kind == "samples":
                    ids.add(item["id"] if isinstance(item, dict) else str(item))
                elif ev.kind in ("pairs", "groups"):
                    members = item["ids"] if isinstance(item, dict) else item
                    ids.update(str(m) for m in members)
        return ids
