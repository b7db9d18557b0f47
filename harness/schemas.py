"""Offline checks of the gate's report files and of CI files against published
schemas: SARIF 2.1.0 (the OASIS JSON schema), JUnit XML (the junit-10.xsd
that pytest's own tests use) and, through check-jsonschema's built-in copies
of the SchemaStore schemas, GitHub Action, GitHub workflow and GitLab CI
files. The schema files live in tests/schemas/ (README.md there says where
each one came from); nothing here fetches anything from the network.

Every function returns a list of readable problems, each naming where in the
document it is; an empty list means valid."""

import functools
import json
import subprocess
import sys
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parent.parent / "tests" / "schemas"
SARIF_SCHEMA = SCHEMAS / "sarif-2.1.0.json"
JUNIT_XSD = SCHEMAS / "junit-10.xsd"

# check-jsonschema's --builtin-schema names, as accepted by lint_ci_file.
CI_KINDS = ("github-actions", "github-workflows", "gitlab-ci")


@functools.lru_cache(maxsize=1)
def _sarif_validator():
    import jsonschema
    from referencing import Registry
    from referencing.exceptions import NoSuchResource

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)  # Draft 4, as the schema says
    cls.check_schema(schema)

    def refuse(uri):
        # Every $ref in the schema is local (#/definitions/...): a reference
        # to anything else is an error, never a download.
        raise NoSuchResource(ref=uri)

    return cls(schema, registry=Registry(retrieve=refuse), format_checker=cls.FORMAT_CHECKER)


def _where(path):
    return "/" + "/".join(str(p) for p in path) if path else "(root)"


def sarif_errors(doc: dict) -> list[str]:
    """Problems with a SARIF log (the parsed JSON) under the SARIF 2.1.0 schema,
    as 'JSON pointer: message' lines."""
    from jsonschema.exceptions import best_match

    problems = []
    errors = sorted(_sarif_validator().iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    for error in errors:
        line = f"{_where(error.absolute_path)}: {error.message}"
        if error.context:  # anyOf/oneOf: say which branch came closest and why it failed
            closest = best_match(error.context)
            line += f" (closest: {_where(closest.absolute_path)}: {closest.message})"
        problems.append(line)
    return problems


@functools.lru_cache(maxsize=1)
def _junit_schema():
    import xmlschema

    return xmlschema.XMLSchema10(str(JUNIT_XSD))


def junit_errors(xml_text: str | bytes) -> list[str]:
    """Problems with a JUnit XML report (its text) under junit-10.xsd, as
    'XPath: reason' lines. Either <testsuites> or <testsuite> may be the root,
    as the XSD allows; a document that is not well-formed XML gives one problem."""
    import xmlschema

    try:
        # No DTDs, entities or location hints: the document is read as given.
        resource = xmlschema.XMLResource(xml_text, allow="none", defuse="always")
    except Exception as exc:  # ParseError and xmlschema's resource errors
        return [f"not well-formed XML: {exc}"]
    problems = []
    for error in _junit_schema().iter_errors(resource):
        reason = error.reason or error.message
        problems.append(f"{error.path or '/'}: {' '.join(reason.split())}")
    return problems


def lint_ci_file(path: str | Path, kind: str) -> list[str]:
    """Problems with a CI file under check-jsonschema's built-in (vendored,
    offline) schema for `kind`: one of CI_KINDS, with or without 'vendor.'.
    check-jsonschema runs from this interpreter's environment (.venv)."""
    name = kind.removeprefix("vendor.")
    if name not in CI_KINDS:
        raise ValueError(f"kind must be one of {CI_KINDS}, not {kind!r}")
    if not Path(path).is_file():
        return [f"{path}: no such file"]
    args = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", f"vendor.{name}",
            "--no-cache", "--output-format", "json", "--color", "never", str(path)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return [f"check-jsonschema did not finish in 120 s on {path}"]
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        # Not installed, or a usage error: say what it said.
        return [f"check-jsonschema exited {done.returncode} without a report: "
                f"{(done.stderr or done.stdout).strip()}"]
    problems = []
    for error in report.get("errors", []):
        line = f"{error.get('path', '$')}: {error.get('message', '')}"
        closest = error.get("best_deep_match") or error.get("best_match")
        if error.get("has_sub_errors") and closest:
            line += f" (closest: {closest.get('path')}: {closest.get('message')})"
        problems.append(line)
    for error in report.get("parse_errors", []):
        problems.append(f"cannot parse: {error.get('message', error)}{_yaml_detail(path)}")
    if not problems and (done.returncode != 0 or report.get("status") != "ok"):
        problems.append(f"check-jsonschema exited {done.returncode}: {done.stdout.strip()} {done.stderr.strip()}")
    return problems


def _yaml_detail(path):
    """check-jsonschema only says that a file did not parse; PyYAML says where."""
    import yaml

    try:
        yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return " (" + " ".join(str(exc).split()) + ")"
    return ""


def lint_action(path: str | Path) -> list[str]:
    """Problems with a GitHub Action metadata file (action.yml)."""
    return lint_ci_file(path, "github-actions")


def lint_workflow(path: str | Path) -> list[str]:
    """Problems with a GitHub Actions workflow file (.github/workflows/*.yml)."""
    return lint_ci_file(path, "github-workflows")
