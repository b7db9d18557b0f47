"""Layer 3: risk signals beyond severity, end to end on the local stack.
A known exploit, an EPSS score (read from Amazon Inspector's ListFindings)
and whether the image runs (ECR's image details, Inspector's finding
events) change what alerts, at which severity, and where it is routed; the
`exploitable` and `in_use` attributes let a subscription take only what
matters."""

import pytest

from harness.seed import (
    alerted_then_rescanned,
    basic_finding,
    dedup_table,
    enhanced_finding,
    event_for,
    finding_event,
    image_usage,
    inspector_findings,
    put_policy,
    received_alerts,
    scanned_image,
    sqs_batch,
    subscribe_queue,
)

RISK_POLICY = {
    "version": 1,
    "threshold": "HIGH",
    "risk": [
        {"repository": "batch/*", "only_in_use": {"days": 7}},
        {
            "exploit_available": {"raise_to": "CRITICAL"},
            "epss": {"at_least": 0.7, "raise_to": "HIGH"},
            "not_in_use": {"days": 30, "lower_to": "LOW"},
        },
    ],
    "allow": [{"id": "CVE-2026-88901", "reason": "no fix upstream; revisit when there is one", "until_fix": True}],
}
# A pager that takes only exploitable findings in running images.
EXPLOITABLE_RUNNING = {"exploitable": ["true"], "in_use": ["true"], "alert_kind": ["findings"]}


@pytest.fixture(scope="module")
def risk_stack(stack):
    parameter = put_policy(stack, RISK_POLICY)
    table = dedup_table(stack, "scan-alerts-risk")
    stack.start_function(POLICY_PARAMETER_NAME=parameter, POLICY_CACHE_SECONDS="0", DEDUP_TABLE_NAME=table)
    stack.exploit_pager = subscribe_queue(stack, stack.topic_arn, "pager-exploitable-running", EXPLOITABLE_RUNNING)
    yield stack
    stack.client("ssm").delete_parameter(Name=parameter)
    stack.start_function()


@pytest.fixture
def risk_inbox(risk_stack, inbox):
    put_policy(risk_stack, RISK_POLICY)
    received_alerts(risk_stack, risk_stack.exploit_pager, wait_seconds=0)
    return inbox


def enhanced_event(repository, digest, tag):
    event = event_for("enhanced-scan-complete.json", digest)
    event["detail"]["repository-name"] = f"arn:aws:ecr:us-east-1:123456789012:repository/{repository}"
    event["detail"]["image-tags"] = [tag]
    return event


def test_a_known_exploit_raises_a_medium_to_critical_and_pages(risk_stack, risk_inbox):
    running = image_usage(in_use=12)
    digest = scanned_image(risk_stack, "svc/payments", "v7", status="ACTIVE", enhanced=[
        enhanced_finding("CVE-2026-88001", "MEDIUM", package="glibc", version="2.36", fixed_in="2.36-9",
                         exploit="YES", usage=running),
        enhanced_finding("CVE-2026-88002", "HIGH", package="curl", usage=running),
    ])

    ok, result = risk_stack.invoke(enhanced_event("svc/payments", digest, "v7"))

    assert ok, result
    [alert] = received_alerts(risk_stack, risk_inbox)
    assert alert["subject"] == "CRITICAL, exploit known: 1 critical, 1 high in svc/payments:v7"
    assert alert["attributes"]["severity"] == "CRITICAL"
    assert alert["attributes"]["exploitable"] == "true"
    assert alert["attributes"]["in_use"] == "true"
    body = alert["message"]
    assert "1 with a known exploit" in body
    assert "Image in use: running on ECS or EKS (in use: 12)." in body
    assert "exploit known; raised from MEDIUM (exploit known)" in body
    assert "Risk rule risk[1] raised 1 finding(s)" in body
    plan = body.split("FIX PLAN")[1].split("\n\n")[0]
    assert plan.index("glibc") < plan.index("curl"), f"the upgrade that removes the exploit first:\n{plan}"
    assert [a["subject"] for a in received_alerts(risk_stack, risk_stack.critical_queue_url)] == [alert["subject"]]
    assert [a["subject"] for a in received_alerts(risk_stack, risk_stack.exploit_pager)] == [alert["subject"]]


def test_an_epss_score_from_inspector_raises_a_finding_over_the_threshold(risk_stack, risk_inbox):
    digest = scanned_image(risk_stack, "svc/search", "v3", status="ACTIVE", enhanced=[
        enhanced_finding("CVE-2026-88101", "MEDIUM", package="libxml2", usage=image_usage(in_use=2)),
        enhanced_finding("CVE-2026-88102", "MEDIUM", package="expat", usage=image_usage(in_use=2)),
    ])
    inspector_findings(risk_stack, "svc/search", digest, {"CVE-2026-88101": 0.91, "CVE-2026-88102": 0.05})
    calls = risk_stack.proxy.inspector_calls
    violations = len(risk_stack.proxy.contract_violations)

    ok, result = risk_stack.invoke(enhanced_event("svc/search", digest, "v3"))

    assert ok, result
    assert risk_stack.proxy.inspector_calls - calls == 1
    assert risk_stack.proxy.contract_violations[violations:] == [], "moto's answer is the inspector2 model's"
    [alert] = received_alerts(risk_stack, risk_inbox)
    assert alert["subject"] == "HIGH: 1 high in svc/search:v3"
    assert alert["attributes"]["exploitable"] == "false", "Inspector says NO for both"
    body = alert["message"]
    assert "EPSS 0.91; raised from MEDIUM (EPSS)" in body
    listed = body.split("FINDINGS AT OR ABOVE")[1]
    assert "CVE-2026-88102" not in listed, "EPSS 0.05 stays below the threshold"
    assert "Not alerted: 1 below threshold." in body
    assert received_alerts(risk_stack, risk_stack.exploit_pager) == []


def test_an_image_not_running_for_weeks_is_not_alerted_and_says_why(risk_stack, risk_inbox):
    digest = scanned_image(risk_stack, "svc/legacy", "v1", status="ACTIVE", enhanced=[
        enhanced_finding("CVE-2026-88201", "CRITICAL", usage=image_usage(in_use=0, idle_days=45)),
        enhanced_finding("CVE-2026-88202", "HIGH", usage=image_usage(in_use=0, idle_days=45)),
    ])

    ok, result = risk_stack.invoke(enhanced_event("svc/legacy", digest, "v1"))

    assert ok, result
    assert result["outcome"] == "not_alerted"
    assert result["suppressed"] == "2 in an image not seen running on ECS or EKS"
    assert received_alerts(risk_stack, risk_inbox) == []


def test_an_image_idle_for_days_only_still_alerts(risk_stack, risk_inbox):
    digest = scanned_image(risk_stack, "svc/report", "v2", status="ACTIVE", enhanced=[
        enhanced_finding("CVE-2026-88301", "CRITICAL", usage=image_usage(in_use=0, idle_days=3)),
    ])

    ok, result = risk_stack.invoke(enhanced_event("svc/report", digest, "v2"))

    assert ok, result
    [alert] = received_alerts(risk_stack, risk_inbox)
    assert alert["attributes"]["in_use"] == "false"
    assert "Image in use: not seen running on ECS or EKS since " in alert["message"]


def test_only_in_use_drops_a_stopped_image_but_never_an_unknown_one(risk_stack, risk_inbox):
    stopped = scanned_image(risk_stack, "batch/nightly", "v1", status="ACTIVE", enhanced=[
        enhanced_finding("CVE-2026-88401", "CRITICAL", usage=image_usage(in_use=0, idle_days=8)),
    ])
    basic = scanned_image(risk_stack, "batch/hourly", "v1", basic=[basic_finding("CVE-2026-88402", "CRITICAL")])

    ok, stopped_result = risk_stack.invoke(enhanced_event("batch/nightly", stopped, "v1"))
    assert ok, stopped_result
    event = event_for("basic-scan-complete.json", basic)
    event["detail"]["repository-name"] = "batch/hourly"
    event["detail"]["image-tags"] = ["v1"]
    ok, basic_result = risk_stack.invoke(event)
    assert ok, basic_result

    assert stopped_result["suppressed"] == "1 in an image not seen running on ECS or EKS"
    [alert] = received_alerts(risk_stack, risk_inbox)
    assert alert["subject"] == "CRITICAL: 1 critical in batch/hourly:v1"
    assert alert["attributes"]["exploitable"] == "unknown"
    assert alert["attributes"]["in_use"] == "unknown"
    assert "whether the image runs is unknown (basic scanning does not report it)" in alert["message"]


def test_only_in_use_alerts_a_fresh_push_that_has_not_run_yet(risk_stack, risk_inbox):
    """A new image has never run: it is not known idle for the rule's days,
    so it alerts (the rule used to drop every image with inUseCount 0)."""
    fresh = scanned_image(risk_stack, "batch/weekly", "v1", status="ACTIVE", enhanced=[
        enhanced_finding("CVE-2026-88403", "CRITICAL", usage=image_usage(in_use=0, pushed_days_ago=1)),
    ])

    ok, result = risk_stack.invoke(enhanced_event("batch/weekly", fresh, "v1"))

    assert ok, result
    [alert] = received_alerts(risk_stack, risk_inbox)
    assert alert["subject"] == "CRITICAL: 1 critical in batch/weekly:v1"
    assert alert["attributes"]["in_use"] == "false"


def test_an_only_new_alert_ends_with_what_is_still_open(risk_stack, risk_inbox):
    old = [basic_finding("CVE-2026-88501", "CRITICAL"), basic_finding("CVE-2026-88502", "HIGH", package="curl")]
    event = alerted_then_rescanned(risk_stack, risk_inbox, "svc/web", "v9", old,
                                   [basic_finding("CVE-2026-88503", "HIGH", package="bash")])
    ok, result = risk_stack.invoke(event)

    assert ok, result
    [alert] = received_alerts(risk_stack, risk_inbox)
    assert alert["subject"] == "HIGH: 1 high in svc/web:v9"
    last_lines = alert["message"].rstrip().splitlines()[-3:]
    assert "Still open, alerted before: 1 critical, 1 high (CVE-2026-88501, CVE-2026-88502)." in last_lines


def test_finding_events_carry_exploit_epss_and_usage_and_a_fix_ends_a_snooze(risk_stack, risk_inbox):
    digest = "sha256:" + "9" * 64
    snoozed = finding_event("cont/risk", digest, "CVE-2026-88901", "CRITICAL", fixed_in=None, in_use=4)
    exploited = finding_event("cont/risk", digest, "CVE-2026-88902", "MEDIUM", package="zlib", exploit="YES",
                              epss=0.42, in_use=4)

    ok, response = risk_stack.invoke(sqs_batch([snoozed, exploited]))

    assert ok and response == {"batchItemFailures": []}, response
    [alert] = received_alerts(risk_stack, risk_inbox)
    assert alert["subject"] == "CRITICAL, exploit known: 1 critical in cont/risk:v1"
    assert alert["attributes"]["in_use"] == "true"
    body = alert["message"]
    assert "exploit known; EPSS 0.42; raised from MEDIUM (exploit known)" in body
    assert "Not alerted: 1 allow-listed." in body

    fixed = finding_event("cont/risk", digest, "CVE-2026-88901", "CRITICAL", fixed_in="1.2.4", in_use=4)
    ok, response = risk_stack.invoke(sqs_batch([fixed]))

    assert ok and response == {"batchItemFailures": []}, response
    [alert] = received_alerts(risk_stack, risk_inbox)
    assert alert["subject"] == "CRITICAL: 1 critical in cont/risk:v1"
    assert "A fix is now known for findings snoozed until one: CVE-2026-88901 (until a fix)." in alert["message"]
