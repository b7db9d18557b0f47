"""Layer 3: who owns it. Each repository's `owner` tag (or the policy's
`owners` list) names the team; every alert carries it as the `owner`
attribute, and a team's subscription filtered on it (docs/alerts.md,
"Routing per team") receives its own alerts and nobody else's: scan events,
finding batches, storms, and images of a member account."""

import json

import pytest

from harness.seed import (
    basic_finding,
    dedup_table,
    ensure_repository,
    event_for,
    finding_event,
    member_client,
    member_role,
    put_policy,
    received_alerts,
    role_exists,
    scanned_image,
    scanned_image_in,
    sqs_batch,
    subscribe_queue,
)

PAYMENTS, SEARCH = "payments", "search"
MEMBER = "444444444444"
ROLE = "ecr-scan-alerts-reader"


def tag(ecr, repository, owner, account="123456789012", region="us-east-1"):
    """Tags the repository `owner=<owner>` (and another tag beside it)."""
    ensure_repository(ecr, repository)
    ecr.tag_resource(resourceArn=f"arn:aws:ecr:{region}:{account}:repository/{repository}",
                     tags=[{"Key": "cost-centre", "Value": "42"}, {"Key": "owner", "Value": owner}])


@pytest.fixture(scope="module")
def teams(stack):
    """Two teams' subscriptions to the alert topic, each filtered on its
    owner, as docs/alerts.md shows; the policy names the owner of the
    untagged `own/legacy-*` repositories."""
    queues = {team: subscribe_queue(stack, stack.topic_arn, f"team-{team}", {"owner": [team]})
              for team in (PAYMENTS, SEARCH)}
    parameter = put_policy(stack, {"version": 1, "owners": [{"owner": SEARCH, "repository": "own/legacy-*"}]},
                           name="/scan-alerts/owners-policy")
    table = dedup_table(stack, "scan-alerts-owners")
    member_role(stack, MEMBER, ROLE)
    stack.proxy.role_check = lambda arn: role_exists(stack, arn)
    stack.start_function(POLICY_PARAMETER_NAME=parameter, POLICY_CACHE_SECONDS="0", STORM_TABLE_NAME=table,
                         STORM_THRESHOLD="3", MEMBER_ROLE_NAME=ROLE, METRICS="true")
    stack.teams = queues
    yield stack
    stack.proxy.role_check = None
    stack.start_function()


def drain(stack):
    for url in stack.teams.values():
        received_alerts(stack, url, wait_seconds=0)


def subjects(stack, team):
    return sorted(a["subject"] for a in received_alerts(stack, stack.teams[team]))


def test_scan_alerts_reach_only_the_owning_teams_subscription(teams, inbox):
    drain(teams)
    ecr = teams.client("ecr")
    tag(ecr, "own/pay-api", PAYMENTS)
    tag(ecr, "own/search-web", SEARCH)
    critical = [basic_finding("CVE-2026-27001", "CRITICAL", score=9.8)]
    pay = scanned_image(teams, "own/pay-api", "v1", basic=critical)
    search = scanned_image(teams, "own/search-web", "v1", basic=critical)
    legacy = scanned_image(teams, "own/legacy-cron", "v1", basic=critical)
    nobody = scanned_image(teams, "own/orphan", "v1", basic=critical)

    for repository, digest in (("own/pay-api", pay), ("own/search-web", search), ("own/legacy-cron", legacy),
                               ("own/orphan", nobody)):
        event = event_for("basic-scan-complete.json", digest)
        event["detail"]["repository-name"] = repository
        event["resources"] = [f"arn:aws:ecr:us-east-1:123456789012:repository/{repository}"]
        event["detail"]["image-tags"] = ["v1"]
        ok, result = teams.invoke(event)
        assert ok and result["outcome"] == "alerted", result

    assert subjects(teams, PAYMENTS) == ["CRITICAL: 1 critical in own/pay-api:v1"]
    assert subjects(teams, SEARCH) == ["CRITICAL: 1 critical in own/legacy-cron:v1",
                                       "CRITICAL: 1 critical in own/search-web:v1"]
    everything = {a["subject"]: a for a in received_alerts(teams, inbox)}
    assert len(everything) == 4, sorted(everything)
    pay_alert = everything["CRITICAL: 1 critical in own/pay-api:v1"]
    assert pay_alert["attributes"]["owner"] == PAYMENTS
    assert "Owner: payments (repository tag owner)" in pay_alert["message"]
    legacy_alert = everything["CRITICAL: 1 critical in own/legacy-cron:v1"]
    assert "Owner: search (policy owners[0])" in legacy_alert["message"]
    orphan = everything["CRITICAL: 1 critical in own/orphan:v1"]
    assert orphan["attributes"]["owner"] == "unowned"
    assert "Owner: unowned (no owner tag or policy entry)" in orphan["message"]
    chats = received_alerts(teams, teams.chat_queue_url)
    assert any("Owner: *payments* (repository tag owner)" in c["message"] for c in chats), chats


def test_a_bad_owner_tag_is_reported_and_the_alert_still_goes_out(teams, inbox):
    drain(teams)
    tag(teams.client("ecr"), "own/odd", "<!channel> *everyone*")
    digest = scanned_image(teams, "own/odd", "v1", basic=[basic_finding("CVE-2026-27002", "HIGH")])
    event = event_for("basic-scan-complete.json", digest)
    event["detail"]["repository-name"] = "own/odd"
    event["resources"] = ["arn:aws:ecr:us-east-1:123456789012:repository/own/odd"]

    ok, result = teams.invoke(event)

    assert ok and result["outcome"] == "alerted", result
    [alert] = received_alerts(teams, inbox)
    assert alert["attributes"]["owner"] == "unowned"
    logs = teams.logs()
    assert "the repository's owner tag is no owner name" in logs
    assert '"OwnerTagsInvalid"' in logs
    assert subjects(teams, PAYMENTS) == [] and subjects(teams, SEARCH) == []


def test_finding_batches_and_storms_reach_every_team_they_touch(teams, inbox):
    drain(teams)
    ecr = teams.client("ecr")
    tag(ecr, "own/pay-batch", PAYMENTS)
    tag(ecr, "own/search-batch", SEARCH)
    digest = lambda n: f"sha256:{27000 + n:064x}"  # noqa: E731
    # A storm over both teams' images (past the threshold of 3), and one
    # finding of payments' own.
    events = [finding_event("own/pay-batch" if i % 2 else "own/search-batch", digest(i), "CVE-2026-27100",
                            "CRITICAL", package="glibc", version="2.36") for i in range(6)]
    events.append(finding_event("own/pay-batch", digest(1), "CVE-2026-27101", "HIGH", package="curl"))

    ok, response = teams.invoke(sqs_batch(events))

    assert ok and response == {"batchItemFailures": []}, response
    pay = received_alerts(teams, teams.teams[PAYMENTS])
    search = received_alerts(teams, teams.teams[SEARCH])
    storm_subject = "STORM CRITICAL: CVE-2026-27100 in 6 images, 2 repositories"
    assert sorted(a["subject"] for a in pay) == sorted([storm_subject, "HIGH: 1 high in own/pay-batch:v1"])
    assert [a["subject"] for a in search] == [storm_subject], "the storm, not payments' own finding"
    [storm] = [a for a in pay if a["attributes"]["alert_kind"] == "storm"]
    # String.Array attributes arrive as their JSON text.
    assert sorted(json.loads(storm["attributes"]["owner"])) == [PAYMENTS, SEARCH]
    assert sorted(json.loads(storm["attributes"]["repository"])) == ["own/pay-batch", "own/search-batch"]
    assert "BY OWNER (2)" in storm["message"]
    assert "  payments: 3 images" in storm["message"] and "  search: 3 images" in storm["message"]
    received_alerts(teams, inbox)


def test_a_member_accounts_repository_is_owned_by_its_tag(teams, inbox):
    drain(teams)
    ecr = member_client(teams, "ecr", MEMBER)
    tag(ecr, "pay/ledger", PAYMENTS, account=MEMBER)
    digest = scanned_image_in(teams, MEMBER, "us-east-1", "pay/ledger", "v3",
                              basic=[basic_finding("CVE-2026-27200", "CRITICAL")])
    event = event_for("basic-scan-complete.json", digest)
    event["account"] = MEMBER
    event["resources"] = [f"arn:aws:ecr:us-east-1:{MEMBER}:repository/pay/ledger"]
    event["detail"]["repository-name"] = "pay/ledger"
    event["detail"]["image-tags"] = ["v3"]

    ok, result = teams.invoke(event)

    assert ok and result["outcome"] == "alerted", result
    assert subjects(teams, PAYMENTS) == ["CRITICAL: 1 critical in pay/ledger:v3"]
    assert subjects(teams, SEARCH) == []
    [alert] = received_alerts(teams, inbox)
    assert alert["attributes"]["account"] == MEMBER
    assert "Owner: payments (repository tag owner)" in alert["message"]
