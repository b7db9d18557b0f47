//! CI gate: applies the alerting policy to an image's scan findings.
//! Exit 0 pass, 1 policy violations (or a budget exceeded), 2 cannot judge
//! (an image the policy does not cover included, unless --allow-uncovered).

use ecr_scan_alerts::adapters::aws::ecr::EcrFindings;
use ecr_scan_alerts::domain::image::ImageRef;
use ecr_scan_alerts::domain::policy::Policy;
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::pipeline::gate::{self, GateError, Report};
use ecr_scan_alerts::render::gate as formats;

mod cli;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let step_summary = std::env::var("GITHUB_STEP_SUMMARY").ok();
    // --help and --version print to stdout and exit 0; a bad argument is
    // named on stderr with the usage, exit 2.
    let args = cli::parse_args(&argv, step_summary.as_deref()).unwrap_or_else(|e| e.exit());
    let result = run(&args).await.and_then(|mut report| {
        if args.allow_uncovered {
            report.allow_uncovered();
        }
        deliver(&args, &report)?;
        Ok(report)
    });
    match result {
        Ok(report) => {
            if report.not_covered() && !report.uncovered_allowed {
                eprintln!(
                    "ecr-scan-gate: {} is not covered by the policy: nothing was judged (exit 2; --allow-uncovered lets it pass)",
                    report.image_name()
                );
            }
            ExitCode::from(report.exit_code())
        }
        Err(e) => {
            eprintln!("ecr-scan-gate: {e}");
            let name = match (&args.tag, &args.digest) {
                (Some(tag), _) => format!("{}:{tag}", args.repository),
                (None, Some(digest)) => format!("{}@{digest}", args.repository),
                (None, None) => args.repository.clone(),
            };
            for path in &args.summary_files {
                if let Err(w) = append(path, &formats::markdown_error(&name, &e.to_string())) {
                    eprintln!("ecr-scan-gate: {w}");
                }
            }
            ExitCode::from(2)
        }
    }
}

async fn run(args: &cli::Args) -> Result<Report, GateError> {
    let mut policy = match &args.policy_file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| GateError::PolicyUnreadable {
                    path: path.into(),
                    source,
                })?;
            Policy::from_document(&text).map_err(|source| GateError::PolicyInvalid {
                path: path.into(),
                source,
            })?
        }
        None => Policy::new(args.threshold.unwrap_or(Severity::High))
            .with_threshold_origin("the default"),
    };
    if let Some(threshold) = args.threshold {
        policy = policy
            .with_threshold(threshold)
            .with_threshold_origin("--threshold");
    }
    let aws = ecr_scan_alerts::adapters::aws::load_config_for(
        args.region.clone(),
        args.profile.as_deref(),
    )
    .await;
    let Some(region) = aws.region().map(|r| r.to_string()) else {
        return Err(GateError::NoRegion);
    };
    let source = EcrFindings::new(aws_sdk_ecr::Client::new(&aws))
        .with_inspector(aws_sdk_inspector2::Client::new(&aws));
    // Without --registry-id, ECR uses the caller's own registry; its
    // account is the one DescribeImages names (the repository's ARN, for
    // its owner tag, needs it).
    let (digest, registry) = match (&args.digest, &args.tag) {
        (Some(d), _) if args.registry_id.is_some() => (d.clone(), None),
        (Some(d), _) => (
            d.clone(),
            source
                .registry_of(&args.repository, d)
                .await
                .map_err(GateError::Registry)?,
        ),
        (None, Some(tag)) => source
            .resolve_tag(args.registry_id.as_deref(), &args.repository, tag)
            .await
            .map_err(GateError::Registry)?
            .ok_or_else(|| GateError::TagNotFound {
                repository: args.repository.clone(),
                tag: tag.clone(),
            })?,
        (None, None) => unreachable!("parse_args requires --tag or --digest"),
    };
    let account = args.registry_id.clone().unwrap_or_default();
    let image = ImageRef {
        account,
        region,
        repository: args.repository.clone(),
        digest,
        tags: args.tag.iter().cloned().collect(),
    };
    let options = gate::Options {
        wait: args.wait,
        start_scan: args.start_scan,
        max_age: args.max_age,
        timeout: args.timeout,
        interval: args.interval,
        budgets: args.budgets.clone(),
        owner_tag_key: args.owner_tag_key.clone(),
        registry_account: registry,
    };
    gate::run(
        &source,
        &image,
        &policy,
        &options,
        chrono::Utc::now(),
        |line| eprintln!("{line}"),
    )
    .await
}

/// The report on stdout, in each `--output` file, appended to each summary file.
fn deliver(args: &cli::Args, report: &Report) -> Result<(), GateError> {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(args.format.render(report).as_bytes());
    let _ = stdout.flush();
    for (format, path) in &args.outputs {
        std::fs::write(path, format.render(report)).map_err(|source| GateError::WriteReport {
            format: format!("{format:?}"),
            path: path.clone(),
            source,
        })?;
    }
    for path in &args.summary_files {
        append(path, &formats::markdown(report))?;
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> Result<(), GateError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| GateError::AppendSummary {
            path: path.to_path_buf(),
            source,
        })
}
