"""A page looked at in a real browser: Debian's headless Chromium, driven
over the DevTools protocol (a websocket, `websocket-client`).

`check_report_page(html_path, expected_points)` opens the posture report's
`index.html` at a laptop's 1366x768 and says what a person would notice:
console errors, a chart drawn with the wrong number of points, a page wider
than the screen. It takes a full-page screenshot too.

    python -m harness.browser PAGE.html [--screenshot out.png]

Chromium is the Debian package `chromium` (`scripts/test.sh` installs it);
`CHROMIUM` names another binary.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websocket

VIEWPORT = (1366, 768)
# The posture report's charts (src/render/report.rs, CHART_IDS).
CHARTS = ("open-by-severity", "owners-deadlines", "coverage", "top-repositories")
HISTORY_RUNS = 12
SEVERITIES = ("critical", "high", "medium", "low")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class BrowserError(RuntimeError):
    pass


def chromium_binary():
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found:
        raise BrowserError("chromium is not installed: `make test` installs Debian's package "
                           "(apt-get install -y --no-install-recommends chromium)")
    return found


class Chromium:
    """Headless Chromium with a throw-away profile, and one page in it.

    Use as a context manager: the browser is closed (Browser.close, then
    terminate, then kill) and its profile removed whatever happened."""

    def __init__(self, timeout=30.0):
        self.timeout = timeout
        self.proc = None
        self.ws = None
        self.profile = None
        self.session = None
        self.events = []
        self.stderr = None
        self._next_id = 0

    # -------------------------------------------------------- lifecycle

    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="report-browser-")
        self.stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                [chromium_binary(), "--headless", "--remote-debugging-port=0", "--no-sandbox",
                 f"--user-data-dir={self.profile}", "--no-first-run", "--no-default-browser-check",
                 "--disable-gpu", "--disable-extensions", "--disable-background-networking",
                 "--disable-sync", "--disable-component-update", "--metrics-recording-only",
                 "--mute-audio", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
                # Its own process group: the renderer and GPU processes are
                # stopped with it should Browser.close not end them.
                start_new_session=True)
            self.ws = websocket.create_connection(self._browser_url(), timeout=self.timeout,
                                                  suppress_origin=True, enable_multithread=False)
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _browser_url(self):
        """The browser's websocket URL, from the DevToolsActivePort file
        Chromium writes into its profile once it listens (port 0: any)."""
        active = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self.proc.returncode}: {self._stderr_tail()}")
            lines = active.read_text().splitlines() if active.exists() else []
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
            time.sleep(0.05)
        raise BrowserError(f"chromium did not open its DevTools port in {self.timeout:.0f}s: {self._stderr_tail()}")

    def _stderr_tail(self):
        if self.stderr is None:
            return ""
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-2000:]

    def close(self):
        if self.ws is not None:
            try:
                self.call("Browser.close", session=False, timeout=5)
            except Exception:  # noqa: BLE001 - the process is stopped below anyway
                pass
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001
                pass
            self.ws = None
        if self.proc is not None:
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if sig is not None:
                    try:
                        os.killpg(self.proc.pid, sig)
                    except ProcessLookupError:
                        break
                try:
                    self.proc.wait(timeout=10 if sig is None else 5)
                    break
                except subprocess.TimeoutExpired:
                    continue
            try:  # whatever of its group outlived it (its pid is the group's id)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc = None
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    # --------------------------------------------------------- protocol

    def call(self, method, params=None, session=True, timeout=None):
        """Sends one command and waits for its answer; events that arrive
        meanwhile are kept in `self.events`."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})

    def _receive(self, deadline, waiting_for):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrowserError(f"no answer from chromium to {waiting_for}")
        self.ws.settimeout(remaining)
        try:
            message = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            raise BrowserError(f"no answer from chromium to {waiting_for}") from None
        if "method" in message:
            self.events.append(message)
        return message

    def wait_for(self, event, since=0, timeout=None):
        """The parameters of the page's first `event` from `self.events[since]` on."""
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = since
        while True:
            for message in self.events[seen:]:
                if message["method"] == event and message.get("sessionId") == self.session:
                    return message.get("params", {})
            seen = len(self.events)
            self._receive(deadline, event)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluating {expression!r}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    # ------------------------------------------------------------- page

    def open(self, url, viewport=VIEWPORT):
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        width, height = viewport
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        mark = len(self.events)
        navigated = self.call("Page.navigate", {"url": url})
        if navigated.get("errorText"):
            raise BrowserError(f"cannot open {url}: {navigated['errorText']}")
        self.wait_for("Page.loadEventFired", since=mark)

    def console_errors(self):
        """Console errors, uncaught exceptions and browser log errors of the
        page, as lines."""
        errors = []
        for message in self.events:
            if message.get("sessionId") != self.session:
                continue
            method, params = message["method"], message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                errors.append(f"console.{params['type']}: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text", "")
                errors.append(f"exception: {text}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".rstrip())
        return errors

    def screenshot(self, path):
        """The whole page, not only the viewport, as a PNG at `path`."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width = self.evaluate("window.innerWidth")
        clip = {"x": 0, "y": 0, "width": width, "height": max(1, int(size["height"])), "scale": 1}
        data = self.call("Page.captureScreenshot",
                         {"format": "png", "captureBeyondViewport": True, "clip": clip})["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


# ----------------------------------------------------------- the report

# Per chart: how many `.point` elements it has, and whether it is drawn
# (a box on the page, its points inside the chart's box).
CHART_STATE = """
(() => Object.fromEntries(%s.map(id => {
  const svg = document.querySelector('svg#' + id);
  if (!svg) return [id, null];
  const box = svg.getBoundingClientRect();
  const points = Array.from(svg.querySelectorAll('.point'));
  const outside = points.filter(p => {
    const b = p.getBoundingClientRect();
    return b.left < box.left - 1 || b.right > box.right + 1 || b.top < box.top - 1 || b.bottom > box.bottom + 1;
  }).length;
  return [id, {points: points.length, width: box.width, height: box.height, outside}];
})))()
"""

WIDTHS = """
({scrollWidth: document.documentElement.scrollWidth,
  clientWidth: document.documentElement.clientWidth,
  innerWidth: window.innerWidth})
"""


def expected_points(summary, runs):
    """The points each chart must have for a report whose `summary.json`
    is `summary` (a dict) and whose trends show `runs` runs."""
    owners = summary.get("owners", [])
    shares = sum(1 for o in owners if (o.get("fixed_with_deadline") or 0) > 0 and o.get("fixed_in_time") is not None)
    return {
        "open-by-severity": len(SEVERITIES) * runs,
        "owners-deadlines": len(owners) + shares,
        "coverage": 2 * runs,
        "top-repositories": len(summary.get("top_repositories", [])),
    }


def png_size(data):
    """(width, height) of a PNG, or None when `data` is not one."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def check_report_page(html_path, expected_points, screenshot_path=None, viewport=VIEWPORT):
    """Opens the report page in headless Chromium at `viewport` and returns
    (problems, screenshot): what is wrong, as sentences (empty when
    nothing), and the path of a full-page PNG (`screenshot_path`, default
    `screenshot.png` beside the page)."""
    html_path = Path(html_path).resolve()
    screenshot = Path(screenshot_path) if screenshot_path else html_path.with_name("screenshot.png")
    problems = []
    with Chromium() as browser:
        browser.open(html_path.as_uri(), viewport)
        charts = browser.evaluate(CHART_STATE % json.dumps(sorted(expected_points)))
        widths = browser.evaluate(WIDTHS)
        browser.screenshot(screenshot)
        problems += [f"console error: {e}" for e in browser.console_errors()]
    for chart, expected in sorted(expected_points.items()):
        state = charts.get(chart)
        if state is None:
            problems.append(f"chart {chart}: not on the page")
            continue
        if state["points"] != expected:
            problems.append(f"chart {chart}: {state['points']} points drawn, {expected} expected")
        if state["width"] < 100 or state["height"] < 50:
            problems.append(f"chart {chart}: drawn {state['width']:.0f}x{state['height']:.0f} px, too small to read")
        if state["outside"]:
            problems.append(f"chart {chart}: {state['outside']} point(s) outside the chart")
    if widths["scrollWidth"] > widths["clientWidth"]:
        problems.append(f"the page scrolls sideways at {viewport[0]} px: {widths['scrollWidth']} px wide, "
                        f"{widths['clientWidth']} px shown (window {widths['innerWidth']} px)")
    size = png_size(screenshot.read_bytes())
    if size is None:
        problems.append(f"the screenshot {screenshot} is not a PNG")
    elif size[0] != viewport[0]:
        problems.append(f"the screenshot is {size[0]} px wide, not {viewport[0]}")
    return problems, screenshot


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", help="the report's index.html; its summary.json beside it gives the expected points")
    parser.add_argument("--screenshot", help="where the PNG goes (default: screenshot.png beside the page)")
    parser.add_argument("--runs", type=int, help="runs the trends show (default: summary.json's history beside it)")
    args = parser.parse_args(argv)
    page = Path(args.page)
    summary = json.loads((page.parent / "summary.json").read_text())
    runs = args.runs or min(HISTORY_RUNS, 1 + len(list((page.parent / "history").glob("*.json"))))
    problems, shot = check_report_page(page, expected_points(summary, runs), args.screenshot)
    print(f"screenshot: {shot}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
