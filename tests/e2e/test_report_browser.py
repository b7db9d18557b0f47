"""The posture report's page in a real browser (issue 30): the sample report
(`examples/report_sample.rs`: 15 weekly runs of which the charts show 12,
three owners, hostile names) rendered in Debian's headless Chromium at
1366x768. No console error, every chart drawn with one point per value,
no sideways scrolling; the screenshot is kept as
`.local/e2e-logs/report.png`. The CSV files beside it read back with
Python's csv module, formulas neutralised."""

import csv
import io
import json
import subprocess

import pytest

from harness.browser import HISTORY_RUNS, check_report_page, expected_points, png_size
from harness.local import ROOT

SCREENSHOT = ROOT / ".local" / "e2e-logs" / "report.png"
FINDINGS_COLUMNS = ["owner", "account", "region", "repository", "digest", "tags", "vulnerability", "severity",
                    "exploit", "epss", "first_observed", "deadline", "overdue", "fix"]
COVERAGE_COLUMNS = ["owner", "account", "region", "repository", "digest", "tags", "scan_status", "last_scan",
                    "not_watched"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample report's folder, written by the example (cargo builds it
    against the library the test step has built)."""
    folder = tmp_path_factory.mktemp("report")
    result = subprocess.run(["cargo", "run", "--quiet", "--locked", "--example", "report_sample", "--", str(folder)],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return folder


def runs_of(folder):
    """The runs the trends show: this one and the earlier summaries of
    schema 1, the last 12 at most."""
    earlier = [json.loads(p.read_text()) for p in (folder / "history").glob("*.json")]
    return min(HISTORY_RUNS, 1 + sum(1 for s in earlier if s["schema"] == 1))


def test_the_report_page_shows_every_chart_without_errors_at_laptop_width(sample):
    summary = json.loads((sample / "summary.json").read_text())
    expected = expected_points(summary, runs_of(sample))
    assert expected == {"open-by-severity": 48, "owners-deadlines": 5, "coverage": 24, "top-repositories": 5}

    problems, screenshot = check_report_page(sample / "index.html", expected, SCREENSHOT)

    assert problems == []
    data = screenshot.read_bytes()
    width, height = png_size(data)
    assert width == 1366 and height > 768, "the full page, not only the first screen"
    assert len(data) > 50_000, "a page with charts, not a blank one"


def test_a_wrong_expectation_is_reported(sample, tmp_path):
    """The check sees what is drawn: ask for one point too many."""
    summary = json.loads((sample / "summary.json").read_text())
    expected = expected_points(summary, runs_of(sample))
    expected["coverage"] += 1
    expected["no-such-chart"] = 1
    problems, _ = check_report_page(sample / "index.html", expected, tmp_path / "shot.png")
    assert problems == ["chart coverage: 24 points drawn, 25 expected", "chart no-such-chart: not on the page"]


def test_a_page_wider_than_the_screen_or_with_a_script_error_is_reported(tmp_path):
    page = tmp_path / "index.html"
    page.write_text("<!DOCTYPE html><html><body><div style='width:2000px'>wide</div>"
                    "<script>console.error('broken'); undefined_function();</script></body></html>")
    problems, screenshot = check_report_page(page, {}, tmp_path / "shot.png")
    assert any("scrolls sideways at 1366 px: 2" in p for p in problems), problems
    assert any("console.error: broken" in p for p in problems), problems
    assert any("undefined_function" in p for p in problems), problems
    assert png_size(screenshot.read_bytes())[0] == 1366


def read_csv(path):
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def test_the_csv_files_read_back_with_formulas_neutralised(sample):
    findings = read_csv(sample / "findings.csv")
    assert findings[0] == FINDINGS_COLUMNS
    assert len(findings) == 5 and all(len(r) == len(FINDINGS_COLUMNS) for r in findings)
    hostile = next(r for r in findings if r[0].startswith("<script>"))
    row = dict(zip(FINDINGS_COLUMNS, hostile))
    assert row["repository"] == "\"><img src=x onerror=alert(2)>"
    assert row["tags"] == "'=HYPERLINK(\"http://x\",\"y\") +1"
    assert row["vulnerability"] == "'-2"
    assert row["fix"] == "'@SUM(1), then \"quotes\"\nand a new line"
    assert row["first_observed"] == "2026-10-28T08:00:00Z" and row["deadline"] == "2026-11-27"
    assert row["overdue"] == "10"
    coverage = read_csv(sample / "coverage.csv")
    assert coverage[0] == COVERAGE_COLUMNS and len(coverage) == 4
    for record in findings + coverage:
        for cell in record:
            assert not cell.startswith(FORMULA_STARTS), cell
