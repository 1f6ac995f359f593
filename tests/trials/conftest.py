import textwrap

import pytest

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
