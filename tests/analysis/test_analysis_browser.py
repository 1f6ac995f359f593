"""The HTML outputs render in a real headless Chromium: plots drawn, no page errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageStat

from analysis.report import write_report

from tests.browser import chromium, needs_chromium, page_errors

pytestmark = needs_chromium

FRONT_RED = (214, 39, 40)  # the front's marker colour, #d62728


def red_pixels(png: Path) -> int:
    image = Image.open(png).convert("RGB")
    return sum(
        count
        for count, (r, g, b) in image.getcolors(maxcolors=1 << 24)
        if abs(r - FRONT_RED[0]) < 20 and abs(g - FRONT_RED[1]) < 20 and abs(b - FRONT_RED[2]) < 20
    )


def test_error_detection_sees_a_broken_page(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>notDefinedAnywhere();</script></body></html>")
    result = chromium(page, tmp_path / "profile", "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in page_errors(result.stderr, page))


@pytest.fixture
def written(search_study, tmp_path) -> dict[str, Path]:
    return write_report(search_study.storage, search_study.name, tmp_path / "out")


@pytest.mark.parametrize("kind, plots", [("html", 3), ("pareto_html", 1)])  # report: forest, Pareto, hypervolume
def test_page_renders_its_plots_without_errors(written, tmp_path, kind, plots):
    page = written[kind]
    dom = chromium(page, tmp_path / "profile", "--dump-dom")
    assert page_errors(dom.stderr, page) == []
    assert dom.stdout.count('class="plot-container plotly"') == plots
    assert 'class="main-svg"' in dom.stdout
    assert dom.stdout.count('class="point"') >= 9 * plots  # markers of the 9 complete trials
    if kind == "html":  # the forest plot drew its three panels, the effects' error bars among them
        assert "effect on accuracy (points, 95% CI)" in dom.stdout and "Δ MACs per image" in dom.stdout
        assert 'class="errorbar"' in dom.stdout

    screenshot = tmp_path / f"{kind}.png"
    shot = chromium(page, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1200,900")
    assert page_errors(shot.stderr, page) == []
    image = Image.open(screenshot).convert("RGB")
    assert image.size == (1200, 900)
    assert max(ImageStat.Stat(image).var) > 0  # not one flat colour
    if kind == "pareto_html":
        assert red_pixels(screenshot) > 200  # the front's markers are on screen


def test_report_with_effect_plots_renders_without_errors(tmp_path):
    from tests.analysis.synthetic_effects import stored_learning_curve_study

    storage = f"sqlite:///{tmp_path / 'curves.db'}"
    stored_learning_curve_study(storage)
    page = write_report(storage, "curves", tmp_path / "out")["html"]
    dom = chromium(page, tmp_path / "profile", "--dump-dom")
    assert page_errors(dom.stderr, page) == []
    assert dom.stdout.count('class="plot-container plotly"') == 5  # forest, Pareto, hypervolume, 2 by epoch
