"""The gate's CI packaging stays true to the gate.

Over action.yml, examples/ci/*.yml, the Dockerfile (with .dockerignore) and
the gate's pages (docs/gate.md, README.md):

- action.yml is a valid GitHub Action, examples/ci/github-actions.yml a valid
  workflow and examples/ci/gitlab-ci.yml a valid GitLab CI file, under the
  SchemaStore schemas check-jsonschema vendors (harness/schemas.py; offline);
- each input of action.yml is an option of `ecr-scan-gate --help` (`summary`
  is --step-summary) passed as that option's ECR_SCAN_GATE_* variable in
  runs.env, and each option is an input (but --help, --version, --profile);
- every `--option` of a command line that runs ecr-scan-gate, in the example
  files and in code in the pages, every option named in an input's
  description, and every option in the option table of docs/gate.md, is one
  `--help` lists; a step that uses the action passes only inputs of
  action.yml, the required ones included;
- the Dockerfile: every FROM pinned to a tag (not `latest`) or a digest; the
  build runs `cargo build --locked --release --bin ecr-scan-gate`, a binary
  target of the package, after copying every file cargo needs for it to the
  same path under its WORKDIR; each image stage copies the binary from where
  that build puts it, runs it as its exec-form ENTRYPOINT and sets its
  USER: non-root, but for the last stage, the one GitHub builds for
  `image: Dockerfile`, which must run as root (GitHub mounts the workspace
  and the job summary owned by the runner's user; its Dockerfile rules say to
  run Docker actions as root); every path copied from the build context
  exists and is not left out by .dockerignore; each image's base provides
  every shared library `ldd` reports for the built gate.

The gate is the debug build `cargo test` makes (harness.local.built_binary;
CARGO_TARGET_DIR moves it). It links the same libraries as the release build
in the image: same dependencies, same kind of target. No image is built here
(no container engine in `make test`).

Each check is a plain function returning what it found wrong; the tests at
the end feed them broken files and see them report."""

import json
import posixpath
import re
import shutil
import subprocess
import textwrap
import tomllib
from pathlib import Path

import pytest
import yaml

from harness.local import built_binary
from harness.schemas import lint_action, lint_ci_file, lint_workflow

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CARGO_TOML = ROOT / "Cargo.toml"
EXAMPLES = ROOT / "examples" / "ci"
GITHUB_EXAMPLE = EXAMPLES / "github-actions.yml"
GITLAB_EXAMPLE = EXAMPLES / "gitlab-ci.yml"
GATE_DOC = ROOT / "docs" / "gate.md"
PAGES = (GATE_DOC, ROOT / "README.md")
GATE = "ecr-scan-gate"

# Options of the gate that are not inputs of the action, and why.
NOT_INPUTS = {
    "help": "prints help",
    "version": "prints the version",
    "step-summary": "the input `summary`",
    "profile": "a container step has no shared AWS config files",
}
# Inputs of the action named otherwise than their option.
INPUT_OPTIONS = {"summary": "step-summary"}

# What the runtime base images provide, by image name (without tag): the
# shared libraries of distroless/cc (glibc, libgcc_s, libstdc++).
GLIBC = ("libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1")
IMAGE_LIBRARIES = {
    "gcr.io/distroless/cc-debian12": (*GLIBC, "libgcc_s.so.1", "libstdc++.so.6"),
}
DYNAMIC_LOADER = re.compile(r"^ld-linux[\w.-]*\.so\.\d+$")
# Not files: the kernel maps it into every process.
VIRTUAL_LIBRARIES = re.compile(r"^linux-(?:vdso|gate)\d*\.so\.\d+$")


def rel(path):
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


# ------------------------------------------------------------ the gate's help

OPTION_LINE = re.compile(r"^\s+(?:-[A-Za-z], )?--([a-z][a-z0-9-]*)(.*)$")
ENV_NAME = re.compile(r"\[env: ([A-Z][A-Z0-9_]*)=")


def help_options(help_text):
    """{option: its environment variable or None}, from `--help`: one line
    per option, as clap prints them."""
    options = {}
    for line in help_text.splitlines():
        m = OPTION_LINE.match(line)
        if m:
            env = ENV_NAME.search(m.group(2))
            options[m.group(1)] = env.group(1) if env else None
    return options


@pytest.fixture(scope="module")
def gate_options():
    binary = built_binary(GATE)
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: build it first (cargo build --bin {GATE}, or make test)")
    done = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    options = help_options(done.stdout)
    assert {"repository", "tag", "help"} <= options.keys(), f"cannot read the options in:\n{done.stdout}"
    return options


# ------------------------------------------------------------------ action.yml

INPUT_EXPRESSION = re.compile(r"^\$\{\{\s*inputs\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$")
OPTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]+)")


def load_action(path=ACTION):
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def action_problems(action, options):
    """Inputs of an action (parsed action.yml) that are not an option of the
    gate passed as that option's variable, variables of runs.env that no
    help line names, and options named in descriptions that do not exist."""
    problems = []
    inputs = action.get("inputs") or {}
    env = (action.get("runs") or {}).get("env") or {}
    passes = {}  # input -> variables it is passed as
    for variable, value in env.items():
        m = INPUT_EXPRESSION.match(str(value).strip())
        if m:
            passes.setdefault(m.group(1), []).append(variable)
        if variable.startswith("ECR_SCAN_GATE_") and variable not in options.values():
            problems.append(f"runs.env: {variable} is not a variable of {GATE} --help")
    for name, spec in inputs.items():
        option = INPUT_OPTIONS.get(name, name)
        if option not in options:
            problems.append(f"input {name}: --{option} is not an option of {GATE}")
        elif passes.get(name) != [options[option]]:
            problems.append(f"input {name}: passed as {passes.get(name) or 'nothing'} in runs.env, "
                            f"not as {options[option]} (--{option})")
        for mentioned in OPTION.findall(str((spec or {}).get("description", ""))):
            if mentioned not in options:
                problems.append(f"input {name}: its description names --{mentioned}, not an option of {GATE}")
    for name in passes.keys() - inputs.keys():
        problems.append(f"runs.env passes inputs.{name}, which is not an input")
    return problems


def options_without_input(action, options):
    """Options of the gate that no input of the action sets."""
    covered = {INPUT_OPTIONS.get(name, name) for name in action.get("inputs") or {}}
    return sorted(set(options) - covered - NOT_INPUTS.keys())


# --------------------------------------------------- gate command lines in text

# A command starts a line (after a list dash, a prompt or a `run:`/`script:`
# key) or follows a shell operator; environment assignments and a directory
# may come before the program. `--bin ecr-scan-gate` or `src/bin/ecr-scan-gate.rs`
# do not run it.
GATE_CALL = re.compile(
    r"(?:^|&&|\|\||[;|(`]|\$\()[ \t]*"
    r"(?:(?:-|\$|>|run:|script:)[ \t]+)*"
    r"(?:[A-Za-z_][A-Za-z0-9_]*=\S*[ \t]+|(?:env|exec|time|command)[ \t]+)*"
    r"(?:[\w.~${}/-]*/)?" + re.escape(GATE) + r"(?![\w.:-])",
    re.M,
)
COMMAND_END = re.compile(r"&&|\|\||[;|)`]|[ \t]#")


def gate_commands(text):
    """(line number, options and arguments) of each command line running
    the gate in `text`: to the end of its line or a shell operator, with the
    lines continuing it (after a trailing backslash, or lines that start
    with an option, as a folded YAML scalar or aligned options go on). A
    bare `ecr-scan-gate` (a name in prose) is left out."""
    lines = text.split("\n")
    commands = []
    for m in GATE_CALL.finditer(text):
        number = text.count("\n", 0, m.end())
        rest = lines[number][m.end() - (text.rfind("\n", 0, m.end()) + 1):]
        parts = []
        while True:
            end = COMMAND_END.search(rest)
            part = (rest[:end.start()] if end else rest).rstrip()
            parts.append(part.removesuffix("\\"))
            number += 1
            if end or number >= len(lines):
                break
            if not (part.endswith("\\") or lines[number].lstrip().startswith("--")):
                break
            rest = lines[number]
        command = " ".join(" ".join(parts).split())
        if command:
            commands.append((text.count("\n", 0, m.end()) + 1, command))
    return commands


def unknown_options_in(where, text, options):
    """`--options` of command lines running the gate in `text` that the gate
    does not have."""
    problems = []
    for line, command in gate_commands(text):
        for name in OPTION.findall(command):
            if name not in options:
                problems.append(f"{where}:{line}: --{name} is not an option of {GATE}: {command}")
    return problems


FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)


def markdown_code(text):
    """(fenced blocks, inline spans) of a markdown text: blocks as (number of
    their first line, language, content), spans as (line number, content,
    whether the span is in a table row)."""
    lines = text.split("\n")
    blocks, prose, fence = [], [], None
    for number, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence, language, start, block = m.group(1), m.group(2).lower(), number + 1, []
            prose.append("")
        elif fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                blocks.append((start, language, "\n".join(block)))
                fence = None
            else:
                block.append(line)
            prose.append("")
        else:
            prose.append(line)
    if fence is not None:
        blocks.append((start, language, "\n".join(block)))
    prose_text = "\n".join(prose)
    spans = []
    for m in INLINE_CODE.finditer(prose_text):
        if re.search(r"\n\s*\n", m.group(2)):  # a span never crosses a paragraph
            continue
        line = prose_text.count("\n", 0, m.start()) + 1
        spans.append((line, " ".join(m.group(2).split()), prose[line - 1].lstrip().startswith("|")))
    return blocks, spans


def page_option_problems(doc, text, options, option_table=False):
    """Unknown options in gate command lines of a page's code (blocks and
    spans) and, with `option_table`, in table cells whose code starts with
    `--` (the option table of the gate's page)."""
    blocks, spans = markdown_code(text)
    problems = []
    for start, _, content in blocks:
        for line, command in gate_commands(content):
            for name in OPTION.findall(command):
                if name not in options:
                    problems.append(f"{rel(doc)}:{start + line - 1}: --{name} is not an option of {GATE}: {command}")
    for line, content, in_table in spans:
        names = [n for _, command in gate_commands(content) for n in OPTION.findall(command)]
        if option_table and in_table and content.startswith("--"):
            names += OPTION.findall(content)
        for name in dict.fromkeys(names):
            if name not in options:
                problems.append(f"{rel(doc)}:{line}: --{name} is not an option of {GATE}: `{content}`")
    return problems


# ------------------------------------------------------ steps using the action

ACTION_REF = re.compile(r"^(?:\.(?:/)?|[\w.-]+/ecr-scan-alerts(?:/)?@\S+)$")


def action_steps(document):
    """Every mapping in a parsed YAML document whose `uses` is this action
    (owner/ecr-scan-alerts@ref, or ./ in this repository)."""
    found = []
    if isinstance(document, dict):
        if isinstance(document.get("uses"), str) and ACTION_REF.match(document["uses"].strip()):
            found.append(document)
        for value in document.values():
            found += action_steps(value)
    elif isinstance(document, list):
        for value in document:
            found += action_steps(value)
    return found


def textual_action_steps(text):
    """Steps using the action in YAML that does not parse (a fragment with
    `...`): the keys under the `with:` of the step whose `uses:` is this
    action, by indentation."""
    lines = text.split("\n")
    found = []
    for number, line in enumerate(lines):
        m = re.match(r"^(\s*)(?:- )?uses:\s*(\S+)", line)
        if not m or not ACTION_REF.match(m.group(2)):
            continue
        indent = len(line) - len(line.lstrip(" -"))
        step, under_with, with_keys = {"uses": m.group(2)}, None, {}
        # The step's other keys: lines at the same indentation after it,
        # until a shallower line or the next list item.
        for other in lines[number + 1:]:
            if not other.strip() or other.lstrip().startswith("#"):
                continue
            depth = len(other) - len(other.lstrip(" "))
            if depth < indent:  # the next step, or the end of the steps
                break
            if depth == indent:
                under_with = other.strip().startswith("with:")
            elif under_with and depth > indent:
                key = re.match(r"^\s*([\w-]+):", other)
                if key and (not with_keys or depth == min(with_keys.values())):
                    with_keys[key.group(1)] = depth
        step["with"] = {key: None for key in with_keys}
        found.append(step)
    return found


def yaml_action_steps(text):
    try:
        return action_steps(yaml.safe_load(textwrap.dedent(text)))
    except yaml.YAMLError:
        return textual_action_steps(text)


def step_input_problems(where, steps, action):
    """`with:` keys of steps using the action that are not its inputs, and
    required inputs a step leaves out."""
    inputs = action.get("inputs") or {}
    required = {name for name, spec in inputs.items() if (spec or {}).get("required")}
    problems = []
    for step in steps:
        given = set((step.get("with") or {}).keys())
        for name in sorted(given - inputs.keys()):
            problems.append(f"{where}: step using {step['uses']} passes `{name}`, not an input of action.yml")
        for name in sorted(required - given):
            problems.append(f"{where}: step using {step['uses']} leaves out the required input `{name}`")
    return problems


# ----------------------------------------------------------------- Dockerfile

def dockerfile_instructions(text):
    """(line number, INSTRUCTION, arguments) of a Dockerfile: continuation
    lines joined, comments and parser directives dropped."""
    instructions, current, start = [], None, 0
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if current is None:
            if not stripped or stripped.startswith("#"):
                continue
            current, start = "", number
        elif stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, args = current.partition(" ")
        instructions.append((start, word.upper(), args.strip()))
        current = None
    if current:
        word, _, args = current.partition(" ")
        instructions.append((start, word.upper(), args.strip()))
    return instructions


def split_flags(args):
    """(--flags as {name: value}, the rest) of an instruction's arguments."""
    flags, words = {}, args.split()
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, words


def exec_form(args):
    """The JSON array of an exec-form instruction, or None (shell form)."""
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def dockerfile_stages(text):
    """The stages: dicts with line, base, name, parent (the stage it is
    FROM, or None), and its instructions; plus the global ARG defaults."""
    stages, global_args = [], {}
    for line, word, args in dockerfile_instructions(text):
        if word == "FROM":
            _, words = split_flags(args)
            base = words[0] if words else ""
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            known = {s["name"]: s for s in stages if s["name"]}
            stages.append({"line": line, "base": base, "name": name, "parent": known.get(base),
                           "instructions": []})
        elif not stages:
            if word == "ARG":
                name, _, default = args.partition("=")
                global_args[name.strip()] = default.strip().strip('"')
        else:
            stages[-1]["instructions"].append((line, word, args))
    return stages, global_args


def substitute(value, variables):
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: variables.get(m.group(1), m.group(0)), value)


def image_reference_problem(reference):
    """Why an image reference is not pinned, or None."""
    if "$" in reference:
        return "has an unresolved variable"
    if reference == "scratch":
        return None
    if re.search(r"@sha256:[0-9a-f]{64}$", reference):
        return None
    name = reference.rsplit("/", 1)[-1]
    if ":" not in name:
        return "has no tag (that is `latest`)"
    if name.rsplit(":", 1)[1] == "latest":
        return "is tagged `latest`"
    return None


def unpinned_images(text):
    stages, global_args = dockerfile_stages(text)
    problems = []
    for stage in stages:
        if stage["parent"] is not None:
            continue
        reference = substitute(stage["base"], global_args)
        why = image_reference_problem(reference)
        if why:
            problems.append(f"Dockerfile:{stage['line']}: FROM {stage['base']} {why}; pin a tag or a digest")
    return problems


def chain(stage):
    """The stage and the stages it is built FROM, nearest first."""
    while stage is not None:
        yield stage
        stage = stage["parent"]


def external_base(stage):
    return [s for s in chain(stage)][-1]["base"]


def effective(stage, word):
    """The last `word` instruction of the stage, or of the stages it is
    FROM: (line, arguments), or None."""
    for s in chain(stage):
        found = [(line, args) for line, w, args in s["instructions"] if w == word]
        if found:
            return found[-1]
    return None


def cargo_build_problems(text, cargo_toml_text, root=ROOT):
    """The build must run `cargo build --locked --release --bin <gate>`, and
    the gate must be a binary target of the package."""
    problems = []
    stages, _ = dockerfile_stages(text)
    builds = []
    for stage in stages:
        for line, word, args in stage["instructions"]:
            if word == "RUN" and re.search(r"\bcargo\s+build\b", args):
                builds.append((line, re.split(r"\s+|=", args)))
    wanted = [w for w in builds if {"--locked", "--release"} <= set(w[1])
              and any(a == "--bin" and b == GATE for a, b in zip(w[1], w[1][1:]))]
    if not wanted:
        problems.append(f"Dockerfile: no RUN cargo build --locked --release --bin {GATE} "
                        f"(found: {[' '.join(w) for _, w in builds] or 'no cargo build'})")
    manifest = tomllib.loads(cargo_toml_text)
    bins = {b.get("name") for b in manifest.get("bin", [])}
    if GATE not in bins and not any((root / "src" / "bin" / p).is_file() for p in (f"{GATE}.rs", f"{GATE}/main.rs")):
        problems.append(f"Cargo.toml: {GATE} is neither a [[bin]] target nor a file in src/bin/")
    return problems


def context_copies(stage):
    """(line, [sources..., destination]) of the COPY and ADD instructions of
    a stage that copy from the build context (no --from)."""
    copies = []
    for line, word, args in stage["instructions"]:
        if word not in ("COPY", "ADD"):
            continue
        flags, words = split_flags(args)
        if "from" in flags:
            continue
        parts = exec_form(args[args.index("["):]) if "[" in args and args.rstrip().endswith("]") else None
        parts = parts if parts is not None else words
        copies.append((line, parts))
    return copies


def target_files(manifest, root=ROOT):
    """The files cargo needs to read the manifest and build a binary: the
    manifest, the lockfile, the library and binaries, the build script, and
    every target declared in [[...]] sections (cargo refuses the manifest
    when a declared target's file is missing, whatever is built)."""
    files = ["Cargo.toml", "Cargo.lock"]
    package = manifest.get("package", {})
    lib = manifest.get("lib", {}).get("path", "src/lib.rs")
    if (root / lib).exists() or "lib" in manifest:
        files.append(lib)
    if (root / "src" / "main.rs").exists():
        files.append("src/main.rs")
    build = package.get("build", "build.rs" if (root / "build.rs").exists() else None)
    if isinstance(build, str):
        files.append(build)
    for section, folder in (("bin", "src/bin"), ("bench", "benches"), ("test", "tests"), ("example", "examples")):
        for target in manifest.get(section, []):
            if "path" in target:
                files.append(target["path"])
            else:
                name = target["name"]
                single = f"{folder}/{name}.rs"
                files.append(single if (root / single).exists() or not (root / folder / name / "main.rs").exists()
                             else f"{folder}/{name}/main.rs")
    return files


def workdir(stage):
    """The stage's working directory (its last WORKDIR, or its parent's)."""
    path = "/"
    for s in reversed(list(chain(stage))):
        for _, word, args in s["instructions"]:
            if word == "WORKDIR":
                path = posixpath.normpath(posixpath.join(path, args.strip()))
    return path


def copied_to(source, dest, path, cwd):
    """Where `COPY source dest` (run in `cwd`) puts the context file `path`,
    or None when it does not copy it."""
    source = posixpath.normpath(source)
    target_dir = posixpath.normpath(posixpath.join(cwd, dest))
    if source == ".":
        return posixpath.join(target_dir, path)
    if path == source:  # a file: into dest/ when dest is a directory
        into_directory = dest.endswith("/") or dest in (".", "./")
        return posixpath.join(target_dir, posixpath.basename(path)) if into_directory else target_dir
    if path.startswith(source + "/"):  # a directory: its contents into dest
        return posixpath.join(target_dir, path[len(source) + 1:])
    return None


def uncopied_cargo_files(text, cargo_toml_text, root=ROOT):
    """Files cargo needs (target_files) that the build stage does not copy to
    the same path under the directory where it runs cargo build."""
    stages, _ = dockerfile_stages(text)
    build = next((s for s in stages if any(w == "RUN" and "cargo build" in a for _, w, a in s["instructions"])), None)
    if build is None:
        return ["Dockerfile: no stage runs cargo build"]
    cwd = workdir(build)
    copies = [(src, srcs_dest[-1]) for s in chain(build) for _, srcs_dest in context_copies(s)
              for src in srcs_dest[:-1]]
    problems = []
    for path in target_files(tomllib.loads(cargo_toml_text), root):
        wanted = posixpath.join(cwd, path)
        if not any(copied_to(src, dest, path, cwd) == wanted for src, dest in copies):
            problems.append(f"Dockerfile: the build stage does not copy {path} to {wanted}, where cargo looks for it")
    return problems


def release_binary(stage):
    """Where `cargo build --release` in `stage` puts the gate."""
    target = posixpath.join(workdir(stage), "target")
    for s in reversed(list(chain(stage))):
        for _, word, args in s["instructions"]:
            m = re.match(r"^CARGO_TARGET_DIR[= ]\s*(\S+)$", args) if word == "ENV" else None
            if m:
                target = posixpath.join(workdir(s), m.group(1).strip('"'))
    return posixpath.join(target, "release", GATE)


def copied_binaries(stage, stages):
    """(line, problem or None, path in the image) of each COPY --from of the
    gate's binary in the stage or the stages it is FROM."""
    named = {s["name"]: s for s in stages if s["name"]}
    found = []
    for s in chain(stage):
        for line, word, args in s["instructions"]:
            flags, words = split_flags(args)
            if word != "COPY" or "from" not in flags or len(words) < 2:
                continue
            source, dest = words[-2], words[-1]
            if posixpath.basename(source) != GATE:
                continue
            origin = named.get(flags["from"])
            problem = None
            if origin is None or not any(w == "RUN" and "cargo build" in a for _, w, a in origin["instructions"]):
                problem = f"copies {source} from {flags['from']}, not from the stage that runs cargo build"
            elif posixpath.normpath(source) != release_binary(origin):
                problem = f"copies {source}, but cargo build puts the gate at {release_binary(origin)}"
            found.append((line, problem, posixpath.join(dest, GATE) if dest.endswith("/") else dest))
    return found


def is_root(user):
    return user.split(":")[0] in ("root", "0")


def runtime_problems(text, last_runs_as_root):
    """Every stage with an ENTRYPOINT (of its own or of the stage it is FROM)
    runs the copied gate in exec form and sets USER: non-root, but the last
    stage, which runs as root when `last_runs_as_root` (GitHub builds it for
    `image: Dockerfile`) and as non-root otherwise. The last stage must be
    such an image."""
    stages, _ = dockerfile_stages(text)
    problems = []
    if not stages:
        return ["Dockerfile: no FROM"]
    if effective(stages[-1], "ENTRYPOINT") is None:
        problems.append(f"Dockerfile:{stages[-1]['line']}: the last stage has no ENTRYPOINT")
    for index, stage in enumerate(stages):
        entrypoint = effective(stage, "ENTRYPOINT")
        if entrypoint is None:
            continue
        label = f"Dockerfile:{stage['line']}: stage {stage['name'] or index}"
        command = exec_form(entrypoint[1])
        binaries = copied_binaries(stage, stages)
        copied = [path for _, _, path in binaries]
        if not copied:
            problems.append(f"{label}: does not COPY the {GATE} binary from the build")
        own = {line for line, _, _ in stage["instructions"]}  # not again for a stage FROM it
        problems += [f"Dockerfile:{line}: {problem}" for line, problem, _ in binaries if problem and line in own]
        if not command:
            problems.append(f"{label}: ENTRYPOINT {entrypoint[1]} is not in exec form (there is no shell)")
        elif command[0] not in copied:
            problems.append(f"{label}: ENTRYPOINT runs {command[0]}, not the copied binary {copied}")
        user = effective(stage, "USER")
        last = index == len(stages) - 1
        if user is None:
            problems.append(f"{label}: sets no USER")
        elif last and last_runs_as_root and not is_root(user[1]):
            problems.append(f"{label}: runs as {user[1]}; GitHub builds the last stage for "
                            "`image: Dockerfile` and Docker actions must run as root")
        elif not (last and last_runs_as_root) and is_root(user[1]):
            problems.append(f"{label}: runs as root ({user[1]}); set a non-root USER")
    return problems


def dockerignore_patterns(text):
    """(excludes?, regex) for each pattern of a .dockerignore, in order:
    `!` re-includes, `**` spans directories, `*` and `?` do not cross `/`."""
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        pattern = re.sub(r"/+", "/", pattern).removeprefix("./")
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            elif pattern[i] == "[" and "]" in pattern[i + 1:]:
                end = pattern.index("]", i + 1)
                body = pattern[i + 1:end]
                out, i = out + "[" + ("^" + body[1:] if body[:1] in "!^" and body else body) + "]", end + 1
            elif pattern[i] == "\\" and i + 1 < len(pattern):
                out, i = out + re.escape(pattern[i + 1]), i + 2
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        patterns.append((not include, re.compile(out + r"\Z")))
    return patterns


def ignored(path, patterns):
    """Whether .dockerignore leaves `path` (relative, with /) out of the
    context: the last pattern matching it or a directory above it decides."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    verdict = False
    for excludes, regex in patterns:
        if any(regex.match(c) for c in candidates):
            verdict = excludes
    return verdict


def context_problems(text, dockerignore_text, root=ROOT):
    """Paths copied from the build context that do not exist or that
    .dockerignore leaves out (a directory: any file in it)."""
    stages, _ = dockerfile_stages(text)
    patterns = dockerignore_patterns(dockerignore_text)
    problems = []
    for stage in stages:
        for line, parts in context_copies(stage):
            for source in parts[:-1]:
                if source.startswith(("http://", "https://", "git@")):
                    continue
                pattern = source.strip("/")
                matches = sorted(root.glob(pattern)) if any(c in source for c in "*?[") else [root / pattern]
                matches = [m for m in matches if m.exists()] if source not in (".", "./") else [root]
                if not matches:
                    problems.append(f"Dockerfile:{line}: COPY {source}: no such path in the repository")
                    continue
                for match in matches:
                    if match == root:  # the whole context: what .dockerignore is for
                        continue
                    files = [match] if match.is_file() else [p for p in match.rglob("*") if p.is_file()]
                    left_out = [f.relative_to(root).as_posix() for f in files
                                if ignored(f.relative_to(root).as_posix(), patterns)]
                    if ignored(match.relative_to(root).as_posix(), patterns):
                        problems.append(f"Dockerfile:{line}: COPY {source}: .dockerignore leaves "
                                        f"{match.relative_to(root).as_posix()} out")
                    elif left_out:
                        problems.append(f"Dockerfile:{line}: COPY {source}: .dockerignore leaves out "
                                        f"{', '.join(left_out[:5])}")
    return problems


def linked_libraries(ldd_output):
    """The shared libraries' names in `ldd` output (none for a static
    binary), the kernel's virtual one left out."""
    names = []
    for line in ldd_output.splitlines():
        line = line.strip()
        if not line or "not a dynamic executable" in line or "statically linked" in line:
            continue
        name = Path(line.split()[0]).name
        if not VIRTUAL_LIBRARIES.match(name):
            names.append(name)
    return names


def missing_libraries(text, libraries):
    """For each image stage, the libraries the gate links that its base
    image does not provide."""
    stages, global_args = dockerfile_stages(text)
    problems = []
    for index, stage in enumerate(stages):
        if effective(stage, "ENTRYPOINT") is None:
            continue
        base = substitute(external_base(stage), global_args)
        image = re.sub(r"@sha256:[0-9a-f]+$", "", base)
        if ":" in image.rsplit("/", 1)[-1]:
            image = image.rsplit(":", 1)[0]
        provided = IMAGE_LIBRARIES.get(image)
        label = f"Dockerfile:{stage['line']}: stage {stage['name'] or index} ({base})"
        if provided is None:
            problems.append(f"{label}: which libraries this base image has is not known here (IMAGE_LIBRARIES)")
            continue
        lacking = [lib for lib in libraries if lib not in provided and not DYNAMIC_LOADER.match(lib)]
        if lacking:
            problems.append(f"{label}: the gate links {', '.join(lacking)}, which the image does not have")
    return problems


# ------------------------------------------------------------------- the tests

def test_action_yml_is_a_valid_github_action():
    assert lint_action(ACTION) == []


def test_the_github_actions_example_is_a_valid_workflow():
    assert lint_workflow(GITHUB_EXAMPLE) == []


def test_the_gitlab_example_is_a_valid_gitlab_ci_file():
    assert lint_ci_file(GITLAB_EXAMPLE, "gitlab-ci") == []


def test_every_input_is_a_gate_option_passed_as_its_variable(gate_options):
    problems = action_problems(load_action(), gate_options)
    assert not problems, "\n".join(problems)


def test_every_gate_option_is_an_input(gate_options):
    missing = options_without_input(load_action(), gate_options)
    assert not missing, (f"options of {GATE} without an input in action.yml: {missing} "
                         "(add the input and its runs.env variable, or list the option in NOT_INPUTS)")


def test_the_action_builds_this_dockerfile():
    runs = load_action()["runs"]
    assert runs["using"] == "docker" and runs["image"] == "Dockerfile", runs


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yml")) + [ACTION], ids=rel)
def test_every_option_of_a_gate_command_in_a_ci_file_exists(path, gate_options):
    problems = unknown_options_in(rel(path), path.read_text(encoding="utf-8"), gate_options)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", [d for d in PAGES if d.exists()], ids=rel)
def test_every_option_of_a_gate_command_in_the_docs_exists(doc, gate_options):
    problems = page_option_problems(doc, doc.read_text(encoding="utf-8"), gate_options,
                                    option_table=doc == GATE_DOC)
    assert not problems, "\n".join(problems)


def test_the_ci_files_run_the_gate():
    """The option checks above see the command lines (and would not pass
    vacuously on a file whose gate command they missed)."""
    assert gate_commands(GITLAB_EXAMPLE.read_text(encoding="utf-8"))
    steps = action_steps(yaml.safe_load(GITHUB_EXAMPLE.read_text(encoding="utf-8")))
    assert len(steps) == 1 and steps[0].get("with"), steps


def test_steps_using_the_action_pass_only_its_inputs():
    action = load_action()
    workflow = yaml.safe_load(GITHUB_EXAMPLE.read_text(encoding="utf-8"))
    problems = step_input_problems(rel(GITHUB_EXAMPLE), action_steps(workflow), action)
    for doc in PAGES:
        if not doc.exists():
            continue
        blocks, _ = markdown_code(doc.read_text(encoding="utf-8"))
        for start, language, content in blocks:
            if language in ("yaml", "yml") or "uses:" in content:
                problems += step_input_problems(f"{rel(doc)}:{start}", yaml_action_steps(content), action)
    assert not problems, "\n".join(problems)


def test_every_base_image_is_pinned():
    problems = unpinned_images(DOCKERFILE.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_image_builds_the_gate_release_binary_from_the_lockfile():
    problems = cargo_build_problems(DOCKERFILE.read_text(encoding="utf-8"), CARGO_TOML.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_build_stage_copies_every_file_cargo_needs():
    problems = uncopied_cargo_files(DOCKERFILE.read_text(encoding="utf-8"), CARGO_TOML.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_each_image_runs_the_copied_gate_as_the_right_user():
    last_runs_as_root = load_action()["runs"]["image"] == "Dockerfile"
    problems = runtime_problems(DOCKERFILE.read_text(encoding="utf-8"), last_runs_as_root)
    assert not problems, "\n".join(problems)


def test_every_copied_path_exists_and_is_in_the_build_context():
    problems = context_problems(DOCKERFILE.read_text(encoding="utf-8"), DOCKERIGNORE.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_build_context_leaves_out_local_state():
    patterns = dockerignore_patterns(DOCKERIGNORE.read_text(encoding="utf-8"))
    kept = [p for p in ("target/debug/x", ".venv/bin/python", ".venv-iac/x", ".local/x", ".git/HEAD")
            if not ignored(p, patterns)]
    assert not kept, f".dockerignore keeps {kept} in the build context"


def test_each_image_has_every_library_the_gate_links():
    ldd = shutil.which("ldd")
    if ldd is None:
        pytest.skip("ldd is not installed: cannot list the libraries the gate links")
    binary = built_binary(GATE)
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: build it first (cargo build --bin {GATE}, or make test)")
    done = subprocess.run([ldd, str(binary)], capture_output=True, text=True, timeout=60)
    libraries = linked_libraries(done.stdout + done.stderr)
    assert "libc.so.6" in libraries or not libraries, done.stdout
    problems = missing_libraries(DOCKERFILE.read_text(encoding="utf-8"), libraries)
    assert not problems, "\n".join(problems) + f"\n(ldd: {libraries})"


# ---------------------------------------------------- the checks catch mistakes

OPTIONS = {"repository": "ECR_SCAN_GATE_REPOSITORY", "tag": "ECR_SCAN_GATE_TAG",
           "wait": "ECR_SCAN_GATE_WAIT", "step-summary": "ECR_SCAN_GATE_STEP_SUMMARY",
           "help": None, "version": None}


def test_help_lines_give_options_and_their_variables():
    text = ("Usage: ecr-scan-gate [OPTIONS]\n\nOptions:\n"
            "      --repository <NAME>  The image's repository [env: ECR_SCAN_GATE_REPOSITORY=]\n"
            "      --wait               Poll (see --tag) [env: ECR_SCAN_GATE_WAIT=]\n"
            "  -h, --help               Print help\n"
            "An older scan fails (--max-age in prose is not an option line).\n")
    assert help_options(text) == {"repository": "ECR_SCAN_GATE_REPOSITORY", "wait": "ECR_SCAN_GATE_WAIT",
                                  "help": None}


def test_a_wrongly_mapped_or_unknown_input_is_reported():
    action = yaml.safe_load(textwrap.dedent("""\
        inputs:
          repository: {description: The repository (--repository)., required: true}
          tag: {description: See --tags.}
          wait: {description: Poll.}
          summary: {description: Job summary.}
          colour: {description: Not an option.}
        runs:
          using: docker
          image: Dockerfile
          env:
            ECR_SCAN_GATE_REPOSITORY: ${{ inputs.repository }}
            ECR_SCAN_GATE_TAG: ${{ inputs.wait }}
            ECR_SCAN_GATE_STEP_SUMMARY: ${{ inputs.summary }}
            ECR_SCAN_GATE_COLOUR: ${{ inputs.colour }}
            ECR_SCAN_GATE_EXTRA: ${{ inputs.extra }}
        """))
    problems = action_problems(action, OPTIONS)
    assert problems == [
        "runs.env: ECR_SCAN_GATE_COLOUR is not a variable of ecr-scan-gate --help",
        "runs.env: ECR_SCAN_GATE_EXTRA is not a variable of ecr-scan-gate --help",
        "input tag: passed as nothing in runs.env, not as ECR_SCAN_GATE_TAG (--tag)",
        "input tag: its description names --tags, not an option of ecr-scan-gate",
        "input wait: passed as ['ECR_SCAN_GATE_TAG'] in runs.env, not as ECR_SCAN_GATE_WAIT (--wait)",
        "input colour: --colour is not an option of ecr-scan-gate",
        "runs.env passes inputs.extra, which is not an input",
    ], problems
    assert options_without_input(action, {**OPTIONS, "region": None, "profile": None}) == ["region"]


def test_gate_commands_are_found_and_other_commands_ignored():
    text = textwrap.dedent("""\
        cargo build --release --bin ecr-scan-gate
        docker build --tag x . && ecr-scan-gate --repository a --tag b --wat | tee out
        $ ./target/release/ecr-scan-gate --repository a \\
            --digest sha256:1 --tag b
        script:
          - ecr-scan-gate --repository a --wait
            --outptu junit=x.xml
          - echo done --not-this
        run: ECR_SCAN_GATE_WAIT=true ecr-scan-gate --repository a  # --comment
        see src/bin/ecr-scan-gate.rs --nope and `ecr-scan-gate`'s help
        ecr-scan-gate:
          image: registry.example.com/ecr-scan-gate:1 --nope
        """)
    commands = gate_commands(text)
    assert commands == [
        (2, "--repository a --tag b --wat"),
        (3, "--repository a --digest sha256:1 --tag b"),
        (6, "--repository a --wait --outptu junit=x.xml"),
        (9, "--repository a"),
    ], commands
    problems = unknown_options_in("x.yml", text, OPTIONS)
    assert len(problems) == 3, problems
    assert problems[0].startswith("x.yml:2: --wat ") and problems[1].startswith("x.yml:3: --digest ")
    assert problems[2].startswith("x.yml:6: --outptu ")


def test_an_unknown_option_in_a_page_is_reported(tmp_path):
    doc = tmp_path / "gate.md"
    text = textwrap.dedent("""\
        Build it with `cargo build --release --bin ecr-scan-gate` (not checked).

        ```sh
        ecr-scan-gate --repository team/api --tag "$SHA" --wiat
        ```

        Run `ecr-scan-gate --repository a --tagg b`; `--wait` in prose is not checked.

        | Option | Meaning |
        |---|---|
        | `--repository NAME` | Required |
        | `--max-crit N` | Budget |
        """)
    problems = page_option_problems(doc, text, OPTIONS, option_table=True)
    assert len(problems) == 3, problems
    assert ":4: --wiat" in problems[0] and ":7: --tagg" in problems[1] and ":12: --max-crit" in problems[2]
    assert len(page_option_problems(doc, text, OPTIONS)) == 2


def test_a_step_passing_a_non_input_or_leaving_out_a_required_one_is_reported():
    action = {"inputs": {"repository": {"description": "r", "required": True}, "tag": {"description": "t"}}}
    parsed = textwrap.dedent("""\
        steps:
          - uses: example-org/ecr-scan-alerts@v1
            with: {repository: a, tags: b}
          - uses: actions/checkout@v4
            with: {fetch-depth: 0}
          - uses: ./
            with: {tag: b}
        """)
    problems = step_input_problems("w.yml", yaml_action_steps(parsed), action)
    assert problems == [
        "w.yml: step using example-org/ecr-scan-alerts@v1 passes `tags`, not an input of action.yml",
        "w.yml: step using ./ leaves out the required input `repository`",
    ], problems
    fragment = textwrap.dedent("""\
        steps:
          ...
          - name: Gate
            uses: example-org/ecr-scan-alerts@v1
            with:
              repository: a
              max-critcal: 0
          - uses: actions/checkout@v4
            with:
              ref: main
        """)
    problems = step_input_problems("doc.md", yaml_action_steps(fragment), action)
    assert problems == ["doc.md: step using example-org/ecr-scan-alerts@v1 passes `max-critcal`, "
                        "not an input of action.yml"], problems


BROKEN_DOCKERFILE = textwrap.dedent("""\
    ARG RUST=rust:1.95
    FROM ${RUST} AS build
    WORKDIR /b
    COPY Cargo.toml ./
    COPY src/ ./
    COPY missing/ missing/
    COPY target/debug/ecr-scan-gate ./
    RUN cargo build --release \\
        --bin ecr-scan-gate
    FROM debian AS base
    FROM gcr.io/distroless/cc-debian12:latest AS gate
    COPY --from=build /b/target/release/ecr-scan-gate /usr/local/bin/
    ENTRYPOINT /usr/local/bin/ecr-scan-gate
    FROM example.com/img@sha256:%s AS other
    COPY --from=base /b/target/debug/ecr-scan-gate /gate
    USER root
    ENTRYPOINT ["/usr/bin/ecr-scan-gate"]
    FROM gate AS action
    USER nonroot
    """) % ("0" * 64)


def test_an_unpinned_base_image_is_reported():
    problems = unpinned_images(BROKEN_DOCKERFILE)
    assert problems == [
        "Dockerfile:10: FROM debian has no tag (that is `latest`); pin a tag or a digest",
        "Dockerfile:11: FROM gcr.io/distroless/cc-debian12:latest is tagged `latest`; pin a tag or a digest",
    ], problems
    assert unpinned_images("FROM $BASE\n") == ["Dockerfile:1: FROM $BASE has an unresolved variable; pin a tag or a digest"]
    assert unpinned_images("FROM registry.local:5000/rust\n") != []
    assert unpinned_images("FROM registry.local:5000/rust:1.95\n") == []


def test_a_build_without_the_lockfile_or_the_gate_target_is_reported(tmp_path):
    problems = cargo_build_problems(BROKEN_DOCKERFILE, '[package]\nname = "x"\n', root=tmp_path)
    assert len(problems) == 2, problems
    assert "no RUN cargo build --locked --release --bin ecr-scan-gate" in problems[0]
    assert "neither a [[bin]] target" in problems[1]
    assert cargo_build_problems(BROKEN_DOCKERFILE.replace("--release", "--locked --release"),
                                '[[bin]]\nname = "ecr-scan-gate"\n', root=tmp_path) == []


def test_a_file_cargo_needs_that_is_not_copied_where_it_looks_is_reported(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text("")
    (tmp_path / "src" / "lib.rs").write_text("")
    manifest = '[package]\nname = "x"\n\n[[bench]]\nname = "pipeline"\n\n[[bin]]\nname = "tool"\npath = "tools/tool.rs"\n'
    problems = uncopied_cargo_files(BROKEN_DOCKERFILE, manifest, root=tmp_path)
    assert [p.split(" to ")[0].rsplit(" ", 1)[1] for p in problems] == [
        "Cargo.lock", "src/lib.rs", "src/main.rs", "tools/tool.rs", "benches/pipeline.rs"], problems
    assert problems[1] == "Dockerfile: the build stage does not copy src/lib.rs to /b/src/lib.rs, where cargo looks for it"
    fixed = BROKEN_DOCKERFILE.replace("COPY src/ ./", "COPY src/ src/\nCOPY Cargo.lock ./\nCOPY tools/ ./\nCOPY benches benches")
    assert uncopied_cargo_files(fixed, manifest, root=tmp_path) == [  # tools/'s contents went into ./
        "Dockerfile: the build stage does not copy tools/tool.rs to /b/tools/tool.rs, where cargo looks for it"]
    assert uncopied_cargo_files(fixed.replace("COPY tools/ ./", "COPY tools/ tools/"), manifest, root=tmp_path) == []


def test_a_wrong_entrypoint_user_or_binary_is_reported():
    problems = runtime_problems(BROKEN_DOCKERFILE, last_runs_as_root=True)
    assert problems == [
        "Dockerfile:11: stage gate: ENTRYPOINT /usr/local/bin/ecr-scan-gate is not in exec form (there is no shell)",
        "Dockerfile:11: stage gate: sets no USER",
        "Dockerfile:15: copies /b/target/debug/ecr-scan-gate from base, not from the stage that runs cargo build",
        "Dockerfile:14: stage other: ENTRYPOINT runs /usr/bin/ecr-scan-gate, not the copied binary ['/gate']",
        "Dockerfile:14: stage other: runs as root (root); set a non-root USER",
        "Dockerfile:18: stage action: ENTRYPOINT /usr/local/bin/ecr-scan-gate is not in exec form (there is no shell)",
        "Dockerfile:18: stage action: runs as nonroot; GitHub builds the last stage for `image: Dockerfile` "
        "and Docker actions must run as root",
    ], problems
    assert runtime_problems("FROM a:1 AS build\nRUN true\n", last_runs_as_root=False) == [
        "Dockerfile:1: the last stage has no ENTRYPOINT"]
    not_for_github = BROKEN_DOCKERFILE.replace("USER nonroot", "USER 0:0")
    assert ("Dockerfile:18: stage action: runs as root (0:0); set a non-root USER"
            in runtime_problems(not_for_github, last_runs_as_root=False))
    elsewhere = textwrap.dedent("""\
        FROM rust:1.95 AS build
        WORKDIR /src
        RUN cargo build --locked --release --bin ecr-scan-gate
        FROM gcr.io/distroless/cc-debian12:nonroot
        COPY --from=build /build/target/release/ecr-scan-gate /usr/local/bin/ecr-scan-gate
        USER nonroot
        ENTRYPOINT ["/usr/local/bin/ecr-scan-gate"]
        """)
    assert runtime_problems(elsewhere, last_runs_as_root=False) == [
        "Dockerfile:5: copies /build/target/release/ecr-scan-gate, but cargo build puts the gate at "
        "/src/target/release/ecr-scan-gate"]
    moved = elsewhere.replace("WORKDIR /src\n", "WORKDIR /build\nENV CARGO_TARGET_DIR=/cache\n")
    assert "puts the gate at /cache/release/ecr-scan-gate" in runtime_problems(moved, last_runs_as_root=False)[0]
    assert runtime_problems(moved.replace("/build/target/", "/cache/"), last_runs_as_root=False) == []


def test_a_copied_path_that_is_missing_or_ignored_is_reported(tmp_path):
    (tmp_path / "src" / "bin").mkdir(parents=True)
    (tmp_path / "src" / "bin" / "ecr-scan-gate.rs").write_text("")
    (tmp_path / "src" / "lib.rs").write_text("")
    (tmp_path / "target" / "debug").mkdir(parents=True)
    (tmp_path / "target" / "debug" / "ecr-scan-gate").write_text("")
    (tmp_path / "Cargo.toml").write_text("")
    problems = context_problems(BROKEN_DOCKERFILE, "target/\nsrc/**/*.rs\n!src/lib.rs\n", root=tmp_path)
    assert problems == [
        "Dockerfile:5: COPY src/: .dockerignore leaves out src/bin/ecr-scan-gate.rs",
        "Dockerfile:6: COPY missing/: no such path in the repository",
        "Dockerfile:7: COPY target/debug/ecr-scan-gate: .dockerignore leaves target/debug/ecr-scan-gate out",
    ], problems


def test_dockerignore_patterns_match_as_docker_does():
    patterns = dockerignore_patterns("# comment\n/target/\n.venv*\n**/__pycache__\n*.md\n!README.md\n")
    assert ignored("target/release/x", patterns) and ignored(".venv-iac/bin/x", patterns)
    assert ignored("harness/__pycache__/a.pyc", patterns) and ignored("NOTES.md", patterns)
    assert not ignored("README.md", patterns) and not ignored("docs/gate.md", patterns)
    assert not ignored("src/target.rs", patterns) and not ignored("src/main.rs", patterns)


def test_a_library_the_image_lacks_is_reported():
    ldd = textwrap.dedent("""\
        \tlinux-vdso.so.1 (0x00007ffd)
        \tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f1)
        \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f2)
        \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3)
        \t/lib64/ld-linux-x86-64.so.2 (0x00007f4)
        """)
    libraries = linked_libraries(ldd)
    assert libraries == ["libssl.so.3", "libgcc_s.so.1", "libc.so.6", "ld-linux-x86-64.so.2"]
    dockerfile = textwrap.dedent("""\
        FROM rust:1.95-bookworm AS build
        FROM gcr.io/distroless/cc-debian12:nonroot AS gate
        ENTRYPOINT ["/gate"]
        FROM gate AS action
        FROM gcr.io/distroless/static-debian12:nonroot@sha256:%s AS static
        ENTRYPOINT ["/gate"]
        """) % ("0" * 64)
    problems = missing_libraries(dockerfile, libraries)
    assert problems == [
        "Dockerfile:2: stage gate (gcr.io/distroless/cc-debian12:nonroot): the gate links libssl.so.3, "
        "which the image does not have",
        "Dockerfile:4: stage action (gcr.io/distroless/cc-debian12:nonroot): the gate links libssl.so.3, "
        "which the image does not have",
        f"Dockerfile:5: stage static (gcr.io/distroless/static-debian12:nonroot@sha256:{'0' * 64}): which "
        "libraries this base image has is not known here (IMAGE_LIBRARIES)",
    ], problems
    assert linked_libraries("\tnot a dynamic executable\n") == []
