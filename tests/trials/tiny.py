"""The tiny real search the component tests run: a few seconds a trial on 480 Fashion-MNIST images."""

from pathlib import Path

import yaml

TINY = {
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


def write_tiny_config(folder: Path, **changes) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, **changes}, sort_keys=False))
    return path
