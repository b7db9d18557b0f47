"""The CloudWatch dashboard and the metrics catalog it is built from.

- template.yaml's dashboard is what tools/dashboard.py makes of
  metrics.json (a hand edit, or a catalog changed without regenerating,
  fails);
- every metric the dashboard names is in the catalog with the stack's
  namespace and a dimension set the functions always emit, whatever the
  parameters; broken copies (a metric nobody emits, a dimension it never
  has, another namespace) are rejected;
- every catalog metric is one the code emits: its name and dimension keys
  are in the emitting code, and what the code names is in the catalog
  (the unit tests of src/pipeline/metrics.rs hold each line the code
  prints to the catalog, and tests/e2e/test_metrics.py the lines of real
  invocations);
- docs/operations.md lists every metric with its dimensions.
"""

import copy
import importlib.util
import json
import re
import subprocess
import sys

import pytest

from cfn_template import CATALOG, ROOT, TEMPLATE, Resolved, dashboard_metrics, dashboard_problems, metrics_catalog

spec = importlib.util.spec_from_file_location("dashboard", ROOT / "tools" / "dashboard.py")
dashboard = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dashboard)

RESOURCE = "MetricsDashboard"


def body_of(resolved):
    return json.loads(resolved.resources[RESOURCE]["Properties"]["DashboardBody"])


def widget(body, title):
    return next(w["properties"] for w in body["widgets"] if w["properties"].get("title") == title)


# -- generated from the catalog --------------------------------------------------

def test_the_template_has_the_dashboard_the_catalog_makes():
    assert dashboard.check() == []
    done = subprocess.run([sys.executable, "tools/dashboard.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_stale_dashboard_fails_the_check(tmp_path):
    text = TEMPLATE.read_text()
    edited = tmp_path / "edited.yaml"
    edited.write_text(text.replace('"period": 86400', '"period": 3600', 1))
    assert dashboard.check(edited) != []
    # The catalog changed (a severity the alerts no longer carry) and the
    # template was not regenerated.
    catalog = json.loads(CATALOG.read_text())
    alerts = next(m for m in catalog["metrics"] if m["name"] == "Alerts")
    alerts["values"]["Severity"].remove("INFORMATIONAL")
    changed = tmp_path / "metrics.json"
    changed.write_text(json.dumps(catalog))
    assert dashboard.check(TEMPLATE, changed) != []
    done = subprocess.run([sys.executable, "tools/dashboard.py", "--check", "--catalog", str(changed)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "tools/dashboard.py" in done.stderr, done.stderr
    # Regenerating makes it current again.
    regenerated = tmp_path / "template.yaml"
    regenerated.write_text(text)
    dashboard.write(regenerated, changed)
    assert dashboard.check(regenerated, changed) == []
    unmarked = tmp_path / "unmarked.yaml"
    unmarked.write_text(text.replace(dashboard.BEGIN, "  # the marker went missing"))
    assert "no generated dashboard block" in dashboard.check(unmarked)[0]


def test_the_generator_names_nothing_the_catalog_lacks():
    catalog = dashboard.load_catalog()
    with pytest.raises(dashboard.CatalogError, match="not in metrics.json"):
        dashboard.metric(catalog, "Errors")
    with pytest.raises(dashboard.CatalogError, match="never emitted by"):
        dashboard.metric(catalog, "Failures", {"Repository": "team/api"})
    with pytest.raises(dashboard.CatalogError, match="is not among"):
        dashboard.metric(catalog, "OpenFindings", {"Severity": "INFORMATIONAL"})


# -- what the dashboard names ------------------------------------------------------

@pytest.mark.parametrize("params", [{}, {"MetricsNamespace": "Team/Scans"}, {"MetricsRepositoryDimension": "true"},
                                    {"DigestSchedule": "none", "OnlyNewFindings": "false"}],
                         ids=["defaults", "namespace", "repository dimension", "no digest, no dedup"])
def test_every_metric_the_dashboard_names_is_one_the_functions_emit(template, params):
    resolved = Resolved(template, **params)
    assert dashboard_problems(resolved) == []
    named = {(name, tuple(sorted(dims))) for _, namespace, name, dims in dashboard_metrics(body_of(resolved))}
    assert {namespace for _, namespace, _, _ in dashboard_metrics(body_of(resolved))} == {
        resolved.params["MetricsNamespace"]}
    assert named == {
        ("Alerts", ("AlertKind", "Severity")),
        ("Failures", ()), ("TransientFailures", ()),
        ("BatchSize", ()), ("BatchImages", ()), ("BatchItemFailures", ()),
        ("OpenFindings", ("Severity",)), ("OverdueFindings", ("Severity",)),
    }


def test_the_widgets_show_what_issue_30_asks(template):
    body = body_of(Resolved(template))
    catalog = metrics_catalog()
    kinds, severities = catalog["Alerts"]["values"]["AlertKind"], catalog["Alerts"]["values"]["Severity"]
    # Alerts per day by kind and by severity: each series sums every
    # kind-and-severity pair of its kind (or severity), and no pair is left out.
    for title, labels in (("Alerts published per day, by kind", kinds),
                          ("Alerts published per day, by severity", severities)):
        graph = widget(body, title)
        assert graph["period"] == 86400 and graph["stat"] == "Sum"
        pairs = {(d["AlertKind"], d["Severity"]) for t, _, _, d in dashboard_metrics(body) if t == title}
        assert pairs == {(k, s) for k in kinds for s in severities}
        sums = [item for row in graph["metrics"] for item in row if "expression" in item]
        assert [s["label"] for s in sums] == labels
        summed = sorted(i for s in sums for i in re.findall(r"[a-z][a-z0-9_]*", s["expression"]))
        hidden = sorted(item["id"] for row in graph["metrics"] for item in row
                        if isinstance(item, dict) and item.get("visible") is False)
        assert summed == hidden, "every pair counted once"
    failures = widget(body, "Failures per hour")
    assert [row[1] for row in failures["metrics"]] == ["Failures", "TransientFailures"]
    storms = widget(body, "Storm alerts per day")
    assert {row[3] for row in storms["metrics"] if len(row) > 2} == {"storm"}
    assert {row[1] for row in widget(body, "Batches of finding events")["metrics"]} == {
        "BatchSize", "BatchImages", "BatchItemFailures"}
    for gauge in ("OpenFindings", "OverdueFindings"):
        graph = next(w["properties"] for w in body["widgets"] if w["properties"].get("metrics", [[None, None]])[0][1] == gauge)
        assert [row[3] for row in graph["metrics"]] == ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
        assert graph["stat"] == "Maximum" and graph["period"] == 86400
    # Nothing overlaps on the 24-column grid.
    cells = set()
    for w in body["widgets"]:
        assert w["x"] + w["width"] <= 24
        spots = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
        assert not cells & spots, w
        cells |= spots


def test_the_dashboard_is_on_by_default_and_its_parameter_or_no_metrics_leave_it_out(template):
    on = Resolved(template)
    assert on.resources[RESOURCE]["Properties"]["DashboardName"] == "ecr-scan-alerts-us-east-1"
    assert on.outputs["DashboardName"]["Value"] == {"Ref": RESOURCE}
    for params in ({"Dashboard": "false"}, {"Metrics": "false"}):
        off = Resolved(template, **params)
        assert RESOURCE not in off.resources and "DashboardName" not in off.outputs
    # The parameter is in the console's Operations group.
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert "Dashboard" in next(g for g in groups if g["Label"]["default"] == "Operations")["Parameters"]


# -- broken copies -----------------------------------------------------------------

def edit_body(template, change):
    broken = copy.deepcopy(template)
    props = broken["Resources"][RESOURCE]["Properties"]
    body = json.loads(props["DashboardBody"]["Fn::Sub"])
    change(body)
    props["DashboardBody"]["Fn::Sub"] = json.dumps(body)
    return broken


def rows(body, name):
    return [row for w in body["widgets"] for row in w["properties"].get("metrics", []) if name in row]


def nobody_emits(body):
    rows(body, "Failures")[0][1] = "Errors"


def dimension_it_never_has(body):
    rows(body, "TransientFailures")[0][2:2] = ["Repository", "team/api"]


def literal_namespace(body):
    rows(body, "BatchSize")[0][0] = "EcrScanAlerts"


def severity_the_gauges_never_have(body):
    rows(body, "OpenFindings")[0][3] = "INFORMATIONAL"


def expression_outside_its_widget(body):
    storms = next(w for w in body["widgets"] if w["properties"].get("title") == "Storm alerts per day")
    storms["properties"]["metrics"][-1][0]["expression"] = "SUM([a_findings_critical])"


BREAKAGES = [nobody_emits, dimension_it_never_has, literal_namespace, severity_the_gauges_never_have,
             expression_outside_its_widget]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda f: f.__name__)
def test_a_broken_dashboard_is_rejected(template, breakage):
    broken = edit_body(template, breakage)
    # Another namespace than the default shows a namespace written as a literal.
    assert dashboard_problems(Resolved(broken, MetricsNamespace="Team/Scans")) != []
    assert dashboard_problems(Resolved(template, MetricsNamespace="Team/Scans")) == []


# -- the catalog and the code --------------------------------------------------------

TEST_MODULE = re.compile(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{")
STRING = re.compile(r'r(#*)".*?"\1|"(?:\\.|[^"\\])*"', re.S)


def without_tests(text):
    """Rust source without its `#[cfg(test)] mod … { … }` blocks."""
    while (m := TEST_MODULE.search(text)) is not None:
        depth, i = 1, m.end()
        while depth and i < len(text):
            string = STRING.match(text, i)
            if string:
                i = string.end()
                continue
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        text = text[:m.start()] + text[i:]
    return text


def rust_code():
    """{path: non-test source} of the crate."""
    return {path.relative_to(ROOT).as_posix(): without_tests(path.read_text())
            for path in sorted((ROOT / "src").rglob("*.rs")) if path.name != "tests.rs"}


def test_test_modules_are_left_out_of_the_code_read():
    code = "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() { let s = \"}\"; let r = r#\"{\"#; }\n}\nfn c() {}\n"
    assert without_tests(code) == "fn a() {}\n\nfn c() {}\n"


def test_every_catalogued_metric_and_dimension_is_in_the_emitting_code():
    code = rust_code()
    everything = "\n".join(code.values())
    emitters = code["src/pipeline/metrics.rs"]
    catalog = json.loads(CATALOG.read_text())
    missing = []
    for entry in catalog["metrics"]:
        if f'"{entry["name"]}"' not in everything:
            missing.append(f"{entry['name']}: no such literal in the crate's code")
        sets = entry["dimensions"] + [s for sets in entry.get("opt_in", {}).values() for s in sets]
        for key in {k for s in sets for k in s}:
            if f'"{key}"' not in emitters:
                missing.append(f"{entry['name']}: dimension {key} is not in src/pipeline/metrics.rs")
        for switch in entry.get("opt_in", {}):
            if f'"{switch}"' not in code["src/config.rs"]:
                missing.append(f"{entry['name']}: {switch} is not a setting of src/config.rs")
    assert missing == []
    assert catalog["namespace"]["default"] == re.search(r'DEFAULT_METRICS_NAMESPACE: &str = "([^"]+)"',
                                                        code["src/config.rs"]).group(1)


def test_every_metric_the_code_names_is_catalogued():
    code = rust_code()
    catalog = metrics_catalog()
    named = set()
    for text in code.values():
        named.update(re.findall(r'emit_count\(\s*"(\w+)"', text))
    named.update(re.findall(r'"Name":\s*"(\w+)"', code["src/pipeline/metrics.rs"]))
    named.update(re.findall(r'\("(\w+)",\s*Severity::', code["src/pipeline/metrics.rs"]))
    assert {"DigestsPublished", "Alerts", "BatchSize", "FindingsCritical", "OpenFindings"} <= named
    assert named - set(catalog) == set()


def test_the_catalogued_values_are_the_codes():
    alert = (ROOT / "src" / "domain" / "alert.rs").read_text()
    severity = (ROOT / "src" / "domain" / "severity.rs").read_text()
    kinds = re.findall(r'AlertKind::\w+ => "(\w+)"', alert)
    severities = set(re.findall(r'Severity::\w+ => "(\w+)"', severity))
    catalog = metrics_catalog()
    assert catalog["Alerts"]["values"]["AlertKind"] == kinds
    for name, entry in catalog.items():
        for value in entry.get("values", {}).get("Severity", []):
            assert value in severities | {"NONE"}, (name, value)


def test_the_operations_guide_lists_every_metric_with_its_dimensions():
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) >= 2 and cells[0].startswith("`"):
            table[cells[0].strip("`")] = cells[1]
    catalog = metrics_catalog()
    assert sorted(table) == sorted(catalog)
    for name, entry in catalog.items():
        keys = {k for s in entry["dimensions"] + [s for ss in entry.get("opt_in", {}).values() for s in ss] for k in s}
        for key in keys | set(entry.get("opt_in", {})):
            assert key in table[name], f"docs/operations.md: {name} should name {key}"
