"""ECR's registry listings as the local stack serves them: DescribeImages and
DescribeRepositories paged by the proxy as the Amazon ECR API Reference
describes them, each image with the scan status and findings summary of its
last scan, checked against the ECR model; and a synthetic registry held in
memory for registry-wide reads (the weekly digest)."""

import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness.contract import check_ecr_listing_page, service_model
from harness.paging_proxy import encode_token
from harness.registry import OMIT, Tokens
from harness.seed import (basic_finding, enhanced_finding, ensure_repository, image_details, push_image, rescan,
                          scanned_image, scanned_long_ago, synthetic_fleet, synthetic_image,
                          synthetic_registry)


@pytest.fixture
def proxy(stack):
    """The stack's proxy, its listing settings put back after the test."""
    proxy = stack.proxy
    details = dict(proxy.image_details)
    yield proxy
    proxy.image_details.clear()
    proxy.image_details.update(details)
    proxy.native_basic_scanning = False
    for account, region in list(proxy.synthetic):
        proxy.drop_synthetic_registry(account, region)


# A 500 seen once, not retried with backoff.
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def pushed(stack, repository, count, untagged=0):
    """A repository with `count` tagged images (v0..) and `untagged` more.
    Returns their digests, in push order."""
    ecr = stack.client("ecr")
    ensure_repository(ecr, repository)
    digests = [push_image(ecr, repository, f"v{i}") for i in range(count)]
    return digests + [push_image(ecr, repository, None, seed=f"{repository}/untagged-{i}") for i in range(untagged)]


def all_pages(ecr, **request):
    pages, token = [], None
    while True:
        page = ecr.describe_images(**request, **({"nextToken": token} if token else {}))
        pages.append(page)
        token = page.get("nextToken")
        if not token:
            return pages


def test_describe_images_pages_by_max_results_with_next_tokens(stack, proxy):
    digests = pushed(stack, "listing/paged", 5)
    ecr = stack.client("ecr")
    calls = proxy.listing_calls["DescribeImages"]
    pages = all_pages(ecr, repositoryName="listing/paged", maxResults=2)
    assert [len(p["imageDetails"]) for p in pages] == [2, 2, 1]
    assert [bool(p.get("nextToken")) for p in pages] == [True, True, False]
    assert [d["imageDigest"] for p in pages for d in p["imageDetails"]] == digests, "each image once, in order"
    assert proxy.listing_calls["DescribeImages"] - calls == 3
    assert len({p["nextToken"] for p in pages[:-1]}) == 2, "a token per page"


def test_describe_images_serves_at_most_100_images_a_page_by_default(stack, proxy):
    repository = {"repositoryName": "listing-synthetic/big",
                  "images": [synthetic_image("listing-synthetic/big", i) for i in range(250)]}
    synthetic_registry(stack, [repository])
    pages = all_pages(stack.client("ecr"), repositoryName="listing-synthetic/big")
    assert [len(p["imageDetails"]) for p in pages] == [100, 100, 50]
    assert len({d["imageDigest"] for p in pages for d in p["imageDetails"]}) == 250


def test_a_token_the_proxy_did_not_issue_for_this_listing_is_rejected(stack, proxy):
    pushed(stack, "listing/tokens-a", 3)
    pushed(stack, "listing/tokens-b", 3)
    ecr = stack.client("ecr")
    token = ecr.describe_images(repositoryName="listing/tokens-a", maxResults=1)["nextToken"]
    assert len(ecr.describe_images(repositoryName="listing/tokens-a", maxResults=1, nextToken=token)["imageDetails"]) == 1
    repositories_token = ecr.describe_repositories(maxResults=1)["nextToken"]
    findings_token = encode_token(1, "sha256:" + "0" * 64)
    # Well formed and for this very listing, but not signed by this proxy.
    forged = Tokens().issue(op="DescribeImages", registry="123456789012/us-east-1", repository="listing/tokens-a",
                            filter=["ANY", "ACTIVE"], offset=1)
    foreign = [
        ("listing/tokens-b", token),  # another repository's
        ("listing/tokens-a", repositories_token),  # another operation's
        ("listing/tokens-a", findings_token),  # a findings page's
        ("listing/tokens-a", forged),
        ("listing/tokens-a", "not-a-token"),
    ]
    for repository, bad in foreign:
        with pytest.raises(ClientError) as excinfo:
            ecr.describe_images(repositoryName=repository, maxResults=1, nextToken=bad)
        assert error_code(excinfo) == "InvalidParameterException", (repository, bad)
    # A filter is part of the listing a token continues.
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_images(repositoryName="listing/tokens-a", maxResults=1, nextToken=token,
                            filter={"tagStatus": "TAGGED"})
    assert error_code(excinfo) == "InvalidParameterException"


def test_image_ids_answer_those_images_only_unpaged(stack, proxy):
    digests = pushed(stack, "listing/ids", 4)
    ecr = stack.client("ecr")
    answer = ecr.describe_images(repositoryName="listing/ids",
                                 imageIds=[{"imageTag": "v2"}, {"imageDigest": digests[0]}, {"imageTag": "v2"}])
    assert [d["imageDigest"] for d in answer["imageDetails"]] == [digests[2], digests[0]]
    assert "nextToken" not in answer
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_images(repositoryName="listing/ids", imageIds=[{"imageTag": "v1"}], maxResults=1)
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_images(repositoryName="listing/ids", imageIds=[{"imageTag": "v9"}])
    assert error_code(excinfo) == "ImageNotFoundException"


def test_tag_status_filters_and_untagged_images_have_no_tags(stack, proxy):
    digests = pushed(stack, "listing/tags", 2, untagged=2)
    ecr = stack.client("ecr")
    tagged = ecr.describe_images(repositoryName="listing/tags", filter={"tagStatus": "TAGGED"})["imageDetails"]
    untagged = ecr.describe_images(repositoryName="listing/tags", filter={"tagStatus": "UNTAGGED"})["imageDetails"]
    assert [d["imageDigest"] for d in tagged] == digests[:2]
    assert [d["imageDigest"] for d in untagged] == digests[2:]
    assert all("imageTags" not in d for d in untagged), "ECR leaves imageTags out"
    assert len(ecr.describe_images(repositoryName="listing/tags")["imageDetails"]) == 4
    # Only ACTIVE images unless the filter asks for others.
    image_details(stack, digests[0], imageStatus="ARCHIVED")
    active = ecr.describe_images(repositoryName="listing/tags")["imageDetails"]
    assert digests[0] not in [d["imageDigest"] for d in active]
    archived = ecr.describe_images(repositoryName="listing/tags", filter={"imageStatus": "ARCHIVED"})["imageDetails"]
    assert [d["imageDigest"] for d in archived] == [digests[0]]


def test_an_image_never_scanned_has_no_scan_status_nor_summary(stack, proxy):
    (digest,) = pushed(stack, "listing/unscanned", 1)
    (detail,) = stack.client("ecr").describe_images(repositoryName="listing/unscanned")["imageDetails"]
    assert detail["imageDigest"] == digest
    assert "imageScanStatus" not in detail and "imageScanFindingsSummary" not in detail
    assert detail["imageManifestMediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert detail["artifactMediaType"] == "application/vnd.docker.container.image.v1+json"
    assert "lastRecordedPullTime" not in detail, "never pulled"


def test_a_scanned_image_summarises_its_findings(stack, proxy):
    completed = int(time.time()) - 3600
    findings = [basic_finding("CVE-2026-97001", "CRITICAL"), basic_finding("CVE-2026-97002", "HIGH"),
                basic_finding("CVE-2026-97003", "HIGH"), basic_finding("CVE-2026-97004", "LOW")]
    digest = scanned_image(stack, "listing/scanned", "v1", basic=findings, completed_at=completed)
    ecr = stack.client("ecr")
    (detail,) = ecr.describe_images(repositoryName="listing/scanned", imageIds=[{"imageDigest": digest}])["imageDetails"]
    scan = ecr.describe_image_scan_findings(repositoryName="listing/scanned", imageId={"imageDigest": digest})
    assert detail["imageScanStatus"] == scan["imageScanStatus"]
    summary = detail["imageScanFindingsSummary"]
    assert summary["findingSeverityCounts"] == {"CRITICAL": 1, "HIGH": 2, "LOW": 1}
    assert summary["findingSeverityCounts"] == scan["imageScanFindings"]["findingSeverityCounts"]
    assert int(summary["imageScanCompletedAt"].timestamp()) == completed
    # A rescan with more findings: the summary follows the latest scan.
    rescan(stack, "listing/scanned", digest, basic=findings + [basic_finding("CVE-2026-97005", "MEDIUM")])
    (detail,) = ecr.describe_images(repositoryName="listing/scanned")["imageDetails"]
    assert detail["imageScanFindingsSummary"]["findingSeverityCounts"] == {"CRITICAL": 1, "HIGH": 2, "LOW": 1,
                                                                           "MEDIUM": 1}


def test_a_scan_dated_back_shows_its_old_completion_time(stack, proxy):
    digest = scanned_image(stack, "listing/aged", "v1", basic=[basic_finding("CVE-2026-97010", "HIGH")])
    scanned_long_ago(stack, "listing/aged", digest, days=9)
    calls = proxy.describe_calls
    (detail,) = stack.client("ecr").describe_images(repositoryName="listing/aged")["imageDetails"]
    age = time.time() - detail["imageScanFindingsSummary"]["imageScanCompletedAt"].timestamp()
    assert 9 * 86_400 - 60 < age < 9 * 86_400 + 60
    assert proxy.describe_calls == calls, "DescribeImages reads no findings page of the image"


def test_an_enhanced_scan_and_native_basic_scanning(stack, proxy):
    basic = scanned_image(stack, "listing/scanners", "basic", basic=[basic_finding("CVE-2026-97020", "HIGH")])
    enhanced = scanned_image(stack, "listing/scanners", "enhanced", status="ACTIVE",
                             enhanced=[enhanced_finding("CVE-2026-97021", "CRITICAL")])
    ecr = stack.client("ecr")
    details = {d["imageDigest"]: d for d in ecr.describe_images(repositoryName="listing/scanners")["imageDetails"]}
    assert details[enhanced]["imageScanStatus"]["status"] == "ACTIVE"
    assert details[enhanced]["imageScanFindingsSummary"]["findingSeverityCounts"] == {"CRITICAL": 1}
    assert details[basic]["imageScanStatus"]["status"] == "COMPLETE"
    # AWS-native basic scanning leaves both members out for basic scans.
    proxy.native_basic_scanning = True
    details = {d["imageDigest"]: d for d in ecr.describe_images(repositoryName="listing/scanners")["imageDetails"]}
    assert "imageScanStatus" not in details[basic] and "imageScanFindingsSummary" not in details[basic]
    assert details[enhanced]["imageScanStatus"]["status"] == "ACTIVE"


def test_overrides_show_a_pull_time_an_old_push_and_another_status(stack, proxy):
    digest = scanned_image(stack, "listing/overridden", "v1", basic=[basic_finding("CVE-2026-97030", "LOW")])
    pulled, pushed_at = int(time.time()) - 3 * 86_400, int(time.time()) - 400 * 86_400
    image_details(stack, digest, lastRecordedPullTime=pulled, imagePushedAt=pushed_at,
                  imageScanStatus={"status": "SCAN_ELIGIBILITY_EXPIRED",
                                   "description": "The image is no longer eligible for continuous scanning."},
                  imageScanFindingsSummary=OMIT)
    (detail,) = stack.client("ecr").describe_images(repositoryName="listing/overridden")["imageDetails"]
    assert int(detail["lastRecordedPullTime"].timestamp()) == pulled
    assert int(detail["imagePushedAt"].timestamp()) == pushed_at
    assert detail["imageScanStatus"]["status"] == "SCAN_ELIGIBILITY_EXPIRED"
    assert "imageScanFindingsSummary" not in detail


def test_describe_repositories_pages(stack, proxy):
    ecr = stack.client("ecr")
    for name in ("listing-repos/a", "listing-repos/b", "listing-repos/c"):
        ensure_repository(ecr, name)
    everything = ecr.describe_repositories()
    assert "nextToken" not in everything or len(everything["repositories"]) == 100
    names, token, pages = [], None, 0
    while True:
        page = ecr.describe_repositories(maxResults=2, **({"nextToken": token} if token else {}))
        pages += 1
        assert len(page["repositories"]) <= 2
        names += [r["repositoryName"] for r in page["repositories"]]
        token = page.get("nextToken")
        if not token:
            break
    assert pages > 1
    assert len(names) == len(set(names)), "each repository once"
    assert {"listing-repos/a", "listing-repos/b", "listing-repos/c"} <= set(names)
    repository = next(r for r in ecr.describe_repositories(repositoryNames=["listing-repos/b"])["repositories"])
    assert repository["repositoryUri"].endswith("/listing-repos/b")
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfiguration"] == {"encryptionType": "AES256"}
    named = ecr.describe_repositories(repositoryNames=["listing-repos/c", "listing-repos/a"])
    assert [r["repositoryName"] for r in named["repositories"]] == ["listing-repos/c", "listing-repos/a"]
    assert "nextToken" not in named
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories(repositoryNames=["listing-repos/a"], maxResults=1)
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories(maxResults=1, nextToken=encode_token(1, ""))
    assert error_code(excinfo) == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories(repositoryNames=["listing-repos/none"])
    assert error_code(excinfo) == "RepositoryNotFoundException"


def test_a_page_that_breaks_the_model_is_refused_and_recorded(stack, proxy):
    (digest,) = pushed(stack, "listing/broken", 1)
    image_details(stack, digest, imageScanStatus={"status": "SEVERE", "description": "not an ECR status"})
    before = len(proxy.contract_violations)
    with pytest.raises(ClientError) as excinfo:
        stack.client("ecr", config=NO_RETRIES).describe_images(repositoryName="listing/broken")
    assert error_code(excinfo) == "ServerException"
    assert "imageDetails[0].imageScanStatus.status: 'SEVERE' is not one of" in str(excinfo.value)
    recorded = proxy.contract_violations[before:]
    assert len(recorded) == 1 and "'SEVERE' is not one of" in recorded[0]
    del proxy.contract_violations[before:]


def test_a_synthetic_registry_is_listed_paged_and_checked(stack, proxy):
    def scan(r, i):
        if i == 11:
            return None
        return {"basic": [basic_finding(f"CVE-2026-98{r:02d}{i:02d}", "HIGH")] * (i % 3)}

    fleet = synthetic_fleet(30, 12, scan=scan, prefix="listing-fleet",
                            imageScanningConfiguration={"scanOnPush": True})
    registry = synthetic_registry(stack, fleet)
    assert registry.image_count == 360
    proxy.check_every = 7
    ecr = stack.client("ecr")
    try:
        names = [r["repositoryName"]
                 for page in ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 7})
                 for r in page["repositories"]]
        fleet_names = [n for n in names if n.startswith("listing-fleet/")]
        assert fleet_names == [f"listing-fleet/team-{r:04d}" for r in range(30)]
        assert len(names) == len(set(names))
        checked, unchecked = proxy.listing_pages_checked, proxy.listing_pages_unchecked
        details = [d for name in fleet_names
                   for page in ecr.get_paginator("describe_images").paginate(
                       repositoryName=name, PaginationConfig={"PageSize": 5})
                   for d in page["imageDetails"]]
        assert proxy.listing_pages_checked > checked and proxy.listing_pages_unchecked > unchecked, "sampled"
    finally:
        proxy.check_every = 1
    assert len(details) == 360
    assert sum(d["imageScanFindingsSummary"]["findingSeverityCounts"].get("HIGH", 0)
               for d in details if "imageScanFindingsSummary" in d) == 30 * sum(i % 3 for i in range(11))
    never = [d for d in details if "imageScanStatus" not in d]
    assert len(never) == 30 and all(d["imageTags"] == ["v11"] for d in never)
    # Its findings are served too, and an image never scanned has none.
    one = details[1]
    scan_answer = ecr.describe_image_scan_findings(repositoryName=one["repositoryName"],
                                                   imageId={"imageDigest": one["imageDigest"]})
    assert len(scan_answer["imageScanFindings"]["findings"]) == 1
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_image_scan_findings(repositoryName=never[0]["repositoryName"],
                                         imageId={"imageDigest": never[0]["imageDigest"]})
    assert error_code(excinfo) == "ScanNotFoundException"
    # A test's override on a synthetic image is always checked.
    image_details(stack, one["imageDigest"], imageScanStatus={"status": "DONE"})
    before = len(proxy.contract_violations)
    proxy.check_every = 1000
    try:
        with pytest.raises(ClientError) as excinfo:
            stack.client("ecr", config=NO_RETRIES).describe_images(repositoryName=one["repositoryName"])
    finally:
        proxy.check_every = 1
    assert error_code(excinfo) == "ServerException"
    assert proxy.contract_violations[before:] == [
        "imageDetails[1].imageScanStatus.status: 'DONE' is not one of " + ", ".join(
            service_model("ecr").shape_for("ScanStatus").enum) + " (ScanStatus)"]
    del proxy.contract_violations[before:]
    # Dropped, the registry is gone and moto's repositories remain.
    proxy.drop_synthetic_registry()
    assert one["imageDigest"] not in proxy.overrides
    names = [r["repositoryName"] for r in ecr.describe_repositories(maxResults=1000)["repositories"]]
    assert not [n for n in names if n.startswith("listing-fleet/")]
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_images(repositoryName="listing-fleet/team-0000")
    assert error_code(excinfo) == "RepositoryNotFoundException"


# -- the check alone (no stack) ----------------------------------------------

def image(n, repository="listing/app", **members):
    return {"registryId": "123456789012", "repositoryName": repository, "imageDigest": f"sha256:{n:064x}",
            "imagePushedAt": 1_764_240_000, **members}


def test_the_listing_check_sees_what_the_model_cannot_say():
    request = {"repositoryName": "listing/app", "maxResults": 2}
    assert check_ecr_listing_page("DescribeImages", {"imageDetails": [image(1), image(2)], "nextToken": "t"},
                                  request) == []
    problems = check_ecr_listing_page("DescribeImages", {"imageDetails": [image(1), image(2), image(3)]}, request)
    assert problems == ["imageDetails: 3 entries on one page; at most 2 (maxResults of the request)"]
    problems = check_ecr_listing_page("DescribeImages", {"imageDetails": [image(1, imageTags=[])]}, request)
    assert problems == ["imageDetails[0].imageTags: empty; ECR leaves it out for an untagged image"]
    problems = check_ecr_listing_page("DescribeImages", {"imageDetails": [image(1, repository="listing/other")]},
                                      request)
    assert problems == ["imageDetails[0].repositoryName: 'listing/other' answering a request for 'listing/app'"]
    summary = {"findingSeverityCounts": {"HIGH": 1}}
    problems = check_ecr_listing_page("DescribeImages", {"imageDetails": [image(1, imageScanFindingsSummary=summary)]},
                                      request)
    assert problems == ["imageDetails[0]: imageScanFindingsSummary without imageScanStatus"]
    by_ids = {"repositoryName": "listing/app", "imageIds": [{"imageTag": "v1"}]}
    problems = check_ecr_listing_page("DescribeImages", {"imageDetails": [image(1)], "nextToken": "t"}, by_ids)
    assert problems == ["nextToken: a page answering imageIds has no nextToken; ECR does not page them"]
    problems = check_ecr_listing_page("DescribeImages", {"imageDetails": [image(1, imagePushedAt=1_764_240_000_000)]},
                                      request)
    assert len(problems) == 1 and "milliseconds?" in problems[0]
    problems = check_ecr_listing_page("DescribeRepositories", {"repositories": [{"repositoryName": "other/x"}]},
                                      {"repositoryNames": ["listing/app"]})
    assert problems == ["repositories[0].repositoryName: 'other/x' was not asked for"]
    problems = check_ecr_listing_page("DescribeRepositories",
                                      {"repositories": [{"repositoryName": "a/b", "encryptionConfiguration": {}}]}, {})
    assert problems == ["repositories[0].encryptionConfiguration.encryptionType: required member of "
                        "EncryptionConfiguration is missing"]


def test_inspectors_coverage_and_aggregations_page_and_filter_as_the_api_reference_says(stack, proxy):
    """ListCoverage and ListFindingAggregations, which moto lacks, from the
    proxy's store: filtered, paged with the proxy's tokens, each answer
    checked against the inspector2 model."""
    store = proxy.inspector
    digests = ["sha256:" + f"{n:064x}" for n in range(5)]
    try:
        for n, digest in enumerate(digests):
            store.image("listing/inspected", digest, status="INACTIVE" if n == 4 else "ACTIVE",
                        reason="SCAN_ELIGIBILITY_EXPIRED" if n == 4 else "SUCCESSFUL",
                        counts={"critical": n, "high": 1, "medium": 0})
        store.image("listing/other-account", digests[0], account="999999999999", counts={"high": 1})
        inspector = stack.client("inspector2")
        images = {"resourceType": [{"comparison": "EQUALS", "value": "AWS_ECR_CONTAINER_IMAGE"}]}
        pages, token = [], None
        while True:
            page = inspector.list_coverage(filterCriteria=images, maxResults=2, **({"nextToken": token} if token else {}))
            pages.append(page)
            token = page.get("nextToken")
            if not token:
                break
        assert [len(p["coveredResources"]) for p in pages] == [2, 2, 1]
        assert {r["accountId"] for p in pages for r in p["coveredResources"]} == {"123456789012"}, \
            "the caller's account only"
        inactive = inspector.list_coverage(filterCriteria={**images, "scanStatusCode": [
            {"comparison": "EQUALS", "value": "INACTIVE"}]})["coveredResources"]
        assert [r["scanStatus"] for r in inactive] == [{"statusCode": "INACTIVE", "reason": "SCAN_ELIGIBILITY_EXPIRED"}]
        # A token of another listing (other filters), or none the proxy issued.
        for bad in (pages[0]["nextToken"], "not-a-token"):
            with pytest.raises(ClientError) as excinfo:
                inspector.list_coverage(filterCriteria={"resourceType": images["resourceType"] * 2}, nextToken=bad)
            assert error_code(excinfo) == "ValidationException"
        with pytest.raises(ClientError) as excinfo:
            inspector.list_coverage(filterCriteria={"lambdaFunctionName": [{"comparison": "EQUALS", "value": "f"}]})
        assert error_code(excinfo) == "ValidationException", "a filter the local stack ignores is refused"
        aggregated = inspector.list_finding_aggregations(
            aggregationType="AWS_ECR_CONTAINER", maxResults=3,
            accountIds=[{"comparison": "EQUALS", "value": "123456789012"}],
            aggregationRequest={"awsEcrContainerAggregation": {}})
        assert aggregated["aggregationType"] == "AWS_ECR_CONTAINER" and aggregated.get("nextToken")
        first = aggregated["responses"][0]["awsEcrContainerAggregation"]
        assert first["repository"] == "listing/inspected" and first["imageSha"] == digests[0]
        assert first["severityCounts"] == {"all": 1, "critical": 0, "high": 1, "medium": 0}
        with pytest.raises(ClientError) as excinfo:
            inspector.list_finding_aggregations(aggregationType="REPOSITORY")
        assert error_code(excinfo) == "ValidationException"
        store.denied = True
        with pytest.raises(ClientError) as excinfo:
            inspector.list_coverage()
        assert error_code(excinfo) == "AccessDeniedException"
        assert proxy.contract_violations == []
    finally:
        store.clear()
