"""The continuous-scanning rule (FindingEventsRule), read from template.yaml,
on a local EventBridge (moto): it routes Inspector finding events of ECR
images of every ranked severity into the findings queue (the function
applies the threshold, which the policy document may lower per repository),
and no scan event."""

import copy
import json
import uuid

import boto3
import pytest

from cfn_template import ACCOUNT, RANKED_SEVERITIES, REGION, ROOT, Resolved
from test_pattern import MARKER_SOURCE, add_marker_rule, marker_event

SAMPLE = json.loads((ROOT / "events" / "inspector-finding.json").read_text())


def finding(repository="demo/api", severity="CRITICAL", status="ACTIVE", kind="AWS_ECR_CONTAINER_IMAGE",
            digest="sha256:" + "1" * 64):
    event = copy.deepcopy(SAMPLE)
    event["detail"].update(severity=severity, status=status)
    resource = event["detail"]["resources"][0]
    resource["type"] = kind
    resource["details"]["awsEcrContainerImage"].update(repositoryName=repository, imageHash=digest)
    if kind == "AWS_ECR_CONTAINER_IMAGE":
        resource["id"] = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}/{digest}"
    else:
        resource["id"] = f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"
    event["resources"] = [resource["id"]]
    return event


class FindingBus:
    def __init__(self, moto_url, pattern):
        kwargs = dict(endpoint_url=moto_url, region_name=REGION,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
        self.events = boto3.client("events", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        name = f"finding-events-{uuid.uuid4().hex[:8]}"
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
        self.events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
        self.marker = marker_event()
        add_marker_rule(self.events, name, arn)

    def put(self, event):
        entry = {"Source": event["source"], "DetailType": event["detail-type"],
                 "Detail": json.dumps(event.get("detail", {})), "Resources": event.get("resources", [])}
        assert self.events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    def matches(self, event):
        self.put(event)
        self.put(self.marker)
        arrived = []
        for _ in range(50):
            for message in self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                    WaitTimeSeconds=1).get("Messages", []):
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                arrived.append(json.loads(message["Body"]))
            if any(m["source"] == MARKER_SOURCE for m in arrived):
                break
        else:
            raise AssertionError("the marker never arrived: the queue target does not work")
        return any(m["source"] != MARKER_SOURCE for m in arrived)


def rule_pattern(template, **params):
    return Resolved(template, **params).resources["FindingEventsRule"]["Properties"]["EventPattern"]


@pytest.fixture(scope="module")
def bus(moto_url, template):
    return lambda **params: FindingBus(moto_url, rule_pattern(template, **params))


def test_the_sample_finding_event_is_routed(bus):
    assert bus().matches(SAMPLE) is True


def test_every_ranked_severity_below_the_threshold_too_and_only_ecr_images(bus):
    """A policy document may give a repository a lower threshold than the
    stack's; the rule must not drop what that repository would alert on."""
    rule = bus(SeverityThreshold="CRITICAL")
    results = {
        "critical": rule.matches(finding(severity="CRITICAL")),
        "high closed": rule.matches(finding(severity="HIGH", status="CLOSED")),
        "medium": rule.matches(finding(severity="MEDIUM")),
        "informational": rule.matches(finding(severity="INFORMATIONAL")),
        "untriaged": rule.matches(finding(severity="UNTRIAGED")),
        "suppressed": rule.matches(finding(status="SUPPRESSED")),
        "ec2 instance": rule.matches(finding(kind="AWS_EC2_INSTANCE")),
    }
    assert results == {"critical": True, "high closed": True, "medium": True, "informational": True,
                       "untriaged": False, "suppressed": False, "ec2 instance": False}


def test_the_rule_does_not_depend_on_the_stack_threshold(template):
    """One source of truth: the threshold is applied by the function (from
    the policy document, or SeverityThreshold), never by the rule."""
    patterns = {threshold: rule_pattern(template, SeverityThreshold=threshold) for threshold in RANKED_SEVERITIES}
    assert all(p == patterns["HIGH"] for p in patterns.values())
    assert patterns["HIGH"]["detail"]["severity"] == RANKED_SEVERITIES


def test_the_prefix_selects_repositories(bus):
    rule = bus(RepositoryPrefix="payments/")
    assert rule.matches(finding(repository="payments/api")) is True
    assert rule.matches(finding(repository="demo/payments")) is False


def test_scan_events_do_not_reach_the_findings_queue(bus):
    scans = [p for p in sorted((ROOT / "events").glob("*.json")) if "Finding" not in json.loads(p.read_text())["detail-type"]]
    rule = bus()
    assert {p.name: rule.matches(json.loads(p.read_text())) for p in scans} == {p.name: False for p in scans}


def test_the_findings_function_takes_batches_with_partial_failures(template):
    resolved = Resolved(template)
    function = resolved.resources["FindingsFunction"]["Properties"]
    assert function["Handler"] == "finding-batches"
    source = function["Events"]["FindingBatches"]
    assert source["Type"] == "SQS"
    props = source["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["MaximumBatchingWindowInSeconds"] == 300
    queue = resolved.resources["FindingsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    # Lambda's SQS guidance: six times the consuming function's timeout, plus
    # the batching window.
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"] + props["MaximumBatchingWindowInSeconds"]
    # The scan function consumes no queue.
    assert [e["Type"] for e in resolved.resources["ScanFunction"]["Properties"]["Events"].values()] == [
        "EventBridgeRule"]
    assert "FindingsDeadLetterQueueAlarm" in resolved.resources
