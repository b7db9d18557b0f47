"""`make load`: a burst of events against the local stack.

Seeds N images (default 1,000), each with a few findings and one
alert-worthy one, sends all N events at once (16 client threads) to the
function through the Lambda runtime emulator, then checks that every alert
arrived exactly once and how the function's memory moved. Prints a table;
exits non-zero if an alert is missing or doubled, or an event failed.
"""

import argparse
import concurrent.futures
import os
import sys
import time
from pathlib import Path

from .local import ROOT, LocalStack, built_binary
from .seed import alert_queue, basic_finding, ensure_repository, event_for, push_image, received_alerts, store_scan


def rss_kib(pid, field="VmRSS"):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    n = args.events
    binary = Path(os.environ.get("FUNCTION_BINARY") or built_binary())
    with LocalStack(binary, ROOT / ".local" / "load-logs") as stack:
        topic_arn, queue_url = alert_queue(stack)
        ecr = stack.client("ecr")
        ensure_repository(ecr, "load/app")
        print(f"seeding {n} images...", flush=True)
        started = time.monotonic()
        events = []
        for i in range(n):
            tag = f"load-{i:05d}"
            digest = push_image(ecr, "load/app", tag)
            ecr.start_image_scan(repositoryName="load/app", imageId={"imageDigest": digest})
            findings = [basic_finding(f"CVE-2026-{i:05d}", "HIGH", package=f"pkg{i % 50}")]
            findings += [basic_finding(f"CVE-2025-{i:05d}{j}", "LOW") for j in range(i % 5)]
            store_scan(stack.moto_url, "load/app", digest, basic=findings)
            event = event_for("basic-scan-complete.json", digest)
            event["detail"]["repository-name"] = "load/app"
            event["detail"]["image-tags"] = [tag]
            events.append((tag, event))
        seeded = time.monotonic() - started
        stack.function_env["ALERT_TOPIC_ARN"] = topic_arn
        stack.function_env["METRICS"] = "false"
        function = stack.start_function()
        ok, _ = stack.invoke({"source": "warm-up", "detail-type": "none", "detail": {}})
        rss_start = rss_kib(function.pid)
        samples = {}
        failures = []
        done = 0
        print(f"sending {n} events at once from {args.threads} threads...", flush=True)
        burst_started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
            futures = {pool.submit(stack.invoke, event): tag for tag, event in events}
            for future in concurrent.futures.as_completed(futures):
                ok, result = future.result()
                done += 1
                if not ok:
                    failures.append((futures[future], result))
                if done in (100, n // 2, n):
                    samples[done] = rss_kib(function.pid)
        burst = time.monotonic() - burst_started
        rss_peak = rss_kib(function.pid, "VmHWM")
        alerts = received_alerts(stack, queue_url, wait_seconds=2)
    per_tag = {}
    for alert in alerts:
        tag = alert["subject"].rsplit(":", 1)[-1]
        per_tag[tag] = per_tag.get(tag, 0) + 1
    missing = [tag for tag, _ in events if tag not in per_tag]
    doubled = [tag for tag, count in per_tag.items() if count > 1]
    rows = [
        ("events sent", n),
        ("events failed", len(failures)),
        ("alerts received", len(alerts)),
        ("alerts missing", len(missing)),
        ("alerts received twice", len(doubled)),
        ("seeding time", f"{seeded:.1f} s"),
        ("burst: all events answered in", f"{burst:.1f} s ({n / burst:.0f} events/s)"),
        ("function RSS after warm-up", f"{rss_start / 1024:.1f} MiB" if rss_start else "?"),
    ]
    for count, value in sorted(samples.items()):
        rows.append((f"function RSS after {count} events", f"{value / 1024:.1f} MiB" if value else "?"))
    rows.append(("function peak RSS (VmHWM)", f"{rss_peak / 1024:.1f} MiB" if rss_peak else "?"))
    width = max(len(r[0]) for r in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for tag, result in failures[:5]:
        print(f"failed: {tag}: {result}", file=sys.stderr)
    return 1 if failures or missing or doubled else 0


if __name__ == "__main__":
    sys.exit(main())
