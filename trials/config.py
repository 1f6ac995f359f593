"""The search config (YAML): one file says what to search, on what data, for how long, where.

Every section is a frozen dataclass checked on load, so a typo fails before anything starts
and the error names the offending key as ``section.key``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

import yaml

from search_space.space import SearchSpace
from search_space.spec import SpecError
from trials import record
from trials.data import DataConfig, DataError
from trials.data import from_dict as data_from_dict

SAMPLERS = ("nsga2", "tpe", "random", "grid")
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("cosine", "constant", "step")


class ConfigError(ValueError):
    """A config problem; the message names the key (``section.key``) and what is allowed."""


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    # TPE by default: on the 612-spec table of benchmarks/search_quality.py it led at 12-32 trials
    # and stayed within 0.005 of the best sampler's hypervolume share up to 128
    name: str = "tpe"
    seed: int = 0
    population_size: int | None = None  # NSGA-II generation size; None = budget/16 within [4, 50]


@dataclasses.dataclass(frozen=True)
class BudgetConfig:
    trials: int = 12
    epochs: int = 2
    asha: bool = False  # early-stop weak candidates on accuracy (Ray's ASHA)
    grace_epochs: int = 1


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    batch_size: int = 128
    replicates: int = 1  # seeds per spec; replicate r uses seed + r for every spec (paired)
    seed: int = 0
    save_weights: bool = True


#: trials packed on one GPU by ``resources: auto``, by batch size (benchmarks/results/gpu_sharing.json:
#: N bare processes at width 32 reach 1.0 / 1.9 / 2.3 / 2.3x the images/s of one at batch 512 and
#: 1.0 / 2.0 / 3.7 / 4.2x at batch 128, so small batches gain from more trials per GPU)
AUTO_TRIALS_PER_GPU = ((256, 4), (0, 8))  # (smallest batch size, trials per GPU)
AUTO_MAX_CPUS_PER_TRIAL = 4


@dataclasses.dataclass(frozen=True)
class ResourcesConfig:
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0  # fractional values share one GPU between trials
    concurrent: int = 2
    retries: int = 1  # times Ray re-runs a trial whose worker died
    latency_batch: int = 1
    auto: bool = False  # ``resources: auto``: the three above are chosen from the cluster by resolve()

    def resolve(self, cluster_cpus: float, cluster_gpus: float, batch_size: int) -> ResourcesConfig:
        """Concrete resources for ``auto`` (unchanged otherwise), once Ray knows the cluster.

        Without GPUs: one single-thread trial per core (two 1-thread trials beat one 2-thread
        trial by 1.59x vs 1.47x in benchmarks/results/scaling.json).  With GPUs: several
        trials per GPU (``AUTO_TRIALS_PER_GPU``), never more trials than cores, the cores
        shared out up to ``AUTO_MAX_CPUS_PER_TRIAL`` each.
        """
        if not self.auto:
            return self
        cpus, gpus = max(1, int(cluster_cpus)), int(cluster_gpus)
        if gpus < 1:
            return dataclasses.replace(self, cpus_per_trial=1.0, gpus_per_trial=0.0, concurrent=cpus)
        per_gpu = next(n for smallest, n in AUTO_TRIALS_PER_GPU if batch_size >= smallest)
        concurrent = min(gpus * per_gpu, cpus)
        return dataclasses.replace(self, concurrent=concurrent, gpus_per_trial=min(1.0, gpus / concurrent),
                                   cpus_per_trial=float(max(1, min(AUTO_MAX_CPUS_PER_TRIAL, cpus // concurrent))))

    def describe(self) -> str:
        return (f"{self.concurrent} concurrent trial(s), {self.cpus_per_trial:g} CPU and "
                f"{self.gpus_per_trial:g} GPU each")


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    study: str = "fusionscope"
    storage: str | None = None  # None = sqlite:///runs/<study>.db
    data: DataConfig = DataConfig()
    space: Mapping[str, Any] | list[Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    objectives: tuple[str, ...] = ("accuracy", "macs")
    sampler: SamplerConfig = SamplerConfig()
    budget: BudgetConfig = BudgetConfig()
    training: TrainingConfig = TrainingConfig()
    resources: ResourcesConfig = ResourcesConfig()

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///runs/{self.study}.db"

    def search_space(self) -> SearchSpace:
        try:
            return SearchSpace.from_config(self.space)
        except SpecError as err:
            raise ConfigError(f"space: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        parts = self.space if isinstance(self.space, list) else [self.space]
        spaces = [{k: list(v) if isinstance(v, tuple) else v for k, v in dict(p).items()} for p in parts]
        d["space"] = spaces if isinstance(self.space, list) else spaces[0]
        d["objectives"] = list(self.objectives)
        return d


_SECTIONS = {"sampler": SamplerConfig, "budget": BudgetConfig, "training": TrainingConfig,
             "resources": ResourcesConfig}


def _section(cls: type, section: str, raw: Any) -> Any:
    if raw is None:
        return cls()
    if cls is ResourcesConfig and raw == "auto":
        raw = {"auto": True}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{section}: expected a mapping of keys, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key {section}.{unknown[0]}; allowed keys in {section}: {', '.join(fields)}")
    defaults = cls()
    for key, value in raw.items():
        default = getattr(defaults, key)
        expected = type(default) if default is not None else int
        ok = isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if value is None and default is None:
            ok = True
        if not ok:
            raise ConfigError(f"{section}.{key}={value!r}: expected {expected.__name__}")
    return cls(**raw)


def from_dict(raw: Mapping[str, Any]) -> SearchConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"the config must be a mapping of sections, got {type(raw).__name__}")
    fields = [f.name for f in dataclasses.fields(SearchConfig)]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}; allowed top-level keys: {', '.join(fields)}")
    kwargs: dict[str, Any] = {k: _section(cls, k, raw.get(k)) for k, cls in _SECTIONS.items()}
    try:
        kwargs["data"] = data_from_dict(raw.get("data") or {})
    except DataError as err:
        raise ConfigError(f"data: {err}") from None
    objectives = raw.get("objectives", SearchConfig.objectives)
    if isinstance(objectives, str):
        objectives = [objectives]
    for name in objectives:
        if name not in record.OBJECTIVES:
            raise ConfigError(f"objectives: unknown objective {name!r}; choose from {', '.join(record.OBJECTIVES)}")
    if not 2 <= len(objectives) <= 3 or len(set(objectives)) != len(objectives):
        raise ConfigError(f"objectives: list two or three distinct objectives, got {list(objectives)}")
    space = raw.get("space") or {}
    if isinstance(space, list) and (raw.get("sampler") or {}).get("name") != "grid":
        raise ConfigError("space: a list of subspaces (a union of grids) needs sampler.name: grid")
    if not isinstance(space, (Mapping, list)):
        raise ConfigError(f"space: expected a mapping of dimension -> values, got {space!r}")
    study = raw.get("study", SearchConfig.study)
    if not isinstance(study, str) or not study:
        raise ConfigError(f"study={study!r}: expected a non-empty name")
    config = SearchConfig(study=study, storage=raw.get("storage"), space=dict(space) if isinstance(space, Mapping) else space,
                          objectives=tuple(objectives), **kwargs)
    _check_values(config)
    return config


def _check_values(c: SearchConfig) -> None:
    if c.sampler.name not in SAMPLERS:
        raise ConfigError(f"sampler.name={c.sampler.name!r}; choose from {', '.join(SAMPLERS)}")
    if c.training.optimizer not in OPTIMIZERS:
        raise ConfigError(f"training.optimizer={c.training.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    if c.training.schedule not in SCHEDULES:
        raise ConfigError(f"training.schedule={c.training.schedule!r}; choose from {', '.join(SCHEDULES)}")
    for key, value in (("budget.trials", c.budget.trials), ("budget.epochs", c.budget.epochs),
                       ("training.batch_size", c.training.batch_size), ("training.replicates", c.training.replicates),
                       ("resources.concurrent", c.resources.concurrent)):
        if value < 1:
            raise ConfigError(f"{key}={value!r}: must be at least 1")
    if c.training.lr <= 0:
        raise ConfigError(f"training.lr={c.training.lr!r}: must be positive")
    if c.resources.auto:
        explicit = [k for k in ("cpus_per_trial", "gpus_per_trial", "concurrent")
                    if getattr(c.resources, k) != getattr(ResourcesConfig(), k)]
        if explicit:
            raise ConfigError(f"resources.{explicit[0]}: set it or resources.auto, not both "
                              "(auto chooses cpus_per_trial, gpus_per_trial and concurrent)")
    if c.resources.cpus_per_trial <= 0 or c.resources.gpus_per_trial < 0:
        raise ConfigError("resources.cpus_per_trial must be > 0 and resources.gpus_per_trial >= 0")
    c.search_space()  # raises ConfigError naming the space key


def load(path: str | Path) -> SearchConfig:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return from_dict(raw or {})
