"""The offline validators in harness/schemas.py, and proof that each can fail:
a minimal valid document passes and a broken copy is rejected with a message
that names the place. No local stack is needed."""

import copy

from harness.schemas import junit_errors, lint_action, lint_ci_file, lint_workflow, sarif_errors

SARIF = {
    "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
    "version": "2.1.0",
    "runs": [{
        "tool": {"driver": {"name": "ecr-scan-gate", "rules": [{"id": "CVE-2024-0001"}]}},
        "results": [{
            "ruleId": "CVE-2024-0001",
            "level": "error",
            "message": {"text": "openssl 3.0.1: CVE-2024-0001 (CRITICAL)"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "team/web"}}}],
        }],
    }],
}

JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="ecr-scan-gate" tests="2" failures="1" errors="0" time="0.012">
  <testsuite name="team/web:latest" tests="2" failures="1" errors="0" skipped="0" time="0.012">
    <properties><property name="digest" value="sha256:0123"/></properties>
    <testcase name="CVE-2024-0001" classname="openssl">
      <failure type="CRITICAL" message="openssl 3.0.1">fixed in 3.0.2</failure>
    </testcase>
    <testcase name="CVE-2024-0002" classname="zlib"/>
  </testsuite>
</testsuites>
"""

ACTION = """name: ecr-scan-gate
description: Fail the job when an image has findings at or above a severity
inputs:
  image:
    description: repository:tag
    required: true
runs:
  using: composite
  steps:
    - run: ecr-scan-gate --image "${{ inputs.image }}"
      shell: bash
"""

WORKFLOW = """name: scan
on: [push]
jobs:
  gate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo ok
"""


def test_minimal_sarif_is_valid():
    assert sarif_errors(SARIF) == []


def test_sarif_with_an_unknown_level_or_no_driver_name_is_rejected():
    bad = copy.deepcopy(SARIF)
    bad["runs"][0]["results"][0]["level"] = "severe"
    del bad["runs"][0]["tool"]["driver"]["name"]
    problems = sarif_errors(bad)
    assert any(p.startswith("/runs/0/results/0/level: 'severe' is not one of") for p in problems), problems
    assert "/runs/0/tool/driver: 'name' is a required property" in problems, problems


def test_sarif_of_another_version_or_without_message_text_is_rejected():
    bad = copy.deepcopy(SARIF)
    bad["version"] = "2.0.0"
    bad["runs"][0]["results"][0]["message"] = {}
    problems = sarif_errors(bad)
    assert any(p.startswith("/version: ") for p in problems), problems
    assert any(p.startswith("/runs/0/results/0/message: ") and "'text' is a required property" in p
               for p in problems), problems


def test_minimal_junit_is_valid():
    assert junit_errors(JUNIT) == []
    assert junit_errors(JUNIT.encode()) == []


def test_junit_with_missing_counts_or_an_unknown_element_is_rejected():
    bad = JUNIT.replace('tests="2" failures="1" errors="0" skipped', 'tests="2" skipped')
    bad = bad.replace("<failure ", "<failed ").replace("</failure>", "</failed>")
    problems = junit_errors(bad)
    assert any("missing required attribute 'failures'" in p for p in problems), problems
    assert any(p.startswith("/testsuites/testsuite/testcase[1]: ") and "'failed'" in p for p in problems), problems


def test_junit_time_has_at_most_three_decimals_and_the_xml_must_be_well_formed():
    problems = junit_errors(JUNIT.replace('time="0.012"', 'time="0.0123"'))
    assert any("time='0.0123'" in p for p in problems), problems
    assert junit_errors("<testsuites><testsuite")[0].startswith("not well-formed XML")


def test_minimal_action_and_workflow_are_valid(tmp_path):
    action, workflow = tmp_path / "action.yml", tmp_path / "scan.yml"
    action.write_text(ACTION)
    workflow.write_text(WORKFLOW)
    assert lint_action(action) == []
    assert lint_workflow(workflow) == []


def test_action_without_runs_and_broken_yaml_are_rejected(tmp_path):
    action = tmp_path / "action.yml"
    action.write_text(ACTION.split("runs:")[0])
    assert lint_action(action) == ["$: 'runs' is a required property"]
    action.write_text("name: x\n  runs: [\n")
    problems = lint_action(action)
    assert len(problems) == 1 and problems[0].startswith("cannot parse"), problems


def test_gitlab_ci_is_checked_too(tmp_path):
    ci = tmp_path / ".gitlab-ci.yml"
    ci.write_text("gate:\n  image: rust:1\n  script: [cargo test]\n")
    assert lint_ci_file(ci, "gitlab-ci") == []
    ci.write_text("gate:\n  script: 1\n")
    problems = lint_ci_file(ci, "vendor.gitlab-ci")
    assert any(p.startswith("$.gate.script: ") for p in problems), problems
