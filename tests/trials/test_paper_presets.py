"""Presets at two scales: ``--scale paper`` runs the paper's network, recipe, data and enough seeds;
``--show`` prints the complete config (it loads back) and the designs with their cost."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from scipy import stats

from fusionscope.cli import main
from trials import config as config_mod
from trials import record
from trials.presets import (
    CIFAR_FILES, MAX_PAPER_SEEDS, PRESETS, RECIPES, SEED_SD_POINTS, paper_data, paper_seeds, preset_config,
    preset_table_rows, resolvable_effect, seeds_to_resolve,
)

ROOT = Path(__file__).resolve().parents[2]


def _cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("scale", ["cpu", "paper"])
def test_show_prints_a_config_that_loads_back_and_every_design_with_its_cost(scale, tmp_path):
    """Every preset: the YAML is the whole config (``from_dict`` reads it back to the same config),
    then one line per design of the grid with its params and MACs; nothing is written."""
    for name in PRESETS:
        code, text = _cli("ablate", "--preset", name, "--scale", scale, "--show",
                          "--storage", f"sqlite:///{tmp_path / 'never.db'}")
        assert code == 0, name
        raw = yaml.safe_load(text)  # the design lines are YAML comments
        assert set(raw) >= {"study", "data", "space", "objectives", "sampler", "budget", "training", "resources"}
        shown = config_mod.from_dict(raw)
        expected = config_mod.from_dict(paper_data(preset_config(name, scale))[0] if scale == "paper"
                                        else preset_config(name, scale))
        assert shown.to_dict() == {**expected.to_dict(), "storage": f"sqlite:///{tmp_path / 'never.db'}"}, name
        designs = [line for line in text.splitlines() if re.match(r"#\s+\d+\. params", line)]
        assert len(designs) == len(shown.search_space().grid()) >= 2, name
        for line in designs:
            params, macs = (int(m.replace(",", "")) for m in re.findall(r"(?:params|MACs)\s+([\d,]+)", line))
            assert params > 0 and macs > 0
    assert not (tmp_path / "never.db").exists()


def test_paper_scale_is_the_papers_network_recipe_data_and_seeds():
    for name, preset in PRESETS.items():
        paper = preset["paper"]
        recipe = RECIPES[paper["recipe"]]
        raw = preset_config(name, "paper")
        config = config_mod.from_dict(raw)
        t = config.training
        for key, value in recipe["training"].items():
            assert getattr(t, key) == (tuple(value) if isinstance(value, list) else value), (name, key)
        assert t.nesterov is False and t.schedule == "step"  # classical momentum, stepped lr: all four papers
        assert config.budget.epochs == recipe["epochs"] and config.data.augment == recipe["augment"]
        assert config.data.dataset == paper["dataset"] and config.data.subset is None
        assert config.data.test_accuracy and config.resources.auto
        assert t.replicates == paper_seeds(name) >= paper["paper_runs"]
        backbones = {s.backbone for s in config.search_space().grid()}
        assert backbones <= {"cfn", "resnet32", "resnet18", "tv:resnet50", "tv:vgg16_bn"}, (name, backbones)
    # the papers' own numbers
    cfn = preset_config("cfn-fusion", "paper")
    assert cfn["training"]["batch_size"] == 100 and cfn["training"]["weight_decay"] == 1e-4
    assert cfn["budget"]["epochs"] * 50_000 / 100 == 12e4  # CFN: 12x10^4 iterations of batch 100
    assert cfn["training"]["milestones"] == [pytest.approx(10 / 12, abs=1e-6)]  # ÷10 after 10x10^4
    assert cfn["data"]["augment"] == "none"  # Table 1: without augmentation
    alpha = preset_config("scfusion-alpha", "paper")
    assert alpha["budget"]["epochs"] == 185 and alpha["training"]["milestones"] == [0.5, 0.75]
    assert alpha["data"]["augment"] == "crop_flip" and alpha["space"]["backbone"] == "resnet32"
    scff = preset_config("scff-merge", "paper")
    assert scff["budget"]["epochs"] == 100 and scff["training"]["milestones"] == [0.3, 0.6, 0.9]
    assert scff["space"]["merge"] == ["add", "sk", "sk_softmax", "se", "concat"]
    assert preset_config("scfusion-parts", "paper")["data"]["dataset"] == "cifar100"


def test_cpu_scale_is_todays_preset():
    raw = preset_config("cfn-fusion")
    assert raw == preset_config("cfn-fusion", "cpu")
    assert raw["data"] == {"dataset": "fashion-mnist", "subset": 4000, "val_fraction": 0.2, "test_accuracy": True}
    assert raw["budget"] == {"trials": 1000, "epochs": 10}
    # the measured cpu-scale runs trained with Nesterov (the old, undocumented default), so it stays on here
    assert raw["training"] == {"replicates": 3, "batch_size": 64, "nesterov": True}
    assert raw["space"]["backbone"] == "plain" and raw["space"]["width"] == 16
    assert preset_config("cfn-fusion", "cpu", replicates=2, epochs=4, subset=800)["budget"]["epochs"] == 4


def test_new_presets_compare_the_pyramid_and_the_merges():
    grid = config_mod.from_dict(preset_config("scff-pyramid")).search_space().grid()
    assert {s.fusion_site for s in grid} == {"gap", "pyramid"} and len(grid) == 2
    assert {s.merge for s in grid if s.fusion_site == "pyramid"} == {"sk_softmax"}
    merges = config_mod.from_dict(preset_config("scff-merge")).search_space().grid()
    assert [s.merge for s in merges] == ["add", "sk", "sk_softmax", "se", "concat"]


def test_seed_count_resolves_the_effect_by_simulation():
    """Paired designs, seed sd σ, true effect δ: with ``seeds_to_resolve(δ)`` seeds a paired t test
    at 5 % finds the effect in at least 80 % of 20,000 simulated studies, and two seeds fewer do not."""
    rng = np.random.default_rng(0)
    for effect in (0.2, 0.41, 0.54):
        n = seeds_to_resolve(effect)

        def power(seeds: int) -> float:
            a = rng.normal(0.0, SEED_SD_POINTS, (20_000, seeds))
            b = rng.normal(effect, SEED_SD_POINTS, (20_000, seeds))
            return float(np.mean(stats.ttest_rel(b, a, axis=1).pvalue < 0.05))

        assert power(n) >= 0.8, (effect, n)
        assert power(n - 2) < 0.8, (effect, n)
        assert resolvable_effect(n) <= effect
    assert paper_seeds("scff-merge") == MAX_PAPER_SEEDS  # 0.2 points would need 12: capped, and the README says so


def test_paper_data_keeps_cifar_when_its_files_are_there_else_full_fashion_mnist(tmp_path):
    raw = preset_config("cfn-fusion", "paper")
    fallback, note = paper_data({**raw, "data": {**raw["data"], "root": str(tmp_path)}})
    assert fallback["data"]["dataset"] == "fashion-mnist" and fallback["data"]["image_size"] == 32
    assert fallback["data"]["subset"] is None and fallback["data"]["root"] is None
    assert "no cifar10 files" in note and "Fashion-MNIST" in note and str(tmp_path) in note
    folder, files = CIFAR_FILES["cifar10"]
    (tmp_path / folder).mkdir()
    for f in files:
        (tmp_path / folder / f).write_bytes(b"")
    kept, note = paper_data({**raw, "data": {**raw["data"], "root": str(tmp_path)}})
    assert kept["data"]["dataset"] == "cifar10" and "cifar10 from" in note
    config_mod.from_dict(fallback)  # the stand-in is a valid config
    sized, _ = paper_data({**raw, "data": {**raw["data"], "root": str(tmp_path / "nothing"), "image_size": 64}})
    assert sized["data"]["image_size"] == 64  # what the user set stays


def test_show_marks_a_design_that_cannot_be_built_instead_of_crashing():
    code, text = _cli("ablate", "--preset", "scfusion-parts", "--scale", "paper", "--show",
                      "--set", "data.image_size=8")  # VGG-16's fifth pooling has nothing left to pool
    assert code == 0
    assert len(re.findall(r"#\s+\d+\. cannot be built \(RuntimeError", text)) == 4


def test_docs_presets_has_the_generated_preset_table():
    doc = (ROOT / "docs" / "presets.md").read_text()
    for row in preset_table_rows():
        assert row in doc, row.split("|")[1]
    readme = (ROOT / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in PRESETS)  # the README names every preset


@pytest.mark.slow
def test_a_paper_scale_preset_runs_end_to_end_and_records_test_accuracy(tmp_path):
    """scfusion-alpha at --scale paper (ResNet-32, scFusion's recipe, crop_flip, the test split),
    shrunk to a smoke run: 600 images, 1 epoch, 1 seed, α 1 and 2, 200 test images."""
    db = tmp_path / "paper.db"
    code, text = _cli("ablate", "--preset", "scfusion-alpha", "--scale", "paper", "--set", "data.subset=600",
                      "--set", "budget.epochs=1", "--set", "training.replicates=1", "--set", "alpha=[1, 2]",
                      "--set", "data.test_subset=200", "--storage", f"sqlite:///{db}", "--no-progress")
    assert code == 0
    assert "running the full Fashion-MNIST at 32x32 instead" in text or "cifar10 from" in text
    study = optuna.load_study(study_name="ablate-scfusion-alpha-paper", storage=f"sqlite:///{db}")
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert sorted(t.params["alpha"] for t in done) == [1, 2]
    for t in done:
        tests = t.user_attrs[record.TEST_ACCURACY_REPLICATES]
        assert len(tests) == 1 and 0 <= tests[0] <= 1
        assert t.values[0] == pytest.approx(t.user_attrs[record.ACCURACY_REPLICATES][0])  # validation, not test
        assert t.params["backbone"] == "resnet32"
    recorded = study.user_attrs[record.STUDY_CONFIG]
    assert recorded["training"]["milestones"] == [0.5, 0.75] and recorded["training"]["lr"] == 0.1
    assert recorded["training"]["nesterov"] is False and recorded["data"]["augment"] == "crop_flip"
