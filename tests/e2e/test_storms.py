"""Layer 3: CVE storms. One vulnerability newly in more images than
STORM_THRESHOLD within the window becomes one storm alert (alert_kind
storm); per-image alerts leave it out; counts are kept in DynamoDB across
batches and consumers racing on one storm."""

import concurrent.futures
import datetime
import json
import time

import pytest

from harness.seed import (
    TIME_FORMS,
    dedup_table,
    enhanced_finding,
    enhanced_push,
    finding_event,
    received_alerts,
    sqs_batch,
)

THRESHOLD = 3


def digest(n):
    return f"sha256:{n:064x}"


@pytest.fixture(scope="module")
def storms(stack):
    table = dedup_table(stack, "scan-alerts-storms")
    stack.start_function(DEDUP_TABLE_NAME=table, STORM_TABLE_NAME=table, STORM_THRESHOLD=str(THRESHOLD))
    yield stack
    stack.start_function()


def hits(cve, images, repository="storm/svc", start=0, **finding):
    return [finding_event(f"{repository}-{i % 2}", digest(start + i), cve, "CRITICAL", package="glibc",
                          version="2.36", fixed_in="2.36-9+deb12u9", in_use=1 if i % 2 else 0, **finding)
            for i in range(images)]


def by_kind(alerts):
    out = {}
    for alert in alerts:
        out.setdefault(alert["attributes"]["alert_kind"], []).append(alert)
    return out


def test_at_or_below_the_threshold_each_image_alerts_as_today(storms, inbox):
    ok, response = storms.invoke(sqs_batch(hits("CVE-2026-66001", THRESHOLD, start=100)))

    assert ok and response == {"batchItemFailures": []}, response
    alerts = by_kind(received_alerts(storms, inbox))
    assert "storm" not in alerts
    assert len(alerts["findings"]) == THRESHOLD
    assert all("CVE-2026-66001" in a["message"] for a in alerts["findings"])


def test_past_the_threshold_one_storm_alert_and_per_image_alerts_without_it(storms, inbox):
    events = hits("CVE-2026-66002", THRESHOLD + 2, start=200)
    # One image also has a finding of its own: it still alerts, without the storm's.
    events.append(finding_event("storm/svc-0", digest(200), "CVE-2026-66003", "HIGH", package="curl"))

    ok, response = storms.invoke(sqs_batch(events))

    assert ok and response == {"batchItemFailures": []}, response
    alerts = by_kind(received_alerts(storms, inbox))
    [storm] = alerts["storm"]
    assert storm["subject"] == "STORM CRITICAL: CVE-2026-66002 in 5 images, 2 repositories"
    assert storm["attributes"]["vulnerability"] == "CVE-2026-66002"
    assert storm["attributes"]["severity"] == "CRITICAL"
    assert storm["attributes"]["in_use"] == "true"
    body = storm["message"]
    assert "newly affects 5 images in 2 repositories of 1 accounts" in body
    assert "Fix: upgrade glibc to 2.36-9+deb12u9." in body
    repos = body.split("BY REPOSITORY")[1]
    assert repos.index("storm/svc-1") < repos.index("storm/svc-0"), "running images first"
    [own] = alerts["findings"]
    assert own["subject"] == "HIGH: 1 high in storm/svc-0:v1"
    assert "CVE-2026-66002" not in own["message"].split("FINDINGS AT OR ABOVE")[1]
    assert "Part of a CVE storm, alerted on its own: CVE-2026-66002 (5 images)." in own["message"]
    # The documented CRITICAL pager takes alert_kind findings: a storm is
    # routed apart (docs/alerts.md says how to page on storms too).
    assert [a["subject"] for a in received_alerts(storms, storms.critical_queue_url)] == [], "routed apart"
    # The digest's "never alerted" asks whether a storm alert carried a
    # vulnerability: the storm leaves its mark, with a TTL.
    mark = storms.client("dynamodb").get_item(TableName="scan-alerts-storms",
                                              Key={"pk": {"S": "stormed#CVE-2026-66002"}}).get("Item")
    assert mark and int(mark["expires_at"]["N"]) > time.time() + 170 * 86_400, mark


def test_a_storm_counts_across_batches_and_alerts_once(storms, inbox):
    first = hits("CVE-2026-66004", 2, start=300)
    ok, _ = storms.invoke(sqs_batch(first))
    assert ok
    assert "storm" not in by_kind(received_alerts(storms, inbox)), "2 images: not yet a storm"

    ok, response = storms.invoke(sqs_batch(hits("CVE-2026-66004", 2, start=302)))
    assert ok and response == {"batchItemFailures": []}, response
    # The same images delivered again count once.
    ok, _ = storms.invoke(sqs_batch(first + hits("CVE-2026-66004", 1, start=304)))
    assert ok

    alerts = by_kind(received_alerts(storms, inbox))
    [storm] = alerts["storm"]
    assert storm["subject"] == "STORM CRITICAL: CVE-2026-66004 in 4 images, 2 repositories"
    assert "findings" not in alerts, "no per-image alert repeats the storm's vulnerability"


def test_two_consumers_racing_on_one_storm_alert_once_with_exact_counts(storms, inbox):
    other = storms.start_consumer("findings-function-2")
    batches = [(storms.findings_runtime_port, hits("CVE-2026-66005", 20, repository="race/a", start=400)),
               (other, hits("CVE-2026-66005", 20, repository="race/b", start=500))]

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda pb: storms.invoke_at(pb[0], sqs_batch(pb[1])), batches))

    assert all(ok and r == {"batchItemFailures": []} for ok, r in results), results
    alerts = by_kind(received_alerts(storms, inbox))
    [storm] = alerts["storm"]
    # Whichever consumer passed the threshold alerted; the later count is
    # in the store, exact: read it back.
    table = storms.client("dynamodb")
    items = table.scan(TableName="scan-alerts-storms")["Items"]
    [main] = [i for i in items if i["pk"]["S"].startswith("storm#CVE-2026-66005#") and i["pk"]["S"].count("#") == 2]
    assert len(main["images"]["SS"]) == 40
    assert len(main["repos"]["SS"]) == 4
    assert storm["subject"].startswith("STORM CRITICAL: CVE-2026-66005 in ")


def test_a_growing_storm_sends_a_follow_up_with_what_was_added(storms, inbox):
    table = "scan-alerts-storms"
    storms.start_function(DEDUP_TABLE_NAME=table, STORM_TABLE_NAME=table, STORM_THRESHOLD=str(THRESHOLD),
                          STORM_SUMMARY_MINUTES="0")
    try:
        ok, _ = storms.invoke(sqs_batch(hits("CVE-2026-66006", 4, start=600)))
        assert ok
        [started] = by_kind(received_alerts(storms, inbox))["storm"]
        assert started["subject"] == "STORM CRITICAL: CVE-2026-66006 in 4 images, 2 repositories"

        ok, _ = storms.invoke(sqs_batch(hits("CVE-2026-66006", 2, start=604)))
        assert ok
        [grew] = by_kind(received_alerts(storms, inbox))["storm"]
        assert grew["subject"] == "STORM update CRITICAL: CVE-2026-66006 in 6 images (+2)"
        assert "2 more images since the last storm alert (4)." in grew["message"]

        ok, _ = storms.invoke(sqs_batch(hits("CVE-2026-66006", 6, start=600)))
        assert ok
        assert received_alerts(storms, inbox) == [], "the same images again: nothing to add"
    finally:
        storms.start_function(DEDUP_TABLE_NAME=table, STORM_TABLE_NAME=table, STORM_THRESHOLD=str(THRESHOLD))


def test_without_a_table_a_storm_is_found_within_one_batch(storms, inbox):
    table = "scan-alerts-storms"
    storms.start_function(STORM_THRESHOLD=str(THRESHOLD))
    try:
        ok, response = storms.invoke(sqs_batch(hits("CVE-2026-66007", THRESHOLD + 1, start=700)))
        assert ok and response == {"batchItemFailures": []}, response
        alerts = by_kind(received_alerts(storms, inbox))
        [storm] = alerts["storm"]
        assert storm["subject"] == "STORM CRITICAL: CVE-2026-66007 in 4 images, 2 repositories"
        assert "findings" not in alerts

        ok, _ = storms.invoke(sqs_batch(hits("CVE-2026-66008", THRESHOLD, start=710)))
        assert ok
        alerts = by_kind(received_alerts(storms, inbox))
        assert "storm" not in alerts and len(alerts["findings"]) == THRESHOLD, "each batch alone: no storm"
    finally:
        storms.start_function(DEDUP_TABLE_NAME=table, STORM_TABLE_NAME=table, STORM_THRESHOLD=str(THRESHOLD))


def base_image_release(storms, prefix, pushes, time_form):
    """A release that rebuilds `pushes` images on one base image carrying
    the same CVE: each push's finding events (its initial scan) and its
    Inspector2 Scan event."""
    findings = [enhanced_finding("CVE-2026-66100", "CRITICAL", package="glibc", version="2.36",
                                 fixed_in="2.36-9+deb12u9")]
    return [enhanced_push(storms, f"{prefix}/svc-{i:02d}", findings, tag=f"r{i}", time_form=time_form, pushed_ago=20)
            for i in range(pushes)]


@pytest.mark.parametrize("time_form", TIME_FORMS)
def test_fresh_pushes_on_one_base_image_never_storm_and_each_push_alerts_once(storms, inbox, time_form):
    """Issue: initial-scan Finding events counted as "newly in" existing
    images, so 21 or more rebuilt images raised a false storm. 25 fresh
    pushes (the Inspector guide's form), or past the threshold in the others."""
    pushes = 25 if time_form == "inspector-guide" else THRESHOLD + 3
    release = base_image_release(storms, f"fresh-{time_form}", pushes, time_form)
    finding_events = [event for _, events, _ in release for event in events]

    batch = sqs_batch(finding_events)
    ok, response = storms.invoke(batch)

    assert ok, response
    waiting = {r["messageId"] for r in batch["Records"]}
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == waiting, \
        "an initial scan's findings wait in the queue for the Scan event"
    assert received_alerts(storms, inbox) == []
    for _, _, scan in release:
        ok, result = storms.invoke(scan)
        assert ok, result
    alerts = by_kind(received_alerts(storms, inbox))
    assert "storm" not in alerts
    assert len(alerts["findings"]) == pushes, [a["subject"] for a in alerts["findings"]]
    assert all("CVE-2026-66100" in a["message"] for a in alerts["findings"])
    # Redelivered once their wait is over: the Scan events' alerts covered them.
    table = "scan-alerts-storms"
    storms.start_function(DEDUP_TABLE_NAME=table, STORM_TABLE_NAME=table, STORM_THRESHOLD=str(THRESHOLD),
                          RECHECK_DELAY_SECONDS="1")
    try:
        time.sleep(1)
        ok, response = storms.invoke(batch)
        assert ok and response == {"batchItemFailures": []}, response
        assert received_alerts(storms, inbox) == [], "one alert per push"
    finally:
        storms.start_function(DEDUP_TABLE_NAME=table, STORM_TABLE_NAME=table, STORM_THRESHOLD=str(THRESHOLD))


def test_twenty_five_rescanned_images_with_a_new_cve_make_one_storm(storms, inbox):
    events = [finding_event(f"rescan/svc-{i % 5}", digest(900 + i), "CVE-2026-66101", "CRITICAL", package="glibc",
                            version="2.36", time_form="inspector-guide") for i in range(25)]

    ok, response = storms.invoke(sqs_batch(events))

    assert ok and response == {"batchItemFailures": []}, response
    alerts = by_kind(received_alerts(storms, inbox))
    [storm] = alerts["storm"]
    assert storm["subject"] == "STORM CRITICAL: CVE-2026-66101 in 25 images, 5 repositories"
    assert "findings" not in alerts


def test_an_update_wave_on_long_known_findings_makes_no_storm(storms, inbox):
    """Inspector sends Finding events when a finding is updated too (a new
    score or EPSS): findings first observed weeks ago, updated now in many
    images, are not "newly" anywhere."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    first = now - datetime.timedelta(days=30)
    events = [finding_event(f"wave/svc-{i % 3}", digest(1000 + i), "CVE-2026-66102", "CRITICAL", package="glibc",
                            version="2.36", epss=0.93, pushed_at=first - datetime.timedelta(days=7),
                            first_observed_at=first, updated_at=now)
              for i in range(THRESHOLD * 4)]

    ok, response = storms.invoke(sqs_batch(events))

    assert ok and response == {"batchItemFailures": []}, response
    alerts = by_kind(received_alerts(storms, inbox))
    assert "storm" not in alerts
    # Never alerted before, so each image alerts: with the CVE, not a storm.
    assert len(alerts["findings"]) == THRESHOLD * 4
    assert all("CVE-2026-66102" in a["message"] for a in alerts["findings"])


def test_an_unreadable_time_is_reported_and_never_makes_a_storm(storms, inbox):
    events = hits("CVE-2026-66103", THRESHOLD + 2, start=1100)
    for event in events:
        event["detail"]["firstObservedAt"] = "N/A"
    log = storms.findings_function.log_path
    before = len(log.read_text().splitlines())

    ok, response = storms.invoke(sqs_batch(events))

    assert ok and response == {"batchItemFailures": []}, response
    alerts = by_kind(received_alerts(storms, inbox))
    assert "storm" not in alerts
    assert len(alerts["findings"]) == THRESHOLD + 2, "unknown times alert, as a rescan's findings"
    lines = log.read_text().splitlines()[before:]
    warnings = [line for line in lines if "unreadable time" in line]
    assert len(warnings) == THRESHOLD + 2
    assert "detail.firstObservedAt" in warnings[0] and "N/A" in warnings[0]
    metrics = [json.loads(line) for line in lines if line.startswith("{") and '"UnreadableTimestamps"' in line]
    assert sum(m["UnreadableTimestamps"] for m in metrics) == THRESHOLD + 2
