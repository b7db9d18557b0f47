"""Amazon Inspector's ListCoverage and ListFindingAggregations as the local
stack serves them: moto has neither, so the paging proxy
(harness/paging_proxy.py) answers them from a store the tests seed
(`InspectorStore.image`), as the Amazon Inspector API Reference describes
them (ListCoverage, CoveredResource, ScanStatus, EcrContainerImageMetadata;
ListFindingAggregations, AwsEcrContainerAggregation,
AwsEcrContainerAggregationResponse, SeverityCounts):

- REST JSON: `POST /coverage/list` and `POST /findings/aggregation/list`
  (the botocore model's `requestUri`), errors as `x-amzn-ErrorType` with a
  JSON `{"message"}`;
- each answer lists the images of the caller's account (its access key, as
  for ECR) in the region the request is signed for;
- filters: ListCoverage's `resourceType`, `accountId`, `resourceId`,
  `ecrRepositoryName`, `scanStatusCode` and `scanStatusReason` (EQUALS,
  NOT_EQUALS); ListFindingAggregations' `accountIds` and
  `awsEcrContainerAggregation`'s `repositories`, `imageShas` and
  `resourceIds` (EQUALS, NOT_EQUALS, PREFIX); any other filter is refused
  with a ValidationException naming it, so a test never passes on a filter
  the local stack ignores;
- `aggregationType` other than AWS_ECR_CONTAINER is refused the same way;
- pages of `maxResults` (ListCoverage 1..200, ListFindingAggregations
  1..100, the model's ranges; 100 without it) with an opaque `nextToken`
  signed by the proxy for that listing.

Nothing here talks to the network; PagingProxy.inspector_listing is the
wiring, and checks every answer against the inspector2 model."""

import hashlib
import json

from .registry import DEFAULT_ACCOUNT, DEFAULT_REGION

COVERAGE_PATH = "/coverage/list"
AGGREGATIONS_PATH = "/findings/aggregation/list"
OPERATIONS = {COVERAGE_PATH: "ListCoverage", AGGREGATIONS_PATH: "ListFindingAggregations"}
MAX_RESULTS = {"ListCoverage": 200, "ListFindingAggregations": 100}
PAGE_DEFAULT = 100
COVERAGE_FILTERS = {"resourceType", "accountId", "resourceId", "ecrRepositoryName", "scanStatusCode",
                    "scanStatusReason"}
AGGREGATION_FILTERS = {"repositories", "imageShas", "resourceIds"}
SEVERITIES = ("all", "critical", "high", "medium", "low", "informational", "untriaged")


def inspector_error(code, message, status=400):
    """(status, headers, body) of an Inspector error (REST JSON)."""
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, \
        json.dumps({"message": message}).encode()


def _matches(value, filters, prefix_ok):
    """Whether `value` passes a list of StringFilter: every NOT_EQUALS, and
    one of the EQUALS / PREFIX if there are any."""
    positive = [f for f in filters if f.get("comparison") != "NOT_EQUALS"]
    for f in filters:
        if f.get("comparison") == "NOT_EQUALS" and value == f.get("value"):
            return False
    if not positive:
        return True
    return any(value == f.get("value") or (prefix_ok and f.get("comparison") == "PREFIX"
                                           and str(value).startswith(str(f.get("value"))))
               for f in positive)


class InspectorStore:
    """The images Inspector knows, per (account, region): their coverage and
    their findings' counts."""

    def __init__(self):
        # (account, region) -> {image ARN: {"coverage": CoveredResource or
        # None, "aggregation": AwsEcrContainerAggregationResponse or None}}
        self.images = {}
        # Requests answered, by operation; requests refused with AccessDenied.
        self.calls = {"ListCoverage": 0, "ListFindingAggregations": 0}
        # Set: every request is refused with AccessDeniedException, as when
        # the caller may not use Inspector.
        self.denied = False

    def image(self, repository, digest, account=DEFAULT_ACCOUNT, region=DEFAULT_REGION, status="ACTIVE",
              reason="SUCCESSFUL", tags=("latest",), pulled_at=None, last_in_use_at=None, in_use_count=None,
              counts=None, covered=True, last_scanned_at=None):
        """Seeds one image: its coverage (`covered=False`: absent from
        ListCoverage) with `status`/`reason` and usage, and, with `counts`
        (a dict of SeverityCounts members), its findings aggregation. Times
        in epoch seconds."""
        arn = f"arn:aws:ecr:{region}:{account}:repository/{repository}/{digest}"
        entry = {"coverage": None, "aggregation": None}
        if covered:
            ecr_image = {"tags": list(tags)}
            for key, value in (("imagePulledAt", pulled_at), ("lastInUseAt", last_in_use_at),
                               ("inUseCount", in_use_count)):
                if value is not None:
                    ecr_image[key] = value
            entry["coverage"] = {
                "resourceType": "AWS_ECR_CONTAINER_IMAGE", "resourceId": arn, "accountId": account,
                "scanType": "PACKAGE", "scanStatus": {"statusCode": status, "reason": reason},
                "resourceMetadata": {"ecrImage": ecr_image},
                **({"lastScannedAt": last_scanned_at} if last_scanned_at is not None else {}),
            }
        if counts is not None:
            severity = {k: int(v) for k, v in counts.items() if k in SEVERITIES}
            severity.setdefault("all", sum(v for k, v in severity.items() if k != "all"))
            aggregation = {"resourceId": arn, "imageSha": digest, "repository": repository,
                           "accountId": account, "imageTags": list(tags), "severityCounts": severity}
            for key, value in (("lastInUseAt", last_in_use_at), ("inUseCount", in_use_count)):
                if value is not None:
                    aggregation[key] = value
            entry["aggregation"] = aggregation
        self.images.setdefault((account, region), {})[arn] = entry
        return arn

    def clear(self):
        self.images.clear()
        self.denied = False

    def answer(self, operation, request, account, region, tokens):
        """(status, headers, body bytes or a dict to check) for one request."""
        self.calls[operation] += 1
        if self.denied:
            return inspector_error("AccessDeniedException",
                                   f"User is not authorized to perform: inspector2:{operation}", 403)
        size = request.get("maxResults")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)
                                 or not 1 <= size <= MAX_RESULTS[operation]):
            return inspector_error("ValidationException",
                                   f"maxResults must be 1..{MAX_RESULTS[operation]}")
        images = list(self.images.get((account, region), {}).values())
        if operation == "ListCoverage":
            refused, items = self._coverage(request, images)
            key = "coveredResources"
        else:
            refused, items = self._aggregations(request, images)
            key = "responses"
        if refused is not None:
            return refused
        scope = {"op": operation, "registry": f"{account}/{region}",
                 "request": hashlib.sha256(json.dumps({k: v for k, v in request.items()
                                                       if k not in ("nextToken", "maxResults")},
                                                      sort_keys=True).encode()).hexdigest()[:16]}
        offset = 0
        token = request.get("nextToken")
        if token:
            data = tokens.read(token) if isinstance(token, str) else None
            if not data or any(data.get(k) != v for k, v in scope.items()) or not isinstance(data.get("offset"), int):
                return inspector_error("ValidationException", "Invalid nextToken")
            offset = data["offset"]
        size = size or PAGE_DEFAULT
        page = {key: items[offset:offset + size]}
        if operation == "ListFindingAggregations":
            page["aggregationType"] = "AWS_ECR_CONTAINER"
        if offset + size < len(items):
            page["nextToken"] = tokens.issue(**scope, offset=offset + size)
        return 200, {"Content-Type": "application/json"}, page

    def _coverage(self, request, images):
        criteria = request.get("filterCriteria") or {}
        unknown = set(criteria) - COVERAGE_FILTERS
        if unknown:
            return inspector_error("ValidationException",
                                   f"the local stack does not filter coverage on {sorted(unknown)}"), None
        values = {
            "resourceType": lambda c: c["resourceType"], "accountId": lambda c: c["accountId"],
            "resourceId": lambda c: c["resourceId"],
            "ecrRepositoryName": lambda c: c["resourceId"].split(":repository/", 1)[1].rsplit("/sha256:", 1)[0],
            "scanStatusCode": lambda c: c["scanStatus"]["statusCode"],
            "scanStatusReason": lambda c: c["scanStatus"]["reason"],
        }
        out = []
        for entry in images:
            coverage = entry["coverage"]
            if coverage is None:
                continue
            if all(_matches(values[name](coverage), filters, prefix_ok=False) for name, filters in criteria.items()):
                out.append(coverage)
        return None, out

    def _aggregations(self, request, images):
        if request.get("aggregationType") != "AWS_ECR_CONTAINER":
            return inspector_error("ValidationException",
                                   f"the local stack aggregates AWS_ECR_CONTAINER only, not "
                                   f"{request.get('aggregationType')!r}"), None
        aggregation = (request.get("aggregationRequest") or {})
        if set(aggregation) - {"awsEcrContainerAggregation"}:
            return inspector_error("ValidationException",
                                   "aggregationRequest must be awsEcrContainerAggregation for AWS_ECR_CONTAINER"), None
        criteria = aggregation.get("awsEcrContainerAggregation") or {}
        unknown = set(criteria) - AGGREGATION_FILTERS
        if unknown:
            return inspector_error("ValidationException",
                                   f"the local stack does not filter aggregations on {sorted(unknown)}"), None
        values = {"repositories": "repository", "imageShas": "imageSha", "resourceIds": "resourceId"}
        accounts = request.get("accountIds") or []
        out = []
        for entry in images:
            response = entry["aggregation"]
            if response is None:
                continue
            if accounts and not _matches(response["accountId"], accounts, prefix_ok=True):
                continue
            if all(_matches(response[values[name]], filters, prefix_ok=True) for name, filters in criteria.items()):
                out.append({"awsEcrContainerAggregation": response})
        return None, out
