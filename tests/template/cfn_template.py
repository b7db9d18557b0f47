"""Reads template.yaml the way CloudFormation would for a given set of
parameters: short-form tags, Fn::ForEach, conditions and the intrinsic
functions the template uses. Also holds the checks on the resolved template
(our own assertions), written as functions that return the problems found so
that they can be run on deliberately broken copies too."""

import copy
import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": "ecr-scan-alerts",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/ecr-scan-alerts/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "AWS::URLSuffix": "amazonaws.com",
}
# The other partitions every ARN the templates build must follow.
PARTITIONS = {
    "aws-cn": {"AWS::Partition": "aws-cn", "AWS::Region": "cn-north-1", "AWS::URLSuffix": "amazonaws.com.cn"},
    "aws-us-gov": {"AWS::Partition": "aws-us-gov", "AWS::Region": "us-gov-west-1", "AWS::URLSuffix": "amazonaws.com"},
}
NO_VALUE = object()


# -- reading -------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    pass


def _short_form(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _short_form)


def load(path=TEMPLATE):
    return yaml.load(Path(path).read_text(), Loader=_Loader)


def dump_json(template, path):
    """CloudFormation accepts JSON as well; the linters read it the same way."""
    Path(path).write_text(json.dumps(template, indent=1))
    return Path(path)


# -- resolving -----------------------------------------------------------------

def parameter_values(template, **overrides):
    """Defaults from the template, overridden; CommaDelimitedList as lists."""
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        raw = overrides.pop(name, spec.get("Default"))
        if raw is None:
            raise KeyError(f"parameter {name} has no default: pass it")
        raw = str(raw)
        values[name] = raw.split(",") if spec["Type"] == "CommaDelimitedList" else raw
    if overrides:
        raise KeyError(f"unknown parameters: {sorted(overrides)}")
    return values


def _logical_id_part(value):
    # &{Identifier} keeps only the alphanumeric characters (for logical ids).
    return re.sub(r"[^A-Za-z0-9]", "", value)


def _substitute(node, identifier, value):
    if isinstance(node, str):
        return node.replace("${" + identifier + "}", value).replace("&{" + identifier + "}", _logical_id_part(value))
    if isinstance(node, list):
        return [_substitute(item, identifier, value) for item in node]
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return value
        return {_substitute(k, identifier, value): _substitute(v, identifier, value) for k, v in node.items()}
    return node


def expand_for_each(node, params):
    """Replaces every Fn::ForEach::<loop> key by its copies, as the
    AWS::LanguageExtensions transform does."""
    if isinstance(node, list):
        return [expand_for_each(item, params) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if isinstance(key, str) and key.startswith("Fn::ForEach::"):
            identifier, collection, fragment = value
            if isinstance(collection, dict) and "Ref" in collection:
                collection = params[collection["Ref"]]
            for item in collection:
                out.update(expand_for_each(_substitute(fragment, identifier, item), params))
        else:
            out[key] = expand_for_each(value, params)
    return out


def merge_globals(global_value, local_value):
    """SAM's Globals merge: maps are merged key by key, lists are the global
    items followed by the local ones, anything else is the local value."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


class Resolved:
    """The template with ForEach expanded, conditions evaluated, resources
    whose condition is false dropped, parameter and pseudo parameter
    references resolved, and the Globals merged into the serverless
    functions (as the SAM transform does). References to resources stay as
    {"Ref": ...} and {"Fn::GetAtt": ...}."""

    def __init__(self, template, pseudo=None, **overrides):
        self.raw = template
        # Pseudo parameters (AWS::Partition, ...) other than the defaults.
        self.pseudo = {**PSEUDO, **(pseudo or {})}
        self.params = parameter_values(template, **overrides)
        expanded = expand_for_each(copy.deepcopy(template), self.params)
        self.conditions = expanded.get("Conditions", {})
        self.mappings = expanded.get("Mappings", {})
        self._cache = {}
        self.resources = {}
        for name, resource in expanded.get("Resources", {}).items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            self.resources[name] = self.resolve(resource)
        self.globals = self.resolve(expanded.get("Globals", {}))
        for resource in self.of_type("AWS::Serverless::Function").values():
            resource["Properties"] = merge_globals(self.globals.get("Function", {}), resource.get("Properties", {}))
        self.outputs = {
            name: self.resolve(output)
            for name, output in expanded.get("Outputs", {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }

    def condition(self, name):
        if name not in self._cache:
            self._cache[name] = bool(self.resolve(self.conditions[name]))
        return self._cache[name]

    def of_type(self, type_name):
        return {k: v for k, v in self.resources.items() if v["Type"] == type_name}

    def _ref(self, name):
        if name in self.params:
            return self.params[name]
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        return {"Ref": name}

    def _sub(self, arg):
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def one(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            value = self._ref(name)
            if isinstance(value, list):
                value = ",".join(value)
            return value if isinstance(value, str) else "${" + name + "}"

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def resolve(self, node):
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::Split":
                separator, text = arg
                return self.resolve(text).split(separator)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::FindInMap":
                name, top, second = (self.resolve(a) for a in arg)
                return copy.deepcopy(self.mappings[name][top][second])
        out = {}
        for key, value in node.items():
            value = self.resolve(value)
            if value is not NO_VALUE:
                out[key] = value
        return out


# -- our own checks ------------------------------------------------------------

def policy_statements(node, where="template"):
    """Every statement of every policy document anywhere in the node: IAM
    policies, key policies, topic and queue policies."""
    if isinstance(node, dict):
        if "Statement" in node and ("Version" in node or isinstance(node["Statement"], list)):
            statements = node["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                if isinstance(statement, dict):
                    yield where, statement
        for key, value in node.items():
            yield from policy_statements(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from policy_statements(item, f"{where}[{i}]")


def as_list(value):
    return value if isinstance(value, list) else [value]


# The one wildcard action allowed: the key policy statement AWS documents for
# a service principal that publishes to an encrypted topic (CloudWatch).
DOCUMENTED_SERVICE_KEY_ACTION = "kms:GenerateDataKey*"


def wildcard_action_problems(resolved):
    problems = []
    for where, statement in policy_statements(resolved.resources, "Resources"):
        if "NotAction" in statement:
            problems.append(f"{where}: NotAction grants every other action")
        # A Deny takes away, it grants nothing: the TLS-only statement AWS
        # documents denies "s3:*" without aws:SecureTransport (Amazon S3 User
        # Guide, "Security best practices for Amazon S3").
        if statement.get("Effect") == "Deny":
            continue
        for action in as_list(statement.get("Action", [])):
            documented = (action == DOCUMENTED_SERVICE_KEY_ACTION and "/KeyPolicy" in where
                          and "Service" in statement.get("Principal", {}))
            if isinstance(action, str) and "*" in action and not documented:
                problems.append(f"{where}: wildcard action {action}")
    # SAM policy templates and managed policies would hide their actions.
    for name, resource in resolved.of_type("AWS::Serverless::Function").items():
        if "Policies" in resource.get("Properties", {}):
            problems.append(f"{name}: Policies on the function (use the explicit role)")
    return problems


def lifecycle_rules(repository):
    text = repository["Properties"].get("LifecyclePolicy", {}).get("LifecyclePolicyText")
    return json.loads(text)["rules"] if text else None


def repository_problems(resolved):
    """What every repository the stack creates must have."""
    problems = []
    params = resolved.params
    patterns = [p for p in params["MutableTagPatterns"].split(",") if p]
    for name, repo in resolved.of_type("AWS::ECR::Repository").items():
        props = repo["Properties"]
        mutability = props.get("ImageTagMutability", "MUTABLE")
        exclusions = [f["ImageTagMutabilityExclusionFilterValue"]
                      for f in props.get("ImageTagMutabilityExclusionFilters", [])]
        if patterns:
            if mutability != "IMMUTABLE_WITH_EXCLUSION" or exclusions != patterns:
                problems.append(f"{name}: tags should be immutable except {patterns}, "
                                f"got {mutability} except {exclusions}")
        elif mutability != "IMMUTABLE" or exclusions:
            problems.append(f"{name}: tags should be IMMUTABLE, got {mutability} except {exclusions}")
        if props.get("ImageScanningConfiguration", {}).get("ScanOnPush") is not True:
            problems.append(f"{name}: ScanOnPush is not true")
        encryption = props.get("EncryptionConfiguration", {}).get("EncryptionType")
        if encryption != params["RepositoryEncryption"]:
            problems.append(f"{name}: encryption {encryption}, expected {params['RepositoryEncryption']}")
        rules = lifecycle_rules(repo)
        if not rules:
            problems.append(f"{name}: no lifecycle policy")
            continue
        problems += [f"{name}: {p}" for p in lifecycle_problems(rules, params)]
    return problems


def lifecycle_problems(rules, params):
    problems = []
    priorities = [r.get("rulePriority") for r in rules]
    if len(set(priorities)) != len(priorities) or not all(isinstance(p, int) and p >= 1 for p in priorities):
        problems.append(f"rule priorities must be distinct positive integers, got {priorities}")
    for rule in rules:
        if rule["selection"]["tagStatus"] == "any" and rule["rulePriority"] != max(priorities):
            problems.append("a tagStatus any rule must have the highest priority number")
        if rule["selection"]["tagStatus"] == "tagged" and not (
                rule["selection"].get("tagPatternList") or rule["selection"].get("tagPrefixList")):
            problems.append("a tagged rule needs tagPatternList or tagPrefixList")
        if rule.get("action") != {"type": "expire"}:
            problems.append(f"unexpected action {rule.get('action')}")
    untagged = [r["selection"] for r in rules if r["selection"]["tagStatus"] == "untagged"]
    tagged = [r["selection"] for r in rules if r["selection"]["tagStatus"] == "tagged"]
    expected_untagged = {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                         "countNumber": int(params["UntaggedExpiryDays"])}
    if untagged != [expected_untagged]:
        problems.append(f"untagged images should expire after {params['UntaggedExpiryDays']} days, got {untagged}")
    if [(s["countType"], s["countNumber"], s.get("tagPatternList")) for s in tagged] != [
            ("imageCountMoreThan", int(params["KeepTaggedImages"]), ["*"])]:
        problems.append(f"the newest {params['KeepTaggedImages']} tagged images should be kept, got {tagged}")
    return problems


def for_each_problems(template):
    """A Fn::ForEach loop named like a parameter (or a resource, or another
    loop) is refused by the AWS::LanguageExtensions transform ("loop name
    ... conflicts with parameter name", as `sam build` says): only the
    transform would find it, at deploy."""
    taken = set(template.get("Parameters", {})) | {
        k for k in template.get("Resources", {}) if not k.startswith("Fn::ForEach::")}
    problems, loops = [], set()
    for section in ("Resources", "Outputs", "Conditions"):
        for key in template.get(section, {}):
            if isinstance(key, str) and key.startswith("Fn::ForEach::"):
                name = key.removeprefix("Fn::ForEach::")
                if name in taken or name in loops:
                    problems.append(f"{section}: loop {key} is named like a parameter, resource or loop")
                loops.add(name)
    return problems


def own_check_problems(template, **overrides):
    resolved = Resolved(template, **overrides)
    return (wildcard_action_problems(resolved) + repository_problems(resolved)
            + central_problems(template, **overrides) + for_each_problems(template)
            + dashboard_problems(resolved))


# -- the dashboard and the metrics catalog -------------------------------------

CATALOG = ROOT / "metrics.json"
# Metric math functions an expression may call (upper case), as opposed to
# the ids of its widget's metrics (lower case first).
EXPRESSION_ID = re.compile(r"\b([a-z][A-Za-z0-9_]*)\b")


def metrics_catalog(path=CATALOG):
    """metrics.json's metrics by name."""
    return {entry["name"]: entry for entry in json.loads(Path(path).read_text())["metrics"]}


def dashboard_metrics(body):
    """(widget title, namespace, metric name, {dimension: value}) for every
    metric a dashboard body names; expressions are not metrics."""
    for widget in body.get("widgets", []):
        properties = widget.get("properties", {})
        for row in properties.get("metrics", []):
            items = [item for item in row if not isinstance(item, dict)]
            if items:
                namespace, name, *pairs = items
                yield properties.get("title"), namespace, name, dict(zip(pairs[::2], pairs[1::2]))


def dashboard_problems(resolved, catalog=None):
    """The dashboard names only metrics the functions emit: each is in the
    catalog, in the stack's metrics namespace, with one of the dimension
    sets it is always emitted with (not one a switch adds) and with values
    the catalog lists; each widget is in the stack's region, and each
    expression refers to metrics of its own widget. The body is JSON."""
    catalog = metrics_catalog() if catalog is None else catalog
    problems = []
    namespace, region = resolved.params["MetricsNamespace"], resolved.pseudo["AWS::Region"]
    for name, dashboard in resolved.of_type("AWS::CloudWatch::Dashboard").items():
        try:
            body = json.loads(dashboard["Properties"]["DashboardBody"])
        except (TypeError, ValueError) as error:
            problems.append(f"{name}: the body is no JSON document: {error}")
            continue
        for title, metric_namespace, metric, dimensions in dashboard_metrics(body):
            where = f"{name} {title!r}: {metric}"
            if metric_namespace == "...":
                problems.append(f"{where}: a `...` row (the checks read every row in full)")
                continue
            if metric_namespace != namespace:
                problems.append(f"{where}: namespace {metric_namespace!r}, the functions emit into {namespace!r}")
            entry = catalog.get(metric)
            if entry is None:
                problems.append(f"{where}: not a metric the functions emit (metrics.json)")
                continue
            if sorted(dimensions) not in [sorted(s) for s in entry["dimensions"]]:
                problems.append(f"{where}: by {sorted(dimensions)}, it is always emitted by {entry['dimensions']}")
            for key, value in dimensions.items():
                listed = entry.get("values", {}).get(key)
                if listed is not None and value not in listed:
                    problems.append(f"{where}: {key} {value!r} is never emitted ({listed})")
        for widget in body.get("widgets", []):
            properties = widget.get("properties", {})
            if widget.get("type") != "metric":
                continue
            if properties.get("region") != region:
                problems.append(f"{name} {properties.get('title')!r}: region {properties.get('region')!r}")
            rows = properties.get("metrics", [])
            ids = {item["id"] for row in rows for item in row if isinstance(item, dict) and "id" in item
                   and "expression" not in item}
            for row in rows:
                for item in row:
                    if isinstance(item, dict) and "expression" in item:
                        expression = item["expression"]
                        if "SEARCH" in expression:
                            problems.append(f"{name}: {expression!r}: a search names metrics these checks cannot read")
                        for used in set(EXPRESSION_ID.findall(expression)) - ids:
                            problems.append(f"{name} {properties.get('title')!r}: {expression!r} uses {used}, "
                                            "no metric of its widget")
    return problems


# -- least privilege across accounts and partitions ------------------------------

# Actions that have no resource-level permissions (Service Authorization
# Reference): "*" is the only Resource they take.
NO_RESOURCE_LEVEL = {
    "inspector2:ListFindings",
    "inspector2:ListCoverage",
    "inspector2:ListAccountPermissions",
    "inspector2:ListFindingAggregations",
    # Acts on the caller's registry, not on a repository.
    "ecr:GetRegistryScanningConfiguration",
    # The organisation's account list: no resource type.
    "organizations:ListAccounts",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
# The path of the central functions' roles: what member accounts trust.
FUNCTION_ROLE_PATH = "/ecr-scan-alerts/"
# The two functions (one binary), their Handler (the entry point the binary
# reads from _HANDLER) and their execution roles.
SCAN_FUNCTION, FINDINGS_FUNCTION, DIGEST_FUNCTION = "ScanFunction", "FindingsFunction", "DigestFunction"
HANDLERS = {SCAN_FUNCTION: "scan-events", FINDINGS_FUNCTION: "finding-batches", DIGEST_FUNCTION: "digest"}
ROLES = {SCAN_FUNCTION: "FunctionRole", FINDINGS_FUNCTION: "FindingsFunctionRole",
         DIGEST_FUNCTION: "DigestFunctionRole"}
# What the findings function must never be able to do: it takes its findings
# from the events, so it reads none; of ECR it reads repositories' owner
# tags, and it assumes member reader roles organisation-wide (for the tags).
FINDINGS_ROLE_FORBIDDEN = ("ecr:", "inspector2:", "sts:")
FINDINGS_ROLE_ALLOWED = {"ecr:listtagsforresource", "sts:assumerole"}
# Severities with a rank: the lowest threshold a policy document may ask
# for is INFORMATIONAL, so the finding rule must let all of them through.
RANKED_SEVERITIES = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]


def wildcard_resource_problems(resolved):
    """Resource "*" only in key policies (where it means the key) and for
    actions that take no other resource."""
    problems = []
    for where, statement in policy_statements(resolved.resources, "Resources"):
        if "*" not in as_list(statement.get("Resource", [])) or "/KeyPolicy" in where:
            continue
        broad = sorted(set(as_list(statement.get("Action", []))) - NO_RESOURCE_LEVEL)
        if broad:
            problems.append(f"{where}: Resource \"*\" for {broad}, which take narrower ARNs")
    return problems


def uncommented_wildcard_resources(path):
    """Each `Resource: "*"` in a template file has a comment in its statement
    (or on its line) saying why."""
    lines = Path(path).read_text().splitlines()
    problems = []
    for i, line in enumerate(lines):
        if not re.match(r"""\s*Resource:\s*["']\*["']""", line):
            continue
        indent = len(line) - len(line.lstrip())
        start = next((j for j in range(i - 1, -1, -1)
                      if lines[j].lstrip().startswith("- ") and len(lines[j]) - len(lines[j].lstrip()) == indent - 2),
                     i)
        if not any("#" in lines[j] for j in range(start, i + 1)):
            problems.append(f"{Path(path).name} line {i + 1}: Resource \"*\" without a comment saying why")
    return problems


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def partition_problems(template, **params):
    """No ARN written for the commercial partition alone: no literal
    `arn:aws:` in the template (ARNs, patterns, descriptions), and resolved in
    aws-cn and aws-us-gov, every ARN the stack builds (not the ARNs given as
    parameters) is in that partition."""
    problems = [f"literal {s!r}" for s in strings(template) if "arn:aws:" in s]
    for partition, pseudo in PARTITIONS.items():
        resolved = Resolved(template, pseudo=pseudo, **params)
        # An ARN given as a parameter is the caller's, in their partition.
        given = {v for v in resolved.params.values() if isinstance(v, str)}
        for text in strings([resolved.resources, resolved.outputs]):
            if text in given:
                continue
            # A given ARN quoted in a sentence (an output) is the caller's too.
            for value in sorted((v for v in given if v.startswith("arn:")), key=len, reverse=True):
                text = text.replace(value, "")
            for found in re.findall(r"arn:([A-Za-z0-9-]*):", text):
                if found != partition:
                    problems.append(f"{partition}: {text!r} is an ARN of partition {found!r}")
    return problems


def assume_role_problems(resolved):
    """sts:AssumeRole granted to the stack's roles names the accounts: a
    concrete account in the ARN, or a condition on the organisation
    (aws:ResourceOrgID) or the accounts (aws:ResourceAccount)."""
    problems = []
    for where, statement in policy_statements(resolved.resources, "Resources"):
        if "Principal" in statement or "sts:AssumeRole" not in as_list(statement.get("Action", [])):
            continue
        scoped = {k: v for k, v in statement.get("Condition", {}).get("StringEquals", {}).items()
                  if k in ("aws:ResourceOrgID", "aws:ResourceAccount") and [x for x in as_list(v) if x]}
        for resource in as_list(statement.get("Resource", [])):
            if not isinstance(resource, str) or re.search(r":iam::[0-9]{12}:role/", resource):
                continue
            if not scoped:
                problems.append(f"{where}: may assume {resource} in any account")
    return problems


def role_statements(resolved, role):
    """What a role of the stack may do: the statements of its inline
    policies and of every AWS::IAM::Policy attached to it (not its trust
    policy)."""
    props = resolved.resources[role]["Properties"]
    statements = [s for _, s in policy_statements(props.get("Policies", []))]
    for policy in resolved.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} in as_list(policy["Properties"]["Roles"]):
            statements += [s for _, s in policy_statements(policy)]
    return statements


def role_grants(resolved, role):
    """{action: [resources]} of the role's Allow statements."""
    grants = {}
    for statement in role_statements(resolved, role):
        if statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement.get("Action", [])):
            grants.setdefault(action, []).extend(as_list(statement.get("Resource", [])))
    return grants


def function_role_problems(resolved):
    """Both function roles are under the path member roles trust (each reads
    member accounts through their reader role: findings, or owner tags);
    the findings role reads nothing of ECR but repositories' tags and
    nothing of Inspector; no other role may assume roles at all."""
    problems = []
    for name in ROLES.values():
        role = resolved.resources.get(name)
        if role is None:
            continue
        path = role["Properties"].get("Path")
        if path != FUNCTION_ROLE_PATH:
            problems.append(f"{name} has path {path!r}, not {FUNCTION_ROLE_PATH!r} (what member roles trust)")
    findings = ROLES[FINDINGS_FUNCTION]
    if findings in resolved.resources:
        for action in role_grants(resolved, findings):
            lowered = str(action).lower()
            if lowered in FINDINGS_ROLE_ALLOWED:
                continue
            if lowered.startswith(FINDINGS_ROLE_FORBIDDEN) or "*" in lowered:
                problems.append(f"{findings} may {action}: the findings function reads no findings, "
                                "only repositories' owner tags")
    for name in resolved.of_type("AWS::IAM::Role"):
        if name not in ROLES.values() and any(str(a).lower() in ("sts:assumerole", "sts:*", "*")
                                              for a in role_grants(resolved, name)):
            problems.append(f"{name} may sts:AssumeRole: only the functions' roles may")
    return problems


def function_problems(resolved):
    """Each function is what its Handler says: the scan function takes the
    scan rule asynchronously, with retries and the failure queue; the
    findings function takes SQS batches with partial failures and has no
    asynchronous settings (nothing invokes it asynchronously). Each has its
    own error alarm."""
    functions = resolved.of_type("AWS::Serverless::Function")
    expected = set(HANDLERS) if DIGEST_FUNCTION in functions else set(HANDLERS) - {DIGEST_FUNCTION}
    if set(functions) != expected:
        return [f"functions {sorted(functions)}, expected {sorted(expected)}"]
    problems = []
    for name, handler in HANDLERS.items():
        if name not in functions:
            continue
        props = functions[name]["Properties"]
        if props.get("Handler") != handler:
            problems.append(f"{name} has Handler {props.get('Handler')!r}, not {handler!r}")
        if props.get("Role") != {"Fn::GetAtt": [ROLES[name], "Arn"]}:
            problems.append(f"{name} runs as {props.get('Role')}, not {ROLES[name]}")
    scan = functions[SCAN_FUNCTION]["Properties"]
    if {e["Type"] for e in scan.get("Events", {}).values()} != {"EventBridgeRule"}:
        problems.append(f"{SCAN_FUNCTION} takes {sorted(e['Type'] for e in scan.get('Events', {}).values())} "
                        "events, expected the scan rule only")
    on_failure = scan.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
    if on_failure.get("Destination") != {"Fn::GetAtt": ["FailureQueue", "Arn"]}:
        problems.append(f"{SCAN_FUNCTION} hands failed events to {on_failure or 'nothing'}, not FailureQueue")
    findings = functions[FINDINGS_FUNCTION]["Properties"]
    if "EventInvokeConfig" in findings:
        problems.append(f"{FINDINGS_FUNCTION} has an EventInvokeConfig: SQS retries and the dead-letter queue "
                        "handle its failures")
    events = list(findings.get("Events", {}).values())
    if [e["Type"] for e in events] != ["SQS"] or events[0]["Properties"].get("Queue") != {
            "Fn::GetAtt": ["FindingsQueue", "Arn"]}:
        problems.append(f"{FINDINGS_FUNCTION} should take FindingsQueue alone, got {events}")
    elif events[0]["Properties"].get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
        problems.append(f"{FINDINGS_FUNCTION}'s batches do not report item failures")
    alarmed = {str(d.get("Value")) for alarm in resolved.of_type("AWS::CloudWatch::Alarm").values()
               if alarm["Properties"].get("MetricName") == "Errors"
               for d in alarm["Properties"].get("Dimensions", []) if d.get("Name") == "FunctionName"}
    digest = functions.get(DIGEST_FUNCTION, {}).get("Properties")
    if digest is not None:
        on_failure = digest.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
        if on_failure.get("Destination") != {"Fn::GetAtt": ["FailureQueue", "Arn"]}:
            problems.append(f"{DIGEST_FUNCTION} hands failed runs to {on_failure or 'nothing'}, not FailureQueue")
        if digest.get("Events"):
            problems.append(f"{DIGEST_FUNCTION} takes events {sorted(digest['Events'])}: only its schedule starts it")
    for name in functions:
        if str({"Ref": name}) not in alarmed:
            problems.append(f"{name} has no Errors alarm")
    return problems


def finding_rule_problems(resolved):
    """The continuous-scanning rule lets every ranked severity through: a
    policy document may lower any repository's threshold to INFORMATIONAL."""
    rule = resolved.resources.get("FindingEventsRule")
    if rule is None:
        return []
    severities = rule["Properties"]["EventPattern"].get("detail", {}).get("severity")
    if severities is not None and not set(RANKED_SEVERITIES) <= set(as_list(severities)):
        return [f"FindingEventsRule drops severities {sorted(set(RANKED_SEVERITIES) - set(severities))}"]
    return []


def key_policy_problems(resolved):
    """A service principal may use a key only for this account's resources
    (aws:SourceAccount and aws:SourceArn: confused deputy)."""
    problems = []
    for name, key in resolved.of_type("AWS::KMS::Key").items():
        for statement in as_list(key["Properties"]["KeyPolicy"]["Statement"]):
            if "Service" not in statement.get("Principal", {}):
                continue
            condition = statement.get("Condition", {})
            account = condition.get("StringEquals", {}).get("aws:SourceAccount")
            source = condition.get("ArnLike", {}).get("aws:SourceArn") or condition.get("ArnEquals", {}).get(
                "aws:SourceArn")
            if account != resolved.pseudo["AWS::AccountId"] or not source:
                problems.append(f"{name}: {statement.get('Sid')} admits {statement['Principal']} "
                                f"without aws:SourceAccount and aws:SourceArn")
    return problems


def central_problems(template, **overrides):
    """The boundaries of the central stack (see docs/security.md)."""
    resolved = Resolved(template, **overrides)
    return (wildcard_resource_problems(resolved) + assume_role_problems(resolved)
            + function_role_problems(resolved) + function_problems(resolved) + finding_rule_problems(resolved)
            + key_policy_problems(resolved) + partition_problems(template, **overrides))


def references(node, conditions=None):
    """Parameters and pseudo parameters a node refers to (Ref, ${...}), and,
    given the template's `conditions`, those of the conditions its Fn::If
    and Condition choose by."""
    conditions = conditions or {}
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                yield value
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                yield from re.findall(r"\$\{([^}!.]+)\}", text)
                if not isinstance(value, str):
                    yield from references(value[1], conditions)
            elif key == "Fn::If":
                yield from references(conditions.get(value[0]), conditions)
                yield from references(value[1:], conditions)
            elif key == "Condition" and isinstance(value, str):
                yield from references(conditions.get(value), conditions)
            else:
                yield from references(value, conditions)
    elif isinstance(node, list):
        for item in node:
            yield from references(item, conditions)
