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

from search_space.dimensions import (DIMENSIONS, HCNN_DIMENSIONS, SpecError, choice_error, format_branches,
                                     parse_branches)

__all__ = ["ArchSpec", "SpecError", "choice_error", "format_branches", "parse_branches"]


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    """One candidate network.  See README's space table for the paper behind each field."""

    backbone: str = "plain"
    width: int = 32
    depth: int = 2
    stages: int = 3
    side_channels: int | None = None
    branches: tuple[int, ...] | None = None
    fusion_site: str | None = None
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
    hcnn_finetune: bool | None = None

    def __post_init__(self) -> None:
        """Validate and complete the spec from the vocabulary (``dimensions.py``), dimension by
        dimension in the order they are decided; then the rules that tie dimensions together."""
        resolved: dict[str, Any] = {}
        for dim in DIMENSIONS:
            value = getattr(self, dim.name)
            if dim.kind == "branches" and value is not None:
                value = parse_branches(value) or None  # 'none' / () say "no side branch"
            if not dim.applies(resolved):
                if value is not None:
                    raise SpecError(f"{dim.name}={getattr(self, dim.name)!r} applies only with {dim.when}")
                object.__setattr__(self, dim.name, () if dim.kind == "branches" else None)
                continue
            if value is None and dim.kind == "branches" and getattr(self, dim.name) is not None:
                raise _no_branch_error(resolved)
            resolved[dim.name] = dim.check_in(dim.default_for(resolved) if value is None else value, resolved)
            object.__setattr__(self, dim.name, resolved[dim.name])
        _check_structure(self)

    # --- the flat form Optuna stores ------------------------------------------------
    def to_params(self) -> dict[str, Any]:
        """The applicable fields as Optuna-storable primitives (branches as '1,2')."""
        out = {}
        for dim in DIMENSIONS:
            value = getattr(self, dim.name)
            if value is None or (dim.kind == "branches" and not value):
                continue  # not applicable to this candidate
            out[dim.name] = format_branches(value) if dim.kind == "branches" else value
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
        """HCNN's second base network: a plain single network of the partner backbone.  A ``plain``
        partner keeps A's K (``side_channels``), so B = A's architecture is the homogeneous pair [A,A']."""
        if self.combination == "single":
            raise SpecError("partner() needs combination 'avg' or 'cl'")
        k = self.side_channels if self.partner_backbone == "plain" else None
        return ArchSpec(backbone=self.partner_backbone, width=self.partner_width, depth=self.partner_depth,
                        stages=self.stages, side_channels=k)

    def single(self) -> "ArchSpec":
        """This candidate without HCNN's combination: base network A."""
        return ArchSpec.from_params({k: v for k, v in self.to_params().items() if k not in HCNN_DIMENSIONS})


def _no_branch_error(p: Mapping[str, Any]) -> SpecError:
    if p.get("fusion_site") == "pyramid":
        return SpecError("branches='none' with fusion_site='pyramid': a pyramid needs at least one side-branch "
                         "stage; with none it builds the same network as fusion_site='gap', fusion='none' "
                         "(the plain CNN baseline)")
    return SpecError(f"branches='none' with fusion={p.get('fusion')!r}: fusing needs at least one side branch "
                     "besides the main branch (on backbone='plain' it would build the same network as "
                     "fusion='none', the plain CNN baseline); name side-branch stages like '1,2' or use fusion='none'")


def _check_structure(spec: ArchSpec) -> None:
    """Rules between dimensions that the vocabulary's per-dimension checks cannot see."""
    if spec.backbone.startswith("tv:"):
        return  # a torchvision trunk's stages and channels are known only once it is built
    for b in spec.branches:
        if not 1 <= b < spec.stages:
            raise SpecError(
                f"branches: stage {b} is not a side-branch stage; with stages={spec.stages} side branches grow "
                f"from stages 1..{spec.stages - 1} (stage {spec.stages} is the main branch, always fused)")
    if spec.alpha > 1 and spec.width % spec.alpha:
        raise SpecError(f"alpha={spec.alpha} does not divide width={spec.width}: scFusion uses n = C_out/alpha "
                        "base kernels, so every conv's channels must be a multiple of alpha")
