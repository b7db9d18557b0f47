"""Layer 3: the CI gate binary against the local emulator (through the
paging proxy), with the same policy document format as the Lambda."""

import json
import os
import subprocess

import pytest

from harness.local import AWS_ENV, ROOT, built_binary
from harness.seed import basic_finding, scanned_image


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
