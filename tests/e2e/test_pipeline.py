"""Layer 3: the built function under cargo-lambda's Runtime API emulator,
talking over HTTP to moto behind a paging proxy that pages like ECR.
Assertions are on what arrived on the SQS queue subscribed to the topic."""

import json

from harness.seed import (
    basic_finding,
    enhanced_finding,
    ensure_repository,
    event_for,
    push_image,
    received_alerts,
    scanned_image,
)


def one_alert(stack, queue_url):
    alerts = received_alerts(stack, queue_url)
    assert len(alerts) == 1, alerts
    return alerts[0]


def test_basic_scan_with_criticals_only_on_the_last_of_three_pages(stack, inbox):
    findings = [basic_finding(f"CVE-2019-{i:05d}", "LOW", package=f"lib{i % 40}", version="1.0") for i in range(2000)]
    findings += [
        basic_finding("CVE-2026-10001", "CRITICAL", score=9.8),
        basic_finding("CVE-2026-10002", "CRITICAL", package="zlib", version="1.2.13", score=9.1),
        basic_finding("CVE-2026-10003", "HIGH", package="curl", version="7.88.1", score=7.5),
        basic_finding("CVE-2026-10004", "HIGH", package="curl", version="7.88.1"),
        basic_finding("CVE-2026-10005", "HIGH", package="bash", version="5.2"),
    ]
    digest = scanned_image(stack, "demo/web", "3f2c1ab", basic=findings)
    calls_before = stack.proxy.describe_calls

    ok, result = stack.invoke(event_for("basic-scan-complete.json", digest))

    assert ok, result
    assert stack.proxy.describe_calls - calls_before == 3, "1000 + 1000 + 5 findings: three pages"
    assert result["outcome"] == "alerted"
    assert result["pages"] == 3
    assert result["counts"] == {"CRITICAL": 2, "HIGH": 3, "LOW": 2000}
    alert = one_alert(stack, inbox)
    assert alert["subject"] == "CRITICAL: 2 critical, 3 high in demo/web:3f2c1ab"
    assert alert["attributes"] == {
        "severity": "CRITICAL",
        "repository": "demo/web",
        "account": "123456789012",
        "region": "us-east-1",
        "alert_kind": "findings",
        "exploitable": "unknown",
        "in_use": "unknown",
        # The repository has no owner tag and there is no policy document.
        "owner": "unowned",
    }
    body = alert["message"]
    for cve in ("CVE-2026-10001", "CVE-2026-10002", "CVE-2026-10003", "CVE-2026-10004", "CVE-2026-10005"):
        assert cve in body
    assert "CVE-2019-00001" not in body, "LOW is below the HIGH threshold: counted, not listed"
    assert body.index("CVE-2026-10001") < body.index("CVE-2026-10002") < body.index("CVE-2026-10003")
    assert f"  Digest      {digest}" in body
    assert "  LOW              2000" in body
    assert f"https://us-east-1.console.aws.amazon.com/ecr/repositories/private/123456789012/demo/web/_/image/{digest}/scan-results?region=us-east-1" in body
    assert "openssl@3.0.2 -> fixed-in version not reported" in body


def test_enhanced_scan_names_the_repository_by_arn_and_pages_by_100(stack, inbox):
    findings = [enhanced_finding(f"CVE-2024-{i:05d}", "MEDIUM", package=f"pkg{i}") for i in range(247)]
    findings += [
        enhanced_finding("CVE-2026-20001", "HIGH", package="glibc", version="2.36", fixed_in="2.36-9+deb12u4", score=8.1),
        enhanced_finding("CVE-2026-20002", "HIGH", package="perl", version="5.36", fixed_in=None, score=7.0),
        enhanced_finding("CVE-2026-20003", "CRITICAL", package="openssl", version="3.0.11", fixed_in="3.0.15", score=9.8),
    ]
    digest = scanned_image(stack, "demo/api", "v2.4.1", basic=(), enhanced=findings, status="ACTIVE")
    calls_before = stack.proxy.describe_calls

    ok, result = stack.invoke(event_for("enhanced-scan-complete.json", digest))

    assert ok, result
    assert stack.proxy.describe_calls - calls_before == 3, "250 enhanced findings: three pages of 100"
    assert result["pages"] == 3
    alert = one_alert(stack, inbox)
    assert alert["subject"] == "CRITICAL: 1 critical, 2 high in demo/api:v2.4.1"
    assert alert["attributes"]["repository"] == "demo/api"
    assert alert["attributes"]["severity"] == "CRITICAL"
    body = alert["message"]
    assert "  Tags        v2.4.1, 9c1e5d2" in body
    assert "  Scan        enhanced, ACTIVE" in body
    assert "openssl@3.0.11 -> fixed in 3.0.15" in body
    assert "glibc@2.36 -> fixed in 2.36-9+deb12u4" in body
    assert "perl@5.36 -> no fix available yet" in body
    assert "  MEDIUM            247" in body


def test_untagged_image_is_named_by_its_digest(stack, inbox):
    digest = scanned_image(stack, "demo/worker", None, basic=[
        basic_finding("CVE-2026-30001", "HIGH", package="busybox", version="1.36.1"),
        basic_finding("CVE-2026-30002", "MEDIUM"),
    ])

    ok, result = stack.invoke(event_for("basic-scan-untagged.json", digest))

    assert ok, result
    alert = one_alert(stack, inbox)
    assert alert["subject"] == f"HIGH: 1 high in demo/worker@{digest[:19]}"
    assert "  Tags        (untagged)" in alert["message"]
    assert "CVE-2026-30001" in alert["message"]


def test_failed_scan_publishes_a_scan_failed_alert_with_ecrs_description(stack, inbox):
    digest = scanned_image(stack, "demo/legacy", "1.0.0", status="FAILED",
                           description="UnsupportedImageError: The operating system and/or package manager are not supported.")

    ok, result = stack.invoke(event_for("basic-scan-failed.json", digest))

    assert ok, result
    assert result["alert_kind"] == "scan_failed"
    alert = one_alert(stack, inbox)
    assert alert["subject"] == "Scan FAILED: demo/legacy:1.0.0"
    assert alert["attributes"]["alert_kind"] == "scan_failed"
    assert alert["attributes"]["repository"] == "demo/legacy"
    assert "WHAT ECR SAYS\n  UnsupportedImageError: The operating system and/or package manager are not supported." in alert["message"]


def test_findings_below_the_threshold_publish_nothing(stack, inbox):
    digest = scanned_image(stack, "demo/web", "below", basic=[
        basic_finding("CVE-2026-40001", "MEDIUM"),
        basic_finding("CVE-2026-40002", "LOW"),
        basic_finding("CVE-2026-40003", "UNDEFINED"),
    ])
    event = event_for("basic-scan-complete.json", digest)
    event["detail"]["image-tags"] = ["below"]

    ok, result = stack.invoke(event)

    assert ok, result
    assert result["outcome"] == "not_alerted"
    assert result["reason"] == "no finding at or above HIGH left by the policy"
    assert result["counts"] == {"MEDIUM": 1, "LOW": 1, "UNDEFINED": 1}
    assert received_alerts(stack, inbox) == []


def test_a_malformed_event_is_rejected_by_name_and_the_process_serves_the_next(stack, inbox):
    pid = stack.function.pid
    bad = event_for("basic-scan-complete.json", "sha256:00")
    bad["detail"]["image-digest"] = 12345

    ok, error = stack.invoke(bad)

    assert not ok
    assert error["errorType"] == "InvalidEvent"
    assert "detail.image-digest" in error["errorMessage"]
    assert received_alerts(stack, inbox, wait_seconds=0) == []

    digest = scanned_image(stack, "demo/web", "after-bad", basic=[basic_finding("CVE-2026-50001", "CRITICAL")])
    event = event_for("basic-scan-complete.json", digest)
    event["detail"]["image-tags"] = ["after-bad"]
    ok, result = stack.invoke(event)

    assert ok, result
    assert stack.function.alive() and stack.function.pid == pid, "same process served both events"
    assert one_alert(stack, inbox)["subject"] == "CRITICAL: 1 critical in demo/web:after-bad"


def test_an_event_without_detail_names_the_missing_field(stack, inbox):
    event = event_for("basic-scan-complete.json", "sha256:00")
    del event["detail"]

    ok, error = stack.invoke(event)

    assert not ok
    assert error["errorType"] == "InvalidEvent"
    assert "missing field `detail`" in error["errorMessage"]


def test_other_events_are_acknowledged_without_alert(stack, inbox):
    ok, result = stack.invoke({
        "version": "0", "id": "x", "detail-type": "ECR Image Action", "source": "aws.ecr",
        "account": "123456789012", "region": "us-east-1", "time": "2026-11-27T10:32:00Z",
        "resources": [], "detail": {"action-type": "PUSH"},
    })

    assert ok, result
    assert result["outcome"] == "ignored"
    assert received_alerts(stack, inbox) == []


def test_an_image_deleted_before_the_call_finishes_quietly(stack, inbox):
    digest = scanned_image(stack, "demo/web", "deleted", basic=[basic_finding("CVE-2026-60001", "CRITICAL")])
    stack.client("ecr").batch_delete_image(repositoryName="demo/web", imageIds=[{"imageDigest": digest}])

    ok, result = stack.invoke(event_for("basic-scan-complete.json", digest))

    assert ok, result
    assert result["outcome"] == "not_alerted"
    assert result["reason"] == "the image no longer exists"
    assert received_alerts(stack, inbox) == []


def test_an_invalid_setting_fails_the_cold_start_naming_the_variable(stack, inbox):
    log = stack.cold_start_log(SEVERITY_THRESHOLD="SEVERE")
    assert "SEVERITY_THRESHOLD" in log
    assert "INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL" in log


def test_scan_failure_alerts_can_be_switched_off(stack, inbox):
    digest = scanned_image(stack, "demo/legacy", "quiet", status="FAILED", description="UnsupportedImageError")
    event = event_for("basic-scan-failed.json", digest)
    event["detail"]["image-tags"] = ["quiet"]
    try:
        stack.start_function(ALERT_ON_SCAN_FAILURE="false")
        ok, result = stack.invoke(event)
    finally:
        stack.start_function()

    assert ok, result
    assert result["outcome"] == "not_alerted"
    assert "ALERT_ON_SCAN_FAILURE=false" in result["reason"]
    assert received_alerts(stack, inbox) == []


def test_a_critical_only_filter_policy_receives_only_critical_alerts(stack, inbox):
    high = scanned_image(stack, "demo/web", "route-high", basic=[basic_finding("CVE-2026-70001", "HIGH")])
    crit = scanned_image(stack, "demo/web", "route-crit", basic=[
        basic_finding("CVE-2026-70002", "CRITICAL"), basic_finding("CVE-2026-70003", "HIGH")])
    failed = scanned_image(stack, "demo/legacy", "route-failed", status="FAILED", description="UnsupportedImageError")
    for digest, tag, sample in ((high, "route-high", "basic-scan-complete.json"),
                                (crit, "route-crit", "basic-scan-complete.json"),
                                (failed, "route-failed", "basic-scan-failed.json")):
        event = event_for(sample, digest)
        event["detail"]["image-tags"] = [tag]
        ok, result = stack.invoke(event)
        assert ok, result

    everything = received_alerts(stack, inbox)
    paged = received_alerts(stack, stack.critical_queue_url)

    assert sorted(a["subject"] for a in everything) == [
        "CRITICAL: 1 critical, 1 high in demo/web:route-crit",
        "HIGH: 1 high in demo/web:route-high",
        "Scan FAILED: demo/legacy:route-failed",
    ]
    assert [a["subject"] for a in paged] == ["CRITICAL: 1 critical, 1 high in demo/web:route-crit"]


def test_the_chat_topic_gets_a_custom_notification_for_slack(stack, inbox):
    digest = scanned_image(stack, "demo/api", "chat", enhanced=[
        enhanced_finding("CVE-2026-80001", "CRITICAL", package="openssl", version="3.0.11", fixed_in="3.0.15", score=9.8),
        enhanced_finding("<!channel> CVE-2026-80002", "HIGH", package="<@U123> *pkg*", version="1"),
    ], status="ACTIVE")
    event = event_for("enhanced-scan-complete.json", digest)
    event["detail"]["image-tags"] = ["chat"]

    ok, result = stack.invoke(event)

    assert ok, result
    assert result["chat_message_id"]
    [chat] = received_alerts(stack, stack.chat_queue_url)
    assert chat["subject"] is None
    assert chat["attributes"]["severity"] == "CRITICAL"
    assert chat["attributes"]["repository"] == "demo/api"
    payload = json.loads(chat["message"])
    assert payload["version"] == "1.0" and payload["source"] == "custom"
    assert payload["content"]["textType"] == "client-markdown"
    assert payload["content"]["title"] == ":rotating_light: CRITICAL: 1 critical, 1 high in demo/api:chat"
    assert payload["metadata"]["threadId"] == f"123456789012/demo/api@{digest[:19]}"
    description = payload["content"]["description"]
    assert "<https://nvd.nist.gov/vuln/detail/CVE-2026-80001|`CVE-2026-80001`> `openssl@3.0.11` → `3.0.15`" in description
    assert "<!channel>" not in chat["message"] and "<@U123>" not in chat["message"]
    assert "`&lt;!channel&gt; CVE-2026-80002`" in description


def test_aws_unreachable_mid_run_is_transient_and_the_retry_alerts_once(stack, inbox):
    digest = scanned_image(stack, "demo/web", "fault", basic=[basic_finding("CVE-2026-98001", "CRITICAL")])
    event = event_for("basic-scan-complete.json", digest)
    event["detail"]["image-tags"] = ["fault"]

    stack.proxy.down = True
    try:
        ok, error = stack.invoke(event)
    finally:
        stack.proxy.down = False

    assert not ok
    assert error["errorType"] == "Transient.EcrUnavailable", error
    assert "ECR" in error["errorMessage"]
    assert received_alerts(stack, inbox) == []
    assert stack.function.alive()

    ok, result = stack.invoke(event)

    assert ok, result
    assert [a["subject"] for a in received_alerts(stack, inbox)] == ["CRITICAL: 1 critical in demo/web:fault"]


def test_each_event_prints_an_embedded_metric_format_line(stack, inbox):
    digest = scanned_image(stack, "demo/web", "metrics", basic=[
        basic_finding("CVE-2026-99001", "CRITICAL"), basic_finding("CVE-2026-99002", "LOW")])
    event = event_for("basic-scan-complete.json", digest)
    event["detail"]["image-tags"] = ["metrics"]

    ok, result = stack.invoke(event)

    assert ok, result
    lines = [json.loads(line) for line in stack.function.log_path.read_text().splitlines()
             if line.startswith("{") and '"_aws"' in line]
    metric = lines[-1]
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "EcrScanAlerts"
    assert metric["AlertsPublished"] == 1
    assert metric["FindingsCritical"] == 1 and metric["FindingsLow"] == 1
    assert metric["Failures"] == 0
    received_alerts(stack, inbox)


def test_a_scan_ecr_does_not_know_is_a_permanent_error(stack, inbox):
    ecr = stack.client("ecr")
    ensure_repository(ecr, "demo/web")
    digest = push_image(ecr, "demo/web", "never-scanned")  # no start_image_scan
    event = event_for("basic-scan-complete.json", digest)
    event["detail"]["image-tags"] = ["never-scanned"]

    ok, error = stack.invoke(event)

    assert not ok
    assert error["errorType"] == "ScanNotFound"
    assert "demo/web:never-scanned" in error["errorMessage"]
    assert received_alerts(stack, inbox) == []


def test_a_chat_publish_failing_after_the_email_is_retried_to_chat_only(stack, inbox):
    """With dedup on, the retry publishes only what is missing: no second email."""
    from harness.seed import dedup_table

    table = dedup_table(stack, "scan-alerts-chat-retry")
    missing_topic = stack.function_env["CHAT_TOPIC_ARN"] + "-not-created-yet"
    digest = scanned_image(stack, "demo/chat-retry", "v1", basic=[basic_finding("CVE-2026-90001", "CRITICAL")])
    event = event_for("basic-scan-complete.json", digest)
    event["detail"].update({"repository-name": "demo/chat-retry", "image-tags": ["v1"]})
    try:
        stack.start_function(DEDUP_TABLE_NAME=table, CHAT_TOPIC_ARN=missing_topic)
        ok, error = stack.invoke(event)
        assert not ok
        assert error["errorType"] == "SnsPublishRejected", error
        assert missing_topic in error["errorMessage"]
        assert len(received_alerts(stack, inbox)) == 1, "the email went out first"

        # The chat topic is fixed; Lambda's retry of the same event:
        stack.start_function(DEDUP_TABLE_NAME=table)
        ok, result = stack.invoke(event)

        assert ok, result
        assert received_alerts(stack, inbox) == [], "no second email"
        [chat] = received_alerts(stack, stack.chat_queue_url)
        assert json.loads(chat["message"])["content"]["title"].endswith("CRITICAL: 1 critical in demo/chat-retry:v1")
    finally:
        stack.start_function()


def test_an_unknown_handler_fails_the_cold_start_naming_it(stack, inbox):
    log = stack.cold_start_log(_HANDLER="bootstrap")
    assert "_HANDLER" in log and "`scan-events`" in log and "`finding-batches`" in log


def test_each_function_takes_only_its_own_event_type(stack, inbox):
    """The scan-events function acknowledges a Finding event without
    alerting; the finding-batches function rejects a scan event by name."""
    from harness.local import FINDINGS_FUNCTION_NAME
    from harness.seed import finding_event

    finding = finding_event("demo/entry", "sha256:" + "7" * 64, "CVE-2026-90101", "CRITICAL")
    ok, result = stack.invoke(finding)
    assert ok, result
    assert result["outcome"] == "ignored"
    assert "Inspector2 Finding" in result["reason"]

    ok, error = stack.invoke(event_for("basic-scan-complete.json", "sha256:" + "8" * 64),
                             function=FINDINGS_FUNCTION_NAME)
    assert not ok
    assert error["errorType"] == "InvalidEvent", error
    assert "Records" in error["errorMessage"], error
    assert received_alerts(stack, inbox, wait_seconds=0) == []
