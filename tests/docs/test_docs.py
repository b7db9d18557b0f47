"""The docs stay true to the repository.

Over README.md, docs/*.md and events/README.md:

- every relative link resolves to a file, and a link with `#anchor` to a
  heading of its target that produces that anchor (GitHub's rule);
- every `make <target>` shown in code is a target of the Makefile;
- the variables of the configuration table are the ones the function
  defines (src/config.rs, src/entry.rs), in both
  directions; any other UPPER_SNAKE name shown in code is a documented
  setting, a make variable, Lambda's or the SDK's own (`AWS_*`, `_*`), or a
  name the code, the templates or the harness use;
- every repository path shown in code exists, and every test named in code
  (`test_…`, `adapters::…`) is defined in tests/;
- README.md is at most 200 lines (conftest.py prints the count).

Each check is a plain function returning what it found wrong, so the
negative tests at the end feed them broken documents and see them report.
No network, no local stack.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
# Where the function's settings are named, as `const NAME: &str = "VARIABLE";`.
SETTING_FILES = ("src/config.rs", "src/entry.rs")
# What "a name the code uses" is looked up in (tests/docs itself excluded,
# so the broken examples below are never found there).
CORPUS_GLOBS = (
    "src/**/*.rs", "tests/**/*.rs", "tests/**/*.py", "benches/**/*.rs",
    "harness/**/*.py", "tools/**/*.py", "scripts/*", "Makefile", "*.yaml",
    "*.toml", "*.ini", "requirements*.txt", "examples/*",
)
# Repository paths recognised in code spans: a top-level directory, or a
# top-level file by its extension.
PATH_PREFIXES = ("src", "tests", "harness", "tools", "scripts", "benches", "events", "examples", "docs")
TOP_LEVEL_FILE = re.compile(r"^[\w.-]+\.(?:yaml|toml|ini|txt|md)$")

UPPER_NAME = re.compile(r"(?<![\w.-])_?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?![\w-])")
SETTING_CONST = re.compile(r'const\s+[A-Z0-9_]+\s*:\s*&(?:\'static\s+)?str\s*=\s*"(_?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)"\s*;')
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
MAKE_CALL = re.compile(r"(?<![\w./-])make\s+([a-z][a-z0-9_-]*)")


def documents():
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "events" / "README.md"]
    return [d for d in docs if d.exists()]


def rel(path):
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# ------------------------------------------------------------ markdown parts

def split_code(text):
    """(prose, inline spans, fenced blocks) of a markdown text. Prose keeps
    every line, code replaced by spaces. Spans are (line number, content)
    with whitespace runs made single spaces; blocks are (line number of
    their first line, content)."""
    lines = text.split("\n")
    prose_lines, fenced, block, fence, start = [], [], [], None, 0
    for number, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence, start, block = m.group(1)[0] * len(m.group(1)), number, []
            prose_lines.append("")
        elif fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fenced.append((start + 1, "\n".join(block)))
                fence = None
            else:
                block.append(line)
            prose_lines.append("")
        else:
            prose_lines.append(line)
    if fence is not None:
        fenced.append((start + 1, "\n".join(block)))
    prose = "\n".join(prose_lines)
    spans = []

    def blank(m):
        content = m.group(2)
        if re.search(r"\n\s*\n", content):  # a span never crosses a paragraph
            return m.group(0)
        spans.append((prose.count("\n", 0, m.start()) + 1, " ".join(content.split())))
        return re.sub(r"[^\n]", " ", m.group(0))

    prose = INLINE_CODE.sub(blank, prose)
    return prose, spans, fenced


def anchor_of(heading):
    """The anchor GitHub gives a heading: links reduced to their text,
    lower case, punctuation dropped (letters, digits, `_`, `-` and spaces
    stay), spaces made hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text):
    """Every anchor the headings of a markdown text produce; a repeated
    heading gets -1, -2, ... as on GitHub."""
    seen, found = {}, set()
    prose, _, _ = split_code(text)
    original = text.split("\n")
    for number, line in enumerate(prose.split("\n")):
        if not HEADING.match(line):
            continue
        base = anchor_of(HEADING.match(original[number]).group(2))
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


# ------------------------------------------------------------------ checks

def broken_links(doc, text, root=ROOT):
    """Relative links of `doc` whose file, or whose #anchor, does not exist."""
    problems = []
    prose, _, _ = split_code(text)
    for m in LINK.finditer(prose):
        target = m.group(1)
        line = prose.count("\n", 0, m.start()) + 1
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, mailto:, ...
            continue
        path_part, _, fragment = target.partition("#")
        dest = doc if not path_part else (doc.parent / path_part).resolve()
        where = f"{rel(doc)}:{line}: [{target}]"
        if path_part.startswith("/"):
            problems.append(f"{where}: absolute path; link relative to the document")
            continue
        if not dest.exists():
            problems.append(f"{where}: no such file {rel(dest)}")
            continue
        if root not in dest.parents and dest != root:
            problems.append(f"{where}: outside the repository")
            continue
        if fragment:
            if dest.is_dir() or dest.suffix != ".md":
                problems.append(f"{where}: #{fragment} points into a file that is not markdown")
            elif fragment not in anchors(dest.read_text(encoding="utf-8")):
                problems.append(f"{where}: no heading in {rel(dest)} gives #{fragment}")
    return problems


def makefile_targets(makefile_text):
    """The explicit targets of a Makefile (rules, not variables)."""
    targets = set()
    for line in makefile_text.splitlines():
        if not line or line[0] in " \t#":
            continue
        m = re.match(r"^([^:=#]+?)\s*::?(?!=)", line)
        if m:
            targets.update(t for t in m.group(1).split() if not t.startswith(".") and "$" not in t and "%" not in t)
    return targets


def makefile_variables(makefile_text):
    """Variables a Makefile sets or reads: `NAME ?= ...`, `$(NAME)`."""
    names = set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*[:?+!]?=", makefile_text, re.M))
    names.update(re.findall(r"\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]", makefile_text))
    return names


def unknown_make_targets(doc, text, targets):
    """`make <target>` in code spans and code blocks naming no target."""
    _, spans, fenced = split_code(text)
    problems = []
    for line, code in [*spans, *fenced]:
        for m in MAKE_CALL.finditer(code):
            if m.group(1) not in targets:
                at = line + code.count("\n", 0, m.start())
                problems.append(f"{rel(doc)}:{at}: make {m.group(1)}: no such target in the Makefile")
    return problems


def defined_settings(root=ROOT, files=SETTING_FILES):
    """The environment variables the function defines: string constants
    whose value is an UPPER_SNAKE name, in the settings files."""
    names = set()
    for name in files:
        path = root / name
        if path.exists():
            names.update(SETTING_CONST.findall(path.read_text(encoding="utf-8")))
    return names


def lambdas_own(name):
    """Set by Lambda (`_HANDLER`, `_X_AMZN_TRACE_ID`) or read by the AWS SDK
    and runtime (`AWS_REGION`, `AWS_ENDPOINT_URL`)."""
    return name.startswith("_") or name.startswith("AWS_")


def table_variables(text):
    """[(line, name)] of the first column of every table headed `Variable`."""
    rows, in_table = [], False
    for number, line in enumerate(text.split("\n"), 1):
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else None
        if cells is None:
            in_table = False
            continue
        if not in_table:
            in_table = cells[0].lower() == "variable"
            continue
        if set(cells[0]) <= set("-: "):
            continue
        rows.extend((number, n) for n in re.findall(r"`([^`]+)`", cells[0]))
    return rows


def settings_problems(doc, text, defined):
    """Variables of the configuration table the function does not define,
    and variables it defines that the table does not list."""
    rows = table_variables(text)
    problems = [
        f"{rel(doc)}:{line}: `{name}` is not a setting the function defines ({', '.join(SETTING_FILES)})"
        for line, name in rows
        if name not in defined and not lambdas_own(name)
    ]
    listed = {name for _, name in rows}
    problems += [
        f"{rel(doc)}: `{name}` is defined in the source but missing from the table"
        for name in sorted(defined - listed)
    ]
    return problems


def corpus_words(root=ROOT):
    """Every UPPER_SNAKE word in the code, tests, harness, tools and templates."""
    words = set()
    docs_tests = root / "tests" / "docs"
    for pattern in CORPUS_GLOBS:
        for path in root.glob(pattern):
            if not path.is_file() or docs_tests in path.parents:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            words.update(re.findall(r"_?[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", text))
    return words


def unknown_names(doc, text, known):
    """UPPER_SNAKE names in code spans that nothing in the repository knows."""
    _, spans, _ = split_code(text)
    problems = []
    for line, code in spans:
        for name in UPPER_NAME.findall(code):
            if name not in known and not lambdas_own(name):
                problems.append(f"{rel(doc)}:{line}: `{name}` is not a setting, a make variable, nor a name the code uses")
    return problems


def missing_paths(doc, text, root=ROOT):
    """Repository paths in code spans that do not exist."""
    _, spans, _ = split_code(text)
    problems = []
    prefix = re.compile(r"(?<![\w./:-])((?:%s)/[\w./-]*)" % "|".join(PATH_PREFIXES))
    for line, code in spans:
        candidates = [p for p in prefix.findall(code)]
        if TOP_LEVEL_FILE.match(code):
            candidates.append(code)
        for path in candidates:
            end = code.find(path) + len(path)
            if end < len(code) and code[end] in "*…<{":  # a pattern, not a path
                continue
            path = path.rstrip(".")
            if path and not (root / path).exists():
                problems.append(f"{rel(doc)}:{line}: `{path}` does not exist")
    return problems


def defined_test_names(root=ROOT):
    """{file stem: [test function names]} of the Rust and Python tests."""
    names = {}
    for path in [*root.glob("tests/*.rs"), *root.glob("tests/**/test_*.py")]:
        if root / "tests" / "docs" in path.parents:
            continue
        found = re.findall(r"^\s*(?:async\s+)?(?:fn|def)\s+([a-z0-9_]+)", path.read_text(encoding="utf-8"), re.M)
        names.setdefault(path.stem, []).extend(found)
    return names


def missing_tests(doc, text, root=ROOT):
    """Tests named in code spans (`test_name`, `module::name`, `…part…`,
    where `…` stands for the rest of the name) that no test file defines."""
    tests = defined_test_names(root)
    everything = [n for found in tests.values() for n in found]
    problems = []
    _, spans, _ = split_code(text)
    for line, code in spans:
        m = re.fullmatch(r"(…)?(?:([a-z_]+)::)?([a-z0-9_]+)(…)?", code)
        if not m or not (m.group(1) or m.group(2) or m.group(3).startswith("test_")):
            continue
        lead, module, part, tail = m.groups()
        if module is not None and module not in tests:
            continue  # a module path of the crate (`aws::ecr`), not a test
        pool = tests[module] if module else everything
        if lead:
            ok = any(part in n for n in pool)
        elif tail:
            ok = any(n.startswith(part) for n in pool)
        else:
            ok = part in pool
        if not ok:
            problems.append(f"{rel(doc)}:{line}: `{code}` names no test in tests/")
    return problems


def too_long(text, limit):
    lines = len(text.splitlines())
    return [f"README.md has {lines} lines, more than {limit}"] if lines > limit else []


# ---------------------------------------------------------- the real docs

DOCS = documents()


@pytest.fixture(scope="module")
def makefile_text():
    return (ROOT / "Makefile").read_text(encoding="utf-8")


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_relative_link_resolves(doc):
    problems = broken_links(doc, doc.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_make_target_named_exists(doc, makefile_text):
    targets = makefile_targets(makefile_text)
    problems = unknown_make_targets(doc, doc.read_text(encoding="utf-8"), targets)
    assert not problems, "\n".join(problems)


def test_the_configuration_table_is_the_functions_settings():
    defined = defined_settings()
    assert {"ALERT_TOPIC_ARN", "_HANDLER"} <= defined, "the settings constants were not found"
    text = CONFIGURATION_DOC.read_text(encoding="utf-8")
    problems = settings_problems(CONFIGURATION_DOC, text, defined)
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def known_names(makefile_text):
    documented = {name for _, name in table_variables(CONFIGURATION_DOC.read_text(encoding="utf-8"))}
    return documented | defined_settings() | makefile_variables(makefile_text) | corpus_words()


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_upper_case_name_in_code_is_known(doc, known_names):
    problems = unknown_names(doc, doc.read_text(encoding="utf-8"), known_names)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_repository_path_named_exists(doc):
    problems = missing_paths(doc, doc.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_test_named_exists(doc):
    problems = missing_tests(doc, doc.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_docs_name_no_path_of_a_particular_machine():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert not re.search(r"(?<![\w.])/(?:home|Users|work|tmp)/", text), rel(doc)


def test_the_readme_is_short_and_opens_with_the_two_commands(readme_budget, record_property):
    lines, limit = readme_budget
    record_property("readme_lines", lines)
    print(f"README.md: {lines} lines (at most {limit})")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert too_long(text, limit) == []
    _, _, fenced = split_code(text)
    first = fenced[0][1].splitlines()
    assert [l.split("#")[0].strip() for l in first] == ["make demo", "make test"]
    assert text.index("```") < text.index("\n## "), "the commands come first"


def test_every_document_is_linked_from_the_readme():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for doc in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{doc.name}" in text, f"README.md does not link docs/{doc.name}"


# ------------------------------------------- each check reports what is wrong

def test_anchors_are_formed_as_on_github():
    assert anchor_of("CI gate: `ecr-scan-gate`") == "ci-gate-ecr-scan-gate"
    assert anchor_of("Organisation-wide: many accounts and regions") == "organisation-wide-many-accounts-and-regions"
    assert anchor_of("The alert: what each reader gets") == "the-alert-what-each-reader-gets"
    assert anchor_of("Only-new alerts") == "only-new-alerts"
    assert anchors("# A\n\n## Slack\n\n```\n# not a heading\n```\n\n### Slack\n") == {"a", "slack", "slack-1"}


def test_a_broken_link_or_anchor_is_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "real.md").write_text("# Real heading\n\n## Errors\n")
    doc = tmp_path / "README.md"
    doc.write_text(
        "# Doc\n\n"
        "[ok](docs/real.md) [ok](docs/real.md#errors) [ok](#doc) [web](https://example.com/x)\n"
        "[gone](docs/missing.md)\n"
        "[bad anchor](docs/real.md#nope)\n"
        "[bad local anchor](#absent)\n"
        "`[in code](docs/missing.md)`\n"
    )
    problems = broken_links(doc, doc.read_text(), root=tmp_path)
    assert len(problems) == 3, problems
    assert "missing.md" in problems[0] and ":4:" in problems[0]
    assert "#nope" in problems[1]
    assert "#absent" in problems[2]


def test_an_unknown_make_target_is_reported(tmp_path):
    makefile = "demo: setup ## the demo\n\tcargo build\nARCH ?= arm64\nX := y\n$(VENV)/.installed: r.txt\n"
    targets = makefile_targets(makefile)
    assert targets == {"demo"}
    doc = tmp_path / "doc.md"
    text = "Run `make demo`, then:\n\n```sh\nmake frobnicate   # no such target\n```\n\nto make it work (prose).\n"
    problems = unknown_make_targets(doc, text, targets)
    assert len(problems) == 1 and "make frobnicate" in problems[0] and ":4:" in problems[0], problems


def test_an_unknown_or_undocumented_setting_is_reported(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "config.rs").write_text(
        'pub const ALERT_TOPIC_ARN: &str = "ALERT_TOPIC_ARN";\n'
        'pub const HIDDEN_SETTING: &str = "HIDDEN_SETTING";\n'
        'pub const DEFAULT_NAMESPACE: &str = "EcrScanAlerts";\n'
    )
    defined = defined_settings(tmp_path, ("src/config.rs",))
    assert defined == {"ALERT_TOPIC_ARN", "HIDDEN_SETTING"}
    doc = tmp_path / "configuration.md"
    text = (
        "| Variable | Default | Meaning |\n|---|---|---|\n"
        "| `ALERT_TOPIC_ARN` | (required) | The topic |\n"
        "| `NOT_A_REAL_SETTING` | `1` | Invented |\n"
        "| `_HANDLER` | (set by Lambda) | Lambda's own |\n"
        "| `AWS_REGION` | | The SDK's own |\n"
    )
    problems = settings_problems(doc, text, defined)
    assert len(problems) == 2, problems
    assert "NOT_A_REAL_SETTING" in problems[0] and ":4:" in problems[0]
    assert "HIDDEN_SETTING" in problems[1] and "missing from the table" in problems[1]


def test_an_unknown_name_in_code_is_reported(tmp_path):
    doc = tmp_path / "doc.md"
    text = "Set `SEVERITY_TRESHOLD=HIGH`, `DRY_RUN=1`, `AWS_PROFILE` and `_HANDLER`; HIGH_NOON in prose is fine.\n"
    problems = unknown_names(doc, text, known={"SEVERITY_THRESHOLD", "DRY_RUN"})
    assert len(problems) == 1 and "SEVERITY_TRESHOLD" in problems[0], problems


def test_a_missing_path_is_reported(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "policy.rs").write_text("")
    (tmp_path / "template.yaml").write_text("")
    doc = tmp_path / "doc.md"
    text = ("`src/policy.rs`, `src/nothing_here.rs`, `template.yaml`, `membr.yaml`, "
            "`tests/e2e/*.py` and `target/release/x` (not checked).\n")
    problems = missing_paths(doc, text, root=tmp_path)
    assert len(problems) == 2, problems
    assert "src/nothing_here.rs" in problems[0] and "membr.yaml" in problems[1]


def test_a_test_that_does_not_exist_is_reported(tmp_path):
    (tmp_path / "tests" / "e2e").mkdir(parents=True)
    (tmp_path / "tests" / "adapters.rs").write_text("#[tokio::test]\nasync fn throttled_twice_then_success_is_retried() {}\n")
    (tmp_path / "tests" / "e2e" / "test_pipeline.py").write_text("def test_a_malformed_event_is_rejected(stack):\n    pass\n")
    doc = tmp_path / "doc.md"
    text = ("`adapters::throttled_twice_then_success…`, `…twice_then…`, `test_a_malformed_event…`, "
            "`aws::ecr`, `test_pipeline.py`, `event::parse` (not tests);\n"
            "`adapters::renamed_long_ago`, `test_gone_test`, `…nowhere…`\n")
    problems = missing_tests(doc, text, root=tmp_path)
    assert len(problems) == 3, problems
    assert "renamed_long_ago" in problems[0] and ":2:" in problems[0]
    assert "test_gone_test" in problems[1] and "nowhere" in problems[2]


def test_a_long_readme_is_reported():
    assert too_long("line\n" * 200, 200) == []
    assert too_long("line\n" * 201, 200) == ["README.md has 201 lines, more than 200"]
