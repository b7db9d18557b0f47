//! One vulnerability finding, the same shape for basic and enhanced scanning.

use crate::domain::severity::Severity;
use serde::Serialize;

/// Whether Inspector knows a fix (enhanced scanning only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FixAvailable {
    Yes,
    No,
    Partial,
}

impl FixAvailable {
    pub fn from_aws(value: &str) -> Option<FixAvailable> {
        match value {
            "YES" => Some(FixAvailable::Yes),
            "NO" => Some(FixAvailable::No),
            "PARTIAL" => Some(FixAvailable::Partial),
            _ => None,
        }
    }
}

/// A finding as the pipeline sees it; no SDK types, so policy and rendering
/// stay plain functions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// CVE or other vulnerability id (or the title when there is none).
    pub id: String,
    pub severity: Severity,
    pub package_name: Option<String>,
    pub package_version: Option<String>,
    /// Unknown for basic scanning, which reports no fixed-in versions.
    pub fixed_in: Option<String>,
    pub fix_available: Option<FixAvailable>,
    /// CVSS (basic) or Inspector score.
    pub score: Option<f64>,
    pub title: Option<String>,
    pub link: Option<String>,
    /// Inspector's `exploitAvailable`: `None` when nobody says (basic
    /// scanning), never read as "no".
    pub exploit_available: Option<bool>,
    /// Inspector's EPSS score (0 to 1), when known.
    pub epss: Option<f64>,
    /// When Amazon Inspector first observed it (`firstObservedAt`, epoch
    /// seconds): where a remediation deadline starts. `None` for basic
    /// scanning, which does not say.
    #[serde(skip)]
    pub first_observed: Option<i64>,
    /// The severity the scanner reported and why the policy's risk rules
    /// moved it; `severity` is then the one that routes the alert.
    #[serde(skip)]
    pub moved: Option<(Severity, Why)>,
}

impl Finding {
    pub fn new(id: impl Into<String>, severity: Severity) -> Finding {
        Finding {
            id: id.into(),
            severity,
            package_name: None,
            package_version: None,
            fixed_in: None,
            fix_available: None,
            score: None,
            title: None,
            link: None,
            exploit_available: None,
            epss: None,
            first_observed: None,
            moved: None,
        }
    }

    /// The package Amazon Inspector names (the first of its
    /// `vulnerablePackages`), its version, and the version that fixes it:
    /// an empty `fixedInVersion` or `NotAvailable` means no version is known.
    pub fn set_inspector_package(
        &mut self,
        name: Option<String>,
        version: Option<String>,
        fixed_in: Option<String>,
    ) {
        self.package_name = name;
        self.package_version = version;
        self.fixed_in = fixed_in.filter(|v| !v.is_empty() && v != "NotAvailable");
    }

    /// The severity the scanner reported, whatever the policy made of it.
    pub fn reported_severity(&self) -> Severity {
        self.moved.map_or(self.severity, |(from, _)| from)
    }

    /// Routes the finding at `severity` instead, for `why`.
    pub fn move_severity(&mut self, severity: Severity, why: Why) {
        if severity != self.severity {
            self.moved = Some((self.reported_severity(), why));
            self.severity = severity;
        }
    }

    /// The signals in the short form people scan: `exploit known`,
    /// `EPSS 0.94`, `raised from HIGH (exploit known)`.
    pub fn signals(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.exploit_available == Some(true) {
            out.push("exploit known".to_string());
        }
        if let Some(epss) = self.epss {
            out.push(format!("EPSS {epss:.2}"));
        }
        if let Some((from, why)) = self.moved {
            let way = if self.severity > from {
                "raised"
            } else {
                "lowered"
            };
            out.push(format!("{way} from {from} ({})", why.as_str()));
        }
        out
    }

    /// `name@version`, `name`, or `None` when the scanner named no package.
    pub fn package_label(&self) -> Option<String> {
        match (&self.package_name, &self.package_version) {
            (Some(name), Some(version)) => Some(format!("{name}@{version}")),
            (Some(name), None) => Some(name.clone()),
            _ => None,
        }
    }
}

/// Why the policy moved a finding's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Exploit,
    Epss,
    NotInUse,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Exploit => "exploit known",
            Why::Epss => "EPSS",
            Why::NotInUse => "image not seen running on ECS or EKS",
        }
    }
}
