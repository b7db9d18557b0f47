"""Layer 3: the scheduled digest (Handler `digest`) on the local stack. Two
owners get their digests (what is open, overdue, not watched, the
allow-list entries that expire, what no alert carried), a clean owner gets
the heartbeat, and three member accounts' repositories are in their
owners' digests; each through its own subscription filtered on `owner`.
The next digest says what is new and fixed since."""

import csv
import datetime
import io
import json
import time

import pytest

from harness.browser import check_report_page, expected_points

from harness.seed import (
    basic_finding,
    sqs_batch,
    dedup_table,
    ensure_repository,
    event_for,
    image_details,
    member_client,
    member_role,
    put_policy,
    received_alerts,
    role_exists,
    scanned_image,
    scanned_image_in,
    subscribe_queue,
)

MEMBER = "555555555555"
# Two more member accounts: one with a finding below the threshold only,
# one with a clean image of the clean owner.
MEMBER_LOW, MEMBER_CLEAN = "666666666666", "777777777777"
ROLE = "ecr-scan-alerts-reader"
OWNERS = ("dg-pay", "dg-search")
REPORT_BUCKET = "scan-alerts-reports"
DAY = 86_400


def tag(ecr, repository, owner, account="123456789012"):
    ensure_repository(ecr, repository)
    ecr.tag_resource(resourceArn=f"arn:aws:ecr:us-east-1:{account}:repository/{repository}",
                     tags=[{"Key": "owner", "Value": owner}])


@pytest.fixture(scope="module")
def digested(stack):
    queues = {owner: subscribe_queue(stack, stack.topic_arn, f"digest-{owner}", {"owner": [owner]})
              for owner in OWNERS}
    expires = (datetime.date.today() + datetime.timedelta(days=5)).isoformat()
    parameter = put_policy(stack, {
        "version": 1,
        "sla": {"CRITICAL": 15, "HIGH": 30},
        "allow": [{"id": "CVE-2023-4501", "repository": "dgpay/*", "reason": "not reachable", "expires": expires}],
    }, name="/scan-alerts/digest-policy")
    # What was alerted is in the dedup table, which the digest reads for
    # its "never alerted" list and where it keeps each owner's last digest.
    stack.start_function(DEDUP_TABLE_NAME=dedup_table(stack, "scan-alerts-digest"))
    ecr = stack.client("ecr")
    tag(ecr, "dgpay/api", "dg-pay")
    tag(ecr, "dgpay/legacy", "dg-pay")
    tag(ecr, "dgsearch/web", "dg-search")
    # Pushed 40 days ago and pulled yesterday: current, its CRITICAL (15 days
    # from the push, basic scanning) 25 days overdue.
    api = scanned_image(stack, "dgpay/api", "v1", basic=[basic_finding("CVE-2026-29001", "CRITICAL",
                                                                         package="openssl", version="3.0.2")])
    now = int(time.time())
    image_details(stack, api, imagePushedAt=now - 40 * DAY, lastRecordedPullTime=now - DAY)
    scanned_image(stack, "dgpay/legacy", "v0", status="FAILED",
                  description="UnsupportedImageError: The operating system and/or package manager are not supported.")
    scanned_image(stack, "dgsearch/web", "v2", basic=[basic_finding("CVE-2026-29002", "MEDIUM")])
    # A member account's repository, owned by dg-pay too.
    member_role(stack, MEMBER, ROLE)
    tag(member_client(stack, "ecr", MEMBER), "dgpay/ledger", "dg-pay", account=MEMBER)
    scanned_image_in(stack, MEMBER, "us-east-1", "dgpay/ledger", "v3",
                     basic=[basic_finding("CVE-2026-29003", "HIGH", package="zlib")])
    member_role(stack, MEMBER_LOW, ROLE)
    tag(member_client(stack, "ecr", MEMBER_LOW), "dgpay/cards", "dg-pay", account=MEMBER_LOW)
    scanned_image_in(stack, MEMBER_LOW, "us-east-1", "dgpay/cards", "v4",
                     basic=[basic_finding("CVE-2026-29004", "LOW", package="bash")])
    member_role(stack, MEMBER_CLEAN, ROLE)
    tag(member_client(stack, "ecr", MEMBER_CLEAN), "dgsearch/index", "dg-search", account=MEMBER_CLEAN)
    scanned_image_in(stack, MEMBER_CLEAN, "us-east-1", "dgsearch/index", "v5", basic=[])
    # A repository of this account in a second region the digest reads
    # (DIGEST_REGIONS), owned by the clean owner.
    west = member_client(stack, "ecr", "123456789012", region="us-west-2")
    ensure_repository(west, "dgsearch/west")
    west.tag_resource(resourceArn="arn:aws:ecr:us-west-2:123456789012:repository/dgsearch/west",
                      tags=[{"Key": "owner", "Value": "dg-search"}])
    scanned_image_in(stack, "123456789012", "us-west-2", "dgsearch/west", "v7", basic=[])
    # The push of dgpay/api was alerted; the member's dgpay/ledger push
    # never reached the function (its event lost).
    scan = event_for("basic-scan-complete.json", api)
    scan["detail"]["repository-name"] = "dgpay/api"
    ok, result = stack.invoke(scan)
    assert ok and result["outcome"] == "alerted", result
    for queue in queues.values():
        received_alerts(stack, queue)
    # The report bucket, with two earlier runs' summaries: one of this
    # schema (a point in the trends), one of a schema the function does not
    # know (left out, never misread).
    s3 = stack.client("s3")
    s3.create_bucket(Bucket=REPORT_BUCKET)
    earlier = {"schema": 1, "generated_at": "2026-11-30T08:00:00Z", "date": "2026-11-30", "threshold": "HIGH",
               "scope": "this account", "open": {"critical": 3, "high": 2, "medium": 0, "low": 0},
               "overdue": {"critical": 1, "high": 0, "medium": 0, "low": 0}, "images_current": 5,
               "images_watched": 4, "owners": [], "top_repositories": [], "registries_late": []}
    s3.put_object(Bucket=REPORT_BUCKET, Key="reports/2026-11-30/summary.json", Body=json.dumps(earlier))
    s3.put_object(Bucket=REPORT_BUCKET, Key="reports/2026-11-23/summary.json",
                  Body=json.dumps({**earlier, "schema": 99, "date": "2026-11-23"}))
    stack.proxy.role_check = lambda arn: role_exists(stack, arn)
    env = dict(POLICY_PARAMETER_NAME=parameter, MEMBER_ROLE_NAME=ROLE, REPORT_BUCKET_NAME=REPORT_BUCKET,
               SCOPE_ACCOUNT_IDS=f"123456789012,{MEMBER},{MEMBER_LOW},{MEMBER_CLEAN}",
               DIGEST_REGIONS="us-east-1,us-west-2",
               METRICS="true", METRICS_OWNER_DIMENSION="true")
    port = stack.start_digest(**env)
    stack.digest_port, stack.digest_queues, stack.expires, stack.digest_env = port, queues, expires, env
    yield stack
    stack.proxy.role_check = None
    stack.start_function()


def digests_of(stack, owner):
    return received_alerts(stack, stack.digest_queues[owner])


def test_each_owner_gets_one_digest_and_a_clean_owner_the_heartbeat(digested, inbox):
    ok, result = digested.invoke_at(digested.digest_port, {"digest": "scheduled"}, timeout=120)

    assert ok, result
    assert result["outcome"] == "digested"
    [pay] = digests_of(digested, "dg-pay")
    assert pay["subject"] == "Digest for dg-pay: 1 critical, 1 high open, 1 overdue"
    assert pay["attributes"]["alert_kind"] == "digest"
    assert pay["attributes"]["severity"] == "CRITICAL"
    body = pay["message"]
    # Kept with the logs: docs/digest.md's sample is this text.
    (digested.log_dir / "digest-dg-pay.txt").write_text(body)
    assert "CVE-2026-29001  CRITICAL  dgpay/api:v1  25 days overdue" in body, body
    assert "openssl: no fixed version known" in body, "basic scanning names no fixed version"
    assert "dgpay/legacy:v0 (123456789012): scan status FAILED. To do: scan it again" in body, body
    assert f"dgpay/ledger (account {MEMBER}, us-east-1): 1 high" in body, body
    assert f"CVE-2023-4501 (dgpay/*) expires {digested.expires}: not reachable" in body, body
    assert f"dgpay/cards (account {MEMBER_LOW}, us-east-1): nothing open" in body, body
    assert "First digest: what is new and fixed is counted from the next one." in body, body
    # Alerted at its push: dgpay/api's CVE is not in the list; the member's
    # ledger image, whose event never came, is.
    assert "NEVER ALERTED (1 open findings no alert carried)" in body, body
    assert (f"dgpay/ledger:v3 ({MEMBER}): 1 finding(s), worst HIGH (CVE-2026-29003). "
            "Why: no alert was ever recorded for this image") in body, body
    [search] = digests_of(digested, "dg-search")
    assert search["subject"] == "Digest for dg-search: nothing open at or above HIGH"
    assert search["attributes"]["severity"] == "NONE"
    assert "nothing open at or above HIGH in 3 images of 3 repositories; every image watched" in search["message"]
    assert "dgsearch/west (account 123456789012, us-west-2): nothing open" in search["message"]
    assert f"dgsearch/index (account {MEMBER_CLEAN}, us-east-1): nothing open" in search["message"]
    log = (digested.log_dir / "digest-function.log").read_text()
    # The heartbeat's metric, which the DigestMissing alarm watches.
    assert '"DigestsPublished"' in log
    # The posture gauges: one line per severity over every owner (the
    # stack's other repositories too), and per owner when asked for.
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"OpenFindings"' in line]
    overall = {g["Severity"] for g in lines if "Owner" not in g}
    assert overall == {"CRITICAL", "HIGH", "MEDIUM", "LOW"}, lines
    gauges = {g["Severity"]: g for g in lines if g.get("Owner") == "dg-pay"}
    assert gauges["CRITICAL"]["OpenFindings"] == 1 and gauges["CRITICAL"]["OverdueFindings"] == 1, gauges
    assert gauges["HIGH"]["OpenFindings"] == 1 and gauges["LOW"]["OpenFindings"] == 0, gauges
    assert gauges["HIGH"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Owner", "Severity"]]
    received_alerts(digested, inbox)


def report_file(stack, name):
    today = datetime.date.today().isoformat()
    return stack.client("s3").get_object(Bucket=REPORT_BUCKET, Key=f"reports/{today}/{name}")["Body"].read()


def test_each_run_writes_the_posture_report_and_the_digest_links_to_it(digested, inbox):
    """Runs after the first test: its run wrote the report."""
    today = datetime.date.today().isoformat()
    summary = json.loads(report_file(digested, "summary.json"))
    assert summary["schema"] == 1 and summary["date"] == today and summary["threshold"] == "HIGH"
    pay = next(o for o in summary["owners"] if o["owner"] == "dg-pay")
    assert pay["open"] == {"critical": 1, "high": 1, "medium": 0, "low": 0}, pay
    assert pay["overdue"] == 1 and pay["images_current"] == 4 and pay["images_watched"] == 3, pay
    # Most open first, at most ten (the stack's other tests' repositories
    # are in this registry too).
    top = summary["top_repositories"]
    ranks = [(r["open"]["critical"], r["open"]["high"], r["open"]["medium"], r["open"]["low"]) for r in top]
    assert 0 < len(top) <= 10 and ranks == sorted(ranks, reverse=True), top
    findings = list(csv.DictReader(io.StringIO(report_file(digested, "findings.csv").decode())))
    [row] = [r for r in findings if r["vulnerability"] == "CVE-2026-29001"]
    assert (row["owner"], row["account"], row["repository"], row["severity"], row["overdue"]) == (
        "dg-pay", "123456789012", "dgpay/api", "CRITICAL", "25"), row
    assert row["fix"] == "openssl: no fixed version known"
    assert any(r["vulnerability"] == "CVE-2026-29003" and r["account"] == MEMBER for r in findings)
    coverage = list(csv.DictReader(io.StringIO(report_file(digested, "coverage.csv").decode())))
    [legacy] = [r for r in coverage if r["repository"] == "dgpay/legacy"]
    assert (legacy["scan_status"], legacy["not_watched"], legacy["owner"]) == ("FAILED", "scan status FAILED", "dg-pay")
    html = report_file(digested, "index.html").decode()
    assert "<script" not in html.lower()
    # The 2026-11-30 run is a point of the trends; the schema-99 one is not.
    assert "2026-11-30" in html and "2026-11-23" not in html
    # Looked at in the browser: every chart drawn with its points (two runs
    # in the trends), no console error, no sideways scrolling.
    page = digested.log_dir / "report-index.html"
    page.write_text(html)
    problems, screenshot = check_report_page(page, expected_points(summary, runs=2),
                                             digested.log_dir / "report-digest.png")
    assert problems == [], problems
    assert screenshot.stat().st_size > 10_000
    link = (f"https://console.aws.amazon.com/s3/buckets/{REPORT_BUCKET}?region=us-east-1"
            f"&prefix=reports/{today}/")
    assert f"Posture report (charts, CSV for auditors): {link}" in \
        (digested.log_dir / "digest-dg-pay.txt").read_text()


def test_a_digest_starts_from_a_schedule_only(digested, inbox):
    ok, error = digested.invoke_at(digested.digest_port, {"source": "aws.ecr", "detail-type": "ECR Image Scan"})

    assert not ok
    assert error["errorType"] == "InvalidEvent", error
    assert "detail-type" in error["errorMessage"]
    assert digests_of(digested, "dg-pay") == []


def test_the_next_digest_says_what_is_new_and_fixed_since(digested, inbox):
    # dgsearch/web gets a HIGH finding; nothing was fixed.
    web = scanned_image(digested, "dgsearch/web", "v6", basic=[basic_finding("CVE-2026-29005", "HIGH")])
    assert web

    ok, result = digested.invoke_at(digested.digest_port, {"digest": "scheduled"}, timeout=120)

    assert ok, result
    today = datetime.date.today().isoformat()
    [pay] = digests_of(digested, "dg-pay")
    (digested.log_dir / "digest-dg-pay-next.txt").write_text(pay["message"])
    assert f"Since the last digest ({today}): 0 new, 0 fixed, 2 still open" in pay["message"], pay["message"]
    [search] = digests_of(digested, "dg-search")
    assert f"Since the last digest ({today}): 1 new, 0 fixed, 0 still open" in search["message"], search["message"]
    assert "NEVER ALERTED (1 open findings no alert carried)" in search["message"], search["message"]
    received_alerts(digested, inbox)


def test_a_single_account_stack_reads_its_other_regions_with_its_own_credentials(digested, inbox):
    # No member role, no account list: this account only, in both regions.
    port = digested.start_digest(MEMBER_ROLE_NAME=None, SCOPE_ACCOUNT_IDS=None, REPORT_BUCKET_NAME=None,
                                 DIGEST_REGIONS="us-east-1,us-west-2")

    ok, result = digested.invoke_at(port, {"digest": "scheduled"}, timeout=120)

    assert ok, result
    [search] = digests_of(digested, "dg-search")
    assert "dgsearch/west (account 123456789012, us-west-2): nothing open" in search["message"], search["message"]
    assert "in this account, regions us-east-1, us-west-2" in search["message"], search["message"]
    assert f"account {MEMBER}" not in search["message"]
    digests_of(digested, "dg-pay")
    received_alerts(digested, inbox)


def test_organisation_wide_with_an_organization_id_alone_the_digest_reads_the_organisations_accounts(digested, inbox):
    orgs = digested.client("organizations")
    try:
        orgs.create_organization(FeatureSet="ALL")
    except orgs.exceptions.AlreadyInOrganizationException:
        pass
    created = orgs.create_account(Email="ledger-team@example.com", AccountName="ledger")["CreateAccountStatus"]
    account = created.get("AccountId") or orgs.describe_create_account_status(
        CreateAccountRequestId=created["Id"])["CreateAccountStatus"]["AccountId"]
    member_role(digested, account, ROLE)
    tag(member_client(digested, "ecr", account), "dgpay/org", "dg-pay", account=account)
    scanned_image_in(digested, account, "us-east-1", "dgpay/org", "v8",
                     basic=[basic_finding("CVE-2026-29006", "HIGH", package="bash")])
    # No account list: the organisation says which accounts there are.
    port = digested.start_digest(SCOPE_ACCOUNT_IDS=None, MEMBER_ROLE_NAME=ROLE, REPORT_BUCKET_NAME=None)

    ok, result = digested.invoke_at(port, {"digest": "scheduled"}, timeout=120)

    assert ok, result
    [pay] = digests_of(digested, "dg-pay")
    assert f"dgpay/org (account {account}, us-east-1): 1 high" in pay["message"], pay["message"]
    # Accounts outside the organisation are not read (555555555555 was only listed before).
    assert f"account {MEMBER}" not in pay["message"]
    assert "ACCOUNTS NOT LISTED" not in pay["message"]
    digests_of(digested, "dg-search")
    received_alerts(digested, inbox)


def queued(sqs, url, count):
    """The digest queue's messages, `count` of them, taken off the queue."""
    bodies, deadline = [], time.monotonic() + 30
    while len(bodies) < count and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in got:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(bodies) == count, bodies
    return bodies


def test_fanned_out_each_registry_is_read_apart_and_the_assembly_names_one_that_never_reported(digested, inbox):
    # The stack's digest queue (moto SQS): four accounts in two regions are
    # eight parts, each delivered as the event source mapping would, but
    # one, which never arrives; the assembly (no wait here) names it.
    sqs = digested.client("sqs")
    url = sqs.create_queue(QueueName="scan-alerts-digest-work")["QueueUrl"]
    port = digested.start_digest(**digested.digest_env, DIGEST_QUEUE_URL=url,
                                 DIGEST_WAIT_MINUTES="0", DIGEST_ASSEMBLY_DELAY_SECONDS="0")
    at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    schedule = {"digest": "scheduled", "scheduled_time": at.isoformat().replace("+00:00", "Z")}

    ok, result = digested.invoke_at(port, schedule, timeout=120)

    assert ok and result == {"outcome": "fanned_out", "run": int(at.timestamp()), "parts": 8}, result
    bodies = [json.loads(b) for b in queued(sqs, url, 9)]
    parts = [b["part"] for b in bodies if "part" in b]
    assert sorted((p["registry"]["account"], p["registry"]["region"]) for p in parts) == sorted(
        (a, r) for a in ("123456789012", MEMBER, MEMBER_LOW, MEMBER_CLEAN) for r in ("us-east-1", "us-west-2"))
    [assembly] = [b for b in bodies if "assembly" in b]
    lost = {"account": MEMBER_CLEAN, "region": "us-east-1"}
    for part in parts:
        if part["registry"] == lost:
            continue
        ok, answer = digested.invoke_at(port, sqs_batch([{"part": part}], queue="scan-alerts-digest-work"),
                                        timeout=120)
        assert ok and answer == {"batchItemFailures": []}, answer
    assert digests_of(digested, "dg-pay") == [], "no digest before the assembly"

    ok, answer = digested.invoke_at(port, sqs_batch([assembly], queue="scan-alerts-digest-work"), timeout=120)

    assert ok and answer == {"batchItemFailures": []}, answer
    [pay] = digests_of(digested, "dg-pay")
    (digested.log_dir / "digest-dg-pay-fanned-out.txt").write_text(pay["message"])
    # Each member account's part is in its owner's digest.
    assert f"dgpay/ledger (account {MEMBER}, us-east-1): 1 high" in pay["message"], pay["message"]
    assert f"dgpay/cards (account {MEMBER_LOW}, us-east-1): nothing open" in pay["message"], pay["message"]
    assert (f"NOT READ: account {MEMBER_CLEAN}, region us-east-1: did not report before the digests were "
            "assembled. Their repositories are missing here.") in pay["message"], pay["message"]
    [search] = digests_of(digested, "dg-search")
    assert "dgsearch/west (account 123456789012, us-west-2): nothing open" in search["message"], search["message"]
    assert "dgsearch/index" not in search["message"], search["message"]
    # The run in the table: assembled, the lost registry never reported.
    run = digested.client("dynamodb").get_item(
        TableName=digested.overrides["DEDUP_TABLE_NAME"], Key={"pk": {"S": f"digest##run#{int(at.timestamp())}"}},
        ConsistentRead=True)["Item"]
    assert run["assembled"] == {"BOOL": True}
    assert f"{MEMBER_CLEAN}|us-east-1" not in run["reported"]["M"]
    assert len(run["reported"]["M"]) == 7

    # The lost part, at last: too late, left out; no second digest.
    ok, answer = digested.invoke_at(port, sqs_batch([{"part": {"run": int(at.timestamp()), "registry": lost}}],
                                                    queue="scan-alerts-digest-work"), timeout=120)
    assert ok and answer == {"batchItemFailures": []}, answer
    assert digests_of(digested, "dg-pay") == []
    received_alerts(digested, inbox)
