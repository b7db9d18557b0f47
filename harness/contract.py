"""Checks JSON bodies against the AWS service models shipped with botocore.

Every answer the local stack serves for ECR (and Inspector), and every
fixture of such an answer, should be something the real service could send.
These functions walk a parsed JSON body (a dict, as the JSON and REST-JSON
protocols put it on the wire) alongside a shape of the service model and
return human-readable violations, each naming the path of the value, e.g.
``imageScanFindings.enhancedFindings[3].severity: 'SEVERE' is not one of
...``. An empty list means the body is valid.

What is checked, per shape type:

- structure: unknown members, required members missing, null members
  (AWS omits a member rather than sending null), unions (exactly one member);
- list and map: type, min/max number of items, every item (map keys too);
- string: type, enum values, min/max length, and the model's pattern
  (``patterns=False`` skips patterns). AWS's documentation samples put
  "EXAMPLE" in place of the end of ids (``finding/be67...EXAMPLE``), which
  breaks their length and pattern: with ``placeholders=True`` such strings
  are checked for type and enum only;
- integer/long: a whole JSON number within the type's range and min/max;
- float/double: a JSON number (or "NaN"/"Infinity"/"-Infinity") within
  min/max;
- boolean: true/false;
- timestamp: a JSON number of epoch seconds (the JSON wire format; a value
  in milliseconds is rejected as out of range), or a string where the
  model's timestampFormat says so. With ``lenient_timestamps=True`` the
  forms AWS's event samples write are accepted too: ISO 8601, the ECR user
  guide's "Dec 3, 2021, 6:02:30 PM" and the Inspector user guide's
  "Wed Sep 04 16:55:38.411 UTC 2024";
- blob: a base64 string, min/max on the decoded length;
- document: anything.

Not checked: HTTP headers and status codes of REST-JSON outputs, event
streams, and what the model cannot say (e.g. that counts match findings).
"""

import base64
import binascii
import datetime
import json
import math
import re
import threading

import botocore.session

ECR_ENHANCED_PAGE_MAX = 100
ECR_BASIC_DEFAULT = 100
ECR_MAX_RESULTS_MAX = 1000

_INT_RANGES = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}
# Epoch seconds up to the end of year 9999: a value in milliseconds (a
# common mistake on the JSON wire) lands far beyond it.
_EPOCH_MAX = 253402300799
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_EVENT_TIME = re.compile(
    r"(?P<mon>[A-Z][a-z]{2}) (?P<day>\d{1,2}), (?P<year>\d{4}), "
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2}) (?P<ampm>AM|PM)")
_SPECIAL_FLOATS = ("NaN", "Infinity", "-Infinity")
_HEADER_LOCATIONS = ("header", "headers", "statusCode")
_SHOWN_CHARS = 60
# AWS's documentation samples end ids with this word in place of the last
# characters (e.g. "sha256:36c7...e5EXAMPLE"), which breaks their length and
# pattern.
_PLACEHOLDER = "EXAMPLE"

_lock = threading.Lock()
_session = None
_models = {}
_patterns = {}


def service_model(service):
    """The botocore service model of this service (loaded once)."""
    global _session
    with _lock:
        if service not in _models:
            if _session is None:
                _session = botocore.session.get_session()
            _models[service] = _session.get_service_model(service)
        return _models[service]


def check_output(service, operation, body, lenient_timestamps=False, patterns=True, placeholders=False):
    """Violations of the operation's output shape by this parsed JSON body."""
    output = service_model(service).operation_model(operation).output_shape
    if output is None:
        return [] if body in (None, {}) else [f"(top level): {operation} has no output, got {_show(body)}"]
    payload = output.serialization.get("payload")
    if payload:
        output = output.members[payload]
    return _Checker(lenient_timestamps, patterns, placeholders).check(output, body, "")


def check_shape(service, shape_name, value, lenient_timestamps=False, patterns=True, placeholders=False):
    """Violations of the named shape of the service's model (e.g. the
    inspector2 `Finding` an `Inspector2 Finding` event carries as detail)."""
    shape = service_model(service).shape_for(shape_name)
    return _Checker(lenient_timestamps, patterns, placeholders).check(shape, value, "")


def check_ecr_findings_page(body: dict, request: dict) -> list[str]:
    """Violations by one page of ECR DescribeImageScanFindings, answering
    `request` (the parsed JSON request body):

    - the output shape of the ECR model;
    - enhanced findings are Amazon Inspector findings: where ECR's model
      leaves a member an open string (severity, status, type, fixAvailable,
      exploitAvailable, packageManager, ...), Inspector's model lists the
      values, and those are checked;
    - page sizes: at most 100 enhanced findings per page whatever
      maxResults says; at most maxResults (1..1000, default 100) basic
      findings per page.
    """
    request = request or {}
    problems = check_output("ecr", "DescribeImageScanFindings", body)
    if not isinstance(body, dict):
        return problems
    findings = body.get("imageScanFindings")
    if not isinstance(findings, dict):
        return problems
    enhanced = findings.get("enhancedFindings")
    if isinstance(enhanced, list):
        inspector_finding = service_model("inspector2").shape_for("Finding")
        for i, finding in enumerate(enhanced):
            problems += _check_open_enums(inspector_finding, finding, f"imageScanFindings.enhancedFindings[{i}]")
        if len(enhanced) > ECR_ENHANCED_PAGE_MAX:
            problems.append(
                f"imageScanFindings.enhancedFindings: {len(enhanced)} findings on one page; ECR serves at most "
                f"{ECR_ENHANCED_PAGE_MAX} enhanced findings per page")
    max_results = request.get("maxResults")
    limit = ECR_BASIC_DEFAULT
    if max_results is not None:
        if isinstance(max_results, bool) or not isinstance(max_results, int) \
                or not 1 <= max_results <= ECR_MAX_RESULTS_MAX:
            problems.append(f"request.maxResults: {_show(max_results)} is not an integer in 1..{ECR_MAX_RESULTS_MAX}; "
                            "ECR refuses such a request instead of answering it")
        else:
            limit = max_results
    basic = findings.get("findings")
    if isinstance(basic, list) and len(basic) > limit:
        problems.append(f"imageScanFindings.findings: {len(basic)} findings on one page; at most {limit} "
                        f"(maxResults {'default' if max_results is None else 'of the request'})")
    return problems


_LISTINGS = {
    # operation: (the page's list member, the request's ids member)
    "DescribeImages": ("imageDetails", "imageIds"),
    "DescribeRepositories": ("repositories", "repositoryNames"),
}


def check_ecr_listing_page(operation: str, body: dict, request: dict) -> list[str]:
    """Violations by one page of ECR DescribeImages or DescribeRepositories
    answering `request` (the parsed JSON request body):

    - the output shape of the ECR model;
    - page sizes: at most maxResults (1..1000, default 100) entries; with
      imageIds / repositoryNames, no nextToken and at most one entry per id
      asked (Amazon ECR API Reference: maxResults and nextToken "cannot be
      used when you specify images with imageIds");
    - DescribeImages: only images of the repository asked for; imageTags
      left out rather than empty for an untagged image, as ECR writes it; a
      findings summary only beside a scan status;
    - DescribeRepositories: only the repositories named, when named.
    """
    request = request or {}
    problems = check_output("ecr", operation, body)
    if not isinstance(body, dict):
        return problems
    key, ids_key = _LISTINGS[operation]
    items = body.get(key)
    if not isinstance(items, list):
        return problems
    ids = request.get(ids_key)
    if isinstance(ids, list):
        if "nextToken" in body:
            problems.append(f"nextToken: a page answering {ids_key} has no nextToken; ECR does not page them")
        if len(items) > len(ids):
            problems.append(f"{key}: {len(items)} entries for {len(ids)} {ids_key}")
    else:
        max_results = request.get("maxResults")
        limit = ECR_BASIC_DEFAULT
        if max_results is not None:
            if isinstance(max_results, bool) or not isinstance(max_results, int) \
                    or not 1 <= max_results <= ECR_MAX_RESULTS_MAX:
                problems.append(f"request.maxResults: {_show(max_results)} is not an integer in "
                                f"1..{ECR_MAX_RESULTS_MAX}; ECR refuses such a request instead of answering it")
            else:
                limit = max_results
        if len(items) > limit:
            problems.append(f"{key}: {len(items)} entries on one page; at most {limit} "
                            f"(maxResults {'default' if max_results is None else 'of the request'})")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        if operation == "DescribeImages":
            asked = request.get("repositoryName")
            if asked is not None and item.get("repositoryName") not in (None, asked):
                problems.append(f"imageDetails[{i}].repositoryName: {_show(item.get('repositoryName'))} "
                                f"answering a request for {_show(asked)}")
            if item.get("imageTags") == []:
                problems.append(f"imageDetails[{i}].imageTags: empty; ECR leaves it out for an untagged image")
            if "imageScanFindingsSummary" in item and "imageScanStatus" not in item:
                problems.append(f"imageDetails[{i}]: imageScanFindingsSummary without imageScanStatus")
        elif isinstance(ids, list) and item.get("repositoryName") not in ids:
            problems.append(f"repositories[{i}].repositoryName: {_show(item.get('repositoryName'))} "
                            "was not asked for")
    return problems


def _check_open_enums(inspector_shape, value, path):
    """Enum values of Inspector's model applied where ECR's model has an open
    string of the same member name (only enums: the rest is ECR's to say)."""
    problems = []
    if inspector_shape.type_name == "structure" and isinstance(value, dict):
        members = inspector_shape.members
        for name, item in value.items():
            if name in members:
                problems += _check_open_enums(members[name], item, f"{path}.{name}")
    elif inspector_shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            problems += _check_open_enums(inspector_shape.member, item, f"{path}[{i}]")
    elif inspector_shape.type_name == "string" and inspector_shape.enum and isinstance(value, str):
        if value not in inspector_shape.enum:
            problems.append(f"{path}: {_show(value)} is not one of {', '.join(inspector_shape.enum)} "
                            f"(Amazon Inspector's {inspector_shape.name})")
    return problems


def _show(value):
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS - 3] + "..."


def _compiled(pattern):
    if pattern not in _patterns:
        try:
            _patterns[pattern] = re.compile(pattern, re.ASCII)
        except re.error:
            # A pattern Python's regex engine cannot read is not checked.
            _patterns[pattern] = None
    return _patterns[pattern]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _event_time(text):
    """EventBridge's human form of a time, e.g. "Dec 3, 2021, 6:02:30 PM"."""
    m = _EVENT_TIME.fullmatch(text)
    if not m or m["mon"] not in _MONTHS:
        return None
    hour = int(m["hour"])
    if not 1 <= hour <= 12:
        return None
    hour = hour % 12 + (12 if m["ampm"] == "PM" else 0)
    try:
        return datetime.datetime(int(m["year"]), _MONTHS[m["mon"]], int(m["day"]), hour,
                                 int(m["minute"]), int(m["second"]))
    except ValueError:
        return None


_INSPECTOR_TIME = re.compile(
    r"(?P<wday>Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<mon>[A-Z][a-z]{2}) (?P<day>\d{2}) "
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<ms>\d{1,9}))? UTC (?P<year>\d{4})")


def _inspector_time(text):
    """The Amazon Inspector user guide's form, e.g. "Wed Sep 04 16:55:38.411 UTC 2024"."""
    m = _INSPECTOR_TIME.fullmatch(text)
    if not m or m["mon"] not in _MONTHS:
        return None
    try:
        moment = datetime.datetime(int(m["year"]), _MONTHS[m["mon"]], int(m["day"]), int(m["hour"]),
                                   int(m["minute"]), int(m["second"]))
    except ValueError:
        return None
    if moment.strftime("%a") != m["wday"]:
        return None
    return moment


def _iso_time(text):
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


class _Checker:
    def __init__(self, lenient_timestamps, patterns, placeholders):
        self.lenient_timestamps = lenient_timestamps
        self.patterns = patterns
        self.placeholders = placeholders

    def check(self, shape, value, path):
        problems = []
        self._value(shape, value, path, problems)
        return problems

    def _value(self, shape, value, path, out):
        where = path or "(top level)"
        if value is None:
            out.append(f"{where}: null where a {shape.type_name} ({shape.name}) is expected; "
                       "AWS omits a member that has no value")
            return
        handler = getattr(self, f"_{shape.type_name}", None)
        if handler is None:
            out.append(f"{where}: shape {shape.name} has type {shape.type_name}, which this check does not know")
            return
        handler(shape, value, path, where, out)

    # -- aggregates -------------------------------------------------------
    def _structure(self, shape, value, path, where, out):
        if getattr(shape, "is_document_type", False) or shape.metadata.get("document"):
            return
        if not isinstance(value, dict):
            out.append(f"{where}: expected an object ({shape.name}), got {type(value).__name__} {_show(value)}")
            return
        wire = {}
        for name, member in shape.members.items():
            if member.serialization.get("location") in _HEADER_LOCATIONS:
                continue
            wire[member.serialization.get("name", name)] = (name, member)
        prefix = f"{path}." if path else ""
        for key, item in value.items():
            if key not in wire:
                out.append(f"{prefix}{key}: unknown member of {shape.name} (members: {', '.join(sorted(wire)) or 'none'})")
                continue
            self._value(wire[key][1], item, f"{prefix}{key}", out)
        for name in shape.required_members:
            member = shape.members.get(name)
            if member is None or member.serialization.get("location") in _HEADER_LOCATIONS:
                continue
            key = member.serialization.get("name", name)
            if key not in value:
                out.append(f"{prefix}{key}: required member of {shape.name} is missing")
        if getattr(shape, "is_tagged_union", False) or shape.metadata.get("union"):
            set_members = [k for k in value if k in wire and value[k] is not None]
            if len(set_members) != 1:
                out.append(f"{where}: union {shape.name} must have exactly one member set, has "
                           f"{len(set_members)} ({', '.join(set_members) or 'none'})")

    def _list(self, shape, value, path, where, out):
        if not isinstance(value, list):
            out.append(f"{where}: expected an array ({shape.name}), got {type(value).__name__} {_show(value)}")
            return
        self._count(shape, len(value), "items", where, out)
        for i, item in enumerate(value):
            self._value(shape.member, item, f"{path}[{i}]", out)

    def _map(self, shape, value, path, where, out):
        if not isinstance(value, dict):
            out.append(f"{where}: expected an object ({shape.name}), got {type(value).__name__} {_show(value)}")
            return
        self._count(shape, len(value), "entries", where, out)
        for key, item in value.items():
            entry = f"{path}[{json.dumps(key)}]"
            key_problems = []
            self._string(shape.key, key, entry, entry, key_problems)
            out.extend(p.replace(f"{entry}: ", f"{entry}: key ", 1) for p in key_problems)
            self._value(shape.value, item, entry, out)

    def _count(self, shape, n, what, where, out):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and n < low:
            out.append(f"{where}: {n} {what}, fewer than the minimum {low} of {shape.name}")
        if high is not None and n > high:
            out.append(f"{where}: {n} {what}, more than the maximum {high} of {shape.name}")

    # -- scalars ----------------------------------------------------------
    def _string(self, shape, value, path, where, out):
        if not isinstance(value, str):
            out.append(f"{where}: expected a string ({shape.name}), got {type(value).__name__} {_show(value)}")
            return
        enum = getattr(shape, "enum", None) or shape.metadata.get("enum")
        if enum and value not in enum:
            out.append(f"{where}: {_show(value)} is not one of {', '.join(enum)} ({shape.name})")
        if self.placeholders and _PLACEHOLDER in value:
            return
        self._length(shape, len(value), "characters", where, out)
        pattern = shape.metadata.get("pattern")
        if self.patterns and pattern:
            regex = _compiled(pattern)
            if regex is not None and not regex.search(value):
                out.append(f"{where}: {_show(value)} does not match the pattern {pattern} of {shape.name}")

    def _length(self, shape, n, what, where, out):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and n < low:
            out.append(f"{where}: {n} {what}, shorter than the minimum length {low} of {shape.name}")
        if high is not None and n > high:
            out.append(f"{where}: {n} {what}, longer than the maximum length {high} of {shape.name}")

    def _range(self, shape, value, where, out):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            out.append(f"{where}: {_show(value)} is below the minimum {low} of {shape.name}")
        if high is not None and value > high:
            out.append(f"{where}: {_show(value)} is above the maximum {high} of {shape.name}")

    def _integer(self, shape, value, path, where, out):
        if not isinstance(value, int) or isinstance(value, bool):
            out.append(f"{where}: expected a whole number ({shape.type_name} {shape.name}), "
                       f"got {type(value).__name__} {_show(value)}")
            return
        low, high = _INT_RANGES[shape.type_name]
        if not low <= value <= high:
            out.append(f"{where}: {value} does not fit a {shape.type_name} ({shape.name})")
        self._range(shape, value, where, out)

    _long = _integer

    def _float(self, shape, value, path, where, out):
        if isinstance(value, str) and value in _SPECIAL_FLOATS:
            return
        if not _is_number(value):
            out.append(f"{where}: expected a number ({shape.type_name} {shape.name}), "
                       f"got {type(value).__name__} {_show(value)}")
            return
        if isinstance(value, float) and math.isnan(value):
            return
        self._range(shape, value, where, out)

    _double = _float

    def _boolean(self, shape, value, path, where, out):
        if not isinstance(value, bool):
            out.append(f"{where}: expected true or false ({shape.name}), got {type(value).__name__} {_show(value)}")

    def _timestamp(self, shape, value, path, where, out):
        wire_format = shape.serialization.get("timestampFormat", "unixTimestamp")
        if _is_number(value):
            if wire_format != "unixTimestamp" and not self.lenient_timestamps:
                out.append(f"{where}: expected a {wire_format} string ({shape.name}), got the number {_show(value)}")
            elif not 0 <= value <= _EPOCH_MAX:
                out.append(f"{where}: {_show(value)} is not a time in epoch seconds ({shape.name}); "
                           "milliseconds?")
            return
        if isinstance(value, str):
            if wire_format == "iso8601" and _iso_time(value) is not None:
                return
            if wire_format == "rfc822" and re.fullmatch(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", value):
                return
            if self.lenient_timestamps:
                if any(read(value) is not None for read in (_iso_time, _event_time, _inspector_time)):
                    return
                out.append(f"{where}: {_show(value)} is neither epoch seconds, an ISO 8601 time nor a time like "
                           f"'Dec 3, 2021, 6:02:30 PM' or 'Wed Sep 04 16:55:38.411 UTC 2024' ({shape.name})")
                return
            out.append(f"{where}: expected epoch seconds, a JSON number ({shape.name}), got the string {_show(value)}")
            return
        out.append(f"{where}: expected a time in epoch seconds ({shape.name}), got {type(value).__name__} {_show(value)}")

    def _blob(self, shape, value, path, where, out):
        if not isinstance(value, str):
            out.append(f"{where}: expected a base64 string ({shape.name}), got {type(value).__name__} {_show(value)}")
            return
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            out.append(f"{where}: {_show(value)} is not valid base64 ({shape.name})")
            return
        self._length(shape, len(data), "bytes", where, out)
