"""Layer 3: the scheduled digest (Handler `digest`) on the local stack. Two
owners get their digests (what is open, overdue, not watched, the
allow-list entries that expire), a clean owner gets the heartbeat, and a
member account's repository is in its owner's digest; each through its own
subscription filtered on `owner`."""

import datetime
import time

import pytest

from harness.seed import (
    basic_finding,
    ensure_repository,
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
ROLE = "ecr-scan-alerts-reader"
OWNERS = ("dg-pay", "dg-search")
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
    stack.proxy.role_check = lambda arn: role_exists(stack, arn)
    port = stack.start_digest(POLICY_PARAMETER_NAME=parameter, MEMBER_ROLE_NAME=ROLE,
                              SCOPE_ACCOUNT_IDS=f"123456789012,{MEMBER}", METRICS="true")
    stack.digest_port, stack.digest_queues, stack.expires = port, queues, expires
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
    assert "CVE-2026-29001  CRITICAL  dgpay/api:v1  25 days overdue" in body, body
    assert "openssl: no fixed version known" in body, "basic scanning names no fixed version"
    assert "dgpay/legacy:v0 (123456789012): scan status FAILED. To do: scan it again" in body, body
    assert f"dgpay/ledger (account {MEMBER}, us-east-1): 1 high" in body, body
    assert f"CVE-2023-4501 (dgpay/*) expires {digested.expires}: not reachable" in body, body
    [search] = digests_of(digested, "dg-search")
    assert search["subject"] == "Digest for dg-search: nothing open at or above HIGH"
    assert search["attributes"]["severity"] == "NONE"
    assert "nothing open at or above HIGH in 1 images of 1 repositories; every image watched" in search["message"]
    # The heartbeat's metric, which the DigestMissing alarm watches.
    assert '"DigestsPublished"' in (digested.log_dir / "digest-function.log").read_text()
    received_alerts(digested, inbox)


def test_a_digest_starts_from_a_schedule_only(digested, inbox):
    ok, error = digested.invoke_at(digested.digest_port, {"source": "aws.ecr", "detail-type": "ECR Image Scan"})

    assert not ok
    assert error["errorType"] == "InvalidEvent", error
    assert "detail-type" in error["errorMessage"]
    assert digests_of(digested, "dg-pay") == []
