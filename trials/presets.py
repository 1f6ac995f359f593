"""Ready-made ablations, one per paper table: a grid over one factor, the rest fixed, at two scales.

Each preset is an ordinary search config (grid sampler, replicates), so its study reads like
the paper's table in ``fusionscope report``.

* ``--scale cpu`` (default): small nets on a Fashion-MNIST subset, sized for this 2-core machine.
  The default budget is one at which the reference design has stopped learning: a short budget
  ranks designs by how fast they start, not by where they end (LC fusion's first epoch is slow).
  ``benchmarks/preset_budget.py`` measured the ``cfn-fusion`` reference design's curve at these
  data settings (``benchmarks/results/preset_budget.json``): after epoch 10 of 12 it gains less
  than a point.  These runs were measured with Nesterov momentum, so the cpu scale keeps it.
* ``--scale paper``: the paper's network, recipe (optimizer, lr, weight decay, batch, schedule and
  milestones, epochs, augmentation), data (CIFAR-10/100 when its files are under ``data.root``,
  else the full Fashion-MNIST at 32×32, and the command says so) and a seed count that can
  resolve the paper's effect size (``seeds_to_resolve``).  Sized for GPUs.

Every preset records each design's test accuracy (``data.test_accuracy``) beside validation.
``python -m trials.presets`` prints the README's preset table from ``PRESETS``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from search_space.commands import parse_assignment
from search_space.spec import SpecError
from trials.checked import ConfigError

#: Default budget of the cpu scale (see the module docstring for where the numbers come from).
DEFAULT_EPOCHS = 10
DEFAULT_SUBSET = 4000
DEFAULT_REPLICATES = 3
SCALES = ("cpu", "paper")

#: Config sections ``--set section.key=value`` may address; a bare key addresses ``space``.
SECTIONS = ("data", "space", "budget", "training", "resources", "sampler")

_COMMON_SPACE = {"width": 16, "depth": 1, "stages": 3, "alpha": 1, "combination": "single"}
#: K of the plain net's 1x1 conv: a space key only where some candidate has that conv
_PLAIN_K = {"side_channels": 32}
#: CFN's own K (§4.1, Table 1: the 768 LC fusion params are 192 × (3 + 1))
_CFN_K = {"side_channels": 192}

# --- the papers' recipes ----------------------------------------------------------------------
#: Seed-to-seed standard deviation of CIFAR-10 test accuracy assumed for a paper-scale run, in
#: points: He et al. 2016 (the CIFAR ResNets scFusion and SCFF build on) report ResNet-110 as
#: 6.61 ± 0.16 % error over 5 runs.  Not measured here; a preset's study measures its own.
SEED_SD_POINTS = 0.16
#: power and two-sided level at which ``seeds_to_resolve`` sizes a paired comparison
POWER, ALPHA = 0.8, 0.05
#: more seeds than this per design is beyond what one preset should ask (the report says what it resolves)
MAX_PAPER_SEEDS = 10

RECIPES: dict[str, dict[str, Any]] = {
    "cfn": {  # CFN §4.1 (CIFAR)
        "training": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False, "weight_decay": 1e-4,
                     "batch_size": 100, "schedule": "step", "milestones": [round(10 / 12, 6)]},
        "epochs": 240,  # 12×10⁴ iterations × batch 100 / 50,000 images
        "augment": "none",  # Table 1 is "without data augmentation"
        "source": "CFN §4.1: SGD, momentum 0.9, weight decay 1e-4, batch 100, lr 0.1 ÷10 after 10×10⁴ of "
                  "12×10⁴ iterations (240 epochs), no augmentation (Table 1)",
    },
    "scff": {  # SCFF §3
        "training": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False, "weight_decay": 5e-4,
                     "batch_size": 128, "schedule": "step", "milestones": [0.3, 0.6, 0.9]},
        "epochs": 100,
        "augment": "crop_flip",
        "source": "SCFF §3: SGD, 100 epochs, lr 0.1 ÷10 every 30 epochs, random crop (+ rotation); momentum "
                  "0.9, weight decay 5e-4 and batch 128 are not given there (assumed)",
    },
    "scfusion": {  # scFusion appendix A.1 (CIFAR-10 ResNets)
        "training": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False, "weight_decay": 1e-4,
                     "batch_size": 128, "schedule": "step", "milestones": [0.5, 0.75]},
        "epochs": 185,
        "augment": "crop_flip",
        "source": "scFusion A.1: momentum 0.9, lr 0.1 ÷10 at 50 % and 75 %, 185 epochs, batch 128, pad-4 crop + "
                  "flip; weight decay not given (1e-4, He et al.'s CIFAR ResNets, assumed)",
    },
}


def paired_power(seeds: int, effect_points: float, sd_points: float = SEED_SD_POINTS) -> float:
    """Power of a two-sided paired t test at ``ALPHA`` over ``seeds`` pairs of designs, true difference
    ``effect_points``, each design's seeds with sd ``sd_points`` (a difference then has sd √2·σ)."""
    from scipy import stats  # only when a paper-scale seed count is asked for

    df = seeds - 1
    crit = stats.t.ppf(1 - ALPHA / 2, df)
    shift = effect_points / (math.sqrt(2) * sd_points) * math.sqrt(seeds)
    upper, lower = float(stats.nct.sf(crit, df, shift)), float(stats.nct.cdf(-crit, df, shift))
    # far in the tails scipy's nct returns nan: there the upper tail is 1 and the lower one 0
    return (1.0 if math.isnan(upper) else upper) + (0.0 if math.isnan(lower) else lower)


def seeds_to_resolve(effect_points: float, sd_points: float = SEED_SD_POINTS) -> int:
    """The fewest seeds per design at which ``paired_power`` reaches ``POWER`` (exact, noncentral t)."""
    n = 2
    while paired_power(n, effect_points, sd_points) < POWER:
        n += 1
    return n


def resolvable_effect(seeds: int, sd_points: float = SEED_SD_POINTS) -> float:
    """The smallest effect (points) that ``seeds`` per design resolve with ``POWER`` (bisection)."""
    lo, hi = 0.0, 10 * sd_points
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if paired_power(seeds, mid, sd_points) >= POWER else (mid, hi)
    return hi


# --- the presets ------------------------------------------------------------------------------
# ``space``: the cpu scale's grid (merged over _COMMON_SPACE).  ``paper``: the paper's network grid,
# its recipe (RECIPES), data set, the effect in points its seed count must resolve and the runs the
# paper itself made; ``claim``: the paper's claim and its numbers; ``differs``: what still differs.
_RESNET50_PYRAMID = {"backbone": "tv:resnet50", "fusion_site": "pyramid", "branches": "1,2,3"}

PRESETS: dict[str, dict[str, Any]] = {
    "cfn-fusion": {  # CFN Table 1: plain CNN vs sum / conv / LC fusion of GAP branches
        "about": "CFN Table 1: CNN (no fusion) vs CNN-Sum, CNN-Conv and CFN (LC fusion), EFLP",
        "space": {"backbone": "plain", "fusion_site": "gap", "fusion": ["none", "sum", "conv", "lc"],
                  "strategy": "eflp", "branches": "1,2", **_PLAIN_K},
        "claim": "LC fusion beats sum and conv fusion and the plain CNN: CIFAR-10 test error 9.28 (CNN), 8.84 "
                 "(sum), 8.68 (conv), 8.27 % (LC), i.e. +0.44 / +0.60 / +1.01 points",
        "paper": {"space": {"backbone": "cfn", "fusion_site": "gap", "fusion": ["none", "sum", "conv", "lc"],
                            "strategy": "eflp", "branches": "1,2", **_CFN_K, "alpha": 1, "combination": "single"},
                  "recipe": "cfn", "dataset": "cifar10", "effect_points": 0.41, "paper_runs": 1,
                  "effect_why": "LC over conv, the step CFN's claim rests on"},
        "differs": "per-channel standardisation instead of global contrast normalisation; 45,000 training images "
                   "(5,000 held out for validation), so 108k of the paper's 120k iterations; the net's layout is "
                   "inferred from Table 1's counts (Fig. 4 is not in the text)",
    },
    "cfn-strategy": {  # CFN §3.1, eq. 2: early fusion/late prediction vs the opposite
        "about": "CFN eq. 2 / Fig. 2: EFLP vs EPLF with LC fusion",
        "space": {"backbone": "plain", "fusion_site": "gap", "fusion": "lc", "strategy": ["eflp", "eplf"],
                  "branches": "1,2", **_PLAIN_K},
        "claim": "EFLP needs fewer head parameters than EPLF (S(C+1) vs SK(C+1), eq. 2) and gives a richer fused "
                 "feature; no accuracy for EPLF is reported",
        "paper": {"space": {"backbone": "cfn", "fusion_site": "gap", "fusion": "lc", "strategy": ["eflp", "eplf"],
                            "branches": "1,2", **_CFN_K, "alpha": 1, "combination": "single"},
                  "recipe": "cfn", "dataset": "cifar10", "effect_points": 0.5, "paper_runs": 1,
                  "effect_why": "no figure in the paper: half a point"},
        "differs": "as cfn-fusion; the paper gives no EPLF accuracy to compare with",
    },
    "scff-pyramid": {  # SCFF Table 3: a ResNet with and without the SCFF pyramid
        "about": "SCFF Table 3: a ResNet with and without SCFF's pyramid (avg-pool D-S, SK-softmax F-F)",
        "space": [{"backbone": "resnet", "fusion_site": "gap", "fusion": "none"},
                  {"backbone": "resnet", "fusion_site": "pyramid", "branches": "1,2", "downsample": "avgpool_conv",
                   "merge": "sk_softmax", "detach": False}],
        "claim": "SCFF raises the accuracy of every ResNet it is embedded in, at a small cost in computation "
                 "(Table 3; its figures are not in the text)",
        "paper": {"space": [{"backbone": ["resnet18", "tv:resnet50"], "fusion_site": "gap", "fusion": "none",
                             "alpha": 1, "combination": "single"},
                            {"backbone": ["resnet18", "tv:resnet50"], "fusion_site": "pyramid", "branches": "1,2,3",
                             "downsample": "avgpool_conv", "merge": "sk_softmax", "detach": False,
                             "alpha": 1, "combination": "single"}],
                  "recipe": "scff", "dataset": "cifar10", "effect_points": 0.5, "paper_runs": 4,
                  "effect_why": "Table 3's figures are not in the text: half a point; SCFF averages 'more than "
                                "three' runs"},
        "differs": "rotation is not in crop_flip (a flip is); torchvision's ResNet-50 keeps its ImageNet stem "
                   "(7×7/2 + max-pool) on 32×32 images, SCFF does not say which stem its CIFAR ResNet-50 had; "
                   "momentum, weight decay and batch size assumed",
    },
    "scff-downsample": {  # SCFF Table 2 (upper): D-S types with F-F = add
        "about": "SCFF Table 2 (upper): D-S module types, F-F fixed to addition",
        "space": {"backbone": "resnet", "fusion_site": "pyramid", "branches": "1,2", "merge": "add",
                  "detach": False, "downsample": ["avgpool_conv", "maxpool_conv", "conv2x2", "conv1x1",
                                                  "avgpool", "maxpool"]},
        "claim": "with F-F = add, average and max pooling D-S modules help most (Table 2, upper; figures not "
                 "in the text), so SCFF uses average pooling",
        "paper": {"space": {**_RESNET50_PYRAMID, "merge": "add", "detach": False,
                            "downsample": ["avgpool_conv", "maxpool_conv", "conv2x2", "conv1x1", "avgpool", "maxpool"],
                            "alpha": 1, "combination": "single"},
                  "recipe": "scff", "dataset": "cifar10", "effect_points": 0.5, "paper_runs": 4,
                  "effect_why": "Table 2's figures are not in the text: half a point"},
        "differs": "as scff-pyramid",
    },
    "scff-detach": {  # SCFF Table 2 (lower) / Fig. 3: cut the fusion gradient into lower stages
        "about": "SCFF Table 2 (lower), Fig. 3: average vs max pooling D-S, with and without detach",
        "space": {"backbone": "resnet", "fusion_site": "pyramid", "branches": "1,2", "merge": "add",
                  "downsample": ["avgpool", "maxpool"], "detach": [False, True]},
        "claim": "cutting SCFF's gradient into stages 1-3 lowers accuracy, more for max than for average pooling "
                 "(Table 2, lower; figures not in the text)",
        "paper": {"space": {**_RESNET50_PYRAMID, "merge": "add", "downsample": ["avgpool", "maxpool"],
                            "detach": [False, True], "alpha": 1, "combination": "single"},
                  "recipe": "scff", "dataset": "cifar10", "effect_points": 0.5, "paper_runs": 4,
                  "effect_why": "Table 2's figures are not in the text: half a point"},
        "differs": "as scff-pyramid",
    },
    "scff-merge": {  # SCFF §2.3.3: the F-F module
        "about": "SCFF §2.3.3: F-F modules add / SK / SK-softmax / SE / concat, D-S = avg pool + 1×1",
        "space": {"backbone": "resnet", "fusion_site": "pyramid", "branches": "1,2", "downsample": "avgpool_conv",
                  "detach": False, "merge": ["add", "sk", "sk_softmax", "se", "concat"]},
        "claim": "SKNet's selection beats SE, addition and concatenation, and the softmax on the pooled sum "
                 "adds 0.1-0.2 points (§2.3.3)",
        "paper": {"space": {**_RESNET50_PYRAMID, "downsample": "avgpool_conv", "detach": False,
                            "merge": ["add", "sk", "sk_softmax", "se", "concat"], "alpha": 1,
                            "combination": "single"},
                  "recipe": "scff", "dataset": "cifar10", "effect_points": 0.2, "paper_runs": 4,
                  "effect_why": "SK-softmax's 0.1-0.2 points over SK"},
        "differs": "as scff-pyramid",
    },
    "scfusion-parts": {  # scFusion Fig. 7: A regular, B SC only, C + addition, D + addition + inverse
        "about": "scFusion Fig. 7: A regular kernels, B SC kernels, C + addition, D + addition + inverse",
        "space": {"backbone": "vgg", "fusion_site": "gap", "fusion": "none", "alpha": [1, 4],
                  "sc_add": [False, True], "sc_inverse": [False, True]},
        "claim": "on CIFAR-100 / VGG-16 (5 runs each), SC kernels alone lose accuracy, addition and then inverse "
                 "recover it, and regular kernels are comparable but much heavier (Fig. 7; its figures are not "
                 "in the text)",
        "paper": {"space": {"backbone": "tv:vgg16_bn", "fusion_site": "gap", "fusion": "none", "alpha": [1, 4],
                            "sc_add": [False, True], "sc_inverse": [False, True], "combination": "single"},
                  "recipe": "scfusion", "dataset": "cifar100", "effect_points": 0.5, "paper_runs": 5,
                  "effect_why": "Fig. 7's figures are not in the text: half a point; the paper ran 5"},
        "differs": "scFusion gives no CIFAR-100 VGG-16 recipe: its CIFAR-10 ResNet recipe (A.1) is used; "
                   "torchvision's VGG-16 with batch norm (a plain VGG-16 does not train at lr 0.1)",
    },
    "scfusion-alpha": {  # scFusion Table 3: complexity knob alpha
        "about": "scFusion Table 3: alpha = 1 (regular), 2, 4, 8 with addition and inverse",
        "space": {"backbone": "resnet", "fusion_site": "gap", "fusion": "none", "alpha": [1, 2, 4, 8],
                  "sc_add": True, "sc_inverse": True},
        "claim": "on CIFAR-10 ResNet-32, α = 2 keeps (raises) accuracy at 1.26× fewer FLOPs and α = 4 costs 0.8 "
                 "points at 2.45× fewer: 93.98 / 94.37 / 93.16 % (Table 3)",
        "paper": {"space": {"backbone": "resnet32", "fusion_site": "gap", "fusion": "none", "alpha": [1, 2, 4],
                            "sc_add": True, "sc_inverse": True, "combination": "single"},
                  "recipe": "scfusion", "dataset": "cifar10", "effect_points": 0.39, "paper_runs": 1,
                  "effect_why": "α = 2's +0.39 points"},
        "differs": "weight decay assumed (1e-4); 45,000 training images (5,000 held out for validation); "
                   "α = 8 (ImageNet only in the paper) is left out",
    },
    "hcnn-combination": {  # HCNN Table 2: singles, the homogeneous and the heterogeneous pair, avg and 2CL
        "about": "HCNN Table 2: single A (plain), single B (resnet), [A,A'] and [A,B], each with avg and 2CL",
        "space": [{"backbone": ["plain", "resnet"], "fusion_site": "gap", "fusion": "none", "combination": "single",
                   **_PLAIN_K},
                  {"backbone": "plain", "combination": ["avg", "cl"], "cl_layers": 2, "cl_width": 64,
                   "partner_backbone": ["plain", "resnet"], "partner_width": 16, "partner_depth": 1, **_PLAIN_K}],
        "claim": "averaging suits homogeneous pairs and a combination network heterogeneous ones: ILSVRC top-1 "
                 "gains over the better base [D,D']+avg +1.78, [D,VD]+avg +0.54, [D,D']+2CL +0.78, "
                 "[D,VD]+2CL +1.54 points (Table 2)",
        "paper": {"space": [{"backbone": ["cfn", "resnet32"], "fusion_site": "gap", "fusion": "none", "alpha": 1,
                             "combination": "single", **_CFN_K},
                            {"backbone": "cfn", "alpha": 1, "combination": ["avg", "cl"], "cl_layers": 2,
                             "cl_width": 4096, "partner_backbone": ["cfn", "resnet32"], **_CFN_K}],
                  "recipe": "scfusion", "dataset": "cifar10", "effect_points": 0.54, "paper_runs": 1,
                  "effect_why": "[D,VD]+avg's +0.54 points, Table 2's smallest top-1 gain"},
        "differs": "ImageNet-trained CaffeNet (D) and VGG-16 (VD) are out of reach: D is CFN's plain CIFAR net and "
                   "VD the deeper CIFAR ResNet-32, trained from scratch on CIFAR-10 (HCNN fine-tuned pretrained "
                   "bases) with scFusion's CIFAR recipe (HCNN gives none); fcα has HCNN's 4,096 units",
    },
}


def paper_seeds(name: str) -> int:
    """The paper scale's seeds: enough to resolve the preset's effect, at least the paper's own runs,
    at most ``MAX_PAPER_SEEDS``."""
    paper = PRESETS[name]["paper"]
    return min(MAX_PAPER_SEEDS, max(paper["paper_runs"], seeds_to_resolve(paper["effect_points"])))


def preset_config(name: str, scale: str = "cpu", replicates: int | None = None, epochs: int | None = None,
                  subset: int | None = None) -> dict[str, Any]:
    """The preset as a raw config mapping (``trials.config.from_dict`` validates it).

    At ``scale="paper"`` the data set is the paper's; ``paper_data`` then checks its files are there
    (after ``--set`` overrides, which may name ``data.root``) and falls back to Fashion-MNIST."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    if scale not in SCALES:
        raise ConfigError(f"--scale {scale!r}: choose one of {', '.join(SCALES)}")
    preset = PRESETS[name]
    if scale == "paper":
        return _paper_config(name, replicates, epochs, subset)
    return {
        "study": f"ablate-{name}",
        "data": {"dataset": "fashion-mnist", "subset": DEFAULT_SUBSET if subset is None else subset,
                 "val_fraction": 0.2, "test_accuracy": True},
        "space": ([{**_COMMON_SPACE, **part} for part in preset["space"]] if isinstance(preset["space"], list)
                  else {**_COMMON_SPACE, **preset["space"]}),
        "objectives": ["accuracy", "params"],
        "sampler": {"name": "grid", "seed": 0},
        "budget": {"trials": 1000, "epochs": DEFAULT_EPOCHS if epochs is None else epochs},  # the grid bounds it
        # nesterov: the cpu-scale results (benchmarks/results/preset_*.json, the README) were measured with it
        "training": {"replicates": DEFAULT_REPLICATES if replicates is None else replicates, "batch_size": 64,
                     "nesterov": True},
        "resources": {"cpus_per_trial": 1, "concurrent": 2},
    }


def _paper_config(name: str, replicates: int | None, epochs: int | None, subset: int | None) -> dict[str, Any]:
    paper = PRESETS[name]["paper"]
    recipe = RECIPES[paper["recipe"]]
    space = paper["space"]
    return {
        "study": f"ablate-{name}-paper",
        "data": {"dataset": paper["dataset"], "subset": subset, "val_fraction": 0.1, "augment": recipe["augment"],
                 "test_accuracy": True},
        "space": [dict(part) for part in space] if isinstance(space, list) else dict(space),
        "objectives": ["accuracy", "params"],
        "sampler": {"name": "grid", "seed": 0},
        "budget": {"trials": 1000, "epochs": recipe["epochs"] if epochs is None else epochs},
        "training": {**recipe["training"], "replicates": paper_seeds(name) if replicates is None else replicates},
        "resources": {"auto": True},  # one 1-thread trial per core without a GPU, several per GPU with one
    }


#: the folder and files torchvision reads for each CIFAR data set (checked without downloading)
CIFAR_FILES = {"cifar10": ("cifar-10-batches-py", ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                                                   "data_batch_5", "test_batch")),
               "cifar100": ("cifar-100-python", ("train", "test"))}
#: the paper scale's stand-in when the CIFAR files are not there: all of Fashion-MNIST at CIFAR's 32×32
FALLBACK_DATA = {"dataset": "fashion-mnist", "root": None, "image_size": 32}


def paper_data(raw: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``raw`` with its CIFAR data set kept if the files are under ``data.root`` (default
    ``trials.data.CACHE_DIR``), else replaced by the full Fashion-MNIST at 32×32; and a line that
    says which, for the user.  Never downloads (``data.download: true`` leaves the choice to the loader)."""
    from trials.data import CACHE_DIR

    data = dict(raw.get("data") or {})
    dataset = data.get("dataset")
    if dataset not in CIFAR_FILES or data.get("download"):
        return raw, None
    folder, files = CIFAR_FILES[dataset]
    root = Path(data["root"]) if data.get("root") else CACHE_DIR
    missing = [f for f in files if not (root / folder / f).is_file()]
    if not missing:
        return raw, f"data: {dataset} from {root / folder}"
    # an image_size the user set (--set data.image_size=...) is kept; the CIFAR root is not Fashion-MNIST's
    out = {**raw, "data": {**data, **FALLBACK_DATA, **({"image_size": data["image_size"]}
                                                       if data.get("image_size") else {})}}
    return out, (f"data: no {dataset} files in {root / folder} (missing {', '.join(missing)}); running the full "
                 "Fashion-MNIST at 32x32 instead (set data.root to the folder that holds "
                 f"{folder}/ for the paper's data)")


def apply_overrides(config: dict[str, Any], assignments: Sequence[str]) -> dict[str, Any]:
    """A copy of the raw ``config`` with ``key=value`` assignments applied (``ablate --set``).

    ``section.key=value`` sets a key of one of ``SECTIONS`` (``training.lr=0.1``,
    ``data.subset=8000``); a bare ``key=value`` sets a space dimension (``width=32``,
    ``fusion=[none,lc]``), in every subspace of a union.  Values are read as YAML, like the config
    file: ``16`` is a number, ``false`` a boolean, ``[a, b]`` a list of levels, ``1,2`` stays a
    string.  Whether the key and value are valid is checked by ``trials.config.from_dict``
    afterwards, which names them.
    """
    out = {k: dict(v) if isinstance(v, dict) else [dict(p) for p in v] if k == "space" and isinstance(v, list) else v
           for k, v in config.items()}
    for item in assignments:
        try:
            key, value = parse_assignment(item, example="width=32 or training.lr=0.1")
        except SpecError as err:
            raise ConfigError(f"--set {err}") from None
        section, dot, name = key.rpartition(".")
        section = section if dot else "space"
        if section not in SECTIONS or "." in section or not name:
            raise ConfigError(f"--set {item!r}: unknown section {section!r}; use one of {', '.join(SECTIONS)} "
                              "or a bare space key")
        target = out.setdefault(section, {})
        for part in target if isinstance(target, list) else [target]:  # a union of grids: every subspace
            part[name] = value
    return out


# --- the preset table of docs/presets.md ----------------------------------------------------------------
def _describe_space(space: Any) -> str:
    parts = space if isinstance(space, list) else [space]
    return " ∪ ".join(", ".join(f"{k}={'/'.join(map(str, v)) if isinstance(v, list) else v}"
                                for k, v in p.items() if k not in ("alpha", "combination") or isinstance(v, list)
                                or v not in (1, "single")) for p in parts)


def preset_table_rows() -> list[str]:
    """One Markdown row per preset: the claim, what each scale runs, what differs and why."""
    rows = ["| preset | the paper's claim and numbers | `--scale cpu` (default) | `--scale paper` | what still "
            "differs from the paper, and why |", "|---|---|---|---|---|"]
    for name, p in PRESETS.items():
        paper, recipe = p["paper"], RECIPES[p["paper"]["recipe"]]
        seeds = paper_seeds(name)
        cpu = (f"{_describe_space(p['space'])}; width 16; Fashion-MNIST {DEFAULT_SUBSET:,} images, "
               f"{DEFAULT_EPOCHS} epochs, {DEFAULT_REPLICATES} seeds")
        t = recipe["training"]
        paper_text = (f"{_describe_space(paper['space'])}; {paper['dataset'].upper().replace('CIFAR', 'CIFAR-')}; "
                      f"{recipe['epochs']} epochs, SGD lr {t['lr']:g} ÷10 at {', '.join(f'{m:g}' for m in t['milestones'])}, "
                      f"wd {t['weight_decay']:g}, batch {t['batch_size']}, augment {recipe['augment']}; {seeds} seeds "
                      f"(resolve {resolvable_effect(seeds):.2f} points: {paper['effect_why']})")
        rows.append(f"| `{name}` | {p['claim']} | {cpu} | {paper_text} | {p['differs']} |")
    return rows


if __name__ == "__main__":
    print("\n".join(preset_table_rows()))
