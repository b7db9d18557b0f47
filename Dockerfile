# ecr-scan-gate, the CI gate, as a container image: the gate alone on a
# distroless base (no shell, no package manager), built from source.
#
# Three images come out of this file:
#
#   docker build .                      the last stage, `github-action`: what
#                                       action.yml runs, and what to push for
#                                       `uses: docker://...` in GitHub Actions
#   docker build --target gate .        the same binary as a non-root user, for
#                                       any runner that starts the gate itself
#                                       (Kubernetes, ECS, `docker run`)
#   docker build --target gate-shell .  non-root, with a busybox shell, for CI
#                                       systems that run a job's script inside
#                                       its image (GitLab CI)

# ---------------------------------------------------------------- build
# The repository's toolchain is Rust 1.95. Debian 12 (bookworm) matches the
# runtime images below, so the binary needs no newer glibc than they have.
FROM rust:1.95-bookworm AS build
WORKDIR /build
# Only what cargo reads to build: the manifest, the lockfile (--locked builds
# exactly the versions it names), the sources, and benches/ because
# Cargo.toml declares a [[bench]] target and cargo refuses a manifest whose
# declared target files are missing, even when building another target.
COPY Cargo.toml Cargo.lock ./
COPY src/ src/
COPY benches/ benches/
# The release profile (opt-level "s", LTO, one codegen unit, stripped) makes
# a small binary; it takes a few minutes to build.
RUN cargo build --locked --release --bin ecr-scan-gate

# ----------------------------------------------------------------- gate
# distroless/cc: glibc, libgcc_s (Rust's unwinder) and CA certificates; the
# gate links nothing else (TLS is rustls, in the binary, reading the system
# CA store). :nonroot runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS gate
LABEL org.opencontainers.image.title="ecr-scan-gate" \
      org.opencontainers.image.description="Applies the ecr-scan-alerts policy to an Amazon ECR image's scan findings, for CI" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /build/target/release/ecr-scan-gate /usr/local/bin/ecr-scan-gate
USER nonroot
# Exec form: there is no shell to run a command string.
ENTRYPOINT ["/usr/local/bin/ecr-scan-gate"]

# ----------------------------------------------------------- gate-shell
# GitLab's Docker executor runs the job's script with `sh` inside the job's
# image, so this variant adds distroless' busybox (on PATH as sh). Non-root
# works there: the runner makes the project directory writable for the
# image's user, where the reports are written.
FROM gcr.io/distroless/cc-debian12:debug-nonroot AS gate-shell
LABEL org.opencontainers.image.title="ecr-scan-gate" \
      org.opencontainers.image.description="Applies the ecr-scan-alerts policy to an Amazon ECR image's scan findings, for CI (with a busybox shell)" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /build/target/release/ecr-scan-gate /usr/local/bin/ecr-scan-gate
USER nonroot
ENTRYPOINT ["/usr/local/bin/ecr-scan-gate"]

# -------------------------------------------------------- github-action
# The last stage is the one GitHub builds for `image: Dockerfile`. GitHub
# runs a Docker action as the image's user with the job's workspace and the
# job summary file mounted from the runner, owned by the runner's own user:
# GitHub's Dockerfile rules say to run Docker actions as root. As uid 65532
# the gate could not write its reports into the workspace (--output) nor
# append to $GITHUB_STEP_SUMMARY. Root here is root in a container holding
# one binary, no shell and no package manager.
FROM gate AS github-action
USER root
