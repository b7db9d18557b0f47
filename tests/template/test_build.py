"""`sam build` builds the functions from template.yaml through cargo-lambda:
the alert binary, deployed as the scan function and the findings function,
and the digest binary, deployed as the digest function. x86_64
here, because that is the Rust target this machine has; deployments default
to arm64 (see the README)."""

import os
import re
import struct
import subprocess

from cfn_template import ROOT, load
from linters import ENV, IAC_BIN, tool

EM_X86_64 = 0x3E
AL2023_GLIBC = (2, 34)


def test_sam_build_makes_an_x86_64_bootstrap_for_provided_al2023(tmp_path):
    target_dir = os.environ.get("CARGO_TARGET_DIR") or str(ROOT / "target")
    env = {
        **ENV,
        # cargo-lambda (and the Zig it links with) come from .venv.
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{ENV.get('PATH', '')}",
        # Its own target directory: no lock contention with the debug builds.
        "CARGO_TARGET_DIR": os.path.join(target_dir, "sam"),
    }
    build_dir = tmp_path / "build"
    done = subprocess.run(
        [tool(IAC_BIN / "sam"), "build", "--template-file", str(ROOT / "template.yaml"),
         "--language-extensions", "--parameter-overrides", "Architecture=x86_64",
         "--build-dir", str(build_dir), "--cache-dir", str(tmp_path / "cache")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    bootstrap = build_dir / "ScanFunction" / "bootstrap"
    assert bootstrap.is_file() and os.access(bootstrap, os.X_OK)
    binary = bootstrap.read_bytes()
    # The same binary for the two alert functions: the Handler alone tells
    # them apart. The digest's is its own, with the clients only it uses.
    findings = build_dir / "FindingsFunction" / "bootstrap"
    assert findings.is_file() and os.access(findings, os.X_OK)
    assert findings.read_bytes() == binary
    digest = build_dir / "DigestFunction" / "bootstrap"
    assert digest.is_file() and os.access(digest, os.X_OK)
    digest_binary = digest.read_bytes()
    assert digest_binary != binary
    for built_binary in (binary, digest_binary):
        assert built_binary[:4] == b"\x7fELF"
        (machine,) = struct.unpack_from("<H", built_binary, 18)
        assert machine == EM_X86_64
        # Lambda's provided.al2023 has glibc 2.34: a binary needing more would not start.
        needed = {tuple(map(int, v)) for v in re.findall(rb"GLIBC_(\d+)\.(\d+)", built_binary)}
        assert needed and max(needed) <= AL2023_GLIBC, sorted(needed)
    # Only the digest's binary holds the S3 and SQS clients.
    assert b"SendMessageBatch" in digest_binary and b"SendMessageBatch" not in binary

    # The built template is what `sam deploy` uploads: it points at the build.
    built = load(build_dir / "template.yaml")["Resources"]
    for name, handler in (("ScanFunction", "scan-events"), ("FindingsFunction", "finding-batches"),
                          ("DigestFunction", "digest")):
        assert built[name]["Properties"]["CodeUri"] == name
        assert built[name]["Properties"]["Handler"] == handler


def test_build_output_stays_out_of_git():
    # `make sam-build` writes .aws-sam/, cargo-lambda target/sam/.
    for path in (".aws-sam/build/template.yaml", "target/sam/lambda/ecr-scan-alerts/bootstrap",
                 ".venv-iac/bin/sam", ".venv-checkov/bin/checkov"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert ignored.returncode == 0, f"{path} is not ignored by git"
