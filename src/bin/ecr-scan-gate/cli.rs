//! The gate's command line, read with clap: every option also from an
//! `ECR_SCAN_GATE_*` environment variable, `--help` and `--version` on
//! stdout with exit 0, a bad argument named with exit 2.

use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::pipeline::gate::Budgets;
use ecr_scan_alerts::render::gate::Format;
use std::path::PathBuf;
use std::time::Duration;

/// What the exit status means, shown under `--help`.
const EXIT_STATUS: &str = "\
An enhanced (Amazon Inspector) scan is judged only when two consecutive reads
of its findings agree: its findings can lag its status.

Every option can also be set by its environment variable (shown in brackets).

Exit status: 0 pass, 1 policy violations (or a budget exceeded), 2 cannot
judge: image not covered by the policy's repositories or tags filters (0 with
--allow-uncovered), image or scan missing, scan failed, no current findings
(SCAN_ELIGIBILITY_EXPIRED, IMAGE_ARCHIVED, FINDINGS_UNAVAILABLE: not the same
as clean), no scan will start, scan older than --max-age, findings still
changing, AWS error, invalid policy or arguments.";

/// The command line, as clap reads it.
#[derive(Debug, clap::Parser)]
#[command(
    name = "ecr-scan-gate",
    version,
    about = "Applies the alerting policy to an image's scan findings, for CI.",
    after_help = EXIT_STATUS,
    group(clap::ArgGroup::new("image").required(true).args(["tag", "digest"]))
)]
struct Cli {
    /// The image's repository.
    #[arg(long, env = "ECR_SCAN_GATE_REPOSITORY", value_name = "NAME")]
    repository: String,
    /// The image's tag (resolved to its digest).
    #[arg(long, env = "ECR_SCAN_GATE_TAG")]
    tag: Option<String>,
    /// The image's digest.
    #[arg(long, env = "ECR_SCAN_GATE_DIGEST", value_name = "sha256:...", value_parser = parse_digest)]
    digest: Option<String>,
    /// Policy document (JSON, the Lambda's format); default: the threshold alone.
    #[arg(long = "policy", env = "ECR_SCAN_GATE_POLICY", value_name = "FILE")]
    policy_file: Option<String>,
    /// INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL; overrides the document's
    /// thresholds (default HIGH without a document).
    #[arg(long, env = "ECR_SCAN_GATE_THRESHOLD", value_name = "SEV", value_parser = parse_threshold)]
    threshold: Option<Severity>,
    /// Allow up to N CRITICAL findings at or above the threshold before failing.
    #[arg(long, env = "ECR_SCAN_GATE_MAX_CRITICAL", value_name = "N")]
    max_critical: Option<u64>,
    /// Allow up to N HIGH findings at or above the threshold before failing.
    #[arg(long, env = "ECR_SCAN_GATE_MAX_HIGH", value_name = "N")]
    max_high: Option<u64>,
    /// Allow up to N MEDIUM findings at or above the threshold before failing.
    #[arg(long, env = "ECR_SCAN_GATE_MAX_MEDIUM", value_name = "N")]
    max_medium: Option<u64>,
    /// Allow up to N LOW findings at or above the threshold before failing.
    #[arg(long, env = "ECR_SCAN_GATE_MAX_LOW", value_name = "N")]
    max_low: Option<u64>,
    /// Allow up to N INFORMATIONAL findings at or above the threshold before failing.
    #[arg(long, env = "ECR_SCAN_GATE_MAX_INFORMATIONAL", value_name = "N")]
    max_informational: Option<u64>,
    /// Poll until the scan is complete (progress on stderr); stops at once when
    /// the scanning configuration means no scan will start.
    #[arg(long, env = "ECR_SCAN_GATE_WAIT")]
    wait: bool,
    /// When the image has no scan and the registry uses basic scanning,
    /// start one (ECR StartImageScan) and wait for it.
    #[arg(long, env = "ECR_SCAN_GATE_START_SCAN")]
    start_scan: bool,
    /// Judge only a scan completed within this age (e.g. 12h, 7d, 3600s):
    /// an older basic scan is redone, an older enhanced scan fails (exit 2).
    #[arg(long, env = "ECR_SCAN_GATE_MAX_AGE", value_name = "DURATION", value_parser = parse_duration)]
    max_age: Option<Duration>,
    /// How long the gate may wait in all, in seconds: for the scan (--wait) and
    /// for enhanced findings to settle.
    #[arg(long, env = "ECR_SCAN_GATE_TIMEOUT", value_name = "SECS", default_value = "600", value_parser = parse_seconds)]
    timeout: Duration,
    /// Seconds between polls and between the two reads of an enhanced scan.
    #[arg(long, env = "ECR_SCAN_GATE_INTERVAL", value_name = "SECS", default_value = "5", value_parser = parse_seconds)]
    interval: Duration,
    /// Let an image the policy's `repositories` or `tags` filters leave out
    /// pass (exit 0); without it such an image exits 2: nothing was judged.
    #[arg(long, env = "ECR_SCAN_GATE_ALLOW_UNCOVERED")]
    allow_uncovered: bool,
    /// The repository tag that names the image's owner (as the stack's
    /// OwnerTagKey); without it, the policy's `owners` list, else `unowned`.
    #[arg(
        long,
        env = "ECR_SCAN_GATE_OWNER_TAG_KEY",
        value_name = "KEY",
        default_value = "owner"
    )]
    owner_tag_key: String,
    /// Output on stdout.
    #[arg(long, env = "ECR_SCAN_GATE_FORMAT", value_enum, default_value = "text")]
    format: Format,
    /// Also write FORMAT (text, json, sarif, junit, markdown, csv) to PATH; repeatable.
    #[arg(long = "output", env = "ECR_SCAN_GATE_OUTPUT", value_name = "FORMAT=PATH", value_parser = parse_output, value_delimiter = ',')]
    outputs: Vec<(Format, PathBuf)>,
    /// Append the markdown summary to PATH (a job summary, a PR comment body).
    #[arg(long, env = "ECR_SCAN_GATE_SUMMARY_FILE", value_name = "PATH")]
    summary_file: Option<PathBuf>,
    /// Append the markdown summary to GitHub Actions' job summary
    /// (the file $GITHUB_STEP_SUMMARY names).
    #[arg(long, env = "ECR_SCAN_GATE_STEP_SUMMARY")]
    step_summary: bool,
    /// Registry (account id) when it is not the caller's.
    #[arg(long, env = "ECR_SCAN_GATE_REGISTRY_ID", value_name = "ID")]
    registry_id: Option<String>,
    /// AWS Region of the registry (default: the AWS SDK's region chain).
    #[arg(long, env = "ECR_SCAN_GATE_REGION")]
    region: Option<String>,
    /// Named profile of the shared AWS config and credentials files.
    #[arg(long, env = "ECR_SCAN_GATE_PROFILE")]
    profile: Option<String>,
}

fn parse_digest(value: &str) -> Result<String, String> {
    if value.starts_with("sha256:") {
        Ok(value.to_string())
    } else {
        Err(format!("`{value}` is not sha256:<hex>"))
    }
}

fn parse_threshold(value: &str) -> Result<Severity, String> {
    value
        .parse::<Severity>()
        .ok()
        .filter(|s| s.is_ranked())
        .ok_or_else(|| format!("`{value}` is not INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL"))
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{value}` is not a positive number of seconds"))
}

/// `90s`, `30m`, `12h`, `7d`, or a bare number of seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let wrong = || {
        format!("`{value}` is not a duration: a positive number with s, m, h or d (e.g. 12h, 7d)")
    };
    let trimmed = value.trim();
    let (number, unit) = match trimmed.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&trimmed[..i], c.to_ascii_lowercase()),
        Some(_) => (trimmed, 's'),
        None => return Err(wrong()),
    };
    let n: u64 = number.parse().map_err(|_| wrong())?;
    let seconds = match unit {
        's' => Some(n),
        'm' => n.checked_mul(60),
        'h' => n.checked_mul(3_600),
        'd' => n.checked_mul(86_400),
        _ => None,
    };
    seconds
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(wrong)
}

fn parse_output(value: &str) -> Result<(Format, PathBuf), String> {
    use clap::ValueEnum;
    let (format, path) = value
        .split_once('=')
        .filter(|(_, path)| !path.is_empty())
        .ok_or_else(|| format!("`{value}` is not FORMAT=PATH (e.g. sarif=gate.sarif)"))?;
    let format = Format::from_str(format, true).map_err(|_| {
        format!(
            "`{format}` in `{value}` is not a format: text, json, sarif, junit, markdown or csv"
        )
    })?;
    Ok((format, PathBuf::from(path)))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub policy_file: Option<String>,
    pub threshold: Option<Severity>,
    pub budgets: Budgets,
    pub wait: bool,
    pub start_scan: bool,
    pub max_age: Option<Duration>,
    pub timeout: Duration,
    pub interval: Duration,
    /// `--allow-uncovered`.
    pub allow_uncovered: bool,
    /// `--owner-tag-key`.
    pub owner_tag_key: String,
    /// What goes to stdout.
    pub format: Format,
    /// Other formats, to files.
    pub outputs: Vec<(Format, PathBuf)>,
    /// Files the markdown summary is appended to.
    pub summary_files: Vec<PathBuf>,
    pub registry_id: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// Reads the command line (without the program name) and the options'
/// environment variables. The error is clap's: `--help` and `--version`
/// print to stdout and exit 0; a bad argument names it, shows the usage and
/// exits 2 (`clap::Error::exit`). `step_summary_path` is
/// `$GITHUB_STEP_SUMMARY`, for `--step-summary`.
pub fn parse_args(args: &[String], step_summary_path: Option<&str>) -> Result<Args, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    // An empty variable counts as unset: CI systems pass every input of an
    // action or template, empty when it was not given.
    let mut command = Cli::command();
    let empty: Vec<clap::Id> = command
        .get_arguments()
        .filter(|arg| {
            arg.get_env()
                .is_some_and(|name| std::env::var_os(name).is_some_and(|v| v.is_empty()))
        })
        .map(|arg| arg.get_id().clone())
        .collect();
    for id in empty {
        command = command.mut_arg(id, |arg| arg.env(None));
    }
    let matches = command.try_get_matches_from(
        std::iter::once("ecr-scan-gate").chain(args.iter().map(String::as_str)),
    )?;
    let cli = Cli::from_arg_matches(&matches)?;
    let mut summary_files: Vec<PathBuf> = cli.summary_file.into_iter().collect();
    if cli.step_summary {
        match step_summary_path.filter(|p| !p.is_empty()) {
            Some(path) => summary_files.push(PathBuf::from(path)),
            None => {
                return Err(Cli::command().error(
                    clap::error::ErrorKind::MissingRequiredArgument,
                    "--step-summary needs GITHUB_STEP_SUMMARY (set by GitHub Actions in each \
                     step); elsewhere use --summary-file PATH",
                ))
            }
        }
    }
    let mut budgets = Budgets::default();
    for (severity, max) in [
        (Severity::Critical, cli.max_critical),
        (Severity::High, cli.max_high),
        (Severity::Medium, cli.max_medium),
        (Severity::Low, cli.max_low),
        (Severity::Informational, cli.max_informational),
    ] {
        if let Some(max) = max {
            budgets.set(severity, max);
        }
    }
    Ok(Args {
        repository: cli.repository,
        tag: cli.tag,
        digest: cli.digest,
        policy_file: cli.policy_file,
        threshold: cli.threshold,
        budgets,
        wait: cli.wait,
        start_scan: cli.start_scan,
        max_age: cli.max_age,
        timeout: cli.timeout,
        interval: cli.interval,
        allow_uncovered: cli.allow_uncovered,
        owner_tag_key: cli.owner_tag_key,
        format: cli.format,
        outputs: cli.outputs,
        summary_files,
        registry_id: cli.registry_id,
        region: cli.region,
        profile: cli.profile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(
            &list.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            None,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_options() {
        let a = args(&[
            "--repository",
            "team/api",
            "--tag",
            "v1",
            "--threshold",
            "critical",
            "--wait",
            "--timeout",
            "30",
            "--interval",
            "2",
            "--format",
            "json",
        ])
        .unwrap();
        assert_eq!(a.repository, "team/api");
        assert_eq!(a.tag.as_deref(), Some("v1"));
        assert_eq!(a.threshold, Some(Severity::Critical));
        assert!(a.wait && a.format == Format::Json);
        assert_eq!(a.timeout, Duration::from_secs(30));
    }

    #[test]
    fn reads_outputs_budgets_and_ages() {
        let a = args(&[
            "--repository=r",
            "--digest=sha256:0",
            "--output",
            "sarif=out/gate.sarif",
            "--output=JUnit=junit.xml,markdown=summary.md,csv=findings.csv",
            "--max-high",
            "5",
            "--max-critical=0",
            "--max-age",
            "7d",
            "--start-scan",
            "--region",
            "eu-west-1",
            "--profile",
            "ci",
        ])
        .unwrap();
        assert_eq!(
            a.outputs,
            [
                (Format::Sarif, PathBuf::from("out/gate.sarif")),
                (Format::Junit, PathBuf::from("junit.xml")),
                (Format::Markdown, PathBuf::from("summary.md")),
                (Format::Csv, PathBuf::from("findings.csv")),
            ]
        );
        assert_eq!(a.budgets.get(Severity::High), Some(5));
        assert_eq!(a.budgets.get(Severity::Critical), Some(0));
        assert_eq!(a.budgets.get(Severity::Medium), None);
        assert_eq!(a.max_age, Some(Duration::from_secs(7 * 86_400)));
        assert!(a.start_scan);
        assert_eq!(a.region.as_deref(), Some("eu-west-1"));
        assert_eq!(a.profile.as_deref(), Some("ci"));
        assert!(a.summary_files.is_empty());
    }

    #[test]
    fn durations_read_as_people_write_them() {
        for (text, secs) in [
            ("90", 90),
            ("90s", 90),
            ("30m", 1_800),
            ("12h", 43_200),
            ("7D", 604_800),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        for bad in ["", "0h", "h", "7w", "-1d", "1.5h"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("is not a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_step_summary_is_the_file_github_names() {
        let argv: Vec<String> = ["--repository", "r", "--tag", "t", "--step-summary"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = parse_args(&argv, Some("/github/file_commands/step_summary_1")).unwrap();
        assert_eq!(
            a.summary_files,
            [PathBuf::from("/github/file_commands/step_summary_1")]
        );
        let err = parse_args(&argv, None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err
            .to_string()
            .contains("--step-summary needs GITHUB_STEP_SUMMARY"));
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        for (list, expected) in [
            (&["--tag", "v1"][..], "--repository <NAME>"),
            (
                &["--repository", "r"][..],
                "<--tag <TAG>|--digest <sha256:...>>",
            ),
            (
                &["--repository", "r", "--tag", "a", "--digest", "sha256:0"][..],
                "'--tag <TAG>' cannot be used with '--digest <sha256:...>'",
            ),
            (
                &["--repository", "r", "--digest", "abc"][..],
                "`abc` is not sha256:<hex>",
            ),
            (
                &["--repository", "r", "--tag", "a", "--threshold", "SEVERE"][..],
                "`SEVERE` is not INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL",
            ),
            (
                &["--repository", "r", "--tag", "a", "--format", "xml"][..],
                "invalid value 'xml' for '--format <FORMAT>'",
            ),
            (
                &["--repository", "r", "--tag", "a", "--output", "sarif"][..],
                "`sarif` is not FORMAT=PATH (e.g. sarif=gate.sarif)",
            ),
            (
                &["--repository", "r", "--tag", "a", "--output", "pdf=x.pdf"][..],
                "`pdf` in `pdf=x.pdf` is not a format: text, json, sarif, junit, markdown or csv",
            ),
            (
                &["--repository", "r", "--tag", "a", "--max-high", "many"][..],
                "invalid value 'many' for '--max-high <N>'",
            ),
            (
                &["--repository", "r", "--tag", "a", "--max-age", "soon"][..],
                "`soon` is not a duration",
            ),
            (
                &["--repository", "r", "--tag", "a", "--timeout", "0"][..],
                "`0` is not a positive number of seconds",
            ),
            (
                &["--repository", "r", "--tag", "a", "--frobnicate"][..],
                "unexpected argument '--frobnicate'",
            ),
            (
                &["--repository"][..],
                "a value is required for '--repository <NAME>'",
            ),
        ] {
            let err = args(list).unwrap_err();
            assert!(err.contains(expected), "{list:?}: {err}");
        }
    }

    #[test]
    fn help_and_version_are_answers_not_errors() {
        use clap::error::ErrorKind;
        let argv = |a: &str| vec![a.to_string()];
        let help = parse_args(&argv("--help"), None).unwrap_err();
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        assert_eq!(help.exit_code(), 0, "--help is not a failure");
        let text = help.to_string();
        assert!(
            text.contains("--repository <NAME>")
                && text.contains("[env: ECR_SCAN_GATE_REPOSITORY=]"),
            "{text}"
        );
        assert!(text
            .contains("Exit status: 0 pass, 1 policy violations (or a budget exceeded), 2 cannot"));
        let version = parse_args(&argv("--version"), None).unwrap_err();
        assert_eq!(version.kind(), ErrorKind::DisplayVersion);
        assert_eq!(version.exit_code(), 0);
        let bad = parse_args(&argv("--frobnicate"), None).unwrap_err();
        assert_eq!(bad.exit_code(), 2, "cannot judge");
    }
}
