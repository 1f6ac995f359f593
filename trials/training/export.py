"""Taking one trial out of a study: its spec, its trained weights, a module that loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import optuna
import torch
from torch import nn

from search_space.build import build_model
from search_space.errors import FusionscopeError
from search_space.spec import ArchSpec
from trials import record
from trials.record.objectives import objective


class ExportError(FusionscopeError, RuntimeError):
    """The trial cannot be exported (no such trial, weights that are missing or do not fit)."""


def pick_trial(study: optuna.Study, number: int | None, best: str | None) -> optuna.trial.FrozenTrial:
    """``number``, or the best complete trial for objective ``best``."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if number is not None:
        for t in study.get_trials(deepcopy=False):
            if t.number == number:
                return t
        raise ExportError(f"study {study.study_name!r} has no trial {number} (it has {len(study.trials)})")
    objectives = study.user_attrs.get(record.STUDY_OBJECTIVES, [])
    if best not in objectives:
        raise ExportError(f"--best {best!r} is not an objective of this study; choose from {objectives}")
    if not complete:
        raise ExportError(f"study {study.study_name!r} has no complete trial yet")
    i = objectives.index(best)
    sign = objective(best).sign()
    return min(complete, key=lambda t: sign * t.values[i])


def _checked_state(weights: Path, model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict in ``weights``, refused unless it is one of ``model`` (and no pickled
    code runs: ``weights_only=True``)."""
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as err:  # pickle errors, wrong keys, wrong shapes: all "not what it claims"
        raise ExportError(f"{weights} is not a state_dict of this spec's model: {str(err).splitlines()[0]}") from None
    return state


def export_trial(trial: optuna.trial.FrozenTrial, num_classes: int, in_channels: int, image_size: int,
                 out_dir: str | Path) -> dict[str, Path]:
    """Write ``spec.json`` (and ``weights.pt``) into ``out_dir``.

    The trial's ``weights_path`` is checked before anything is written (a study can name any
    file there), and what is written is the checked state dict, not a copy of the file; if
    writing fails (disk full), the files this call made are removed again.
    """
    out = Path(out_dir)
    spec = ArchSpec.from_params(trial.params)
    meta = {"spec": spec.to_dict(), "num_classes": num_classes, "in_channels": in_channels,
            "image_size": image_size, "trial": trial.number, "values": trial.values}
    weights = trial.user_attrs.get(record.WEIGHTS_PATH)
    state = None
    if weights and Path(weights).is_file():
        model = build_model(spec, num_classes, in_channels, image_size)
        state = _checked_state(Path(weights), model)
    made: list[Path] = []
    paths = {"spec": out / "spec.json"}
    try:
        if not out.exists():
            out.mkdir(parents=True)
            made.append(out)
        made.append(paths["spec"])
        paths["spec"].write_text(json.dumps(meta, indent=2))
        if state is not None:
            paths["weights"] = out / "weights.pt"
            made.append(paths["weights"])
            torch.save(state, paths["weights"])
    except OSError as err:
        for path in reversed(made):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise ExportError(f"cannot write the export into {str(out)!r}: {err.strerror or err}; "
                          "nothing was left behind") from None
    return paths


def load_exported(path: str | Path) -> nn.Module:
    """Rebuild an exported trial: the spec's model, with its weights when they were saved."""
    path = Path(path)
    meta = json.loads((path / "spec.json").read_text())
    model = build_model(ArchSpec.from_dict(meta["spec"]), meta["num_classes"], meta["in_channels"], meta["image_size"])
    weights = path / "weights.pt"
    if weights.exists():
        _checked_state(weights, model)
    return model.eval()
