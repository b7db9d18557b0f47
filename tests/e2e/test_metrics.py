"""Layer 3: the metrics a real run prints. The three functions (scan events,
finding batches with a CVE storm, the digest) run on the local stack with
metrics on, and every Embedded Metric Format line they print is checked
against metrics.json, the catalog the template's dashboard is built from:
each metric is catalogued, with its unit, the function that printed it and
one of its dimension sets (a switch's only where the switch is on). The run
also prints each metric the dashboard graphs, and one `Alerts` line per
alert that reached the alert topic, with its kind and severity."""

import collections
import importlib.util
import json

import pytest

from harness.local import ROOT
from harness.seed import basic_finding, dedup_table, event_for, finding_event, received_alerts, scanned_image, sqs_batch

CATALOG = {m["name"]: m for m in json.loads((ROOT / "metrics.json").read_text())["metrics"]}
NAMESPACE = "EcrScanAlerts"
STORM_THRESHOLD = 3


def dashboard_module():
    spec = importlib.util.spec_from_file_location("dashboard", ROOT / "tools" / "dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def emf_lines(process):
    """The EMF lines of a function's log (stdout and stderr, as Lambda
    sends both to CloudWatch Logs)."""
    return [json.loads(line) for line in process.log_path.read_text().splitlines()
            if line.startswith("{") and '"_aws"' in line]


def catalog_problems(line, function, switches):
    """What in one EMF line the catalog does not have."""
    problems = []
    for directive in line["_aws"]["CloudWatchMetrics"]:
        if directive["Namespace"] != NAMESPACE:
            problems.append(f"namespace {directive['Namespace']}")
        for metric in directive["Metrics"]:
            name = metric["Name"]
            entry = CATALOG.get(name)
            if entry is None:
                problems.append(f"{name}: not in metrics.json")
                continue
            if metric.get("Unit") != entry["unit"] or not isinstance(line.get(name), (int, float)):
                problems.append(f"{name}: unit {metric.get('Unit')}, value {line.get(name)!r}")
            if function not in entry["functions"]:
                problems.append(f"{name}: printed by {function}, metrics.json says {entry['functions']}")
            allowed = entry["dimensions"] + [s for switch in switches for s in entry.get("opt_in", {}).get(switch, [])]
            for dimensions in directive["Dimensions"]:
                if dimensions not in allowed:
                    problems.append(f"{name} by {dimensions}: metrics.json has {allowed}")
                for key in dimensions:
                    listed = entry.get("values", {}).get(key)
                    if not isinstance(line.get(key), str) or (listed is not None and line[key] not in listed):
                        problems.append(f"{name}: {key} {line.get(key)!r}")
    return problems


@pytest.fixture(scope="module")
def run(stack):
    """Every function once or more, with metrics on (the default); the
    digest with the owner dimension on. Returns the EMF lines by function,
    the alerts the alert topic received and the switches each ran with."""
    table = dedup_table(stack, "scan-alerts-metrics")
    stack.start_function(DEDUP_TABLE_NAME=table, STORM_TABLE_NAME=table, STORM_THRESHOLD=str(STORM_THRESHOLD))
    received_alerts(stack, stack.queue_url, wait_seconds=0)
    try:
        # A scan event with an alert, a failed scan, an event that cannot be
        # read, and one ECR cannot answer for (transient).
        digest = scanned_image(stack, "demo/web", "metrics-run", basic=[basic_finding("CVE-2026-97001", "CRITICAL")])
        event = event_for("basic-scan-complete.json", digest)
        event["detail"]["image-tags"] = ["metrics-run"]
        assert stack.invoke(event)[0]
        failed = scanned_image(stack, "demo/legacy", "metrics-run", status="FAILED",
                               description="UnsupportedImageError: not supported.")
        assert stack.invoke(event_for("basic-scan-failed.json", failed))[0]
        ok, error = stack.invoke({"source": "aws.ecr", "detail-type": "ECR Image Scan", "detail": {}})
        assert not ok and error["errorType"] == "InvalidEvent", error
        down = scanned_image(stack, "demo/web", "metrics-down", basic=[basic_finding("CVE-2026-97002", "HIGH")])
        stack.proxy.down = True
        try:
            ok, error = stack.invoke(event_for("basic-scan-complete.json", down))
        finally:
            stack.proxy.down = False
        assert not ok and error["errorType"].startswith("Transient."), error
        # A batch of finding events: a storm past the threshold, and one
        # unreadable message.
        storm = [finding_event(f"metrics/svc-{i % 2}", f"sha256:{9700 + i:064x}", "CVE-2026-97003", "CRITICAL",
                               package="glibc", version="2.36") for i in range(STORM_THRESHOLD + 2)]
        ok, response = stack.invoke(sqs_batch(storm + ["not json"]))
        assert ok and len(response["batchItemFailures"]) == 1, response
        # The digest, with the posture gauges per owner too.
        port = stack.start_digest(METRICS_OWNER_DIMENSION="true")
        ok, result = stack.invoke_at(port, {"digest": "scheduled"}, timeout=120)
        assert ok, result
        digest_process = stack.consumers[-1][1]
        lines = {
            "scan-events": emf_lines(stack.function),
            "finding-batches": emf_lines(stack.findings_function),
            "digest": emf_lines(digest_process),
        }
        alerts = received_alerts(stack, stack.queue_url)
    finally:
        stack.start_function()
    return {"lines": lines, "alerts": alerts,
            "switches": {"scan-events": [], "finding-batches": [], "digest": ["METRICS_OWNER_DIMENSION"]}}


def test_every_line_a_real_run_prints_is_in_the_catalog(run):
    problems = []
    for function, lines in run["lines"].items():
        assert lines, f"{function} printed no metrics"
        for line in lines:
            problems += [f"{function}: {p}" for p in catalog_problems(line, function, run["switches"][function])]
    assert problems == []


def test_the_run_prints_every_metric_the_dashboard_graphs(run):
    dashboard = dashboard_module()
    graphed = {(row[1], tuple(row[2:-1:2] if isinstance(row[-1], dict) else row[2::2]))
               for widget in dashboard.widgets(dashboard.load_catalog())
               for row in widget["properties"].get("metrics", []) if not isinstance(row[0], dict)}
    printed = {(m["Name"], tuple(dimensions))
               for lines in run["lines"].values() for line in lines
               for directive in line["_aws"]["CloudWatchMetrics"]
               for m in directive["Metrics"] for dimensions in directive["Dimensions"]}
    assert graphed - printed == set()
    by_name = collections.defaultdict(int)
    for lines in run["lines"].values():
        for line in lines:
            for name in ("Failures", "TransientFailures", "BatchSize", "BatchItemFailures"):
                by_name[name] += line.get(name, 0)
    assert by_name == {"Failures": 2, "TransientFailures": 1, "BatchSize": STORM_THRESHOLD + 3,
                       "BatchItemFailures": 1}


def test_one_alerts_line_per_alert_that_went_out_with_its_kind_and_severity(run):
    received = collections.Counter((a["attributes"]["alert_kind"], a["attributes"]["severity"]) for a in run["alerts"])
    counted = collections.Counter((line["AlertKind"], line["Severity"]) for lines in run["lines"].values()
                                  for line in lines if "Alerts" in line for _ in range(line["Alerts"]))
    assert counted == received
    assert {kind for kind, _ in counted} == {"findings", "scan_failed", "storm", "digest"}
    # The digest counts its alerts; the posture gauges come once per
    # severity, and once per owner and severity with the switch.
    digest = run["lines"]["digest"]
    gauges = [line for line in digest if "OpenFindings" in line]
    owners = {line["Owner"] for line in gauges if "Owner" in line}
    assert len(gauges) == 4 * (1 + len(owners)) and owners
