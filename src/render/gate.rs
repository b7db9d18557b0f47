//! The gate's report in the formats CI systems read: text and JSON for
//! people and scripts, SARIF 2.1.0 for code scanning (GitHub), JUnit XML
//! for test reports, markdown for a job summary or a pull-request comment,
//! and CSV in the posture report's `findings.csv` columns (docs/report.md),
//! so CI evidence and posture evidence read alike.

use crate::domain::gate_report::{budget_option, Report, Violation};
use crate::domain::severity::Severity;
use crate::domain::text::{is_plain_http_url, one_line};
use serde_json::{json, Value};
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Junit,
    Markdown,
    Csv,
}

/// Rows of findings in the markdown summary: a pull-request comment holds
/// at most 65,536 characters.
const MARKDOWN_ROWS: usize = 50;

impl Format {
    pub fn render(self, report: &Report) -> String {
        match self {
            Format::Text => report.text(),
            Format::Json => {
                let mut out = serde_json::to_string_pretty(report).unwrap_or_default();
                out.push('\n');
                out
            }
            Format::Sarif => {
                let mut out = serde_json::to_string_pretty(&sarif(report)).unwrap_or_default();
                out.push('\n');
                out
            }
            Format::Junit => junit(report),
            Format::Markdown => markdown(report),
            Format::Csv => crate::render::report::findings_csv(&report.finding_rows()),
        }
    }
}

/// Findings the gate lists: those that fail it, then those a budget lets
/// through.
fn listed(report: &Report) -> impl Iterator<Item = (&Violation, bool)> {
    report
        .violations
        .iter()
        .map(|v| (v, true))
        .chain(report.tolerated.iter().map(|v| (v, false)))
}

/// SARIF level: CRITICAL and HIGH are errors, MEDIUM warnings, the rest notes.
fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        _ => "note",
    }
}

/// GitHub code scanning ranks security alerts by `security-severity`, a
/// CVSS-like score: over 9.0 critical, 7.0–8.9 high, 4.0–6.9 medium,
/// 0.1–3.9 low. The finding's own severity decides, as it does everywhere
/// else in the gate.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        _ => "0.0",
    }
}

fn finding_sentence(v: &Violation) -> String {
    let mut text = format!("{} {}", v.severity, one_line(&v.id));
    if let Some(package) = &v.package {
        let _ = write!(text, " in {}", one_line(package));
    }
    if let Some(fixed) = &v.fixed_in {
        let _ = write!(text, ", fixed in {}", one_line(fixed));
    }
    if !v.signals.is_empty() {
        let _ = write!(text, " ({})", one_line(&v.signals.join("; ")));
    }
    text
}

/// SARIF 2.1.0: one result per listed finding, the rule id the
/// vulnerability id, the image (repository, digest) as the location.
pub fn sarif(report: &Report) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_ids: Vec<&str> = Vec::new();
    let mut results = Vec::new();
    let image = format!("{}@{}", report.repository, report.digest);
    for (v, fails) in listed(report) {
        let rule_index = match rule_ids.iter().position(|id| *id == v.id) {
            Some(i) => i,
            None => {
                rule_ids.push(&v.id);
                let title = v
                    .title
                    .as_deref()
                    .map(one_line)
                    .unwrap_or_else(|| v.id.clone());
                let mut rule = json!({
                    "id": v.id,
                    "name": v.id,
                    "shortDescription": {"text": one_line(&v.id)},
                    "fullDescription": {"text": title},
                    "defaultConfiguration": {"level": sarif_level(v.severity)},
                    "help": {
                        "text": format!("{}. See the ECR console: {}", finding_sentence(v), report.console_url),
                        "markdown": format!("{}. [Scan results in the ECR console]({})",
                            md_escape(&finding_sentence(v)), report.console_url),
                    },
                    "properties": {
                        "security-severity": security_severity(v.severity),
                        "tags": ["security", "vulnerability", "container-image"],
                        "precision": "very-high",
                    },
                });
                if let Some(link) = v.link.as_deref().filter(|l| is_plain_http_url(l)) {
                    rule["helpUri"] = json!(link);
                }
                rules.push(rule);
                rules.len() - 1
            }
        };
        let verdict = if fails {
            "fails the gate"
        } else {
            "within budget"
        };
        results.push(json!({
            "ruleId": v.id,
            "ruleIndex": rule_index,
            "level": sarif_level(v.severity),
            "message": {"text": format!("{} in image {} ({verdict}).", finding_sentence(v), one_line(&image))},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": report.repository},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [{
                    "name": report.image_name(),
                    "fullyQualifiedName": image,
                    "kind": "module",
                }],
            }],
            "partialFingerprints": {"ecrScanGateFinding/v1": format!("{:012x}", v.fingerprint)},
            "properties": {
                "severity": v.severity,
                "package": v.package,
                "fixedIn": v.fixed_in,
                "score": v.score,
                "failsGate": fails,
                "owner": report.owner,
            },
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ecr-scan-gate",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "invocations": [invocation(report)],
            "results": results,
            "properties": {
                "result": report.result,
                "repository": report.repository,
                "digest": report.digest,
                "tags": report.tags,
                "threshold": report.threshold,
                "scanStatus": report.scan_status,
                "scanCompletedAt": report.scan_completed_at,
                "owner": report.owner,
                "ownerSource": report.owner_source,
                "violationsTotal": report.violations_total,
                "notes": report.notes,
            },
        }],
    })
}

/// The run's invocation; an image the policy does not cover is said as a
/// notification (an error, or a note with `--allow-uncovered`).
fn invocation(report: &Report) -> Value {
    if !report.not_covered() {
        return json!({"executionSuccessful": true});
    }
    let level = if report.uncovered_allowed {
        "note"
    } else {
        "error"
    };
    json!({
        "executionSuccessful": true,
        "toolExecutionNotifications": report.notes.iter().map(|n| json!({
            "level": level,
            "message": {"text": one_line(n)},
        })).collect::<Vec<_>>(),
    })
}

/// Text fit for XML 1.0 (no control characters) and escaped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not characters XML 1.0 allows.
            '\u{FFFE}' | '\u{FFFF}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per alert-worthy finding listed (failed when
/// it fails the gate), or one passing case when there is none.
pub fn junit(report: &Report) -> String {
    let suite = format!("ecr-scan-gate {}", report.image_name());
    let classname = xml(&report.image_name());
    let mut cases = String::new();
    let mut tests = 0u64;
    let mut failures = 0u64;
    for (v, fails) in listed(report) {
        tests += 1;
        let name = xml(&format!(
            "{} {}{}",
            v.severity,
            v.id,
            v.package
                .as_deref()
                .map(|p| format!(" in {p}"))
                .unwrap_or_default()
        ));
        let _ = write!(
            cases,
            "    <testcase classname=\"{classname}\" name=\"{name}\" time=\"0\""
        );
        let mut body = finding_sentence(v);
        if let Some(link) = &v.link {
            let _ = write!(body, ". {link}");
        }
        if fails {
            failures += 1;
            let _ = write!(
                cases,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                xml(&format!(
                    "{} fails the gate (threshold {})",
                    v.id, report.threshold
                )),
                v.severity,
                xml(&body)
            );
        } else {
            let _ = write!(
                cases,
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                xml(&format!(
                    "{body}; within budget {}",
                    budget_option(v.severity)
                ))
            );
        }
    }
    // Findings over the listing cap still count.
    let unlisted = (report.violations_total + report.tolerated_total).saturating_sub(tests);
    if report.not_covered() {
        tests = 1;
        let name = xml(&format!(
            "{} is not covered by the policy",
            report.image_name()
        ));
        let why = xml(&report.notes.join(" "));
        if report.uncovered_allowed {
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{classname}\" name=\"{name}\" time=\"0\">\n      <skipped message=\"{why}\"/>\n    </testcase>"
            );
        } else {
            failures = 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"{classname}\" name=\"{name}\" time=\"0\">\n      <failure message=\"{why}\" type=\"NOT_COVERED\">{why}</failure>\n    </testcase>"
            );
        }
    } else if tests == 0 {
        tests = 1;
        let _ = writeln!(
            cases,
            "    <testcase classname=\"{classname}\" name=\"{}\" time=\"0\"/>",
            xml(&format!(
                "no findings at or above {} fail the gate",
                report.threshold
            ))
        );
    } else if unlisted > 0 {
        let _ = writeln!(
            cases,
            "    <testcase classname=\"{classname}\" name=\"{}\" time=\"0\"/>",
            xml(&format!(
                "{unlisted} more finding(s) not listed: see the JSON report"
            ))
        );
        tests += 1;
    }
    let skipped = u64::from(report.not_covered() && report.uncovered_allowed);
    let mut properties = String::new();
    for (name, value) in [
        ("repository", report.repository.as_str()),
        ("digest", report.digest.as_str()),
        ("threshold", report.threshold.as_str()),
        ("scan_status", report.scan_status.as_str()),
        ("result", report.result),
        ("owner", report.owner.as_str()),
    ] {
        let _ = writeln!(
            properties,
            "      <property name=\"{name}\" value=\"{}\"/>",
            xml(value)
        );
    }
    let mut notes = String::new();
    for note in &report.notes {
        let _ = writeln!(notes, "{}", xml(note));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"ecr-scan-gate\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">\n  \
         <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"0\">\n    \
         <properties>\n{properties}    </properties>\n{cases}    <system-out>{notes}</system-out>\n  \
         </testsuite>\n</testsuites>\n",
        xml(&suite)
    )
}

/// Markdown that shows as text, not markup: every character markdown or
/// HTML gives a meaning is escaped.
fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '['
                | ']'
                | '<'
                | '>'
                | '|'
                | '#'
                | '!'
                | '~'
                | '&'
                | '('
                | ')'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A summary for a job summary or a pull-request comment: the verdict, the
/// counts and budgets, the findings that fail the gate.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let verdict = report.verdict();
    let _ = writeln!(
        out,
        "### ecr-scan-gate: {verdict} for `{}`\n",
        report.image_name().replace('`', "'")
    );
    let _ = writeln!(out, "{}\n", md_escape(&report.owner_line()));
    if report.not_covered() {
        for note in &report.notes {
            let _ = writeln!(out, "{}\n", md_escape(note));
        }
        return out;
    }
    let _ = writeln!(
        out,
        "{} finding(s) at or above {} fail the gate. Scan status {}{}. [Scan results in the ECR console]({})\n",
        report.violations_total,
        report.threshold,
        md_escape(&report.scan_status),
        report
            .scan_completed_at
            .as_deref()
            .map(|at| format!(", completed {at}"))
            .unwrap_or_default(),
        report.console_url
    );
    if report.counts.total() > 0 {
        out.push_str("| Severity | Findings | Counted | Budget |\n|---|---:|---:|---:|\n");
        for (severity, n) in report.counts.non_zero() {
            let budget = report
                .budgets
                .iter()
                .find(|b| b.severity == severity)
                .map(|b| format!("{}{}", b.max, if b.exceeded { " (exceeded)" } else { "" }))
                .unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "| {severity} | {n} | {} | {budget} |",
                report.alert_counts.get(severity)
            );
        }
        out.push('\n');
    }
    let rows: Vec<(&Violation, bool)> = listed(report).collect();
    if !rows.is_empty() {
        out.push_str(
            "| Vulnerability | Severity | Package | Fixed in | Gate |\n|---|---|---|---|---|\n",
        );
        for (v, fails) in rows.iter().take(MARKDOWN_ROWS) {
            let id = match v.link.as_deref().filter(|l| is_plain_http_url(l)) {
                Some(link) => format!("[{}]({})", md_escape(&v.id), link.replace(')', "%29")),
                None => md_escape(&v.id),
            };
            let _ = writeln!(
                out,
                "| {id} | {} | {} | {} | {} |",
                v.severity,
                v.package.as_deref().map(md_escape).unwrap_or_default(),
                v.fixed_in.as_deref().map(md_escape).unwrap_or_default(),
                if *fails { "fails" } else { "within budget" }
            );
        }
        let total = report.violations_total + report.tolerated_total;
        if total > MARKDOWN_ROWS as u64 {
            let _ = writeln!(out, "\n… and {} more.", total - MARKDOWN_ROWS as u64);
        }
        out.push('\n');
    }
    for note in &report.notes {
        let _ = writeln!(out, "- {}", md_escape(note));
    }
    out.push('\n');
    out
}

/// The summary when the gate cannot judge (exit 2): the reason, for the
/// job summary.
pub fn markdown_error(image: &str, message: &str) -> String {
    format!(
        "### ecr-scan-gate: CANNOT JUDGE `{}`\n\n{}\n\n",
        image.replace('`', "'"),
        md_escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::severity::SeverityCounts;

    fn violation(id: &str, severity: Severity, title: &str) -> Violation {
        Violation {
            id: id.into(),
            severity,
            package: Some("openssl@3.0.2".into()),
            fixed_in: Some("3.0.8".into()),
            score: Some(9.8),
            title: Some(title.into()),
            link: Some(format!("https://nvd.nist.gov/vuln/detail/{id}")),
            signals: Vec::new(),
            fingerprint: 0xabc,
            exploit: None,
            epss: None,
            first_observed: None,
            fix: "upgrade openssl to 3.0.8".into(),
            deadline: None,
            overdue_days: None,
        }
    }

    fn report() -> Report {
        let mut counts = SeverityCounts::default();
        counts.add(Severity::Critical, 1);
        counts.add(Severity::High, 2);
        let mut tolerated = violation("CVE-2026-2", Severity::High, "<script>alert(1)</script>");
        tolerated.package = Some("a|b".into());
        Report {
            result: "fail",
            repository: "team/api".into(),
            digest: "sha256:00".into(),
            tags: vec!["v1".into()],
            region: "us-east-1".into(),
            threshold: "HIGH".into(),
            scan_status: "COMPLETE".into(),
            scan_type: "BASIC",
            scan_completed_at: Some("2026-12-01T00:00:00Z".into()),
            completed_epoch: Some(0),
            owner: "payments".into(),
            owner_source: "repository tag owner".into(),
            counts: counts.clone(),
            alert_counts: counts,
            budgets: Vec::new(),
            violations: vec![violation(
                "CVE-2026-1",
                Severity::Critical,
                "overflow & <more>",
            )],
            violations_total: 1,
            tolerated: vec![tolerated],
            tolerated_total: 1,
            notes: vec!["Not counted: 1 allow-listed.".into()],
            console_url: "https://console.aws.amazon.com/ecr/x".into(),
            uncovered_allowed: false,
            account: "123456789012".into(),
        }
    }

    fn uncovered() -> Report {
        let image = crate::domain::image::ImageRef {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: "batch/report".into(),
            digest: "sha256:00".into(),
            tags: Vec::new(),
        };
        Report::uncovered(
            &image,
            "the image has no tag, and the policy's `tags.include` (v*) admits only tagged images",
        )
    }

    #[test]
    fn an_image_the_policy_does_not_cover_is_no_pass_in_any_format() {
        let mut report = uncovered();
        assert_eq!(report.exit_code(), 2);
        for format in [
            Format::Text,
            Format::Json,
            Format::Sarif,
            Format::Junit,
            Format::Markdown,
        ] {
            let out = format.render(&report);
            assert!(
                out.contains("tags.include"),
                "{format:?} names the filter: {out}"
            );
            assert!(
                !out.contains("PASS") && !out.contains("\"pass\""),
                "{format:?}: {out}"
            );
        }
        assert!(Format::Text
            .render(&report)
            .starts_with("NOT COVERED: batch/report@sha256:00"));
        assert!(Format::Markdown
            .render(&report)
            .contains("### ecr-scan-gate: NOT COVERED for"));
        let junit = Format::Junit.render(&report);
        assert!(junit.contains("failures=\"1\""), "{junit}");
        let sarif: Value = serde_json::from_str(&Format::Sarif.render(&report)).unwrap();
        let note = &sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0];
        assert_eq!(note["level"], "error");
        assert_eq!(sarif["runs"][0]["properties"]["result"], "not_covered");
        let json: Value = serde_json::from_str(&Format::Json.render(&report)).unwrap();
        assert_eq!(json["result"], "not_covered");

        report.allow_uncovered();
        assert_eq!(report.exit_code(), 0);
        assert!(Format::Text
            .render(&report)
            .starts_with("NOT COVERED (allowed): "));
        assert!(Format::Junit.render(&report).contains("failures=\"0\""));
        let sarif: Value = serde_json::from_str(&Format::Sarif.render(&report)).unwrap();
        assert_eq!(
            sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["level"],
            "note"
        );
        let json: Value = serde_json::from_str(&Format::Json.render(&report)).unwrap();
        assert_eq!(json["uncovered_allowed"], true);
    }

    #[test]
    fn every_format_names_the_owner() {
        let report = report();
        assert!(Format::Text
            .render(&report)
            .contains("Owner: payments (repository tag owner)"));
        let json: Value = serde_json::from_str(&Format::Json.render(&report)).unwrap();
        assert_eq!(
            (&json["owner"], &json["owner_source"]),
            (&json!("payments"), &json!("repository tag owner"))
        );
        let doc = sarif(&report);
        assert_eq!(doc["runs"][0]["properties"]["owner"], "payments");
        assert_eq!(
            doc["runs"][0]["results"][0]["properties"]["owner"],
            "payments"
        );
        assert!(Format::Junit
            .render(&report)
            .contains("<property name=\"owner\" value=\"payments\"/>"));
        let markdown = Format::Markdown.render(&report);
        assert!(
            markdown.contains("Owner: payments") && markdown.contains("repository tag owner"),
            "{markdown}"
        );
    }

    #[test]
    fn sarif_has_one_result_per_finding_with_the_vulnerability_as_rule() {
        let doc = sarif(&report());
        let run = &doc["runs"][0];
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["ruleId"], "CVE-2026-1");
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[0]["properties"]["failsGate"], true);
        assert_eq!(results[1]["properties"]["failsGate"], false);
        assert_eq!(
            results[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            "team/api@sha256:00"
        );
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["properties"]["security-severity"],
            "9.5"
        );
        assert_eq!(
            run["tool"]["driver"]["rules"][1]["helpUri"],
            "https://nvd.nist.gov/vuln/detail/CVE-2026-2"
        );
    }

    #[test]
    fn csv_has_the_findings_csv_columns_one_row_per_counted_finding() {
        use crate::render::report::FINDINGS_COLUMNS;
        let mut report = report();
        report.tolerated[0].id = "=cmd|' /C calc'!A0".into();
        report.violations[0].exploit = Some(true);
        report.violations[0].epss = Some(0.42);
        report.violations[0].first_observed = Some(1_796_630_400);
        report.violations[0].deadline = Some(1_796_630_400 + 15 * 86_400);
        let csv = Format::Csv.render(&report);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], FINDINGS_COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "payments,123456789012,us-east-1,team/api,sha256:00,v1,CVE-2026-1,CRITICAL,true,0.42,\
             2026-12-07T08:00:00Z,2026-12-22,,upgrade openssl to 3.0.8"
        );
        assert!(
            lines[2].contains(",'=cmd|' /C calc'!A0,HIGH,"),
            "a formula is neutralised: {}",
            lines[2]
        );
        assert_eq!(lines.len(), 4, "two rows and the final line break: {csv}");
        let uncovered = Format::Csv.render(&uncovered());
        assert_eq!(uncovered, format!("{}\r\n", FINDINGS_COLUMNS.join(",")));
    }

    #[test]
    fn junit_fails_the_findings_over_budget_and_escapes_text() {
        let xml = junit(&report());
        assert!(
            xml.contains("tests=\"2\" failures=\"1\" errors=\"0\""),
            "{xml}"
        );
        assert!(xml.contains(
            "<failure message=\"CVE-2026-1 fails the gate (threshold HIGH)\" type=\"CRITICAL\">"
        ));
        assert!(xml.contains("within budget --max-high"));
        assert!(!xml.contains("<script>"));
    }

    #[test]
    fn junit_without_findings_has_one_passing_case() {
        let mut r = report();
        r.result = "pass";
        r.violations.clear();
        r.tolerated.clear();
        r.violations_total = 0;
        r.tolerated_total = 0;
        let xml = junit(&r);
        assert!(xml.contains("tests=\"1\" failures=\"0\""), "{xml}");
        assert!(xml.contains("name=\"no findings at or above HIGH fail the gate\""));
    }

    #[test]
    fn markdown_tables_escape_what_findings_say() {
        let md = markdown(&report());
        assert!(
            md.starts_with("### ecr-scan-gate: FAIL for `team/api:v1`\n"),
            "{md}"
        );
        assert!(md.contains("| CRITICAL | 1 | 1 | - |"), "{md}");
        assert!(
            md.contains("| [CVE-2026-1](https://nvd.nist.gov/vuln/detail/CVE-2026-1) | CRITICAL | openssl@3.0.2 | 3.0.8 | fails |"),
            "{md}"
        );
        assert!(
            md.contains("| a\\|b |"),
            "a pipe in a package name stays in its cell: {md}"
        );
        assert!(md.contains("- Not counted: 1 allow-listed."), "{md}");
    }
}
