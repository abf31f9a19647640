"""The DataLoader batch API: one bounded pass into small statistics, batch layouts, the
declarations, bad input as a UsageError, and a stored, reported run."""

import numpy as np
import pytest
import torch

import dlqa
from dlqa.core.errors import UsageError
from dlqa.core.results import Status
from dlqa.data.batch_mix import class_mix, expected_classes
from dlqa.data.batches import CHECK_IDS, check_batches, collect_batches, declarations
from dlqa.runner import run_batch_checks
from dlqa.store import open_store
from tests.data.batch_images import DECLARED, IMAGES, MEAN, STD, DigitImages, loader


def by_id(results):
    return {r.check_id: r for r in results}


def test_one_pass_stops_at_max_batches_and_keeps_statistics_not_samples():
    pulled = []

    def batches():
        for i, batch in enumerate(loader()):
            pulled.append(i)
            yield batch

    context = collect_batches(batches(), declarations(max_batches=5, preview=3, **DECLARED))
    assert pulled == [0, 1, 2, 3, 4] and context.reached_limit
    assert context.n_samples == 100 and len(context.preview) == 3
    assert context.channel_axis == 1 and context.channels.channels == 3
    # the pooled moments are those of the normalised values (mean ~0, std ~1 per channel)
    np.testing.assert_allclose(context.channels.mean, 0, atol=0.15)
    np.testing.assert_allclose(context.channels.std, 1, atol=0.15)
    assert context.meta() == {"batches": 5, "samples": 100, "input_shape": [20, 3, 16, 16],
                              "input_dtype": "float32", "stopped_at_max_batches": True}  # fmt: skip


def test_dict_batches_channels_last_and_bare_tensors():
    x = (IMAGES[:64].astype(np.float32) / 255 - np.array(MEAN, np.float32)) / np.array(
        STD, np.float32
    )
    labels = np.arange(64) % 10
    dicts = [
        {"pixel_values": torch.from_numpy(x[i : i + 16]), "labels": torch.from_numpy(y)}
        for i, y in zip(range(0, 64, 16), np.split(labels, 4), strict=True)
    ]
    results = by_id(check_batches(dicts, **DECLARED))
    assert results["data.batch_normalization"].status is Status.PASS  # (N, H, W, C) found
    assert results["data.batch_labels"].status is Status.PASS
    assert results["data.batch_preview"].status is Status.PASS
    keyed = [{"img": b["pixel_values"], "y": b["labels"]} for b in dicts]
    results = by_id(check_batches(keyed, input_key="img", label_key="y", **DECLARED))
    assert results["data.batch_labels"].n == 64
    bare = by_id(check_batches([torch.from_numpy(x[:16])] * 3, mean=MEAN, std=STD))
    assert bare["data.batch_labels"].status is Status.SKIP
    assert bare["data.batch_class_mix"].status is Status.SKIP


@pytest.mark.parametrize(
    ("batches", "declared", "message"),
    [
        (42, {}, "int, which cannot be iterated"),
        (torch.zeros(4, 3), {}, "not an iterable of batches"),
        (["not a batch"], {}, "batch 0 is a str"),
        ([{"pixels": torch.zeros(2, 3)}], {}, "without the input key"),
        ([{"x": torch.zeros(2, 3)}], {"label_key": "y"}, "without the label key 'y'"),
        ([(torch.zeros(2, 3), torch.zeros(2))], {"class_names": []}, "class_names is empty"),
        ([(torch.zeros(2, 3), torch.zeros(2))], {"class_names": "cat"}, "list of names"),
        ([(torch.zeros(2, 3), torch.zeros(2))], {"mean": (0.5,)}, "both mean and std"),
        ([(torch.zeros(2, 3), torch.zeros(2))], {"mean": 0.5, "std": 0}, "positive"),
        ([(torch.zeros(2, 5), torch.zeros(2))], {"mean": (0.1,) * 3, "std": (0.2,) * 3},
         "no channel axis of that size"),
        ([(torch.zeros(2, 3), torch.zeros(2))], {"max_batches": 0}, "max_batches"),
    ],
)  # fmt: skip
def test_bad_input_is_a_usage_error_that_says_what_is_wrong(batches, declared, message):
    with pytest.raises(UsageError, match=message):
        check_batches(batches, **declared)


def test_an_unknown_declaration_is_a_usage_error_naming_it(tmp_path):
    store = open_store(project_dir=tmp_path)
    with pytest.raises(UsageError, match="unknown batch declaration"):
        run_batch_checks(loader(), store=store, class_nams=["a"])
    with pytest.raises(UsageError, match="not an iterable"):
        check_batches(loader(), decoded=torch.zeros(3))


def test_an_empty_loader_fails_the_shape_check_and_skips_the_rest():
    empty = torch.utils.data.DataLoader(torch.utils.data.Subset(DigitImages(), []), batch_size=4)
    results = by_id(check_batches(empty, **DECLARED))
    assert results["data.batch_shapes"].status is Status.FAIL
    assert "yielded no batches" in results["data.batch_shapes"].summary
    others = {r.status for key, r in results.items() if key != "data.batch_shapes"}
    assert others <= {Status.SKIP, Status.INCONCLUSIVE}


def test_inputs_that_are_lists_fail_the_dtype_check_without_a_crash():
    listed = [([torch.zeros(3, 8, 8), torch.zeros(3, 9, 9)], torch.tensor([0, 1]))] * 3
    results = by_id(check_batches(listed, class_names=["a", "b"]))
    assert results["data.batch_dtype"].status is Status.FAIL
    assert "not tensors" in results["data.batch_dtype"].summary
    assert all(r.status is not Status.ERROR for r in results.values())


def test_the_permutation_test_is_calibrated_on_shuffled_labels():
    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(4), 40)
    small = []
    for _ in range(40):
        order = rng.permutation(labels)
        batches = [np.unique(order[i : i + 16], return_counts=True) for i in range(0, 160, 16)]
        small.append(class_mix(batches, permutations=199, seed=int(rng.integers(1 << 30))))
    p_values = np.array([m.p_value for m in small])
    assert (p_values <= 0.05).mean() <= 0.15  # about 5 % expected: no systematic false alarm
    assert np.all(np.abs([m.effect for m in small]) < 0.1)
    sorted_batches = [np.unique(labels[i : i + 16], return_counts=True) for i in range(0, 160, 16)]
    clustered = class_mix(sorted_batches, permutations=199)
    assert clustered.p_value == 1 / 200 and clustered.effect > 0.8


def test_expected_classes_per_batch_is_the_hypergeometric_expectation():
    counts = np.array([50, 30, 15, 5])
    rng = np.random.default_rng(0)
    pool = np.repeat(np.arange(4), counts)
    simulated = np.mean([len(np.unique(rng.choice(pool, 8, replace=False))) for _ in range(4000)])
    assert expected_classes(8, counts) == pytest.approx(simulated, abs=0.05)
    assert expected_classes(100, counts) == pytest.approx(4.0)


def test_check_batches_is_part_of_the_public_api():
    assert dlqa.check_batches is check_batches


def test_run_batch_checks_stores_the_run_and_writes_an_html_report(tmp_path):
    store = open_store(project_dir=tmp_path)
    run = run_batch_checks(
        loader(shuffle=False), store=store, report_dir=tmp_path / "reports",
        formats=("html", "json"), **DECLARED,
    )  # fmt: skip
    assert run.exit_code == 1  # the unshuffled loader fails its gate
    stored = store.results_for_run(run.run_id)
    assert [r.check_id for r in stored] == list(CHECK_IDS)
    assert by_id(stored)["data.batch_class_mix"].status is Status.FAIL
    record = store.get_run(run.run_id)
    assert record.kind == "data.batches" and record.status == "finished"
    assert run.report.meta["samples"] == 400
    html = run.written["html"].read_text()
    assert "data.batch_class_mix" in html and "data.batch_preview" in html
    preview = by_id(stored)["data.batch_preview"].evidence[0].items[0]
    assert preview["data_uri"].startswith("data:image/png;base64,")
    # The preview passes, and still shows: the grid is embedded in the HTML.
    assert "Passed, with evidence to look at" in html and preview["data_uri"][:200] in html
    assert run.written["json"].exists()


def test_without_torch_the_checks_say_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    with pytest.raises(UsageError, match="need PyTorch") as info:
        check_batches([(np.zeros((2, 3)), np.zeros(2))])
    assert "pip install 'dlqa[torch]'" in str(info.value)
