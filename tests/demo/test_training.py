"""The demo's CNN, loader and training functions, on a small demo project built in tmp_path."""

import math

import pytest

torch = pytest.importorskip("torch")

from dlqa.core.errors import UsageError  # noqa: E402
from dlqa.core.results import Status  # noqa: E402
from dlqa.demo import training  # noqa: E402
from dlqa.demo.build import build_demo_project  # noqa: E402
from dlqa.train.fast import run_fast  # noqa: E402


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return build_demo_project(tmp_path_factory.mktemp("demo"), n_per_class=8)


@pytest.fixture
def in_project(project, monkeypatch):
    monkeypatch.delenv(training.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(training, "DEFAULT_DATA_DIR", None)
    monkeypatch.chdir(project.root)
    return project


def test_build_model_maps_images_to_ten_logits():
    model = training.build_model()
    assert model(torch.zeros(4, 1, 32, 32)).shape == (4, 10)
    assert training.build_model(in_channels=3)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    kinds = {type(module) for module in model.modules()}
    assert torch.nn.BatchNorm2d in kinds and torch.nn.Dropout in kinds


def test_train_and_eval_mode_differ_and_eval_is_deterministic():
    torch.manual_seed(1)
    model = training.build_model()
    images = torch.randn(8, 1, 32, 32)
    model.train()
    in_train = model(images)
    model.eval()
    with torch.no_grad():
        first, second = model(images), model(images)
    assert torch.equal(first, second)
    assert not torch.allclose(in_train, first)


def test_every_parameter_reaches_the_optimizer():
    model = training.build_model()
    optimizer = training.make_optimizer(model.parameters())
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert in_optimizer == {id(p) for p in model.parameters()}


def test_one_batch_reads_the_train_split_next_to_the_working_folder(in_project):
    inputs, targets = training.one_batch()
    assert inputs.shape == (32, 1, 32, 32) and inputs.dtype == torch.float32
    assert targets.shape == (32,) and targets.dtype == torch.int64
    assert int(targets.min()) >= 0 and int(targets.max()) < 10
    assert torch.isfinite(inputs).all()
    again_inputs, again_targets = training.one_batch()
    assert torch.equal(inputs, again_inputs) and torch.equal(targets, again_targets)
    loss = training.loss_fn(training.build_model()(inputs), targets)
    assert loss.ndim == 0 and math.isfinite(loss.item())


def test_undecodable_files_are_skipped(in_project):
    _, labels, ids = training.load_split()
    all_train = sorted(
        path.relative_to(in_project.data_dir).as_posix()
        for path in (in_project.data_dir / "train").rglob("*")
        if path.is_file()
    )
    corrupt = in_project.planted["corrupt"][0]
    assert corrupt in all_train and corrupt not in ids
    assert sorted(ids) == [sample for sample in all_train if sample != corrupt]
    assert len(labels) == len(ids)
    assert all(
        training.CLASS_NAMES[label] == sample.split("/")[1]
        for label, sample in zip(labels, ids, strict=True)
    )


def test_data_folder_from_environment_or_default(project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/ here
    monkeypatch.setattr(training, "DEFAULT_DATA_DIR", None)
    monkeypatch.delenv(training.DATA_DIR_ENV, raising=False)
    with pytest.raises(UsageError, match="no train/ folder"):
        training.one_batch()
    monkeypatch.setenv(training.DATA_DIR_ENV, str(project.data_dir))
    assert training.resolve_data_dir() == project.data_dir.resolve()
    monkeypatch.delenv(training.DATA_DIR_ENV)
    monkeypatch.setattr(training, "DEFAULT_DATA_DIR", project.data_dir)
    assert training.one_batch(batch_size=4)[0].shape == (4, 1, 32, 32)


def test_fast_train_loss_drops_and_passes_the_fast_loop(in_project):
    rng_before = torch.random.get_rng_state()
    losses = training.fast_train(steps=30)
    assert len(losses) == 30 and all(math.isfinite(loss) for loss in losses)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the global RNG is untouched
    assert training.fast_train(steps=30) == losses  # seeded: the same losses again
    result = run_fast(training.fast_train, cwd=in_project.root)
    assert result.status is Status.PASS, result.summary


def test_train_runs_epochs_with_the_monitor_attached(in_project):
    n_train = len(training.load_split()[2])
    run = training.train(epochs=2)
    steps_per_epoch = math.ceil(n_train / 32)
    assert len(run.losses) == 2 * steps_per_epoch
    assert len(run.test_accuracy) == 2 and all(0.0 <= acc <= 1.0 for acc in run.test_accuracy)
    assert run.monitor is not None
    assert run.monitor.steps == 2 * steps_per_epoch and run.monitor.epochs == 2
    assert len(run.monitor.confusion) == 2  # one confusion matrix per epoch
    ids = {result.check_id for result in run.monitor_results}
    assert ids and all(check_id.startswith("monitor.") for check_id in ids)
    by_id = {result.check_id: result for result in run.monitor_results}
    assert by_id["monitor.nonfinite"].status is Status.PASS  # a healthy run stays finite
    without = training.train(epochs=1, monitor=False)
    assert without.monitor is None and without.monitor_results == []
    assert len(without.losses) == steps_per_epoch
