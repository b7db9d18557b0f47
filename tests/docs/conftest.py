"""The docs checks' shared settings, and the README's line count printed at
the end of every pytest run that collects them (whatever `-q`/`-s` say)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# The README is the front door: what it does, the two commands, deploy in
# brief, the make targets and a map of docs/. Everything else is in docs/.
README_MAX_LINES = 200


def readme_line_count():
    return len(README.read_text(encoding="utf-8").splitlines())


@pytest.fixture
def readme_budget():
    """(lines in README.md, the most it may have)."""
    return readme_line_count(), README_MAX_LINES


def pytest_terminal_summary(terminalreporter):
    lines = readme_line_count()
    verdict = "ok" if lines <= README_MAX_LINES else "TOO LONG"
    terminalreporter.write_sep("-", "docs")
    terminalreporter.write_line(
        f"README.md: {lines} lines (at most {README_MAX_LINES}): {verdict}"
    )
