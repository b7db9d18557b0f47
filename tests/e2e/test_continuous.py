"""Layer 3: continuous scanning. `Inspector2 Finding` events arrive in SQS
batches (as Lambda's event source mapping delivers them) and become one
alert per image per batch, with dedup, partial batch failures and the
"also in other images" note."""

import pytest

from harness.seed import dedup_table, finding_event, received_alerts, sqs_batch

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64


@pytest.fixture(scope="module")
def continuous(stack):
    table = dedup_table(stack, "scan-alerts-continuous")
    stack.start_function(DEDUP_TABLE_NAME=table)
    yield stack
    stack.start_function()


def test_a_burst_of_400_finding_events_gives_one_alert_per_image(continuous, inbox):
    events = []
    # One CVE in a shared base image reaches all three images...
    for digest, repo in ((A, "cont/web"), (B, "cont/api"), (C, "cont/worker")):
        events.append(finding_event(repo, digest, "CVE-2026-77001", "CRITICAL", package="glibc", version="2.36"))
    # ...and each image has its own findings, most of them below the threshold.
    for i in range(300):
        events.append(finding_event("cont/web", A, f"CVE-2025-{i:05d}", "MEDIUM", package=f"lib{i}"))
    for i in range(80):
        events.append(finding_event("cont/api", B, f"CVE-2024-{i:05d}", "LOW", package=f"pkg{i}"))
    events.append(finding_event("cont/api", B, "CVE-2026-77002", "HIGH", package="curl", version="7.88.1"))
    for i in range(15):
        events.append(finding_event("cont/worker", C, f"CVE-2023-{i:05d}", "MEDIUM", package=f"m{i}"))
    events.append(finding_event("cont/worker", C, "CVE-2026-77003", "HIGH", status="CLOSED", package="bash"))
    assert len(events) == 400

    ok, response = continuous.invoke(sqs_batch(events))

    assert ok, response
    assert response == {"batchItemFailures": []}
    alerts = {a["attributes"]["repository"]: a for a in received_alerts(continuous, inbox)}
    assert sorted(alerts) == ["cont/api", "cont/web", "cont/worker"]
    assert alerts["cont/web"]["subject"] == "CRITICAL: 1 critical in cont/web:v1"
    assert alerts["cont/api"]["subject"] == "CRITICAL: 1 critical, 1 high in cont/api:v1"
    web = alerts["cont/web"]["message"]
    assert "CVE-2026-77001 (also in 2 other images in this batch)" in web
    assert "Continuous scanning: Amazon Inspector reported 301 finding(s)" in web
    assert "CVE-2026-77002" in alerts["cont/api"]["message"]
    assert "Resolved (closed by Inspector): CVE-2026-77003." in alerts["cont/worker"]["message"]


def test_a_malformed_message_fails_alone(continuous, inbox):
    good = finding_event("cont/solo", "sha256:" + "d" * 64, "CVE-2026-77101", "CRITICAL")
    broken = finding_event("cont/solo", "sha256:" + "e" * 64, "CVE-2026-77102", "CRITICAL")
    broken["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"] = 12
    batch = sqs_batch([good, "{not json", broken])
    ids = [r["messageId"] for r in batch["Records"]]

    ok, response = continuous.invoke(batch)

    assert ok, response
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(ids[1:])
    [alert] = received_alerts(continuous, inbox)
    assert alert["subject"] == "CRITICAL: 1 critical in cont/solo:v1"


def test_the_same_finding_in_the_next_batch_is_not_alerted_again(continuous, inbox):
    digest = "sha256:" + "f" * 64
    first = [finding_event("cont/again", digest, "CVE-2026-77201", "HIGH")]
    ok, _ = continuous.invoke(sqs_batch(first))
    assert ok
    assert len(received_alerts(continuous, inbox)) == 1

    ok, response = continuous.invoke(sqs_batch(first + [finding_event("cont/again", digest, "CVE-2026-77202", "LOW")]))

    assert ok, response
    assert response == {"batchItemFailures": []}
    assert received_alerts(continuous, inbox) == []

    ok, _ = continuous.invoke(sqs_batch(first + [finding_event("cont/again", digest, "CVE-2026-77203", "CRITICAL")]))
    assert ok
    [alert] = received_alerts(continuous, inbox)
    assert alert["subject"] == "CRITICAL: 1 critical in cont/again:v1"
    listed, still_open = alert["message"].split("FINDINGS AT OR ABOVE")[1].split("Still open")
    assert "CVE-2026-77201" not in listed
    assert "CVE-2026-77201" in still_open, "named among those alerted before"


def test_a_failed_entry_of_a_publish_batch_fails_only_its_image_and_alerts_on_redelivery(stack, inbox):
    """SNS can answer a PublishBatch with 200 and list some entries as
    failed: only those images' messages are redelivered, their claims were
    given back, and the redelivery alerts them once."""
    from harness.seed import dedup_table

    stack.start_function(DEDUP_TABLE_NAME=dedup_table(stack, "scan-alerts-partial"))
    try:
        events = [finding_event(repo, "sha256:" + c * 64, f"CVE-2026-7730{i}", "CRITICAL")
                  for i, (repo, c) in enumerate((("part/ok-1", "1"), ("part/fail-me", "2"), ("part/ok-2", "3")))]
        batch = sqs_batch(events)
        stack.proxy.fail_publish_containing = "part/fail-me"
        try:
            ok, response = stack.invoke(batch)
        finally:
            stack.proxy.fail_publish_containing = None

        assert ok, response
        failed_ids = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        assert failed_ids == [batch["Records"][1]["messageId"]], "exactly the failed image's message"
        assert sorted(a["attributes"]["repository"] for a in received_alerts(stack, inbox)) == [
            "part/ok-1", "part/ok-2"]

        # SQS delivers the failed message again: its image alerts now, once.
        redelivery = {"Records": [batch["Records"][1]]}
        ok, response = stack.invoke(redelivery)
        assert ok and response == {"batchItemFailures": []}, response
        assert [a["attributes"]["repository"] for a in received_alerts(stack, inbox)] == ["part/fail-me"]
        ok, response = stack.invoke(batch)
        assert ok and response == {"batchItemFailures": []}, response
        assert received_alerts(stack, inbox) == [], "nothing twice"
    finally:
        stack.start_function()
