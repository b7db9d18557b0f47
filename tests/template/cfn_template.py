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
    "AWS::URLSuffix": "amazonaws.com",
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


class Resolved:
    """The template with ForEach expanded, conditions evaluated, resources
    whose condition is false dropped, and parameter and pseudo parameter
    references resolved. References to resources stay as {"Ref": ...} and
    {"Fn::GetAtt": ...}."""

    def __init__(self, template, **overrides):
        self.raw = template
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
        if name in PSEUDO:
            return PSEUDO[name]
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


def wildcard_action_problems(resolved):
    problems = []
    for where, statement in policy_statements(resolved.resources, "Resources"):
        if "NotAction" in statement:
            problems.append(f"{where}: NotAction grants every other action")
        for action in as_list(statement.get("Action", [])):
            if isinstance(action, str) and "*" in action:
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


def own_check_problems(template, **overrides):
    resolved = Resolved(template, **overrides)
    return wildcard_action_problems(resolved) + repository_problems(resolved)
