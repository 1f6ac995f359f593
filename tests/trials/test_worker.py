"""A Ray worker keeps the data set on its device across trials and pays start-up once."""

import dataclasses

import pytest
import torch

from search_space.spec import ArchSpec
from trials.running import worker
from trials.config import TrainingConfig
from trials.data import DataConfig, load_data
from trials.running.protocol import TrialJob, TrialReport
from trials.training.train import train_spec

DATA = DataConfig(dataset="fashion-mnist", subset=400, val_fraction=0.25)
SPEC = dict(backbone="plain", width=8, depth=1, side_channels=16, fusion_site="gap", fusion="lc", alpha=1,
            combination="single")


@pytest.fixture(scope="module")
def ray_local():
    import ray

    if ray.is_initialized():  # another test's search left its Ray running: use it
        yield ray
        return
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _job(number: int, replicates: int = 1) -> dict:
    training = dataclasses.asdict(TrainingConfig(batch_size=64, lr=0.05, replicates=replicates, seed=3))
    return TrialJob(number=number, params=ArchSpec.from_params(SPEC).to_params(), training=training, epochs=2,
                    cpus_per_trial=1, gpus_per_trial=0, latency_batch=1, weights_dir=None).to_dict()


def test_trials_in_one_worker_share_its_resident_data_and_train_as_alone(ray_local, monkeypatch):
    from ray import tune

    reports: list[dict] = []
    monkeypatch.setattr(tune, "report", reports.append)
    monkeypatch.setattr(worker, "_RESIDENT", {})
    monkeypatch.setattr(worker, "_LATENCY", {})
    data = load_data(DATA)
    handle = worker.share_data(DATA, data)
    fetches = []
    real_get = ray_local.get
    monkeypatch.setattr(ray_local, "get", lambda ref, **kw: fetches.append(ref) or real_get(ref, **kw))

    seen = []
    for number in (0, 1):  # two trials in this one process, as a reused actor runs them
        worker.run_trial(_job(number), handle)
        resident = worker.resident_data(handle, torch.device("cpu"))
        seen.append((resident.x_train.data_ptr(), resident.x_val.data_ptr(), id(resident)))
    assert seen[0] == seen[1]  # the same tensors, not a copy per trial
    assert len(fetches) == 1  # one object-store fetch for the worker, at its first trial

    finals = [TrialReport.from_result(r) for r in reports if r["final"]]
    assert [f.error for f in finals] == [None, None]
    assert finals[0].latency_ms == finals[1].latency_ms  # measured once per spec, not per trial
    alone = train_spec(ArchSpec.from_params(SPEC), data, TrainingConfig(**_job(0)["training"]), 2)
    assert finals[0].val_accuracy_history == finals[1].val_accuracy_history == alone.history
    assert all(len(f.train_timeline) == 2 for f in finals)


def test_another_data_set_replaces_the_resident_one(ray_local, monkeypatch):
    monkeypatch.setattr(worker, "_RESIDENT", {})
    small = DataConfig(dataset="fashion-mnist", subset=200, val_fraction=0.25)
    a = worker.resident_data(worker.share_data(DATA, load_data(DATA)), torch.device("cpu"))
    b = worker.resident_data(worker.share_data(small, load_data(small)), torch.device("cpu"))
    assert len(a.x_train) == 300 and len(b.x_train) == 150
    assert list(worker._RESIDENT) == ["cpu"] and worker._RESIDENT["cpu"][1] is b


def test_the_probe_model_is_replicate_zero(monkeypatch):
    """Reusing the latency probe's model changes no result: same curves for 2 replicates."""
    data = load_data(DATA)
    spec = ArchSpec.from_params(SPEC)
    cfg = TrainingConfig(batch_size=64, lr=0.05, replicates=2, seed=5)
    torch.manual_seed(cfg.seed)
    from search_space.build import build_model
    from search_space.cost import measure_latency

    probe = build_model(spec, data.num_classes, data.in_channels, data.image_size)
    with torch.random.fork_rng(devices=[]):
        measure_latency(probe, data.in_channels, data.image_size)
    reused = train_spec(spec, data, cfg, 2, first_model=probe)
    fresh = train_spec(spec, data, cfg, 2)
    assert reused.history_by_replicate == fresh.history_by_replicate
