"""Layer 3: what AWS does that a naive local stack would not, reproduced on
demand and driven end to end (the ECR and Inspector user guides' enhanced scanning events; findings
lag, scan statuses, timeouts).

- An enhanced push brings one `Inspector2 Finding` event per finding, first
  observed seconds after the push and usually before the `Inspector2 Scan`
  event: the push must alert once, whichever arrives first.
- AWS's Finding events say region and partition "N/A" on the image resource.
- Findings can reach ECR after the scan says done.
- An endpoint can accept a request and never answer.
"""

import time

import pytest

from harness.seed import (
    dedup_table,
    enhanced_finding,
    enhanced_push,
    event_for,
    finding_event,
    finding_event_of,
    received_alerts,
    scanned_image,
    sqs_batch,
    TIME_FORMS,
)


def push_findings(prefix):
    return [
        enhanced_finding(f"CVE-2026-{prefix}1", "CRITICAL", package="openssl", version="3.0.11", fixed_in="3.0.15"),
        enhanced_finding(f"CVE-2026-{prefix}2", "HIGH", package="libcurl"),
        enhanced_finding(f"CVE-2026-{prefix}3", "MEDIUM", package="zlib", version="1.2.13", fixed_in="1.3.1"),
    ]


@pytest.fixture(params=["no dedup table", "dedup table"])
def settings(request, stack):
    """The function with the default settings, and with dedup on."""
    if request.param == "dedup table":
        stack.start_function(DEDUP_TABLE_NAME=dedup_table(stack, "scan-alerts-fidelity"))
    else:
        stack.start_function()
    yield request.param
    stack.start_function()


@pytest.mark.parametrize("time_form", TIME_FORMS)
@pytest.mark.parametrize("order", ["finding events first", "scan event first"])
def test_an_enhanced_push_alerts_once_in_either_order(stack, inbox, settings, order, time_form):
    """Each form of time AWS's samples write (harness.seed.inspector_time):
    the finding events of the push are told from a rescan's, whatever the form."""
    repository = f"push/{'dedup' if settings == 'dedup table' else 'plain'}-{order.split()[0]}-{time_form}"
    digest, finding_events, scan_event = enhanced_push(stack, repository, push_findings(order[:2].upper()),
                                                       time_form=time_form)
    deliveries = [sqs_batch(finding_events), scan_event]
    if order == "scan event first":
        deliveries.reverse()

    results = [stack.invoke(event) for event in deliveries]

    assert all(ok for ok, _ in results), results
    alerts = received_alerts(stack, inbox)
    assert len(alerts) == 1, [a["subject"] for a in alerts]
    assert alerts[0]["subject"] == f"CRITICAL: 1 critical, 1 high in {repository}:v1"
    assert "Continuous scanning" not in alerts[0]["message"], "the scan event's alert, with the whole image"


@pytest.mark.parametrize("time_form", TIME_FORMS)
def test_a_finding_first_observed_long_after_the_push_alerts_once(stack, inbox, settings, time_form):
    repository = f"push/rescan-{'dedup' if settings == 'dedup table' else 'plain'}-{time_form}"
    digest, finding_events, scan_event = enhanced_push(stack, repository, push_findings("RS"), time_form=time_form)
    for event in (sqs_batch(finding_events), scan_event):
        assert stack.invoke(event)[0]
    assert len(received_alerts(stack, inbox)) == 1

    # Weeks later Inspector finds a new CVE in the same image (finding_event's
    # default: first observed a week after the push).
    new = finding_event(repository, digest, "CVE-2026-88001", "CRITICAL", package="glibc", version="2.36",
                        time_form=time_form)
    ok, response = stack.invoke(sqs_batch([new]))

    assert ok and response == {"batchItemFailures": []}, response
    [alert] = received_alerts(stack, inbox)
    assert alert["subject"] == f"CRITICAL: 1 critical in {repository}:v1"
    assert "CVE-2026-88001" in alert["message"]


def test_continuous_alerts_take_the_region_from_the_image_arn_not_n_a(stack, inbox):
    digest = "sha256:" + "9" * 64
    event = finding_event("push/region", digest, "CVE-2026-88101", "HIGH")
    resource = event["detail"]["resources"][0]
    assert (resource["region"], resource["partition"]) == ("N/A", "N/A"), "AWS's sample shape"

    ok, response = stack.invoke(sqs_batch([event]))

    assert ok and response == {"batchItemFailures": []}, response
    [alert] = received_alerts(stack, inbox)
    assert alert["attributes"]["region"] == "us-east-1"
    assert "N/A" not in alert["message"]
    assert "https://us-east-1.console.aws.amazon.com/ecr/" in alert["message"]


def test_both_paths_key_one_image_alike(stack, inbox):
    """With dedup, the scan path's alert covers the same findings arriving
    later as rescan events: the image has one key whichever path saw it."""
    stack.start_function(DEDUP_TABLE_NAME=dedup_table(stack, "scan-alerts-fidelity-keys"))
    try:
        findings = push_findings("KY")
        digest = scanned_image(stack, "push/keys", "v1", enhanced=findings, status="ACTIVE")
        scan = event_for("enhanced-scan-complete.json", digest)
        scan["detail"]["repository-name"] = "arn:aws:ecr:us-east-1:123456789012:repository/push/keys"
        scan["detail"]["image-tags"] = ["v1"]
        assert stack.invoke(scan)[0]
        assert len(received_alerts(stack, inbox)) == 1
        again = [finding_event_of("push/keys", digest, f) for f in findings]

        ok, response = stack.invoke(sqs_batch(again))

        assert ok and response == {"batchItemFailures": []}, response
        assert received_alerts(stack, inbox) == [], "already alerted by the scan path"
    finally:
        stack.start_function()


def test_findings_that_reach_ecr_late_are_read_again(stack, inbox):
    critical, high, medium = push_findings("LG")
    digest = scanned_image(stack, "push/late", "v1", enhanced=[medium, critical, high], status="ACTIVE")
    # The first two reads see only the medium finding.
    stack.proxy.lag[digest] = {"reads": 2, "visible": 1}
    event = event_for("enhanced-scan-complete.json", digest)
    event["detail"]["repository-name"] = "arn:aws:ecr:us-east-1:123456789012:repository/push/late"
    calls = stack.proxy.describe_calls

    ok, result = stack.invoke(event)

    assert ok, result
    assert stack.proxy.describe_calls - calls == 3, "two short reads, then the whole scan"
    [alert] = received_alerts(stack, inbox)
    assert alert["subject"].startswith("CRITICAL: 1 critical, 1 high in push/late")
    assert "Incomplete" not in alert["message"]


def test_findings_still_missing_after_the_wait_alert_with_a_line_saying_so(stack, inbox):
    stack.start_function(FINDINGS_WAIT_SECONDS="2")
    try:
        digest = scanned_image(stack, "push/missing", "v1", enhanced=push_findings("MS"), status="ACTIVE")
        stack.proxy.lag[digest] = {"reads": 1000, "visible": 1}
        event = event_for("enhanced-scan-complete.json", digest)
        event["detail"]["repository-name"] = "arn:aws:ecr:us-east-1:123456789012:repository/push/missing"

        ok, result = stack.invoke(event)

        assert ok, result
        [alert] = received_alerts(stack, inbox)
        assert alert["subject"].startswith("CRITICAL: 1 critical in push/missing")
        assert ("Incomplete: the scan reported 3 finding(s); ECR has returned 1 so far "
                "(2 not yet readable after waiting 2 s)") in alert["message"]
    finally:
        stack.proxy.lag.clear()
        stack.start_function()


@pytest.mark.parametrize("status", ["SCAN_ELIGIBILITY_EXPIRED", "IMAGE_ARCHIVED", "FINDINGS_UNAVAILABLE"])
def test_a_scan_with_no_current_findings_is_reported_not_passed(stack, inbox, status):
    repository = f"push/{status.lower().replace('_', '-')}"
    digest = scanned_image(stack, repository, "v1", enhanced=[], status=status)
    event = event_for("enhanced-scan-complete.json", digest)
    event["detail"]["repository-name"] = f"arn:aws:ecr:us-east-1:123456789012:repository/{repository}"

    ok, result = stack.invoke(event)

    assert ok, result
    [alert] = received_alerts(stack, inbox)
    assert alert["subject"] == f"Scan {status}: {repository}:v2.4.1"
    assert alert["attributes"]["alert_kind"] == "scan_failed"


def test_a_hung_endpoint_fails_the_call_as_transient_and_the_retry_alerts_once(stack, inbox):
    digest = scanned_image(stack, "push/hung", "v1", enhanced=push_findings("HG"), status="ACTIVE")
    event = event_for("enhanced-scan-complete.json", digest)
    event["detail"]["repository-name"] = "arn:aws:ecr:us-east-1:123456789012:repository/push/hung"
    stack.proxy.hang = True
    try:
        # Without timeouts the call would hang for minutes and this invoke
        # would give up first.
        ok, error = stack.invoke(event, timeout=45)
    finally:
        stack.proxy.unhang()

    assert not ok
    assert error["errorType"] == "Transient.EcrUnavailable", error
    assert "timed out" in error["errorMessage"], error
    assert received_alerts(stack, inbox, wait_seconds=0) == []

    ok, result = stack.invoke(event)

    assert ok, result
    [alert] = received_alerts(stack, inbox)
    assert alert["subject"].startswith("CRITICAL: 1 critical, 1 high in push/hung")


def test_a_lost_scan_event_still_alerts_the_push_once_after_the_wait(stack, inbox):
    """EventBridge delivers events on a best-effort basis: with dedup, the
    initial scan's Finding events wait in the queue for the Scan event, and
    alert themselves when it has not come."""
    stack.start_function(DEDUP_TABLE_NAME=dedup_table(stack, "scan-alerts-fidelity-lost"))
    try:
        digest, finding_events, _lost = enhanced_push(stack, "push/lost-scan", push_findings("LS"),
                                                      time_form="inspector-guide", pushed_ago=20)
        batch = sqs_batch(finding_events)

        ok, response = stack.invoke(batch)

        assert ok
        assert len(response["batchItemFailures"]) == len(finding_events), "returned to the queue to wait"
        assert received_alerts(stack, inbox) == []

        # SQS delivers them again after its visibility timeout; their wait
        # (RECHECK_DELAY_SECONDS) is over and no Scan event came.
        stack.start_function(DEDUP_TABLE_NAME="scan-alerts-fidelity-lost", RECHECK_DELAY_SECONDS="1")
        time.sleep(1)
        ok, response = stack.invoke(batch)

        assert ok and response == {"batchItemFailures": []}, response
        [alert] = received_alerts(stack, inbox)
        assert alert["subject"] == "CRITICAL: 1 critical, 1 high in push/lost-scan:v1"
        assert "Inspector2 Scan event had not been alerted" in alert["message"]

        ok, response = stack.invoke(batch)
        assert ok and response == {"batchItemFailures": []}, response
        assert received_alerts(stack, inbox) == [], "once"
    finally:
        stack.start_function()


def test_without_dedup_the_scan_event_alone_alerts_an_initial_scans_findings(stack, inbox):
    """Without the dedup table nothing says whether the Scan event alerted:
    the finding events neither wait nor alert (docs/continuous-scanning.md)."""
    digest, finding_events, scan = enhanced_push(stack, "push/no-dedup-wait", push_findings("ND"), pushed_ago=20)

    ok, response = stack.invoke(sqs_batch(finding_events))

    assert ok and response == {"batchItemFailures": []}, response
    assert received_alerts(stack, inbox) == []
    assert stack.invoke(scan)[0]
    assert len(received_alerts(stack, inbox)) == 1


def test_the_local_stack_can_add_aws_latency_to_every_answer(stack):
    """LOCAL_AWS_LATENCY_MS (or the proxy's latency_ms) delays each answer:
    the batch path's waiting is measured with it (make bench, wave)."""
    from harness.paging_proxy import latency_from_env

    assert latency_from_env("20") == (20.0, 0.0)
    assert latency_from_env("20:5") == (20.0, 5.0)
    assert latency_from_env("") == (0.0, 0.0)
    with pytest.raises(SystemExit, match="LOCAL_AWS_LATENCY_MS"):
        latency_from_env("soon")
    sns = stack.client("sns")
    stack.proxy.latency_ms = 300
    try:
        started = time.monotonic()
        sns.list_topics()
        waited = time.monotonic() - started
    finally:
        stack.proxy.latency_ms = 0.0
    assert waited >= 0.3, "at least the latency asked for"


def test_an_edited_policy_document_survives_the_upgrade_deploy(stack, tmp_path, monkeypatch):
    """`make deploy` keeps an edited `/<stack>/policy` across the one deploy
    that rewrites the value older templates wrote (tools/keep_policy.py)."""
    import importlib.util

    from harness.local import ROOT

    spec = importlib.util.spec_from_file_location("keep_policy", ROOT / "tools" / "keep_policy.py")
    keep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(keep)
    monkeypatch.setattr(keep, "SAVED", tmp_path / "saved")
    ssm = stack.client("ssm")
    edited = '{"version": 1, "threshold": "HIGH", "allow": [{"id": "CVE-1", "reason": "accepted"}]}'
    ssm.put_parameter(Name="/kept/policy", Value=edited, Type="String")
    ssm.put_parameter(Name="/plain/policy", Value='{"version": 1, "threshold": "HIGH"}', Type="String")

    for name in ("kept", "plain", "absent"):
        assert keep.save(ssm, name) == 0
    # The upgrade deploy writes the new template's value over both.
    for name in ("kept", "plain"):
        ssm.put_parameter(Name=f"/{name}/policy", Value='{"version": 1}', Type="String", Overwrite=True)
    for name in ("kept", "plain", "absent"):
        assert keep.restore(ssm, name) == 0

    assert ssm.get_parameter(Name="/kept/policy")["Parameter"]["Value"] == edited, "the edited document is back"
    assert ssm.get_parameter(Name="/plain/policy")["Parameter"]["Value"] == '{"version": 1}', \
        "the old template's own value was nobody's: left as the new template writes it"
    assert not list((tmp_path / "saved").glob("*.json")), "nothing kept after the deploy"
