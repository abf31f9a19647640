"""Data QA: per-sample probes, the profile table, dataset checks, snapshots and diffs."""
