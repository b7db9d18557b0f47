"""Layer 3: ecr-scan-gate as a CI tool, against the local stack: the report
formats CI systems read (each validated against its published schema,
vendored under tests/schemas/), several outputs in one run, the job
summary, the posture report's CSV, severity budgets, --start-scan and
--max-age."""

import csv
import datetime
import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from harness.local import AWS_ENV, built_binary
from harness.schemas import junit_errors, sarif_errors
from harness.seed import (basic_finding, enhanced_finding, ensure_repository, push_image, scanned_image,
                          scanned_long_ago, store_scan)


def run_gate(stack, *args, env=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECR_SCAN_GATE_", "GITHUB_"))}
    full_env = {**base, **AWS_ENV, "AWS_ENDPOINT_URL": stack.endpoint_url, **(env or {})}
    return subprocess.run([str(built_binary("ecr-scan-gate")), *args], env=full_env,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def ci(stack):
    scanned_image(stack, "ci/app", "vulnerable", basic=[
        basic_finding("CVE-2026-96001", "CRITICAL", package="openssl", version="3.0.2"),
        basic_finding("CVE-2026-96002", "HIGH", package="curl", version="7.88.1"),
        basic_finding("CVE-2026-96003", "HIGH", package="zlib", version="1.2.13"),
        basic_finding("CVE-2026-96004", "MEDIUM", package="bash", version="5.2"),
    ])
    scanned_image(stack, "ci/app", "clean", basic=[basic_finding("CVE-2026-96005", "LOW")])
    return stack


IMAGE = ("--repository", "ci/app", "--tag", "vulnerable")


def test_sarif_is_valid_with_one_result_per_finding(ci):
    result = run_gate(ci, *IMAGE, "--format", "sarif")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert sarif_errors(doc) == []
    run = doc["runs"][0]
    assert run["tool"]["driver"]["name"] == "ecr-scan-gate"
    assert [r["ruleId"] for r in run["results"]] == ["CVE-2026-96001", "CVE-2026-96002", "CVE-2026-96003"]
    assert [r["level"] for r in run["results"]] == ["error", "error", "error"]
    location = run["results"][0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "ci/app"
    assert location["logicalLocations"][0]["fullyQualifiedName"].startswith("ci/app@sha256:")
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["CVE-2026-96001"]["properties"]["security-severity"] == "9.5"
    assert rules["CVE-2026-96001"]["helpUri"] == "https://security-tracker.debian.org/tracker/CVE-2026-96001"


def test_a_medium_threshold_makes_medium_findings_sarif_warnings(ci):
    result = run_gate(ci, *IMAGE, "--format", "sarif", "--threshold", "MEDIUM")
    doc = json.loads(result.stdout)
    assert sarif_errors(doc) == []
    levels = {r["ruleId"]: r["level"] for r in doc["runs"][0]["results"]}
    assert levels["CVE-2026-96004"] == "warning"


def test_junit_is_valid_with_a_failed_case_per_violation(ci, tmp_path):
    junit = tmp_path / "gate.xml"
    result = run_gate(ci, *IMAGE, "--output", f"junit={junit}")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("FAIL: 3 finding(s) at or above HIGH in ci/app:vulnerable"), "stdout stays text"
    text = junit.read_text()
    assert junit_errors(text) == []
    suite = ET.fromstring(text).find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "3"
    failed = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed == ["CRITICAL CVE-2026-96001 in openssl@3.0.2", "HIGH CVE-2026-96002 in curl@7.88.1",
                      "HIGH CVE-2026-96003 in zlib@1.2.13"]


def test_junit_of_a_clean_image_has_one_passing_case(ci, tmp_path):
    junit = tmp_path / "clean.xml"
    result = run_gate(ci, "--repository", "ci/app", "--tag", "clean", "--output", f"junit={junit}")
    assert result.returncode == 0, result.stderr
    assert junit_errors(junit.read_text()) == []
    suite = ET.fromstring(junit.read_text()).find("testsuite")
    assert suite.get("tests") == "1" and suite.get("failures") == "0"


def test_several_formats_in_one_run_and_the_summary_appended(ci, tmp_path):
    sarif, junit, markdown = tmp_path / "g.sarif", tmp_path / "g.xml", tmp_path / "g.md"
    summary = tmp_path / "summary.md"
    summary.write_text("## Build\n\nearlier steps wrote this\n")
    result = run_gate(ci, *IMAGE, "--format", "json", "--output", f"sarif={sarif}",
                      "--output", f"junit={junit},markdown={markdown}", "--summary-file", str(summary))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["violations_total"] == 3 and report["scan_completed_at"].endswith("Z")
    assert sarif_errors(json.loads(sarif.read_text())) == []
    assert junit_errors(junit.read_text()) == []
    md = markdown.read_text()
    assert md.startswith("### ecr-scan-gate: FAIL for `ci/app:vulnerable`")
    assert "| CRITICAL | 1 | 1 | - |" in md
    assert "| [CVE-2026-96001](https://security-tracker.debian.org/tracker/CVE-2026-96001) | CRITICAL | openssl@3.0.2 |" in md
    assert summary.read_text() == "## Build\n\nearlier steps wrote this\n" + md


FINDINGS_COLUMNS = ["owner", "account", "region", "repository", "digest", "tags", "vulnerability", "severity",
                    "exploit", "epss", "first_observed", "deadline", "overdue", "fix"]
DAY = 86400


def day(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")


def test_csv_has_the_reports_columns_with_owner_account_and_the_policys_deadlines(ci, tmp_path):
    """`--output csv=PATH`: the rows of the posture report's findings.csv
    for the findings the gate counts, deadlines from the policy's `sla`
    counted from Inspector's first observation, as the digest counts them."""
    now = int(time.time())
    overdue = enhanced_finding("CVE-2026-96101", "CRITICAL", package="openssl", version="3.0.2", fixed_in="3.0.15",
                               exploit="YES")
    overdue["firstObservedAt"] = now - 20 * DAY
    due = enhanced_finding("CVE-2026-96102", "HIGH", fixed_in=None)
    due["firstObservedAt"] = now - 2 * DAY
    digest = scanned_image(ci, "ci/evidence", "v7", status="ACTIVE",
                           enhanced=[overdue, due, enhanced_finding("CVE-2026-96103", "LOW")])
    ci.client("ecr").tag_resource(resourceArn="arn:aws:ecr:us-east-1:123456789012:repository/ci/evidence",
                                  tags=[{"Key": "owner", "Value": "payments"}])
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"version": 1, "sla": {"CRITICAL": 15, "HIGH": 30}}))
    path = tmp_path / "findings.csv"

    result = run_gate(ci, "--repository", "ci/evidence", "--tag", "v7", "--policy", str(policy), "--interval", "1",
                      "--output", f"csv={path}")

    assert result.returncode == 1, result.stderr
    with path.open(newline="", encoding="utf-8") as f:
        records = list(csv.reader(f))
    assert records[0] == FINDINGS_COLUMNS
    rows = [dict(zip(FINDINGS_COLUMNS, r)) for r in records[1:]]
    assert [r["vulnerability"] for r in rows] == ["CVE-2026-96101", "CVE-2026-96102"], "LOW is below the threshold"
    first, second = rows
    assert {k: first[k] for k in ("owner", "account", "region", "repository", "digest", "tags", "severity",
                                  "exploit", "deadline", "overdue", "fix")} == {
        "owner": "payments", "account": "123456789012", "region": "us-east-1", "repository": "ci/evidence",
        "digest": digest, "tags": "v7", "severity": "CRITICAL", "exploit": "true",
        "deadline": day(now - 5 * DAY), "overdue": "5", "fix": "upgrade openssl to 3.0.15"}
    assert first["first_observed"] == datetime.datetime.fromtimestamp(
        now - 20 * DAY, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (second["deadline"], second["overdue"], second["exploit"]) == (day(now + 28 * DAY), "", "false")
    assert second["fix"] == "libcurl: no fixed version known"

    on_stdout = run_gate(ci, "--repository", "ci/evidence", "--tag", "v7", "--interval", "1", "--format", "csv")
    assert on_stdout.returncode == 1, on_stdout.stderr
    lines = on_stdout.stdout.splitlines()
    assert lines[0] == ",".join(FINDINGS_COLUMNS)
    assert lines[1].endswith(",CVE-2026-96101,CRITICAL,true,,{},,,upgrade openssl to 3.0.15".format(
        first["first_observed"])), "without an sla, no deadline"


def test_the_github_job_summary_gets_the_markdown(ci, tmp_path):
    step_summary = tmp_path / "step_summary"
    result = run_gate(ci, *IMAGE, env={"ECR_SCAN_GATE_STEP_SUMMARY": "true",
                                       "GITHUB_STEP_SUMMARY": str(step_summary)})
    assert result.returncode == 1, result.stderr
    assert step_summary.read_text().startswith("### ecr-scan-gate: FAIL for `ci/app:vulnerable`")


def test_a_gate_that_cannot_judge_says_why_in_the_summary(ci, tmp_path):
    summary = tmp_path / "summary.md"
    result = run_gate(ci, "--repository", "ci/app", "--tag", "missing", "--summary-file", str(summary))
    assert result.returncode == 2
    assert summary.read_text().startswith("### ecr-scan-gate: CANNOT JUDGE `ci/app:missing`\n\nimage not found")


def test_budgets_let_findings_through_up_to_their_count(ci):
    within = run_gate(ci, *IMAGE, "--max-critical", "1", "--max-high", "2")
    assert within.returncode == 0, within.stdout + within.stderr
    assert within.stdout.startswith("PASS: 0 finding(s) at or above HIGH over budget in ci/app:vulnerable")
    assert "Within budget: 1 CRITICAL of at most 1, 2 HIGH of at most 2." in within.stdout

    over = run_gate(ci, *IMAGE, "--max-critical", "1", "--max-high", "1", "--format", "json")
    assert over.returncode == 1, over.stderr
    report = json.loads(over.stdout)
    assert [v["id"] for v in report["violations"]] == ["CVE-2026-96002", "CVE-2026-96003"]
    assert [v["id"] for v in report["tolerated"]] == ["CVE-2026-96001"]
    assert {b["severity"]: b["exceeded"] for b in report["budgets"]} == {"CRITICAL": False, "HIGH": True}


def test_budgets_come_from_the_environment_and_empty_variables_count_as_unset(ci):
    result = run_gate(ci, *IMAGE, env={"ECR_SCAN_GATE_MAX_CRITICAL": "5", "ECR_SCAN_GATE_MAX_HIGH": "5",
                                       "ECR_SCAN_GATE_MAX_MEDIUM": "", "ECR_SCAN_GATE_MAX_AGE": "",
                                       "ECR_SCAN_GATE_DIGEST": "", "ECR_SCAN_GATE_OUTPUT": ""})
    assert result.returncode == 0, result.stdout + result.stderr


def test_start_scan_starts_a_basic_scan_when_the_image_has_none(ci):
    ecr = ci.client("ecr")
    ensure_repository(ecr, "ci/unscanned")
    digest = push_image(ecr, "ci/unscanned", "v1")
    # The findings ECR will report once a scan ran; no scan has started.
    store_scan(ci.moto_url, "ci/unscanned", digest, basic=[basic_finding("CVE-2026-96010", "CRITICAL")])
    without = run_gate(ci, "--repository", "ci/unscanned", "--tag", "v1")
    assert without.returncode == 2
    assert "no scan found for ci/unscanned:v1" in without.stderr and "--start-scan" in without.stderr

    result = run_gate(ci, "--repository", "ci/unscanned", "--tag", "v1", "--start-scan", "--interval", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no scan of ci/unscanned:v1 yet: started a basic scan (--start-scan)" in result.stderr
    assert result.stdout.startswith("FAIL: 1 finding(s) at or above HIGH in ci/unscanned:v1 (COMPLETE)")
    assert digest in ci.proxy.scans_started


def test_start_scan_on_an_enhanced_registry_is_refused_at_once(ci):
    ecr = ci.client("ecr")
    ensure_repository(ecr, "ci/inspected")
    push_image(ecr, "ci/inspected", "v1")
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[
        {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "ci/*", "filterType": "WILDCARD"}]}])
    try:
        result = run_gate(ci, "--repository", "ci/inspected", "--tag", "v1", "--start-scan", "--interval", "30")
    finally:
        ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--start-scan starts basic scans only, and the registry uses enhanced scanning" in result.stderr
    assert "waiting" not in result.stderr


def test_max_age_redoes_a_stale_basic_scan_and_judges_the_new_one(ci):
    digest = scanned_image(ci, "ci/stale", "v1", basic=[basic_finding("CVE-2026-96020", "HIGH")])
    scanned_long_ago(ci, "ci/stale", digest, days=10,
                     basic=[basic_finding("CVE-2026-96020", "HIGH"), basic_finding("CVE-2026-96021", "CRITICAL")])
    result = run_gate(ci, "--repository", "ci/stale", "--tag", "v1", "--max-age", "7d", "--interval", "1",
                      "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("the last scan of ci/stale:v1 completed 10d ago, longer than --max-age 7d: "
            "starting a new basic scan") in result.stderr
    report = json.loads(result.stdout)
    assert [v["id"] for v in report["violations"]] == ["CVE-2026-96021", "CVE-2026-96020"], "the new scan's findings"
    completed = time.mktime(time.strptime(report["scan_completed_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(completed - time.time()) < 300


def test_max_age_cannot_redo_a_basic_scan_within_24_hours(ci):
    # Scanned 5 hours ago (moto: today, so a second scan is refused as ECR refuses it).
    scanned_image(ci, "ci/recent", "v1", basic=[basic_finding("CVE-2026-96030", "LOW")],
                  completed_at=int(time.time()) - 5 * 3600)
    result = run_gate(ci, "--repository", "ci/recent", "--tag", "v1", "--max-age", "1h")
    assert result.returncode == 2, result.stdout + result.stderr
    assert ("cannot start a new scan of ci/recent:v1: ECR starts a basic scan of an image at most once per "
            "24 hours, scan on push included") in result.stderr
    assert "the last one completed 5h ago" in result.stderr and "raise --max-age to at least 24h" in result.stderr


def test_max_age_fails_an_old_enhanced_scan(ci):
    digest = scanned_image(ci, "ci/inspector", "v1", status="ACTIVE",
                  enhanced=[enhanced_finding("CVE-2026-96040", "LOW")],
                  completed_at=int(time.time()) - 40 * 86_400)
    seeded = ci.proxy.scans_started.count(digest)  # the seed's own scan
    result = run_gate(ci, "--repository", "ci/inspector", "--tag", "v1", "--max-age", "30d", "--interval", "1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the last scan of ci/inspector:v1 completed 40d ago, longer than --max-age 30d; it is an enhanced scan" \
        in result.stderr
    assert ci.proxy.scans_started.count(digest) == seeded, "the gate starts no scan of an enhanced image"


def test_region_and_profile_are_used(ci, tmp_path):
    config = tmp_path / "config"
    config.write_text("[profile ci]\nregion = us-east-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[ci]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    env = {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    no_region = {k: v for k, v in AWS_ENV.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ECR_SCAN_GATE_"))}
    run = lambda *args: subprocess.run(  # noqa: E731
        [str(built_binary("ecr-scan-gate")), *IMAGE, *args],
        env={**base, **no_region, "AWS_ENDPOINT_URL": ci.endpoint_url, **env}, capture_output=True, text=True,
        timeout=120)
    missing = run()
    assert missing.returncode == 2
    assert "no AWS Region: pass --region" in missing.stderr
    assert run("--region", "us-east-1").returncode == 1
    assert run("--profile", "ci").returncode == 1
    # The image is in us-east-1: asked in eu-west-1, the registry has no such image.
    elsewhere = run("--region", "eu-west-1")
    assert elsewhere.returncode == 2
    assert "image not found: ci/app:vulnerable" in elsewhere.stderr
