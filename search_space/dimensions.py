"""The design vocabulary: every dimension of the space, written once.

Each ``Dimension`` holds a dimension's name, its values in the papers' order (the first is the
reference level of an ablation), its default, its label, its paper section and *when it
applies*.  Spec validation (``spec.py``), define-by-run sampling and the grid (``space.py``),
the ablation labels and level order (``analysis``) and the README's space table all read it,
so adding a fusion op is its module, one line here and one test.

Torch-free on purpose: ``analysis`` and the CLI use ``ArchSpec`` without paying for torch.

Order matters: dimensions are decided (and validated) in the order listed, and ``applies``
may only look at dimensions listed before it, and only at closed ones (choices, booleans,
backbones): whether a dimension applies never depends on an integer or a branch set, which
lets ``space.py`` find out cheaply whether a space key can apply at all.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Callable, Mapping

from search_space.errors import FusionscopeError


class SpecError(FusionscopeError, ValueError):
    """A spec or space value outside what the papers define; the message names the key."""


Params = Mapping[str, Any]
#: Largest channel count a spec may ask for: beyond it a CPU or GPU build only runs out of memory.
MAX_CHANNELS = 4096
MAX_DEPTH = 64


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One design choice.  ``kind`` says how a value is checked:

    * ``choice``: one of ``values`` (closed);
    * ``int``: a positive integer up to ``maximum`` (``values`` are the default search choices);
    * ``bool``: true or false;
    * ``backbone``: one of ``values`` or ``tv:<torchvision model name>``;
    * ``branches``: a set of side-branch stages (``values`` empty: the space offers every subset).
    """

    name: str
    kind: str
    values: tuple
    default: Any | Callable[[Params], Any]
    label: str
    paper: str
    about: str
    applies: Callable[[Params], bool] = lambda p: True
    when: str = ""  # the condition under which it applies, as error messages say it
    search: tuple | None = None  # the default space's choices when not all of ``values``
    maximum: int | None = None
    notes: Mapping[Any, str] = dataclasses.field(default_factory=dict)  # what each value means
    #: which of the space's choices a candidate may take, given the dimensions decided before
    offer: Callable[[Params, tuple], tuple] = lambda p, options: options
    offer_rule: str = ""  # why a value is not offered, as error messages say it
    default_text: str = ""  # the default as the README says it, where it depends on other dimensions

    @property
    def reference(self) -> Any:
        return self.values[0] if self.values else None

    @property
    def space_choices(self) -> tuple:
        return self.search if self.search is not None else self.values

    def default_for(self, params: Params) -> Any:
        return self.default(params) if callable(self.default) else self.default

    def check_in(self, value: Any, params: Params) -> Any:
        """Validate a value for a candidate whose earlier dimensions are ``params``."""
        value = self.check(value)
        if self.kind != "branches" and value not in self.offer(params, (value,)):
            raise SpecError(f"{self.name}={value!r}: {self.offer_rule}")
        return value

    def check(self, value: Any) -> Any:
        """Validate one value on its own; returns it normalised (branches as a sorted tuple)."""
        if self.kind == "choice":
            if isinstance(value, bool) and not all(isinstance(v, bool) for v in self.values):
                raise choice_error(self.name, value, self.values)
            if value not in self.values:
                raise choice_error(self.name, value, self.values)
            return value
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"{self.name}={value!r}: expected a positive integer")
            if self.maximum is not None and value > self.maximum:
                raise SpecError(f"{self.name}={value!r}: at most {self.maximum} (larger nets do not fit in memory)")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise SpecError(f"{self.name}={value!r}: expected true or false")
            return value
        if self.kind == "backbone":
            if not isinstance(value, str) or not (value in self.values or (value.startswith("tv:") and len(value) > 3)):
                raise SpecError(
                    f"{self.name}={value!r} is not allowed; choose one of {', '.join(map(repr, self.values))} "
                    "or 'tv:<torchvision model name>' (e.g. 'tv:resnet18')")
            return value
        if self.kind == "branches":
            return parse_branches(value)
        raise AssertionError(f"unknown dimension kind {self.kind!r}")


def choice_error(key: str, value: Any, allowed: tuple) -> SpecError:
    return SpecError(f"{key}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}")


def parse_branches(value: Any) -> tuple[int, ...]:
    """Accept the forms users write: (1, 2), [1, 2], "1,2", "none", "", 2."""
    if value is None:
        return ()
    bad = SpecError(f"branches={value!r}: expected stage numbers like '1,2' or 'none'")
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int):
        return (value,)
    if isinstance(value, str):
        text = value.strip().strip("()[]")
        if text.lower() in ("", "none", "main"):
            return ()
        try:
            stages = tuple(int(p) for p in text.replace(" ", "").split(",") if p)
        except ValueError:
            raise bad from None
    else:
        try:
            stages = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise bad from None
    if len(set(stages)) != len(stages):
        raise SpecError(f"branches={value!r} names a stage twice")
    return tuple(sorted(stages))


def format_branches(branches: tuple[int, ...]) -> str:
    return ",".join(str(b) for b in branches) if branches else "none"


def side_stage_sets(stages: int) -> tuple[tuple[int, ...], ...]:
    """Every non-empty subset of the side-branch stages 1 .. stages-1, smallest first."""
    sides = range(1, stages)
    return tuple(itertools.chain.from_iterable(itertools.combinations(sides, r) for r in range(1, len(sides) + 1)))


# --- when a dimension applies (each reads only dimensions decided before it) --------------
def _gap(p: Params) -> bool:
    return p.get("fusion_site") == "gap"


def _pyramid(p: Params) -> bool:
    return p.get("fusion_site") == "pyramid"


def _fused(p: Params) -> bool:
    return _gap(p) and p.get("fusion") not in (None, "none")


def _combined(p: Params) -> bool:
    return p.get("combination") in ("avg", "cl")


#: the backbone families sized by ``width``, ``depth`` and ``stages``; every other backbone (the
#: papers' own networks, ``tv:`` trunks) is fixed by its paper or by torchvision
SIZED_BACKBONES = ("plain", "resnet", "vgg")
#: stages of the papers' fixed networks (``modules/backbones.py`` builds them)
FIXED_STAGES = {"cfn": 3, "resnet32": 3, "resnet18": 4}
#: backbones whose trunk ends in CFN's K-channel 1x1 conv (``side_channels``)
K_BACKBONES = ("plain", "cfn")
CFN_K = 192
BACKBONE_NOTES = {
    "plain": "a CFN-style net: 3×3 conv-BN-ReLU stages separated by max pooling, widths w, 2w, 2w, then a 1×1 "
             "conv of K channels, GAP, FC",
    "resnet": "CIFAR ResNet, basic blocks", "vgg": "widths double per stage",
    "cfn": "CFN's CIFAR net (§4.1, Fig. 4): 3×3 convs 96, 96, 192, max pool, 192, 192, max pool, 192, then the "
           "1×1 conv to K (default 192), GAP, FC; one BN shift per channel and no BN scale (1,286,698 params on "
           "CIFAR-10: Table 1's 1.287M; side branches 74,112: its 0.074M)",
    "resnet32": "CIFAR ResNet-32 (scFusion Table 3): 16-channel 3×3 stem, 3 stages × 5 basic blocks, 16-32-64, "
                "1×1 projection shortcuts; α > 1 replaces all its convs, as scFusion §4.1.1 on CIFAR",
    "resnet18": "CIFAR ResNet-18 (SCFF): 64-channel 3×3 stem, 4 stages × 2 basic blocks, 64-128-256-512",
}


def _sized(p: Params) -> bool:
    return p.get("backbone") in SIZED_BACKBONES


def stage_count(backbone: str, stages: int | None) -> int:
    """How many stages a backbone has; a ``tv:`` trunk is probed (this imports torch)."""
    if backbone in SIZED_BACKBONES:
        return stages
    if backbone in FIXED_STAGES:
        return FIXED_STAGES[backbone]
    from search_space.modules.backbones import tv_stage_count  # only a tv: trunk needs torch here

    return tv_stage_count(backbone[3:])


def _known_stages(p: Params) -> int | None:
    """The stage count without building anything (``None`` for a ``tv:`` trunk)."""
    return None if str(p.get("backbone")).startswith("tv:") else stage_count(p["backbone"], p.get("stages"))


SIZED_WHEN = "backbone 'plain', 'resnet' or 'vgg' (the papers' networks and `tv:` trunks are fixed)"
PARTNER_WHEN = "combination 'avg' or 'cl' with partner_backbone 'plain', 'resnet' or 'vgg'"


def _side_sets_within(p: Params, options: tuple) -> tuple:
    n = _known_stages(p)
    return options if n is None else tuple(b for b in options if all(i < n for i in parse_branches(b)))


def _has_k(p: Params) -> bool:
    """A net of the candidate ends in CFN's K-channel 1x1 conv, and no combination cuts it."""
    if p.get("combination") == "cl" and p.get("cl_layers", 1) >= 2:
        return False  # HCNN §2.2: each base gives up its top trunk layer, the 1x1 conv
    return p.get("backbone") in K_BACKBONES or (_combined(p) and p.get("partner_backbone") in K_BACKBONES)


def _default_k(p: Params) -> int:
    a_is_k = p.get("backbone") in K_BACKBONES
    return CFN_K if (p.get("backbone") if a_is_k else p.get("partner_backbone")) == "cfn" else 64


def _partner_sized(p: Params) -> bool:
    return _combined(p) and p.get("partner_backbone") in SIZED_BACKBONES


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("backbone", "backbone", SIZED_BACKBONES + tuple(FIXED_STAGES), "plain", "backbone",
              "CFN §4.1, Fig. 4; SCFF §2.1, §3; scFusion §4",
              "the base network; also `tv:<name>`, any torchvision classifier, tapped at each stage's output "
              "with `torchvision.models.feature_extraction` (SCFF's bottleneck ResNet: `tv:resnet50`)",
              notes=BACKBONE_NOTES, search=SIZED_BACKBONES),
    Dimension("width", "int", (16, 32, 64), 32, "width", "", "base channels", maximum=MAX_CHANNELS,
              applies=_sized, when=SIZED_WHEN),
    Dimension("depth", "int", (1, 2), 2, "depth", "", "conv layers (plain, vgg) or basic blocks (resnet) per stage",
              maximum=MAX_DEPTH, applies=_sized, when=SIZED_WHEN),
    Dimension("stages", "choice", (2, 3, 4), 3, "stages", "", "stages; each but the last ends where the map halves",
              search=(3,), applies=_sized, when=SIZED_WHEN),
    Dimension("combination", "choice", ("single", "avg", "cl"), "single", "network combination (HCNN)",
              "HCNN §2.2–2.3, Tables 1–2", "HCNN: one network, or two combined",
              notes={"single": "network A alone", "avg": "[A,B]+avg: average the probabilities of two separately trained nets",
                     "cl": "[A,B]+kCL: a k-layer combination network on the concatenated features of the frozen bases"}),
    Dimension("fusion_site", "choice", ("gap", "pyramid"), "gap", "fusion site (CFN gap / SCFF pyramid)",
              "CFN §3.1, SCFF §2.3.1, §3.2", "where the branches meet",
              notes={"gap": "fuse the 1×K GAP vectors of side branches grown from the pooling layers (CFN)",
                     "pyramid": "fuse feature maps top-down, each stage tapped just before its map shrinks (SCFF §3.2)"},
              applies=lambda p: p.get("combination") == "single",
              when="combination='single' (HCNN combines base networks that fuse nothing themselves)"),
    Dimension("fusion", "choice", ("none", "sum", "conv", "lc", "attention", "concat"), "none",
              "fusion op (CFN)", "CFN eq. 3, Fig. 3; SCFF §2.3.3", "how the S GAP vectors are fused",
              notes={"none": "the plain CNN baseline", "sum": "0 params", "conv": "one shared 1×1×S filter: S+1",
                     "lc": "K unshared 1×1×S filters + bias, ReLU, init 1/S: K(S+1)",
                     "attention": "SK-style per-channel softmax weights over branches",
                     "concat": "keep all S·K numbers for the classifier"},
              applies=_gap, when="fusion_site='gap'"),
    Dimension("strategy", "choice", ("eflp", "eplf"), "eflp", "EFLP vs EPLF (CFN)", "CFN §3.1, eq. 2, Fig. 2",
              "what is fused: features or predictions",
              notes={"eflp": "fuse features, then one FC", "eplf": "one FC per branch, fuse the predictions"},
              applies=lambda p: _fused(p) and p.get("fusion") != "concat",
              when="a fusion other than 'none' and 'concat' (concat always fuses features, EFLP)"),
    Dimension("branches", "branches", (), lambda p: tuple(range(1, stage_count(p["backbone"], p.get("stages")))),
              "side branches (CFN)",
              "CFN §3.1, SCFF §3.2",
              "the stages (1 … stages−1) that grow side branches, at least one (fusing one branch is no fusion); "
              "the last stage, the main branch, is always fused; default all of them",
              applies=lambda p: _fused(p) or _pyramid(p),
              when="a GAP fusion other than 'none', or fusion_site='pyramid'", offer=_side_sets_within,
              offer_rule="side branches grow from stages 1 .. stages-1"),
    Dimension("downsample", "choice", ("avgpool_conv", "maxpool_conv", "conv2x2", "conv1x1", "avgpool", "maxpool"),
              "avgpool_conv", "D-S module (SCFF)", "SCFF §2.3.2, Table 2",
              "maps the fused upper level onto the next stage: halves the map, expands channels",
              notes={"avgpool_conv": "avg pool + 1×1 conv + BN (SCFF's choice)", "maxpool_conv": "max pool + 1×1 conv + BN",
                     "conv2x2": "2×2 conv, stride 2", "conv1x1": "1×1 conv, stride 2",
                     "avgpool": "parameter-free; channels expanded by zero padding",
                     "maxpool": "parameter-free; channels expanded by zero padding"},
              applies=_pyramid, when="fusion_site='pyramid'"),
    Dimension("merge", "choice", ("add", "sk", "sk_softmax", "se", "concat"), "sk_softmax", "F-F module (SCFF)",
              "SCFF §2.3.3, Figs. 5–7", "fuses the downsampled upper level D with the stage output X",
              notes={"add": "D + X", "sk": "SKNet two-way selection",
                     "sk_softmax": "SCFF's change: softmax on the pooled sum before the FCs",
                     "se": "SE gating: a sigmoid weight per channel for each input, then add",
                     "concat": "concatenate, then a 1×1 conv + BN back to C channels"},
              applies=_pyramid, when="fusion_site='pyramid'"),
    Dimension("detach", "bool", (False, True), False, "gradient detach (SCFF)", "SCFF Fig. 3, Table 2",
              "cut the gradient that fusion sends into the lower stages", applies=_pyramid,
              when="fusion_site='pyramid'"),
    Dimension("alpha", "choice", (1, 2, 4, 8), 1, "α sparsity (scFusion)", "scFusion §3.3, §4.1.3",
              "1: regular kernels; 2, 4, 8: every 3×3 and 5×5 conv after the network's first conv (which stays "
              "dense, whatever its kernel; scFusion §4.1.3) becomes an scFusion module with n = C_out/α base "
              "kernels per SC kernel (on `resnet32` every conv, §4.1.1); a network with no such conv is an error"),
    Dimension("sc_add", "bool", (True, False), True, "SC addition (scFusion)", "scFusion §3.2, Fig. 7",
              "pairwise addition of the two SC responses", applies=lambda p: p.get("alpha", 1) > 1,
              when="alpha > 1"),
    Dimension("sc_inverse", "bool", (True, False), True, "SC inverse (scFusion)", "scFusion §3.2, Fig. 7",
              "inverse of the added responses (ablation A = α 1, B = SC only, C = + add, D = + add + inverse)",
              applies=lambda p: p.get("alpha", 1) > 1 and bool(p.get("sc_add")),
              when="alpha > 1 and sc_add=True (scFusion's inverse negates the pairwise-added responses)"),
    Dimension("partner_backbone", "backbone", SIZED_BACKBONES + tuple(FIXED_STAGES), "resnet",
              "partner backbone (HCNN)", "HCNN §2.1",
              "net B of a combination (a baseline net of that backbone); B with A's own backbone (and width "
              "and depth) is A exactly, α and every other dimension included: the homogeneous pair [A,A'] "
              "(another seed)", applies=_combined, when="combination 'avg' or 'cl'", search=SIZED_BACKBONES),
    Dimension("partner_width", "int", (16, 32), lambda p: p.get("width", 32), "partner width (HCNN)", "HCNN §2.1",
              "net B's width", applies=_partner_sized, when=PARTNER_WHEN, maximum=MAX_CHANNELS,
              default_text="A's (32 when A has none)"),
    Dimension("partner_depth", "int", (1, 2), lambda p: p.get("depth", 2), "partner depth (HCNN)", "HCNN §2.1",
              "net B's depth", applies=_partner_sized, when=PARTNER_WHEN, maximum=MAX_DEPTH,
              default_text="A's (2 when A has none)"),
    Dimension("cl_layers", "choice", (1, 2, 3), 2, "combination layers k (HCNN)", "HCNN §2.2, Table 1",
              "k: layers of the combination network; each base gives up as many top layers",
              applies=lambda p: p.get("combination") == "cl", when="combination='cl'"),
    Dimension("cl_width", "int", (128, 256), 256, "combination width (HCNN)", "HCNN §2.2",
              "width of the combination network's hidden FC layers",
              applies=lambda p: p.get("combination") == "cl" and p.get("cl_layers", 0) >= 2,
              when="combination='cl' and cl_layers >= 2 (a 1-layer combination has no hidden layer)",
              maximum=MAX_CHANNELS),
    Dimension("hcnn_finetune", "bool", (False, True), False, "fine-tune all (HCNN)", "HCNN §2.3, Table 4",
              "after training the combination network on the frozen bases, fine-tune everything together",
              applies=lambda p: p.get("combination") == "cl", when="combination='cl'", search=(False,)),
    Dimension("side_channels", "int", (32, 64, 128), _default_k, "K channels (CFN)", "CFN §3.1, §4.1",
              "K: channels of CFN's 1×1 conv that ends the trunk of `plain` and `cfn` (a `plain`/`cfn` partner "
              "B has the same K); side branches project to the main branch's channels, K there, the last "
              "stage's channels on other backbones",
              applies=_has_k, when="backbone (or an HCNN partner) 'plain' or 'cfn', and not combination='cl' "
              "with cl_layers >= 2 (which cuts the 1×1 conv)", maximum=MAX_CHANNELS,
              default_text="64; 192 on `cfn`"),
)

BY_NAME: dict[str, Dimension] = {d.name: d for d in DIMENSIONS}
#: The dimensions that describe HCNN's combination rather than base network A.
HCNN_DIMENSIONS = ("combination", "partner_backbone", "partner_width", "partner_depth", "cl_layers", "cl_width",
                   "hcnn_finetune")


def dimension(name: str) -> Dimension:
    try:
        return BY_NAME[name]
    except KeyError:
        raise SpecError(f"unknown spec key {name!r}; allowed keys: {', '.join(BY_NAME)}") from None


def labels() -> dict[str, str]:
    """Factor labels for reports, in the vocabulary's order."""
    return {d.name: d.label for d in DIMENSIONS}


def level_order() -> dict[str, tuple]:
    """Each closed dimension's levels in the papers' order; the first is the reference."""
    return {d.name: d.values for d in DIMENSIONS if d.kind in ("choice", "bool", "backbone")}


def default_space() -> dict[str, tuple]:
    """The default search space: every choice of the four papers at sizes that train on a CPU."""
    return {d.name: (("all",) if d.kind == "branches" else d.space_choices) for d in DIMENSIONS}


def markdown_table() -> str:
    """The README's space table, generated (a test checks the README holds exactly this)."""
    rows = ["| key | values | paper |", "|---|---|---|"]
    for d in DIMENSIONS:
        if d.kind == "int":
            default = d.default_text or d.default
            values = (f"{d.about}: a positive integer ≤ {d.maximum}; default {default}; searched "
                      f"{', '.join(map(str, d.space_choices))}")
        elif d.kind == "branches":
            values = f"{d.about}: e.g. `1,2`"
        else:
            shown = [f"`{_yaml(v)}`" + (f" ({d.notes[v]})" if v in d.notes else "") for v in d.values]
            values = f"{d.about}: " + ", ".join(shown)
        when = f" Only with {d.when}." if d.when else ""
        rows.append(f"| `{d.name}` | {values}.{when} | {d.paper} |")
    return "\n".join(rows)


def _yaml(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


if __name__ == "__main__":  # python -m search_space.dimensions: print the README table
    print(markdown_table())
