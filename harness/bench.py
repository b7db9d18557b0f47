"""`make bench`: how fast and how lean the function is, as one table.

Runs the release binary on this machine against the local stack: moto
server behind the paging proxy (which pages like ECR), the proxy behind TLS
with a throwaway CA, and the function under cargo-lambda's Runtime API
emulator. The function trusts the system's whole CA bundle with the local
CA appended (SSL_CERT_FILE), so that it parses as many certificates as on
Lambda, where it loads the system bundle. Measures:

- the stripped binary's size;
- cold init: from just before the process is spawned to the moment its
  first GET .../runtime/invocation/next reaches a minimal stand-in for the
  Runtime API (the point where Lambda considers init done);
- the first invocation of a fresh process against a warm one (same event),
  as Lambda's Duration (through the stand-in) and as the invoker waits
  (through the emulator);
- the cold path: a fresh process handed one small event (10 basic findings)
  while it starts, from spawn to the alert published (its response), CPU
  and wall, beside the same for a Python 3.11 + boto3 handler doing the same
  work under the AWS Lambda Python runtime interface client
  (harness/baseline_handler.py, awslambdaric), against the same endpoint;
  then the same for one image with 10,000 basic findings (ten pages); and
  the Lambda cost of a million scan events for both;
- one event with 100 / 1,000 / 10,000 / 50,000 enhanced findings, each in a
  fresh process: wall time of the invocation, the process's own CPU time
  (during the invocation, and over its whole life from wait4) and its peak
  RSS (VmHWM);
- a wave of finding events (continuous scanning after a new CVE): one SQS
  batch of 1,000 `Inspector2 Finding` events over 500 images (two new CVEs
  each, none shared) to the findings function, alert and chat topics set,
  with the proxy adding 0 and then 20 ms before every answer (AWS's own
  latency), one image at a time (`BATCH_CONCURRENCY=1`, the path before
  images waited side by side) and at the default concurrency, each in a
  fresh process: wall time, the time the latency adds (wall at 20 ms minus
  wall at 0 ms), CPU per 1,000 events and peak RSS;
- the medians of the Criterion benchmarks (benches/pipeline.rs), read from
  target/criterion, when they have been run.

Then prints the table with the issue's targets next to each figure.
Timing is never pass/fail here: the exit code only says the run worked.
BENCH_COLD_STARTS changes the number of cold starts (default 15).
"""

import argparse
import json
import math
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .local import ACCOUNT, AWS_ENV, FUNCTION_NAME, REGION, ROOT, VENV_BIN, Process, free_port, port_open, wait_until
from .local_tls import make_local_ca, serve_tls
from .paging_proxy import PagingProxy
from .seed import basic_finding, enhanced_finding, ensure_repository, finding_event, push_image, scan_result, sqs_batch

SIZES = (100, 1_000, 10_000, 50_000)
COLD_STARTS = int(os.environ.get("BENCH_COLD_STARTS", "15"))
FRESH_PROCESSES = 5
WARM_INVOCATIONS = 5
# A large base image has hundreds of packages, not one per finding.
PACKAGES = 800
# How long a fresh process under the emulator is given to finish init
# before it is invoked (init takes tens of milliseconds).
SETTLE_SECONDS = 1.0
BETWEEN_INVOCATIONS = 0.2
WORK = ROOT / ".local" / "bench"

# The targets (docs/performance.md).
TARGET_BINARY_MB = 10.0
TARGET_INIT_MS = 20.0
TARGET_FIRST_RATIO = 1.2
TARGET_RSS_MB = 20.0
# "Flat": peak RSS at 50,000 findings at most this much above 1,000.
FLAT_GROWTH = 0.10
TARGET_CPU_MS_PER_10K = 10.0
# Process start -> first alert published, over TLS, one small event.
TARGET_COLD_CPU_MS = 15.0
TARGET_COLD_RATIO = 15.0
# One image with 10,000 basic findings (ten pages), end to end, fresh process.
TARGET_E2E_CPU_MS = 20.0
TARGET_E2E_RATIO = 12.0
# The same with half the findings at or above the threshold (alerted, listed).
TARGET_HEAVY_CPU_MS = 25.0
COLD_PATH_RUNS = int(os.environ.get("BENCH_COLD_PATHS", "9"))
# Fresh processes per large scan size (medians).
LARGE_SCAN_RUNS = 3
SMALL_SCAN = 10
BASIC_10K = 10_000

# Lambda's price, US East (N. Virginia), arm64 (aws.amazon.com/lambda/pricing):
# per GB-second of billed duration, and per request. Billed duration is the
# duration rounded up to the millisecond, with the init phase of a cold start
# added (billed for every runtime since August 2025).
PRICE_GB_SECOND_ARM64 = 0.0000133334
PRICE_PER_REQUEST = 0.20 / 1_000_000
# Scan events come a few at a time as images are pushed, minutes apart: most
# find no warm execution environment. The figure assumes half are cold starts.
COLD_START_RATE = 0.5
MEMORY_MB = 256  # template.yaml, Globals: MemorySize

def severity(i):
    """2% critical, 10% high, 38% medium, 40% low, 10% untriaged (as in benches/)."""
    r = i % 100
    return "CRITICAL" if r < 2 else "HIGH" if r < 12 else "MEDIUM" if r < 50 else "LOW" if r < 90 else "UNTRIAGED"


def severity_heavy(i):
    """Half at or above HIGH: 10% critical, 40% high, 30% medium, 20% low."""
    r = i % 100
    return "CRITICAL" if r < 10 else "HIGH" if r < 50 else "MEDIUM" if r < 80 else "LOW"


def realistic_description(i):
    """A description of the length basic scanning gives (the AWS CLI
    reference's describe-image-scan-findings example: about 200 characters
    from the Debian security tracker), different per finding."""
    return (f"In the GNU C Library (aka glibc or libc6) through 2.{i % 40}, check_dst_limits_calc_pos_1 in "
            f"posix/regexec.c has Uncontrolled Recursion, as demonstrated by '(|)(\\1\\1)*' in grep, "
            f"a different issue than CVE-2018-{20000 + i % 1000}.")


def findings(n):
    return [
        enhanced_finding(f"CVE-2026-{i:05d}", severity(i), package=f"pkg{i % PACKAGES}", version=f"1.{i % 7}.0",
                         fixed_in=f"1.{i % 7}.1" if i % 3 else None, score=(i % 100) / 10)
        for i in range(n)
    ]


# -- the function process ----------------------------------------------------

class FunctionProcess:
    """The function binary in its own process group. `stop` reaps it with
    wait4, which gives its CPU time (all threads, whole life)."""

    def __init__(self, argv, env, log_path, cwd=None):
        self.log = open(log_path, "wb")
        self.log_path = log_path
        self.started = time.monotonic()
        self.proc = subprocess.Popen([str(a) for a in argv], env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=cwd)
        self.cpu_seconds = None

    def peak_rss_kb(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc status")

    def alive(self):
        return self.proc.poll() is None

    def cpu_now(self):
        """CPU time (user + sys) of the live process so far, in seconds, to
        the nanosecond: the sum over its threads of the time each has spent
        on a CPU. (Threads that already ended are missing: measure across a
        stretch in which none ends, such as one invocation.)"""
        total = 0
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                continue
        return total / 1e9

    def stop(self):
        if self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status, usage = os.wait4(self.proc.pid, 0)
            self.proc.returncode = status
            self.cpu_seconds = usage.ru_utime + usage.ru_stime
        self.log.close()
        return self.cpu_seconds


def quiet(server):
    """Connections of a function process that was stopped end with a reset:
    expected here, so not printed."""
    default = server.handle_error

    def handle_error(request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            default(request, client_address)

    server.handle_error = handle_error
    return server


class RuntimeStub:
    """The smallest stand-in for the Lambda Runtime API. It notes when the
    function first asks for an event (GET .../runtime/invocation/next), holds
    that request open until an event is queued (as the real API does), and
    timestamps when it hands an event over and when the response comes
    back: Lambda's own "Duration". Unlike the emulator it sends each answer
    in one write with Nagle's algorithm off, so no delayed-ACK stall on the
    emulator's side is counted as the function's time."""

    def __init__(self):
        self.arrived = threading.Event()
        self.first_next = None
        self.events = queue.Queue()
        self.results = queue.Queue()
        self.closed = False
        self.trace = []
        self.token = "p0"
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"", headers=()):
                head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *headers, "", ""]
                self.wfile.write("\r\n".join(head).encode() + body)

            def _current(self):
                """Whether the request comes from the process started last:
                one still in flight from a process already stopped must not
                take its events (each process has its own path prefix)."""
                return self.path.startswith(f"/.rt/{stub.token}/")

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next") or not self._current():
                    self.close_connection = True
                    return
                now = time.monotonic()
                events = stub.events
                if stub.first_next is None:
                    stub.first_next = now
                stub.arrived.set()
                while True:
                    try:
                        request_id, payload = events.get(timeout=0.2)
                        break
                    except queue.Empty:
                        if stub.closed or stub.events is not events:
                            self.close_connection = True
                            return
                deadline = int(time.time() * 1000) + 900_000
                headers = [f"Lambda-Runtime-Aws-Request-Id: {request_id}", f"Lambda-Runtime-Deadline-Ms: {deadline}",
                           f"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
                           f"{FUNCTION_NAME}", "Content-Type: application/json"]
                stub.trace.append(("delivered", request_id, time.monotonic()))
                stub.results.put(("delivered", request_id, time.monotonic(), None))
                self._reply(200, json.dumps(payload).encode(), headers)

            def do_POST(self):
                now = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.rstrip("/").split("/")
                stub.trace.append(("POST", self.path, now))
                if self._current():
                    stub.results.put((parts[-1], parts[-2], now, body))
                self._reply(202)

        self.server = quiet(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def expect(self):
        """Forgets the previous function process; returns the Runtime API
        address for the next one."""
        self.token = f"p{int(self.token[1:]) + 1}"
        self.events = queue.Queue()
        self.results = queue.Queue()
        self.arrived.clear()
        self.first_next = None
        return f"http://127.0.0.1:{self.port}/.rt/{self.token}"

    def invoke(self, payload, timeout=300):
        """Hands one event to the function; returns (duration s, ok, result)."""
        request_id = f"bench-{time.monotonic_ns()}"
        self.events.put((request_id, payload))
        delivered = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                kind, rid, at, body = self.results.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if rid != request_id:
                continue
            if kind == "delivered":
                delivered = at
                continue
            result = json.loads(body or b"null")
            self.last_answered = at
            return at - delivered, kind == "response", result
        raise RuntimeError(f"the function did not answer in {timeout} s (asked for an event: "
                           f"{self.arrived.is_set()}, events still queued: {self.events.qsize()}; "
                           f"last Runtime API calls: {self.trace[-4:]})")

    def stop(self):
        self.closed = True
        self.server.shutdown()
        self.server.server_close()


# The system's CA bundle (Debian's; Amazon Linux 2023, Lambda's provided.al2023,
# has /etc/pki/tls/certs/ca-bundle.crt).
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def trust_bundle(local_ca, path):
    """The system's CA bundle with the local CA appended, written to `path`:
    what the function parses at init on Lambda, plus what it needs here."""
    system = next((Path(b) for b in SYSTEM_BUNDLES if Path(b).exists()), None)
    if system is None:
        sys.exit("no system CA bundle found (" + ", ".join(SYSTEM_BUNDLES) + "): apt-get install ca-certificates")
    path.write_text(system.read_text() + "\n" + Path(local_ca).read_text())
    return path


# -- the stack ---------------------------------------------------------------

class BenchStack:
    """moto + the paging proxy behind TLS + cargo-lambda's emulator."""

    def __init__(self, binary):
        self.binary = Path(binary)
        self.logs = WORK / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.moto = self.proxy = self.emulator = None
        self.stub = None
        self.ca, self.cert, self.key = make_local_ca(WORK / "tls")
        self.trust = trust_bundle(self.ca, WORK / "tls" / "system-and-local.pem")

    def start(self):
        moto_port = free_port()
        self.moto_url = f"http://127.0.0.1:{moto_port}"
        self.moto = Process("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
                            self.logs, env={**os.environ, **AWS_ENV})
        wait_until(lambda: urllib.request.urlopen(f"{self.moto_url}/moto-api/", timeout=2).status == 200,
                   "moto server")
        self.proxy = PagingProxy(moto_port)
        # The proxy writes a response's headers and body separately: with
        # Nagle's algorithm on, the body waits for the client's delayed ACK
        # (40 ms a request on Linux), which would swamp what is measured.
        self.proxy.server.RequestHandlerClass.disable_nagle_algorithm = True
        quiet(self.proxy.server)
        serve_tls(self.proxy.server, self.cert, self.key)
        self.proxy.start()
        self.endpoint = f"https://127.0.0.1:{self.proxy.port}"
        self.runtime_port = free_port()
        self.emulator = Process(
            "runtime-emulator",
            [str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "--only-lambda-apis",
             "-A", "127.0.0.1", "-P", str(self.runtime_port)],
            self.logs, env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"},
        )
        wait_until(lambda: port_open(self.runtime_port), "cargo-lambda runtime emulator")
        self.stub = RuntimeStub()
        self.topic_arn = self.client("sns").create_topic(Name="bench-alerts")["TopicArn"]
        self.chat_topic_arn = self.client("sns").create_topic(Name="bench-chat")["TopicArn"]
        return self

    def stop(self):
        for part in (self.emulator, self.moto):
            if part is not None:
                part.stop()
        if self.proxy is not None:
            self.proxy.stop()
        if self.stub is not None:
            self.stub.stop()

    def client(self, service):
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, verify=str(self.ca),
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    @property
    def emulator_api(self):
        return f"http://127.0.0.1:{self.runtime_port}/.rt/{FUNCTION_NAME}"

    def env(self, runtime_api):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **AWS_ENV,
            "AWS_ENDPOINT_URL": self.endpoint,
            "SSL_CERT_FILE": str(self.trust),
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "_HANDLER": "scan-events",
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO",
            "ALERT_TOPIC_ARN": self.topic_arn,
            "SEVERITY_THRESHOLD": "HIGH",
        }
        return env

    def spawn(self, name, runtime_api):
        return FunctionProcess([self.binary], self.env(runtime_api), self.logs / f"{name}.log")

    def spawn_python(self, name, runtime_api):
        """The Python comparator (harness/baseline_handler.py) under the AWS
        Lambda Python runtime interface client, as the python3.x runtimes run
        a handler."""
        env = {**self.env(runtime_api), "AWS_CA_BUNDLE": str(self.trust), "PYTHONPATH": str(ROOT),
               # awslambdaric takes host:port[/path], without the scheme.
               "AWS_LAMBDA_RUNTIME_API": runtime_api.removeprefix("http://")}
        env.pop("_HANDLER", None)
        return FunctionProcess([VENV_BIN / "python", "-m", "awslambdaric", "harness.baseline_handler.handler"],
                               env, self.logs / f"{name}.log", cwd=ROOT)

    def basic_image(self, n, heavy=False):
        """An image whose basic scan has n findings (1,000 a page), and its
        scan event: 12 % at or above HIGH, or with `heavy` half of them."""
        repository = f"bench/basic{n}{'-heavy' if heavy else ''}"
        ecr = self.client("ecr")
        ensure_repository(ecr, repository)
        digest = push_image(ecr, repository, "v1", seed=f"bench-basic-{n}-{heavy}")
        pick = severity_heavy if heavy else severity
        findings = [basic_finding(f"CVE-2026-{i:05d}", pick(i) if pick(i) != "UNTRIAGED" else "UNDEFINED",
                                  package=f"pkg{i % PACKAGES}", version=f"1.{i % 7}.0",
                                  description=realistic_description(i)) for i in range(n)]
        self.proxy.overrides[digest] = scan_result(repository, digest, status="COMPLETE", basic=findings)
        return basic_event(repository, digest)

    def image(self, n):
        """An image whose enhanced scan has n findings. The findings are
        served by the paging proxy from memory (its `overrides`): moto
        itself does not page and would re-send all n for every page."""
        repository = f"bench/n{n}"
        ecr = self.client("ecr")
        ensure_repository(ecr, repository)
        digest = push_image(ecr, repository, "v1", seed=f"bench-{n}")
        self.proxy.overrides[digest] = scan_result(repository, digest, status="ACTIVE", enhanced=findings(n))
        return event(repository, digest)

    def invoke(self, payload, timeout=300):
        """Invokes through the emulator as Lambda would; returns (seconds, ok, result)."""
        url = f"http://127.0.0.1:{self.runtime_port}/2015-03-31/functions/{FUNCTION_NAME}/invocations"
        req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                body = resp.read()
                ok = True
        except urllib.error.HTTPError as err:
            body, ok = err.read(), False
        took = time.monotonic() - started
        try:
            result = json.loads(body or b"null")
        except ValueError:
            result = body.decode(errors="replace")
        return took, ok, result


def basic_event(repository, digest):
    """A basic scan's event (events/basic-scan-complete.json, pointed at the image)."""
    payload = json.loads((ROOT / "events" / "basic-scan-complete.json").read_text())
    payload["detail"]["repository-name"] = repository
    payload["detail"]["image-digest"] = digest
    payload["resources"] = [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"]
    return payload


def event(repository, digest):
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"
    return {
        "version": "0", "id": f"bench-{repository}", "detail-type": "Inspector2 Scan",
        "source": "aws.inspector2", "account": ACCOUNT, "time": "2026-01-01T00:00:00Z", "region": REGION,
        "resources": [arn],
        "detail": {"scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": arn, "image-digest": digest,
                   "image-tags": ["v1"], "finding-severity-counts": {}},
    }


# -- measurements ------------------------------------------------------------

def cold_inits(stack):
    """COLD_STARTS starts; returns (init seconds, init CPU seconds)."""
    inits, cpus = [], []
    for i in range(COLD_STARTS):
        api = stack.stub.expect()
        fn = stack.spawn(f"cold-{i}", api)
        try:
            if not stack.stub.arrived.wait(15):
                raise RuntimeError(f"the function never asked for an event; see {fn.log_path}")
            inits.append(stack.stub.first_next - fn.started)
        finally:
            cpus.append(fn.stop())
    return inits, cpus


def first_and_warm(stack, payload, via_stub):
    """The first invocation of FRESH_PROCESSES fresh processes, then
    WARM_INVOCATIONS more of the last one; returns (firsts, warms) in
    seconds. Through the stand-in (`via_stub`) the event is queued before
    the process starts, as on a cold start, and the figure is the function's
    Duration; through cargo-lambda's emulator it is what the invoker waits,
    the process having had SETTLE_SECONDS to finish init."""
    firsts, warms = [], []
    kind = "stub" if via_stub else "emulator"
    for i in range(FRESH_PROCESSES):
        if via_stub:
            api, invoke = stack.stub.expect(), stack.stub.invoke
        else:
            api, invoke = stack.emulator_api, stack.invoke
        fn = stack.spawn(f"first-{kind}-{i}", api)
        try:
            if not via_stub:
                time.sleep(SETTLE_SECONDS)
            took, ok, result = invoke(payload)
            check(ok, result, fn)
            firsts.append(took)
            if i == FRESH_PROCESSES - 1:
                for _ in range(WARM_INVOCATIONS):
                    # Arrive while the function waits for work, as an event
                    # does: back to back, the runtime's next GET /next can
                    # wait ~40 ms on a delayed ACK (its client leaves
                    # Nagle's algorithm on), which is not the function's work.
                    time.sleep(BETWEEN_INVOCATIONS)
                    took, ok, result = invoke(payload)
                    check(ok, result, fn)
                    warms.append(took)
        finally:
            fn.stop()
    return firsts, warms


def cold_paths(stack, spawn, payload, runs, label):
    """`runs` fresh processes, each handed `payload` as its first event
    while it starts (as on a cold start): per run, the wall time from spawn
    to the response and the process's CPU time (user + sys, all threads,
    from wait4) up to then. Then WARM_INVOCATIONS more of the last process:
    their Durations. Returns (walls, cpus, warms) in seconds."""
    walls, cpus, warms = [], [], []
    for i in range(runs):
        api = stack.stub.expect()
        fn = spawn(f"cold-path-{label}-{i}", api)
        try:
            _, ok, result = stack.stub.invoke(payload, timeout=120)
            check(ok, result, fn)
            walls.append(stack.stub.last_answered - fn.started)
            if i == runs - 1:
                for _ in range(WARM_INVOCATIONS):
                    time.sleep(BETWEEN_INVOCATIONS)
                    took, ok, result = stack.stub.invoke(payload, timeout=120)
                    check(ok, result, fn)
                    warms.append(took)
                # Idle now (waiting for the next event): its CPU time so far
                # is the cold path's plus the warm calls'.
        finally:
            cpu = fn.stop()
        if i < runs - 1 or not warms:
            cpus.append(cpu)
    return walls, cpus, warms


def basic_10k_rows(stack, python=True):
    """One image with 10,000 basic findings, 12 % at or above the threshold
    (HIGH), and one with half: fresh processes, start -> alert published.
    The last process of each also answers warm calls: its CPU is not a cold
    path's, and is left out (6 processes, 5 figures)."""
    med = statistics.median
    rust_spawn = lambda name, api: stack.spawn(name, api)  # noqa: E731
    large_basic = stack.basic_image(BASIC_10K)
    heavy_basic = stack.basic_image(BASIC_10K, heavy=True)
    rows = []
    print("bench: 10,000 basic findings, the function" + (" and the Python baseline" if python else ""),
          file=sys.stderr)
    r10_walls, r10_cpus, _ = cold_paths(stack, rust_spawn, large_basic, 6, "rust-10k")
    r10 = med(r10_cpus)
    rows.append((f"{BASIC_10K:,} basic findings (12 % HIGH or CRITICAL), 10 pages over TLS, fresh process, "
                 f"start -> alert published (median of {len(r10_cpus)}): CPU user + sys",
                 ms(r10), f"<= {TARGET_E2E_CPU_MS:.0f} ms", verdict(r10 * 1000, TARGET_E2E_CPU_MS, "ms")))
    if python:
        p10_walls, p10_cpus, _ = cold_paths(stack, stack.spawn_python, large_basic, 4, "python-10k")
        p10 = med(p10_cpus)
        rows.append((f"Same, Python baseline (median of {len(p10_cpus)}): CPU, and how many times the function's",
                     f"{ms(p10)} = {p10 / r10:.1f}x", f">= {TARGET_E2E_RATIO:.0f}x",
                     "met" if p10 / r10 >= TARGET_E2E_RATIO else f"MISSED by {TARGET_E2E_RATIO - p10 / r10:.1f} x"))
        rows.append(("Same, wall time: function / Python", f"{ms(med(r10_walls))} / {ms(med(p10_walls))}", "", ""))
    h_walls, h_cpus, _ = cold_paths(stack, rust_spawn, heavy_basic, 6, "rust-10k-heavy")
    heavy = med(h_cpus)
    rows.append((f"{BASIC_10K:,} basic findings, half HIGH or CRITICAL, same way (median of {len(h_cpus)}): "
                 "CPU user + sys / wall",
                 f"{ms(heavy)} / {ms(med(h_walls))}", f"<= {TARGET_HEAVY_CPU_MS:.0f} ms",
                 verdict(heavy * 1000, TARGET_HEAVY_CPU_MS, "ms")))
    return rows


def finish(rows, started):
    """Prints the table and keeps it in .local/bench/table.md."""
    table = ["| Figure | Measured | Target | Result |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    text = "\n".join(table)
    (WORK / "table.md").write_text(text + "\n")
    print(text)
    print(f"\n(end-to-end part took {time.monotonic() - started:.0f} s; table also in .local/bench/table.md)",
          file=sys.stderr)
    return 0


def cost_per_million(cold_s, warm_s):
    """Lambda's charge for a million scan events at COLD_START_RATE."""
    billed_ms = COLD_START_RATE * math.ceil(cold_s * 1000) + (1 - COLD_START_RATE) * math.ceil(warm_s * 1000)
    gb_seconds = MEMORY_MB / 1024 * billed_ms / 1000
    return 1_000_000 * (gb_seconds * PRICE_GB_SECOND_ARM64 + PRICE_PER_REQUEST)


def wave_cost_per_million(batch_wall_s):
    """Lambda's charge for a million finding events in batches of
    WAVE_EVENTS, each billed its wall time."""
    batches = 1_000_000 / WAVE_EVENTS
    gb_seconds = MEMORY_MB / 1024 * math.ceil(batch_wall_s * 1000) / 1000
    return batches * (gb_seconds * PRICE_GB_SECOND_ARM64 + PRICE_PER_REQUEST)


def one_scan(stack, n, payload):
    """One event with n findings in a fresh process: (wall s, CPU of the
    invocation s, CPU of the whole process s, peak RSS kB, pages)."""
    fn = stack.spawn(f"scan-{n}", stack.emulator_api)
    try:
        time.sleep(SETTLE_SECONDS)
        before = fn.cpu_now()
        took, ok, result = stack.invoke(payload)
        check(ok, result, fn)
        invocation_cpu = fn.cpu_now() - before
        rss = fn.peak_rss_kb()
    finally:
        cpu = fn.stop()
    return took, invocation_cpu, cpu, rss, result.get("pages")


# The wave: events, images, the latency AWS adds, the concurrencies compared.
WAVE_EVENTS = 1_000
WAVE_IMAGES = 500
WAVE_LATENCY_MS = 20.0
WAVE_CONCURRENCIES = (1, 50)
TARGET_WAVE_EXPOSED_S = 1.0
TARGET_WAVE_CPU_MS = 300.0
TARGET_WAVE_RSS_MB = 64.0


def wave_batch():
    """1,000 rescan finding events over 500 images: two new CVEs each, none
    shared (no CVE storm)."""
    events = []
    for i in range(WAVE_EVENTS):
        image = i % WAVE_IMAGES
        events.append(finding_event(f"wave/svc-{image % 50:02d}", f"sha256:{image:064x}",
                                    f"CVE-2026-{70000 + i}", "HIGH", package=f"lib{i}", time_form="inspector-guide"))
    return sqs_batch(events)


def wave(stack, payload, concurrency, latency_ms):
    """The batch in a fresh findings function: (wall s, CPU of the invocation
    s, peak RSS kB, alerts published)."""
    stack.proxy.latency_ms = latency_ms
    fn = FunctionProcess([stack.binary], {**stack.env(stack.emulator_api), "_HANDLER": "finding-batches",
                                          "CHAT_TOPIC_ARN": stack.chat_topic_arn,
                                          "BATCH_CONCURRENCY": str(concurrency), "METRICS": "false"},
                         stack.logs / f"wave-{concurrency}-{latency_ms:.0f}.log")
    try:
        time.sleep(SETTLE_SECONDS)
        before = fn.cpu_now()
        took, ok, result = stack.invoke(payload, timeout=600)
        cpu = fn.cpu_now() - before
        rss = fn.peak_rss_kb()
    finally:
        fn.stop()
        stack.proxy.latency_ms = 0.0
    if not ok or not isinstance(result, dict) or result.get("batchItemFailures"):
        tail = "\n".join(Path(fn.log_path).read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"wave: unexpected result {str(result)[:500]}\n--- function log ---\n{tail}")
    return took, cpu, rss


def check(ok, result, fn):
    if not ok or not isinstance(result, dict) or result.get("outcome") != "alerted":
        tail = "\n".join(Path(fn.log_path).read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"unexpected result {result!r}\n--- function log ---\n{tail}")


def criterion_medians(criterion_dir):
    """{(group, n): median ns} from Criterion's estimates, where present."""
    medians = {}
    for group in ("map_enhanced", "map_basic", "policy_tally", "render"):
        for n in SIZES:
            path = Path(criterion_dir) / group / str(n) / "new" / "estimates.json"
            if path.exists():
                medians[(group, n)] = json.loads(path.read_text())["median"]["point_estimate"]
    path = Path(criterion_dir) / "tap_basic_page" / "1000" / "new" / "estimates.json"
    if path.exists():
        medians[("tap_basic_page", 1000)] = json.loads(path.read_text())["median"]["point_estimate"]
    return medians


def is_stripped(binary):
    return b".symtab" not in Path(binary).read_bytes()


# -- the table ---------------------------------------------------------------

def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def mb(kb):
    return f"{kb / 1024:.1f} MB"


def duration_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.0f} µs"


def verdict(value, limit, unit, fmt="{:.1f}"):
    if value <= limit:
        return "met"
    over = value - limit
    return f"MISSED by {fmt.format(over)} {unit} (+{over / limit:.0%})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "ecr-scan-alerts"))
    parser.add_argument("--criterion", default=str(ROOT / "target" / "criterion"))
    parser.add_argument("--only", choices=("basic10k", "cold"),
                        help="only the 10,000 basic findings rows, or only the cold init and cold path rows "
                             "(the function; no Python baseline)")
    args = parser.parse_args()
    binary = Path(args.binary)
    if not binary.exists():
        sys.exit(f"{binary} not found: build it first (cargo build --release)")

    rows = []
    size = binary.stat().st_size
    size_mb = size / 1e6
    rows.append(("Binary size (release, " + ("stripped" if is_stripped(binary) else "NOT stripped") + ")",
                 f"{size_mb:.1f} MB ({size:,} bytes)", f"<= {TARGET_BINARY_MB:.0f} MB",
                 verdict(size_mb, TARGET_BINARY_MB, "MB")))
    # The digest's own binary (the report, organisation and queue clients):
    # it runs once a schedule, so its size is shown, with the same ceiling.
    digest = binary.with_name("ecr-scan-digest")
    if digest.exists():
        size = digest.stat().st_size
        rows.append(("Digest binary size (release, " + ("stripped" if is_stripped(digest) else "NOT stripped") + ")",
                     f"{size / 1e6:.1f} MB ({size:,} bytes)", f"<= {TARGET_BINARY_MB:.0f} MB",
                     verdict(size / 1e6, TARGET_BINARY_MB, "MB")))

    stack = BenchStack(binary)
    started = time.monotonic()
    try:
        stack.start()
        print("bench: local stack up; measuring cold starts", file=sys.stderr)
        plain, plain_cpu = cold_inits(stack)
        init = statistics.median(plain)
        rows.append((f"Cold init: spawn -> first GET /next, config + clients (median of {COLD_STARTS}): wall / CPU",
                     f"{ms(init)} / {ms(statistics.median(plain_cpu))}", f"<= {TARGET_INIT_MS:.0f} ms",
                     verdict(init * 1000, TARGET_INIT_MS, "ms")))

        if args.only == "basic10k":
            rows += basic_10k_rows(stack, python=False)
            return finish(rows, started)
        if args.only == "cold":
            walls, cpus, warms = cold_paths(stack, lambda name, api: stack.spawn(name, api),
                                            stack.basic_image(SMALL_SCAN), COLD_PATH_RUNS, "rust")
            rows.append((f"Cold path over TLS ({SMALL_SCAN} basic findings; median of {len(cpus)}): CPU / wall; "
                         "warm Duration", f"{ms(statistics.median(cpus))} / {ms(statistics.median(walls))}; "
                         f"{ms(statistics.median(warms))}", f"<= {TARGET_COLD_CPU_MS:.0f} ms",
                         verdict(statistics.median(cpus) * 1000, TARGET_COLD_CPU_MS, "ms")))
            return finish(rows, started)
        print("bench: seeding images", file=sys.stderr)
        events = {n: stack.image(n) for n in SIZES}
        small_basic = stack.basic_image(SMALL_SCAN)

        print("bench: cold paths, the function and the Python baseline", file=sys.stderr)
        med = statistics.median
        rust_spawn = lambda name, api: stack.spawn(name, api)  # noqa: E731
        r_walls, r_cpus, r_warms = cold_paths(stack, rust_spawn, small_basic, COLD_PATH_RUNS, "rust")
        p_walls, p_cpus, p_warms = cold_paths(stack, stack.spawn_python, small_basic, max(3, COLD_PATH_RUNS // 3),
                                              "python")
        r_cpu, p_cpu = med(r_cpus), med(p_cpus)
        rows.append((f"Cold path over TLS, process start -> first alert published ({SMALL_SCAN} basic findings; "
                     f"median of {len(r_cpus)} fresh processes): CPU user + sys",
                     ms(r_cpu), f"<= {TARGET_COLD_CPU_MS:.0f} ms", verdict(r_cpu * 1000, TARGET_COLD_CPU_MS, "ms")))
        rows.append((f"Same, Python 3.11 + boto3 under awslambdaric (harness/baseline_handler.py; median of "
                     f"{len(p_cpus)}): CPU, and how many times the function's",
                     f"{ms(p_cpu)} = {p_cpu / r_cpu:.1f}x", f">= {TARGET_COLD_RATIO:.0f}x",
                     "met" if p_cpu / r_cpu >= TARGET_COLD_RATIO else
                     f"MISSED by {TARGET_COLD_RATIO - p_cpu / r_cpu:.1f} x"))
        rows.append(("Cold path wall time, start -> alert published: function / Python",
                     f"{ms(med(r_walls))} / {ms(med(p_walls))}", "", ""))
        rows.append(("Warm invocation of the same event, Duration: function / Python",
                     f"{ms(med(r_warms))} / {ms(med(p_warms))}", "", ""))
        r_cost, p_cost = cost_per_million(med(r_walls), med(r_warms)), cost_per_million(med(p_walls), med(p_warms))
        rows.append((f"Lambda cost of 1,000,000 scan events, arm64, {MEMORY_MB} MB, {COLD_START_RATE:.0%} cold "
                     "starts (billed duration = the wall times above, init included): function / Python",
                     f"${r_cost:.2f} / ${p_cost:.2f}", "", ""))

        rows += basic_10k_rows(stack)

        print("bench: first and warm invocations", file=sys.stderr)
        small = events[SIZES[0]]
        firsts, warms = first_and_warm(stack, small, via_stub=True)
        firsts_emu, warms_emu = first_and_warm(stack, small, via_stub=False)
        first, warm = med(firsts), med(warms)
        rows.append((f"First invocation (opens the connections): Duration, event handed over -> response "
                     f"({SIZES[0]} findings; median of {FRESH_PROCESSES} fresh processes)",
                     f"{ms(first)} = {first / warm:.2f}x warm", f"<= {TARGET_FIRST_RATIO:.1f}x warm",
                     verdict(first / warm, TARGET_FIRST_RATIO, "x", "{:.2f}")))
        rows.append((f"Warm invocation, same event: Duration (median of {WARM_INVOCATIONS})", ms(warm), "", ""))
        rows.append(("Through cargo-lambda's emulator, as the invoker waits: first / warm",
                     f"{ms(med(firsts_emu))} / {ms(med(warms_emu))}", "", ""))

        print("bench: large scans", file=sys.stderr)
        # Each size LARGE_SCAN_RUNS times, the sizes taken in turn, and the
        # median of each figure: peak RSS includes the binary's file pages,
        # which alone move by about 0.2 MB from one process to the next.
        runs = {n: [] for n in SIZES}
        for _ in range(LARGE_SCAN_RUNS):
            for n in SIZES:
                runs[n].append(one_scan(stack, n, events[n]))
        rss = {}
        for n in SIZES:
            took, cpu, process_cpu, peak = (med(r[i] for r in runs[n]) for i in range(4))
            pages = runs[n][0][4]
            rss[n] = peak
            rows.append((f"{n:,} enhanced findings, {pages} page{'s' if pages != 1 else ''}, fresh process "
                         f"(median of {LARGE_SCAN_RUNS}): "
                         "wall / CPU user + sys (whole process, init included) / peak RSS",
                         f"{ms(took)} / {ms(cpu)} ({ms(process_cpu)}) / {mb(peak)}",
                         f"RSS <= {TARGET_RSS_MB:.0f} MB", verdict(peak / 1024, TARGET_RSS_MB, "MB")))
        low, mid, high = rss[SIZES[1]], rss[SIZES[2]], rss[SIZES[-1]]
        growth = high / low - 1
        rows.append((f"Peak RSS growth {SIZES[1]:,} -> {SIZES[-1]:,} findings "
                     f"({SIZES[2]:,} -> {SIZES[-1]:,})",
                     f"{(high - low) / 1024:+.1f} MB, {growth:+.0%} ({(high - mid) / 1024:+.1f} MB, "
                     f"{high / mid - 1:+.0%})",
                     f"flat (<= +{FLAT_GROWTH:.0%})",
                     "met" if growth <= FLAT_GROWTH else f"MISSED by {growth - FLAT_GROWTH:.0%} points"))
        rows.append((f"Peak RSS at {SIZES[-1]:,} findings", mb(high), f"< {TARGET_RSS_MB:.0f} MB",
                     verdict(high / 1024, TARGET_RSS_MB, "MB")))

        print("bench: a wave of finding events", file=sys.stderr)
        payload = wave_batch()
        wave_costs = []
        for concurrency in WAVE_CONCURRENCIES:
            flat = wave(stack, payload, concurrency, 0.0)
            slow = wave(stack, payload, concurrency, WAVE_LATENCY_MS)
            exposed = slow[0] - flat[0]
            cpu_per_1000 = slow[1] * 1000 / WAVE_EVENTS
            label = "one image at a time" if concurrency == 1 else f"{concurrency} images at once"
            is_new = concurrency != 1
            rows.append((f"Wave: {WAVE_EVENTS:,} finding events over {WAVE_IMAGES} images in one batch, {label} "
                         f"(BATCH_CONCURRENCY={concurrency}): wall at 0 / {WAVE_LATENCY_MS:.0f} ms of AWS latency, "
                         "and the time the latency adds",
                         f"{flat[0]:.2f} s / {slow[0]:.2f} s, +{exposed:.2f} s",
                         f"<= +{TARGET_WAVE_EXPOSED_S:.0f} s" if is_new else "",
                         verdict(exposed, TARGET_WAVE_EXPOSED_S, "s", "{:.2f}") if is_new else ""))
            rows.append((f"Wave, same ({label}): CPU per 1,000 events at {WAVE_LATENCY_MS:.0f} ms / peak RSS",
                         f"{cpu_per_1000 * 1000:.0f} ms / {mb(slow[2])}",
                         f"<= {TARGET_WAVE_CPU_MS:.0f} ms, RSS < {TARGET_WAVE_RSS_MB:.0f} MB" if is_new else "",
                         (verdict(cpu_per_1000 * 1000, TARGET_WAVE_CPU_MS, "ms", "{:.0f}") if is_new else "")))
            wave_costs.append(wave_cost_per_million(slow[0]))
        rows.append((f"Wave: Lambda cost of 1,000,000 finding events (batches of {WAVE_EVENTS:,}; billed duration = "
                     f"the wall at {WAVE_LATENCY_MS:.0f} ms), arm64, {MEMORY_MB} MB: "
                     + " / ".join(f"BATCH_CONCURRENCY={c}" for c in WAVE_CONCURRENCIES),
                     " / ".join(f"${c:.3f}" for c in wave_costs), "", ""))
    finally:
        stack.stop()

    medians = criterion_medians(args.criterion)
    labels = {"map_enhanced": "SDK -> Finding, enhanced (from_enhanced)",
              "map_basic": "SDK -> Finding, basic (from_basic)",
              "policy_tally": "Policy judge + Tally::add",
              "render": "render::findings_alert (email + chat)"}
    for group, label in labels.items():
        values = [medians.get((group, n)) for n in SIZES]
        if all(v is None for v in values):
            rows.append((f"Criterion: {label}", "not run (cargo bench --bench pipeline)", "", ""))
            continue
        rows.append((f"Criterion median: {label}, at " + " / ".join(f"{n:,}" for n in SIZES),
                     " / ".join(duration_ns(v) if v is not None else "-" for v in values), "", ""))
    tap = medians.get(("tap_basic_page", 1000))
    rows.append(("Criterion median: the tap reading one page of 1,000 basic findings as ECR writes it "
                 "(88 % below the threshold, only counted)",
                 duration_ns(tap) if tap is not None else "not run (cargo bench --bench pipeline)", "", ""))
    parts = [medians.get((g, 10_000)) for g in ("map_enhanced", "policy_tally", "render")]
    if all(p is not None for p in parts):
        total_ms = sum(parts) / 1e6
        rows.append(("Criterion: mapping (enhanced) + policy + rendering, 10,000 findings",
                     f"{total_ms:.2f} ms", f"<= {TARGET_CPU_MS_PER_10K:.0f} ms",
                     verdict(total_ms, TARGET_CPU_MS_PER_10K, "ms", "{:.2f}")))

    return finish(rows, started)


if __name__ == "__main__":
    sys.exit(main())
