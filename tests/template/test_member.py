"""The member stack (member.yaml): the same linters as template.yaml, our own
checks on its role and rules, and its patterns on a local EventBridge (moto):
it forwards exactly what the central stack's rules take."""

import copy
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from cfn_template import (ACCOUNT, FUNCTION_ROLE_PATH, PARTITIONS, REGION, ROOT, Resolved, dump_json, load,
                          partition_problems, policy_statements, uncommented_wildcard_resources,
                          wildcard_action_problems, wildcard_resource_problems)
from linters import cfn_lint, checkov, summary
from test_finding_pattern import SAMPLE, FindingBus, finding
from test_pattern import EVENTS, NEGATIVES, Bus, read

MEMBER = ROOT / "member.yaml"
CENTRAL = "999999999999"
ORG = "o-abcdef1234"


@pytest.fixture(scope="module")
def member():
    return load(MEMBER)


def resolved(member, **params):
    return Resolved(member, **{"CentralAccountId": CENTRAL, **params})


def member_problems(template, **params):
    """Our own checks: no wildcard action, no "*" resource where an ARN
    exists, no ARN of one partition only; the reader role trusts only the
    central function's role (and the organisation when given) and may only
    read scan findings; the rules send to the central bus only, and no
    Inspector event in the central region of a delegated administrator."""
    params = {"CentralAccountId": CENTRAL, **params}
    r = Resolved(template, **params)
    problems = wildcard_action_problems(r) + wildcard_resource_problems(r) + partition_problems(template, **params)
    role = r.resources.get("ReaderRole")
    if role is not None:
        trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        principals = [s.get("Principal") for s in trust]
        if principals != [{"AWS": f"arn:aws:iam::{CENTRAL}:root"}]:
            problems.append(f"ReaderRole trusts {principals}, not the central account alone")
        org = r.params["OrganizationId"]
        expected = {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{CENTRAL}:role{FUNCTION_ROLE_PATH}*"}}
        if org:
            expected["StringEquals"] = {"aws:PrincipalOrgID": org}
        conditions = [s.get("Condition") for s in trust]
        if conditions != [expected]:
            problems.append(f"ReaderRole admits more than the central function's role: {conditions}, "
                            f"not {expected}")
        actions = sorted(a for _, s in policy_statements(role["Properties"]["Policies"])
                         for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
        if actions != ["ecr:DescribeImageScanFindings", "ecr:DescribeImages", "ecr:DescribeRepositories",
                       "ecr:GetRegistryScanningConfiguration", "ecr:ListTagsForResource",
                       "inspector2:ListAccountPermissions", "inspector2:ListCoverage",
                       "inspector2:ListFindingAggregations", "inspector2:ListFindings"]:
            problems.append(f"ReaderRole may do {actions}")
    region = r.params["CentralRegion"] or REGION
    bus = f"arn:aws:events:{region}:{CENTRAL}:event-bus/default"
    for name in ("ScanEventsRule", "FindingEventsRule"):
        if name not in r.resources:
            continue
        targets = [t["Arn"] for t in r.resources[name]["Properties"]["Targets"]]
        if targets != [bus]:
            problems.append(f"{name} sends to {targets}, not {bus}")
    administrator = r.params["CentralIsInspectorAdministrator"] == "true" or r.params["ForwardInspectorEvents"] == "false"
    if administrator and r.params["CentralRegion"] in ("", r.pseudo["AWS::Region"]):
        for name, rule in r.of_type("AWS::Events::Rule").items():
            if "aws.inspector2" in json.dumps(rule["Properties"]["EventPattern"]):
                problems.append(f"{name} forwards Inspector events to a delegated administrator")
    return problems


def test_cfn_lint_with_the_serverless_rules_passes():
    rc, out = cfn_lint(MEMBER)
    assert rc == 0, out


def test_checkov_fails_nothing_and_every_skip_is_justified():
    results = checkov(MEMBER)
    assert results["failed"] == [], summary(results["failed"])
    assert results["passed"], "checkov read the template"
    for skip in results["skipped"]:
        comment = (skip.get("check_result") or {}).get("suppress_comment") or ""
        assert len(comment.split()) >= 8, skip


@pytest.mark.parametrize("params", [
    {},
    {"OrganizationId": ORG},
    {"CentralRegion": "eu-west-1"},
    {"CreateReaderRole": "false"},
    {"ForwardInspectorEvents": "false"},
    {"CentralIsInspectorAdministrator": "true"},
    {"CentralIsInspectorAdministrator": "true", "CentralRegion": "eu-west-1"},
], ids=["central-account", "organisation", "central-region", "no-role", "no-inspector-forwarding",
        "administrator", "administrator-elsewhere"])
def test_our_own_checks_pass(member, params):
    assert member_problems(member, **params) == []


def test_the_role_exists_in_one_region_only_and_trusts_the_central_function_role(member):
    assert "ReaderRole" not in resolved(member, CreateReaderRole="false").resources
    role = resolved(member, OrganizationId=ORG).resources["ReaderRole"]["Properties"]
    assert role["RoleName"] == "ecr-scan-alerts-reader"
    function_roles = f"arn:aws:iam::{CENTRAL}:role/ecr-scan-alerts/*"
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRole")
    assert statement["Condition"] == {"ArnLike": {"aws:PrincipalArn": function_roles},
                                      "StringEquals": {"aws:PrincipalOrgID": ORG}}
    # Without an organisation id the central function's role is still the only one.
    (without_org,) = resolved(member).resources["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert without_org["Condition"] == {"ArnLike": {"aws:PrincipalArn": function_roles}}


@pytest.mark.parametrize("partition", PARTITIONS)
def test_every_arn_follows_the_partition(member, partition):
    r = Resolved(member, pseudo=PARTITIONS[partition], CentralAccountId=CENTRAL)
    (trust,) = r.resources["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": f"arn:{partition}:iam::{CENTRAL}:root"}
    assert trust["Condition"]["ArnLike"]["aws:PrincipalArn"] == f"arn:{partition}:iam::{CENTRAL}:role/ecr-scan-alerts/*"
    region = PARTITIONS[partition]["AWS::Region"]
    assert r.resources["FindingEventsRule"]["Properties"]["EventPattern"]["resources"] == [
        {"prefix": f"arn:{partition}:ecr:{region}:{ACCOUNT}:repository/"}]
    assert partition_problems(member, CentralAccountId=CENTRAL) == []


def test_the_reader_role_reads_findings_only_and_explains_each_wildcard(member):
    role = resolved(member).resources["ReaderRole"]["Properties"]
    grants = {a: s["Resource"] for _, s in policy_statements(role["Policies"])
              for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    # The digest also lists the registry (repositories, images with their
    # summaries, its scan type): read-only, as the findings.
    assert grants == {"ecr:DescribeImageScanFindings": f"arn:aws:ecr:*:{ACCOUNT}:repository/*",
                      "ecr:ListTagsForResource": f"arn:aws:ecr:*:{ACCOUNT}:repository/*",
                      "ecr:DescribeRepositories": f"arn:aws:ecr:*:{ACCOUNT}:repository/*",
                      "ecr:DescribeImages": f"arn:aws:ecr:*:{ACCOUNT}:repository/*",
                      "ecr:GetRegistryScanningConfiguration": "*",
                      "inspector2:ListFindings": "*", "inspector2:ListCoverage": "*",
                      "inspector2:ListAccountPermissions": "*", "inspector2:ListFindingAggregations": "*"}
    assert uncommented_wildcard_resources(MEMBER) == []


def test_a_delegated_administrator_gets_no_inspector_event_twice(member):
    """ForwardInspectorEvents=false: the central account, Inspector's
    delegated administrator, receives the members' Inspector events itself;
    only basic scan events are forwarded."""
    assert member["Parameters"]["ForwardInspectorEvents"]["Default"] == "true"
    description = " ".join(member["Parameters"]["ForwardInspectorEvents"]["Description"].split())
    assert "delegated administrator" in description and "aws.inspector2" in description
    off = resolved(member, ForwardInspectorEvents="false")
    assert "FindingEventsRule" not in off.resources
    pattern = off.resources["ScanEventsRule"]["Properties"]["EventPattern"]
    assert (pattern["source"], pattern["detail-type"]) == (["aws.ecr"], ["ECR Image Scan"])
    assert pattern["detail"]["scan-status"] == ["COMPLETE", "FAILED"]
    statement = off.resources["ForwardDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == [{"Fn::GetAtt": ["ScanEventsRule", "Arn"]}]
    on = resolved(member)
    assert on.resources["ScanEventsRule"]["Properties"]["EventPattern"]["source"] == ["aws.ecr", "aws.inspector2"]
    assert "FindingEventsRule" in on.resources


def broader_trust(template):
    role = template["Resources"]["ReaderRole"]["Properties"]
    role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {"AWS": "*"}


def write_access(template):
    statements = template["Resources"]["ReaderRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[0]["Action"] = ["ecr:DescribeImageScanFindings", "ecr:PutImage"]


def wildcard_action(template):
    statements = template["Resources"]["ReaderRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[0]["Action"] = "ecr:*"


def central_account_trust(template):
    """Every principal of the central account, as the role once trusted."""
    del template["Resources"]["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]


def any_role_of_the_central_account(template):
    statement = template["Resources"]["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    statement["Condition"]["ArnLike"]["aws:PrincipalArn"] = {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${CentralAccountId}:role/*"}


def wildcard_resource(template):
    statements = template["Resources"]["ReaderRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[0]["Resource"] = "*"


def literal_partition(template):
    statements = template["Resources"]["ReaderRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[0]["Resource"] = {"Fn::Sub": "arn:aws:ecr:*:${AWS::AccountId}:repository/*"}


BREAKAGES = {
    broader_trust: {"checkov", "own checks"},
    write_access: {"own checks"},
    wildcard_action: {"own checks"},
    central_account_trust: {"own checks"},
    any_role_of_the_central_account: {"own checks"},
    wildcard_resource: {"own checks"},
    literal_partition: {"own checks"},
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda f: f.__name__)
def test_a_broken_copy_is_rejected(member, tmp_path, breakage):
    broken = copy.deepcopy(member)
    breakage(broken)
    path = dump_json(broken, tmp_path / "member.json")
    rejected_by = {}
    with ThreadPoolExecutor() as pool:
        lint, scan = pool.submit(cfn_lint, path), pool.submit(checkov, path)
        rc, out = lint.result()
        if rc != 0:
            rejected_by["cfn-lint"] = out
        if scan.result()["failed"]:
            rejected_by["checkov"] = summary(scan.result()["failed"])
    problems = member_problems(broken)
    if problems:
        rejected_by["own checks"] = problems
    assert BREAKAGES[breakage] <= set(rejected_by), rejected_by


# -- the patterns on a local EventBridge ----------------------------------------

def test_every_scan_sample_is_forwarded_and_no_negative(moto_url, member):
    pattern = resolved(member).resources["ScanEventsRule"]["Properties"]["EventPattern"]
    rule = Bus(moto_url, pattern)
    assert {p.name: rule.matches(read(p)) for p in EVENTS} == {p.name: True for p in EVENTS}
    assert {p.name: rule.matches(read(p)) for p in NEGATIVES} == {p.name: False for p in NEGATIVES}


def test_finding_events_of_this_accounts_images_are_forwarded(moto_url, member):
    pattern = resolved(member).resources["FindingEventsRule"]["Properties"]["EventPattern"]
    assert pattern["resources"] == [{"prefix": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/"}]
    rule = FindingBus(moto_url, pattern)
    results = {
        "sample": rule.matches(SAMPLE),
        "medium": rule.matches(finding(severity="MEDIUM")),
        "closed": rule.matches(finding(status="CLOSED")),
        "suppressed": rule.matches(finding(status="SUPPRESSED")),
        "ec2 instance": rule.matches(finding(kind="AWS_EC2_INSTANCE")),
    }
    # Severity is the central stack's choice: every active or closed finding goes.
    assert results == {"sample": True, "medium": True, "closed": True, "suppressed": False, "ec2 instance": False}


def test_without_inspector_forwarding_only_basic_scans_are_forwarded(moto_url, member):
    pattern = resolved(member, ForwardInspectorEvents="false").resources["ScanEventsRule"]["Properties"]["EventPattern"]
    rule = Bus(moto_url, pattern)
    assert {p.name: rule.matches(read(p)) for p in EVENTS} == {p.name: read(p)["source"] == "aws.ecr" for p in EVENTS}


# -- the forwarding role: this stack's rules only ------------------------------------

def test_only_this_stacks_forwarding_rules_may_assume_the_forward_role(member):
    """aws:SourceArn names the two rules; their names come from the stack id
    (a fixed prefix and its first segment), not from the rules themselves,
    which refer to the role (a reference back would be circular)."""
    r = resolved(member)
    (trust,) = r.resources["ForwardRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    names = {name: r.resources[name]["Properties"]["Name"] for name in ("ScanEventsRule", "FindingEventsRule")}
    arns = [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{names[n]}" for n in ("ScanEventsRule", "FindingEventsRule")]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                                  "ArnEquals": {"aws:SourceArn": arns}}
    for name in names.values():
        assert len(name) <= 64 and name.startswith("ecr-scan-alerts-") and name.endswith("-1a2b3c4d"), name


@pytest.mark.parametrize("partition", PARTITIONS)
def test_the_forward_role_trust_follows_the_partition(member, partition):
    r = Resolved(member, pseudo=PARTITIONS[partition], CentralAccountId=CENTRAL)
    (trust,) = r.resources["ForwardRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    region = PARTITIONS[partition]["AWS::Region"]
    assert all(a.startswith(f"arn:{partition}:events:{region}:{ACCOUNT}:rule/ecr-scan-alerts-")
               for a in trust["Condition"]["ArnEquals"]["aws:SourceArn"])


# -- each region forwards what its central stack does not receive itself ----------------

@pytest.mark.parametrize("params, forwards", [
    ({}, True),
    ({"CentralRegion": "eu-west-1"}, True),
    ({"CentralIsInspectorAdministrator": "true"}, False),
    ({"CentralIsInspectorAdministrator": "true", "CentralRegion": REGION}, False),
    ({"CentralIsInspectorAdministrator": "true", "CentralRegion": "eu-west-1"}, True),
    ({"ForwardInspectorEvents": "false"}, False),
    ({"ForwardInspectorEvents": "false", "CentralRegion": "eu-west-1"}, True),
], ids=["not administrator", "not administrator, other region", "administrator, same region (empty)",
        "administrator, central region", "administrator, another region", "legacy false, same region",
        "legacy false, another region"])
def test_inspector_events_are_forwarded_in_every_region_but_the_administrators_central_one(member, params, forwards):
    """A delegated administrator receives its members' Inspector events in
    the region where they arise: only there, the central region, is
    forwarding them a duplicate. In every other region nothing else brings
    them to the central stack."""
    r = resolved(member, **params)
    assert ("FindingEventsRule" in r.resources) is forwards
    pattern = r.resources["ScanEventsRule"]["Properties"]["EventPattern"]
    assert ("aws.inspector2" in pattern["source"]) is forwards
    assert member_problems(member, **params) == []


def test_the_inspector_parameters_say_what_they_mean(member):
    spec = member["Parameters"]["CentralIsInspectorAdministrator"]
    assert spec["Default"] == "false" and spec["AllowedValues"] == ["true", "false"]
    description = " ".join(spec["Description"].split())
    assert "delegated administrator" in description and "CentralRegion" in description
    legacy = " ".join(member["Parameters"]["ForwardInspectorEvents"]["Description"].split())
    assert "CentralIsInspectorAdministrator" in legacy


@pytest.mark.parametrize("name", ["ScanEventsRule", "FindingEventsRule"])
def test_a_member_stack_forwards_its_own_accounts_events_only(member, name):
    """The central account, deploying member.yaml in its other regions, may be
    the delegated administrator there and receive its members' events: its
    member stack must not forward those a second time."""
    pattern = resolved(member).resources[name]["Properties"]["EventPattern"]
    assert pattern["account"] == [ACCOUNT]


def test_another_accounts_events_are_not_forwarded(moto_url, member):
    """moto's events come from 123456789012: a member stack of another
    account forwards none of them."""
    other = Resolved(member, pseudo={"AWS::AccountId": CENTRAL}, CentralAccountId="111111111111")
    rule = Bus(moto_url, other.resources["ScanEventsRule"]["Properties"]["EventPattern"])
    assert {p.name: rule.matches(read(p)) for p in EVENTS} == {p.name: False for p in EVENTS}
