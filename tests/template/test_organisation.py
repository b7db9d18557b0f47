"""template.yaml as the central stack of an organisation (MemberRoleName
set): the scan function assumes the member role by name, in the
organisation's or the listed accounts only, under the role path member
accounts trust; the findings function can do neither; the default bus
accepts events from the organisation or the listed accounts only, and the
finding rule takes container images of every account."""

import copy
import fnmatch

import pytest

from cfn_template import (ACCOUNT, FUNCTION_ROLE_PATH, HANDLERS, PARTITIONS, REGION, ROOT, Resolved,
                          assume_role_problems, load, own_check_problems, role_grants)
from linters import checkov, rendered, summary
from test_resources import rule_violations

ROLE = "ecr-scan-alerts-reader"
ORG = "o-abcdef1234"
MEMBERS = "111111111111,222222222222"
BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"


def central(template, **params):
    return Resolved(template, MemberRoleName=ROLE, **params)


def environment(resolved, function="ScanFunction"):
    return resolved.resources[function]["Properties"]["Environment"]["Variables"]


def test_a_single_account_stack_has_none_of_it(template):
    resolved = Resolved(template)
    for name in ("FunctionAssumeMemberRole", "CentralBusFromOrganisation", "CentralBusFromAccounts"):
        assert name not in resolved.resources
    for function in HANDLERS:
        assert "MEMBER_ROLE_NAME" not in environment(resolved, function)
        assert "ACCOUNT_ALIASES" not in environment(resolved, function)


def test_the_function_assumes_the_member_role_by_name_in_the_organisation(template):
    resolved = central(template, OrganizationId=ORG, AccountAliases="111111111111=payments-prod")
    # Both functions have the same configuration (the findings function
    # names accounts in its alerts too), but only the scan role may assume.
    for function in HANDLERS:
        assert environment(resolved, function)["MEMBER_ROLE_NAME"] == ROLE
        assert environment(resolved, function)["ACCOUNT_ALIASES"] == "111111111111=payments-prod"
    assert resolved.resources["FunctionAssumeMemberRole"]["Properties"]["Roles"] == [
        {"Ref": "FunctionRole"}, {"Ref": "FindingsFunctionRole"}, {"Ref": "DigestFunctionRole"}]
    (statement,) = resolved.resources["FunctionAssumeMemberRole"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Resource"] == f"arn:aws:iam::*:role/{ROLE}"
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceOrgID": ORG}}


def test_the_function_assumes_the_member_role_only_in_the_listed_accounts(template):
    (statement,) = assume_statements(central(template, MemberAccountIds=MEMBERS))
    assert statement["Resource"] == f"arn:aws:iam::*:role/{ROLE}"
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceAccount": MEMBERS.split(",")}}
    # Both given: the account must be listed and in the organisation.
    (both,) = assume_statements(central(template, MemberAccountIds=MEMBERS, OrganizationId=ORG))
    assert both["Condition"] == {"StringEquals": {"aws:ResourceOrgID": ORG,
                                                  "aws:ResourceAccount": MEMBERS.split(",")}}


def assume_statements(resolved):
    return resolved.resources["FunctionAssumeMemberRole"]["Properties"]["PolicyDocument"]["Statement"]


def test_organisation_wide_is_refused_without_organisation_or_accounts(template):
    """Neither would let the function assume the role in any account."""
    violations = rule_violations(central(template))
    assert len(violations) == 1 and "give OrganizationId or MemberAccountIds" in violations[0]
    assert assume_role_problems(central(template)) == [
        f"Resources/FunctionAssumeMemberRole/Properties/PolicyDocument: may assume arn:aws:iam::*:role/{ROLE} "
        "in any account"]
    for params in ({"OrganizationId": ORG}, {"MemberAccountIds": MEMBERS}):
        assert rule_violations(central(template, **params)) == []


@pytest.mark.parametrize("partition", ["aws", *PARTITIONS])
def test_the_function_role_is_the_one_member_roles_trust(template, partition):
    """The central role's ARN, with its path, matches the member stack's
    aws:PrincipalArn pattern in every partition; a role outside the path
    does not."""
    pseudo = PARTITIONS.get(partition, {})
    role = central(template, OrganizationId=ORG).resources["FunctionRole"]["Properties"]
    assert role["Path"] == FUNCTION_ROLE_PATH
    assert "RoleName" not in role  # generated: two stacks can share an account
    member = Resolved(load(ROOT / "member.yaml"), pseudo=pseudo, CentralAccountId=ACCOUNT)
    (trust,) = member.resources["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    pattern = trust["Condition"]["ArnLike"]["aws:PrincipalArn"]
    function_role = f"arn:{partition}:iam::{ACCOUNT}:role{FUNCTION_ROLE_PATH}ecr-scan-alerts-FunctionRole-AbC123"
    assert fnmatch.fnmatchcase(function_role, pattern)
    for other in (f"arn:{partition}:iam::{ACCOUNT}:role/Admin",
                  f"arn:{partition}:iam::{ACCOUNT}:user/ecr-scan-alerts/alice",
                  f"arn:{partition}:iam::111111111111:role{FUNCTION_ROLE_PATH}x"):
        assert not fnmatch.fnmatchcase(other, pattern), other


@pytest.mark.parametrize("params", [{"OrganizationId": ORG}, {"MemberAccountIds": MEMBERS}],
                         ids=["organisation", "accounts"])
@pytest.mark.parametrize("partition", ["aws", *PARTITIONS])
def test_the_findings_function_role_reads_member_accounts_owner_tags_only(template, partition, params):
    """The findings function takes its findings from the events; of a
    member account it reads the repositories' owner tags, through the
    member's reader role: it may assume that role (as scoped as the scan
    role), its path is the one the reader role trusts, and the reader role
    grants ecr:ListTagsForResource."""
    resolved = central(template, pseudo=PARTITIONS.get(partition), **params)
    grants = role_grants(resolved, "FindingsFunctionRole")
    assert {a for a in grants if a.lower().startswith(("sts:", "ecr:", "inspector2:"))} == {
        "sts:AssumeRole", "ecr:ListTagsForResource"}, sorted(grants)
    assert grants["sts:AssumeRole"] == role_grants(resolved, "FunctionRole")["sts:AssumeRole"]
    path = resolved.resources["FindingsFunctionRole"]["Properties"].get("Path", "/")
    member = Resolved(load(ROOT / "member.yaml"), pseudo=PARTITIONS.get(partition), CentralAccountId=ACCOUNT)
    (trust,) = member.resources["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    pattern = trust["Condition"]["ArnLike"]["aws:PrincipalArn"]
    findings_role = f"arn:{partition}:iam::{ACCOUNT}:role{path}ecr-scan-alerts-FindingsFunctionRole-AbC123"
    assert fnmatch.fnmatchcase(findings_role, pattern)
    reader = role_grants(member, "ReaderRole")
    assert reader["ecr:ListTagsForResource"] == [f"arn:{partition}:ecr:*:{ACCOUNT}:repository/*"]


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


# -- broken copies ----------------------------------------------------------------

def assume_anywhere(template):
    (statement,) = template["Resources"]["FunctionAssumeMemberRole"]["Properties"]["PolicyDocument"]["Statement"]
    del statement["Condition"]


def assume_any_role(template):
    (statement,) = template["Resources"]["FunctionAssumeMemberRole"]["Properties"]["PolicyDocument"]["Statement"]
    statement["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/*"}
    del statement["Condition"]


def role_outside_the_trusted_path(template):
    template["Resources"]["FunctionRole"]["Properties"]["Path"] = "/"


def findings_role_reads_findings(template):
    policy = template["Resources"]["FindingsFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    policy["Statement"].append({"Sid": "ReadFindings", "Effect": "Allow", "Action": "ecr:DescribeImageScanFindings",
                                "Resource": "*"})


def findings_role_outside_the_trusted_path(template):
    template["Resources"]["FindingsFunctionRole"]["Properties"]["Path"] = "/"


@pytest.mark.parametrize("params", [{"OrganizationId": ORG}, {"MemberAccountIds": MEMBERS}],
                         ids=["organisation", "accounts"])
@pytest.mark.parametrize("breakage", [assume_anywhere, assume_any_role, role_outside_the_trusted_path,
                                      findings_role_reads_findings, findings_role_outside_the_trusted_path],
                         ids=lambda f: f.__name__)
def test_a_broken_central_copy_is_rejected(template, params, breakage):
    broken = copy.deepcopy(template)
    breakage(broken)
    assert own_check_problems(broken, MemberRoleName=ROLE, **params)
    assert own_check_problems(template, MemberRoleName=ROLE, **params) == []


def test_the_digest_lists_the_organisations_accounts_only_without_an_account_list(template):
    org_only = Resolved(template, MemberRoleName="ecr-scan-alerts-reader", OrganizationId="o-abcdef1234")
    [statement] = org_only.resources["DigestListsAccounts"]["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == ("organizations:ListAccounts", "*")
    assert org_only.resources["DigestListsAccounts"]["Properties"]["Roles"] == [{"Ref": "DigestFunctionRole"}]
    listed = Resolved(template, MemberRoleName="ecr-scan-alerts-reader", OrganizationId="o-abcdef1234",
                      MemberAccountIds="111111111111")
    assert "DigestListsAccounts" not in listed.resources
    assert "DigestListsAccounts" not in Resolved(template).resources
