"""Report sections are one table: each entry gives Markdown, HTML and report.json from one definition."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import analysis.report as report_module
from analysis.report import SECTIONS, ReportSection, Section, Table, build_report, report_dict, to_html, to_markdown


def test_report_json_does_not_import_the_report():
    """report_json used to import report back (a cycle); now the report imports it, not the reverse."""
    code = "import sys, analysis.report_json; print('analysis.report' in sys.modules)"
    root = Path(report_module.__file__).resolve().parents[1]  # this checkout, not an installed copy
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, env=env)
    assert out.stdout.strip() == "False"


def test_every_section_is_in_markdown_and_report_json(search_study):
    report = build_report(search_study.storage, search_study.name)
    markdown = to_markdown(report)
    data = report_dict(report)
    for section in SECTIONS:
        blocks = section.render(report)
        for block in blocks:
            assert ("#" * block.depth + " " + block.title) in markdown, section.key
        assert set(section.numbers(report)) <= set(data), section.key
    keys = [k for section in SECTIONS for k in section.numbers(report)]
    assert len(keys) == len(set(keys))  # no key written by two sections


def test_adding_a_section_is_one_entry(search_study, monkeypatch):
    extra = ReportSection(
        "designs", "Designs", lambda r: {"designs": {"complete": r.state_counts.get("COMPLETE", 0)}},
        lambda r: [Section("Designs", 2, ("Complete trials counted once.",),
                           Table(("complete",), ((str(r.state_counts.get("COMPLETE", 0)),),)))],
    )
    monkeypatch.setattr(report_module, "SECTIONS", (*SECTIONS, extra))
    report = build_report(search_study.storage, search_study.name)
    assert "## Designs\n\nComplete trials counted once.\n\n| complete |\n|---|\n| 9 |" in to_markdown(report)
    assert "<h2>Designs</h2>" in to_html(report) and "<td>9</td>" in to_html(report)
    assert report_dict(report)["designs"] == {"complete": 9}


def test_two_sections_writing_one_key_is_a_bug(search_study, monkeypatch):
    clash = ReportSection("again", "Again", lambda r: {"failures": []}, lambda r: [])
    monkeypatch.setattr(report_module, "SECTIONS", (*SECTIONS, clash))
    with pytest.raises(ValueError, match="repeats report.json keys"):
        report_dict(build_report(search_study.storage, search_study.name))


def test_written_report_json_is_the_sections_numbers(search_study, tmp_path):
    paths = report_module.write_report(search_study.storage, search_study.name, tmp_path / "out")
    assert json.loads(paths["json"].read_text()) == json.loads(
        json.dumps(report_dict(build_report(search_study.storage, search_study.name))))
