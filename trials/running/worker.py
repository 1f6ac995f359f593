"""What a Ray worker runs for one trial: build, time, train, report.

The data come from the driver through Ray's object store, and actors are reused between
trials, so no worker reads or decodes the data set.  A trial gets a ``DataHandle`` (the data
config's key and an object-store reference), not the tensors: the worker process fetches the
data once per data set and keeps it on its device (``resident_data``), so a worker's second
and later trials make no host-to-device copy of the data set and no object-store
deserialisation.  Start-up is paid once per worker too: the latency probe is measured once per
spec and device (``_LATENCY``) and its model is the first replicate's, trained as built; cuDNN's
autotuning of a shape already seen stays cached in the process.  Candidate failures are reported
as results, not raised: Ray's retries are for dead workers, and retrying a NaN loss would only
spend the budget on it again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import traceback
from pathlib import Path
from typing import Any, Callable

import torch

from search_space.cost import measure_latency
from search_space.build import build_model
from search_space.spec import ArchSpec, SpecError
from trials.checked import ConfigError, from_mapping
from trials.config import TrainingConfig
from trials.data import DataConfig, TensorData
from trials.running.protocol import ProtocolError, TrialJob, TrialReport
from trials.training.replicates import choose_mode, train_together
from trials.training.train import CandidateError, pick_device, train_spec


def _describe(err: BaseException) -> str:
    where = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
    at = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}{at}"


@dataclasses.dataclass(frozen=True)
class DataHandle:
    """What Tune passes a trial in place of the data set: which data (``key``) and where the
    driver's loaded tensors lie in Ray's object store (``ref``, fetched only on a cache miss)."""

    key: str
    ref: Any  # ray.ObjectRef of a TensorData; a nested reference, so ray.get of the handle leaves it alone


def data_key(cfg: DataConfig, data: TensorData) -> str:
    """The data config plus a fingerprint of what it loaded (sizes, normalisation), so a file
    that changed between two searches on one Ray is not served from an old copy."""
    return json.dumps([dataclasses.asdict(cfg), len(data.x_train), len(data.x_val), data.mean, data.std],
                      sort_keys=True, default=str)


def share_data(cfg: DataConfig, data: TensorData) -> DataHandle:
    """Put the driver's data in Ray's object store once; the handle is what every trial gets."""
    import ray

    return DataHandle(data_key(cfg, data), ray.put(data))


#: device -> (data key, the data on that device): one data set per device and worker process
_RESIDENT: dict[str, tuple[str, TensorData]] = {}
#: (spec key, data shape, device, batch) -> latency in ms, measured once per worker
_LATENCY: dict[tuple, float] = {}


def resident_data(handle: DataHandle | TensorData, device: torch.device) -> TensorData:
    """The data set on ``device``, fetched and copied there once per worker process and data
    key; later trials get the same tensors.  A new data set replaces the old one (its device
    memory is freed), so a long-lived worker holds one copy per device."""
    if isinstance(handle, TensorData):  # a caller without Ray (tests, scripts): nothing to cache by
        return handle.to(device)
    held = _RESIDENT.get(str(device))
    if held is not None and held[0] == handle.key:
        return held[1]
    import ray

    _RESIDENT.pop(str(device), None)
    held = (handle.key, ray.get(handle.ref).to(device))
    _RESIDENT[str(device)] = held
    return held[1]


def _probe_latency(spec: ArchSpec, data: TensorData, device: torch.device, batch: int,
                   build: Callable[[], torch.nn.Module]) -> tuple[float, torch.nn.Module | None]:
    """The trial's latency, measured once per spec, shape, device and batch in this worker; the
    model built for it (if one was) goes back to the caller to train.  The probe's random input
    must not move the global RNG the training draws from, hence ``fork_rng``."""
    key = (spec.key(), data.num_classes, data.in_channels, data.image_size, str(device), batch)
    if key in _LATENCY:
        return _LATENCY[key], None
    model = build()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        _LATENCY[key] = measure_latency(model, data.in_channels, data.image_size, str(device), batch)
    return _LATENCY[key], model


def job_training(job: TrialJob) -> TrainingConfig:
    """The job's training section as this worker's typed ``TrainingConfig``, checked like the
    driver's.  A key the worker does not know, a missing one, or a value its checks refuse means
    the driver and the worker run different code: ``ProtocolError``, never a candidate's FAIL."""
    try:
        return from_mapping(TrainingConfig, job.training)
    except (ConfigError, TypeError) as err:
        raise ProtocolError(f"TrialJob.training does not fit this worker's TrainingConfig ({err}); "
                            "the driver and the worker run different fusionscope versions") from None


def run_trial(config: dict[str, Any], data: DataHandle | TensorData) -> None:
    """Ray Tune function trainable.  ``config`` = a ``TrialJob`` as a dict, from the searcher;
    ``data`` = a ``DataHandle`` to the driver's loaded data set (or the data themselves).
    Every report is a ``TrialReport``."""
    from ray import tune  # only here: the rest of trials.training.train stays Ray-free

    import ray

    job = TrialJob.from_dict(config)
    cpus = max(1, int(job.cpus_per_trial))
    torch.set_num_threads(cpus)
    device = pick_device(job.gpus_per_trial)
    where = {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(),
             "device": str(device) if device.type == "cpu" else f"cuda ({torch.cuda.get_device_name(device)})",
             "pid": os.getpid()}
    training = job_training(job)  # a driver/worker mismatch raises here: a bug, not a failed candidate
    try:
        data = resident_data(data, device)
        spec = ArchSpec.from_params(job.params)

        def first_replicate() -> torch.nn.Module:  # exactly as train_spec builds replicate 0
            torch.manual_seed(training.seed)
            return build_model(spec, data.num_classes, data.in_channels, data.image_size)

        latency, probe = _probe_latency(spec, data, device, job.latency_batch, first_replicate)

        def on_epoch(epoch: int, accuracy: float) -> None:
            if epoch < job.epochs and (job.report_epochs is None or epoch in job.report_epochs):
                tune.report(TrialReport(epochs_done=epoch, accuracy=accuracy, latency_ms=latency, **where).to_dict())

        mode = training.replicates_mode
        if mode == "auto":
            mode = choose_mode(spec.width, cpus, device, training.batch_size)
        together = mode == "together" and training.replicates > 1 and spec.combination == "single"
        if together or spec.combination != "single":  # HCNN trains in stages, one net at a time
            result = (train_together if together else train_spec)(spec, data, training, job.epochs, device, on_epoch)
        else:  # the probe's model is replicate 0 as train_spec would build it: train it, don't rebuild it
            result = train_spec(spec, data, training, job.epochs, device, on_epoch, first_model=probe)
        weights = None
        if job.weights_dir:
            weights = str(Path(job.weights_dir) / f"trial_{job.number}.pt")
            Path(weights).parent.mkdir(parents=True, exist_ok=True)
            torch.save(result.models[0].state_dict(), weights)
        report = TrialReport(
            epochs_done=job.epochs, accuracy=result.history[-1], latency_ms=latency, **where, final=True,
            accuracy_replicates=result.accuracy_replicates, val_accuracy_history=result.history,
            val_accuracy_by_replicate=result.history_by_replicate, train_time_s=result.train_time_s,
            images_per_s=result.images_per_s, train_timeline=[list(t) for t in result.timeline],
            weights_path=weights, hcnn_base_seeds=result.base_seeds or None,
            hcnn_base_accuracies=result.base_accuracies or None,
            test_accuracy_replicates=result.test_accuracy_replicates or None)
    except (CandidateError, SpecError, torch.OutOfMemoryError, RuntimeError, ValueError) as err:
        report = TrialReport(epochs_done=0, accuracy=0.0, **where, final=True, error=_describe(err))
    tune.report(report.to_dict())
