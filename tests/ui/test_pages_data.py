"""The dashboard's data pages: snapshots, one snapshot with its per-sample table a page at a time,
the diff of two snapshots, and stored artifacts; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.modalities import get_modality, profile_schema
from dlqa.sources.folder import display_name
from dlqa.store import Store
from dlqa.ui.data_views import diff_path, warm_recent_diffs

ROWS_PER_GROUP = 2048  # as dlqa.data.profile writes them
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def write_table(path: Path, ids: list[str], **columns: list[Any]) -> Path:
    """A per-sample table with the image profile's schema, ``columns`` given, the rest null."""
    schema = profile_schema(get_modality("image"), [])
    values = {"sample_id": ids, "sha256": [f"h-{i}" for i in ids], **columns}
    arrays = [
        pa.array(values[field.name], field.type)
        if field.name in values
        else pa.nulls(len(ids), field.type)
        for field in schema
    ]
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path, row_group_size=ROWS_PER_GROUP)
    return path


def add_snapshot(
    store: Store,
    tmp_path: Path,
    ids: list[str],
    *,
    source: str = "/data/images",
    results: list[CheckResult] | None = None,
    thumbnails: dict[str, str] | None = None,
    **columns: list[Any],
) -> int:
    run_id = store.start_run("data.profile", "dlqa data profile", {})
    store.add_results(run_id, results or [])
    if thumbnails:
        store.set_report_parts(run_id, {"thumbnails": thumbnails})
    store.finish_run(run_id, "finished", 0)
    path = write_table(tmp_path / f"table-{run_id}.parquet", ids, **columns)
    digest = store.artifacts.put_file(path)
    summary = {"n_samples": len(ids), "properties": {"width": None}}
    return store.add_snapshot(run_id, source, f"sha256:{run_id:064x}", len(ids), digest, summary)


def sample_ids_shown(html: str) -> list[str]:
    body = html.split('class="data-samples"', 1)[1]
    return re.findall(r"<tr><td>(?:<img[^>]*>)?</td>\s*<td>([^<]*)</td>", body)


def test_every_data_page_on_an_empty_store(client: Any) -> None:
    page = client.get("/data")
    assert page.status_code == 200 and "No snapshots stored" in page.text
    missing = client.get("/data/snapshots/7")
    assert missing.status_code == 404 and "no snapshot 7" in missing.text
    assert client.get("/data/diff?a=1&b=2").status_code == 404
    assert "?a=ID&amp;b=ID" in client.get("/data/diff").text
    assert client.get("/artifacts/" + "a" * 64).status_code == 404


def test_the_list_links_snapshots_runs_and_diffs(store: Store, client: Any, tmp_path: Path) -> None:
    first = add_snapshot(
        store, tmp_path, ["a.png"], results=[CheckResult("data.x", Status.FAIL, "bad")]
    )
    second = add_snapshot(store, tmp_path, ["a.png", "b.png"])
    other = add_snapshot(store, tmp_path, ["c.png"], source="/data/other")
    page = client.get("/data")
    assert page.status_code == 200
    for snapshot_id in (first, second, other):
        assert f'href="/data/snapshots/{snapshot_id}"' in page.text
    assert f'href="/data/diff?a={first}&amp;b={second}"' in page.text
    assert f"b={other}" not in page.text  # the first snapshot of its source: nothing to diff
    assert "1 fail" in page.text
    compare = client.get(f"/data/snapshots/{second}").text  # a form to diff with another
    assert f'value="{first}"' in compare and f'name="b" value="{second}"' in compare


def test_the_sample_table_reads_only_the_rows_of_the_page(
    store: Store, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"s{i:05d}.png" for i in range(25_000)]
    snapshot_id = add_snapshot(store, tmp_path, ids, label=["cat", "dog"] * 12_500)
    groups_read: list[list[int]] = []
    original = pq.ParquetFile.read_row_groups

    def spy(self: pq.ParquetFile, row_groups: list[int], *args: Any, **kwargs: Any) -> Any:
        groups_read.append(list(row_groups))
        assert "grid" not in (kwargs.get("columns") or [])  # never the wide binary columns
        return original(self, row_groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    monkeypatch.setattr(pq.ParquetFile, "read", lambda *a, **k: pytest.fail("read whole"))
    first = client.get(f"/data/snapshots/{snapshot_id}")
    assert first.status_code == 200
    assert sample_ids_shown(first.text) == ids[:50]
    assert groups_read == [[0]]
    late = client.get(f"/data/snapshots/{snapshot_id}?page=420&per_page=50")
    assert sample_ids_shown(late.text) == ids[20_950:21_000]
    assert groups_read[-1] == [10]  # rows 20,950..20,999 lie in row group 10 (20,480..22,527)
    across = client.get(f"/data/snapshots/{snapshot_id}?page=41&per_page=50")
    assert sample_ids_shown(across.text) == ids[2_000:2_050]
    assert groups_read[-1] == [0, 1]  # the page straddles two row groups
    last = client.get(f"/data/snapshots/{snapshot_id}?page=500")
    assert sample_ids_shown(last.text) == ids[24_950:]
    assert "page 500 of 500" in last.text and 'rel="next"' not in last.text


def test_the_flag_filter_pages_through_flagged_samples_only(
    store: Store, client: Any, tmp_path: Path
) -> None:
    ids = [f"s{i:05d}.png" for i in range(10_000)]
    errors = ["corrupt" if i % 1000 == 7 else None for i in range(10_000)]
    snapshot_id = add_snapshot(store, tmp_path, ids, error=errors)
    page = client.get(f"/data/snapshots/{snapshot_id}?flag=errors&per_page=4")
    assert page.status_code == 200
    assert sample_ids_shown(page.text) == ["s00007.png", "s01007.png", "s02007.png", "s03007.png"]
    assert "10 in all" in page.text
    last = client.get(f"/data/snapshots/{snapshot_id}?flag=errors&per_page=4&page=3")
    assert sample_ids_shown(last.text) == ["s08007.png", "s09007.png"]
    assert "grayscale" in page.text  # the table has is_grayscale: offered as a filter


def test_the_samples_a_check_flagged(
    store: Store, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"s{i:05d}.png" for i in range(5_000)]  # row groups 0..2, in id order
    evidence = [Evidence("pairs", [{"ids": [ids[4_500], ids[12]]}], 1)]
    results = [CheckResult("data.dupes", Status.FAIL, "1 pair", evidence=evidence)]
    snapshot_id = add_snapshot(store, tmp_path, ids, results=results)
    groups_read: list[tuple[list[int], list[str]]] = []
    original = pq.ParquetFile.read_row_groups

    def spy(self: pq.ParquetFile, row_groups: list[int], *args: Any, **kwargs: Any) -> Any:
        groups_read.append((list(row_groups), list(kwargs.get("columns") or [])))
        return original(self, row_groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    page = client.get(f"/data/snapshots/{snapshot_id}?check=data.dupes")
    assert page.status_code == 200
    assert sample_ids_shown(page.text) == [ids[12], ids[4_500]]
    # The id column only of the groups whose id range holds a flagged id (not group 1).
    assert groups_read[0] == ([0, 2], ["sample_id"])
    assert 'href="?check=data.dupes#samples"' in page.text
    none = client.get(f"/data/snapshots/{snapshot_id}?check=data.other")
    assert none.status_code == 200 and "named by data.other" in none.text


def test_problems_and_thumbnails_on_the_snapshot_page(
    store: Store, client: Any, tmp_path: Path
) -> None:
    thumb = store.artifacts.put_bytes(PNG, "image/png")
    results = [
        CheckResult("data.dupes", Status.FAIL, "12 duplicates"),
        CheckResult("data.fine", Status.PASS, "all good"),
        CheckResult("data.blur", Status.WARN, "3 blurry"),
    ]
    snapshot_id = add_snapshot(
        store, tmp_path, ["a.png", "b.png"], results=results, thumbnails={"b.png": thumb}
    )
    run_id = store.get_snapshot(snapshot_id).run_id
    page = client.get(f"/data/snapshots/{snapshot_id}")
    assert page.status_code == 200
    assert "12 duplicates" in page.text and "3 blurry" in page.text
    assert "all good" not in page.text
    assert f'href="/runs/{run_id}' in page.text
    assert page.text.count(f'src="/artifacts/{thumb}"') == 1
    served = client.get(f"/artifacts/{thumb}")
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-disposition"] == "inline"
    assert served.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("media_type", ["text/html", "image/svg+xml", "text/html; charset=utf-8"])
def test_an_artifact_that_could_run_script_is_not_served_as_such(
    store: Store, client: Any, media_type: str
) -> None:
    digest = store.artifacts.put_bytes(
        b"<svg onload=alert(1)><script>alert(1)</script>", media_type
    )
    served = client.get(f"/artifacts/{digest}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["x-content-type-options"] == "nosniff"


def test_bad_digests_are_not_found(store: Store, client: Any) -> None:
    digest = store.artifacts.put_bytes(b"kept", "text/plain")
    store.artifacts.path(digest).unlink()  # pruned: a row without its file
    for path in ("zz", "A" * 64, "0" * 64, digest, "..%2F..%2Fdlqa.db"):
        assert client.get(f"/artifacts/{path}").status_code == 404, path


def test_user_text_is_escaped(store: Store, client: Any, tmp_path: Path) -> None:
    odd_name = display_name("caf\udce9.png")  # a name that is not UTF-8, as sources read it
    snapshot_id = add_snapshot(
        store,
        tmp_path,
        [SCRIPT, IMG, odd_name],
        source=f"/data/{SCRIPT}",
        label=[IMG, SCRIPT, "ok"],
        results=[CheckResult("data.x", Status.FAIL, SCRIPT, subject=IMG)],
    )
    later = add_snapshot(
        store, tmp_path, [IMG, odd_name], source=f"/data/{SCRIPT}", label=["a", "b"]
    )
    for path in (
        "/data",
        f"/data/snapshots/{snapshot_id}",
        f"/data/diff?a={snapshot_id}&b={later}",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert SCRIPT not in page.text and IMG not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
    snapshot = client.get(f"/data/snapshots/{snapshot_id}").text
    assert "caf\\xe9.png" in snapshot and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in snapshot


def test_a_pruned_table_is_a_message_not_an_error(
    store: Store, client: Any, tmp_path: Path
) -> None:
    old = add_snapshot(store, tmp_path, ["a.png"])
    new = add_snapshot(store, tmp_path, ["b.png"])
    store.artifacts.path(store.get_snapshot(old).table_digest).unlink()
    page = client.get(f"/data/snapshots/{old}")
    assert page.status_code == 200 and "is missing from" in page.text
    diff = client.get(f"/data/diff?a={old}&b={new}")
    assert diff.status_code == 404 and "is missing from" in diff.text


def test_the_diff_counts_and_pages_changes_and_keeps_the_diff(
    store: Store, client: Any, tmp_path: Path
) -> None:
    ids = [f"s{i:04d}.png" for i in range(6_000)]
    old = add_snapshot(store, tmp_path, ids, label=["cat"] * 6_000)
    new_ids = ids[100:] + [f"new{i:03d}.png" for i in range(30)]  # 100 removed, 30 added
    new_labels = [
        "dog" if i < 500 else "cat" for i in range(len(new_ids))
    ]  # ids[100:600] relabelled
    hashes = [f"h-{i}" if n % 1000 else "edited" for n, i in enumerate(new_ids)]  # 6 edited
    new = add_snapshot(store, tmp_path, new_ids, label=new_labels, sha256=hashes)
    page = client.get(f"/data/diff?a={old}&b={new}")
    assert page.status_code == 200
    cards = dict(re.findall(r'<div class="muted">([^<]+)</div>([\d,]+)</div>', page.text))
    assert cards == {"Added": "30", "Removed": "100", "Changed": "505", "Label changes": "500"}
    labels = client.get(f"/data/diff?a={old}&b={new}&change=label&page=8&per_page=50")
    rows = re.findall(r"<tr><td>([^<]+)</td><td>label changed</td>", labels.text)
    assert rows == ids[450:500]
    edited = client.get(f"/data/diff?a={old}&b={new}&change=changed")
    assert re.findall(r"<tr><td>([^<]+)</td><td>changed</td><td>content</td>", edited.text) == [
        ids[n + 100] for n in range(1000, 6000, 1000)
    ]
    # Kept: a second request reads the kept diff, even with both tables gone.
    assert diff_path(store, store.get_snapshot(old), store.get_snapshot(new)).is_file()
    for snapshot_id in (old, new):
        store.artifacts.path(store.get_snapshot(snapshot_id).table_digest).unlink()
    again = client.get(f"/data/diff?a={old}&b={new}&change=added")
    assert again.status_code == 200 and "new029.png" in again.text and "s0100.png" not in again.text


def test_snapshots_of_different_sources_are_not_diffed(
    store: Store, client: Any, tmp_path: Path
) -> None:
    one = add_snapshot(store, tmp_path, ["a.png"], source="/data/one")
    two = add_snapshot(store, tmp_path, ["a.png"], source="/data/two")
    page = client.get(f"/data/diff?a={one}&b={two}")
    assert page.status_code == 400
    assert "different sources" in page.text and "/data/one" in page.text


def test_the_dashboard_keeps_recent_diffs_ready(store: Store, client: Any, tmp_path: Path) -> None:
    """`dlqa ui` computes each recent snapshot's diff with its predecessor in the background:
    the link on /data then reads a kept file, even with both tables gone."""
    from dlqa.ui.app import warm_in_background
    from dlqa.ui.web import UiSettings

    ids = [f"s{i:03d}.png" for i in range(300)]
    first = add_snapshot(store, tmp_path, ids, label=["cat"] * 300)
    second = add_snapshot(store, tmp_path, ids[10:], label=["cat"] * 290)
    add_snapshot(store, tmp_path, ids, source="/data/other", label=["cat"] * 300)  # no pair
    warm_in_background(UiSettings(store=store)).join(60)
    old, new = store.get_snapshot(first), store.get_snapshot(second)
    assert diff_path(store, old, new).is_file()
    assert warm_recent_diffs(store) == 0  # nothing left to compute
    for snapshot in (old, new):
        store.artifacts.path(snapshot.table_digest).unlink()
    page = client.get(f"/data/diff?a={first}&b={second}&change=removed")
    assert page.status_code == 200 and "s009.png" in page.text
