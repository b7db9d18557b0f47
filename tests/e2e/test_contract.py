"""The contract with AWS: findings fixtures, the sample Inspector event and
every page the local stack serves must be things ECR and Inspector could
send, as their botocore service models describe them. The check itself is
tested too: invented values must be rejected, naming where they are."""

import copy
import json

import pytest

from harness.contract import check_ecr_findings_page, check_output, check_shape
from harness.local import ROOT
from harness.seed import basic_finding, enhanced_finding, scanned_image

FINDINGS_DIR = ROOT / "tests" / "fixtures" / "findings"
FINDINGS = sorted(FINDINGS_DIR.glob("*.json"))
INSPECTOR_EVENT = ROOT / "events" / "inspector-finding.json"
# Every Inspector Finding sample AWS documents, each in its guide's shape.
INSPECTOR_SAMPLES = sorted((ROOT / "events").glob("inspector-finding*.json"))


def load(path):
    return json.loads(path.read_text())


def fixture(name):
    return load(FINDINGS_DIR / name)


def at(problems, path):
    """The violations reported at exactly this path."""
    return [p for p in problems if p.startswith(f"{path}: ")]


# -- fixtures ----------------------------------------------------------------
def test_there_are_findings_fixtures():
    assert len(FINDINGS) >= 4, FINDINGS


@pytest.mark.parametrize("path", FINDINGS, ids=lambda p: p.name)
def test_findings_fixture_is_a_valid_ecr_answer(path):
    body = load(path)
    assert check_output("ecr", "DescribeImageScanFindings", body) == []
    # Also Inspector's values in enhanced findings and the page sizes.
    assert check_ecr_findings_page(body, {}) == []


def test_both_guides_samples_are_in_events():
    assert [p.name for p in INSPECTOR_SAMPLES] == ["inspector-finding-inspector-guide.json",
                                                   "inspector-finding.json"]


@pytest.mark.parametrize("path", INSPECTOR_SAMPLES, ids=lambda p: p.name)
def test_inspector_finding_event_detail_is_an_inspector_finding(path):
    # Read at test time: the sample may be replaced by AWS's documented one.
    event = load(path)
    assert event["detail-type"] == "Inspector2 Finding"
    # EventBridge writes times like "Dec 3, 2021, 6:02:30 PM" (lenient), and
    # AWS's documented samples end ids with "EXAMPLE" (placeholders).
    problems = check_shape("inspector2", "Finding", event["detail"], lenient_timestamps=True, placeholders=True)
    assert problems == []


def test_event_times_pass_only_with_lenient_timestamps():
    detail = load(INSPECTOR_EVENT)["detail"]
    problems = check_shape("inspector2", "Finding", detail, placeholders=True)
    assert at(problems, "firstObservedAt"), problems


def test_not_available_region_and_partition_are_strings():
    detail = load(INSPECTOR_EVENT)["detail"]
    for resource in detail["resources"]:
        resource.update(region="N/A", partition="N/A")
    assert check_shape("inspector2", "Finding", detail, lenient_timestamps=True, placeholders=True) == []


def test_only_documentation_placeholders_are_spared_length_and_pattern():
    detail = load(INSPECTOR_EVENT)["detail"]
    image = detail["resources"][0]["details"]["awsEcrContainerImage"]
    path = "resources[0].details.awsEcrContainerImage.imageHash"
    image["imageHash"] = "sha256:0123456789abcdef0123456789abcdefEXAMPLE"
    assert at(check_shape("inspector2", "Finding", detail, lenient_timestamps=True), path)
    assert check_shape("inspector2", "Finding", detail, lenient_timestamps=True, placeholders=True) == []
    image["imageHash"] = "sha256:0123456789abcdef0123456789abcdef"
    problems = check_shape("inspector2", "Finding", detail, lenient_timestamps=True, placeholders=True)
    assert any("shorter than the minimum length 71" in p for p in at(problems, path)), problems


# -- the check can fail ------------------------------------------------------
def _set(*keys_and_value):
    *keys, value = keys_and_value

    def mutate(body):
        target = body
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return mutate


def _delete(*keys):
    def mutate(body):
        target = body
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return mutate


MUTATIONS = [
    # (fixture, change, path of the violation, words of the message)
    ("basic-scan-complete.json", _set("imageScanStatus", "status", "DONE"),
     "imageScanStatus.status", "is not one of"),
    ("enhanced-scan-complete.json", _set("imageScanStatus", "status", "DONE"),
     "imageScanStatus.status", "is not one of"),
    ("basic-scan-complete.json", _set("imageScanFindings", "findings", 2, "severity", "SEVERE"),
     "imageScanFindings.findings[2].severity", "is not one of"),
    ("enhanced-scan-complete.json", _set("imageScanFindings", "enhancedFindings", 3, "severity", "SEVERE"),
     "imageScanFindings.enhancedFindings[3].severity", "is not one of"),
    ("enhanced-scan-complete.json", _set("imageScanFindings", "enhancedFindings", 0, "fixAvailable", "MAYBE"),
     "imageScanFindings.enhancedFindings[0].fixAvailable", "is not one of"),
    ("basic-scan-complete.json", _delete("imageScanFindings", "findings", 0, "attributes", 0, "key"),
     "imageScanFindings.findings[0].attributes[0].key", "required member"),
    ("basic-scan-complete.json", _set("imageScanStatus", "reason", "none"),
     "imageScanStatus.reason", "unknown member"),
    ("basic-scan-untagged.json", _set("imageScanFindings", "findingSeverityCounts", "SEVERE", 1),
     'imageScanFindings.findingSeverityCounts["SEVERE"]', "key 'SEVERE' is not one of"),
    ("basic-scan-untagged.json", _set("imageScanFindings", "findingSeverityCounts", "HIGH", -1),
     'imageScanFindings.findingSeverityCounts["HIGH"]', "below the minimum 0"),
    ("basic-scan-untagged.json", _set("imageScanFindings", "findings", 0, "attributes", 1, "value", "9" * 257),
     "imageScanFindings.findings[0].attributes[1].value", "longer than the maximum length 256"),
    ("basic-scan-untagged.json", _set("imageScanFindings", "findings", 1, "attributes", [{"key": "k", "value": "v"}] * 51),
     "imageScanFindings.findings[1].attributes", "more than the maximum 50"),
    ("enhanced-scan-complete.json", _set("imageScanFindings", "enhancedFindings", 0, "score", "9.8"),
     "imageScanFindings.enhancedFindings[0].score", "expected a number"),
    ("enhanced-scan-complete.json", _set("imageScanFindings", "enhancedFindings", {}),
     "imageScanFindings.enhancedFindings", "expected an array"),
    ("basic-scan-failed.json", _set("registryId", "12345"),
     "registryId", "does not match the pattern"),
    ("basic-scan-failed.json", _set("imageScanStatus", "description", None),
     "imageScanStatus.description", "null"),
    ("basic-scan-complete.json", _set("imageScanFindings", "imageScanCompletedAt", "2026-11-27T12:00:00Z"),
     "imageScanFindings.imageScanCompletedAt", "expected epoch seconds"),
    ("basic-scan-complete.json", _set("imageScanFindings", "imageScanCompletedAt", 1795780800000),
     "imageScanFindings.imageScanCompletedAt", "milliseconds"),
]


@pytest.mark.parametrize("name,mutate,path,words", MUTATIONS, ids=[f"{m[2]}:{m[3]}" for m in MUTATIONS])
def test_an_invalid_answer_is_rejected_naming_the_path(name, mutate, path, words):
    body = fixture(name)
    assert check_ecr_findings_page(body, {}) == [], "the fixture itself must be valid"
    broken = copy.deepcopy(body)
    mutate(broken)
    problems = check_ecr_findings_page(broken, {})
    found = at(problems, path)
    assert found, problems
    assert any(words in p for p in found), found


def test_invented_scan_status_is_rejected_by_the_model_alone():
    body = fixture("basic-scan-complete.json")
    body["imageScanStatus"]["status"] = "DONE"
    assert at(check_output("ecr", "DescribeImageScanFindings", body), "imageScanStatus.status")


def test_event_detail_without_a_required_member_is_rejected():
    detail = load(INSPECTOR_EVENT)["detail"]
    del detail["severity"]
    problems = check_shape("inspector2", "Finding", detail, lenient_timestamps=True, placeholders=True)
    assert any("required member" in p for p in at(problems, "severity")), problems


def test_event_detail_with_an_invented_severity_is_rejected():
    detail = load(INSPECTOR_EVENT)["detail"]
    detail["severity"] = "SEVERE"
    problems = check_shape("inspector2", "Finding", detail, lenient_timestamps=True, placeholders=True)
    assert at(problems, "severity"), problems


@pytest.mark.parametrize("value,strict_ok,lenient_ok", [
    (1638554550, True, True),
    (1638554550.5, True, True),
    ("2021-12-03T18:02:30Z", False, True),
    ("2021-12-03T18:02:30.123+00:00", False, True),
    ("Dec 3, 2021, 6:02:30 PM", False, True),
    ("Wed Sep 04 16:55:38.411 UTC 2024", False, True),
    ("Tue Sep 03 00:00:00.000 UTC 2024", False, True),
    ("Thu Sep 04 16:55:38.411 UTC 2024", False, False),
    ("Wed Sep 04 16:55:38.411 CEST 2024", False, False),
    ("Dec 31, 2021, 12:00:00 AM", False, True),
    ("Feb 30, 2021, 6:02:30 PM", False, False),
    ("Dec 3, 2021, 13:02:30 PM", False, False),
    ("yesterday", False, False),
    (1638554550000, False, False),
    (True, False, False),
])
def test_timestamps(value, strict_ok, lenient_ok):
    findings = {"imageScanCompletedAt": value}
    strict = check_shape("ecr", "ImageScanFindings", findings)
    lenient = check_shape("ecr", "ImageScanFindings", findings, lenient_timestamps=True)
    assert (strict == []) == strict_ok, strict
    assert (lenient == []) == lenient_ok, lenient


# -- page sizes --------------------------------------------------------------
def enhanced_page(n):
    body = fixture("enhanced-scan-complete.json")
    findings = [enhanced_finding(f"CVE-2026-{i:05d}", "HIGH") for i in range(n)]
    body["imageScanFindings"] = {"findingSeverityCounts": {"HIGH": n}, "enhancedFindings": findings}
    return body


def basic_page(n):
    body = fixture("basic-scan-complete.json")
    findings = [basic_finding(f"CVE-2026-{i:05d}", "LOW") for i in range(n)]
    body["imageScanFindings"] = {"findingSeverityCounts": {"LOW": n}, "findings": findings}
    return body


@pytest.mark.parametrize("request_body", [{}, {"maxResults": 100}, {"maxResults": 1000}])
def test_an_enhanced_page_of_101_findings_is_rejected(request_body):
    assert check_ecr_findings_page(enhanced_page(100), request_body) == []
    problems = check_ecr_findings_page(enhanced_page(101), request_body)
    assert at(problems, "imageScanFindings.enhancedFindings"), problems


@pytest.mark.parametrize("request_body,allowed", [({}, 100), ({"maxResults": 40}, 40), ({"maxResults": 1000}, 1000)])
def test_a_basic_page_beyond_max_results_is_rejected(request_body, allowed):
    assert check_ecr_findings_page(basic_page(allowed), request_body) == []
    problems = check_ecr_findings_page(basic_page(allowed + 1), request_body)
    assert at(problems, "imageScanFindings.findings"), problems


@pytest.mark.parametrize("max_results", [0, 1001, "10"])
def test_a_page_for_an_invalid_max_results_is_rejected(max_results):
    problems = check_ecr_findings_page(basic_page(1), {"maxResults": max_results})
    assert at(problems, "request.maxResults"), problems


# -- what the local stack serves ---------------------------------------------
def served_pages(stack, repository, digest, max_results=None):
    """Every page of DescribeImageScanFindings for the image, as the wire
    carried them: a list of (request body, response body)."""
    ecr = stack.client("ecr")
    wire = {}

    def sent(request, **_):
        wire["request"] = json.loads(request.body or b"{}")

    def answered(http_response, **_):
        wire["response"] = json.loads(http_response.content)

    ecr.meta.events.register("before-send.ecr.DescribeImageScanFindings", sent)
    ecr.meta.events.register("after-call.ecr.DescribeImageScanFindings", answered)
    kwargs = {"repositoryName": repository, "imageId": {"imageDigest": digest}}
    if max_results is not None:
        kwargs["maxResults"] = max_results
    pages = []
    while True:
        ecr.describe_image_scan_findings(**kwargs)
        pages.append((wire.pop("request"), wire.pop("response")))
        token = pages[-1][1].get("nextToken")
        if not token:
            return pages
        assert len(pages) < 100, "the pages never end"
        kwargs["nextToken"] = token


@pytest.mark.parametrize("max_results", [None, 1000])
def test_the_stack_serves_valid_enhanced_pages(stack, max_results):
    repository = f"contract/enhanced-{max_results or 'default'}"
    findings = [enhanced_finding(f"CVE-2026-{i:05d}", ("CRITICAL", "HIGH", "MEDIUM", "LOW")[i % 4],
                                 package=f"pkg{i % 7}") for i in range(250)]
    digest = scanned_image(stack, repository, "v1", status="ACTIVE", enhanced=findings)
    pages = served_pages(stack, repository, digest, max_results)
    for number, (request, body) in enumerate(pages):
        assert check_ecr_findings_page(body, request) == [], f"page {number}"
    sizes = [len(body["imageScanFindings"]["enhancedFindings"]) for _, body in pages]
    assert sizes == [100, 100, 50]
    served = [f["packageVulnerabilityDetails"]["vulnerabilityId"] for _, body in pages
              for f in body["imageScanFindings"]["enhancedFindings"]]
    assert sorted(served) == sorted(f["packageVulnerabilityDetails"]["vulnerabilityId"] for f in findings)


def test_the_stack_serves_valid_basic_pages(stack):
    repository = "contract/basic"
    findings = [basic_finding(f"CVE-2025-{i:05d}", ("HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")[i % 5],
                              score=5.0 if i % 2 else None) for i in range(250)]
    digest = scanned_image(stack, repository, "v1", enhanced=(), basic=findings)
    pages = served_pages(stack, repository, digest, max_results=40)
    for number, (request, body) in enumerate(pages):
        assert check_ecr_findings_page(body, request) == [], f"page {number}"
    assert [len(body["imageScanFindings"]["findings"]) for _, body in pages] == [40] * 6 + [10]
    served = [f["name"] for _, body in pages for f in body["imageScanFindings"]["findings"]]
    assert sorted(served) == sorted(f["name"] for f in findings)
