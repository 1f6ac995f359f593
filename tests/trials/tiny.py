"""The tiny real search the component tests run: a few seconds a trial on 480 Fashion-MNIST images.

One template in two forms: ``TINY``, a mapping for tests that change whole sections, and
``tiny_yaml``, its YAML text for tests that edit the file as a user would (a typo, a bad value).
``WIDE_SPACE`` is the same space with every fusion op and two α, for searches that need more
than three designs to choose from.
"""

from pathlib import Path
from typing import Any

import yaml

TINY: dict[str, Any] = {
    "study": "tiny",
    "data": {"dataset": "fashion-mnist", "subset": 600, "val_fraction": 0.2},
    "space": {"backbone": "plain", "width": 8, "depth": 1, "side_channels": 16, "fusion_site": "gap",
              "fusion": ["none", "sum", "lc"], "alpha": 1, "combination": "single"},
    "objectives": ["accuracy", "macs"],
    "sampler": {"name": "random", "seed": 0},
    "budget": {"trials": 4, "epochs": 1},
    "training": {"optimizer": "sgd", "lr": 0.05, "batch_size": 64, "replicates": 1, "seed": 0},
    "resources": {"cpus_per_trial": 1, "concurrent": 2},
}

WIDE_SPACE: dict[str, Any] = {**TINY["space"], "fusion": ["none", "sum", "conv", "lc", "attention"], "alpha": [1, 2]}


def _merge(raw: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A mapping merges into its section, anything else replaces it."""
    return {**raw, **{key: {**raw[key], **value} if isinstance(value, dict) and isinstance(raw.get(key), dict)
                      else value for key, value in changes.items()}}


def tiny_mapping(**changes: Any) -> dict[str, Any]:
    """``TINY`` with ``changes`` (see ``_merge``)."""
    return _merge({key: dict(value) if isinstance(value, dict) else value for key, value in TINY.items()}, changes)


def write_tiny_config(folder: Path, **changes: Any) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_mapping(**changes), sort_keys=False))
    return path


def tiny_yaml(study: str, db: Path | str, trials: int = 6, epochs: int = 1, lr: float = 0.05,
              resources: str | dict = "{cpus_per_trial: 1, concurrent: 2}", extra: str = "") -> str:
    """The wide tiny search as YAML text (lists in flow style, one section per block); ``extra`` is YAML
    whose sections merge in as ``tiny_mapping``'s changes do."""
    raw = tiny_mapping(study=study, storage=f"sqlite:///{db}", space=WIDE_SPACE,
                       budget={"trials": trials, "epochs": epochs}, training={"lr": lr},
                       resources=yaml.safe_load(resources) if isinstance(resources, str) else resources)
    return yaml.safe_dump(_merge(raw, yaml.safe_load(extra) or {}), sort_keys=False, default_flow_style=None)
