"""How long ``fusionscope --help`` takes, and how much memory: the price of every CLI call.

Building the parser imports no torch, statsmodels, pandas or plotly (tests/fusionscope/
test_parser.py); this measures what a user waits for.  Bar: under 0.5 s on the 2-core machine.
Each repeat is a fresh process; the median wall time and the largest peak RSS are reported.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _common import begin, parser, write_results

BAR_S = 0.5


def one_run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh ``python -m fusionscope`` process.  The RSS
    comes from GNU time around the child: a child forked from this torch-holding script would
    otherwise report this script's pages as its own high-water mark."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "fusionscope", *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    wall = time.perf_counter() - start
    return wall, int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    quiet, started = begin(args)
    repeats = 3 if args.quick else args.repeats
    rows = {}
    for name, argv in (("help", ["--help"]), ("report_help", ["report", "--help"]), ("version", ["--version"])):
        runs = [one_run(argv) for _ in range(repeats)]
        rows[name] = {"argv": argv, "wall_s": [w for w, _ in runs], "median_s": statistics.median(w for w, _ in runs),
                      "peak_rss_mib": max(m for _, m in runs)}
        print(f"fusionscope {' '.join(argv)}: median {rows[name]['median_s']:.3f} s, "
              f"peak RSS {rows[name]['peak_rss_mib']:.0f} MiB", flush=True)
    write_results("cli_help", {"_started": started, "bar_s": BAR_S, "met": rows["help"]["median_s"] < BAR_S,
                               "rows": rows})


if __name__ == "__main__":
    main()
