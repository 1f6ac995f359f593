"""Ready-made ablations, one per paper table: a grid over one factor, the rest fixed.

Each preset is an ordinary search config (grid sampler, replicates), so its study reads like
the paper's table in ``fusionscope report``.  Sizes are CPU-friendly; raise ``width``,
``epochs`` and ``subset`` (``--set width=32``, ``--set data.subset=8000``) for numbers closer to
the papers'.

The default budget is one at which the reference design has stopped learning: a short budget
ranks designs by how fast they start, not by where they end (LC fusion's first epoch is slow).
``benchmarks/preset_budget.py`` measured the ``cfn-fusion`` reference design's curve at these
data settings (``benchmarks/results/preset_budget.json``): after epoch 10 of 12 it gains less
than a point.
"""

from __future__ import annotations

from typing import Any, Sequence

import yaml

from trials.config import ConfigError

#: Default budget of every preset (see the module docstring for where the numbers come from).
DEFAULT_EPOCHS = 10
DEFAULT_SUBSET = 4000
DEFAULT_REPLICATES = 3

#: Config sections ``--set section.key=value`` may address; a bare key addresses ``space``.
SECTIONS = ("data", "space", "budget", "training", "resources", "sampler")

_COMMON_SPACE = {"width": 16, "depth": 1, "stages": 3, "side_channels": 32, "alpha": 1,
                 "combination": "single"}

PRESETS: dict[str, dict[str, Any]] = {
    "cfn-fusion": {  # CFN Table 1: plain CNN vs sum / conv / LC fusion of GAP branches
        "about": "CFN Table 1: CNN (no fusion) vs CNN-Sum, CNN-Conv and CFN (LC fusion), EFLP",
        "space": {"backbone": "plain", "fusion_site": "gap", "fusion": ["none", "sum", "conv", "lc"],
                  "strategy": "eflp", "branches": "1,2"},
    },
    "cfn-strategy": {  # CFN §3.1, eq. 2: early fusion/late prediction vs the opposite
        "about": "CFN eq. 2 / Fig. 2: EFLP vs EPLF with LC fusion",
        "space": {"backbone": "plain", "fusion_site": "gap", "fusion": "lc", "strategy": ["eflp", "eplf"],
                  "branches": "1,2"},
    },
    "scff-downsample": {  # SCFF Table 2 (upper): D-S types with F-F = add
        "about": "SCFF Table 2 (upper): D-S module types, F-F fixed to addition",
        "space": {"backbone": "resnet", "fusion_site": "pyramid", "branches": "1,2", "merge": "add",
                  "detach": False, "downsample": ["avgpool_conv", "maxpool_conv", "conv2x2", "conv1x1",
                                                  "avgpool", "maxpool"]},
    },
    "scff-detach": {  # SCFF Table 2 (lower) / Fig. 3: cut the fusion gradient into lower stages
        "about": "SCFF Table 2 (lower), Fig. 3: average vs max pooling D-S, with and without detach",
        "space": {"backbone": "resnet", "fusion_site": "pyramid", "branches": "1,2", "merge": "add",
                  "downsample": ["avgpool", "maxpool"], "detach": [False, True]},
    },
    "scfusion-parts": {  # scFusion Fig. 7: A regular, B SC only, C + addition, D + addition + inverse
        "about": "scFusion Fig. 7: A regular kernels, B SC kernels, C + addition, D + addition + inverse",
        "space": {"backbone": "vgg", "fusion_site": "gap", "fusion": "none", "alpha": [1, 4],
                  "sc_add": [False, True], "sc_inverse": [False, True]},
    },
    "scfusion-alpha": {  # scFusion Table 3: complexity knob alpha
        "about": "scFusion Table 3: alpha = 1 (regular), 2, 4, 8 with addition and inverse",
        "space": {"backbone": "resnet", "fusion_site": "gap", "fusion": "none", "alpha": [1, 2, 4, 8],
                  "sc_add": True, "sc_inverse": True},
    },
    "hcnn-combination": {  # HCNN Table 2: singles, the homogeneous and the heterogeneous pair, avg and 2CL
        "about": "HCNN Table 2: single A (plain), single B (resnet), [A,A'] and [A,B], each with avg and 2CL",
        "space": [{"backbone": ["plain", "resnet"], "fusion_site": "gap", "fusion": "none", "combination": "single"},
                  {"backbone": "plain", "combination": ["avg", "cl"], "cl_layers": 2, "cl_width": 64,
                   "partner_backbone": ["plain", "resnet"], "partner_width": 16, "partner_depth": 1}],
    },
}


def preset_config(name: str, replicates: int = DEFAULT_REPLICATES, epochs: int = DEFAULT_EPOCHS,
                  subset: int = DEFAULT_SUBSET) -> dict[str, Any]:
    """The preset as a raw config mapping (``trials.config.from_dict`` validates it)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    preset = PRESETS[name]
    return {
        "study": f"ablate-{name}",
        "data": {"dataset": "fashion-mnist", "subset": subset, "val_fraction": 0.2},
        "space": ([{**_COMMON_SPACE, **part} for part in preset["space"]] if isinstance(preset["space"], list)
                  else {**_COMMON_SPACE, **preset["space"]}),
        "objectives": ["accuracy", "params"],
        "sampler": {"name": "grid", "seed": 0},
        "budget": {"trials": 1000, "epochs": epochs},  # the grid's size bounds it
        "training": {"replicates": replicates, "batch_size": 64},
        "resources": {"cpus_per_trial": 1, "concurrent": 2},
    }


def apply_overrides(config: dict[str, Any], assignments: Sequence[str]) -> dict[str, Any]:
    """A copy of the raw ``config`` with ``key=value`` assignments applied (``ablate --set``).

    ``section.key=value`` sets a key of one of ``SECTIONS`` (``training.lr=0.1``,
    ``data.subset=8000``); a bare ``key=value`` sets a space dimension (``width=32``,
    ``fusion=[none,lc]``).  Values are read as YAML, like the config file: ``16`` is a number,
    ``false`` a boolean, ``[a, b]`` a list of levels, ``1,2`` stays a string.  Whether the key
    and value are valid is checked by ``trials.config.from_dict`` afterwards, which names them.
    """
    out = {k: dict(v) if isinstance(v, dict) else [dict(p) for p in v] if k == "space" and isinstance(v, list) else v
           for k, v in config.items()}
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. width=32 or training.lr=0.1")
        section, dot, name = key.rpartition(".")
        section = section if dot else "space"
        if section not in SECTIONS or "." in section or not name:
            raise ConfigError(f"--set {item!r}: unknown section {section!r}; use one of {', '.join(SECTIONS)} "
                              "or a bare space key")
        try:
            value = yaml.safe_load(text) if text else None
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {item!r}: cannot read the value: {str(err).splitlines()[0]}") from None
        target = out.setdefault(section, {})
        for part in target if isinstance(target, list) else [target]:  # a union of grids: every subspace
            part[name] = value
    return out
