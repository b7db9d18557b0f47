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
Every DescribeImageScanFindings page it serves is checked against the ECR
service model of the pinned botocore (harness/contract.py), and every
Inspector ListFindings answer against the inspector2 model: an answer that
breaks the contract is answered with an error naming what is wrong.
"""

import base64
import http.client
import json
import os
import random
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET = "AmazonEC2ContainerRegistry_V20150921.DescribeImageScanFindings"
START_SCAN = "AmazonEC2ContainerRegistry_V20150921.StartImageScan"
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
                if target == TARGET:
                    with proxy.lock:
                        proxy.describe_calls += 1
                    request = json.loads(body or b"{}")
                    digest = (request.get("imageId") or {}).get("imageDigest")
                    full = proxy.overrides.get(digest)
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

    def forward(self, handler, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        headers["Host"] = f"127.0.0.1:{self.upstream_port}"
        conn.request(handler.command, handler.path, body=body, headers=headers)
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
