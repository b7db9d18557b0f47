"""Keeps an edited policy document across the one deploy that upgrades a
stack from a version whose template wrote the document's value.

Stacks deployed before the document became the user's created
`/<stack>/policy` with `{"version": 1, "threshold": "<SeverityThreshold>"}`.
The first deploy of a later version changes that value once, to
`{"version": 1}`, and would replace a document someone edited. `make deploy`
therefore runs

    python tools/keep_policy.py save --stack NAME     # before sam deploy
    python tools/keep_policy.py restore --stack NAME  # after it

`save` writes the parameter's value to .local/ when it is a document someone
edited (not the old template's own value); `restore` puts it back when the
deploy replaced it with the new template's `{"version": 1}`, and then
forgets it. Neither touches a parameter named in `PolicyParameterName` (the
stack never writes those), nor a stack that has no `/<stack>/policy`.

Credentials and region come from the usual AWS environment (and
AWS_ENDPOINT_URL, for a local emulator); --region overrides the region.
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAVED = ROOT / ".local" / "policy-before-deploy"
# What the stack's template writes now, and what older templates wrote.
NEW_TEMPLATE_VALUE = {"version": 1}
OLD_TEMPLATE_VALUE = re.compile(r'^\{"version": 1, "threshold": "[A-Z]+"\}$')


def parameter_name(stack):
    return f"/{stack}/policy"


def saved_path(stack):
    return SAVED / f"{stack}.json"


def current(ssm, name):
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def is_template_value(value):
    if OLD_TEMPLATE_VALUE.match(value.strip()):
        return True
    try:
        return json.loads(value) == NEW_TEMPLATE_VALUE
    except ValueError:
        return False


def save(ssm, stack):
    value = current(ssm, parameter_name(stack))
    path = saved_path(stack)
    if value is None or is_template_value(value):
        path.unlink(missing_ok=True)
        print(f"keep_policy: {parameter_name(stack)} holds no edited document: nothing to keep")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value)
    print(f"keep_policy: kept the edited document of {parameter_name(stack)} in {path}")
    return 0


def restore(ssm, stack):
    path = saved_path(stack)
    if not path.exists():
        return 0
    kept = path.read_text()
    name = parameter_name(stack)
    value = current(ssm, name)
    if value is not None and value != kept and is_template_value(value):
        ssm.put_parameter(Name=name, Value=kept, Type="String", Overwrite=True)
        print(f"keep_policy: the deploy replaced {name}; the edited document is back")
    path.unlink()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("save", "restore"))
    parser.add_argument("--stack", required=True)
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    import boto3

    ssm = boto3.client("ssm", region_name=args.region) if args.region else boto3.client("ssm")
    return (save if args.action == "save" else restore)(ssm, args.stack)


if __name__ == "__main__":
    sys.exit(main())
