"""False alarms of the data checks on clean, natural images (nothing planted).

Builds (or reuses) the natural set of ``_natural_images.py`` (icons, glyphs, photographs and
their crops, handwritten digits: what the installed packages ship), profiles each of its
datasets with ``profile_source`` and runs every registered data check with its default
parameters. Prints, per check, the samples it flags per 1,000 clean images (over all
datasets, and over each half: ``tune``, on which thresholds were chosen, and ``report``, on
which they were not), what it flagged (ids and reasons), and every near-duplicate pair with
its hash distance so a person can judge it. Ends with ONE JSON line of the figures.

    python benchmarks/false_alarms.py [--datasets clipart,photos] [--show 15]

Thresholds of the image checks were chosen looking at the ``tune`` half only (and at
synthetic blur and exposure changes of it); the ``report`` column is the check on images that
played no part in the choice.

A flag here is not automatically wrong (a gray device icon stored as RGB is grayscale, two
sizes of the same picture are near-duplicates); the printout is there to be judged.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _natural_images import DATASETS, NATURAL_ROOT, build  # noqa: E402

from dlqa.core.registry import all_specs  # noqa: E402
from dlqa.data.context import DataProfile  # noqa: E402
from dlqa.data.profile import profile_source  # noqa: E402
from dlqa.sources.folder import FolderSource  # noqa: E402

# Pair checks: a pair flags both of its samples.
_PAIR_KINDS = ("pairs", "groups")
_PAIRS_IN_JSON = 60


def flagged_ids(result: Any) -> tuple[set[str], list[dict]]:
    """The sample ids a result flags, and its pair/group items (for printing)."""
    ids: set[str] = set()
    pairs: list[dict] = []
    for evidence in result.evidence:
        if evidence.kind == "samples":
            ids.update(item["id"] for item in evidence.items)
        elif evidence.kind in _PAIR_KINDS:
            for item in evidence.items:
                ids.update(item["ids"])
                pairs.append(item)
    return ids, pairs


def run_dataset(folder: Path, work: Path) -> tuple[DataProfile, list[Any]]:
    out = work / f"{folder.name}.parquet"
    profile_source(FolderSource(folder), out)
    profile = DataProfile.from_parquet(out, source=str(folder))
    results = []
    for spec in all_specs("data"):
        if spec.applies_to(profile.modality):
            result = spec.func(profile, spec.resolve_params())
            results.extend(result if isinstance(result, list) else [result])
    return profile, results


def _class_flags(result: Any) -> list[str]:
    """Classes a class-level check names (class balance), from its details."""
    details = result.details or {}
    named: list[str] = []
    for key in ("small_classes", "rare_classes", "wide_recall_intervals"):
        for entry in details.get(key, []) or []:
            text = entry if isinstance(entry, str) else f"{entry['label']}@{entry['split']}"
            if text not in named:  # a class both small and rare is named once
                named.append(text)
    return named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--show", type=int, default=15, help="flagged ids printed per check")
    args = parser.parse_args()

    started = time.perf_counter()
    manifest = build()
    halves = {f"{entry['dataset']}/{entry['file']}": entry["half"] for entry in manifest["files"]}
    datasets = [name for name in args.datasets.split(",") if name]
    print("natural set:", json.dumps(manifest["counts"]))
    print("pixel-identical files kept once:", json.dumps(manifest["duplicates_dropped"]))

    n_images: Counter[str] = Counter()
    flags: dict[str, Counter[str]] = {}
    statuses: dict[str, dict[str, str]] = {}
    near_pairs: list[dict] = []
    class_flags: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in datasets:
            profile, results = run_dataset(NATURAL_ROOT / dataset, Path(tmp))
            for sample_id in profile.ids:
                n_images["all"] += 1
                n_images[halves[f"{dataset}/{sample_id}"]] += 1
            print(f"\n=== {dataset}: {profile.n} images")
            for result in results:
                ids, pairs = flagged_ids(result)
                counter = flags.setdefault(result.check_id, Counter())
                for sample_id in ids:
                    counter["all"] += 1
                    counter[halves[f"{dataset}/{sample_id}"]] += 1
                statuses.setdefault(result.check_id, {})[dataset] = str(result.status)
                named = _class_flags(result)
                if named:
                    class_flags.setdefault(result.check_id, []).extend(
                        f"{dataset}:{name}" for name in named
                    )
                if not ids and not named:
                    continue
                print(f"  {result.check_id} [{result.status}] {result.summary}")
                shown = 0
                for evidence in result.evidence:
                    if evidence.kind != "samples":
                        continue
                    for item in evidence.items[: args.show]:
                        print(f"      {item['id']}  {item.get('reason', '')}")
                        shown += 1
                if result.check_id == "data.near_duplicates":
                    for item in pairs:
                        near_pairs.append({"dataset": dataset, **item})
                        print(f"      pair d={item['distance']}: {item['ids'][0]}  ~  "
                              f"{item['ids'][1]}")  # fmt: skip
    elapsed = time.perf_counter() - started

    def per_thousand(count: int, total: int) -> float:
        return round(1000 * count / total, 2) if total else 0.0

    print(f"\nflags per 1,000 clean images ({n_images['all']} images: "
          f"{n_images['tune']} tune, {n_images['report']} report)")  # fmt: skip
    print(f"  {'check':<26}{'all':>8}{'tune':>8}{'report':>8}")
    figures: dict[str, dict[str, float]] = {}
    for check_id in sorted(flags):
        counter = flags[check_id]
        figures[check_id] = {
            half: per_thousand(counter[half], n_images[half]) for half in ("all", "tune", "report")
        }
        row = figures[check_id]
        print(f"  {check_id:<26}{row['all']:>8}{row['tune']:>8}{row['report']:>8}")
    for check_id, named in class_flags.items():
        print(f"  {check_id} names classes: {', '.join(named)}")
    print(f"\nnear-duplicate pairs on the clean set: {len(near_pairs)}")
    summary = {
        "benchmark": "false_alarms",
        "images": dict(n_images),
        "datasets": datasets,
        "flags_per_1000": figures,
        "flagged_samples": {check_id: dict(counter) for check_id, counter in flags.items()},
        "statuses": statuses,
        "class_flags": class_flags,
        "near_duplicate_pairs_per_dataset": dict(Counter(p["dataset"] for p in near_pairs)),
        # the closest pairs (all of them when few): enough to judge without flooding the line
        "near_duplicate_pairs": [
            [p["dataset"], *p["ids"], p["distance"]]
            for p in sorted(near_pairs, key=lambda p: p["distance"])[:_PAIRS_IN_JSON]
        ],
        "seconds": round(elapsed, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
