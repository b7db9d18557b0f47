"""Organisation-wide: the central function (account 123456789012) reads the
findings of images in member accounts by assuming their read-only role."""

import pytest

from harness.seed import (
    basic_finding,
    event_for,
    member_role,
    put_policy,
    received_alerts,
    role_exists,
    scanned_image_in,
)

ROLE = "ecr-scan-alerts-reader"
PAYMENTS = "111111111111"
DATA = "222222222222"
NO_ROLE = "333333333333"
ALIASES = f"{PAYMENTS}=payments-prod"


def member_event(digest, account, region, repository, tag):
    """A scan event as the member account's rule forwards it to the central bus."""
    event = event_for("basic-scan-complete.json", digest)
    event["account"] = account
    event["region"] = region
    event["resources"] = [f"arn:aws:ecr:{region}:{account}:repository/{repository}"]
    event["detail"]["repository-name"] = repository
    event["detail"]["image-tags"] = [tag]
    return event


@pytest.fixture(scope="module")
def org_stack(stack):
    member_role(stack, PAYMENTS, ROLE)
    member_role(stack, DATA, ROLE)
    # moto assumes any role ARN; the proxy refuses roles IAM does not have.
    stack.proxy.role_check = lambda arn: role_exists(stack, arn)
    stack.start_function(MEMBER_ROLE_NAME=ROLE, ACCOUNT_ALIASES=ALIASES)
    yield stack
    stack.proxy.role_check = None
    stack.start_function()


def test_an_image_in_a_member_account_is_alerted_through_its_role(org_stack, inbox):
    findings = [basic_finding("CVE-2026-20001", "CRITICAL", score=9.8), basic_finding("CVE-2019-1", "LOW")]
    digest = scanned_image_in(org_stack, PAYMENTS, "us-east-1", "payments/api", "v7", basic=findings)

    ok, result = org_stack.invoke(member_event(digest, PAYMENTS, "us-east-1", "payments/api", "v7"))

    assert ok, result
    assert result["outcome"] == "alerted"
    alerts = received_alerts(org_stack, inbox)
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert alert["subject"] == "CRITICAL: 1 critical in payments/api:v7"
    assert alert["attributes"]["account"] == PAYMENTS
    assert alert["attributes"]["account_alias"] == "payments-prod"
    assert f"Account     {PAYMENTS} payments-prod (us-east-1)" in alert["message"]
    chats = received_alerts(org_stack, org_stack.chat_queue_url)
    assert len(chats) == 1, chats
    assert f"(account {PAYMENTS} payments-prod, us-east-1)" in chats[0]["message"]
    assert "CVE-2026-20001" in alert["message"]


def test_a_second_account_in_another_region_too(org_stack, inbox):
    findings = [basic_finding("CVE-2026-20002", "HIGH", package="zlib", score=7.5)]
    digest = scanned_image_in(org_stack, DATA, "eu-west-1", "data/etl", "2026.11", basic=findings)

    ok, result = org_stack.invoke(member_event(digest, DATA, "eu-west-1", "data/etl", "2026.11"))

    assert ok, result
    alerts = received_alerts(org_stack, inbox)
    assert len(alerts) == 1, alerts
    assert alerts[0]["subject"] == "HIGH: 1 high in data/etl:2026.11"
    assert alerts[0]["attributes"]["account"] == DATA
    assert alerts[0]["attributes"]["region"] == "eu-west-1"
    assert "account_alias" not in alerts[0]["attributes"], "no alias configured for this account"
    assert f"Account     {DATA} (eu-west-1)" in alerts[0]["message"]


def test_an_account_without_the_role_fails_naming_the_account_and_role(org_stack, inbox):
    findings = [basic_finding("CVE-2026-20003", "CRITICAL")]
    digest = scanned_image_in(org_stack, NO_ROLE, "us-east-1", "legacy/app", "old", basic=findings)

    ok, result = org_stack.invoke(member_event(digest, NO_ROLE, "us-east-1", "legacy/app", "old"))

    assert not ok
    assert result["errorType"] == "MemberRoleUnavailable"
    message = result["errorMessage"]
    assert f"arn:aws:iam::{NO_ROLE}:role/{ROLE}" in message
    assert f"account {NO_ROLE}" in message
    assert "AccessDenied" in message
    assert received_alerts(org_stack, inbox, wait_seconds=0) == []


def test_the_policy_scopes_rules_by_account(org_stack, inbox):
    name = put_policy(org_stack, {
        "version": 1,
        "thresholds": [{"account": DATA, "threshold": "CRITICAL"}],
        "allow": [{"id": "CVE-2026-20010", "account": PAYMENTS, "reason": "payments accepted the risk"}],
    }, name="/scan-alerts/org-policy")
    org_stack.start_function(MEMBER_ROLE_NAME=ROLE, ACCOUNT_ALIASES=ALIASES, POLICY_PARAMETER_NAME=name,
                             POLICY_CACHE_SECONDS="0")
    try:
        both = [basic_finding("CVE-2026-20010", "CRITICAL"), basic_finding("CVE-2026-20011", "CRITICAL", package="zlib")]
        payments = scanned_image_in(org_stack, PAYMENTS, "us-east-1", "payments/scoped", "v1", basic=both)
        high = [basic_finding("CVE-2026-20012", "HIGH")]
        data = scanned_image_in(org_stack, DATA, "us-east-1", "data/scoped", "v1", basic=high)

        ok, result = org_stack.invoke(member_event(payments, PAYMENTS, "us-east-1", "payments/scoped", "v1"))
        assert ok, result
        ok, result = org_stack.invoke(member_event(data, DATA, "us-east-1", "data/scoped", "v1"))
        assert ok, result
        assert result["outcome"] != "alerted", "HIGH is below the CRITICAL threshold of that account"

        alerts = received_alerts(org_stack, inbox)
        assert len(alerts) == 1, alerts
        assert alerts[0]["subject"] == "CRITICAL: 1 critical in payments/scoped:v1"
        assert "CVE-2026-20011" in alerts[0]["message"]
        body = alerts[0]["message"]
        assert "CVE-2026-20010" not in body, "allow-listed in this account"
        assert "Not alerted: 1 allow-listed." in body
    finally:
        org_stack.start_function(MEMBER_ROLE_NAME=ROLE, ACCOUNT_ALIASES=ALIASES)


def test_events_of_accounts_outside_the_stacks_scope_are_skipped_never_failed_or_alerted(stack, inbox):
    """An Inspector delegated administrator receives its members' events
    too (Amazon Inspector User Guide): a stack for this account alone skips
    them with a log line and a metric, and still alerts its own."""
    from harness.seed import finding_event, sqs_batch

    stack.start_function(SCOPE_ACCOUNT_IDS="123456789012")
    try:
        foreign_scan = member_event("sha256:" + "4" * 64, DATA, "us-east-1", "other/app", "v1")
        foreign_finding = finding_event("other/app", "sha256:" + "4" * 64, "CVE-2026-55001", "CRITICAL",
                                        account=DATA, time_form="inspector-guide")
        own_finding = finding_event("own/app", "sha256:" + "5" * 64, "CVE-2026-55002", "CRITICAL",
                                    time_form="inspector-guide")

        ok, result = stack.invoke(foreign_scan)
        assert ok, result
        assert result["outcome"] == "out_of_scope", result
        assert DATA in result["reason"]
        ok, response = stack.invoke(sqs_batch([foreign_finding, own_finding]))

        assert ok and response == {"batchItemFailures": []}, "never failed into the queue"
        [alert] = received_alerts(stack, inbox)
        assert alert["attributes"]["repository"] == "own/app"
        scan_metrics = [line for line in stack.function.log_path.read_text().splitlines()
                        if '"EventsOutOfScope":1' in line]
        batch_log = stack.findings_function.log_path.read_text()
        assert scan_metrics, "the scan function counts it"
        assert '"EventsOutOfScope":1' in batch_log and "out_of_scope" in batch_log
    finally:
        stack.start_function()
