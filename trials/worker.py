"""What a Ray worker runs for one trial: build, time, train, report.

The data come from the driver through Ray's object store (``tune.with_parameters``), and
actors are reused between trials, so no worker reads or decodes the data set.  Candidate
failures are reported as results, not raised: Ray's retries are for dead workers, and
retrying a NaN loss would only spend the budget on it again.
"""

from __future__ import annotations

import os
import socket
import traceback
from pathlib import Path
from typing import Any

import torch

from search_space.cost import measure_latency
from search_space.build import build_model
from search_space.spec import ArchSpec, SpecError
from trials.config import TrainingConfig
from trials.data import TensorData
from trials.protocol import TrialJob, TrialReport
from trials.replicates import choose_mode, train_together
from trials.train import CandidateError, pick_device, train_spec


def _describe(err: BaseException) -> str:
    where = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
    at = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}{at}"


def run_trial(config: dict[str, Any], data: TensorData) -> None:
    """Ray Tune function trainable.  ``config`` = a ``TrialJob`` as a dict, from the searcher;
    ``data`` = the driver's loaded data set.  Every report is a ``TrialReport``."""
    from ray import tune  # only here: the rest of trials.train stays Ray-free

    import ray

    job = TrialJob.from_dict(config)
    cpus = max(1, int(job.cpus_per_trial))
    torch.set_num_threads(cpus)
    device = pick_device(job.gpus_per_trial)
    where = {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(),
             "device": str(device) if device.type == "cpu" else f"cuda ({torch.cuda.get_device_name(device)})",
             "pid": os.getpid()}
    try:
        spec = ArchSpec.from_params(job.params)
        training = TrainingConfig(**job.training)
        probe = build_model(spec, data.num_classes, data.in_channels, data.image_size)
        latency = measure_latency(probe, data.in_channels, data.image_size, str(device), job.latency_batch)

        def on_epoch(epoch: int, accuracy: float) -> None:
            if epoch < job.epochs:
                tune.report(TrialReport(epochs_done=epoch, accuracy=accuracy, latency_ms=latency, **where).to_dict())

        mode = training.replicates_mode
        if mode == "auto":
            mode = choose_mode(spec.width, cpus, device)
        together = mode == "together" and training.replicates > 1 and spec.combination == "single"
        train = train_together if together else train_spec  # HCNN trains in stages, one net at a time
        result = train(spec, data, training, job.epochs, device, on_epoch)
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
