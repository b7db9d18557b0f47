"""The linters on template.yaml, and proof that the checks can fail: broken
copies of the template are rejected by the linters and/or our own checks."""

import copy
from concurrent.futures import ThreadPoolExecutor

import pytest

from cfn_template import TEMPLATE, dump_json, own_check_problems
from linters import cfn_lint, checkov, rendered, sam_validate, summary

REPOSITORIES = "team/web,team/api"


def test_cfn_lint_with_the_serverless_rules_passes():
    rc, out = cfn_lint(TEMPLATE)
    assert rc == 0, out


def test_sam_validate_lint_passes():
    rc, out = sam_validate(TEMPLATE)
    assert rc == 0 and "is a valid SAM Template" in out, out


def justified(skip):
    comment = (skip.get("check_result") or {}).get("suppress_comment") or ""
    return len(comment.split()) >= 8


def test_checkov_fails_nothing_and_every_skip_is_justified(template, tmp_path):
    with ThreadPoolExecutor() as pool:
        as_written = pool.submit(checkov, TEMPLATE)
        deployed = pool.submit(checkov, rendered(template, tmp_path / "rendered.json", RepositoryNames=REPOSITORIES))
        as_written, deployed = as_written.result(), deployed.result()
    for results in (as_written, deployed):
        assert results["failed"] == [], summary(results["failed"])
        assert [s for s in results["skipped"] if not justified(s)] == []
    # checkov saw the repositories (only in the rendered copy: it does not
    # expand Fn::ForEach) and checked what matters for them.
    passed = {(c["check_id"], c["resource"]) for c in deployed["passed"]}
    for repo in ("Repositoryteamweb", "Repositoryteamapi"):
        assert ("CKV_AWS_51", f"AWS::ECR::Repository.{repo}") in passed  # immutable tags
        assert ("CKV_AWS_163", f"AWS::ECR::Repository.{repo}") in passed  # scan on push
    assert ("CKV_AWS_26", "AWS::SNS::Topic.AlertTopic") in passed  # topic encrypted


# -- broken copies -------------------------------------------------------------

def repository(template):
    _, _, fragment = template["Resources"]["Fn::ForEach::Repositories"]
    (resource,) = fragment.values()
    return resource["Properties"]


def mutable_tags(template):
    props = repository(template)
    props["ImageTagMutability"] = "MUTABLE"
    del props["ImageTagMutabilityExclusionFilters"]


def no_lifecycle_policy(template):
    del repository(template)["LifecyclePolicy"]


def wildcard_action(template):
    statements = template["Resources"]["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[0]["Action"] = "ecr:*"


def wildcard_everything(template):
    policy = template["Resources"]["FunctionPublishPolicy"]["Properties"]["PolicyDocument"]
    policy["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "*"})


def statement(template, resource, sid):
    props = template["Resources"][resource]["Properties"]
    documents = [p["PolicyDocument"] for p in props.get("Policies", [])] + [
        props[k] for k in ("PolicyDocument", "KeyPolicy") if k in props]
    for document in documents:
        for item in document["Statement"]:
            candidates = item["Fn::If"][1:2] if isinstance(item, dict) and "Fn::If" in item else [item]
            for candidate in candidates:
                if candidate.get("Sid") == sid:
                    return candidate
    raise KeyError(f"{resource} has no statement {sid}")


def wildcard_resource(template):
    statement(template, "FunctionPublishPolicy", "PublishAlerts")["Resource"] = "*"


def literal_partition(template):
    statement(template, "FunctionRole", "WriteOwnLogGroup")["Resource"] = {
        "Fn::Sub": "arn:aws:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}


def no_function_role_path(template):
    del template["Resources"]["FunctionRole"]["Properties"]["Path"]


def cloudwatch_key_use_unconditioned(template):
    del statement(template, "TopicKey", "CloudWatchAlarmsPublish")["Condition"]


def threshold_filtered_finding_rule(template):
    detail = template["Resources"]["FindingEventsRule"]["Properties"]["EventPattern"]["detail"]
    detail["severity"] = ["HIGH", "CRITICAL"]


def findings_role_reads_ecr(template):
    policy = template["Resources"]["FindingsFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    policy["Statement"].append({"Sid": "ReadFindings", "Effect": "Allow", "Action": "ecr:DescribeImageScanFindings",
                                "Resource": {"Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:"
                                                        "${AWS::AccountId}:repository/*"}})


def findings_role_outside_the_trusted_path(template):
    template["Resources"]["FindingsFunctionRole"]["Properties"]["Path"] = "/"


def loop_named_like_a_parameter(template):
    resources = template["Resources"]
    loop = resources.pop("Fn::ForEach::OwnerEmailSubscriptions")
    resources["Fn::ForEach::OwnerEmails"] = loop


def swapped_handlers(template):
    scan = template["Resources"]["ScanFunction"]["Properties"]
    findings = template["Resources"]["FindingsFunction"]["Properties"]
    scan["Handler"], findings["Handler"] = findings["Handler"], scan["Handler"]


def bootstrap_handler(template):
    template["Resources"]["FindingsFunction"]["Properties"]["Handler"] = "bootstrap"


def findings_function_with_async_settings(template):
    template["Resources"]["FindingsFunction"]["Properties"]["EventInvokeConfig"] = copy.deepcopy(
        template["Resources"]["ScanFunction"]["Properties"]["EventInvokeConfig"])


def whole_batches_retried(template):
    del template["Resources"]["FindingsFunction"]["Properties"]["Events"]["FindingBatches"]["Properties"][
        "FunctionResponseTypes"]


def findings_function_unalarmed(template):
    del template["Resources"]["FindingsFunctionErrorsAlarm"]


def dashboard_graphs_a_metric_nobody_emits(template):
    body = template["Resources"]["MetricsDashboard"]["Properties"]["DashboardBody"]
    body["Fn::Sub"] = body["Fn::Sub"].replace('"TransientFailures"', '"Throttles"')


BREAKAGES = {
    mutable_tags: {"checkov", "own checks"},
    no_lifecycle_policy: {"own checks"},
    wildcard_action: {"own checks"},
    wildcard_everything: {"checkov", "own checks"},
    wildcard_resource: {"own checks"},
    literal_partition: {"own checks"},
    no_function_role_path: {"own checks"},
    cloudwatch_key_use_unconditioned: {"own checks"},
    threshold_filtered_finding_rule: {"own checks"},
    findings_role_reads_ecr: {"own checks"},
    findings_role_outside_the_trusted_path: {"own checks"},
    loop_named_like_a_parameter: {"own checks"},
    swapped_handlers: {"own checks"},
    bootstrap_handler: {"own checks"},
    findings_function_with_async_settings: {"own checks"},
    whole_batches_retried: {"own checks"},
    findings_function_unalarmed: {"own checks"},
    dashboard_graphs_a_metric_nobody_emits: {"own checks"},
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda f: f.__name__)
def test_a_broken_copy_is_rejected(template, tmp_path, breakage):
    broken = copy.deepcopy(template)
    breakage(broken)
    path = dump_json(broken, tmp_path / "broken.json")
    deployed = rendered(broken, tmp_path / "rendered.json", RepositoryNames=REPOSITORIES)
    rejected_by = {}
    with ThreadPoolExecutor() as pool:
        lint, validate, scan = pool.submit(cfn_lint, path), pool.submit(sam_validate, path), pool.submit(checkov, deployed)
        for name, (rc, out) in (("cfn-lint", lint.result()), ("sam validate", validate.result())):
            if rc != 0:
                rejected_by[name] = out
        if scan.result()["failed"]:
            rejected_by["checkov"] = summary(scan.result()["failed"])
    problems = own_check_problems(broken, RepositoryNames=REPOSITORIES)
    if problems:
        rejected_by["own checks"] = problems
    assert BREAKAGES[breakage] <= set(rejected_by), rejected_by
    # The untouched template passes the same checks (see the tests above).
    assert own_check_problems(template, RepositoryNames=REPOSITORIES) == []
