"""The papers' headline claims against the preset studies of one storage: ``fusionscope claims``.

``CLAIMS`` is the table: one entry per headline claim of the four papers, naming the preset
that tests it (``trials/presets.py``; its study is ``ablate-<preset>``), the effect that answers
it (a factor's level against its reference, or an HCNN combination's gain over its better base)
and the direction the paper reports.  ``claim_results`` reads each preset's study and judges
the claim by its 95% interval alone:

* ``+`` / ``-`` (the paper: better / worse): *supported* when the interval excludes 0 on the
  paper's side, *contradicted* when it excludes 0 on the other, otherwise *unclear*;
* ``≈`` (the paper: as accurate): *supported* when the interval lies within ±``MARGIN`` points,
  *contradicted* when it lies wholly outside, otherwise *unclear*;
* ``≥`` (the paper: keeps accuracy): *supported* when the interval's low end is above −``MARGIN``,
  *contradicted* when its high end is below it, otherwise *unclear*.

A claim is *clear* when it is supported or contradicted by an effect that is not marked unsettled
over the budget (``analysis.settled``): a verdict that appears only late in training is no finding.  A preset never run in the storage,
or an effect the study cannot estimate, is said so, with the reason.  The numbers come from the
study report's own code (``study_effects``, ``combination_gains``), so they match ``fusionscope
report`` on the same study.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from analysis.formatting import format_points
from trials import record

#: Equivalence margin (accuracy points) for "as accurate" and "keeps accuracy" claims.
MARGIN = 1.0


@dataclass(frozen=True)
class Claim:
    paper: str
    source: str  # where in the paper
    claim: str
    preset: str
    expect: str  # "+", "-", "≈" or "≥" (see the module docstring)
    factor: str | None = None  # the effect that answers it: factor=level vs the factor's reference ...
    level: Any = None
    hcnn_design: str | None = None  # ... or the gain of the HCNN combination of this name


CLAIMS: tuple[Claim, ...] = (
    Claim("CFN", "Table 1", "LC fusion (CFN) is more accurate than the plain CNN", "cfn-fusion", "+", "fusion", "lc"),
    Claim("CFN", "Table 1", "conv fusion is more accurate than the plain CNN", "cfn-fusion", "+", "fusion", "conv"),
    Claim("CFN", "Table 1", "sum fusion is more accurate than the plain CNN", "cfn-fusion", "+", "fusion", "sum"),
    Claim("CFN", "§3.1", "EFLP is as accurate as EPLF (with fewer parameters)", "cfn-strategy", "≈",
          "strategy", "eplf"),
    Claim("SCFF", "Table 2 (upper)", "max-pooling D-S beats avg-pool + 1×1 conv D-S", "scff-downsample", "+",
          "downsample", "maxpool"),
    Claim("SCFF", "Table 2 (lower)", "detaching the fusion gradient lowers accuracy", "scff-detach", "-",
          "detach", True),
    Claim("scFusion", "Fig. 7", "pairwise addition improves SC kernels", "scfusion-parts", "+", "sc_add", True),
    Claim("scFusion", "Fig. 7", "the inverse kernel improves SC kernels", "scfusion-parts", "+", "sc_inverse", True),
    Claim("scFusion", "Table 3", "α = 4 keeps the accuracy of regular kernels at ~2.4× less work", "scfusion-alpha",
          "≥", "alpha", 4),
    Claim("HCNN", "Table 2", "[A,B]+2CL beats the better of its two single nets", "hcnn-combination", "+",
          hcnn_design="[plain,resnet]+2CL"),
)


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    study: str
    estimate: float | None  # points
    ci_low: float | None
    ci_high: float | None
    verdict: str  # supported / contradicted / unclear / not run / not estimable
    note: str  # what the interval allows, or why there is no verdict; the effect's budget note
    settled: bool | None = None  # the effect's stability over the budget (None: not judged)

    @property
    def clear(self) -> bool:
        """Supported or contradicted, by an effect not marked unsettled over the budget."""
        return self.verdict in ("supported", "contradicted") and self.settled is not False


def judge(expect: str, low: float, high: float, margin: float = MARGIN) -> str:
    """supported / contradicted / unclear, from the 95% interval alone."""
    if expect == "+":
        return "supported" if low > 0 else "contradicted" if high < 0 else "unclear"
    if expect == "-":
        return "supported" if high < 0 else "contradicted" if low > 0 else "unclear"
    if expect == "≈":
        if -margin < low and high < margin:
            return "supported"
        return "contradicted" if high < -margin or low > margin else "unclear"
    if expect == "≥":
        return "supported" if low > -margin else "contradicted" if high < -margin else "unclear"
    raise ValueError(f"unknown expectation {expect!r}")


def study_name(preset: str) -> str:
    return f"ablate-{preset}"  # as trials.presets.preset_config names it


def _judged(claim: Claim, name: str, estimate: float, low: float, high: float, budget: str,
            settled: bool | None = None) -> ClaimResult:
    verdict = judge(claim.expect, low, high)
    note = f"the interval allows {low:+.2f} to {high:+.2f}" + (f"; {budget}" if budget else "")
    return ClaimResult(claim, name, estimate, low, high, verdict, note, settled)


def claim_results(storage: str, claims: Sequence[Claim] = CLAIMS) -> tuple[ClaimResult, ...]:
    """Each claim judged on its preset's study in ``storage`` (read-only)."""
    # imported here: ``register`` below builds the CLI's parser, which must stay free of statsmodels
    from analysis.effects import level_key
    from analysis.hcnn import combination_gains
    from analysis.load import StudyNotFoundError, open_study, trial_rows
    from analysis.settled import study_effects

    cache: dict[str, Any] = {}
    out = []
    for claim in claims:
        name = study_name(claim.preset)
        if name not in cache:
            try:
                study = open_study(storage, name)
            except StudyNotFoundError:
                cache[name] = None
            else:
                rows = trial_rows(study)
                space = (study.user_attrs.get(record.STUDY_CONFIG) or {}).get("space")
                cache[name] = (study_effects(rows, space), combination_gains(rows)) if any(
                    r.complete for r in rows) else "empty"
        if cache[name] is None or cache[name] == "empty":
            out.append(ClaimResult(claim, name, None, None, None, "not run",
                                   f"no study {name!r}: run fusionscope ablate --preset {claim.preset}"
                                   if cache[name] is None else f"study {name!r} has no complete trial yet"))
            continue
        effects, gains = cache[name]
        if claim.hcnn_design is not None:
            found = [g for g in gains if g.design == claim.hcnn_design and g.ci is not None]
            if not found:
                out.append(ClaimResult(claim, name, None, None, None, "not estimable",
                                       f"no complete {claim.hcnn_design} trial with two or more seeds"))
                continue
            g = found[0]
            out.append(_judged(claim, name, g.gain, g.ci[0], g.ci[1], f"vs base {g.better_base}"))
            continue
        factor = next((f for f in effects.factors if f.factor == claim.factor), None)
        level = None if factor is None else next(
            (lv for lv in factor.levels if level_key(lv.level) == level_key(claim.level)), None)
        if level is None or level.contrast is None or level.contrast.estimate is None:
            reason = ("the study did not vary " + str(claim.factor)) if factor is None else (
                f"{claim.factor}={claim.level} is the reference or absent" if level is None or level.contrast is None
                else level.contrast.reason)
            out.append(ClaimResult(claim, name, None, None, None, "not estimable", reason or ""))
            continue
        c = level.contrast
        budget = "" if level.settled_note in ("", None) else level.settled_note
        out.append(_judged(claim, name, c.estimate, c.ci_low, c.ci_high,
                           f"vs {claim.factor}={factor.reference}; {budget}".rstrip("; "), level.settled))
    return tuple(out)


_EXPECT_WORDS = {"+": "higher", "-": "lower", "≈": f"within ±{MARGIN:g}", "≥": f"no worse than −{MARGIN:g}"}


def claims_markdown(results: Sequence[ClaimResult], storage: str) -> str:
    from analysis.report import Section, Table, sections_markdown  # the report's Markdown renderer

    rows = tuple(
        (r.claim.paper, r.claim.source, r.claim.claim, r.claim.preset, _EXPECT_WORDS[r.claim.expect],
         "—" if r.estimate is None else format_points(r.estimate, r.ci_low, r.ci_high),
         r.verdict, "yes" if r.clear else "no", r.note)
        for r in results
    )
    text = (
        f"Storage: {storage}. Each claim is judged on its preset's study by the 95% interval of the effect "
        "that answers it (accuracy points, the study report's effects model or HCNN gain): supported or "
        "contradicted only when the interval says so; otherwise unclear, which is not a refutation. Clear: "
        "supported or contradicted by an effect not marked unsettled over the budget. "
        f"'Within ±{MARGIN:g}' claims need the whole interval inside ±{MARGIN:g} points.",
        f"{sum(r.clear for r in results)} of {len(results)} claims are clear.",
    )
    table = Table(("paper", "where", "claim", "preset", "paper says", "effect, points [95% CI]", "verdict",
                   "clear", "note"), rows)
    return sections_markdown([Section("The papers' claims on this data", 1, text, table)])


def claims_dict(results: Sequence[ClaimResult]) -> dict[str, Any]:
    return {"margin": MARGIN, "claims": [
        {"paper": r.claim.paper, "source": r.claim.source, "claim": r.claim.claim, "preset": r.claim.preset,
         "study": r.study, "expect": r.claim.expect, "estimate": r.estimate, "ci_low": r.ci_low,
         "ci_high": r.ci_high, "verdict": r.verdict, "settled": r.settled, "clear": r.clear, "note": r.note}
        for r in results]}


def cmd_claims(args: argparse.Namespace) -> int:
    """Write claims.md and claims.json (and print the Markdown) for the preset studies of a storage."""
    from analysis.load import mask_url
    from analysis.report_json import write_json
    from search_space.errors import FusionscopeError

    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise FusionscopeError(f"-o {str(output)!r} exists; name a new path (nothing was overwritten)")
    results = claim_results(args.storage)
    markdown = claims_markdown(results, mask_url(args.storage))
    try:
        output.mkdir(parents=True, exist_ok=True)
        (output / "claims.md").write_text(markdown, encoding="utf-8")
        write_json(claims_dict(results), output / "claims.json")
    except OSError as err:
        raise FusionscopeError(f"cannot write {str(output)!r}: {err.strerror or err}") from None
    print(markdown)
    print(f"wrote {output / 'claims.md'}\nwrote {output / 'claims.json'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``claims`` to the CLI's subcommands."""
    claims = subparsers.add_parser(
        "claims",
        help="the four papers' headline claims judged on the preset studies of one storage",
        description=(
            "For each headline claim of CFN, SCFF, scFusion and HCNN: the preset that tests it "
            "(run it first: fusionscope ablate --preset NAME --storage URL), the effect on this data with its "
            "95%% interval, and whether the interval makes the claim clear (supported or contradicted). "
            "Writes claims.md and claims.json."
        ),
    )
    claims.add_argument("--storage", required=True, metavar="URL",
                        help="Optuna storage URL holding the ablate-<preset> studies (opened read-only)")
    claims.add_argument("-o", "--output", default="claims", metavar="DIR",
                        help="directory to write into (default: claims/)")
    claims.set_defaults(func=cmd_claims)
