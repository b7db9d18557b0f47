"""Builds the stack's CloudWatch dashboard from the metrics catalog.

metrics.json names every metric the functions emit, with its dimension
sets; this script lays the dashboard's widgets out on those metrics and
writes the `MetricsDashboard` resource into template.yaml, between the two
marker lines of its generated block:

    python tools/dashboard.py            # rewrite the block
    python tools/dashboard.py --check    # exit 1 when the block is stale

The body is a JSON document (CloudWatch API Reference, "Dashboard Body
Structure and Syntax") inside `Fn::Sub`, so that `${MetricsNamespace}` and
`${AWS::Region}` resolve when the stack is deployed. A widget may only name a
metric of the catalog with one of the dimension sets it is always emitted
with (never one a switch such as METRICS_REPOSITORY_DIMENSION adds), and
only dimension values the catalog lists: anything else is an error here,
before it reaches the template. Standard library only.
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "metrics.json"
TEMPLATE = ROOT / "template.yaml"

BEGIN = "  # ---- BEGIN generated dashboard: tools/dashboard.py from metrics.json; do not edit by hand ----"
END = "  # ---- END generated dashboard ----"

# Resolved by Fn::Sub when the stack deploys; nothing else in the body may
# look like a substitution.
NAMESPACE = "${MetricsNamespace}"
REGION = "${AWS::Region}"
SUBSTITUTIONS = {"MetricsNamespace", "AWS::Region", "AWS::StackName"}

DAY = 86400
HOUR = 3600
# What the dashboard opens on: four weeks, each graph at its own period.
START = "-P28D"
COUNT_AXIS = {"left": {"min": 0, "showUnits": False}}


class CatalogError(ValueError):
    """A widget names what the catalog does not have."""


def load_catalog(path=CATALOG):
    """The catalog's metrics by name."""
    catalog = json.loads(Path(path).read_text())
    return {entry["name"]: entry for entry in catalog["metrics"]}


def metric(catalog, name, dimensions=None, **rendering):
    """One entry of a widget's `metrics` array: namespace, name, then each
    dimension's name and value, then the rendering properties."""
    dimensions = dimensions or {}
    entry = catalog.get(name)
    if entry is None:
        raise CatalogError(f"{name} is not in metrics.json")
    if sorted(dimensions) not in [sorted(s) for s in entry["dimensions"]]:
        raise CatalogError(f"{name} is never emitted by {sorted(dimensions)} alone "
                           f"(metrics.json: {entry['dimensions']})")
    for key, value in dimensions.items():
        listed = entry.get("values", {}).get(key)
        if listed is not None and value not in listed:
            raise CatalogError(f"{name}: {key} {value!r} is not among {listed}")
    row = [NAMESPACE, name]
    for key in next(s for s in entry["dimensions"] if sorted(s) == sorted(dimensions)):
        row += [key, dimensions[key]]
    if rendering:
        row.append(rendering)
    return row


def values(catalog, name, key):
    return catalog[name]["values"][key]


def metric_id(*parts):
    """An id metric math can refer to: lower case, letters, digits, _."""
    return "_".join(re.sub(r"[^a-z0-9]", "", str(p).lower()) for p in parts)


def graph(title, metrics, period, stat, x, y, width=12, height=6, **extra):
    return {
        "type": "metric", "x": x, "y": y, "width": width, "height": height,
        "properties": {
            "title": title, "region": REGION, "view": "timeSeries", "period": period, "stat": stat,
            "metrics": metrics, "yAxis": COUNT_AXIS, **extra,
        },
    }


def alerts_by(catalog, group, x, y):
    """Alerts published per day, one series per kind (`group` AlertKind) or
    per severity (Severity): the sum of the kind-and-severity pairs,
    which are the metrics the functions emit."""
    kinds, severities = values(catalog, "Alerts", "AlertKind"), values(catalog, "Alerts", "Severity")
    raw = [metric(catalog, "Alerts", {"AlertKind": k, "Severity": s}, id=metric_id("a", k, s), visible=False)
           for k in kinds for s in severities]
    groups = kinds if group == "AlertKind" else severities
    sums = []
    for value in groups:
        ids = [metric_id("a", k, s) for k in kinds for s in severities
               if (k if group == "AlertKind" else s) == value]
        sums.append([{"expression": f"SUM([{', '.join(ids)}])", "label": value, "id": metric_id("by", value)}])
    title = "Alerts published per day, by kind" if group == "AlertKind" else "Alerts published per day, by severity"
    return graph(title, raw + sums, DAY, "Sum", x, y, stacked=True)


def widgets(catalog):
    storm_ids = [metric_id("a", "storm", s) for s in values(catalog, "Alerts", "Severity")]
    storms = [metric(catalog, "Alerts", {"AlertKind": "storm", "Severity": s}, id=i, visible=False)
              for s, i in zip(values(catalog, "Alerts", "Severity"), storm_ids)]
    storms.append([{"expression": f"SUM([{', '.join(storm_ids)}])", "label": "Storm alerts", "id": "storms"}])

    def gauges(name, title, x, y):
        return graph(title, [metric(catalog, name, {"Severity": s}, label=s) for s in values(catalog, name, "Severity")],
                     DAY, "Maximum", x, y)

    return [
        {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": (
            "## ${AWS::StackName}: alerts, failures, batches, posture\n"
            "Metrics of namespace `${MetricsNamespace}`, from the functions' Embedded Metric Format lines. "
            "What each graph shows: docs/operations.md, Dashboard.")}},
        alerts_by(catalog, "AlertKind", 0, 2),
        alerts_by(catalog, "Severity", 12, 2),
        graph("Failures per hour", [
            metric(catalog, "Failures", label="Failures"),
            metric(catalog, "TransientFailures", label="Transient failures (a retry may cure them)"),
        ], HOUR, "Sum", 0, 8, width=8),
        graph("Batches of finding events", [
            metric(catalog, "BatchSize", label="Messages per batch (largest)", stat="Maximum"),
            metric(catalog, "BatchSize", label="Messages per batch (average)", stat="Average"),
            metric(catalog, "BatchImages", label="Images per batch (average)", stat="Average"),
            metric(catalog, "BatchItemFailures", label="Messages handed back (sum)", stat="Sum"),
        ], HOUR, "Average", 8, 8, width=8),
        graph("Storm alerts per day", storms, DAY, "Sum", 16, 8, width=8),
        gauges("OpenFindings", "Open findings by severity (each digest run)", 0, 14),
        gauges("OverdueFindings", "Overdue findings by severity (each digest run)", 12, 14),
    ]


def body(catalog):
    return {"start": START, "periodOverride": "inherit", "widgets": widgets(catalog)}


def is_row(value):
    """A list of scalars, perhaps ending in a flat object: a metric, or a
    math expression, which reads best on one line."""
    return isinstance(value, list) and all(
        not isinstance(v, (dict, list)) or isinstance(v, dict) and not any(isinstance(w, (dict, list)) for w in v.values())
        for v in value)


def dump(value, indent=0, lead=0, width=100):
    """JSON with one line per item, except what fits on its line (`lead`:
    what the line holds before it) and rows (`is_row`): each metric on a
    line of its own, so that the generated block diffs well."""
    flat = json.dumps(value, separators=(", ", ": "))
    if not isinstance(value, (dict, list)) or is_row(value) or indent + lead + len(flat) <= width:
        return flat
    inner = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {dump(v, indent + 2, len(json.dumps(k)) + 2, width)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [inner + dump(v, indent + 2, 0, width) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def block(catalog):
    """The template's generated block: the resource, between the markers."""
    text = dump(body(catalog))
    unknown = set(re.findall(r"\$\{([^}]*)\}", text)) - SUBSTITUTIONS
    if unknown:
        raise CatalogError(f"the body would substitute {sorted(unknown)}")
    lines = [
        BEGIN,
        "  # Alerts by kind and severity, failures, batches of finding events, storm",
        "  # alerts, and the digest's posture gauges (docs/operations.md, Dashboard).",
        "  MetricsDashboard:",
        "    Type: AWS::CloudWatch::Dashboard",
        "    Condition: DashboardOn",
        "    Properties:",
        "      # Dashboards are global: the region keeps two regions' stacks apart.",
        '      DashboardName: !Sub "${AWS::StackName}-${AWS::Region}"',
        "      DashboardBody: !Sub |",
    ]
    lines += [" " * 8 + line for line in text.splitlines()]
    lines.append(END)
    return "\n".join(lines) + "\n"


def current_block(template_text):
    """The block as the template has it, markers included; None without markers."""
    start, end = template_text.find(BEGIN + "\n"), template_text.find(END + "\n")
    if start < 0 or end < start:
        return None
    return template_text[start:end + len(END) + 1]


def check(template=TEMPLATE, catalog=CATALOG):
    """What is wrong with the template's block: [] when it is what the
    catalog makes."""
    text = Path(template).read_text()
    found = current_block(text)
    if found is None:
        return [f"{Path(template).name} has no generated dashboard block (markers {BEGIN.strip()!r} ... "
                f"{END.strip()!r})"]
    if found != block(load_catalog(catalog)):
        return [f"the dashboard in {Path(template).name} is not what {Path(catalog).name} makes: "
                "run python tools/dashboard.py"]
    return []


def write(template=TEMPLATE, catalog=CATALOG):
    text = Path(template).read_text()
    found = current_block(text)
    if found is None:
        raise SystemExit(check(template, catalog)[0])
    Path(template).write_text(text.replace(found, block(load_catalog(catalog))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when template.yaml's dashboard is stale")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.template, args.catalog)
            for problem in problems:
                print(problem, file=sys.stderr)
            return 1 if problems else 0
        write(args.template, args.catalog)
    except CatalogError as error:
        print(f"metrics.json: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
