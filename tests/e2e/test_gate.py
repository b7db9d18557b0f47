"""Layer 3: the CI gate binary against the local emulator (through the
paging proxy), with the same policy document format as the Lambda."""

import json
import os
import subprocess

import pytest

from harness.local import AWS_ENV, ROOT, built_binary
from harness.seed import basic_finding, enhanced_finding, push_image, scanned_image


def gate_binary():
    return built_binary("ecr-scan-gate")


def run_gate(stack, *args):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **AWS_ENV,
           "AWS_ENDPOINT_URL": stack.endpoint_url}
    return subprocess.run([str(gate_binary()), *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def gated(stack):
    scanned_image(stack, "gate/app", "clean", basic=[basic_finding("CVE-2026-97001", "MEDIUM")])
    scanned_image(stack, "gate/app", "vulnerable", basic=[
        basic_finding("CVE-2026-97002", "CRITICAL", package="openssl", version="3.0.2"),
        basic_finding("CVE-2026-97003", "HIGH", package="curl", version="7.88.1"),
    ])
    return stack


def test_a_clean_image_passes(gated):
    result = run_gate(gated, "--repository", "gate/app", "--tag", "clean")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("PASS: 0 finding(s) at or above HIGH in gate/app:clean")


def test_violations_fail_with_exit_1_and_are_listed(gated):
    result = run_gate(gated, "--repository", "gate/app", "--tag", "vulnerable", "--format", "json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["result"] == "fail"
    assert [v["id"] for v in report["violations"]] == ["CVE-2026-97002", "CVE-2026-97003"]
    assert report["violations"][0]["package"] == "openssl@3.0.2"


def test_the_policy_document_and_threshold_apply(gated, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"version": 1, "allow": [
        {"id": "CVE-2026-97002", "reason": "accepted for the demo"},
        {"id": "CVE-2026-97003", "reason": "accepted for the demo"}]}))
    allowed = run_gate(gated, "--repository", "gate/app", "--tag", "vulnerable", "--policy", str(policy))
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "Not counted: 2 allow-listed." in allowed.stdout

    stricter = run_gate(gated, "--repository", "gate/app", "--tag", "clean", "--threshold", "MEDIUM")
    assert stricter.returncode == 1
    assert "CVE-2026-97001" in stricter.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "markdown"])
def test_an_image_the_policy_does_not_cover_exits_2_naming_the_filter(gated, tmp_path, fmt):
    """A `tags.include` filter and a --digest run (no tags): nothing is
    judged, which used to exit 0 as a pass."""
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"version": 1, "tags": {"include": ["release-*"]}}))
    digest = scanned_image(gated, "gate/app", f"uncovered-{fmt}", basic=[basic_finding("CVE-2026-97010", "CRITICAL")])

    result = run_gate(gated, "--repository", "gate/app", "--digest", digest, "--policy", str(policy),
                      "--format", fmt)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "tags.include" in result.stdout, result.stdout
    assert "not covered by the policy" in result.stderr
    assert "PASS" not in result.stdout

    allowed = run_gate(gated, "--repository", "gate/app", "--digest", digest, "--policy", str(policy),
                       "--format", fmt, "--allow-uncovered")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "--allow-uncovered" in allowed.stdout


def test_the_gate_fails_an_undeployed_image_whatever_only_in_use_says(gated, tmp_path):
    """examples/policy.json drops idle `batch/*` images from alerts; the
    gate judges an image before it runs, so it still fails it."""
    from harness.seed import image_usage

    scanned_image(gated, "batch/nightly", "never-run", status="ACTIVE", enhanced=[
        enhanced_finding("CVE-2026-97011", "CRITICAL", usage=image_usage(in_use=0, pushed_days_ago=60)),
    ])

    result = run_gate(gated, "--repository", "batch/nightly", "--tag", "never-run", "--interval", "1",
                      "--policy", str(ROOT / "examples" / "policy.json"))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "CVE-2026-97011" in result.stdout
    assert "not_in_use / only_in_use rules are not applied" in result.stdout


def test_a_missing_image_is_an_error_with_exit_2(gated):
    result = run_gate(gated, "--repository", "gate/app", "--tag", "no-such-tag")
    assert result.returncode == 2
    assert "image not found: gate/app:no-such-tag" in result.stderr


def test_an_invalid_policy_is_an_error_with_exit_2(gated, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text('{"version": 1, "allow": [{"id": "CVE-1"}]}')
    result = run_gate(gated, "--repository", "gate/app", "--tag", "clean", "--policy", str(policy))
    assert result.returncode == 2
    assert "allow[0]" in result.stderr and "reason" in result.stderr


def test_the_example_policy_in_the_repository_is_valid(gated):
    result = run_gate(gated, "--repository", "gate/app", "--tag", "clean",
                      "--policy", str(ROOT / "examples" / "policy.json"))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("status", ["SCAN_ELIGIBILITY_EXPIRED", "IMAGE_ARCHIVED", "FINDINGS_UNAVAILABLE"])
def test_no_current_findings_is_not_a_pass(gated, status):
    # No findings at all: a gate that read the empty list as clean would pass.
    scanned_image(gated, "gate/stale", status.lower(), status=status)
    result = run_gate(gated, "--repository", "gate/stale", "--tag", status.lower())
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert f"no current findings for gate/stale:{status.lower()}: scan status {status}" in result.stderr
    assert 'That is not "clean"' in result.stderr


def test_wait_stops_at_once_when_scan_on_push_is_off(gated):
    ecr = gated.client("ecr")
    ecr.create_repository(repositoryName="gate/manual", imageScanningConfiguration={"scanOnPush": False})
    push_image(ecr, "gate/manual", "v1")  # no scan started, and none will start
    result = run_gate(gated, "--repository", "gate/manual", "--tag", "v1", "--wait",
                      "--timeout", "600", "--interval", "30")
    assert result.returncode == 2, result.stdout + result.stderr
    assert ("no scan of gate/manual:v1 will start: repository gate/manual has scan frequency MANUAL "
            "(registry scan type BASIC, no scanning rules; repository scanOnPush false)") in result.stderr
    assert "aws ecr start-image-scan --repository-name gate/manual" in result.stderr
    assert "waiting for the scan" not in result.stderr


@pytest.fixture
def scan_on_push_rule(gated):
    """A registry scanning rule that scans gate/onpush on push; removed afterwards."""
    ecr = gated.client("ecr")
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[
        {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "gate/onpush", "filterType": "WILDCARD"}]}])
    yield
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])


def test_wait_keeps_waiting_when_a_scan_is_expected(gated, scan_on_push_rule):
    ecr = gated.client("ecr")
    ecr.create_repository(repositoryName="gate/onpush")
    push_image(ecr, "gate/onpush", "v1")  # the emulator never starts the scan itself
    result = run_gate(gated, "--repository", "gate/onpush", "--tag", "v1", "--wait",
                      "--timeout", "2", "--interval", "1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "waiting for the scan of gate/onpush:v1: NOT_STARTED" in result.stderr
    assert "the scan of gate/onpush:v1 is still NOT_STARTED" in result.stderr
    assert "will start" not in result.stderr


def test_an_enhanced_scan_is_judged_on_two_reads_that_agree(gated):
    scanned_image(gated, "gate/enhanced", "v1", status="ACTIVE",
                  enhanced=[enhanced_finding("CVE-2026-97004", "HIGH")])
    before = gated.proxy.describe_calls
    result = run_gate(gated, "--repository", "gate/enhanced", "--tag", "v1", "--interval", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("FAIL: 1 finding(s) at or above HIGH in gate/enhanced:v1 (ACTIVE)")
    assert "reading the findings of gate/enhanced:v1 again in 1s" in result.stderr
    assert gated.proxy.describe_calls - before == 2


def test_help_and_version_answer_on_stdout_with_exit_0(stack):
    helped = run_gate(stack, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--repository <NAME>" in helped.stdout and "Exit status: 0 pass" in helped.stdout
    versioned = run_gate(stack, "--version")
    assert versioned.returncode == 0, versioned.stderr
    assert versioned.stdout.startswith("ecr-scan-gate ")
    wrong = run_gate(stack, "--repository", "gate/app")
    assert wrong.returncode == 2
    assert "--tag <TAG>|--digest" in wrong.stderr and wrong.stdout == ""


def test_every_option_can_come_from_the_environment(gated):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **AWS_ENV,
           "AWS_ENDPOINT_URL": gated.endpoint_url,
           "ECR_SCAN_GATE_REPOSITORY": "gate/app", "ECR_SCAN_GATE_TAG": "vulnerable",
           "ECR_SCAN_GATE_THRESHOLD": "CRITICAL", "ECR_SCAN_GATE_FORMAT": "json"}
    result = subprocess.run([str(gate_binary())], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["threshold"] == "CRITICAL"
    assert [v["id"] for v in report["violations"]] == ["CVE-2026-97002"]


def test_the_gate_names_the_owner_from_the_tag_or_the_policy(gated, tmp_path):
    ecr = gated.client("ecr")
    ecr.tag_resource(resourceArn="arn:aws:ecr:us-east-1:123456789012:repository/gate/app",
                     tags=[{"Key": "team", "Value": "payments"}])
    scanned_image(gated, "gate/untagged", "v1", basic=[basic_finding("CVE-2026-97010", "HIGH")])
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"version": 1, "owners": [{"owner": "search", "repository": "gate/*"}]}))

    tagged = run_gate(gated, "--repository", "gate/app", "--tag", "vulnerable", "--owner-tag-key", "team",
                      "--policy", str(policy))
    assert tagged.returncode == 1, tagged.stderr
    assert "Owner: payments (repository tag team)" in tagged.stdout

    untagged = run_gate(gated, "--repository", "gate/untagged", "--tag", "v1", "--owner-tag-key", "team",
                        "--policy", str(policy), "--format", "json", "--output", f"sarif={tmp_path / 'g.sarif'}")
    assert untagged.returncode == 1, untagged.stderr
    report = json.loads(untagged.stdout)
    assert (report["owner"], report["owner_source"]) == ("search", "policy owners[0]")
    sarif = json.loads((tmp_path / "g.sarif").read_text())
    assert sarif["runs"][0]["results"][0]["properties"]["owner"] == "search"
