"""`make storm`: a CVE storm at scale on the local stack.

5,000 `Inspector2 Finding` events for one new CVE across 5,000 images in
300 repositories of 20 accounts, mixed with 500 ordinary finding events
(each its own image and CVE), shuffled and delivered as SQS batches to
several findings functions running at once (as Lambda's event source
mapping does), with the storm counted in DynamoDB. Messages a batch reports
failed are delivered again, up to the queue's five receives, then counted
as dead-lettered.

Checks: exactly one storm alert for the CVE, every ordinary event's alert
once, none of them repeating the storm's CVE, nothing dead-lettered, and
the store's counts exact (5,000 images, 300 repositories, 20 accounts).
Prints events/s, the consumers' CPU per 1,000 events, their peak RSS and
the AWS calls per event (LOCAL_AWS_LATENCY_MS adds AWS's latency).
"""

import argparse
import concurrent.futures
import json
import os
import random
import sys
import time
from pathlib import Path

from .local import ROOT, LocalStack, built_binary
from .seed import alert_queue, dedup_table, finding_event, received_alerts, sqs_batch

CVE = "CVE-2026-99999"
STORM_IMAGES = 5_000
REPOSITORIES = 300
ACCOUNTS = 20
ORDINARY = 500
CONSUMERS = 4
BATCH = 500
MAX_RECEIVES = 5
TABLE = "scan-alerts-storm-load"


def account(n):
    return f"{100000000000 + n:012d}"


def in_account(event, acct):
    """The event moved to another account of the organisation (the image's
    ARN, its registry and the envelope, as a member's forwarded event)."""
    text = json.dumps(event).replace("123456789012", acct)
    return json.loads(text)


def storm_events():
    events = []
    for i in range(STORM_IMAGES):
        repo = i % REPOSITORIES
        acct = account(repo % ACCOUNTS)
        event = finding_event(f"team-{repo:03d}/service", f"sha256:{i:064x}", CVE, "CRITICAL", package="zlib",
                              version="1.2.13", fixed_in="1.3.1", in_use=i % 3)
        events.append(in_account(event, acct))
    return events


def ordinary_events():
    return [finding_event(f"ordinary/app-{i % 50:02d}", f"sha256:{10**9 + i:064x}", f"CVE-2026-{10000 + i}", "HIGH",
                          package=f"lib{i}", version="1.0", fixed_in="1.1")
            for i in range(ORDINARY)]


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=None)
    args = parser.parse_args()
    binary = Path(args.binary) if args.binary else built_binary()
    random.seed(7)
    events = storm_events() + ordinary_events()
    random.shuffle(events)
    failures = []
    with LocalStack(binary, ROOT / ".local" / "storm-logs") as stack:
        topic_arn, queue_url = alert_queue(stack, "storm-alerts")
        table = dedup_table(stack, TABLE)
        stack.function_env.update(ALERT_TOPIC_ARN=topic_arn, METRICS="false")
        stack.start_function(DEDUP_TABLE_NAME=table, STORM_TABLE_NAME=table)
        ports = [stack.findings_runtime_port] + [stack.start_consumer(f"consumer-{i}") for i in range(1, CONSUMERS)]
        processes = [stack.findings_function] + [p for _, p in stack.consumers]
        cpu_before = sum(cpu_seconds(p.pid) for p in processes)
        calls_before = stack.proxy.requests
        print(f"storm: {len(events):,} finding events ({STORM_IMAGES:,} for {CVE} in {REPOSITORIES} repositories of "
              f"{ACCOUNTS} accounts, {ORDINARY} ordinary), batches of {BATCH}, {CONSUMERS} consumers at once")
        receives = {}
        pending = list(enumerate(events))
        dead = []
        started = time.monotonic()
        rounds = 0
        while pending:
            rounds += 1
            batches = [pending[i:i + BATCH] for i in range(0, len(pending), BATCH)]
            pending = []

            def deliver(job):
                port, batch = job
                body = sqs_batch([e for _, e in batch])
                ok, response = stack.invoke_at(port, body, timeout=300)
                ids = [r["messageId"] for r in body["Records"]]
                if not ok:
                    return batch
                failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
                return [item for item, mid in zip(batch, ids) if mid in failed]

            jobs = [(ports[i % len(ports)], b) for i, b in enumerate(batches)]
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(ports)) as pool:
                for failed in pool.map(deliver, jobs):
                    for index, event in failed:
                        receives[index] = receives.get(index, 1) + 1
                        (dead if receives[index] > MAX_RECEIVES else pending).append((index, event))
        took = time.monotonic() - started
        cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu_before
        calls = stack.proxy.requests - calls_before
        rss = max(peak_rss_kb(p.pid) for p in processes)
        alerts = []
        while True:
            got = received_alerts(stack, queue_url, wait_seconds=1)
            if not got:
                break
            alerts += got
        storms = [a for a in alerts if a["attributes"].get("alert_kind") == "storm"]
        findings = [a for a in alerts if a["attributes"].get("alert_kind") == "findings"]
        repeat = [a["subject"] for a in findings if CVE in a["message"].split("FINDINGS AT OR ABOVE")[-1]]
        ddb = stack.client("dynamodb")
        items = ddb.scan(TableName=table)["Items"]
        main_items = [i for i in items if i["pk"]["S"].startswith(f"storm#{CVE}#") and i["pk"]["S"].count("#") == 2]
        counted = (len(main_items[0]["images"]["SS"]), len(main_items[0]["repos"]["SS"]),
                   len(main_items[0]["accounts"]["SS"])) if len(main_items) == 1 else None
        ordinary_alerted = {a["attributes"]["repository"] + "@" + a["message"].split("Digest      ")[1].split()[0]
                            for a in findings if a["attributes"]["repository"].startswith("ordinary/")}
        print(f"delivered in {took:.1f} s over {rounds} round(s): {len(events) / took:,.0f} events/s; "
              f"consumers' CPU {cpu * 1000 / len(events) * 1000:,.0f} ms per 1,000 events "
              f"({cpu:.2f} s in all); peak RSS of a consumer {rss / 1024:.1f} MB; "
              f"AWS calls {calls / len(events):.2f} per event ({calls:,} in all"
              f"{f', {stack.proxy.latency_ms:.0f} ms of latency added to each' if stack.proxy.latency_ms else ''})")
        print(f"alerts: {len(storms)} storm, {len(findings)} findings; dead-lettered: {len(dead)}; "
              f"store: {counted} (images, repositories, accounts)")
        if storms:
            print(f"storm alert: {storms[0]['subject']}")
        checks = [
            (len(storms) == 1, f"one storm alert for {CVE}, got {len(storms)}"),
            (len(ordinary_alerted) == ORDINARY and len(findings) == ORDINARY,
             f"every ordinary event's alert once: {len(ordinary_alerted)} images, {len(findings)} alerts"),
            (not repeat, f"no per-image alert repeats {CVE}: {repeat[:3]}"),
            (not dead, f"nothing dead-lettered: {len(dead)}"),
            (counted == (STORM_IMAGES, REPOSITORIES, ACCOUNTS),
             f"the store counts {STORM_IMAGES} images, {REPOSITORIES} repositories, {ACCOUNTS} accounts: {counted}"),
        ]
        for ok, what in checks:
            print(f"  {'ok    ' if ok else 'FAILED'} {what}")
            if not ok:
                failures.append(what)
        if failures:
            print(stack.logs(), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
