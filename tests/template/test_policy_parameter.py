"""The policy document belongs to its users: the stack never overwrites or
deletes a document someone edited.

CloudFormation updates a resource only when its properties in the new
template differ from the last deployed ones, so the document the stack
creates has a value that no stack parameter reaches (a change of
SeverityThreshold can no longer rewrite it; the function applies
SEVERITY_THRESHOLD to a document without a `threshold`, src/config.rs and
src/domain/policy/mod.rs), and it is retained when the stack is deleted or the
resource replaced. A team that wants nothing of the document in the stack
names its own parameter (PolicyParameterName): the stack then only reads
it."""

import json
import re

import pytest

from cfn_template import HANDLERS, ROLES, ROOT, Resolved, role_grants
from cfn_template import references
from test_resources import rule_violations

OWN = "/platform/ecr-scan-alerts/policy"


def test_the_created_document_depends_on_no_parameter_and_is_retained(template):
    raw = template["Resources"]["PolicyParameter"]
    assert raw["DeletionPolicy"] == "Retain" and raw["UpdateReplacePolicy"] == "Retain"
    value = raw["Properties"]["Value"]
    assert isinstance(value, str), "a literal: nothing a stack update passes can change it"
    assert not list(references(value))
    assert json.loads(value) == {"version": 1}, "no threshold: SEVERITY_THRESHOLD applies"


@pytest.mark.parametrize("threshold", ["LOW", "HIGH", "CRITICAL"])
def test_changing_the_threshold_leaves_the_document_alone(template, threshold):
    """What CloudFormation compares on an update: the resolved properties."""
    before = Resolved(template)
    after = Resolved(template, SeverityThreshold=threshold)
    assert after.resources["PolicyParameter"] == before.resources["PolicyParameter"]
    for name in HANDLERS:
        assert after.resources[name]["Properties"]["Environment"]["Variables"]["SEVERITY_THRESHOLD"] == threshold


def test_the_functions_fall_back_to_the_stack_threshold_for_a_document_without_one():
    """The value above relies on it (read-only here: the function's code)."""
    policy = (ROOT / "src" / "domain" / "policy" / "mod.rs").read_text()
    assert "pub fn from_document_or(" in policy
    assert re.search(r"fallback.*SEVERITY_THRESHOLD", policy)


def test_make_delete_removes_the_stack_only():
    """`make delete` is `sam delete`; the retained document outlives it."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndelete:", 1)[1].split("\n\n", 1)[0]
    assert "sam) delete" in recipe.replace("$(SAM)", "sam)")
    assert "ssm" not in recipe and "delete-parameter" not in recipe


def test_a_parameter_the_user_owns_is_only_read(template):
    resolved = Resolved(template, PolicyParameterName=OWN)
    assert "PolicyParameter" not in resolved.resources, "the stack creates nothing of the user's"
    for name in HANDLERS:
        assert resolved.resources[name]["Properties"]["Environment"]["Variables"]["POLICY_PARAMETER_NAME"] == OWN
    for role in ROLES.values():
        assert role_grants(resolved, role)["ssm:GetParameter"] == [
            f"arn:aws:ssm:us-east-1:123456789012:parameter{OWN}"], role
        assert not [a for a in role_grants(resolved, role) if a.startswith("ssm:") and a != "ssm:GetParameter"]
    assert resolved.outputs["PolicyParameterName"]["Value"] == OWN
    assert rule_violations(resolved) == []


def test_the_parameter_name_is_a_hierarchical_ssm_name(template):
    pattern = template["Parameters"]["PolicyParameterName"]["AllowedPattern"]
    for good in ("", OWN, "/a", "/team_1/policy.json-v2"):
        assert re.fullmatch(pattern, good), good
    for bad in ("policy", "/with space", "/x" * 1100, "/a/b?"):
        assert not re.fullmatch(pattern, bad), bad


def test_no_document_means_none_read(template):
    resolved = Resolved(template, PolicyDocument="NONE")
    assert "PolicyParameter" not in resolved.resources
    assert rule_violations(Resolved(template, PolicyDocument="NONE", PolicyParameterName=OWN))
