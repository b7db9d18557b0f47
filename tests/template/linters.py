"""The template linters, run as the README's `make check-template` runs them:
cfn-lint with the serverless rules, `sam validate --lint` (both from
.venv-iac) and checkov (from .venv-checkov: it pins a boto3 that SAM CLI
cannot share)."""

import json
import os
import subprocess
from pathlib import Path

from cfn_template import REGION, ROOT, Resolved, dump_json

IAC_BIN = ROOT / ".venv-iac" / "bin"
CHECKOV_BIN = ROOT / ".venv-checkov" / "bin"

# Nothing here talks to AWS: no credentials, no telemetry.
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "SAM_CLI_TELEMETRY": "0",
}


def tool(path):
    if not path.exists():
        raise RuntimeError(f"{path.relative_to(ROOT)} is missing: run `make setup`")
    return str(path)


def run(args, timeout=300):
    done = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def cfn_lint(path):
    """Exit 0 only without errors and warnings."""
    return run([tool(IAC_BIN / "cfn-lint"), "--append-rules", "cfn_lint_serverless.rules", "--", str(path)])


def sam_validate(path):
    return run([tool(IAC_BIN / "sam"), "validate", "--lint", "--template-file", str(path)])


def checkov(path):
    """checkov's results for one template: {"passed": [...], "failed": [...],
    "skipped": [...]}, each a list of check dicts."""
    rc, out = run([tool(CHECKOV_BIN / "checkov"), "--skip-download", "--framework", "cloudformation",
                   "--output", "json", "--file", str(path)])
    start = out.find("{")
    if start < 0:
        raise AssertionError(f"checkov printed no JSON (exit {rc}):\n{out}")
    report, _ = json.JSONDecoder().raw_decode(out[start:])
    results = report.get("results", {})
    return {kind: results.get(f"{kind}_checks", []) for kind in ("passed", "failed", "skipped")}


def rendered(template, path, **params):
    """checkov neither expands Fn::ForEach nor evaluates Fn::If, so it would
    not see the repositories at all, nor know they are IMMUTABLE by default.
    This writes what CloudFormation would deploy for these parameters (loop
    expanded, conditions applied, parameters substituted), for checkov to
    read; Metadata, and so the checkov skips, come along."""
    resolved = Resolved(template, **params)
    resources = {name: {k: v for k, v in resource.items() if k != "Condition"}
                 for name, resource in resolved.resources.items()}
    return dump_json({
        "AWSTemplateFormatVersion": template["AWSTemplateFormatVersion"],
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": resources,
    }, path)


def summary(checks):
    return [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in checks]
