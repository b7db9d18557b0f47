"""An HTTP proxy in front of moto that pages DescribeImageScanFindings the way
ECR does: moto returns every finding at once and ignores maxResults and
nextToken, so without this nothing would prove that the function pages.

- basic findings: maxResults per page (1..1000, default 100);
- enhanced findings: 100 per page whatever maxResults says;
- nextToken: opaque; a token that was not issued is rejected like ECR does.

It also reproduces what AWS does and moto does not, on demand:
- a second scan of an image (moto keeps the first result forever);
- findings that reach ECR after the scan says done (`lag`): the first
  reads of an image see only some of its findings (aws/aws-sdk issue 289,
  "ECR scan shows Status COMPLETE when enhanced findings are not there yet");
- an endpoint that accepts requests and never answers (`hang`);
- an endpoint that is down (`down`: every connection is dropped);
- SNS PublishBatch answering some entries as failed, with a 200
  (`fail_publish_containing`: the entries whose message contains it are not
  published and are listed under `Failed`, as SNS does);
- AWS's latency (`latency_ms`, `jitter_ms`): every answer waits that long
  (plus a uniform jitter) before it is written; LOCAL_AWS_LATENCY_MS
  (`20`, or `20:5` for a jitter of up to 5 ms) sets it for the local stack;
- an image whose last scan completed long ago (`age_scan`): moto dates
  every scan today and refuses a second one the same day, so the proxy
  serves the old completion time and answers StartImageScan for the image
  itself, as ECR does for an image last scanned more than 24 hours ago; the
  next read shows the scan IN_PROGRESS, later ones the new scan.

It answers ECR's registry listings itself (moto neither pages them nor
knows the scans it stores findings for), as the Amazon ECR API Reference
describes DescribeImages and DescribeRepositories (the listing pieces are in
harness/registry.py):
- DescribeImages: moto's images of the repository (asked without paging),
  each completed with what ECR adds: artifactMediaType, and once the image
  was scanned its `imageScanStatus` and `imageScanFindingsSummary` (the
  last completed scan's imageScanCompletedAt, vulnerabilitySourceUpdatedAt
  and findingSeverityCounts), taken from the scan DescribeImageScanFindings
  serves for it (`overrides`, else moto's, dated as `age_scan` dates it):
  an image never scanned has neither member. `filter.tagStatus` (TAGGED,
  UNTAGGED, ANY) and `filter.imageStatus` (default: ACTIVE images only)
  filter; pages of maxResults (1..1000, default 100) with an opaque
  nextToken, signed by the proxy: a token it did not issue for this
  listing (registry, repository, filter) is refused with
  InvalidParameterException. With `imageIds`: those images only, unpaged
  (maxResults or nextToken beside them is refused); an image not there is
  ImageNotFoundException.
- `image_details[digest]`: ImageDetail members merged into that image's
  detail (`registry.OMIT` leaves one out): lastRecordedPullTime, an old
  imagePushedAt, a status like SCAN_ELIGIBILITY_EXPIRED...
- `native_basic_scanning`: DescribeImages shows no scan status nor summary
  for basic scans, as with ECR's AWS-native basic scanning.
- DescribeRepositories: moto's repositories, paged the same way (with
  `repositoryNames`: those only, unpaged).
- `synthetic_registry(repositories, account, region)`: a whole registry in
  memory (repositories, images, scans) that DescribeRepositories,
  DescribeImages and DescribeImageScanFindings answer from without moto,
  for registries too big to push to moto image by image (20,000 images in
  2,000 repositories: see harness/listing_bench.py). Its repositories are
  listed after moto's of the same account and region. The account of a
  request is its registryId, else the caller's: the proxy remembers the
  keys STS's AssumeRole issued through it, any other key is moto's default
  account.
It answers Amazon Inspector's ListCoverage and ListFindingAggregations
itself (moto has neither) from `inspector`, a store the tests seed with
`inspector.image(...)` (harness/inspector_listing.py): filtered, paged and
checked against the inspector2 model like every other answer;
`inspector.denied` refuses them with AccessDeniedException.
Every DescribeImageScanFindings page it serves is checked against the ECR
service model of the pinned botocore (harness/contract.py), every
DescribeImages and DescribeRepositories page served from moto's answers too
(check_ecr_listing_page: the model, page sizes, an image of another
repository, empty imageTags), and every Inspector ListFindings answer
against the inspector2 model: an answer that breaks the contract is answered
with a 500 naming what is wrong, and recorded in `contract_violations`.
Pages of a synthetic registry are checked one in `check_every` (default 1:
every page; the check costs about 20 microseconds an image), and always when
they carry an image of `image_details`.
"""

import base64
import http.client
import json
import os
import random
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .inspector_listing import OPERATIONS as INSPECTOR_LISTINGS
from .inspector_listing import InspectorStore
from .registry import (DEFAULT_ACCOUNT, DEFAULT_REGION, IMAGE_STATUSES, OMIT, PAGE_DEFAULT, TAG_STATUSES,  # noqa: F401 - OMIT for callers
                       SyntheticRegistry, Tokens, error, image_id_text, image_not_found, matches, merged,
                       paging_problem, scan_members, selected, with_artifact_type)

TARGET = "AmazonEC2ContainerRegistry_V20150921.DescribeImageScanFindings"
START_SCAN = "AmazonEC2ContainerRegistry_V20150921.StartImageScan"
DESCRIBE_IMAGES = "AmazonEC2ContainerRegistry_V20150921.DescribeImages"
DESCRIBE_REPOSITORIES = "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"
LIST_TAGS = "AmazonEC2ContainerRegistry_V20150921.ListTagsForResource"
JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.1"}
# SigV4's credential scope: Credential=ACCESS_KEY/DATE/REGION/SERVICE/aws4_request.
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/")
# Checked against the model: every page served from moto's images, and every
# `check_every`-th page served from a synthetic registry (1: every page).
CHECK_EVERY_SYNTHETIC_PAGE = 1
# Amazon Inspector's ListFindings (REST JSON: POST /findings/list).
INSPECTOR_LIST_FINDINGS = "/findings/list"
ENHANCED_PAGE = 100
BASIC_DEFAULT = 100
BASIC_MAX = 1000


def encode_token(offset, digest):
    raw = json.dumps({"o": offset, "d": digest}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token):
    data = json.loads(base64.urlsafe_b64decode(token.encode()))
    return int(data["o"]), data["d"]


ECR_SEVERITIES = {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNDEFINED"}


EMPTY_PUBLISH_BATCH = (b'<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
                       b'<PublishBatchResult><Successful></Successful><Failed></Failed></PublishBatchResult>'
                       b'<ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></PublishBatchResponse>')


def with_failed_entries(xml, ids):
    """SNS's PublishBatch answer with `ids` listed as failed (InternalError,
    not the sender's fault)."""
    members = "".join(f"<member><Id>{i}</Id><Code>InternalError</Code><Message>local failure</Message>"
                      f"<SenderFault>false</SenderFault></member>" for i in ids).encode()
    if b"<Failed/>" in xml:
        return xml.replace(b"<Failed/>", b"<Failed>" + members + b"</Failed>", 1)
    if b"<Failed>" in xml:
        return xml.replace(b"<Failed>", b"<Failed>" + members, 1)
    return xml.replace(b"</PublishBatchResult>", b"<Failed>" + members + b"</Failed></PublishBatchResult>", 1)


def lagged(full, visible):
    """The answer as ECR gives it while only the first `visible` findings
    have arrived."""
    findings = dict(full.get("imageScanFindings") or {})
    for key in ("findings", "enhancedFindings"):
        if findings.get(key):
            findings[key] = findings[key][:visible]
    return {**full, "imageScanFindings": findings}


def page_response(full, request):
    """Cuts one page out of moto's full answer. Returns (status, body dict)."""
    findings = full.get("imageScanFindings") or {}
    basic = findings.get("findings") or []
    enhanced = findings.get("enhancedFindings") or []
    digest = (request.get("imageId") or {}).get("imageDigest") or ""
    offset = 0
    token = request.get("nextToken")
    if token:
        try:
            offset, token_digest = decode_token(token)
        except Exception:  # noqa: BLE001 - any undecodable token is invalid
            return 400, {"__type": "InvalidParameterException", "message": "Invalid NextToken"}
        if token_digest != digest:
            return 400, {"__type": "InvalidParameterException", "message": "NextToken is for another image"}
    max_results = request.get("maxResults")
    if max_results is not None and not 1 <= int(max_results) <= BASIC_MAX:
        return 400, {"__type": "ValidationException", "message": "maxResults must be 1..1000"}
    if enhanced:
        size, items, key = ENHANCED_PAGE, enhanced, "enhancedFindings"
    else:
        size, items, key = int(max_results or BASIC_DEFAULT), basic, "findings"
    page = dict(full)
    page_findings = dict(findings)
    page_findings[key] = items[offset:offset + size]
    page["imageScanFindings"] = page_findings
    page.pop("nextToken", None)
    if offset + size < len(items):
        page["nextToken"] = encode_token(offset + size, digest)
    return 200, page


def latency_from_env(value=None):
    """(latency ms, jitter ms) from LOCAL_AWS_LATENCY_MS: `20` or `20:5`."""
    value = os.environ.get("LOCAL_AWS_LATENCY_MS", "") if value is None else value
    if not value.strip():
        return 0.0, 0.0
    base, _, jitter = value.partition(":")
    try:
        return float(base), float(jitter or 0)
    except ValueError:
        raise SystemExit(f"LOCAL_AWS_LATENCY_MS: `{value}` is not `MS` or `MS:JITTER_MS`") from None


class PagingProxy:
    def __init__(self, upstream_port, host="127.0.0.1"):
        self.upstream_port = upstream_port
        self.host = host
        # Added before every answer, as AWS's own latency: milliseconds,
        # plus a uniform jitter of up to `jitter_ms`.
        self.latency_ms, self.jitter_ms = latency_from_env()
        self.describe_calls = 0
        # digest -> a full DescribeImageScanFindings answer served instead of
        # moto's: moto keeps the first result it served for an image forever,
        # so a rescan with new findings is simulated here.
        self.overrides = {}
        # Switched off (`down = True`), every connection is dropped without
        # an answer: AWS unreachable, for fault tests.
        self.down = False
        # moto's STS assumes any role ARN, even one that does not exist.
        # When set (role ARN -> bool), AssumeRole of a role it rejects is
        # refused with AccessDenied, as STS does.
        self.role_check = None
        # digest -> {"reads": n, "visible": k}: the next n reads of the image
        # see only its first k findings.
        self.lag = {}
        # Set, every request is read and never answered until `unhang()`.
        self.hang = False
        self.released = threading.Event()
        # digest -> {"completed_at": epoch, "rescan": answer or None,
        # "started": bool}: see `age_scan`.
        self.aged = {}
        # StartImageScan requests seen (by digest), answered here or by moto.
        self.scans_started = []
        # Pages that broke the service model's contract (and were refused).
        self.contract_violations = []
        # Inspector ListFindings answers relayed (checked like ECR's pages).
        self.inspector_calls = 0
        # Every request answered (any service): AWS calls made.
        self.requests = 0
        # Set to a text: PublishBatch entries whose message contains it fail.
        self.fail_publish_containing = None
        # digest -> ImageDetail members merged into that image's detail in
        # DescribeImages answers (`OMIT` leaves a member out): a pull time,
        # an old push time, a scan status the stack cannot produce...
        self.image_details = {}
        # True: the registry runs ECR's AWS-native basic scanning, whose
        # DescribeImages answers carry no scan status nor summary for basic
        # scans (Amazon ECR API Reference, DescribeImages).
        self.native_basic_scanning = False
        # (account, region) -> SyntheticRegistry: see `synthetic_registry`.
        self.synthetic = {}
        # Access key id -> account, for the keys STS issued through the
        # proxy (AssumeRole): moto keeps each account's resources apart by
        # the caller's key; any other key is moto's default account.
        self.key_accounts = {}
        # Amazon Inspector's coverage and findings aggregations, as the
        # tests seed them (ListCoverage, ListFindingAggregations).
        self.inspector = InspectorStore()
        # nextTokens of DescribeImages and DescribeRepositories pages (and
        # of Inspector's listings).
        self.tokens = Tokens()
        # Listing requests answered, by operation.
        self.listing_calls = {"DescribeImages": 0, "DescribeRepositories": 0}
        # Listing pages checked against the model / served unchecked (only
        # synthetic-registry pages are sampled: see `check_every`).
        self.listing_pages_checked = 0
        self.listing_pages_unchecked = 0
        self.check_every = CHECK_EVERY_SYNTHETIC_PAGE
        self._synthetic_pages = {"DescribeImages": 0, "DescribeRepositories": 0}
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without this, Nagle
            # holds the body ~40 ms on a reused connection.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _relay(self):
                if proxy.down:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.hang:
                    # Accepted, never answered: the client's timeouts decide.
                    proxy.released.wait(timeout=300)
                    self.close_connection = True
                    return
                target = self.headers.get("X-Amz-Target", "")
                refused = proxy.refused_assume_role(body)
                if refused is not None:
                    self._answer(403, {"Content-Type": "text/xml"}, refused)
                    return
                if target == START_SCAN:
                    request = json.loads(body or b"{}")
                    digest = (request.get("imageId") or {}).get("imageDigest")
                    with proxy.lock:
                        proxy.scans_started.append(digest)
                    answer = proxy.start_aged_scan(digest, request)
                    if answer is not None:
                        self._answer(200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(answer).encode())
                        return
                if target == LIST_TAGS:
                    answer = proxy.synthetic_tags(json.loads(body or b"{}"))
                    if answer is not None:
                        self._answer(200, JSON_HEADERS, json.dumps(answer).encode())
                        return
                if self.command == "POST" and self.path.split("?")[0] in INSPECTOR_LISTINGS:
                    self._answer(*proxy.inspector_listing(self, INSPECTOR_LISTINGS[self.path.split("?")[0]],
                                                          json.loads(body or b"{}")))
                    return
                if target in (DESCRIBE_IMAGES, DESCRIBE_REPOSITORIES):
                    request = json.loads(body or b"{}")
                    listing = proxy.describe_images if target == DESCRIBE_IMAGES else proxy.describe_repositories
                    self._answer(*listing(self, request))
                    return
                if target == TARGET:
                    with proxy.lock:
                        proxy.describe_calls += 1
                    request = json.loads(body or b"{}")
                    digest = (request.get("imageId") or {}).get("imageDigest")
                    full = proxy.overrides.get(digest)
                    if full is None:
                        refused, full = proxy.synthetic_scan(self, request)
                        if refused is not None:
                            self._answer(refused[0], JSON_HEADERS, json.dumps(refused[1]).encode())
                            return
                    if full is None:
                        upstream_request = {k: v for k, v in request.items() if k not in ("nextToken", "maxResults")}
                        status, headers, data = proxy.forward(self, json.dumps(upstream_request).encode())
                        if status != 200:
                            self._answer(status, headers, data)
                            return
                        full = json.loads(data)
                    full = proxy.aged_answer(digest, full)
                    if not request.get("nextToken"):
                        full = proxy.lagging(digest, full)
                    else:
                        full = proxy.lag_in_progress(digest, full)
                    status, page = page_response(full, request)
                    if status == 200:
                        status, page = proxy.checked(page, request)
                    self._answer(status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(page).encode())
                    return
                failing = proxy.failing_entries(body)
                if failing:
                    body, failed_ids = failing
                    if body is None:
                        status, headers, data = 200, {"Content-Type": "text/xml"}, EMPTY_PUBLISH_BATCH
                    else:
                        status, headers, data = proxy.forward(self, body)
                    if status == 200:
                        data = with_failed_entries(data, failed_ids)
                    self._answer(status, headers, data)
                    return
                status, headers, data = proxy.forward(self, body)
                proxy.note_assumed_role(body, status, data)
                if self.command == "POST" and self.path.split("?")[0] == INSPECTOR_LIST_FINDINGS and status == 200:
                    with proxy.lock:
                        proxy.inspector_calls += 1
                    status, data = proxy.checked_inspector(data)
                self._answer(status, headers, data)

            def _answer(self, status, headers, data):
                with proxy.lock:
                    proxy.requests += 1
                proxy.wait_latency()
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def age_scan(self, digest, completed_at, rescan=None):
        with self.lock:
            self.aged[digest] = {"completed_at": completed_at, "rescan": rescan, "started": False}

    def start_aged_scan(self, digest, request):
        """ECR's StartImageScan answer for an image scanned long ago, or
        None to let moto answer."""
        with self.lock:
            aged = self.aged.get(digest)
            if aged is None or aged["started"]:
                return None
            aged["started"] = True
            aged["reads_in_progress"] = 1
        return {"registryId": request.get("registryId") or "123456789012",
                "repositoryName": request.get("repositoryName"),
                "imageId": {"imageDigest": digest},
                "imageScanStatus": {"status": "IN_PROGRESS", "description": "The scan is in progress."}}

    def aged_answer(self, digest, full):
        """The answer for an image `age_scan` dated back: the old scan until
        a new one starts, then one read IN_PROGRESS, then the new scan."""
        import time

        with self.lock:
            aged = self.aged.get(digest)
            if aged is None:
                return full
            if not aged["started"]:
                findings = dict(full.get("imageScanFindings") or {})
                findings["imageScanCompletedAt"] = aged["completed_at"]
                return {**full, "imageScanFindings": findings}
            if aged.get("reads_in_progress", 0) > 0:
                aged["reads_in_progress"] -= 1
                return {k: v for k, v in full.items() if k != "imageScanFindings"} | {
                    "imageScanStatus": {"status": "IN_PROGRESS", "description": "The scan is in progress."}}
            new = aged["rescan"] or full
            findings = dict(new.get("imageScanFindings") or {})
            findings["imageScanCompletedAt"] = aged.setdefault("rescanned_at", int(time.time()))
            return {**new, "imageScanFindings": findings}

    def lagging(self, digest, full):
        """A first page: one read of the image; while the image lags, only
        its first findings are there."""
        with self.lock:
            lag = self.lag.get(digest)
            if not lag or lag["reads"] <= 0:
                self.lag.pop(digest, None)
                return full
            lag["reads"] -= 1
            lag["paging"] = True
        return lagged(full, lag["visible"])

    def lag_in_progress(self, digest, full):
        """A later page of a read that began while the image lagged."""
        with self.lock:
            lag = self.lag.get(digest)
        return lagged(full, lag["visible"]) if lag and lag.get("paging") else full

    def checked(self, page, request):
        """The page, or ECR's kind of 500 naming how it breaks the contract."""
        from .contract import check_ecr_findings_page

        violations = check_ecr_findings_page(page, request)
        if not violations:
            return 200, page
        with self.lock:
            self.contract_violations.extend(violations)
        return 500, {"__type": "ServerException",
                     "message": "local stack served a page that breaks the ECR model: " + "; ".join(violations[:5])}

    def checked_inspector(self, data):
        """moto's ListFindings answer, or Inspector's kind of 500 naming how
        it breaks the inspector2 model."""
        from .contract import check_output

        violations = check_output("inspector2", "ListFindings", json.loads(data or b"{}"))
        if not violations:
            return 200, data
        with self.lock:
            self.contract_violations.extend(violations)
        message = "local stack served findings that break the inspector2 model: " + "; ".join(violations[:5])
        return 500, json.dumps({"message": message}).encode()

    def inspector_listing(self, handler, operation, request):
        """Inspector's ListCoverage / ListFindingAggregations answer for the
        caller's account and region, from `inspector`: (status, headers,
        body bytes); an answer that breaks the inspector2 model is a 500
        naming how (recorded in `contract_violations`)."""
        from .contract import check_output

        account, region = self.caller_registry(handler, {})
        with self.lock:
            status, headers, body = self.inspector.answer(operation, request, account, region, self.tokens)
        if status != 200:
            return status, headers, body
        violations = check_output("inspector2", operation, body)
        if violations:
            with self.lock:
                self.contract_violations.extend(violations)
            message = f"local stack served a {operation} answer that breaks the inspector2 model: " + \
                "; ".join(violations[:5])
            return 500, {"Content-Type": "application/json", "x-amzn-ErrorType": "InternalServerException"}, \
                json.dumps({"message": message}).encode()
        return status, headers, json.dumps(body).encode()

    # -- DescribeImages / DescribeRepositories ----------------------------
    def synthetic_registry(self, repositories, account=DEFAULT_ACCOUNT, region=DEFAULT_REGION):
        """Serves this whole registry (one account and region) from memory:
        `repositories` as harness.registry.SyntheticRegistry takes them
        (Repository dicts, each with `images`: ImageDetail dicts, each with
        an optional `scan`: its DescribeImageScanFindings answer). Replaces
        the synthetic registry this account and region had. Its repositories
        are listed after moto's (DescribeRepositories); DescribeImages,
        DescribeImageScanFindings (through `overrides`) answer for its images
        without moto. Returns the SyntheticRegistry."""
        registry = SyntheticRegistry(repositories, account, region)
        with self.lock:
            old = self.synthetic.get((account, region))
            if old is not None:
                self._drop_scans(old)
            self.synthetic[(account, region)] = registry
            self.overrides.update(registry.scans)
        return registry

    def drop_synthetic_registry(self, account=DEFAULT_ACCOUNT, region=DEFAULT_REGION):
        """Forgets the synthetic registry of this account and region (and
        the scans it put in `overrides`)."""
        with self.lock:
            registry = self.synthetic.pop((account, region), None)
            if registry is not None:
                self._drop_scans(registry)

    def _drop_scans(self, registry):
        for digest, scan in registry.scans.items():
            if self.overrides.get(digest) is scan:
                del self.overrides[digest]

    def caller_registry(self, handler, request):
        """(account, region) a request reads: its registryId, else the
        caller's account (by its access key); the region it is signed for."""
        found = CREDENTIAL.search(handler.headers.get("Authorization", ""))
        key, region = (found.group(1), found.group(2)) if found else ("", DEFAULT_REGION)
        with self.lock:
            account = self.key_accounts.get(key, DEFAULT_ACCOUNT)
        return request.get("registryId") or account, region

    def note_assumed_role(self, body, status, data):
        """Remembers the account of the keys an AssumeRole answer issues."""
        if status != 200 or b"Action=AssumeRole" not in body:
            return
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        if form.get("Action") != ["AssumeRole"]:
            return
        parts = (form.get("RoleArn") or [""])[0].split(":")
        key = re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", data or b"")
        if len(parts) > 4 and key:
            with self.lock:
                self.key_accounts[key.group(1).decode()] = parts[4]

    def _synthetic_repository(self, account, region, name):
        registry = self.synthetic.get((account, region))
        return registry if registry is not None and name in registry.images else None

    def synthetic_tags(self, request):
        """ListTagsForResource of a repository of a synthetic registry: its
        `tags`, as ECR answers ({"tags": [{"Key", "Value"}]}); None for any
        other resource (moto answers)."""
        arn = str(request.get("resourceArn", ""))
        parts = arn.split(":", 5)
        if len(parts) != 6 or not parts[5].startswith("repository/"):
            return None
        registry = self.synthetic.get((parts[4], parts[3]))
        name = parts[5].removeprefix("repository/")
        if registry is None or name not in registry.repositories:
            return None
        return {"tags": registry.tags.get(name, [])}

    def synthetic_scan(self, handler, request):
        """For DescribeImageScanFindings of an image of a synthetic registry:
        (None, its scan answer), or (ECR's refusal, None) when the image is
        not there or was never scanned; (None, None) for any other image."""
        account, region = self.caller_registry(handler, request)
        name = request.get("repositoryName")
        registry = self._synthetic_repository(account, region, name)
        if registry is None:
            return None, None
        image_id = request.get("imageId") or {}
        detail = registry.find(name, image_id)
        if detail is None:
            return image_not_found(image_id, name, account), None
        full = self.overrides.get(detail["imageDigest"])
        if full is None:
            return error("ScanNotFoundException",
                         f"Image scan does not exist for the image with '{image_id_text(image_id)}' in the "
                         f"repository with name '{name}' in the registry with id '{account}'"), None
        return None, full

    def _token_offset(self, request, scope):
        """(offset, None) where the request's nextToken resumes, or (0, ECR's
        refusal) for a token this proxy did not issue for this listing."""
        token = request.get("nextToken")
        if not token:
            return 0, None
        data = self.tokens.read(token) if isinstance(token, str) else None
        if not data or any(data.get(k) != v for k, v in scope.items()) or not isinstance(data.get("offset"), int):
            return 0, error("InvalidParameterException", "Invalid NextToken")
        return data["offset"], None

    def _json(self, status, body):
        return status, JSON_HEADERS, json.dumps(body).encode()

    def describe_images(self, handler, request):
        """ECR's DescribeImages answer: (status, headers, body bytes)."""
        with self.lock:
            self.listing_calls["DescribeImages"] += 1
        refused = paging_problem(request, "imageIds")
        if refused is not None:
            return self._json(*refused)
        account, region = self.caller_registry(handler, request)
        name = request.get("repositoryName") or ""
        registry = self._synthetic_repository(account, region, name)
        wanted = request.get("filter") or {}
        tag_status, image_status = wanted.get("tagStatus", "ANY"), wanted.get("imageStatus", "ACTIVE")
        if tag_status not in TAG_STATUSES or image_status not in IMAGE_STATUSES:
            return self._json(*error("InvalidParameterException", f"Invalid filter {wanted!r}"))
        scope = {"op": "DescribeImages", "registry": f"{account}/{region}", "repository": name,
                 "filter": [tag_status, image_status]}
        offset, refused = self._token_offset(request, scope)
        if refused is not None:
            return self._json(*refused)
        ids = request.get("imageIds")
        if registry is not None:
            refused, details = registry.describe(name, ids)
            if refused is not None:
                return self._json(*refused)
        else:
            upstream = {k: request[k] for k in ("registryId", "repositoryName", "imageIds") if k in request}
            status, headers, data = self.forward(handler, json.dumps(upstream).encode(), target=DESCRIBE_IMAGES)
            if status != 200:
                return status, headers, data
            details = json.loads(data).get("imageDetails") or []
            if ids:
                # moto answers a set; ECR, each image asked for once.
                details = [d for d in (next((d for d in details if matches(d, i or {})), None) for i in ids) if d]
                details = list({d["imageDigest"]: d for d in details}.values())
        with self.lock:
            overrides = dict(self.image_details)
        if ids is None:
            details = [d for d in details
                       if selected(merged(d, overrides.get(d.get("imageDigest"))), tag_status, image_status)]
            size = request.get("maxResults") or PAGE_DEFAULT
        else:
            size = len(details)
        chunk = details[offset:offset + size]
        page = {"imageDetails": [self._image_detail(handler, request, d, registry, overrides) for d in chunk]}
        if ids is None and offset + size < len(details):
            page["nextToken"] = self.tokens.issue(**scope, offset=offset + size)
        forced = any(d.get("imageDigest") in overrides for d in chunk)
        return self._json(*self.checked_listing("DescribeImages", page, request, registry is not None, forced))

    def _image_detail(self, handler, request, base, registry, overrides):
        """One image's detail: moto's (or the synthetic registry's), with
        its scan status and summary from the scan DescribeImageScanFindings
        serves for it (`overrides`, else moto's; as `age_scan` dates it), then
        the test's `image_details` for it."""
        detail = with_artifact_type(dict(base))
        digest = detail.get("imageDigest")
        answer = self.overrides.get(digest)
        if answer is None and registry is None:
            answer = self._moto_scan(handler, request, detail)
        detail.update(scan_members(self._aged_view(digest, answer), self.native_basic_scanning))
        return merged(detail, overrides.get(digest))

    def _moto_scan(self, handler, request, detail):
        """moto's DescribeImageScanFindings answer for the image, None when
        it has no scan (asked by digest, as the function asks)."""
        ask = {"repositoryName": detail.get("repositoryName") or request.get("repositoryName"),
               "imageId": {"imageDigest": detail["imageDigest"]}}
        if request.get("registryId"):
            ask["registryId"] = request["registryId"]
        status, _, data = self.forward(handler, json.dumps(ask).encode(), target=TARGET)
        return json.loads(data) if status == 200 else None

    def _aged_view(self, digest, answer):
        """The scan of an image `age_scan` dated back, as DescribeImages
        shows it (without counting as a read of its findings): the old scan;
        once a new one started, IN_PROGRESS beside the old summary; then the
        new scan."""
        with self.lock:
            aged = self.aged.get(digest)
            if aged is None or answer is None:
                return answer
            if aged["started"] and not aged.get("reads_in_progress", 0):
                rescanned_at = aged.setdefault("rescanned_at", int(time.time()))
            aged = dict(aged)
        if not aged["started"] or aged.get("reads_in_progress", 0) > 0:
            findings = {**(answer.get("imageScanFindings") or {}), "imageScanCompletedAt": aged["completed_at"]}
            old = {**answer, "imageScanFindings": findings}
            if not aged["started"]:
                return old
            return {**old, "imageScanStatus": {"status": "IN_PROGRESS", "description": "The scan is in progress."}}
        new = aged["rescan"] or answer
        return {**new, "imageScanFindings": {**(new.get("imageScanFindings") or {}),
                                             "imageScanCompletedAt": rescanned_at}}

    def describe_repositories(self, handler, request):
        """ECR's DescribeRepositories answer: (status, headers, body bytes)."""
        with self.lock:
            self.listing_calls["DescribeRepositories"] += 1
        refused = paging_problem(request, "repositoryNames")
        if refused is not None:
            return self._json(*refused)
        account, region = self.caller_registry(handler, request)
        registry = self.synthetic.get((account, region))
        scope = {"op": "DescribeRepositories", "registry": f"{account}/{region}"}
        offset, refused = self._token_offset(request, scope)
        if refused is not None:
            return self._json(*refused)
        names = request.get("repositoryNames")
        upstream = {"registryId": request["registryId"]} if "registryId" in request else {}
        synthetic = registry.repositories if registry is not None else {}
        if names is not None:
            rest = [n for n in names if n not in synthetic]
            found = {}
            if rest:
                status, headers, data = self.forward(handler, json.dumps({**upstream, "repositoryNames": rest}).encode(),
                                                     target=DESCRIBE_REPOSITORIES)
                if status != 200:
                    return status, headers, data
                found = {r["repositoryName"]: r for r in json.loads(data).get("repositories") or []}
            found.update({n: synthetic[n] for n in names if n in synthetic})
            repositories = [found[n] for n in dict.fromkeys(names) if n in found]
            size = len(repositories)
        else:
            status, headers, data = self.forward(handler, json.dumps(upstream).encode(), target=DESCRIBE_REPOSITORIES)
            if status != 200:
                return status, headers, data
            repositories = [r for r in json.loads(data).get("repositories") or [] if r["repositoryName"] not in synthetic]
            repositories += list(synthetic.values())
            size = request.get("maxResults") or PAGE_DEFAULT
        page = {"repositories": repositories[offset:offset + size]}
        if names is None and offset + size < len(repositories):
            page["nextToken"] = self.tokens.issue(**scope, offset=offset + size)
        return self._json(*self.checked_listing("DescribeRepositories", page, request, registry is not None, False))

    def checked_listing(self, operation, page, request, synthetic, forced):
        """The listing page, or ECR's kind of 500 naming how it breaks the
        ECR model (recorded in `contract_violations`). Pages of a synthetic
        registry are checked one in `check_every` (the first always), and
        always when they carry a test's `image_details`."""
        from .contract import check_ecr_listing_page

        if synthetic and not forced:
            with self.lock:
                n = self._synthetic_pages[operation]
                self._synthetic_pages[operation] = n + 1
                if self.check_every > 1 and n % self.check_every:
                    self.listing_pages_unchecked += 1
                    return 200, page
        violations = check_ecr_listing_page(operation, page, request)
        with self.lock:
            self.listing_pages_checked += 1
            self.contract_violations.extend(violations)
        if not violations:
            return 200, page
        return 500, {"__type": "ServerException",
                     "message": f"local stack served a {operation} page that breaks the ECR model: "
                                + "; ".join(violations[:5])}

    def failing_entries(self, body):
        """For a PublishBatch with entries to fail: (the request without
        them, renumbered, or None when none is left; their Ids)."""
        marker = self.fail_publish_containing
        if not marker or b"Action=PublishBatch" not in body:
            return None
        fields = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
        prefix = "PublishBatchRequestEntries.member."
        entries = {}
        for key, value in fields:
            if key.startswith(prefix):
                n, _, rest = key[len(prefix):].partition(".")
                entries.setdefault(int(n), []).append((rest, value))
        failed = {n for n, items in entries.items() if any(r == "Message" and marker in v for r, v in items)}
        if not failed:
            return None
        ids = [v for n in sorted(failed) for r, v in entries[n] if r == "Id"]
        kept = [n for n in sorted(entries) if n not in failed]
        if not kept:
            return None, ids
        rest = [(k, v) for k, v in fields if not k.startswith(prefix)]
        for new, old in enumerate(kept, start=1):
            rest += [(f"{prefix}{new}.{r}", v) for r, v in entries[old]]
        return urllib.parse.urlencode(rest).encode(), ids

    def wait_latency(self):
        delay = self.latency_ms + (random.uniform(0, self.jitter_ms) if self.jitter_ms else 0)
        if delay > 0:
            time.sleep(delay / 1000)

    def unhang(self):
        self.hang = False
        self.released.set()
        self.released = threading.Event()

    def refused_assume_role(self, body):
        """STS's AccessDenied answer when `role_check` rejects the role an
        AssumeRole request names; else None."""
        if self.role_check is None or b"Action=AssumeRole" not in body:
            return None
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        if form.get("Action") != ["AssumeRole"]:
            return None
        role_arn = (form.get("RoleArn") or [""])[0]
        if self.role_check(role_arn):
            return None
        message = f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        return (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error>"
            "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        ).encode()

    def forward(self, handler, body, target=None):
        """The request to moto (with the client's headers, so moto sees the
        same account and region); `target`: as another ECR operation, with
        `body` its JSON request."""
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        dropped = ("host", "content-length", "connection") + (("x-amz-target", "content-type") if target else ())
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in dropped}
        headers["Host"] = f"127.0.0.1:{self.upstream_port}"
        if target:
            headers.update({"X-Amz-Target": target, **JSON_HEADERS})
        conn.request("POST" if target else handler.command, "/" if target else handler.path, body=body,
                     headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        result = resp.status, dict(resp.getheaders()), data
        conn.close()
        return result

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
