"""template.yaml as the central stack of an organisation (MemberRoleName
set): the function assumes the member role by name only, the default bus
accepts events from the organisation or the listed accounts only, and the
finding rule takes container images of every account."""

import pytest

from cfn_template import ACCOUNT, REGION, Resolved, own_check_problems
from linters import checkov, rendered, summary

ROLE = "ecr-scan-alerts-reader"
ORG = "o-abcdef1234"
MEMBERS = "111111111111,222222222222"
BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"


def central(template, **params):
    return Resolved(template, MemberRoleName=ROLE, **params)


def environment(resolved):
    return resolved.resources["AlertFunction"]["Properties"]["Environment"]["Variables"]


def test_a_single_account_stack_has_none_of_it(template):
    resolved = Resolved(template)
    for name in ("FunctionAssumeMemberRole", "CentralBusFromOrganisation", "CentralBusFromAccounts"):
        assert name not in resolved.resources
    assert "MEMBER_ROLE_NAME" not in environment(resolved)
    assert "ACCOUNT_ALIASES" not in environment(resolved)


def test_the_function_assumes_the_member_role_by_name_in_the_organisation(template):
    resolved = central(template, OrganizationId=ORG, AccountAliases="111111111111=payments-prod")
    assert environment(resolved)["MEMBER_ROLE_NAME"] == ROLE
    assert environment(resolved)["ACCOUNT_ALIASES"] == "111111111111=payments-prod"
    (statement,) = resolved.resources["FunctionAssumeMemberRole"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Resource"] == f"arn:aws:iam::*:role/{ROLE}"
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceOrgID": ORG}}


def test_the_bus_accepts_the_organisation_only(template):
    resolved = central(template, OrganizationId=ORG)
    assert "CentralBusFromAccounts" not in resolved.resources
    statement = resolved.resources["CentralBusFromOrganisation"]["Properties"]["Statement"]
    assert statement == {
        "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents", "Resource": BUS,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    }


def test_or_the_listed_accounts_only(template):
    resolved = central(template, MemberAccountIds=MEMBERS)
    assert "CentralBusFromOrganisation" not in resolved.resources
    statement = resolved.resources["CentralBusFromAccounts"]["Properties"]["Statement"]
    assert statement["Principal"] == {"AWS": MEMBERS.split(",")}
    assert statement["Resource"] == BUS
    assert "Condition" not in resolved.resources["FunctionAssumeMemberRole"]["Properties"]["PolicyDocument"][
        "Statement"][0]


def test_findings_of_every_account_and_region_are_taken_and_read(template):
    resolved = central(template, OrganizationId=ORG)
    pattern = resolved.resources["FindingEventsRule"]["Properties"]["EventPattern"]
    assert pattern["resources"] == [{"prefix": "arn:aws:ecr:"}]
    member_image = f"arn:aws:ecr:eu-west-1:111111111111:repository/payments/api/sha256:{'1' * 64}"
    assert member_image.startswith(pattern["resources"][0]["prefix"])
    statements = resolved.resources["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (read,) = [s for s in statements if s["Sid"] == "ReadScanFindingsOfWatchedRepositories"]
    assert read["Resource"] == f"arn:aws:ecr:*:{ACCOUNT}:repository/*"


@pytest.mark.parametrize("params", [{"OrganizationId": ORG}, {"MemberAccountIds": MEMBERS}],
                         ids=["organisation", "accounts"])
def test_own_checks_and_checkov_pass(template, tmp_path, params):
    assert own_check_problems(template, MemberRoleName=ROLE, **params) == []
    results = checkov(rendered(template, tmp_path / "central.json", MemberRoleName=ROLE, **params))
    assert results["failed"] == [], summary(results["failed"])
    passed = {c["resource"] for c in results["passed"]}
    assert "AWS::IAM::Policy.FunctionAssumeMemberRole" in passed
    for skip in results["skipped"]:
        comment = (skip.get("check_result") or {}).get("suppress_comment") or ""
        assert len(comment.split()) >= 8, skip
