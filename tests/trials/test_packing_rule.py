"""``replicates_mode: auto`` follows the measured tables: CPU's from benchmarks/replicates.py, CUDA's
from benchmarks/gpu_search.py (empty until a GPU run fills it: then together, the unmeasured guess)."""

from trials.training import replicates
from trials.training.replicates import choose_mode


def test_cpu_rule_is_the_measured_table():
    assert choose_mode(8, 2, "cpu") == "together"  # the one setting measured faster together (0.66x)
    assert choose_mode(8, 1, "cpu") == choose_mode(16, 2, "cpu") == choose_mode(32, 2, "cpu") == "sequential"
    assert choose_mode(4096, 2, "cpu") == "sequential"  # wider than anything measured


def test_cuda_rule_follows_its_table_once_measured(monkeypatch):
    assert choose_mode(32, 4, "cuda", 128) == "together"  # nothing measured yet
    monkeypatch.setattr(replicates, "CUDA_TOGETHER_FASTER", {(32, 128): True, (32, 512): False,
                                                             (64, 128): False, (64, 512): False})
    assert choose_mode(32, 4, "cuda", 128) == "together"
    assert choose_mode(32, 4, "cuda", 256) == "sequential"  # between batches: the next larger, 512
    assert choose_mode(48, 4, "cuda", 128) == "sequential"  # between widths: the next wider, 64
    assert choose_mode(128, 4, "cuda", 128) == "together"  # wider than measured: the guess
