import pytest

from trials.config import ConfigError, from_dict, load


def test_defaults_and_storage_url():
    c = from_dict({"study": "s1"})
    assert c.storage_url == "sqlite:///runs/s1.db"
    assert c.objectives == ("accuracy", "macs") and c.sampler.name == "nsga2"
    assert from_dict({"storage": "postgresql+psycopg2://u:p@h/db"}).storage_url.startswith("postgresql")


@pytest.mark.parametrize("raw, words", [
    ({"budjet": {"trials": 3}}, ["'budjet'", "allowed top-level keys"]),
    ({"budget": {"trails": 3}}, ["budget.trails", "trials"]),
    ({"objectives": ["accuracy", "flops"]}, ["'flops'", "macs"]),
    ({"objectives": ["accuracy"]}, ["two or three"]),
    ({"data": {"dataset": "mnist2"}}, ["data:", "mnist2"]),
    ({"sampler": {"name": "cmaes"}}, ["sampler.name", "nsga2"]),
    ({"space": {"fusion": ["lc", "max"]}}, ["space:", "fusion", "'max'"]),
    ({"space": {"fusoin": "lc"}}, ["space:", "'fusoin'"]),
    ({"budget": {"trials": "ten"}}, ["budget.trials", "int"]),
    ({"training": {"lr": -1.0}}, ["training.lr"]),
])
def test_bad_configs_name_the_key(raw, words):
    with pytest.raises(ConfigError) as err:
        from_dict(raw)
    for w in words:
        assert w in str(err.value)


def test_fractional_resources_are_accepted():
    c = from_dict({"resources": {"cpus_per_trial": 0.5, "gpus_per_trial": 0.25}})
    assert c.resources.gpus_per_trial == 0.25 and c.resources.cpus_per_trial == 0.5


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("space: {backbone: [plain\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "nope.yaml")


def test_quickstart_config_is_valid():
    c = load("configs/quickstart.yaml")
    assert c.search_space().size() > c.budget.trials
