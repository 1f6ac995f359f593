import optuna
import pytest

from search_space.space import DEFAULT_SPACE, SearchSpace
from search_space.spec import ArchSpec, SpecError

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_sampled_params_are_exactly_the_flattened_spec():
    space = SearchSpace.from_config()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_sites = set()
    for _ in range(60):
        trial = study.ask()
        spec = space.sample(trial)
        assert trial.params == spec.to_params()
        assert ArchSpec.from_params(study.trials[-1].params if study.trials[-1].params else trial.params) == spec
        # conditional: D-S type only asked for pyramid fusion, strategy only when fused
        assert ("downsample" in trial.params) == (spec.fusion_site == "pyramid")
        assert ("strategy" in trial.params) == (spec.fusion not in (None, "none", "concat"))
        seen_sites.add(spec.fusion_site)
        study.tell(trial, 0.0)
    assert seen_sites == {"gap", "pyramid", None}  # None: HCNN combinations of base networks
    stored = study.trials[0]
    assert ArchSpec.from_params(stored.params) == space.sample(optuna.trial.FixedTrial(stored.params))


def test_restrict_and_fix_dimensions():
    space = SearchSpace.from_config({"backbone": "plain", "fusion_site": "gap", "fusion": ["sum", "lc"],
                                     "strategy": "eflp", "width": 16, "depth": 1, "side_channels": 32,
                                     "alpha": 1, "combination": "single"})
    grid = space.grid()
    assert {s.fusion for s in grid} == {"sum", "lc"}
    assert {s.branches for s in grid} == {(1,), (2,), (1, 2)}  # fusing needs a side branch
    assert len(grid) == 6 and len(set(grid)) == 6


def test_grid_covers_the_paper_ablations():
    space = SearchSpace.from_config({"backbone": "plain", "width": 16, "depth": 1, "side_channels": 32,
                                     "fusion_site": "pyramid", "branches": "1,2", "merge": "add",
                                     "detach": False, "alpha": 1, "combination": "single"})
    assert sorted(s.downsample for s in space.grid()) == sorted(DEFAULT_SPACE["downsample"])
    parts = SearchSpace.from_config({"backbone": "vgg", "width": 16, "depth": 1, "fusion": "none",
                                     "alpha": [1, 4], "combination": "single"}).grid()
    assert {(s.alpha, s.sc_add, s.sc_inverse) for s in parts} == {
        (1, None, None), (4, False, None), (4, True, False), (4, True, True)}  # scFusion A/B/C/D


@pytest.mark.parametrize("config, words", [
    ({"fusoin": "lc"}, ["'fusoin'", "allowed keys"]),
    ({"downsample": ["avgpool", "bilinear"]}, ["downsample", "'bilinear'"]),
    ({"alpha": [1, 8], "width": [12]}, ["alpha=8", "width=12"]),
    ({"branches": ["1,5"]}, ["branches", "1..2"]),
    ({"width": []}, ["width"]),
])
def test_bad_space_config_names_the_key(config, words):
    with pytest.raises(SpecError) as err:
        SearchSpace.from_config(config)
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize("config, key", [
    ({"combination": "avg", "fusion": "lc"}, "fusion"),
    ({"fusion": "none", "strategy": "eplf"}, "strategy"),
    ({"fusion_site": "gap", "downsample": "maxpool"}, "downsample"),
    ({"combination": "cl", "cl_layers": 1, "cl_width": 64}, "cl_width"),
    ({"combination": "single", "partner_backbone": "vgg"}, "partner_backbone"),
    ({"backbone": "resnet", "combination": "single", "side_channels": 32}, "side_channels"),
    ({"backbone": ["cfn", "tv:resnet18"], "width": 16}, "width"),
    ({"alpha": 1, "sc_add": True}, "sc_add"),
])
def test_a_fixed_dimension_that_never_applies_is_an_error(config, key):
    """Issue #20 item 5: the trials would train without it, silently."""
    with pytest.raises(SpecError, match=f"space key {key!r} applies only with"):
        SearchSpace.from_config(config)
    with pytest.raises(SpecError, match=f"space key {key!r}"):
        SearchSpace.from_config([{"backbone": "plain"}, config])  # each part of a union on its own


def test_a_dimension_that_applies_to_some_candidates_is_fine():
    SearchSpace.from_config({"fusion": ["none", "lc"], "strategy": "eplf"})  # eplf where lc
    SearchSpace.from_config({"backbone": ["plain", "cfn"], "width": 16})  # width where plain
    SearchSpace.from_config({"backbone": "vgg", "side_channels": 32})  # a plain HCNN partner's K


def test_side_branch_sets_follow_each_backbones_stages():
    grid = SearchSpace.from_config({"backbone": ["plain", "resnet18"], "width": 8, "depth": 1,
                                    "fusion_site": "gap", "fusion": "sum", "combination": "single",
                                    "alpha": 1}).grid()
    assert {s.branches for s in grid if s.backbone == "plain"} == {(1,), (2,), (1, 2)}
    assert (1, 2, 3) in {s.branches for s in grid if s.backbone == "resnet18"}  # four stages
    with pytest.raises(SpecError, match="branches='1,2,3': stages=3 has side-branch stages 1..2"):
        SearchSpace.from_config({"backbone": ["plain", "resnet18"], "fusion": "sum", "branches": "1,2,3"})
    with pytest.raises(SpecError, match="backbone='cfn' has side-branch stages 1..2"):
        SearchSpace.from_config({"backbone": "cfn", "fusion": "sum", "branches": "1,3"})
