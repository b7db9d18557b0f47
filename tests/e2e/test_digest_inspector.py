"""Layer 3: the digest of an enhanced-scanning registry reads Amazon
Inspector's coverage and findings aggregations (ListCoverage,
ListFindingAggregations, served by the local stack's proxy as the Inspector
API Reference describes them and checked against the inspector2 model):
an image Inspector no longer scans is named with what to do, an old image
Inspector saw running counts with its open findings, an image whose counts
stay below the threshold has no findings read; and when Inspector cannot be
read, the digest says so and reads ECR's statuses as before."""

import json
import re
import time

import pytest

from harness.registry import OMIT
from harness.seed import (enhanced_finding, ensure_repository, image_details, member_client, member_role,
                          received_alerts, role_exists, scanned_image_in, subscribe_queue)

ENHANCED = "888888888888"
ROLE = "ecr-scan-alerts-reader"
OWNER = "dg-shop"
REPOSITORY = "shop/api"
DAY = 86_400


@pytest.fixture(scope="module")
def shop(stack):
    queue = subscribe_queue(stack, stack.topic_arn, f"digest-{OWNER}", {"owner": [OWNER]})
    member_role(stack, ENHANCED, ROLE)
    ecr = member_client(stack, "ecr", ENHANCED)
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[{
        "scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}])
    ensure_repository(ecr, REPOSITORY)
    ecr.tag_resource(resourceArn=f"arn:aws:ecr:us-east-1:{ENHANCED}:repository/{REPOSITORY}",
                     tags=[{"Key": "owner", "Value": OWNER}])
    now = int(time.time())

    def image(tag, findings):
        return scanned_image_in(stack, ENHANCED, "us-east-1", REPOSITORY, tag, status="ACTIVE", enhanced=findings)

    digests = {
        "live": image("live", [enhanced_finding("CVE-2026-41001", "HIGH")]),
        # Pushed 120 days ago and never pulled: current only because
        # Inspector saw it running yesterday.
        "old": image("old", [enhanced_finding("CVE-2026-41002", "CRITICAL")]),
        "expired": image("expired", [enhanced_finding("CVE-2026-41003", "HIGH")]),
        # No summary in DescribeImages: without Inspector's counts its
        # findings would be read.
        "quiet": image("quiet", [enhanced_finding("CVE-2026-41004", "MEDIUM")]),
        "uncovered": image("uncovered", []),
    }
    image_details(stack, digests["old"], imagePushedAt=now - 120 * DAY)
    image_details(stack, digests["quiet"], imageScanFindingsSummary=OMIT)
    inspector = stack.proxy.inspector
    seed = dict(account=ENHANCED, region="us-east-1")
    inspector.image(REPOSITORY, digests["live"], tags=["live"], counts={"high": 1, "critical": 0, "medium": 0},
                    last_scanned_at=now - 3600, **seed)
    inspector.image(REPOSITORY, digests["old"], tags=["old"], last_in_use_at=now - DAY, in_use_count=1,
                    counts={"critical": 1, "high": 0, "medium": 0}, **seed)
    inspector.image(REPOSITORY, digests["expired"], tags=["expired"], status="INACTIVE",
                    reason="SCAN_ELIGIBILITY_EXPIRED", **seed)
    inspector.image(REPOSITORY, digests["quiet"], tags=["quiet"], counts={"critical": 0, "high": 0, "medium": 1},
                    **seed)
    stack.proxy.role_check = lambda arn: role_exists(stack, arn)
    stack.shop_port = stack.start_digest(MEMBER_ROLE_NAME=ROLE, SCOPE_ACCOUNT_IDS=ENHANCED, DIGEST_REGIONS=None,
                                         REPORT_BUCKET_NAME=None, DEDUP_TABLE_NAME=None, METRICS="true")
    stack.shop_queue, stack.shop_digests = queue, digests
    yield stack
    stack.proxy.role_check = None
    inspector.clear()
    for digest in digests.values():
        stack.proxy.image_details.pop(digest, None)


def shop_digest(stack):
    [digest] = received_alerts(stack, stack.shop_queue)
    return digest


def test_inspectors_coverage_says_what_is_watched_current_and_worth_reading(shop, inbox):
    proxy = shop.proxy
    calls = dict(proxy.inspector.calls)
    findings_read = proxy.describe_calls

    ok, result = shop.invoke_at(shop.shop_port, {"digest": "scheduled"}, timeout=120)

    assert ok, result
    assert proxy.contract_violations == [], proxy.contract_violations
    # Once per registry, whatever the number of repositories.
    assert proxy.inspector.calls["ListCoverage"] - calls["ListCoverage"] == 1
    assert proxy.inspector.calls["ListFindingAggregations"] - calls["ListFindingAggregations"] == 1
    assert result["images"] == 5, result
    # The HIGH and the CRITICAL images; not the quiet one, whose counts
    # stay below HIGH; not those Inspector does not watch.
    assert result["images_with_findings_read"] == 2, result
    assert proxy.describe_calls - findings_read == 2
    digest = shop_digest(shop)
    body = digest["message"]
    (shop.log_dir / "digest-dg-shop-inspector.txt").write_text(body)
    assert digest["subject"] == "Digest for dg-shop: 1 critical, 1 high open", digest["subject"]
    assert "1 critical, 1 high open in 5 images of 1 repositories; 2 not watched" in body, body
    assert f"shop/api (account {ENHANCED}, us-east-1): 1 critical, 1 high; 3 of 5 images watched" in body, body
    assert (f"shop/api:expired ({ENHANCED}): Inspector's coverage INACTIVE, SCAN_ELIGIBILITY_EXPIRED. "
            "To do: push it again, or raise Inspector's ECR re-scan duration") in body, body
    assert f"shop/api:uncovered ({ENHANCED}): not in Inspector's coverage. To do: check that" in body, body
    assert "CVE-2026-41004" not in body
    assert "INSPECTOR'S COVERAGE NOT READ" not in body
    received_alerts(shop, inbox)


def test_when_inspector_cannot_be_read_the_digest_says_so_and_reads_ecr_as_before(shop, inbox):
    proxy = shop.proxy
    proxy.inspector.denied = True
    try:
        ok, result = shop.invoke_at(shop.shop_port, {"digest": "scheduled"}, timeout=120)
    finally:
        proxy.inspector.denied = False

    assert ok, result
    # The old image is not current by ECR's dates; ECR says the expired one
    # is ACTIVE, so its HIGH finding is read; the quiet one, without a
    # summary, has its findings read too.
    assert result["images"] == 4, result
    assert result["images_with_findings_read"] == 3, result
    body = shop_digest(shop)["message"]
    # The two listings are read side by side: the first refusal is named.
    assert re.search(f"INSPECTOR'S COVERAGE NOT READ: account {ENHANCED}, region us-east-1: Inspector "
                     "AccessDeniedException: User is not authorized to perform: "
                     f"inspector2:(ListCoverage|ListFindingAggregations) \\(in account {ENHANCED} as role {ROLE}\\)\\.",
                     body), body
    assert "every image watched" in body, body
    log = (shop.log_dir / "digest-function.log").read_text()
    counts = [json.loads(line) for line in log.splitlines()
              if line.startswith("{") and '"InspectorCoverageUnread"' in line]
    assert counts and counts[-1]["InspectorCoverageUnread"] == 1, counts
    received_alerts(shop, inbox)
