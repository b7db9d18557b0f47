//! CI gate: applies the alerting policy to an image's scan findings.
//! Exit 0 pass, 1 policy violations, 2 cannot judge.

use ecr_scan_alerts::adapters::aws::ecr::EcrFindings;
use ecr_scan_alerts::domain::image::ImageRef;
use ecr_scan_alerts::domain::policy::Policy;
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::pipeline::gate::{self, GateError};
use std::process::ExitCode;
use std::time::Instant;

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // --help and --version print to stdout and exit 0; a bad argument is
    // named on stderr with the usage, exit 2.
    let args = gate::parse_args(&argv).unwrap_or_else(|e| e.exit());
    match run(args).await {
        Ok(report) => {
            if report.0 {
                println!("{}", report.1);
            } else {
                print!("{}", report.1);
            }
            ExitCode::from(if report.2 { 0 } else { 1 })
        }
        Err(e) => {
            eprintln!("ecr-scan-gate: {e}");
            ExitCode::from(2)
        }
    }
}

/// (json?, output, passed?)
async fn run(args: gate::Args) -> Result<(bool, String, bool), GateError> {
    // --timeout bounds the whole run: waiting for the scan and for an
    // enhanced scan's findings to settle.
    let deadline = Instant::now() + args.timeout;
    let mut policy = match &args.policy_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| GateError(format!("reading the policy {path}: {e}")))?;
            Policy::from_document(&text).map_err(|e| GateError(format!("{path}: {e}")))?
        }
        None => Policy::new(args.threshold.unwrap_or(Severity::High)),
    };
    if let Some(threshold) = args.threshold {
        policy = policy.with_threshold(threshold);
    }
    let aws = ecr_scan_alerts::adapters::aws::load_config().await;
    let source = EcrFindings::new(aws_sdk_ecr::Client::new(&aws));
    // Without --registry-id, ECR uses the caller's own registry.
    let account = args.registry_id.clone().unwrap_or_default();
    let digest = match (&args.digest, &args.tag) {
        (Some(d), _) => d.clone(),
        (None, Some(tag)) => source
            .resolve_tag(args.registry_id.as_deref(), &args.repository, tag)
            .await
            .map_err(|f| GateError(f.to_string()))?
            .ok_or_else(|| GateError(format!("image not found: {}:{tag}", args.repository)))?,
        (None, None) => unreachable!("parse_args requires --tag or --digest"),
    };
    let image = ImageRef {
        account,
        region: aws
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into()),
        repository: args.repository.clone(),
        digest,
        tags: args.tag.iter().cloned().collect(),
    };
    if args.wait {
        gate::wait_for_scan(&source, &image, args.timeout, args.interval, |line| {
            eprintln!("{line}")
        })
        .await?;
    }
    let settle = gate::Settle {
        deadline,
        interval: args.interval,
    };
    let report = gate::evaluate(
        &source,
        &image,
        &policy,
        chrono::Utc::now().date_naive(),
        settle,
        |line| eprintln!("{line}"),
    )
    .await?;
    let output = if args.json {
        serde_json::to_string_pretty(&report).map_err(|e| GateError(e.to_string()))?
    } else {
        report.text()
    };
    Ok((args.json, output, report.passed()))
}
