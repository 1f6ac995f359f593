"""A real ``cfn-fusion`` preset run at the default budget, recorded with per-seed learning curves.

Trains every spec of the preset's grid with the project's loop (``trials.training.train.train_spec``), one
seed at a time so each seed's validation accuracy after every epoch is kept, and records the
trials in an Optuna study shaped as the search records them (params = the flattened spec, user
attrs from ``trials.record``, including ``val_accuracy_by_replicate``).  ``fusionscope report``
then gives the effects across epochs that the README quotes.  Why not ``fusionscope ablate``: on
this branch the search keeps only the mean curve over seeds; the per-seed record is being added
beside this work, and with it ``ablate --preset cfn-fusion`` records the same study directly.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402
import torch  # noqa: E402
from optuna.distributions import CategoricalDistribution  # noqa: E402
from optuna.trial import create_trial  # noqa: E402

from search_space.cost import spec_cost  # noqa: E402
from trials import record  # noqa: E402
from trials.config import TrainingConfig  # noqa: E402
from trials.config import from_dict as config_from_dict  # noqa: E402
from trials.data import DataConfig, load_data  # noqa: E402
from trials.presets import preset_config  # noqa: E402
from trials.training.train import train_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=f"sqlite:///{ROOT / 'runs' / 'cfn-fusion-effects.db'}")
    parser.add_argument("--study", default="ablate-cfn-fusion")
    parser.add_argument("--fusion", nargs="*", help="only these levels (to split the work over processes)")
    parser.add_argument("--quick", action="store_true", help="600 images, 2 epochs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    raw = preset_config("cfn-fusion")
    if args.quick:
        raw["data"]["subset"], raw["budget"]["epochs"] = 600, 2
    config = config_from_dict(raw)
    data = load_data(DataConfig(**raw["data"]))
    Path(ROOT / "runs").mkdir(exist_ok=True)
    study = optuna.create_study(storage=args.storage, study_name=args.study, load_if_exists=True,
                                directions=["maximize", "minimize"])
    study.set_user_attr(record.STUDY_OBJECTIVES, ["accuracy", "params"])
    study.set_user_attr(record.STUDY_CONFIG, raw)
    space = raw["space"]
    for spec in config.search_space().grid():
        if args.fusion and spec.fusion not in args.fusion:
            continue
        curves, start = [], time.perf_counter()
        for r in range(raw["training"]["replicates"]):
            cfg = TrainingConfig(**{**raw["training"], "seed": raw["training"].get("seed", 0) + r,
                                    "replicates": 1, "save_weights": False})
            curves.append(train_spec(spec, data, cfg, raw["budget"]["epochs"]).history)
        cost = spec_cost(spec, data.num_classes, data.in_channels, data.image_size)
        params = spec.to_params()
        finals = [c[-1] for c in curves]
        study.add_trial(create_trial(
            params=params,
            distributions={k: CategoricalDistribution(space[k] if isinstance(space.get(k), list) else [v])
                           for k, v in params.items()},
            values=[sum(finals) / len(finals), float(cost.params)],
            user_attrs={
                record.ACCURACY_REPLICATES: finals, record.VAL_ACCURACY_BY_REPLICATE: curves,
                record.VAL_ACCURACY_HISTORY: [sum(col) / len(col) for col in zip(*curves)],
                record.SEEDS: [raw["training"].get("seed", 0) + r for r in range(len(curves))],
                record.PARAMS: cost.params, record.MACS: cost.macs, record.SPEC: spec.to_dict(),
                record.SPEC_KEY: spec.key(), record.DEVICE: "cpu",
                record.TRAIN_TIME_S: time.perf_counter() - start,
            },
        ))
        print(spec.fusion, [round(c[-1], 4) for c in curves], f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
