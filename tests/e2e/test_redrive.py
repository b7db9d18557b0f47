"""Layer 3: replaying the failure queue after an outage (tools/redrive.py)
against the local stack: SQS in moto, the function through the Lambda
runtime emulator's Invoke API."""

import json
import os
import subprocess
import sys

from harness.local import AWS_ENV, FUNCTION_NAME, ROOT
from harness.seed import basic_finding, event_for, received_alerts, scanned_image


def run_redrive(stack, queue_url, *extra):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **AWS_ENV,
           "AWS_ENDPOINT_URL": stack.endpoint_url,
           "AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{stack.runtime_port}"}
    return subprocess.run([sys.executable, str(ROOT / "tools" / "redrive.py"), "--queue-url", queue_url,
                           "--function-name", FUNCTION_NAME, *extra],
                          env=env, capture_output=True, text=True, timeout=120)


def test_failed_events_are_replayed_once_and_bad_ones_stay(stack, inbox):
    sqs = stack.client("sqs")
    queue_url = sqs.create_queue(QueueName="scan-alerts-failures")["QueueUrl"]
    a = scanned_image(stack, "demo/web", "redrive-a", basic=[basic_finding("CVE-2026-99101", "CRITICAL")])
    b = scanned_image(stack, "demo/web", "redrive-b", basic=[basic_finding("CVE-2026-99102", "HIGH")])
    event_a, event_b = event_for("basic-scan-complete.json", a), event_for("basic-scan-complete.json", b)
    event_a["detail"]["image-tags"], event_b["detail"]["image-tags"] = ["redrive-a"], ["redrive-b"]
    # As the function's OnFailure destination writes it...
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({
        "version": "1.0", "timestamp": "2026-11-27T10:00:00.000Z",
        "requestContext": {"requestId": "r1", "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": event_a,
        "responsePayload": {"errorType": "Transient.EcrUnavailable", "errorMessage": "ECR unreachable"}}))
    # ...as the rule's dead-letter queue keeps it...
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event_b))
    # ...and an event that fails again.
    bad = event_for("basic-scan-complete.json", "sha256:00")
    bad["detail"]["image-digest"] = 42
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"requestPayload": bad}))

    first = run_redrive(stack, queue_url)

    assert first.returncode == 1, first.stdout + first.stderr
    assert "2 replayed, 1 failed, 0 skipped" in first.stdout
    assert "FAIL" in first.stdout and "left in the queue" in first.stdout
    subjects = sorted(a["subject"] for a in received_alerts(stack, inbox))
    assert subjects == ["CRITICAL: 1 critical in demo/web:redrive-a", "HIGH: 1 high in demo/web:redrive-b"]

    # Only the bad event is left: in flight now, visible again after its timeout.
    counts = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert int(counts["ApproximateNumberOfMessages"]) + int(counts["ApproximateNumberOfMessagesNotVisible"]) == 1


def test_finding_events_in_the_rule_dlq_go_back_to_the_findings_queue(stack, inbox):
    """The rule DLQ can hold Inspector2 Finding events: they are never
    replayed into the scan function (which would acknowledge them without an
    alert), only sent back to the findings queue when it is named."""
    from harness.seed import finding_event

    sqs = stack.client("sqs")
    dlq = sqs.create_queue(QueueName="scan-alerts-rule-dlq")["QueueUrl"]
    findings_queue = sqs.create_queue(QueueName="scan-alerts-findings-redrive")["QueueUrl"]
    event = finding_event("demo/redrive-findings", "sha256:" + "5" * 64, "CVE-2026-99201", "CRITICAL")
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(event))

    kept = run_redrive(stack, dlq)

    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "0 replayed, 0 failed, 1 skipped" in kept.stdout
    assert "--findings-queue-url" in kept.stdout
    assert received_alerts(stack, inbox, wait_seconds=0) == []

    # (The skipped message stays, in flight for its visibility timeout.) The
    # same event in a queue replayed with the findings queue named:
    dlq = sqs.create_queue(QueueName="scan-alerts-rule-dlq-2")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(event))
    moved = run_redrive(stack, dlq, "--findings-queue-url", findings_queue)

    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "1 replayed, 0 failed, 0 skipped" in moved.stdout
    [message] = sqs.receive_message(QueueUrl=findings_queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(message["Body"]) == event
    counts = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert counts["Attributes"]["ApproximateNumberOfMessages"] == "0"
