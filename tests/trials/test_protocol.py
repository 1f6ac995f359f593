"""The job a worker gets and the report it returns: typed, checked at both ends, named as the record."""

import dataclasses

import optuna
import pytest
from optuna.trial import TrialState

from trials import record
from trials.config import load
from trials.running.protocol import FINAL_RECORDED, NOT_RECORDED, WHERE_RECORDED, ProtocolError, TrialJob, TrialReport
from trials.running.study import open_study

WHERE = {"node_id": "n1", "hostname": "h", "device": "cpu", "pid": 7}
JOB = {"number": 0, "params": {"backbone": "plain"}, "training": {"lr": 0.1}, "epochs": 2, "cpus_per_trial": 1.0,
       "gpus_per_trial": 0.0, "latency_batch": 1, "weights_dir": None}


def final_report(**changes):
    fields = dict(epochs_done=2, accuracy=0.5, latency_ms=1.5, **WHERE, final=True,
                  accuracy_replicates=[0.5], val_accuracy_history=[0.4, 0.5],
                  val_accuracy_by_replicate=[[0.4, 0.5]], train_time_s=1.0, images_per_s=100.0,
                  train_timeline=[[0.0, 1.0, 480]], weights_path=None)
    return TrialReport(**{**fields, **changes})


def test_job_round_trips_and_refuses_missing_unknown_or_mistyped_fields():
    assert TrialJob.from_dict(TrialJob(**JOB).to_dict()) == TrialJob(**JOB)
    with pytest.raises(ProtocolError, match="epochs"):
        TrialJob.from_dict({k: v for k, v in JOB.items() if k != "epochs"})
    with pytest.raises(ProtocolError, match="epoch_count"):  # a renamed key on the sending side
        TrialJob.from_dict({**{k: v for k, v in JOB.items() if k != "epochs"}, "epoch_count": 2})
    with pytest.raises(ProtocolError, match="latency_batch"):
        TrialJob(**{**JOB, "latency_batch": "1"})
    with pytest.raises(ProtocolError, match="epochs"):
        TrialJob(**{**JOB, "epochs": True})  # a bool is not an epoch count


def test_report_reads_past_tunes_keys_but_not_past_a_renamed_one():
    result = {**final_report().to_dict(), "training_iteration": 3, "time_this_iter_s": 0.1, "trial_id": "x"}
    assert TrialReport.from_result(result) == final_report()
    renamed = {("acc" if k == "accuracy" else k): v for k, v in result.items()}
    with pytest.raises(ProtocolError, match="accuracy"):
        TrialReport.from_result(renamed)
    with pytest.raises(ProtocolError, match="val_accuracy_by_replicate"):
        final_report().__class__(**{**final_report().to_dict(), "val_accuracy_by_replicate": [0.4, 0.5]})


def test_report_fields_are_the_records_names():
    names = {v for k, v in vars(record).items() if k.isupper() and isinstance(v, str)}
    for f in dataclasses.fields(TrialReport):
        assert f.name in names or f.name in NOT_RECORDED, f.name
    fields = {f.name for f in dataclasses.fields(TrialReport)}
    assert set(FINAL_RECORDED) | set(WHERE_RECORDED) <= fields
    assert record.VAL_ACCURACY_BY_REPLICATE == "val_accuracy_by_replicate" in FINAL_RECORDED


@pytest.fixture
def searcher(tiny_config):
    from trials.running.searcher import StudySearcher

    path, url, study_name = tiny_config(study="protocol", trials=2)
    config = load(path)
    study = open_study(config, url)
    job = {k: v for k, v in JOB.items() if k not in ("number", "params")}
    yield StudySearcher(study, config, config.search_space(), [], (10, 1, 28), job, {"torch": "x"},
                        lambda: None), study


def test_searcher_sends_a_job_and_records_the_report_by_its_fields(searcher):
    s, study = searcher
    job = TrialJob.from_dict(s.suggest("t0"))
    s.on_trial_result("t0", {**final_report(final=False, val_accuracy_history=None).to_dict(), "trial_id": "t0"})
    s.on_trial_complete("t0", {**final_report().to_dict(), "training_iteration": 2})
    trial = optuna.load_study(study_name=study.study_name, storage=study._storage).trials[job.number]
    assert trial.state == TrialState.COMPLETE and trial.values == [0.5, trial.user_attrs[record.MACS]]
    for key in FINAL_RECORDED + WHERE_RECORDED:
        assert trial.user_attrs[key] == getattr(final_report(), key), key
    assert trial.user_attrs[record.VAL_ACCURACY_BY_REPLICATE] == [[0.4, 0.5]]


def test_searcher_fails_loudly_on_a_renamed_report_key(searcher):
    s, _ = searcher
    s.suggest("t0")
    result = {("val_acc_history" if k == "epochs_done" else k): v for k, v in final_report().to_dict().items()}
    with pytest.raises(ProtocolError, match="epochs_done"):
        s.on_trial_complete("t0", result)


def test_a_training_section_the_worker_does_not_know_is_a_protocol_error_not_a_failed_candidate():
    """Driver and worker of different versions: the worker's own TrainingConfig refuses the job's
    training section loudly (ProtocolError), instead of every trial being recorded as a FAIL."""
    import dataclasses

    from trials.config import TrainingConfig
    from trials.running.protocol import ProtocolError, TrialJob
    from trials.running.worker import job_training

    good = dataclasses.asdict(TrainingConfig(lr=0.1))
    job = dict(number=0, params={}, epochs=1, cpus_per_trial=1.0, gpus_per_trial=0.0, latency_batch=1,
               weights_dir=None)
    assert job_training(TrialJob(training=good, **job)) == TrainingConfig(lr=0.1)
    for training in ({**good, "warmup_epochs": 5}, {**good, "lr": -1.0}, {**good, "optimizer": "lion"}):
        with pytest.raises(ProtocolError, match="TrialJob.training does not fit this worker's TrainingConfig"):
            job_training(TrialJob(training=training, **job))
