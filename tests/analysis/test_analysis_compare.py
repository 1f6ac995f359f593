"""compare: fronts and hypervolumes of several studies against one reference point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from analysis.compare import CompareError, compare_studies, to_markdown, write_comparison
from analysis_studies import add_complete, cfn_spec, make_study
from tests.browser import chromium, needs_chromium, page_errors

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory) -> str:
    storage = f"sqlite:///{tmp_path_factory.mktemp('compare') / 'compare.db'}"
    a = make_study(storage, "A", ["accuracy", "params"])
    add_complete(a, cfn_spec("plain", 16, "none"), [0.80], 100, 1)
    add_complete(a, cfn_spec("plain", 32, "none"), [0.85], 200, 1)
    b = make_study(storage, "B", ["accuracy", "params"])
    add_complete(b, cfn_spec("plain", 16, "lc", "eflp", "1,2"), [0.82], 100, 1)
    add_complete(b, cfn_spec("plain", 64, "lc", "eflp", "1,2"), [0.84], 300, 1)
    add_complete(b, cfn_spec("plain", 16, "sum", "eflp", "2"), [0.70], 50, 1)
    make_study(storage, "three", ["accuracy", "params", "macs"])
    return storage


def test_numbers_shared_reference_union_front_and_dominance(two_studies):
    c = compare_studies(two_studies, ["A", "B"])
    assert c.reference_point == pytest.approx({"accuracy": 0.70 - 0.1 * 0.15, "params": 300 + 0.1 * 250})
    a, b = c.studies
    assert a.hypervolume.reference_point == b.hypervolume.reference_point == c.reference_point
    # A's boxes: 0.115 x 225 + 0.165 x 125 - overlap 0.115 x 125
    assert a.hypervolume.final == pytest.approx(0.115 * 225 + 0.165 * 125 - 0.115 * 125)
    assert c.union_front_size == 3
    assert (len(a.union_front), len(b.union_front)) == (1, 2)
    assert (len(a.front), len(b.front)) == (2, 3)
    assert c.dominated == {("A", "B"): 1, ("B", "A"): 1}
    assert c.axes == ("params", "accuracy")
    markdown = to_markdown(c)
    assert "| A | 2 | 32.125 |" in markdown and "| B | 3 |" in markdown
    assert "| A | — | 1 of 3 |" in markdown


def test_studies_that_cannot_be_compared_say_why(two_studies):
    with pytest.raises(CompareError, match="at least two different studies"):
        compare_studies(two_studies, ["A", "A"])
    with pytest.raises(CompareError, match="not comparable"):
        compare_studies(two_studies, ["A", "three"])


def test_cli_compare_writes_the_page_and_rejects_a_missing_study(two_studies, tmp_path):
    run = [sys.executable, "-m", "fusionscope", "compare", "--storage", two_studies]
    ok = subprocess.run([*run, "--study", "A", "--study", "B", "-o", str(tmp_path / "out")],
                        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "out" / "compare.html").stat().st_size > 1_000_000
    bad = subprocess.run([*run, "--study", "A", "--study", "nope", "-o", str(tmp_path / "bad")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "nope" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@needs_chromium
def test_compare_page_renders_in_chromium_without_errors(two_studies, tmp_path):
    page = write_comparison(two_studies, ["A", "B"], tmp_path / "out")["html"]
    dom = chromium(page, tmp_path / "profile", "--dump-dom")
    assert page_errors(dom.stderr, page) == []
    assert dom.stdout.count('class="plot-container plotly"') == 1
    assert dom.stdout.count('class="point"') >= 5  # every trial's marker
