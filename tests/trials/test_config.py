import pytest

from trials.config import ConfigError, from_dict, load


def test_defaults_and_storage_url():
    c = from_dict({"study": "s1"})
    assert c.storage_url == "sqlite:///runs/s1.db"
    assert c.objectives == ("accuracy", "macs") and c.sampler.name == "tpe"
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
    ({"resources": {"auto": True, "concurrent": 3}}, ["resources.concurrent", "auto"]),
    ({"resources": "many"}, ["resources", "mapping"]),
])
def test_bad_configs_name_the_key(raw, words):
    with pytest.raises(ConfigError) as err:
        from_dict(raw)
    for w in words:
        assert w in str(err.value)


def test_fractional_resources_are_accepted():
    c = from_dict({"resources": {"cpus_per_trial": 0.5, "gpus_per_trial": 0.25}})
    assert c.resources.gpus_per_trial == 0.25 and c.resources.cpus_per_trial == 0.5


@pytest.mark.parametrize("cpus, gpus, batch, expected", [
    (2, 0, 128, (2, 1.0, 0.0)),  # CPU only: one 1-thread trial per core
    (16, 1, 512, (4, 4.0, 0.25)),  # large batches: 4 trials share the GPU, 4 cores each
    (16, 1, 128, (8, 2.0, 0.125)),  # small batches: 8 per GPU
    (16, 2, 512, (8, 2.0, 0.25)),  # two GPUs: 4 on each
    (2, 1, 128, (2, 1.0, 0.5)),  # never more trials than cores
])
def test_resources_auto_resolves_from_the_cluster(cpus, gpus, batch, expected):
    res = from_dict({"resources": "auto"}).resources
    assert res.auto
    r = res.resolve(cpus, gpus, batch)
    assert (r.concurrent, r.cpus_per_trial, r.gpus_per_trial) == expected
    explicit = from_dict({"resources": {"concurrent": 3}}).resources
    assert explicit.resolve(cpus, gpus, batch) == explicit  # only auto is resolved


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


def test_the_space_is_parsed_once_however_often_the_config_is_rebuilt(monkeypatch):
    """A search rebuilds its config on every override (``dataclasses.replace``) and asks for the space
    in several places; the parsed space is the same object each time, not parsed again."""
    import dataclasses

    from search_space.space import SearchSpace
    from trials.config import SearchConfig

    calls = []
    original = SearchSpace.from_config.__func__
    monkeypatch.setattr(SearchSpace, "from_config", classmethod(lambda cls, c: calls.append(c) or original(cls, c)))
    config = SearchConfig(space={"backbone": "plain", "width": [8, 24], "fusion": ["none", "lc"]})
    for _ in range(5):
        config = dataclasses.replace(config, study="renamed")
        assert config.search_space() is config.search_space()
    assert len(calls) <= 1  # 0 when an earlier test parsed the same space
