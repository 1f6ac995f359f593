"""Preset budgets and ``ablate --set`` overrides: what a user types reaches the config, or says why not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trials import config as config_mod
from trials.config import ConfigError
from trials.presets import DEFAULT_EPOCHS, apply_overrides, preset_config

ROOT = Path(__file__).resolve().parents[2]


def test_overrides_reach_space_and_sections_as_yaml_values():
    raw = apply_overrides(preset_config("cfn-fusion"), [
        "width=32", "fusion=[none, lc]", "training.lr=0.1", "data.subset=800", "budget.epochs=3", "branches=1,2",
    ])
    config = config_mod.from_dict(raw)
    assert config.training.lr == 0.1 and config.budget.epochs == 3
    assert raw["data"]["subset"] == 800
    specs = config.search_space().grid()
    assert {s.fusion for s in specs} == {"none", "lc"} and {s.width for s in specs} == {32}
    assert preset_config("cfn-fusion")["space"]["width"] == 16  # the preset itself is untouched


@pytest.mark.parametrize("item, words", [
    ("width", "expected key=value"),
    ("model.width=3", "unknown section 'model'"),
    ("fusion=[none", "cannot read the value"),
])
def test_bad_overrides_name_the_item(item, words):
    with pytest.raises(ConfigError, match=words.replace("[", r"\[")):
        apply_overrides(preset_config("cfn-fusion"), [item])


def test_an_unknown_key_is_named_by_the_config_check():
    with pytest.raises(ConfigError, match="lrr"):
        config_mod.from_dict(apply_overrides(preset_config("cfn-fusion"), ["training.lrr=0.1"]))


def test_ablate_rejects_a_bad_set_with_one_error_line_and_exit_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fusionscope", "ablate", "--preset", "cfn-fusion", "--set", "model.width=3",
         "--storage", f"sqlite:///{tmp_path / 'a.db'}"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --set 'model.width=3': unknown section 'model'; use one of data, space, budget, training, "
        "resources, sampler or a bare space key"
    ]
    assert not (tmp_path / "a.db").exists()


def test_default_budget_is_where_the_measured_reference_curve_stopped_rising():
    measured = json.loads((ROOT / "benchmarks/results/preset_budget.json").read_text())
    assert preset_config("cfn-fusion")["budget"]["epochs"] == DEFAULT_EPOCHS == measured["reference_plateau_epoch"]
    assert preset_config("cfn-fusion")["data"]["subset"] == measured["data"]["subset"]
