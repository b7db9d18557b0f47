"""The rule's event pattern, read from template.yaml, on a local EventBridge
(moto): put-events -> rule -> SQS target. Each sample event is sent on its
own, followed by a marker event that a second rule on the same queue always
matches (a source of its own, which no rule under test takes); whatever
arrives before the marker is what the rule let through. moto stamps every
event with the caller's account (123456789012): a stack resolved for
another account sees them as another account's events."""

import copy
import json
import uuid
from pathlib import Path

import boto3
import pytest

from cfn_template import ACCOUNT, REGION, ROOT, Resolved

SCAN_TYPES = {"ECR Image Scan", "Inspector2 Scan"}
ALL_EVENTS = sorted((ROOT / "events").glob("*.json"))
# The scan rule's samples; events/ also holds a continuous-scanning finding
# event, which goes through its own rule (test_finding_pattern.py).
EVENTS = [p for p in ALL_EVENTS if json.loads(p.read_text())["detail-type"] in SCAN_TYPES]
NEGATIVES = sorted((ROOT / "tests" / "fixtures").glob("*.json"))
MARKER_DIGEST = "sha256:" + "0" * 64
# The marker's own source: no template rule takes it, so it never counts
# as something the rule under test let through.
MARKER_SOURCE = "ecr-scan-alerts.test.marker"


def pattern(template, **params):
    function = Resolved(template, **params).resources["ScanFunction"]
    return function["Properties"]["Events"]["ScanEvents"]["Properties"]["Pattern"]


def read(path):
    return json.loads(Path(path).read_text())


def with_repository(event, name):
    """The same event for another repository, in the form its source uses."""
    event = copy.deepcopy(event)
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"
    event["resources"] = [arn]
    event["detail"]["repository-name"] = arn if event["source"] == "aws.inspector2" else name
    return event


class Bus:
    """One rule with the pattern under test, delivering to a fresh queue."""

    def __init__(self, moto_url, rule_pattern):
        kwargs = dict(endpoint_url=moto_url, region_name=REGION,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
        self.events = boto3.client("events", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        name = f"scan-events-{uuid.uuid4().hex[:8]}"
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.events.put_rule(Name=name, EventPattern=json.dumps(rule_pattern), State="ENABLED")
        self.events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
        self.marker = marker_event()
        add_marker_rule(self.events, name, queue_arn)

    def put(self, event):
        entry = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            # Every event EventBridge delivers has a detail object, if empty.
            "Detail": json.dumps(event.get("detail", {})),
            "Resources": event.get("resources", []),
        }
        result = self.events.put_events(Entries=[entry])
        assert result["FailedEntryCount"] == 0, result

    def matches(self, event):
        self.put(event)
        self.put(self.marker)
        arrived = []
        for _ in range(50):
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=1).get("Messages", [])
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                arrived.append(json.loads(message["Body"]))
            if any(m["source"] == MARKER_SOURCE for m in arrived):
                break
        else:
            raise AssertionError("the marker event never arrived: the queue target does not work")
        others = [m for m in arrived if m["source"] != MARKER_SOURCE]
        assert len(others) <= 1, others
        if others:
            assert others[0]["detail"] == event.get("detail", {})
        return bool(others)


def marker_event():
    return {"source": MARKER_SOURCE, "detail-type": "Marker", "detail": {"image-digest": MARKER_DIGEST}}


def add_marker_rule(events, name, queue_arn):
    """A rule of its own for the marker, to the same queue."""
    events.put_rule(Name=f"{name}-marker", EventPattern=json.dumps({"source": [MARKER_SOURCE]}), State="ENABLED")
    events.put_targets(Rule=f"{name}-marker", Targets=[{"Id": "queue", "Arn": queue_arn}])


@pytest.fixture(scope="module")
def bus(moto_url, template):
    return lambda **params: Bus(moto_url, pattern(template, **params))


def test_the_samples_cover_basic_complete_failed_and_enhanced():
    kinds = {(e["source"], e["detail"]["scan-status"]) for e in map(read, EVENTS)}
    assert kinds == {("aws.ecr", "COMPLETE"), ("aws.ecr", "FAILED"), ("aws.inspector2", "INITIAL_SCAN_COMPLETE")}
    assert NEGATIVES


@pytest.mark.parametrize("prefix", ["", "demo/"])
def test_every_sample_event_matches(bus, prefix):
    rule = bus(RepositoryPrefix=prefix)
    assert {path.name: rule.matches(read(path)) for path in EVENTS} == {path.name: True for path in EVENTS}


@pytest.mark.parametrize("prefix", ["", "demo/"])
def test_no_negative_sample_matches(bus, prefix):
    rule = bus(RepositoryPrefix=prefix)
    assert {path.name: rule.matches(read(path)) for path in NEGATIVES} == {path.name: False for path in NEGATIVES}


def test_inspector_scans_of_other_resources_do_not_match(bus):
    # Inspector2 Scan also reports EC2 instances and Lambda functions.
    ec2 = {
        "source": "aws.inspector2", "detail-type": "Inspector2 Scan",
        "resources": [f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0"],
        "detail": {"scan-status": "INITIAL_SCAN_COMPLETE", "instance-id": "i-0123456789abcdef0",
                   "finding-severity-counts": {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "TOTAL": 1}},
    }
    assert bus().matches(ec2) is False


def test_the_prefix_selects_repositories_for_basic_and_enhanced_events(bus):
    basic = read(ROOT / "events" / "basic-scan-complete.json")
    enhanced = read(ROOT / "events" / "enhanced-scan-complete.json")
    rule = bus(RepositoryPrefix="payments/")
    results = {
        (kind, name): rule.matches(with_repository(event, name))
        for kind, event in (("basic", basic), ("enhanced", enhanced))
        for name in ("payments/api", "demo/payments", "paymentsx/api")
    }
    assert results == {
        ("basic", "payments/api"): True,
        ("basic", "demo/payments"): False,
        ("basic", "paymentsx/api"): False,
        ("enhanced", "payments/api"): True,
        ("enhanced", "demo/payments"): False,
        ("enhanced", "paymentsx/api"): False,
    }


def test_finding_events_do_not_reach_the_scan_rule(bus):
    findings = [p for p in ALL_EVENTS if p not in EVENTS]
    assert findings, "events/ holds a finding event sample"
    assert {p.name: bus().matches(read(p)) for p in findings} == {p.name: False for p in findings}


def test_without_a_prefix_every_repository_matches(bus):
    enhanced = read(ROOT / "events" / "enhanced-scan-complete.json")
    assert bus().matches(with_repository(enhanced, "anything/else")) is True
