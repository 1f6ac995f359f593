"""Issue #13 item 2: early stopping replayed on the learning-curve table.

Reads ``results/curve_table.json`` (``benchmarks/curve_table.py``) and simulates searches over
its specs, each trial's per-epoch validation accuracy looked up instead of trained, for:

- ``none``: every trial trains the full ``max_t`` epochs;
- ``asha``: successive halving on accuracy alone (``MOASHARungs`` with no cost objective, which is
  ASHA's top-1/rf rule);
- ``moasha``: successive halving by non-dominated sorting of (accuracy at the rung, MACs);

each with random sampling (the table's specs in a seeded random order, no repeats) and with TPE
(an Optuna study, ``TPESampler(seed)``, multi-objective: maximise accuracy, minimise MACs, over the
table's spec dimensions as categoricals; a proposal maps to the table spec that differs from it in
the fewest dimensions, so every proposal is a trained design).  Trials run one at a time (one
worker), rungs at 1 and 3 epochs of 8 (grace 1, reduction factor 3).  A stopped trial is recorded
with the accuracy of the epoch it stopped at, as the search's record holds it.

All methods get the same budget in epochs: what the no-early-stopping search spends on
``--trials`` trials; the early-stopping searches run more trials within it (up to the table's
size).  Hypervolume: of the (accuracy, MACs) front of the trials recorded so far, accuracy
maximised, MACs minimised and scaled by the table's largest, reference point (accuracy 0.1 =
chance on 10 classes, MACs 1.1 x the largest).  Reported per method: mean and 95% interval over
seeds of the hypervolume at fractions of the budget; the epochs at which MOASHA first reaches the
no-early-stopping search's final hypervolume (same seed and sampler); and, for the true front of
the table (final accuracy, mean of the two seeds, vs MACs), how many of its designs each early
stopper proposed and stopped before the last epoch.

Run: ``.venv/bin/python benchmarks/early_stopping.py [--seeds 10] [--trials 30]``
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common as C  # noqa: E402

from trials.running.moasha import CONTINUE, MOASHARungs, nondominated_fronts  # noqa: E402

MAX_T, GRACE, RF = 8, 1, 3
METHODS = ("none", "asha", "moasha")
ACC_REF = 0.1


def load_table(path: Path) -> list[dict]:
    rows = json.loads(path.read_text())["rows"]
    return [r for r in rows if all(len(c) >= MAX_T for c in r["curves"].values())]


def hypervolume(points: list[tuple[float, float]], macs_max: float) -> float:
    """2-D hypervolume of (accuracy max, MACs min) points; MACs scaled by ``macs_max``."""
    ref_c = 1.1
    pts = sorted({(c / macs_max, a) for a, c in points if a > ACC_REF and c / macs_max < ref_c})
    hv, best = 0.0, ACC_REF
    # sweep cost ascending: each point adds the area between its cost and the reference, above the best so far
    for i, (c, a) in enumerate(pts):
        if a > best:
            hv += (ref_c - c) * (a - best)
            best = a
    return hv


def true_front(rows: list[dict]) -> set[str]:
    pts = [(-sum(c[MAX_T - 1] for c in r["curves"].values()) / len(r["curves"]), r["macs"]) for r in rows]
    return {rows[i]["key"] for i in nondominated_fronts(pts)[0]}


class TableProposer:
    """Proposes table specs: a seeded random order, or TPE over the spec dimensions."""

    def __init__(self, rows: list[dict], sampler: str, seed: int):
        self.rows, self.sampler = rows, sampler
        self.dims = sorted({k for r in rows for k in r["params"]})
        self.values = {d: sorted({str(r["params"].get(d, "-")) for r in rows}) for d in self.dims}
        if sampler == "random":
            self.order = random.Random(seed).sample(range(len(rows)), len(rows))
        else:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            self.study = optuna.create_study(directions=["maximize", "minimize"],
                                             sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=10))
            self.tie = random.Random(seed)

    def ask(self, n: int):
        if self.sampler == "random":
            return (self.rows[self.order[n]], None) if n < len(self.order) else (None, None)
        trial = self.study.ask()
        want = {d: trial.suggest_categorical(d, self.values[d]) for d in self.dims}
        dist = [sum(str(r["params"].get(d, "-")) != want[d] for d in self.dims) for r in self.rows]
        best = min(dist)
        row = self.rows[self.tie.choice([i for i, x in enumerate(dist) if x == best])]
        return row, trial

    def tell(self, trial, accuracy: float, macs: float) -> None:
        if trial is not None:
            self.study.tell(trial, [accuracy, macs])


def simulate(rows: list[dict], method: str, sampler: str, seed: int, budget: int, front: set[str]) -> dict:
    rungs = MOASHARungs(GRACE, MAX_T, RF)
    proposer = TableProposer(rows, sampler, seed)
    curve_seed = str(seed % 2)
    macs_max = max(r["macs"] for r in rows)
    spent, n, points, trace = 0, 0, [], []
    front_proposed, front_stopped = set(), set()
    while spent < budget:
        row, trial = proposer.ask(n)
        if row is None:  # random order exhausted the table
            break
        n += 1
        curve = row["curves"][curve_seed]
        cost = [] if method == "asha" else [row["macs"]]
        epochs = MAX_T
        if method != "none":
            for t in range(1, MAX_T + 1):
                if spent + t >= budget or rungs.decide(n, t, curve[t - 1], cost) != CONTINUE:
                    epochs = t
                    break
        epochs = min(epochs, budget - spent)
        spent += epochs
        acc = curve[epochs - 1]
        points.append((acc, row["macs"]))
        proposer.tell(trial, acc, row["macs"])
        if row["key"] in front:
            front_proposed.add(row["key"])
            if epochs < MAX_T:
                front_stopped.add(row["key"])
        trace.append((spent, hypervolume(points, macs_max)))
    return {"trials": n, "epochs": spent, "trace": trace, "final_hv": trace[-1][1] if trace else 0.0,
            "front_proposed": sorted(front_proposed), "front_stopped_early": sorted(front_stopped)}


def hv_at(trace: list[tuple[int, float]], epochs: float) -> float:
    hv = 0.0
    for spent, h in trace:
        if spent > epochs:
            break
        hv = h
    return hv


def epochs_to_reach(trace: list[tuple[int, float]], target: float) -> int | None:
    return next((spent for spent, h in trace if h >= target - 1e-12), None)


def main() -> None:
    ap = C.parser(__doc__)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=30, help="trials of the no-early-stopping search")
    ap.add_argument("--table", default=str(C.RESULTS / "curve_table.json"))
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.trials = 2, 10
    started = C.now_iso()
    rows = load_table(Path(args.table))
    front = true_front(rows)
    budget = args.trials * MAX_T
    t0 = time.perf_counter()
    runs = {(m, s, seed): simulate(rows, m, s, seed, budget, front)
            for s in ("random", "tpe") for m in METHODS for seed in range(args.seeds)}
    summary = {}
    fractions = (1 / 8, 1 / 4, 1 / 3, 1 / 2, 1)
    for s in ("random", "tpe"):
        for m in METHODS:
            rs = [runs[(m, s, seed)] for seed in range(args.seeds)]
            entry = {f"hv_at_{f:.3f}_budget": _ci([hv_at(r["trace"], f * budget) for r in rs]) for f in fractions}
            entry["trials"] = _ci([r["trials"] for r in rs])
            if m != "none":
                stopped = sum(len(r["front_stopped_early"]) for r in rs)
                proposed = sum(len(r["front_proposed"]) for r in rs)
                entry["true_front_designs_stopped_early"] = {"stopped": stopped, "proposed": proposed,
                                                             "per_search": _ci([len(r["front_stopped_early"]) for r in rs])}
                reach = [epochs_to_reach(r["trace"], runs[("none", s, seed)]["final_hv"])
                         for seed, r in enumerate(rs)]
                entry["epochs_to_reach_none_final_hv"] = reach
                entry["fraction_of_none_epochs"] = [None if e is None else round(e / budget, 3) for e in reach]
                ok = [e is not None and e <= budget / 3 for e in reach]
                entry["reaches_none_final_hv_within_one_third"] = f"{sum(ok)}/{len(ok)} seeds"
            summary[f"{s}/{m}"] = entry
    payload = {"_started": started,
               "setting": {"table": Path(args.table).name, "table_specs": len(rows), "seeds": args.seeds,
                           "budget_epochs": budget, "none_trials": args.trials, "max_t": MAX_T, "grace": GRACE,
                           "reduction_factor": RF, "curve_seed": "search seed % 2",
                           "hv": "accuracy vs MACs/max MACs, reference (0.1, 1.1)", "workers": 1},
               "true_front": sorted(front), "true_front_size": len(front),
               "true_front_hv_seed0_curves": round(hypervolume(
                   [(r["curves"]["0"][MAX_T - 1], r["macs"]) for r in rows], max(r["macs"] for r in rows)), 4),
               "summary": summary, "simulation_s": round(time.perf_counter() - t0, 1),
               "traces": {f"{s}/{m}/{seed}": runs[(m, s, seed)]["trace"] for (m, s, seed) in runs}}
    C.write_results("early_stopping", payload)
    for k, v in summary.items():
        print(k, json.dumps({kk: vv for kk, vv in v.items() if kk not in ("epochs_to_reach_none_final_hv",)}))


def _ci(xs: list[float]) -> dict:
    mean, lo, hi = C.mean_ci95([float(x) for x in xs])
    return {"mean": round(mean, 4), "ci95": [round(lo, 4), round(hi, 4)]}


if __name__ == "__main__":
    main()
