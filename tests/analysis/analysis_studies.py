"""Studies written through Optuna's public API, shaped like the search writes them.

A module of its own (other test folders have a conftest.py too) so tests can import the builders.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from trials import record
from trials.record.objectives import directions as objective_directions

optuna.logging.set_verbosity(optuna.logging.WARNING)

CHOICES = {
    "backbone": ("plain", "resnet", "vgg"),
    "width": (16, 32, 64),
    "fusion": ("none", "sum", "conv", "lc", "attention", "concat"),
    "strategy": ("eflp", "eplf"),
    "branches": ("1,2", "2", "1"),
}


def _distributions(params: dict) -> dict[str, CategoricalDistribution]:
    return {key: CategoricalDistribution(CHOICES[key]) for key in params}


def cfn_spec(
    backbone: str, width: int, fusion: str, strategy: str | None = None, branches: str | None = None
) -> dict:
    """Flattened spec: ``strategy`` and ``branches`` exist only with a fusion op."""
    spec = {"backbone": backbone, "width": width, "fusion": fusion}
    if fusion != "none":
        spec.update(strategy=strategy, branches=branches)
    return spec


def add_complete(
    study: optuna.Study, params: dict, replicates: list[float], n_params: int, macs: int
) -> int:
    values_by_name = {"accuracy": mean(replicates), "params": n_params, "macs": macs}
    names = study.user_attrs[record.STUDY_OBJECTIVES]
    full_spec = {key: params.get(key) for key in CHOICES}
    study.add_trial(
        create_trial(
            params=params,
            distributions=_distributions(params),
            values=[values_by_name[n] for n in names],
            user_attrs={
                record.ACCURACY_REPLICATES: replicates,
                record.SEEDS: list(range(len(replicates))),
                record.PARAMS: n_params,
                record.MACS: macs,
                record.LATENCY_MS: 1.5,
                record.SPEC: full_spec,
                record.SPEC_KEY: "-".join(str(v) for v in params.values()),
                record.COST_BREAKDOWN: {"params": {"backbone": n_params}, "macs": {"backbone": macs}},
                record.DEVICE: "cpu",
            },
        )
    )
    return study.trials[-1].number


def make_study(storage: str, name: str, objectives: list[str]) -> optuna.Study:
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        directions=objective_directions(objectives),
    )
    study.set_user_attr(record.STUDY_OBJECTIVES, objectives)
    return study


@dataclass(frozen=True)
class SearchStudy:
    storage: str
    name: str
    numbers: dict[str, int]  # label -> trial number


def fill_search(study: optuna.Study) -> dict[str, int]:
    """Nine complete designs (one run twice), 1-3 seeds each, plus FAIL/RUNNING/PRUNED trials."""
    designs = [  # label, spec, per-seed accuracies, params, MACs
        ("none16", cfn_spec("plain", 16, "none"), [0.801, 0.812, 0.797], 120_000, 9_000_000),
        ("sum16", cfn_spec("plain", 16, "sum", "eflp", "1,2"), [0.823, 0.818, 0.829], 121_000, 9_100_000),
        ("lc16", cfn_spec("plain", 16, "lc", "eflp", "1,2"), [0.834, 0.829, 0.841], 121_030, 9_100_030),
        ("none32", cfn_spec("plain", 32, "none"), [0.851, 0.846], 460_000, 35_000_000),
        ("lc32", cfn_spec("plain", 32, "lc", "eflp", "1,2"), [0.858, 0.866], 462_000, 35_200_000),
        ("lc16_eplf", cfn_spec("plain", 16, "lc", "eplf", "1,2"), [0.826, 0.836, 0.822], 125_000, 9_120_000),
        ("none16_again", cfn_spec("plain", 16, "none"), [0.806, 0.799], 120_000, 9_000_000),
    ]
    numbers = {label: add_complete(study, *facts) for label, *facts in designs}
    failed = cfn_spec("vgg", 64, "attention", "eplf", "1")
    study.add_trial(
        create_trial(
            state=TrialState.FAIL,
            params=failed,
            distributions=_distributions(failed),
            user_attrs={record.ERROR: "RuntimeError: out of memory | allocating 2.0 GiB", record.PARAMS: 9_000_000},
        )
    )
    numbers["failed"] = study.trials[-1].number
    numbers["sum16_b2"] = add_complete(
        study, cfn_spec("plain", 16, "sum", "eflp", "2"), [0.815], 120_500, 9_050_000
    )
    numbers["conv_resnet"] = add_complete(
        study, cfn_spec("resnet", 16, "conv", "eflp", "1,2"), [0.861, 0.855], 180_000, 20_000_000
    )
    study.add_trial(create_trial(state=TrialState.RUNNING, params={}, distributions={}))
    pruned = cfn_spec("plain", 64, "none")
    study.add_trial(create_trial(state=TrialState.PRUNED, params=pruned, distributions=_distributions(pruned)))
    return numbers
