"""ArchSpec: the one currency of fusionscope.

A candidate is fully described by a frozen, flat ArchSpec.  Flat, because the Optuna trial
params *are* the spec (``ArchSpec.from_params(trial.params)`` rebuilds any trial's model),
and Optuna params must be primitives.  Dimensions that do not apply to a candidate (the D-S
type of a GAP-fusion net, say) are ``None``; filling them in is an error rather than a
silent no-op, so two specs are equal exactly when they build the same model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Mapping

from search_space.errors import FusionscopeError

# The papers' choices, per dimension.  Order matters: the first value is the reference
# level of an ablation (the baseline the papers compare against).
BACKBONES = ("plain", "resnet", "vgg")  # plus "tv:<torchvision model name>"
FUSION_SITES = ("gap", "pyramid")
GAP_FUSIONS = ("none", "sum", "conv", "lc", "attention", "concat")
STRATEGIES = ("eflp", "eplf")
DOWNSAMPLES = ("avgpool_conv", "maxpool_conv", "conv2x2", "conv1x1", "avgpool", "maxpool")
MERGES = ("add", "sk", "sk_softmax")
ALPHAS = (1, 2, 4, 8)
COMBINATIONS = ("single", "avg", "cl")
CL_LAYERS = (1, 2, 3)
STAGES = (2, 3, 4)


class SpecError(FusionscopeError, ValueError):
    """A spec or space value outside what the papers define; the message names the key."""


def _choice_error(key: str, value: Any, allowed: tuple) -> SpecError:
    return SpecError(f"{key}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}")


def parse_branches(value: Any) -> tuple[int, ...]:
    """Accept the forms users write: (1, 2), [1, 2], "1,2", "none", "", 2."""
    if value is None:
        return ()
    if isinstance(value, bool):
        raise SpecError(f"branches={value!r}: expected stage numbers like '1,2' or 'none'")
    if isinstance(value, int):
        return (value,)
    if isinstance(value, str):
        text = value.strip().strip("()[]")
        if text.lower() in ("", "none", "main"):
            return ()
        parts = [p for p in text.replace(" ", "").split(",") if p]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise SpecError(f"branches={value!r}: expected stage numbers like '1,2' or 'none'") from None
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise SpecError(f"branches={value!r}: expected stage numbers like '1,2' or 'none'") from None


def format_branches(branches: tuple[int, ...]) -> str:
    return ",".join(str(b) for b in branches) if branches else "none"


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    """One candidate network.  See README's space table for the paper behind each field."""

    backbone: str = "plain"
    width: int = 32
    depth: int = 2
    stages: int = 3
    side_channels: int | None = None
    branches: tuple[int, ...] = ()
    fusion_site: str = "gap"
    fusion: str | None = None
    strategy: str | None = None
    downsample: str | None = None
    merge: str | None = None
    detach: bool | None = None
    alpha: int = 1
    sc_add: bool | None = None
    sc_inverse: bool | None = None
    combination: str = "single"
    cl_layers: int | None = None
    cl_width: int | None = None
    partner_backbone: str | None = None
    partner_width: int | None = None
    partner_depth: int | None = None

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        set_("branches", parse_branches(self.branches))
        _check_backbone("backbone", self.backbone)
        for key in ("width", "depth"):
            _check_positive_int(key, getattr(self, key))
        if self.stages not in STAGES:
            raise _choice_error("stages", self.stages, STAGES)
        if self.fusion_site not in FUSION_SITES:
            raise _choice_error("fusion_site", self.fusion_site, FUSION_SITES)

        gap, pyramid = self.fusion_site == "gap", self.fusion_site == "pyramid"
        _applies(self, "fusion", gap, "fusion_site='gap'")
        for key in ("downsample", "merge", "detach"):
            _applies(self, key, pyramid, "fusion_site='pyramid'")
        if gap:
            set_("fusion", "none" if self.fusion is None else self.fusion)
            if self.fusion not in GAP_FUSIONS:
                raise _choice_error("fusion", self.fusion, GAP_FUSIONS)
            fused = self.fusion != "none"
            # concat is EFLP by nature: concatenated predictions would be no prediction
            _applies(self, "strategy", fused and self.fusion != "concat",
                     "a fusion other than 'none' and 'concat' (concat always fuses features, EFLP)")
            if fused and self.fusion != "concat":
                set_("strategy", "eflp" if self.strategy is None else self.strategy)
                if self.strategy not in STRATEGIES:
                    raise _choice_error("strategy", self.strategy, STRATEGIES)
            if not fused and self.branches:
                raise SpecError(
                    f"branches={format_branches(self.branches)!r} with fusion='none': side branches "
                    "need a fusion op (sum, conv, lc, attention, concat); fusion='none' is the "
                    "plain CNN baseline with branches='none'"
                )
        else:
            set_("downsample", "avgpool_conv" if self.downsample is None else self.downsample)
            set_("merge", "sk_softmax" if self.merge is None else self.merge)
            set_("detach", False if self.detach is None else self.detach)
            if self.downsample not in DOWNSAMPLES:
                raise _choice_error("downsample", self.downsample, DOWNSAMPLES)
            if self.merge not in MERGES:
                raise _choice_error("merge", self.merge, MERGES)
            _check_bool("detach", self.detach)

        # side_channels: CFN's K.  The plain net's own 1x1 conv has K channels; other
        # backbones need K only where GAP branches are fused.
        needs_k = self.backbone == "plain" or (gap and self.fusion != "none")
        _applies(self, "side_channels", needs_k, "backbone='plain' or GAP fusion")
        if needs_k:
            set_("side_channels", 64 if self.side_channels is None else self.side_channels)
            _check_positive_int("side_channels", self.side_channels)

        if not self.backbone.startswith("tv:"):
            last = self.stages
            for b in self.branches:
                if not 1 <= b < last:
                    raise SpecError(
                        f"branches: stage {b} is not a side-branch stage; with stages={last} side "
                        f"branches grow from stages 1..{last - 1} (stage {last} is the main branch, "
                        "always fused)"
                    )
        if len(set(self.branches)) != len(self.branches):
            raise SpecError(f"branches={self.branches!r} names a stage twice")
        set_("branches", tuple(sorted(self.branches)))

        if self.alpha not in ALPHAS:
            raise _choice_error("alpha", self.alpha, ALPHAS)
        sparse = self.alpha > 1
        _applies(self, "sc_add", sparse, "alpha > 1")
        if sparse:
            set_("sc_add", True if self.sc_add is None else self.sc_add)
            _check_bool("sc_add", self.sc_add)
        _applies(self, "sc_inverse", sparse and self.sc_add,
                 "alpha > 1 and sc_add=True (scFusion's inverse negates the pairwise-added responses)")
        if sparse:
            if self.sc_add:
                set_("sc_inverse", True if self.sc_inverse is None else self.sc_inverse)
                _check_bool("sc_inverse", self.sc_inverse)
            if not self.backbone.startswith("tv:") and self.width % self.alpha:
                raise SpecError(
                    f"alpha={self.alpha} does not divide width={self.width}: scFusion uses "
                    f"n = C_out/alpha base kernels, so every conv's channels must be a multiple of alpha"
                )

        if self.combination not in COMBINATIONS:
            raise _choice_error("combination", self.combination, COMBINATIONS)
        combined = self.combination != "single"
        for key in ("partner_backbone", "partner_width", "partner_depth"):
            _applies(self, key, combined, "combination 'avg' or 'cl'")
        _applies(self, "cl_layers", self.combination == "cl", "combination='cl'")
        _applies(self, "cl_width", self.combination == "cl", "combination='cl'")
        if combined:
            set_("partner_backbone", "resnet" if self.partner_backbone is None else self.partner_backbone)
            set_("partner_width", self.width if self.partner_width is None else self.partner_width)
            set_("partner_depth", self.depth if self.partner_depth is None else self.partner_depth)
            _check_backbone("partner_backbone", self.partner_backbone)
            _check_positive_int("partner_width", self.partner_width)
            _check_positive_int("partner_depth", self.partner_depth)
        if self.combination == "cl":
            set_("cl_layers", 2 if self.cl_layers is None else self.cl_layers)
            set_("cl_width", 256 if self.cl_width is None else self.cl_width)
            if self.cl_layers not in CL_LAYERS:
                raise _choice_error("cl_layers", self.cl_layers, CL_LAYERS)
            _check_positive_int("cl_width", self.cl_width)

    # --- the flat form Optuna stores ------------------------------------------------
    def to_params(self) -> dict[str, Any]:
        """The applicable fields as Optuna-storable primitives (branches as '1,2' / 'none')."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name == "branches" and self.fusion == "none"):
                continue  # not applicable (the baseline has no side branches to choose)
            out[f.name] = format_branches(value) if f.name == "branches" else value
        return out

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "ArchSpec":
        """Rebuild the spec from ``trial.params`` (or any flat mapping of field names)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise SpecError(
                f"unknown spec key(s) {', '.join(map(repr, unknown))}; allowed keys: {', '.join(sorted(names))}"
            )
        return cls(**dict(params))

    def to_dict(self) -> dict[str, Any]:
        """All fields, with ``None`` for the ones that do not apply (JSON-ready)."""
        d = dataclasses.asdict(self)
        d["branches"] = list(self.branches)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ArchSpec":
        return cls.from_params({k: v for k, v in d.items() if v is not None})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ArchSpec":
        return cls.from_dict(json.loads(text))

    def key(self) -> str:
        """A short stable hash: equal specs (replicates, re-runs) share it."""
        return hashlib.sha1(self.to_json().encode()).hexdigest()[:12]

    def partner(self) -> "ArchSpec":
        """HCNN's second base network: a plain single network of the partner backbone."""
        if self.combination == "single":
            raise SpecError("partner() needs combination 'avg' or 'cl'")
        return ArchSpec(
            backbone=self.partner_backbone,
            width=self.partner_width,
            depth=self.partner_depth,
            stages=self.stages,
        )

    def single(self) -> "ArchSpec":
        """This candidate without HCNN's combination: base network A."""
        fields = {k: v for k, v in self.to_params().items()
                  if k not in ("combination", "cl_layers", "cl_width", "partner_backbone",
                               "partner_width", "partner_depth")}
        return ArchSpec.from_params(fields)


def _applies(spec: ArchSpec, key: str, applicable: bool, when: str) -> None:
    if not applicable and getattr(spec, key) is not None:
        raise SpecError(f"{key}={getattr(spec, key)!r} applies only with {when}")


def _check_backbone(key: str, value: Any) -> None:
    if not isinstance(value, str) or not (value in BACKBONES or (value.startswith("tv:") and len(value) > 3)):
        raise SpecError(
            f"{key}={value!r} is not allowed; choose one of {', '.join(map(repr, BACKBONES))} "
            "or 'tv:<torchvision model name>' (e.g. 'tv:resnet18')"
        )


def _check_positive_int(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{key}={value!r}: expected a positive integer")


def _check_bool(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise SpecError(f"{key}={value!r}: expected true or false")
