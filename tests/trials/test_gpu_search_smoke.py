"""benchmarks/gpu_search.py, the one prepared GPU run, checked on the CPU with tiny sizes (--smoke)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_search.py"
SUMMARY_KEYS = {"device", "training_share", "r4_together_over_one", "cfn_analogue_wall_s"}


def _run(tmp_path, *extra) -> dict:
    out = tmp_path / "gpu_search.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(out), *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_isolated_part_writes_its_rows_and_the_summary(tmp_path):
    """The full mode's path: a part in a process of its own; its rows and the summary's keys come back."""
    result = _run(tmp_path, "--parts", "replicates", "--isolate")
    assert result["complete"] and SUMMARY_KEYS <= set(result["summary"])
    rows = result["parts"]["replicates"]["rows"]
    assert [r["R"] for r in rows] == [1, 4] and rows[1]["together"]["wall_s"] > 0
    assert result["summary"]["r4_together_over_one"] == pytest.approx(rows[1]["together_over_one"], abs=1e-3)
    assert result["parts"]["replicates"]["exit_code"] == 0 and "load" in result["parts"]["replicates"]


def test_a_part_that_fails_is_recorded_and_the_file_still_written(tmp_path):
    result = _run(tmp_path, "--parts", "replicates", "--isolate", "--root", str(tmp_path / "no-such-folder"))
    part = result["parts"]["replicates"]
    assert "error" in part and "no-such-folder" in part["error"]
    assert result["complete"] and result["summary"]["r4_together_over_one"] is None


@pytest.mark.slow
def test_search_and_warm_parts_measure_a_real_search(tmp_path):
    result = _run(tmp_path, "--parts", "search,warm")
    search, warm = result["parts"]["search"], result["parts"]["warm"]
    assert "error" not in search, search.get("error")
    assert len(search["trials"]) == 4 and not search["errors"]
    assert 0 < result["summary"]["training_share"] <= 1
    assert search["training_share"] == pytest.approx(
        search["training_s"] / (search["slots"] * search["span_s"]))
    assert search["bare"]["nets"] >= 1 and search["bare"]["images_per_s"] > 0
    # one slot, one reused actor: three trials, the later two judged on their first epoch
    assert len(warm["trials"]) == 3 and len(warm["first_epoch_over_later_in_later_trials"]) == 2
