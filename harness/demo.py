"""`make demo`: the whole pipeline on this machine, no AWS account.

Starts moto (behind a paging proxy that pages like ECR) and cargo-lambda's
Runtime API emulator on 127.0.0.1, seeds the images the sample events in
events/ talk about, runs the function, invokes it with each event through
`cargo lambda invoke`, prints every alert that arrived on the SQS queue
subscribed to the alert topic, ends with one owner's digest, and stops
everything it started.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .local import ROOT, VENV_BIN, FUNCTION_NAME, LocalStack
from .seed import (alert_queue, basic_finding, dedup_table, enhanced_finding, event_for, image_usage, put_policy,
                   received_alerts, scanned_image, subscribe_queue)

RULE = "-" * 78
# Where commit-tagged images (demo/web:3f2c1ab, demo/api's 9c1e5d2) link to.
SOURCE_URL_TEMPLATE = "https://git.example.com/{repository}/commit/{tag}"


def seed_images(stack):
    """One image per sample event; returns {event file: digest}."""
    web = [basic_finding(f"CVE-2019-{i:05d}", "LOW", package=f"lib{i % 40}", version="1.0") for i in range(1195)]
    web += [basic_finding(f"CVE-2018-{i:05d}", "INFORMATIONAL", package="tzdata", version="2024a") for i in range(800)]
    web += [basic_finding("CVE-2026-31001", "MEDIUM", package="gzip", version="1.12")]
    web += [
        basic_finding("CVE-2026-10001", "CRITICAL", package="openssl", version="3.0.2", score=9.8),
        basic_finding("CVE-2026-10002", "CRITICAL", package="zlib", version="1.2.13", score=9.1),
        basic_finding("CVE-2026-10003", "HIGH", package="curl", version="7.88.1", score=7.5),
        basic_finding("CVE-2026-10004", "HIGH", package="curl", version="7.88.1", score=7.1),
        basic_finding("CVE-2026-10005", "HIGH", package="bash", version="5.2"),
    ]
    api = [enhanced_finding(f"CVE-2024-{i:05d}", "MEDIUM", package=f"pkg{i}") for i in range(40)]
    api += [enhanced_finding(f"CVE-2023-{i:05d}", "UNTRIAGED", package=f"pkg{i}", fixed_in=None) for i in range(207)]
    api += [
        enhanced_finding("CVE-2026-20001", "HIGH", package="glibc", version="2.36", fixed_in="2.36-9+deb12u4", score=8.1),
        enhanced_finding("CVE-2026-20002", "HIGH", package="perl", version="5.36", fixed_in=None, score=7.0),
        enhanced_finding("CVE-2026-20003", "CRITICAL", package="openssl", version="3.0.11", fixed_in="3.0.15", score=9.8),
    ]
    worker = [
        basic_finding("CVE-2026-30001", "HIGH", package="busybox", version="1.36.1", score=7.8),
        basic_finding("CVE-2026-30002", "MEDIUM"),
        basic_finding("CVE-2026-30003", "MEDIUM", package="musl", version="1.2.4"),
    ]
    return {
        "basic-scan-complete.json": scanned_image(stack, "demo/web", "3f2c1ab", basic=web),
        "enhanced-scan-complete.json": scanned_image(stack, "demo/api", "v2.4.1", enhanced=api, status="ACTIVE"),
        "basic-scan-untagged.json": scanned_image(stack, "demo/worker", None, basic=worker),
        "basic-scan-failed.json": scanned_image(
            stack, "demo/legacy", "1.0.0", status="FAILED",
            description="UnsupportedImageError: The operating system and/or package manager are not supported."),
    }


def invoke_with_cargo_lambda(stack, event_file):
    result = subprocess.run(
        [str(VENV_BIN / "cargo-lambda"), "lambda", "invoke", FUNCTION_NAME,
         "--invoke-address", "127.0.0.1", "--invoke-port", str(stack.runtime_port),
         "--data-file", str(event_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    return result.returncode, (result.stdout + result.stderr).strip()


def risk_images(stack, events_dir):
    """Two enhanced images for the risk rules: a running service whose
    MEDIUM finding has a known exploit, and a batch image not run for 60
    days. Writes their events; returns their file names."""
    running = image_usage(in_use=12)
    idle = image_usage(in_use=0, idle_days=60)
    payments = scanned_image(stack, "demo/payments", "v3.1.0", status="ACTIVE", enhanced=[
        enhanced_finding("CVE-2026-40001", "MEDIUM", package="libxml2", version="2.9.14", fixed_in="2.9.14+dfsg-1.3",
                         score=6.5, exploit="YES", usage=running),
        enhanced_finding("CVE-2026-40002", "HIGH", package="curl", version="7.88.1", fixed_in="7.88.1-10+deb12u8",
                         score=7.5, usage=running),
    ])
    batch = scanned_image(stack, "demo/batch", "2026.09", status="ACTIVE", enhanced=[
        enhanced_finding("CVE-2026-40003", "CRITICAL", package="openssl", version="3.0.11", fixed_in="3.0.15",
                         score=9.8, usage=idle),
    ])
    names = []
    for name, repository, digest, tag in (("risk-exploit.json", "demo/payments", payments, "v3.1.0"),
                                          ("risk-not-in-use.json", "demo/batch", batch, "2026.09")):
        event = event_for("enhanced-scan-complete.json", digest)
        event["detail"]["repository-name"] = f"arn:aws:ecr:us-east-1:123456789012:repository/{repository}"
        event["detail"]["image-tags"] = [tag]
        (events_dir / name).write_text(json.dumps(event, indent=2))
        names.append(name)
    return names


def policy_and_dedup(stack, events_dir, queue_url):
    """The function again, now with a policy document in SSM (allow-listing
    the worker's only HIGH finding, and risk rules) and the dedup table: one
    event suppressed by the policy, one delivered twice and alerted once,
    one raised by a known exploit, one lowered because its image is not in
    use."""
    policy = {"version": 1, "threshold": "HIGH",
              "thresholds": [{"repository": "demo/batch", "threshold": "LOW"}],
              "allow": [
                  {"id": "CVE-2026-30001", "package": "busybox", "reason": "busybox applets unused in this image",
                   "expires": "2099-12-31"}],
              "risk": [{"exploit_available": {"raise_to": "CRITICAL"},
                        "not_in_use": {"days": 30, "lower_to": "LOW"}}]}
    parameter = put_policy(stack, policy)
    table = dedup_table(stack)
    exploit_event, idle_event = risk_images(stack, events_dir)
    stack.start_function(POLICY_PARAMETER_NAME=parameter, DEDUP_TABLE_NAME=table)
    print(f"Now with POLICY_PARAMETER_NAME={parameter} (allow-lists CVE-2026-30001 in busybox; risk rules: a known "
          f"exploit routes at least CRITICAL, an image not running for 30 days at most LOW) "
          f"and DEDUP_TABLE_NAME={table}:")
    failures = 0
    runs = [("basic-scan-untagged.json", "suppressed by the allow-list"),
            ("basic-scan-complete.json", "first delivery"),
            ("basic-scan-complete.json", "same event delivered again"),
            (exploit_event, "a MEDIUM finding with a known exploit, image running"),
            (idle_event, "a CRITICAL finding, image not running for 60 days")]
    expected = ["not_alerted", "alerted", "not_alerted", "alerted", "alerted"]
    for (name, what), want in zip(runs, expected):
        rc, output = invoke_with_cargo_lambda(stack, events_dir / name)
        try:
            result = json.loads(output)
        except ValueError:
            result = {"outcome": "error", "reason": output}
        print(f"  events/{name} ({what}): {result.get('outcome')}"
              f" - {result.get('reason') or 'message ' + str(result.get('message_id'))}"
              + (f"; policy: {result['suppressed']}" if result.get("suppressed") else ""))
        failures += result.get("outcome") != want
    alerts = received_alerts(stack, queue_url)
    print(f"  alerts that arrived: {[a['subject'] for a in alerts]}")
    for alert in alerts[1:]:
        print(f"\nSubject:    {alert['subject']}")
        print("Attributes: " + ", ".join(f"{k}={v}" for k, v in sorted(alert["attributes"].items())))
        lines = alert["message"].splitlines()
        shown = [line for line in lines[1:3]]
        for i, line in enumerate(lines):
            if "raised from" in line or "lowered from" in line:
                shown += lines[i - 2:i + 1]
        print("  " + "\n  ".join(shown))
    subjects = [a["subject"] for a in alerts]
    failures += len(alerts) != 3
    failures += not any(s.startswith("CRITICAL, exploit known:") for s in subjects)
    failures += not any(s.startswith("LOW: 1 low in demo/batch") for s in subjects)
    print(RULE)
    return failures


def show_digest(stack, web_team_queue):
    """The scheduled digest, as EventBridge Scheduler starts it: one per
    owner; prints web-team's (docs/digest.md)."""
    print(RULE)
    port = stack.start_digest()
    ok, result = stack.invoke_at(port, {"digest": "scheduled"}, timeout=120)
    print(f"The digest (Handler digest, started as the schedule would): {result}")
    digests = [a for a in received_alerts(stack, web_team_queue) if a["attributes"].get("alert_kind") == "digest"]
    if not ok or len(digests) != 1:
        print(f"expected one digest for web-team, got {digests} ({result})", file=sys.stderr)
        return 1
    print(f"\nSubject:    {digests[0]['subject']}")
    print("Attributes: " + ", ".join(f"{k}={v}" for k, v in sorted(digests[0]["attributes"].items())))
    print()
    print(digests[0]["message"])
    print(RULE)
    return 0


def main():
    binary = Path(os.environ.get("FUNCTION_BINARY") or ROOT / "target" / "debug" / "ecr-scan-alerts")
    events_dir = ROOT / ".local" / "demo-events"
    events_dir.mkdir(parents=True, exist_ok=True)
    with LocalStack(binary, ROOT / ".local" / "demo-logs") as stack:
        print(f"moto server on {stack.moto_url}, paging proxy on {stack.endpoint_url}, "
              f"Lambda runtime emulator on 127.0.0.1:{stack.runtime_port}")
        topic_arn, queue_url = alert_queue(stack)
        pager_url = subscribe_queue(stack, topic_arn, "pager-critical", {"severity": ["CRITICAL"]})
        chat_topic_arn, chat_queue_url = alert_queue(stack, "scan-chat")
        print(f"alert topic {topic_arn} -> queue {queue_url}")
        print("  and -> queue pager-critical with filter policy {\"severity\": [\"CRITICAL\"]}")
        print(f"chat topic {chat_topic_arn} -> queue {chat_queue_url}")
        # Two teams, each subscribed with a filter policy on `owner`, and
        # their repositories tagged owner=<team> (docs/alerts.md, "Routing
        # per team"); demo/worker and demo/legacy are nobody's.
        teams = {team: subscribe_queue(stack, topic_arn, f"team-{team}", {"owner": [team]})
                 for team in ("web-team", "api-team")}
        print("  and -> queues team-web-team, team-api-team with filter policies {\"owner\": [\"<team>\"]}")
        digests = seed_images(stack)
        ecr = stack.client("ecr")
        for repository, team in (("demo/web", "web-team"), ("demo/api", "api-team")):
            ecr.tag_resource(resourceArn=f"arn:aws:ecr:us-east-1:123456789012:repository/{repository}",
                             tags=[{"Key": "owner", "Value": team}])
            print(f"repository {repository} tagged owner={team}")
        stack.function_env.update({"ALERT_TOPIC_ARN": topic_arn, "CHAT_TOPIC_ARN": chat_topic_arn,
                                   "SEVERITY_THRESHOLD": "HIGH", "SOURCE_URL_TEMPLATE": SOURCE_URL_TEMPLATE})
        print(f"SOURCE_URL_TEMPLATE={SOURCE_URL_TEMPLATE} (commit-tagged images link to their source)")
        stack.start_function()
        print(RULE)
        failures = 0
        for name, digest in digests.items():
            event_file = events_dir / name
            event_file.write_text(json.dumps(event_for(name, digest), indent=2))
            calls = stack.proxy.describe_calls
            rc, output = invoke_with_cargo_lambda(stack, event_file)
            pages = stack.proxy.describe_calls - calls
            print(f"event events/{name} (digest {digest[:19]}...): "
                  f"{'ok' if rc == 0 else 'FAILED'}, {pages} DescribeImageScanFindings page(s)")
            print(f"  function returned: {output}")
            failures += rc != 0
        # A malformed event: the function names the field and keeps serving.
        rc, output = invoke_with_cargo_lambda(stack, ROOT / "tests" / "fixtures" / "malformed-digest-type.json")
        print(f"event tests/fixtures/malformed-digest-type.json: {'rejected as expected' if rc else 'UNEXPECTEDLY ACCEPTED'}")
        print("  " + output.replace("\n", "\n  "))
        failures += rc == 0
        print(RULE)
        alerts = received_alerts(stack, queue_url)
        started = os.environ.get("DEMO_STARTED")
        since = f" {time.time() - float(started):.0f} s after `make demo` started" if started else ""
        print(f"{len(alerts)} alert(s) arrived on the queue{since}:\n")
        for alert in alerts:
            print(f"Subject:    {alert['subject']}")
            print("Attributes: " + ", ".join(f"{k}={v}" for k, v in sorted(alert["attributes"].items())))
            print()
            print(alert["message"])
            print(RULE)
        paged = received_alerts(stack, pager_url)
        print(f"The CRITICAL-only pager queue received {len(paged)} of them: "
              + "; ".join(a["subject"] for a in paged))
        for team, url in teams.items():
            own = received_alerts(stack, url)
            print(f"Team {team}'s queue (filter {{\"owner\": [\"{team}\"]}}) received {len(own)}: "
                  + "; ".join(a["subject"] for a in own))
            repository = "demo/web" if team == "web-team" else "demo/api"
            if len(own) != 1 or f" in {repository}" not in own[0]["subject"]:
                print(f"expected team {team} to receive its {repository} alert alone", file=sys.stderr)
                failures += 1
        print(RULE)
        chats = received_alerts(stack, chat_queue_url)
        print(f"{len(chats)} Slack custom notification(s) arrived on the chat queue; the first:\n")
        if chats:
            print(json.dumps(json.loads(chats[0]["message"]), indent=2, ensure_ascii=False))
        print(RULE)
        if len(chats) != len(alerts) or len(paged) != 2:
            print(f"expected one chat message per alert and 2 paged alerts, got {len(chats)} and {len(paged)}",
                  file=sys.stderr)
            failures += 1
        failures += policy_and_dedup(stack, events_dir, queue_url)
        failures += show_digest(stack, teams["web-team"])
        if len(alerts) != 3 + 1:
            print(f"expected 4 alerts (three findings alerts and one scan-failed alert), got {len(alerts)}",
                  file=sys.stderr)
            failures += 1
    print("local stack stopped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
