"""Only this stack's accounts. An Amazon Inspector delegated administrator
receives its members' events too (Amazon Inspector User Guide, "Amazon
EventBridge event schema for Amazon Inspector events": "If your account is
an Amazon Inspector delegated administrator account, EventBridge publishes
events to your account and the member account where the events
originated"). So the rules take, by the events' `account`:

- single account: this account alone;
- organisation-wide with MemberAccountIds: those accounts and this one;
- organisation-wide with an OrganizationId alone: any account (the bus
  policy admits the organisation's accounts only);

and both functions get SCOPE_ACCOUNT_IDS, the same list (unset: any
account), for what still reaches them. The patterns are checked on moto's
EventBridge too, which stamps every event with the caller's account
(123456789012): a stack resolved for another account sees them as a
foreign account's events."""

import json

import pytest

from cfn_template import ACCOUNT, HANDLERS, Resolved
from test_finding_pattern import SAMPLE, FindingBus
from test_pattern import Bus, read, EVENTS

ROLE = "ecr-scan-alerts-reader"
ORG = "o-abcdef1234"
MEMBERS = "111111111111,222222222222"
# The stack under test in another account than the events' (moto's).
OTHER = "999999999999"

MODES = {
    "single account": ({}, [ACCOUNT]),
    "member accounts": ({"MemberRoleName": ROLE, "MemberAccountIds": MEMBERS}, [ACCOUNT, *MEMBERS.split(",")]),
    "organisation and listed accounts": ({"MemberRoleName": ROLE, "MemberAccountIds": MEMBERS, "OrganizationId": ORG},
                                         [ACCOUNT, *MEMBERS.split(",")]),
    "organisation": ({"MemberRoleName": ROLE, "OrganizationId": ORG}, None),
}


def patterns(resolved):
    scan = resolved.resources["ScanFunction"]["Properties"]["Events"]["ScanEvents"]["Properties"]["Pattern"]
    findings = resolved.resources["FindingEventsRule"]["Properties"]["EventPattern"]
    return {"scan": scan, "findings": findings}


@pytest.mark.parametrize("mode", MODES)
def test_each_rule_takes_the_stacks_accounts_only(template, mode):
    params, accounts = MODES[mode]
    for name, pattern in patterns(Resolved(template, **params)).items():
        assert pattern.get("account") == accounts, (mode, name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("function", HANDLERS)
def test_both_functions_know_the_scope(template, mode, function):
    params, accounts = MODES[mode]
    variables = Resolved(template, **params).resources[function]["Properties"]["Environment"]["Variables"]
    if accounts is None:
        assert "SCOPE_ACCOUNT_IDS" not in variables, "organisation-wide: any account that reaches the function"
    else:
        assert variables["SCOPE_ACCOUNT_IDS"].split(",") == accounts
        assert all(len(a) == 12 and a.isdigit() for a in variables["SCOPE_ACCOUNT_IDS"].split(","))


def test_the_scope_follows_the_account_the_stack_is_in(template):
    resolved = Resolved(template, pseudo={"AWS::AccountId": OTHER})
    assert patterns(resolved)["scan"]["account"] == [OTHER]
    assert resolved.globals["Function"]["Environment"]["Variables"]["SCOPE_ACCOUNT_IDS"] == OTHER


def test_a_foreign_accounts_scan_events_do_not_match_a_single_account_stack(moto_url, template):
    """The events come from moto's account; the stack is in another one."""
    foreign = Bus(moto_url, patterns(Resolved(template, pseudo={"AWS::AccountId": OTHER}))["scan"])
    assert {p.name: foreign.matches(read(p)) for p in EVENTS} == {p.name: False for p in EVENTS}
    own = Bus(moto_url, patterns(Resolved(template))["scan"])
    assert {p.name: own.matches(read(p)) for p in EVENTS} == {p.name: True for p in EVENTS}


def test_a_foreign_accounts_finding_events_do_not_match_a_single_account_stack(moto_url, template):
    """The finding's image ARN names the stack's account, as the repository
    prefix asks; only the event's account is foreign."""
    resolved = Resolved(template, pseudo={"AWS::AccountId": OTHER})
    event = json.loads(json.dumps(SAMPLE).replace(ACCOUNT, OTHER))
    assert FindingBus(moto_url, patterns(resolved)["findings"]).matches(event) is False
    assert FindingBus(moto_url, patterns(Resolved(template))["findings"]).matches(SAMPLE) is True


def test_a_listed_member_accounts_events_match_and_an_unlisted_ones_do_not(moto_url, template):
    """A central stack in OTHER: events from moto's account match when it is
    listed in MemberAccountIds, and not when it is not."""
    central = {"MemberRoleName": ROLE}
    listed = Resolved(template, pseudo={"AWS::AccountId": OTHER}, MemberAccountIds=f"{ACCOUNT},111111111111", **central)
    unlisted = Resolved(template, pseudo={"AWS::AccountId": OTHER}, MemberAccountIds=MEMBERS, **central)
    sample = read(EVENTS[0])
    assert Bus(moto_url, patterns(listed)["scan"]).matches(sample) is True
    assert Bus(moto_url, patterns(unlisted)["scan"]).matches(sample) is False
    assert FindingBus(moto_url, patterns(listed)["findings"]).matches(SAMPLE) is True
    assert FindingBus(moto_url, patterns(unlisted)["findings"]).matches(SAMPLE) is False


def test_organisation_wide_takes_any_account_the_bus_admits(moto_url, template):
    resolved = Resolved(template, pseudo={"AWS::AccountId": OTHER}, MemberRoleName=ROLE, OrganizationId=ORG)
    assert Bus(moto_url, patterns(resolved)["scan"]).matches(read(EVENTS[0])) is True
    assert FindingBus(moto_url, patterns(resolved)["findings"]).matches(SAMPLE) is True
