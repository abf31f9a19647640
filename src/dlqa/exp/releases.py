"""Releases: the metrics of each released model on the fixed eval suites, and a gate that fails
when a release is worse than the one before beyond noise.

A metric of a release is either seed values (a seed group per release where training is
involved) or one value from an eval suite, with its interval (e.g. the Wilson interval of an
accuracy) or its sample size ``n`` for a proportion. :func:`release_regression` compares two
releases metric by metric:

* seeds on both sides: Welch's t-test (:func:`dlqa.exp.stats.compare`);
* otherwise, each side as an interval at ``1 - alpha`` (a single value's own interval,
  rescaled to that level; a proportion with ``n`` and no interval: its Wilson interval; seeds:
  the t interval of their mean), combined by square-and-add (MOVER, Zou & Donner 2008). For
  two Wilson intervals this is Newcombe's hybrid score interval for a difference of
  proportions (his method 10), which keeps its coverage at small ``n`` and near 0 or 1 where
  the two-proportion z-test does not. The p-value is read off the same interval (the side
  facing zero as a normal half-width), so "p < alpha" and "the interval excludes 0" agree.

Both releases usually ran on the *same* eval suite, so their errors are positively
correlated and these unpaired intervals are conservative: a flagged regression is real, a
small one may pass. The regressions are Holm-corrected over the metrics, as ``exp.compare``
does. A side with one value and neither interval nor ``n`` cannot be judged: inconclusive.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from html import escape
from numbers import Real
from typing import Any

from scipy.special import stdtrit

from dlqa.core.intervals import wilson_interval_of, z_of
from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.exp.stats import compare, holm

CHECK_ID = "exp.release_regression"
NOT_ENOUGH_DATA = "not enough data: one release"


@dataclass
class Release:
    """One release's metrics and where they came from. ``metrics``: name -> seed values (a
    single number is one value); ``intervals``: name -> (low, high) at ``level`` for a
    single value with a known interval; ``n``: name -> the eval-set size behind it."""

    version: str
    metrics: dict[str, list[float]]
    created_at: str | None = None
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)
    level: float = 0.95
    environment: dict[str, Any] | None = None
    git: dict[str, Any] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version.strip():
            raise ValueError(f"a release needs a version, not {self.version!r}")
        if not isinstance(self.metrics, Mapping) or not self.metrics:
            raise ValueError(f"release {self.version}: no metrics recorded")
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"release {self.version}: level lies in (0, 1), not {self.level!r}")
        self.metrics = {m: self._values(m, v) for m, v in self.metrics.items()}
        for extra, what in ((self.intervals, "an interval"), (self.n, "a sample size")):
            unknown = sorted(set(extra) - set(self.metrics))
            if unknown:
                raise ValueError(f"release {self.version}: {what} for unknown metric(s) {unknown}")
        self.intervals = {m: self._interval(m, iv) for m, iv in self.intervals.items()}
        for m, count in self.n.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"release {self.version}: n of {m} is a count >= 1: {count!r}")

    def _values(self, metric: Any, values: Any) -> list[float]:
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"release {self.version}: metric names are strings, not {metric!r}")
        items: Any = [values] if isinstance(values, Real) else values
        if not isinstance(items, str | bytes | Mapping) and isinstance(items, Iterable):
            items = list(items)
        if not isinstance(items, list) or not items or not all(_finite(v) for v in items):
            raise ValueError(
                f"release {self.version}: {metric} is a finite number or a list of them (one "
                f"per seed), not {values!r}"
            )
        return [float(v) for v in items]

    def _interval(self, metric: str, interval: Any) -> tuple[float, float]:
        ok = isinstance(interval, Sequence) and len(interval) == 2
        low, high = (float(interval[0]), float(interval[1])) if ok else (math.nan, math.nan)
        values = self.metrics[metric]
        inside = len(values) > 1 or low <= values[0] <= high
        if not (ok and all(_finite(v) for v in interval) and low <= high and inside):
            raise ValueError(
                f"release {self.version}: the interval of {metric} is (low, high) around its "
                f"value {values[0]:g}, not {interval!r}"
            )
        return low, high

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["intervals"] = {m: list(iv) for m, iv in self.intervals.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Release:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["intervals"] = {m: tuple(iv) for m, iv in (known.get("intervals") or {}).items()}
        return cls(**known)


def _finite(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class _Side:
    value: float
    low: float | None
    high: float | None
    kind: str  # "seeds", "interval", "proportion" or "single"
    n: int | None


def _side(release: Release, metric: str, level: float) -> _Side:
    """A metric of a release as a value and its interval at ``level`` (see the module)."""
    values = release.metrics[metric]
    n = release.n.get(metric)
    if len(values) > 1:
        mean = sum(values) / len(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        half = float(stdtrit(len(values) - 1, 0.5 + level / 2.0)) * sd / math.sqrt(len(values))
        return _Side(mean, mean - half, mean + half, "seeds", len(values))
    value = values[0]
    if metric in release.intervals:
        low, high = release.intervals[metric]
        scale = z_of(level) / z_of(release.level)
        return _Side(value, value - (value - low) * scale, value + (high - value) * scale,
                     "interval", n)  # fmt: skip
    if n is not None and 0.0 <= value <= 1.0:
        iv = wilson_interval_of(value, n, level)
        return _Side(value, iv.low, iv.high, "proportion", n)
    return _Side(value, None, None, "single", n)


def release_regression(
    previous: Release,
    current: Release,
    *,
    higher_is_better: Mapping[str, bool] | None = None,
    alpha: float = 0.05,
    environment_diff: Callable[[Any, Any], list[str]] | None = None,
    n_resamples: int = 10_000,
) -> list[CheckResult]:
    """One ``exp.release_regression`` result per metric (its subject): FAIL when ``current``
    is worse than ``previous`` beyond noise, INCONCLUSIVE when that cannot be judged (or a
    metric vanished), SKIP for a metric new in ``current``, PASS otherwise. Metrics missing
    from ``higher_is_better`` are higher-is-better. Every result carries the environment
    differences (``environment_diff(previous.environment, current.environment)``)."""
    if previous.version == current.version:
        raise ValueError(f"both releases are version {current.version}: compare two releases")
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha lies in (0, 0.5), not {alpha!r}")
    better = dict(higher_is_better or {})
    unknown = sorted(set(better) - set(previous.metrics) - set(current.metrics))
    if unknown or any(not isinstance(v, bool) for v in better.values()):
        raise ValueError(f"higher_is_better maps metrics of the releases to True/False: {better}")
    env = []
    if environment_diff is not None and (previous.environment or current.environment):
        env = list(environment_diff(previous.environment or {}, current.environment or {}))
    evidence = [Evidence("table", [{"difference": d} for d in env], len(env),
                         "environment differences")] if env else []  # fmt: skip
    names = list(dict.fromkeys([*previous.metrics, *current.metrics]))
    tests: dict[str, dict[str, Any]] = {}
    for m in names:
        if m in previous.metrics and m in current.metrics:
            tests[m] = _test(previous, current, m, better.get(m, True), alpha, n_resamples)
    decided = [m for m in tests if tests[m].get("p_value") is not None]
    kept = dict(zip(decided, holm([tests[m]["p_value"] for m in decided], alpha), strict=True))
    head = f"{previous.version} -> {current.version}"
    results = []
    for m in names:
        base = {"previous": previous.version, "current": current.version, "metric": m}
        if m not in current.metrics:
            status, t = Status.INCONCLUSIVE, {}
            summary = f"recorded in {previous.version} but missing from {current.version}: "
            summary += "a regression cannot be ruled out"
        elif m not in previous.metrics:
            status, t = Status.SKIP, {}
            summary = f"new in {current.version}: nothing to compare with"
        else:
            t = tests[m]
            status, summary = _verdict(t, kept.get(m, False), alpha, len(decided))
            if status is Status.FAIL and env:
                more = f" (+{len(env) - 3} more)" if len(env) > 3 else ""
                summary += f"; the environment changed: {'; '.join(env[:3])}{more}"
        ci, own = t.get("ci"), t.pop("evidence", [])
        results.append(
            CheckResult(
                CHECK_ID, status, f"{m}: {head}: {summary}", value=t.get("difference"),
                interval=None if ci is None else Interval(min(ci), max(ci), 1.0 - alpha),
                n=t.get("n"), subject=m, evidence=evidence + own,
                details={**base, **t, "environment_diff": env},
            )
        )  # fmt: skip
    return results


def _test(
    previous: Release, current: Release, m: str, hib: bool, alpha: float, n_resamples: int
) -> dict[str, Any]:
    pv, cv = previous.metrics[m], current.metrics[m]
    found: dict[str, Any] = {"higher_is_better": hib, "previous_values": pv, "current_values": cv}
    if len(pv) > 1 and len(cv) > 1:
        c = compare(pv, cv, higher_is_better=hib, alpha=alpha, n_resamples=n_resamples)
        groups = [
            {"group": previous.version, "role": "baseline", "values": pv},
            {"group": current.version, "role": "candidate", "values": cv,
             "difference": c.difference, "ci": None if c.ci is None else list(c.ci),
             "ci_level": 1.0 - alpha, "higher_is_better": hib},
        ]  # fmt: skip
        found.update(method="welch", difference=c.difference, ci=c.ci, p_value=c.p_value)
        found.update(n=len(pv) + len(cv), evidence=[Evidence("seed_groups", groups, 2)])
        return found
    a, b = _side(previous, m, 1.0 - alpha), _side(current, m, 1.0 - alpha)
    d = b.value - a.value
    same = a.kind == b.kind and a.n is not None and b.n is not None  # seeds + eval n: no sum
    found.update(difference=d, n=a.n + b.n if same else None)
    missing = [r.version for r, s in ((previous, a), (current, b)) if s.low is None]
    if missing:
        found["why"] = (
            f"{' and '.join(missing)} recorded one value of {m} without an interval or n: one "
            "value cannot be told apart from noise"
        )
        return found
    assert a.low is not None and a.high is not None and b.low is not None and b.high is not None
    low = d - math.hypot(b.value - b.low, a.high - a.value)  # MOVER (square-and-add)
    high = d + math.hypot(b.high - b.value, a.value - a.low)
    facing = d - low if d > 0 else high - d
    z = z_of(1.0 - alpha)
    p = 1.0 if d == 0 else 0.0 if facing == 0 else math.erfc(abs(d) * z / facing / math.sqrt(2))
    method = "newcombe" if a.kind == b.kind == "proportion" else "mover"
    found.update(method=method, ci=(low, high), p_value=p)
    return found


def _verdict(t: dict[str, Any], kept: bool, alpha: float, k: int) -> tuple[Status, str]:
    if t.get("p_value") is None:
        return Status.INCONCLUSIVE, t["why"]
    d, p, ci = t["difference"], t["p_value"], t.get("ci")
    worse = (d < 0) == t["higher_is_better"] and d != 0
    numbers = f"{d:+.4g}" + ("" if ci is None else f" [{ci[0]:.4g}, {ci[1]:.4g}]")
    numbers, by = numbers + f", p = {p:.3g}", f"; {t['method']}"
    if p < alpha and worse and kept:
        return Status.FAIL, f"regressed by {abs(d):.4g} beyond noise ({numbers}{by})"
    if p < alpha and worse:
        return Status.INCONCLUSIVE, (
            f"worse by {abs(d):.4g} ({numbers}{by}), but not after Holm correction over {k} metrics"
        )
    if p < alpha:
        return Status.PASS, f"improved by {abs(d):.4g} ({numbers}{by})"
    return Status.PASS, f"within noise ({numbers} >= {alpha:g}{by})"


def release_history(releases: Sequence[Release], level: float = 0.95) -> list[dict[str, Any]]:
    """One row per metric per release (in the order given, oldest first): the value (the mean
    of seeds), its interval at ``level``, n, and the change from the previous release with
    that metric. With one release each row's ``note`` says NOT_ENOUGH_DATA (nothing to
    plot or judge). Raises ``ValueError`` on no releases or a version given twice."""
    releases = list(releases)
    if not releases:
        raise ValueError("no releases recorded: record one with `dlqa release record VERSION`")
    seen: set[str] = set()
    for r in releases:
        if r.version in seen:
            raise ValueError(f"release {r.version} appears twice: one version, one release")
        seen.add(r.version)
    note = NOT_ENOUGH_DATA if len(releases) == 1 else None
    rows, last = [], {}
    for r in releases:
        for m in r.metrics:
            s = _side(r, m, level)
            change = None if m not in last else s.value - last[m]
            rows.append({
                "version": r.version, "created_at": r.created_at, "metric": m,
                "value": s.value, "low": s.low, "high": s.high, "level": level, "n": s.n,
                "kind": s.kind, "values": list(r.metrics[m]), "change": change, "note": note,
            })  # fmt: skip
            last[m] = s.value
    return rows


WIDTH, HEIGHT = 640, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 72, 24, 36, 56
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _esc(text: Any, limit: int = 60) -> str:
    """Text for an SVG text node or attribute: control characters (invalid in XML even
    escaped) dropped, cut at ``limit`` characters, markup escaped."""
    clean = _CONTROL.sub("", str(text))
    return escape(clean if len(clean) <= limit else clean[: limit - 1] + "…", quote=True)


def history_svg(rows: Sequence[Mapping[str, Any]], metric: str) -> str | None:
    """An inline SVG of ``metric`` over the releases of ``rows`` (from :func:`release_history`):
    a point per release joined by a line, its interval as a bar. None with fewer than two
    releases (nothing to plot). No script, ids or external resources; every text escaped."""
    points = [r for r in rows if r.get("metric") == metric and _finite(r.get("value"))]
    if len(points) < 2:
        return None
    spans = [float(r["value"]) for r in points]
    spans += [float(r[k]) for r in points for k in ("low", "high") if _finite(r.get(k))]
    lo, hi = min(spans), max(spans)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + (i + 0.5) * plot_w / len(points)

    def y(v: float) -> float:
        return _TOP + (hi - v) / (hi - lo) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{_esc(metric)} over {len(points)} releases" font-family="sans-serif" '
        'font-size="11">',
        f'<text x="{_LEFT}" y="20" font-size="13" fill="#1f2328">{_esc(metric)} by release</text>',
    ]
    for j in range(5):
        v = lo + (hi - lo) * j / 4
        out.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#d0d7de"/><text x="{_LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
            f'fill="#57606a">{v:.4g}</text>'
        )
    line = " ".join(f"{x(i):.1f},{y(float(r['value'])):.1f}" for i, r in enumerate(points))
    out.append(f'<polyline points="{line}" fill="none" stroke="#0072b2" stroke-width="1.5"/>')
    step = max(1, math.ceil(len(points) / 12))
    for i, r in enumerate(points):
        value, cx = float(r["value"]), x(i)
        tip = f"{r.get('version')}: {value:.4g}"
        bar = ""
        if _finite(r.get("low")) and _finite(r.get("high")):
            y0, y1 = y(float(r["low"])), y(float(r["high"]))
            tip += f" [{float(r['low']):.4g}, {float(r['high']):.4g}]"
            bar = (
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y0:.1f}" y2="{y1:.1f}" stroke="#0072b2"/>'
                + "".join(
                    f'<line x1="{cx - 4:.1f}" x2="{cx + 4:.1f}" y1="{yy:.1f}" y2="{yy:.1f}" '
                    'stroke="#0072b2"/>'
                    for yy in (y0, y1)
                )
            )
        out.append(
            f'<g><title>{_esc(tip, 120)}</title>{bar}<circle cx="{cx:.1f}" '
            f'cy="{y(value):.1f}" r="4" fill="#0072b2"/></g>'
        )
        if i % step == 0:
            out.append(
                f'<text x="{cx:.1f}" y="{HEIGHT - _BOTTOM + 18}" text-anchor="middle" '
                f'fill="#1f2328">{_esc(r.get("version"), 14)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


__all__ = [
    "CHECK_ID",
    "NOT_ENOUGH_DATA",
    "Release",
    "history_svg",
    "release_history",
    "release_regression",
]
