"""The member stack (member.yaml): the same linters as template.yaml, our own
checks on its role and rules, and its patterns on a local EventBridge (moto):
it forwards exactly what the central stack's rules take."""

import copy
from concurrent.futures import ThreadPoolExecutor

import pytest

from cfn_template import ACCOUNT, REGION, ROOT, Resolved, dump_json, load, policy_statements, wildcard_action_problems
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
    """Our own checks: no wildcard action; the reader role trusts only the
    central account (and the organisation when given) and may only read
    scan findings; the rules send to the central bus only."""
    r = Resolved(template, **{"CentralAccountId": CENTRAL, **params})
    problems = wildcard_action_problems(r)
    role = r.resources.get("ReaderRole")
    if role is not None:
        trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        principals = [s.get("Principal") for s in trust]
        if principals != [{"AWS": f"arn:aws:iam::{CENTRAL}:root"}]:
            problems.append(f"ReaderRole trusts {principals}, not the central account alone")
        org = r.params["OrganizationId"]
        conditions = [s.get("Condition") for s in trust]
        if org and conditions != [{"StringEquals": {"aws:PrincipalOrgID": org}}]:
            problems.append(f"ReaderRole does not require organisation {org}: {conditions}")
        actions = sorted(a for _, s in policy_statements(role["Properties"]["Policies"])
                         for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
        if actions != ["ecr:DescribeImageScanFindings", "inspector2:ListFindings"]:
            problems.append(f"ReaderRole may do {actions}")
    region = r.params["CentralRegion"] or REGION
    bus = f"arn:aws:events:{region}:{CENTRAL}:event-bus/default"
    for name in ("ScanEventsRule", "FindingEventsRule"):
        targets = [t["Arn"] for t in r.resources[name]["Properties"]["Targets"]]
        if targets != [bus]:
            problems.append(f"{name} sends to {targets}, not {bus}")
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
], ids=["central-account", "organisation", "central-region", "no-role"])
def test_our_own_checks_pass(member, params):
    assert member_problems(member, **params) == []


def test_the_role_exists_in_one_region_only_and_trusts_the_organisation(member):
    assert "ReaderRole" not in resolved(member, CreateReaderRole="false").resources
    role = resolved(member, OrganizationId=ORG).resources["ReaderRole"]["Properties"]
    assert role["RoleName"] == "ecr-scan-alerts-reader"
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    without_org = resolved(member).resources["ReaderRole"]["Properties"]
    assert "Condition" not in without_org["AssumeRolePolicyDocument"]["Statement"][0]


def broader_trust(template):
    role = template["Resources"]["ReaderRole"]["Properties"]
    role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {"AWS": "*"}


def write_access(template):
    statements = template["Resources"]["ReaderRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[0]["Action"] = ["ecr:DescribeImageScanFindings", "ecr:PutImage"]


def wildcard_action(template):
    statements = template["Resources"]["ReaderRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[0]["Action"] = "ecr:*"


BREAKAGES = {
    broader_trust: {"checkov", "own checks"},
    write_access: {"own checks"},
    wildcard_action: {"own checks"},
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
