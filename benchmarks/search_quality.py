"""Issue item 4: search quality of the samplers on a cheap real task, by table lookup.

Phase 1 (once; ``--rebuild`` to redo): every spec of a restricted grid (plain/resnet/vgg,
width 8/16/32, depth 1/2, alpha 1/4, fusion none or sum/conv/lc/attention x EFLP/EPLF x
branches "2"/"1,2": 612 specs) is trained ONE epoch by the project's trainer on a seeded
Fashion-MNIST subset (2000 train, 500 validation images, batch 32, SGD lr 0.1 cosine,
1 thread per process, ``--workers`` processes) and its validation accuracy and MACs are
stored in ``benchmarks/results/grid_table.json``.

Phase 2: searches are simulated on the table.  A sampler built by the project's
``trials.running.study.make_sampler`` proposes through Optuna ask/tell with the project's
``SearchSpace.sample`` (define-by-run); "training" is a table lookup.  As in
``trials.running.searcher``: a proposal that repeats an already evaluated spec is told PRUNED and
does not count towards the budget, and 200 duplicates in a row end the search.  Samplers:
tpe (the project's default: multivariate, group), nsga2 (the project's default population,
budget // 16 within [4, 50]: 8 at the default budget) and nsga2 with populations 4, 16
and 32 (the variants the default was chosen from), random; 10 seeds
each; budget = ``--budget`` (default 128) for all but random, which runs to twice that so
its hypervolume at 2N is known.

Hypervolume of (accuracy: maximise, MACs: minimise) after N evaluated specs, against a
fixed reference point from the table: accuracy = min - 10% of the range, MACs = max + 10%
of the range (the margin rule of analysis.hypervolume).  Reported raw and as a share of
the whole table's hypervolume (1.0 = the true front found).  Mean and Student-t 95%
interval over seeds per N.  Bar: the best sampler at N reaches random's mean at 2N.

Run: ``.venv/bin/python benchmarks/search_quality.py [--quick] [--rebuild] [--seeds N] [--workers W]``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

import numpy as np  # noqa: E402
import optuna  # noqa: E402
import torch  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from search_space.cost import spec_cost  # noqa: E402
from search_space.space import SearchSpace  # noqa: E402
from search_space.spec import SpecError  # noqa: E402
from trials.config import from_dict  # noqa: E402
from trials.data import DataConfig, load_data  # noqa: E402
from trials.running.searcher import MAX_DUPLICATES_IN_A_ROW  # noqa: E402
from trials.running.study import make_sampler  # noqa: E402
from trials.training.train import train_spec  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = dict(backbone=["plain", "resnet", "vgg"], width=[8, 16, 32], depth=[1, 2], stages=3, fusion_site="gap",
             fusion=["none", "sum", "conv", "lc", "attention"], strategy=["eflp", "eplf"], branches=["2", "1,2"],
             side_channels=16, alpha=[1, 4], sc_add=True, sc_inverse=True, combination="single")
QUICK_SPACE = dict(SPACE, backbone="plain", width=8, depth=1, strategy="eflp", alpha=1)
DATA = dict(dataset="fashion-mnist", subset=2500, val_fraction=0.2, seed=0)
QUICK_DATA = dict(DATA, subset=500)
# batch 32 and lr 0.1: one epoch of 2000 images is 63 steps, enough to get clear of chance
TRAINING = dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="cosine", batch_size=32,
                replicates=1, seed=0, save_weights=False)
SAMPLERS = {"tpe": ("tpe", None), "nsga2": ("nsga2", None), "nsga2_pop4": ("nsga2", 4),
            "nsga2_pop16": ("nsga2", 16), "nsga2_pop32": ("nsga2", 32), "random": ("random", None)}


# --- phase 1: the table ------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(data_cfg: dict, threads: int) -> None:
    torch.set_num_threads(threads)
    _WORKER["data"] = load_data(DataConfig(**data_cfg))
    _WORKER["cfg"] = from_dict({"training": TRAINING}).training


def _train_row(params: dict) -> dict:
    from search_space.spec import ArchSpec

    spec, data = ArchSpec.from_params(params), _WORKER["data"]
    cost = spec_cost(spec, data.num_classes, data.in_channels, data.image_size)
    t = time.perf_counter()
    result = train_spec(spec, data, _WORKER["cfg"], 1, "cpu")  # seeded: the same row on any run
    return {"key": spec.key(), "params": spec.to_params(), "accuracy": result.history[-1], "macs": cost.macs,
            "param_count": cost.params, "train_time_s": result.train_time_s, "wall_s": time.perf_counter() - t,
            "images_per_s": result.images_per_s}


def build_table(space_cfg: dict, data_cfg: dict, path: Path, threads: int, workers: int) -> dict:
    import multiprocessing as mp

    specs = SearchSpace.from_config(space_cfg).grid()
    t_all = time.perf_counter()
    data = load_data(DataConfig(**data_cfg))
    rows = []
    with C.LoadProbe() as probe, mp.get_context("spawn").Pool(workers, _init_worker, (data_cfg, threads)) as pool:
        for i, row in enumerate(pool.imap(_train_row, [s.to_params() for s in specs])):
            rows.append(row)
            print(f"  [{i + 1}/{len(specs)}] acc {row['accuracy']:.3f} macs {row['macs']} {row['wall_s']:.1f}s",
                  flush=True)
    table = {"space": space_cfg, "data": data_cfg, "training": TRAINING, "epochs": 1, "threads": threads,
             "workers": workers,
             "train_images": len(data.x_train), "val_images": len(data.x_val),
             "build_time_s": time.perf_counter() - t_all, "load": probe.result, "built": C.now_iso(),
             "command": C.command(), "machine": C.machine(), "versions": C.versions(), "specs": rows}
    path.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {path.relative_to(C.ROOT)} ({len(rows)} specs, {table['build_time_s']:.0f}s)")
    return table


# --- hypervolume ----------------------------------------------------------------------------
def hv2d(points: list[tuple[float, float]], ref_acc: float, ref_macs: float) -> float:
    """Area dominated by (accuracy up, MACs down) points and bounded by the reference point."""
    pts = sorted((m, a) for a, m in points if a > ref_acc and m < ref_macs)
    front, best = [], -np.inf
    for m, a in pts:  # MACs ascending: keep the points that raise the best accuracy so far
        if a > best:
            front.append((m, a))
            best = a
    area = 0.0
    for i, (m, a) in enumerate(front):
        nxt = front[i + 1][0] if i + 1 < len(front) else ref_macs
        area += (nxt - m) * (a - ref_acc)
    return area


# --- phase 2: simulated searches ----------------------------------------------------------
def simulate(sampler_key: str, seed: int, budget: int, space: SearchSpace, table: dict[str, dict]) -> dict:
    name, population = SAMPLERS[sampler_key]
    config = from_dict({"space": {}, "sampler": {"name": name, "seed": seed, "population_size": population},
                        "budget": {"trials": budget, "epochs": 1}})
    sampler = make_sampler(config)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    evaluated: list[dict] = []
    seen: set[str] = set()
    duplicates = in_a_row = asks = 0
    while len(evaluated) < budget and in_a_row < MAX_DUPLICATES_IN_A_ROW:
        trial = study.ask()
        asks += 1
        try:
            spec = space.sample(trial)
        except SpecError:
            study.tell(trial, state=TrialState.FAIL)
            continue
        key = spec.key()
        if key in seen:
            duplicates += 1
            in_a_row += 1
            study.tell(trial, state=TrialState.PRUNED)
            continue
        in_a_row = 0
        seen.add(key)
        row = table[key]
        study.tell(trial, [row["accuracy"], row["macs"]])
        evaluated.append(row)
    return {"evaluated_keys": [r["key"] for r in evaluated], "asks": asks, "duplicates": duplicates,
            "stopped_early": len(evaluated) < budget,
            "points": [(r["accuracy"], r["macs"]) for r in evaluated]}


def main() -> None:
    ap = C.parser(__doc__, "tiny table and few seeds: a smoke check")
    ap.add_argument("--rebuild", action="store_true", help="retrain the table even if it exists")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per table-build process")
    ap.add_argument("--workers", type=int, default=C.os.cpu_count() or 1, help="table-build processes")
    ap.add_argument("--budget", type=int, default=None, help="trials per non-random search (default 128)")
    args = ap.parse_args()
    quiet, started = C.begin(args)
    space_cfg, data_cfg = (QUICK_SPACE, QUICK_DATA) if args.quick else (SPACE, DATA)
    path = C.RESULTS / f"{C.results_name('grid_table')}.json"
    C.RESULTS.mkdir(parents=True, exist_ok=True)
    table = json.loads(path.read_text()) if path.exists() and not args.rebuild else None
    if table is not None and (table["space"], table["data"], table["training"]) != (space_cfg, data_cfg, TRAINING):
        print(f"{path.name} was built for another space, data or training: rebuilding")
        table = None
    if table is None:
        table = build_table(space_cfg, data_cfg, path, args.threads, args.workers)
    else:
        print(f"reusing {path.relative_to(C.ROOT)} ({len(table['specs'])} specs, built {table['built']})")

    space = SearchSpace.from_config(space_cfg)
    by_key = {r["key"]: r for r in table["specs"]}
    assert {s.key() for s in space.grid()} == set(by_key), "table and space disagree"
    size = len(by_key)
    accs = [r["accuracy"] for r in by_key.values()]
    macs = [r["macs"] for r in by_key.values()]
    ref_acc = min(accs) - 0.1 * (max(accs) - min(accs))
    ref_macs = max(macs) + 0.1 * (max(macs) - min(macs))
    full_hv = hv2d(list(zip(accs, macs)), ref_acc, ref_macs)
    # cross-check the sweep against the project's hypervolume (Optuna's exact one underneath)
    from analysis.hypervolume import hypervolume

    check = hypervolume(np.array([[-a, m] for a, m in zip(accs, macs)]), np.array([-ref_acc, ref_macs]))
    assert abs(check - full_hv) <= 1e-9 * max(1.0, full_hv), (check, full_hv)

    seeds = args.seeds or (2 if args.quick else 10)
    budget = min(args.budget or (size // 2 if args.quick else 128), size // 2)
    checkpoints = sorted({n for n in (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, budget, 2 * budget)
                          if n <= 2 * budget})
    runs: dict = {}
    t0 = time.perf_counter()
    for key in SAMPLERS:
        b = 2 * budget if key == "random" else budget
        runs[key] = []
        for seed in range(seeds):
            r = simulate(key, seed, b, space, by_key)
            r["hv_by_n"] = {n: hv2d(r["points"][:n], ref_acc, ref_macs) for n in checkpoints if n <= b}
            runs[key].append(r)
        print(f"{key}: {seeds} seeds; duplicates/run median {C.median([r['duplicates'] for r in runs[key]])}, "
              f"stopped early {sum(r['stopped_early'] for r in runs[key])}", flush=True)
    sim_s = time.perf_counter() - t0

    def stats(key: str, n: int) -> dict | None:
        vals = [r["hv_by_n"][n] / full_hv for r in runs[key] if n in r["hv_by_n"]]
        if not vals:
            return None
        m, lo, hi = C.mean_ci95(vals)
        return {"mean": m, "ci95": [lo, hi], "n_seeds": len(vals)}

    per_n = {n: {k: stats(k, n) for k in SAMPLERS} for n in checkpoints}
    comparisons = []
    for n in checkpoints:
        if n > budget:
            continue
        best = max((k for k in SAMPLERS if k != "random"), key=lambda k: per_n[n][k]["mean"])
        target = C.mean_ci95([hv2d(r["points"][:2 * n], ref_acc, ref_macs) / full_hv for r in runs["random"]])[0]
        comparisons.append({"n": n, "best_sampler": best, "best_at_n": per_n[n][best]["mean"],
                            "random_at_n": per_n[n]["random"]["mean"], "random_at_2n": target,
                            "met": per_n[n][best]["mean"] >= target})
    front_keys = [k for k, r in by_key.items()
                  if not any((o["accuracy"] >= r["accuracy"] and o["macs"] <= r["macs"]
                              and (o["accuracy"] > r["accuracy"] or o["macs"] < r["macs"])) for o in by_key.values())]
    summary = {
        "table_specs": size, "budget_non_random": budget, "seeds": seeds,
        "reference_point": {"accuracy": ref_acc, "macs": ref_macs,
                            "rule": "table min accuracy - 10% of its range; table max MACs + 10% of its range"},
        "table_hypervolume": full_hv, "true_front_size": len(front_keys),
        "table_accuracy_range": [min(accs), max(accs)], "table_macs_range": [min(macs), max(macs)],
        "hv_share_by_n": per_n, "bar": "best sampler's mean HV at N >= random search's mean HV at 2N",
        "comparisons": comparisons, "bar_met_all_n": all(c["met"] for c in comparisons),
        "nsga2_default_population": getattr(make_sampler(from_dict({"sampler": {"name": "nsga2"},
                                                                    "budget": {"trials": budget}})),
                                             "_population_size", None),
        "duplicates_per_run_median": {k: C.median([r["duplicates"] for r in runs[k]]) for k in SAMPLERS},
        "runs_stopped_early": {k: sum(r["stopped_early"] for r in runs[k]) for k in SAMPLERS},
        "simulation_s": sim_s, "table_build_time_s": table["build_time_s"],
    }
    raw = {k: [{"seed": i, "evaluated_keys": r["evaluated_keys"], "asks": r["asks"], "duplicates": r["duplicates"],
                "stopped_early": r["stopped_early"], "hv_by_n": r["hv_by_n"]} for i, r in enumerate(v)]
           for k, v in runs.items()}
    C.write_results("search_quality", {"_started": started, "table_file": str(path.relative_to(C.ROOT)),
                                       "true_front_keys": front_keys, "raw": raw, "summary": summary})
    print(f"table: {size} specs, true front {len(front_keys)}, build {table['build_time_s']:.0f}s")
    header = "N".rjust(4) + "".join(k.rjust(22) for k in SAMPLERS)
    print(header)
    for n in checkpoints:
        cells = []
        for k in SAMPLERS:
            s = per_n[n][k]
            cells.append((f"{s['mean']:.3f} [{s['ci95'][0]:.3f},{s['ci95'][1]:.3f}]" if s else "-").rjust(22))
        print(str(n).rjust(4) + "".join(cells))
    for c in comparisons:
        print(f"N={c['n']}: best {c['best_sampler']} {c['best_at_n']:.3f} vs random@2N {c['random_at_2n']:.3f} "
              f"-> {'met' if c['met'] else 'NOT met'}")


if __name__ == "__main__":
    main()
