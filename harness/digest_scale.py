"""`make digest`: the digest at scale on the local stack.

A registry of 20,000 images in 2,000 repositories (ten each; one image in
ten has a CRITICAL finding, the others a LOW one), owned by 20 teams through
their repositories' `owner` tags, served by the paging proxy from memory (as
ECR pages DescribeRepositories and DescribeImages, checked against the ECR
model). One run of the digest function (release build, fresh process, as
the schedule starts it): every owner's digest must arrive with the right
counts. Prints the AWS calls by operation, the function's CPU time and peak
RSS, and the wall time, against the goals (CPU at most 5 s, peak RSS at most
128 MB). LOCAL_AWS_LATENCY_MS adds AWS's latency to every answer.
"""

import argparse
import collections
import sys
import time
from pathlib import Path

from .local import ROOT, LocalStack, built_binary
from .seed import alert_queue, basic_finding, dedup_table, received_alerts, scan_result, synthetic_image, synthetic_registry
from .storm import cpu_seconds, peak_rss_kb

REPOSITORIES = 2_000
IMAGES = 10
TEAMS = 20
TARGET_CPU_S = 5.0
TARGET_RSS_MB = 128.0
REPORT_BUCKET = "digest-scale-reports"


def fleet():
    """The registry: repository r of team r % TEAMS; image i of each
    repository has a CRITICAL finding when i == 0, else a LOW one."""
    repositories = []
    for r in range(REPOSITORIES):
        name = f"fleet/svc-{r:04d}"
        images = []
        for i in range(IMAGES):
            image = synthetic_image(name, i)
            severity = "CRITICAL" if i == 0 else "LOW"
            finding = basic_finding(f"CVE-2026-{r:04d}{i}", severity, package=f"lib{i}")
            image["scan"] = scan_result(name, image["imageDigest"], basic=[finding])
            images.append(image)
        repositories.append({"repositoryName": name, "images": images,
                             "imageScanningConfiguration": {"scanOnPush": True},
                             "tags": [{"Key": "owner", "Value": f"team-{r % TEAMS:02d}"}]})
    return repositories


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=None)
    args = parser.parse_args()
    binary = Path(args.binary) if args.binary else built_binary()
    failures = []
    with LocalStack(binary, ROOT / ".local" / "digest-logs") as stack:
        topic_arn, queue_url = alert_queue(stack, "digest-alerts")
        stack.function_env.update(ALERT_TOPIC_ARN=topic_arn, METRICS="false")
        started = time.monotonic()
        synthetic_registry(stack, fleet())
        print(f"digest: {REPOSITORIES:,} repositories of {IMAGES} images ({REPOSITORIES * IMAGES:,}), "
              f"{TEAMS} owners, seeded in {time.monotonic() - started:.1f} s", file=sys.stderr)
        stack.start_function()
        # With the dedup table, as the stack deploys it: each image whose
        # findings are read is looked up there ("never alerted"), and each
        # owner's state is kept for the next digest.
        # And with the report bucket: the run writes its posture report.
        stack.client("s3").create_bucket(Bucket=REPORT_BUCKET)
        port = stack.start_digest(DEDUP_TABLE_NAME=dedup_table(stack, "digest-scale"),
                                  REPORT_BUCKET_NAME=REPORT_BUCKET)
        process = stack.consumers[-1][1]
        time.sleep(1.0)  # init done: its CPU is not the run's
        cpu_before = cpu_seconds(process.pid)
        calls_before = dict(stack.proxy.listing_calls)
        describe_before, requests_before = stack.proxy.describe_calls, stack.proxy.requests
        started = time.monotonic()
        ok, result = stack.invoke_at(port, {"digest": "scheduled"}, timeout=900)
        wall = time.monotonic() - started
        cpu = cpu_seconds(process.pid) - cpu_before
        rss_mb = peak_rss_kb(process.pid) / 1024
        if not ok:
            failures.append(f"the run failed: {result}")
        digests = [a for a in received_alerts(stack, queue_url) if a["attributes"].get("alert_kind") == "digest"]
        owners = collections.Counter(a["attributes"]["owner"] for a in digests)
        expected = {f"team-{t:02d}" for t in range(TEAMS)}
        if set(owners) != expected or any(n != 1 for n in owners.values()):
            failures.append(f"expected one digest per team, got {dict(owners)}")
        per_team = REPOSITORIES // TEAMS
        for alert in digests:
            if f"{per_team} critical open in {per_team * IMAGES} images of {per_team} repositories" not in \
                    alert["message"]:
                failures.append(f"{alert['attributes']['owner']}: unexpected counts: {alert['subject']}")
                break
            # Nothing was ever alerted in this registry: every CRITICAL is named.
            if f"NEVER ALERTED ({per_team} open findings no alert carried)" not in alert["message"]:
                failures.append(f"{alert['attributes']['owner']}: never-alerted findings not counted")
                break
        sample = next((a for a in digests if a["attributes"]["owner"] == "team-00"), None)
        if sample:
            head = sample["message"].split("\n")
            print("digest: team-00's digest begins:\n  " + "\n  ".join(head[:12]) + "\n  ...")
        objects = stack.client("s3").list_objects_v2(Bucket=REPORT_BUCKET, Prefix="reports/").get("Contents", [])
        names = sorted(o["Key"].rsplit("/", 1)[-1] for o in objects)
        if names != ["coverage.csv", "findings.csv", "index.html", "summary.json"]:
            failures.append(f"the report is not complete in the local S3: {names}")
        for o in sorted(objects, key=lambda o: o["Key"]):
            print(f"digest: report s3://{REPORT_BUCKET}/{o['Key']}: {o['Size']:,} bytes")
        local = ROOT / ".local" / "digest-logs" / "report"
        local.mkdir(parents=True, exist_ok=True)
        for o in objects:
            body = stack.client("s3").get_object(Bucket=REPORT_BUCKET, Key=o["Key"])["Body"].read()
            (local / o["Key"].rsplit("/", 1)[-1]).write_bytes(body)
        print(f"digest: the report is also in {local.relative_to(ROOT)}/")
        listing = {k: v - calls_before.get(k, 0) for k, v in stack.proxy.listing_calls.items()}
        findings_calls = stack.proxy.describe_calls - describe_before
        all_calls = stack.proxy.requests - requests_before
        print(f"digest: {'ok' if ok else 'FAILED'}: {result}")
        print(f"  AWS calls: {all_calls:,} in all; DescribeRepositories {listing.get('DescribeRepositories', 0):,}, "
              f"DescribeImages {listing.get('DescribeImages', 0):,}, DescribeImageScanFindings {findings_calls:,} "
              f"(only the images whose summary reaches HIGH), the rest ListTagsForResource, "
              f"GetRegistryScanningConfiguration, DynamoDB (one GetItem per image read, the owners' "
              f"states) and SNS publishes")
        print(f"  wall {wall:.1f} s; CPU {cpu:.2f} s (goal <= {TARGET_CPU_S:.0f} s: "
              f"{'met' if cpu <= TARGET_CPU_S else 'MISSED'}); peak RSS {rss_mb:.1f} MB (goal <= "
              f"{TARGET_RSS_MB:.0f} MB: {'met' if rss_mb <= TARGET_RSS_MB else 'MISSED'})")
        if cpu > TARGET_CPU_S or rss_mb > TARGET_RSS_MB:
            failures.append("a goal was missed")
    for failure in failures:
        print(f"digest: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
