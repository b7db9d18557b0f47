"""What the docs promise, checked against the repository where it can be:

- every variable the stack sets is in docs/configuration.md, with the stack
  parameters it comes from, and every setting says which parameter sets it
  (or "none");
- the errors table has every error type the function returns;
- what a deploy needs names every service the stack uses;
- the statements the issues asked for are there, in the words that carry
  them (what enhanced continuous scanning is needed for, what "in use" can
  see, the storm cost, the per-region forwarding, the policy document kept,
  who hears the alarms, who can reach member findings, the performance
  figures' conditions);
- the docs cite AWS's pages and the repository's files, never a document
  a reader cannot open.

Each check is a plain function over a text, so the tests at the end feed
them texts without the statement and see them report it.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_docs import DOCS, ROOT, rel

sys.path.insert(0, str(ROOT / "tests" / "template"))
from cfn_template import Resolved, load, references  # noqa: E402

DOCS_DIR = ROOT / "docs"
# docs/policy.md and docs/gate.md are kept by the function's side; the
# statements below are checked in the others.
NOT_HERE = {"policy.md", "gate.md"}


def read(name):
    return (ROOT / name).read_text(encoding="utf-8")


def flat(text):
    """Whitespace runs as single spaces: statements wrap across lines."""
    return " ".join(text.split())


# ---------------------------------------------------- configuration table

def configuration_rows(text):
    """{variable: stack parameter cell} of the table headed Variable, with a
    Stack parameter column."""
    rows, column = {}, None
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            column = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if column is None:
            if cells[0].lower() == "variable":
                column = next((i for i, c in enumerate(cells) if c.lower() == "stack parameter"), -1)
            continue
        if set(cells[0]) <= set("-: ") or column < 0:
            continue
        for name in re.findall(r"`([^`]+)`", cells[0]):
            rows[name] = cells[column] if column < len(cells) else ""
    return rows


def stack_variables(template):
    """{variable: the template's parameters it refers to} over the Globals
    and both functions' environments, unresolved."""
    parameters = set(template["Parameters"])
    found = {}
    sources = [template["Globals"]["Function"].get("Environment", {})]
    sources += [r["Properties"].get("Environment", {}) for r in template["Resources"].values()
                if isinstance(r, dict) and r.get("Type") == "AWS::Serverless::Function"]
    for environment in sources:
        for name, value in environment.get("Variables", {}).items():
            found.setdefault(name, set()).update(p for p in references(value, template["Conditions"])
                                                 if p in parameters)
    return found


def configuration_problems(text, variables, parameters):
    rows = configuration_rows(text)
    problems = []
    if not rows:
        return ["no configuration table with a Stack parameter column"]
    for name, used in sorted(variables.items()):
        if name not in rows:
            problems.append(f"`{name}` is set by the stack but not in the table")
            continue
        named = set(re.findall(r"`([A-Za-z0-9]+)`", rows[name]))
        if not used and "set by the stack" not in rows[name]:
            problems.append(f"`{name}`: the stack sets it from its resources; say 'set by the stack'")
        for parameter in sorted(used - named):
            problems.append(f"`{name}` comes from `{parameter}`, which its row does not name")
    for name, cell in sorted(rows.items()):
        named = set(re.findall(r"`([A-Za-z0-9]+)`", cell))
        if not cell:
            problems.append(f"`{name}`: no stack parameter given (name one, or say none)")
        elif cell.startswith("set by"):
            continue
        elif named - parameters:
            problems.append(f"`{name}`: {sorted(named - parameters)} are not stack parameters")
        elif not named and cell.split()[0] not in ("none", "set"):
            problems.append(f"`{name}`: {cell!r} names no parameter, nor says none")
        elif name not in variables and named and not name.startswith("_"):
            problems.append(f"`{name}` names {sorted(named)}, but the stack does not set it")
    return problems


def test_every_variable_the_stack_sets_is_documented_with_its_parameters():
    template = load()
    problems = configuration_problems(read("docs/configuration.md"), stack_variables(template),
                                      set(template["Parameters"]))
    assert not problems, "\n".join(problems)


def test_a_setting_without_its_parameter_is_reported():
    table = ("| Variable | Default | Stack parameter | Meaning |\n|---|---|---|---|\n"
             "| `A_TOPIC` | | set by the stack | |\n| `WAIT` | `20` | | |\n| `WINDOW` | | none | |\n"
             "| `NAMESPACE` | | `Namespace` | |\n")
    variables = {"A_TOPIC": set(), "WAIT": {"WaitSeconds"}, "NAMESPACE": {"Namespace"}, "METRICS": {"Metrics"}}
    problems = configuration_problems(table, variables, {"WaitSeconds", "Namespace", "Metrics"})
    assert problems == ["`METRICS` is set by the stack but not in the table",
                        "`WAIT` comes from `WaitSeconds`, which its row does not name",
                        "`WAIT`: no stack parameter given (name one, or say none)"], problems


# ------------------------------------------------------------ errors table

def error_types(source):
    return set(re.findall(r'=>\s*"((?:Transient\.)?[A-Z][A-Za-z]+)"', source)) | set(
        re.findall(r'^\s*"((?:Transient\.)?[A-Z][A-Za-z]+)"\s*$', source, re.M))


def undocumented_errors(text, types):
    table = text[text.index("| `errorType` |"):] if "| `errorType` |" in text else ""
    return sorted(t for t in types if f"`{t}`" not in table)


def test_the_errors_table_lists_every_error_type():
    types = error_types(read("src/pipeline/error.rs"))
    assert {"Transient.InspectorUnavailable", "InspectorRequestRejected", "InvalidEvent"} <= types
    assert undocumented_errors(read("docs/operations.md"), types) == []


def test_a_missing_error_type_is_reported():
    text = "| `errorType` | When |\n|---|---|\n| `InvalidEvent` | bad |\n"
    assert undocumented_errors(text, {"InvalidEvent", "InspectorRequestRejected"}) == ["InspectorRequestRejected"]


# --------------------------------------------------------- the statements

# (document, words that must be there, why). Each is a statement an issue
# asked the docs to make; the words are what carries it.
STATEMENTS = [
    ("README.md", ["RegistryScanType=ENHANCED", "CONTINUOUS_SCAN", "until_fix", "never fires with basic scanning",
                   "charged per image scanned on push and per rescan"],
     "what each kind of alert needs, in the first screen"),
    ("docs/continuous-scanning.md", ["RegistryScanType=ENHANCED", "RegistryScanFrequency=CONTINUOUS_SCAN",
                                     "Amazon Inspector pricing", "each image scanned when it is pushed",
                                     "each rescan", "`until_fix` never fires with basic scanning",
                                     "no fixed-in version"],
     "enhanced continuous scanning and its cost"),
    ("docs/continuous-scanning.md", ["the larger of the item before and after the write", "write request unit",
                                     "Amazon DynamoDB pricing page", "at the time of writing",
                                     "20,000 images, 4,000 repositories and 4,000 accounts"],
     "the storm cost, re-derived"),
    ("docs/continuous-scanning.md", ["Only newly observed findings count", "first observed", "within the storm window",
                                     "INITIAL_SCAN_WINDOW_MINUTES", "push time is known", "never make a storm"],
     "what counts towards a storm"),
    ("docs/continuous-scanning.md", ["not seen running on ECS or EKS", "AWS Lambda", "EC2 or Docker hosts",
                                     "self-managed Kubernetes", "AWS App Runner"],
     "what in use can see"),
    ("docs/alerts.md", ["seen running on Amazon ECS or Amazon EKS", "AWS Lambda", "EC2 or Docker hosts",
                        "self-managed Kubernetes", "AWS App Runner"],
     "what the in_use attribute can see"),
    ("docs/security.md", ["delegated administrator", "`inspector2:ListFindings` on `*` returns every member account's findings"],
     "ListFindings in a delegated administrator account"),
    ("docs/security.md", ["`lambda:UpdateFunctionCode`", "`lambda:UpdateFunctionConfiguration`", "`iam:PutRolePolicy`",
                          "`iam:AttachRolePolicy`", "`iam:UpdateAssumeRolePolicy`", "`iam:PassRole`", "`iam:CreateRole`",
                          "`cloudformation:UpdateStack`"],
     "every action that reaches member findings"),
    ("docs/security.md", ["If your account is an Amazon Inspector delegated administrator account, EventBridge "
                          "publishes events to your account and the member account where the events originated",
                          "`SCOPE_ACCOUNT_IDS`", "never failed into the failure queue and never alerted"],
     "only this stack's accounts"),
    ("docs/organisation.md", ["`CentralIsInspectorAdministrator=true`", "in every region but `CentralRegion`",
                              "`ForwardInspectorEvents=false`"],
     "Inspector events forwarded per region"),
    ("docs/operations.md", ["never rewrites or deletes", "`PolicyParameterName`", "Retain",
                            "first deploy of this version changes the value once"],
     "the policy document is never overwritten, and the one-time upgrade"),
    ("docs/configuration.md", ["It also applies to a policy document without a `threshold`"],
     "the threshold of the document the stack creates"),
    ("docs/operations.md", ["`AlarmsReach`", "`AlertEmail`", "nobody: set OperationsEmail or subscribe to the operations topic"],
     "who hears the alarms"),
    ("docs/performance.md", ["AWS is localhost", "injects no latency", "`SSL_CERT_FILE`", "every trusted root",
                             "Amazon Linux 2023 CA bundle", "three fresh processes", "measured by the wave rows",
                             "system's whole bundle with the local stack's throwaway CA appended"],
     "the performance figures' conditions"),
]


def missing_words(text, words):
    text = flat(text)
    return [w for w in words if flat(w) not in text]


@pytest.mark.parametrize("doc, words, what", STATEMENTS, ids=[s[2] for s in STATEMENTS])
def test_the_docs_make_the_statement(doc, words, what):
    assert missing_words(read(doc), words) == [], f"{doc}: {what}"


def test_a_missing_statement_is_reported():
    assert missing_words("Storms cost\nwrite request units.", ["write request units", "larger of"]) == ["larger of"]


def test_the_alarm_fallback_the_docs_state_is_the_templates():
    """The output's sentence, word for word, is the template's."""
    nobody = Resolved(load()).outputs["AlarmsReach"]["Value"]
    assert nobody.startswith("nobody: set OperationsEmail or subscribe to the operations topic")


def test_the_bounds_the_docs_state_are_the_codes():
    storms = read("src/adapters/aws/storms.rs")
    bounds = {name: int(re.search(rf"pub const {name}: u64 = ([0-9_]+);", storms).group(1).replace("_", ""))
              for name in ("MAX_IMAGES", "MAX_REPOSITORIES", "MAX_ACCOUNTS", "MAX_REPOSITORY_IMAGES")}
    text = flat(read("docs/continuous-scanning.md"))
    assert (f"{bounds['MAX_IMAGES']:,} images, {bounds['MAX_REPOSITORIES']:,} repositories and "
            f"{bounds['MAX_ACCOUNTS']:,} accounts") in text
    assert f"{bounds['MAX_REPOSITORY_IMAGES']:,} images" in text


# ------------------------------------------------- what a deploy needs

DEPLOY_SERVICES = ["CloudFormation", "S3", "Lambda", "IAM", "SNS", "SQS", "EventBridge", "Systems Manager",
                   "DynamoDB", "CloudWatch Logs", "CloudWatch", "KMS", "ECR", "Amazon Q Developer in chat applications",
                   "iam:CreateServiceLinkedRole"]


def deploy_section(text):
    start = text.find("## What the deploying principal needs")
    if start < 0:
        return ""
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_what_a_deploy_needs_names_every_service_the_stack_uses():
    section = deploy_section(read("docs/operations.md"))
    assert missing_words(section, DEPLOY_SERVICES) == []
    # Every service the stack creates a resource of is named.
    types = {r["Type"].split("::")[1] for r in load()["Resources"].values() if isinstance(r, dict) and "Type" in r}
    names = {"Serverless": "Lambda", "Events": "EventBridge", "SSM": "Systems Manager", "Logs": "CloudWatch Logs",
             "Chatbot": "Amazon Q Developer in chat applications"}
    assert missing_words(section, sorted(names.get(t, t) for t in types)) == []


# ------------------------------------------------------------- wording

NOT_RUNNING = re.compile(r"\bnot (?:running|in use)\b", re.I)


def not_running_claims(text):
    """"not running" / "not in use" said of an image, other than "not seen
    running on ECS or EKS"."""
    return [m.group(0) for m in NOT_RUNNING.finditer(flat(text))]


@pytest.mark.parametrize("doc", [d for d in DOCS if d.name not in NOT_HERE and d.parent != ROOT / "events"], ids=rel)
def test_no_doc_says_an_image_is_not_running(doc):
    assert not_running_claims(doc.read_text(encoding="utf-8")) == []


def test_a_not_running_claim_is_reported():
    assert not_running_claims("lower those of images not in use; an image not seen running on ECS") == ["not in use"]


# Capitalised compound names the docs use as terms; any other such name
# must be a file of the repository: a cited source is one a reader can open
# (AWS's pages are cited by their titles).
KNOWN_TERMS = {"AES-GCM", "AWS-LC", "YYYY-MM-DD"}
COMPOUND = re.compile(r"\b[A-Z]{2,}(?:-[A-Z]{2,})+\b")


def unknown_sources(text, stems):
    return sorted({m for m in COMPOUND.findall(text) if m not in KNOWN_TERMS and m not in stems})


@pytest.mark.parametrize("doc", [d for d in DOCS if d.name not in NOT_HERE and d.parent != ROOT / "events"], ids=rel)
def test_every_source_the_docs_cite_is_in_the_repository_or_aws(doc):
    stems = {Path(p).stem for p in subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                                                   check=True).stdout.splitlines()}
    assert unknown_sources(doc.read_text(encoding="utf-8"), stems) == []


def test_a_source_outside_the_repository_is_reported():
    text = "Seen in practice (TEAM-NOTES); AWS-LC seeds its generator; see CHANGES-LOG."
    assert unknown_sources(text, {"CHANGES-LOG"}) == ["TEAM-NOTES"]
