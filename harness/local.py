"""Starts and stops the local stack: moto server, the paging proxy, the
Lambda Runtime API emulator (cargo-lambda) and the function binary."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .paging_proxy import PagingProxy

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
REGION = "us-east-1"
ACCOUNT = "123456789012"
# The alert binary is deployed as two functions, one per event type, the
# digest binary (ecr-scan-digest, built next to it) as the third; Lambda
# tells each which it is through `_HANDLER` (the function's Handler). Each
# runs under its own Runtime API emulator (cargo-lambda serves functions
# named after the project's binaries), as two deployed functions would.
FUNCTION_NAME = "ecr-scan-alerts"
DIGEST_BINARY = "ecr-scan-digest"
SCAN_EVENTS = "scan-events"
FINDING_BATCHES = "finding-batches"
DIGEST = "digest"
FINDINGS_FUNCTION_NAME = FINDING_BATCHES  # kept for callers naming the function

# Dummy credentials: nothing here ever leaves 127.0.0.1.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


def built_binary(name="ecr-scan-alerts"):
    """A binary of this package built by `cargo test`/`cargo build` (debug);
    FUNCTION_BINARY overrides where the function's binary is."""
    if name == "ecr-scan-alerts" and os.environ.get("FUNCTION_BINARY"):
        return Path(os.environ["FUNCTION_BINARY"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / name


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f}s (last error: {last})")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Process:
    """A child process in its own process group, logging to a file."""

    def __init__(self, name, args, log_dir, env=None, cwd=ROOT):
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.log.close()

    def tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class LocalStack:
    """moto + paging proxy + Runtime API emulator + the function."""

    def __init__(self, binary, log_dir, function_env=None):
        self.binary = Path(binary)
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.function_env = dict(function_env or {})
        self.moto = self.proxy = self.emulator = self.findings_emulator = None
        self.function = self.findings_function = None
        self.moto_port = self.runtime_port = self.findings_runtime_port = None
        # More findings functions (consumers of the queue running at once),
        # each with its own emulator: [(emulator, function process)].
        self.consumers = []
        self.overrides = {}

    @property
    def digest_binary(self):
        """The digest function's binary, built next to the alert binary."""
        return self.binary.with_name(DIGEST_BINARY)

    # -- lifecycle -------------------------------------------------------
    def start(self):
        if not self.binary.exists():
            raise RuntimeError(f"function binary {self.binary} not found: build it first (cargo build)")
        self.moto_port = free_port()
        self.moto = Process("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.moto_port)],
                            self.log_dir, env={**os.environ, **AWS_ENV})
        wait_until(lambda: urllib.request.urlopen(f"{self.moto_url}/moto-api/", timeout=2).status == 200, "moto server")
        self.proxy = PagingProxy(self.moto_port).start()
        self.runtime_port, self.emulator = self._emulator("runtime-emulator")
        self.findings_runtime_port, self.findings_emulator = self._emulator("findings-runtime-emulator")
        return self

    def _emulator(self, name):
        port = free_port()
        process = Process(
            name,
            [str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "--only-lambda-apis",
             "-A", "127.0.0.1", "-P", str(port)],
            self.log_dir, env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"},
        )
        wait_until(lambda: port_open(port), f"cargo-lambda runtime emulator ({name})")
        return port, process

    def start_function(self, **overrides):
        """(Re)starts both functions (scan events, finding batches) with the
        base env plus overrides. Returns the scan-events function's process."""
        self.stop_function()
        self.overrides = dict(overrides)
        self.function = self._start(SCAN_EVENTS, self.runtime_port, "function", overrides)
        self.findings_function = self._start(FINDING_BATCHES, self.findings_runtime_port, "findings-function",
                                             overrides)
        return self.function

    def start_consumer(self, name):
        """One more findings function, with the settings of the last
        start_function, behind its own Runtime API emulator: Lambda runs
        several invocations of the event source mapping at once. Returns the
        port to invoke it on (invoke_at); stopped with the functions."""
        port, emulator = self._emulator(f"{name}-emulator")
        process = self._start(FINDING_BATCHES, port, name, self.overrides)
        self.consumers.append((emulator, process))
        return port

    def start_digest(self, **overrides):
        """The digest function (Handler `digest`), with the settings of the
        last start_function plus `overrides`, behind its own Runtime API
        emulator, as the schedule would invoke it. Returns the port to invoke
        it on (invoke_at); stopped with the functions."""
        port, emulator = self._emulator("digest-emulator")
        process = self._start(DIGEST, port, "digest-function", {**self.overrides, **overrides})
        self.consumers.append((emulator, process))
        return port

    def _start(self, handler, runtime_port, log_name, overrides):
        name = FUNCTION_NAME
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            **AWS_ENV,
            "AWS_ENDPOINT_URL": self.proxy.url,
            "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{runtime_port}/.rt/{name}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "_HANDLER": handler,
            **self.function_env,
            **overrides,
        }
        env = {k: v for k, v in env.items() if v is not None}
        binary = self.digest_binary if handler == DIGEST else self.binary
        if not binary.exists():
            raise RuntimeError(f"function binary {binary} not found: build it first (cargo build)")
        return Process(log_name, [str(binary)], self.log_dir, env=env)

    def cold_start_log(self, timeout=30, **overrides):
        """Starts the function with these settings, expecting its cold start
        to fail; returns its log (and restarts it with the base settings)."""
        try:
            proc = self.start_function(**overrides)
            deadline = time.monotonic() + timeout
            while proc.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if proc.alive():
                raise AssertionError(f"the function started despite {overrides}")
            return proc.log_path.read_text()
        finally:
            self.start_function()

    def stop_function(self):
        for attr in ("function", "findings_function"):
            process = getattr(self, attr)
            if process is not None:
                process.stop()
                setattr(self, attr, None)
        for emulator, process in self.consumers:
            process.stop()
            emulator.stop()
        self.consumers = []

    def stop(self):
        self.stop_function()
        for part in (self.emulator, self.findings_emulator, self.moto):
            if part is not None:
                part.stop()
        if self.proxy is not None:
            self.proxy.stop()

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    # -- use -------------------------------------------------------------
    @property
    def moto_url(self):
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def endpoint_url(self):
        """Where AWS clients (ours and the function's) send requests."""
        return self.proxy.url

    def client(self, service, config=None):
        """A boto3 client of the stack; `config`: a botocore Config (e.g.
        no retries, to see a 500 once)."""
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing", config=config)

    def invoke(self, event, timeout=60, function=None):
        """Invokes a function through the emulator's Invoke API, as the
        Lambda service would: SQS batches (a dict with `Records`) go to the
        finding-batches function, as the event source mapping sends them;
        everything else to the scan-events function, as the EventBridge rule
        does. Returns (ok, payload)."""
        if function is None:
            batch = isinstance(event, dict) and "Records" in event
            function = FINDING_BATCHES if batch else SCAN_EVENTS
        findings = function == FINDING_BATCHES
        process = self.findings_function if findings else self.function
        if process is None or not process.alive():
            raise RuntimeError(f"the {function} function process is not running:\n{self.logs()}")
        port = self.findings_runtime_port if findings else self.runtime_port
        return self.invoke_at(port, event, timeout)

    def invoke_at(self, port, event, timeout=60):
        """Invokes the function behind the emulator on `port`. Returns (ok, payload)."""
        url = f"http://127.0.0.1:{port}/2015-03-31/functions/{FUNCTION_NAME}/invocations"
        data = event if isinstance(event, (bytes, str)) else json.dumps(event)
        if isinstance(data, str):
            data = data.encode()
        req = urllib.request.Request(url, data=data, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return True, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            body = err.read()
            try:
                return False, json.loads(body)
            except ValueError:
                return False, {"errorType": f"HTTP {err.code}", "errorMessage": body.decode(errors="replace")}

    def logs(self):
        parts = []
        for proc in (self.function, self.findings_function, self.emulator, self.findings_emulator, self.moto):
            if proc is not None:
                parts.append(f"--- {proc.name} ---\n{proc.tail()}")
        return "\n".join(parts)


def die(message):
    print(message, file=sys.stderr)
    sys.exit(1)
