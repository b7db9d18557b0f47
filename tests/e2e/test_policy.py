"""Layer 3: the policy document in SSM Parameter Store and only-new alerts
with the DynamoDB dedup table, end to end on the local stack."""

import datetime

import pytest

from harness.seed import (
    alerted_then_rescanned,
    basic_finding,
    dedup_table,
    enhanced_finding,
    event_for,
    put_policy,
    received_alerts,
    scanned_image,
)

TODAY = datetime.datetime.now(datetime.timezone.utc).date()
YESTERDAY = (TODAY - datetime.timedelta(days=1)).isoformat()
TOMORROW = (TODAY + datetime.timedelta(days=1)).isoformat()

POLICY = {
    "version": 1,
    "threshold": "HIGH",
    "thresholds": [{"repository": "sandbox-*", "threshold": "CRITICAL"}],
    "repositories": {"exclude": ["scratch/*"]},
    "tags": {"exclude": ["pr-*"]},
    "allow": [
        {"id": "CVE-2026-90001", "reason": "not reachable in our images", "expires": TOMORROW},
        {"id": "CVE-2026-90002", "package": "zlib", "reason": "accepted until the rebuild", "expires": YESTERDAY},
    ],
}


@pytest.fixture(scope="module")
def policy_stack(stack):
    """The function with a policy parameter (read on every event) and dedup."""
    parameter = put_policy(stack, POLICY)
    table = dedup_table(stack)
    stack.start_function(POLICY_PARAMETER_NAME=parameter, POLICY_CACHE_SECONDS="0", DEDUP_TABLE_NAME=table)
    yield stack
    stack.client("ssm").delete_parameter(Name=parameter)
    stack.start_function()


@pytest.fixture
def policy_inbox(policy_stack, inbox):
    put_policy(policy_stack, POLICY)
    return inbox


def tagged(sample, digest, tag):
    event = event_for(sample, digest)
    event["detail"]["image-tags"] = [tag]
    return event


def test_the_same_event_twice_gives_one_alert(policy_stack, policy_inbox):
    digest = scanned_image(policy_stack, "team/api", "twice", basic=[basic_finding("CVE-2026-91001", "CRITICAL")])
    event = tagged("basic-scan-complete.json", digest, "twice")
    event["detail"]["repository-name"] = "team/api"

    first_ok, first = policy_stack.invoke(event)
    second_ok, second = policy_stack.invoke(event)

    assert first_ok and second_ok, (first, second)
    assert first["outcome"] == "alerted"
    assert second["outcome"] == "not_alerted"
    assert second["reason"] == "nothing new since the last alert for this image (1 already alerted)"
    alerts = received_alerts(policy_stack, policy_inbox)
    assert [a["subject"] for a in alerts] == ["CRITICAL: 1 critical in team/api:twice"]


def test_a_rescan_with_one_new_critical_alerts_only_what_is_new(policy_stack, policy_inbox):
    old = [basic_finding("CVE-2026-92001", "CRITICAL"), basic_finding("CVE-2026-92002", "HIGH", package="curl")]
    event = alerted_then_rescanned(policy_stack, policy_inbox, "team/web", "rescan", old,
                                   [basic_finding("CVE-2026-92003", "CRITICAL", package="bash")])
    ok, result = policy_stack.invoke(event)

    assert ok, result
    [alert] = received_alerts(policy_stack, policy_inbox)
    assert alert["subject"] == "CRITICAL: 1 critical in team/web:rescan"
    body = alert["message"]
    assert "CVE-2026-92003" in body
    listed = body.split("FINDINGS AT OR ABOVE")[1].split("Still open")[0]
    assert "CVE-2026-92001" not in listed and "CVE-2026-92002" not in listed
    assert "Not alerted: 2 already alerted." in body
    assert "Still open, alerted before: 1 critical, 1 high (CVE-2026-92001, CVE-2026-92002)." in body


def test_allow_listed_cves_are_not_alerted_and_expired_entries_are(policy_stack, policy_inbox):
    digest = scanned_image(policy_stack, "team/db", "allow", basic=[
        basic_finding("CVE-2026-90001", "CRITICAL"),
        basic_finding("CVE-2026-90002", "HIGH", package="zlib", version="1.2.13"),
        basic_finding("CVE-2026-93001", "MEDIUM"),
    ])
    event = tagged("basic-scan-complete.json", digest, "allow")
    event["detail"]["repository-name"] = "team/db"

    ok, result = policy_stack.invoke(event)

    assert ok, result
    [alert] = received_alerts(policy_stack, policy_inbox)
    assert alert["subject"] == "HIGH: 1 high in team/db:allow"
    body = alert["message"]
    assert "CVE-2026-90001" not in body.split("FINDINGS AT OR ABOVE")[1], "allow-listed until tomorrow"
    assert "CVE-2026-90002" in body, "its entry expired yesterday"
    assert "Not alerted: 1 allow-listed, 1 below threshold." in body
    assert f"Expired allow-list entries, no longer suppressing: CVE-2026-90002 (zlib), expired {YESTERDAY}." in body


def test_per_repository_thresholds_and_scope_filters(policy_stack, policy_inbox):
    sandbox = scanned_image(policy_stack, "sandbox-tools", "s1", basic=[basic_finding("CVE-2026-94001", "HIGH")])
    pr = scanned_image(policy_stack, "team/api", "pr-77", basic=[basic_finding("CVE-2026-94002", "CRITICAL")])
    scratch = scanned_image(policy_stack, "scratch/x", "v1", basic=[basic_finding("CVE-2026-94003", "CRITICAL")])
    outcomes = []
    for repo, digest, tag in (("sandbox-tools", sandbox, "s1"), ("team/api", pr, "pr-77"), ("scratch/x", scratch, "v1")):
        event = tagged("basic-scan-complete.json", digest, tag)
        event["detail"]["repository-name"] = repo
        calls = policy_stack.proxy.describe_calls
        ok, result = policy_stack.invoke(event)
        assert ok, result
        outcomes.append((result["reason"], policy_stack.proxy.describe_calls - calls))

    assert outcomes == [
        ("no finding at or above CRITICAL left by the policy", 1),
        ("tags [pr-77] are excluded by the policy (`tags.exclude` pattern `pr-*`)", 0),
        ("repository `scratch/x` is excluded by the policy (`repositories.exclude` pattern `scratch/*`)", 0),
    ]
    assert received_alerts(policy_stack, policy_inbox) == []


def test_only_fixable_drops_enhanced_findings_without_a_fix(policy_stack, policy_inbox):
    put_policy(policy_stack, {**POLICY, "only_fixable": True})
    digest = scanned_image(policy_stack, "team/fix", "v1", status="ACTIVE", enhanced=[
        enhanced_finding("CVE-2026-95001", "CRITICAL", fixed_in=None),
        enhanced_finding("CVE-2026-95002", "HIGH", package="openssl", version="3.0.11", fixed_in="3.0.15"),
    ])
    event = tagged("enhanced-scan-complete.json", digest, "v1")
    event["detail"]["repository-name"] = "arn:aws:ecr:us-east-1:123456789012:repository/team/fix"

    ok, result = policy_stack.invoke(event)

    assert ok, result
    [alert] = received_alerts(policy_stack, policy_inbox)
    assert alert["subject"] == "HIGH: 1 high in team/fix:v1"
    assert "Not alerted: 1 not fixable." in alert["message"]


def test_an_invalid_policy_fails_the_event_naming_the_field(policy_stack, policy_inbox):
    put_policy(policy_stack, {"version": 1, "allow": [{"id": "CVE-2026-1", "reason": "x", "expires": "soon"}]})
    digest = scanned_image(policy_stack, "team/api", "bad-policy", basic=[basic_finding("CVE-2026-96001", "CRITICAL")])
    event = tagged("basic-scan-complete.json", digest, "bad-policy")

    ok, error = policy_stack.invoke(event)

    assert not ok
    assert error["errorType"] == "PolicyInvalid"
    assert "/scan-alerts/policy" in error["errorMessage"]
    assert "allow[0] (CVE-2026-1).expires" in error["errorMessage"]
    assert received_alerts(policy_stack, policy_inbox) == []


def test_a_failed_scan_delivered_twice_alerts_once(policy_stack, policy_inbox):
    digest = scanned_image(policy_stack, "team/legacy", "old", status="FAILED", description="UnsupportedImageError")
    event = tagged("basic-scan-failed.json", digest, "old")
    event["detail"]["repository-name"] = "team/legacy"

    results = [policy_stack.invoke(event) for _ in range(2)]

    assert [r[1]["outcome"] for r in results] == ["alerted", "not_alerted"]
    assert results[1][1]["reason"] == "this scan failure was already alerted"
    assert len(received_alerts(policy_stack, policy_inbox)) == 1
