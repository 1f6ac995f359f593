import os
import textwrap

import pytest

# Drivers beat heartbeats every second and a trial is stale 4 s after its driver stopped, so the
# tests of dead and concurrent drivers take seconds (the defaults are 5 s and 30 s).  Set before
# trials.running.study is imported, and inherited by every search a test starts.
os.environ.setdefault("FUSIONSCOPE_HEARTBEAT_S", "1")
os.environ.setdefault("FUSIONSCOPE_GRACE_S", "4")

TINY = """
study: {study}
storage: sqlite:///{db}
data: {{dataset: fashion-mnist, subset: 600, val_fraction: 0.2}}
space:
  backbone: plain
  width: 8
  depth: 1
  side_channels: 16
  fusion_site: gap
  fusion: [none, sum, conv, lc, attention]
  alpha: [1, 2]
  combination: single
objectives: [accuracy, macs]
sampler: {{name: random, seed: 0}}
budget: {{trials: {trials}, epochs: {epochs}}}
training: {{batch_size: 64, lr: {lr}, replicates: 1}}
resources: {resources}
"""


def tiny_yaml(study: str, db, trials: int = 6, epochs: int = 1, lr: float = 0.05,
              resources: str = "{cpus_per_trial: 1, concurrent: 2}") -> str:
    return TINY.format(study=study, db=db, trials=trials, epochs=epochs, lr=lr, resources=resources)


@pytest.fixture
def tiny_config(tmp_path):
    """Write a tiny real search config; returns (path, storage URL, study name)."""
    def make(study="tiny", trials=6, epochs=1, lr=0.05, extra="", resources="{cpus_per_trial: 1, concurrent: 2}"):
        db = tmp_path / f"{study}.db"
        path = tmp_path / f"{study}.yaml"
        path.write_text(tiny_yaml(study, db, trials, epochs, lr, resources) + textwrap.dedent(extra))
        return path, f"sqlite:///{db}", study
    return make
