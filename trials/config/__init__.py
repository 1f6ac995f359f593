"""The search config (YAML): one file says what to search, on what data, for how long, where.

Every section is a frozen dataclass that checks itself from its annotations on construction
(``trials.checked``), so a typo or an impossible value fails before anything starts, the error
names the offending key as ``section.key``, and a config built in code is checked exactly
like one read from YAML.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any, Literal, Mapping, get_args

import yaml

from search_space.space import SearchSpace
from search_space.spec import SpecError
from trials.record.objectives import OBJECTIVES
from trials.config.samplers import SAMPLERS
from trials.checked import Checked, ConfigError, bounded, check_keys, from_mapping, load_yaml
from trials.config.constraints import Constraints
from trials.data import DataConfig, DataError, dataset_entry, split_sizes
from trials.data import from_dict as data_from_dict

SamplerName = Literal[tuple(SAMPLERS)]  # type: ignore[valid-type]  (the sampler table's names)
EarlyStopping = Literal["none", "asha", "moasha"]
ReplicatesMode = Literal["auto", "together", "sequential"]
OptimizerName = Literal["sgd", "adamw"]
ScheduleName = Literal["cosine", "constant", "step"]
OPTIMIZERS = get_args(OptimizerName)
SCHEDULES = get_args(ScheduleName)
#: ``schedule: step`` drops the learning rate 10x at these fractions of the budget unless told otherwise
DEFAULT_MILESTONES = (0.5, 0.75)

#: a search needs this many validation images (below it accuracy moves in steps of > 2 points)
#: and training images (below it an epoch is a handful of batches); both named in the error
MIN_VALIDATION_IMAGES = 50
MIN_TRAINING_IMAGES = 100
#: seeds go to NumPy's generators (Optuna's samplers, data splits), which take at most 2**32 - 1
MAX_SEED = 2**32 - 1

__all__ = ["ConfigError", "SearchConfig", "from_dict", "load"]


@dataclasses.dataclass(frozen=True)
class SamplerConfig(Checked):
    section = "sampler"
    name: SamplerName = "tpe"  # trials/config/samplers.py: the table, and why TPE is the default
    seed: int = bounded(0, min=0, max=MAX_SEED)
    # NSGA-II generation size (Optuna needs at least 2); None = budget/16 within [4, 50]
    population_size: int | None = bounded(None, min=2)


@dataclasses.dataclass(frozen=True)
class BudgetConfig(Checked):
    section = "budget"
    trials: int = bounded(12, min=1)
    epochs: int = bounded(2, min=1)
    asha: bool = False  # kept for old configs: the same as early_stopping: asha
    grace_epochs: int = bounded(1, min=1)
    # none; asha (Ray's ASHA, on accuracy alone); moasha (successive halving by non-dominated
    # sorting of accuracy at the rung and the study's cost objectives, trials/running/moasha.py)
    early_stopping: EarlyStopping = "none"
    reduction_factor: int = bounded(2, min=2)

    @property
    def scheduler(self) -> str:
        return "asha" if self.asha and self.early_stopping == "none" else self.early_stopping


@dataclasses.dataclass(frozen=True)
class TrainingConfig(Checked):
    section = "training"
    optimizer: OptimizerName = "sgd"
    lr: float = bounded(0.05, above=0)
    momentum: float = bounded(0.9, min=0, below=1)
    # classical momentum by default, as all four papers train (Caffe's and PyTorch's SGD); sgd only
    nesterov: bool = False
    weight_decay: float = bounded(5e-4, min=0)
    schedule: ScheduleName = "cosine"
    # schedule step: the learning rate drops 10x at these fractions of the budget (of the training
    # steps of each stage); the papers' own: CFN [5/6], scFusion's CIFAR ResNets [0.5, 0.75]
    milestones: tuple[float, ...] = DEFAULT_MILESTONES
    batch_size: int = bounded(128, min=1)
    replicates: int = bounded(1, min=1)  # seeds per spec, see ``seeds``
    seed: int = bounded(0, min=0, max=MAX_SEED)
    save_weights: bool = True
    # R replicates of a single network: one stacked model (torch.func) or one after another; auto
    # chooses by trials/training/replicates.py: choose_mode, from benchmarks/results/replicates.json
    replicates_mode: ReplicatesMode = "auto"

    @property
    def seeds(self) -> list[int]:
        """The replicates' seeds, the one rule: replicate r uses ``seed + r`` for every spec, so
        paired comparisons share initialisation, data order and augmentation (common random numbers)."""
        return [self.seed + r for r in range(self.replicates)]

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "milestones", _check_milestones(self.milestones))
        if self.nesterov and self.optimizer != "sgd":
            raise ConfigError(f"training.nesterov=true applies to optimizer: sgd only, not {self.optimizer!r}")
        if self.nesterov and self.momentum == 0:
            raise ConfigError("training.nesterov=true needs training.momentum > 0 (Nesterov momentum without momentum)")
        if self.milestones != DEFAULT_MILESTONES and self.schedule != "step":
            raise ConfigError(f"training.milestones={list(self.milestones)} applies to schedule: step only, "
                              f"not {self.schedule!r}")


def _check_milestones(value: Any) -> tuple[float, ...]:
    """Fractions of the budget, strictly increasing, each in (0, 1); a list from YAML becomes a tuple."""
    shown = list(value) if isinstance(value, (list, tuple)) else value
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"training.milestones={shown!r}: expected a list of fractions of the budget, "
                          "e.g. [0.5, 0.75]")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
            raise ConfigError(f"training.milestones={shown!r}: each milestone is a fraction of the budget "
                              f"in (0, 1), got {v!r}")
        out.append(float(v))
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ConfigError(f"training.milestones={shown!r}: milestones must increase")
    return tuple(out)


#: trials packed on one GPU by ``resources: auto``, by batch size (benchmarks/results/gpu_sharing.json:
#: N bare processes at width 32 reach 1.0 / 1.9 / 2.3 / 2.3x the images/s of one at batch 512 and
#: 1.0 / 2.0 / 3.7 / 4.2x at batch 128, so small batches gain from more trials per GPU)
AUTO_TRIALS_PER_GPU = ((256, 4), (0, 8))  # (smallest batch size, trials per GPU)
AUTO_MAX_CPUS_PER_TRIAL = 4


@dataclasses.dataclass(frozen=True)
class ResourcesConfig(Checked):
    section = "resources"
    cpus_per_trial: float = bounded(1.0, above=0)
    gpus_per_trial: float = bounded(0.0, min=0)  # fractional values share one GPU between trials
    concurrent: int = bounded(2, min=1)
    retries: int = bounded(1, min=0)  # times Ray re-runs a trial whose worker died
    latency_batch: int = bounded(1, min=1)
    auto: bool = False  # ``resources: auto``: the three above are chosen from the cluster by resolve()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.auto:
            explicit = [k for k in ("cpus_per_trial", "gpus_per_trial", "concurrent")
                        if getattr(self, k) != getattr(ResourcesConfig(), k)]
            if explicit:
                raise ConfigError(f"resources.{explicit[0]}: set it or resources.auto, not both "
                                  "(auto chooses cpus_per_trial, gpus_per_trial and concurrent)")

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
            return dataclasses.replace(self, auto=False, cpus_per_trial=1.0, gpus_per_trial=0.0, concurrent=cpus)
        per_gpu = next(n for smallest, n in AUTO_TRIALS_PER_GPU if batch_size >= smallest)
        concurrent = min(gpus * per_gpu, cpus)
        return dataclasses.replace(self, auto=False, concurrent=concurrent, gpus_per_trial=min(1.0, gpus / concurrent),
                                   cpus_per_trial=float(max(1, min(AUTO_MAX_CPUS_PER_TRIAL, cpus // concurrent))))

    def describe(self) -> str:
        return (f"{self.concurrent} concurrent trial(s), {self.cpus_per_trial:g} CPU and "
                f"{self.gpus_per_trial:g} GPU each")


def check_study_name(name: Any) -> str:
    """A study name names ``runs/<name>.db`` and Ray's result folder, so it must stay one path
    component: not empty, no ``/`` or ``\\``, not ``.`` or ``..``."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"study={name!r}: expected a non-empty name")
    if any(c in name for c in "/\\\0") or name in (".", "..") or name != name.strip():
        raise ConfigError(f"study={name!r}: a study name becomes a file name under runs/; "
                          "use letters, digits, '-', '_' or '.', without '/' or '\\'")
    return name


@dataclasses.dataclass(frozen=True)
class SearchConfig(Checked):
    study: str = "fusionscope"
    storage: str | None = None  # None = sqlite:///runs/<study>.db
    data: DataConfig = DataConfig()
    space: Mapping[str, Any] | list[Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    objectives: tuple[str, ...] = ("accuracy", "macs")
    sampler: SamplerConfig = SamplerConfig()
    budget: BudgetConfig = BudgetConfig()
    training: TrainingConfig = TrainingConfig()
    resources: ResourcesConfig = ResourcesConfig()
    # cost limits known before training (trials/config/constraints.py): a design over one is never trained
    constraints: Constraints = Constraints()

    def __post_init__(self) -> None:
        super().__post_init__()
        check_study_name(self.study)
        if self.storage is not None and not self.storage.strip():
            raise ConfigError("storage='': expected a URL, e.g. sqlite:///runs/search.db (or leave it out)")
        for name in self.objectives:
            if name not in OBJECTIVES:
                raise ConfigError(f"objectives: unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
        if not 2 <= len(self.objectives) <= 3 or len(set(self.objectives)) != len(self.objectives):
            raise ConfigError(f"objectives: list two or three distinct objectives, got {list(self.objectives)}")
        if not isinstance(self.space, (Mapping, list)):
            raise ConfigError(f"space: expected a mapping of dimension -> values, got {self.space!r}")
        if isinstance(self.space, list) and not SAMPLERS[self.sampler.name].walks_grid:
            raise ConfigError("space: a list of subspaces (a union of grids) needs sampler.name: grid")
        self._check_split()
        self._check_sizes()
        self.search_space()  # raises ConfigError naming the space key

    def _check_sizes(self) -> None:
        """Numbers that pass their field's range but not together, or that no machine can train."""
        from search_space.commands import MAX_IMAGE_SIZE

        size = self.data.image_size
        if size is not None and size > MAX_IMAGE_SIZE:
            raise ConfigError(f"data.image_size={size}: must be between 1 and {MAX_IMAGE_SIZE} pixels "
                              "(the largest the cost command builds)")
        last = self.training.seed + self.training.replicates - 1
        if last > MAX_SEED:
            raise ConfigError(f"training.seed={self.training.seed}: its {self.training.replicates} replicates use seeds "
                              f"up to {last}, above {MAX_SEED}")

    def _check_split(self) -> None:
        """Enough validation and training images: val_fraction 0 would record accuracy 0.0 for
        every trial, 0.99 of a small subset trains on a handful of images."""
        d = self.data
        if d.val_fraction <= 0:
            raise ConfigError(f"data.val_fraction={d.val_fraction!r}: a search selects on validation accuracy, "
                              f"so it needs validation images (at least {MIN_VALIDATION_IMAGES})")
        size = d.subset if d.subset is not None else dataset_entry(d.dataset).train_size
        if size is None:  # an image folder: checked when it is loaded
            return
        n_train, n_val = split_sizes(size, d.val_fraction)
        if n_val < MIN_VALIDATION_IMAGES or n_train < MIN_TRAINING_IMAGES:
            raise ConfigError(
                f"data.val_fraction={d.val_fraction!r} of {size} images leaves {n_train} training and {n_val} "
                f"validation images; a search needs at least {MIN_TRAINING_IMAGES} and {MIN_VALIDATION_IMAGES}")


    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///runs/{self.study}.db"

    def search_space(self) -> SearchSpace:
        """The parsed space of ``space``: parsed once per distinct space (a config is rebuilt by every
        ``dataclasses.replace`` of an override, and the search, the searcher and ``ablate`` all ask)."""
        return _parse_space(json.dumps(self.space, sort_keys=True, default=list))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        parts = self.space if isinstance(self.space, list) else [self.space]
        spaces = [{k: list(v) if isinstance(v, tuple) else v for k, v in dict(p).items()} for p in parts]
        d["space"] = spaces if isinstance(self.space, list) else spaces[0]
        d["objectives"] = list(self.objectives)
        return d


@functools.lru_cache(maxsize=16)
def _parse_space(canonical: str) -> SearchSpace:
    try:
        return SearchSpace.from_config(json.loads(canonical))
    except SpecError as err:
        raise ConfigError(f"space: {err}") from None


_SECTIONS = {"sampler": SamplerConfig, "budget": BudgetConfig, "training": TrainingConfig,
             "resources": ResourcesConfig}
#: a bare word for a section: ``sampler: nsga2`` is ``{name: nsga2}``, ``resources: auto`` is ``{auto: true}``
_SHORTHANDS = {"sampler": lambda word: {"name": word}, "resources": lambda word: {"auto": True} if word == "auto" else word}


def from_dict(raw: Any) -> SearchConfig:
    """The config from parsed YAML; an empty document, a list or a number is an error (never
    the default search: a user who meant something else would start a 54k-image search)."""
    if not isinstance(raw, Mapping) or not raw:
        shown = "an empty file" if raw is None or raw == {} else f"{type(raw).__name__} {raw!r}"
        raise ConfigError(f"the config must be a mapping of sections (study, data, space, ...), got {shown}")
    check_keys(SearchConfig, raw, "")
    kwargs: dict[str, Any] = {}
    for key, cls in _SECTIONS.items():
        value = raw.get(key)
        if isinstance(value, str) and key in _SHORTHANDS:
            value = _SHORTHANDS[key](value)
        kwargs[key] = from_mapping(cls, value)
    kwargs["constraints"] = Constraints.from_dict(raw.get("constraints"))
    try:
        kwargs["data"] = data_from_dict(raw.get("data") or {})
    except DataError as err:
        raise ConfigError(f"data: {err}") from None
    objectives = raw.get("objectives", SearchConfig.objectives)
    if isinstance(objectives, str):
        objectives = [objectives]
    if not isinstance(objectives, (list, tuple)):
        raise ConfigError(f"objectives: expected a list such as [accuracy, macs], got {objectives!r}")
    space = raw.get("space") or {}
    sampler_name = (raw.get("sampler") or {}).get("name") if isinstance(raw.get("sampler"), Mapping) else raw.get("sampler")
    if isinstance(space, list) and not (sampler_name in SAMPLERS and SAMPLERS[sampler_name].walks_grid):
        raise ConfigError("space: a list of subspaces (a union of grids) needs sampler.name: grid")
    if not isinstance(space, (Mapping, list)):
        raise ConfigError(f"space: expected a mapping of dimension -> values, got {space!r}")
    return SearchConfig(study=raw.get("study", SearchConfig.study), storage=raw.get("storage"),
                        space=dict(space) if isinstance(space, Mapping) else list(space),
                        objectives=tuple(objectives), **kwargs)


def load(path: str | Path) -> SearchConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist" if not path.exists()
                          else f"config file {str(path)!r} is not a file")
    try:
        raw = load_yaml(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    except ConfigError as err:  # a key given twice
        raise ConfigError(f"{path}: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {str(path)!r}: {err}") from None
    try:
        return from_dict(raw)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
