import os

import pytest

from tests.trials.tiny import tiny_yaml

# Drivers beat heartbeats every second and a trial is stale 4 s after its driver stopped, so the
# tests of dead and concurrent drivers take seconds (the defaults are 5 s and 30 s).  Set before
# trials.running.study is imported, and inherited by every search a test starts.
os.environ.setdefault("FUSIONSCOPE_HEARTBEAT_S", "1")
os.environ.setdefault("FUSIONSCOPE_GRACE_S", "4")


@pytest.fixture
def tiny_config(tmp_path):
    """Write a tiny real search config; returns (path, storage URL, study name)."""
    def make(study="tiny", trials=6, epochs=1, lr=0.05, extra="", resources="{cpus_per_trial: 1, concurrent: 2}"):
        db = tmp_path / f"{study}.db"
        path = tmp_path / f"{study}.yaml"
        path.write_text(tiny_yaml(study, db, trials, epochs, lr, resources, extra))
        return path, f"sqlite:///{db}", study
    return make
