//! Reading the policy document: its JSON form, checked field by field
//! into a [`Policy`]. An error names the entry and the field at fault
//! (`risk[0].not_in_use.days`), never a silent default.

use super::{AllowEntry, Filter, NotInUseRule, Policy, RiskRule, ThresholdRule, POLICY_VERSION};
use crate::domain::commit_link::{RepositorySource, SourceRules, UrlTemplate};
use crate::domain::glob::Glob;
use crate::domain::owner::{check_name, OwnerRule};
use crate::domain::severity::Severity;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

/// Reads a policy document; without its own `threshold` the policy-wide
/// threshold is `fallback`.
pub(super) fn read(
    text: &str,
    fallback: Severity,
    fallback_origin: &'static str,
) -> Result<Policy, PolicyError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let doc: PolicyDoc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        PolicyError {
            field: if path == "." { "document".into() } else { path },
            problem: inner.to_string(),
        }
    })?;
    doc.into_policy(fallback, fallback_origin)
}

/// A policy document that cannot be used, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid policy: {field}: {problem}")]
pub struct PolicyError {
    /// e.g. `allow[2].expires` or `thresholds[0].threshold`.
    pub field: String,
    pub problem: String,
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> PolicyError {
    PolicyError {
        field: field.into(),
        problem: problem.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    version: u32,
    #[serde(default)]
    threshold: Option<String>,
    #[serde(default)]
    thresholds: Vec<ThresholdDoc>,
    #[serde(default)]
    repositories: FilterDoc,
    #[serde(default)]
    tags: FilterDoc,
    #[serde(default)]
    only_fixable: bool,
    #[serde(default)]
    allow: Vec<AllowDoc>,
    #[serde(default)]
    source: Option<SourceDoc>,
    #[serde(default)]
    risk: Vec<RiskDoc>,
    #[serde(default)]
    owners: Vec<OwnerDoc>,
    #[serde(default)]
    sla: Option<std::collections::BTreeMap<String, i64>>,
}

/// `owners[N]`: the images an owner has, by repository pattern, account or
/// both; the first entry covering an image names its owner when its
/// repository has no owner tag.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerDoc {
    owner: String,
    #[serde(default)]
    repository: Option<String>,
    #[serde(default)]
    account: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskDoc {
    #[serde(default)]
    repository: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    exploit_available: Option<RaiseDoc>,
    #[serde(default)]
    epss: Option<EpssDoc>,
    #[serde(default)]
    not_in_use: Option<NotInUseDoc>,
    #[serde(default)]
    only_in_use: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RaiseDoc {
    raise_to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpssDoc {
    at_least: f64,
    raise_to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotInUseDoc {
    days: i64,
    lower_to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceDoc {
    #[serde(default)]
    url_template: Option<String>,
    #[serde(default)]
    tag_pattern: Option<String>,
    #[serde(default)]
    repositories: Vec<RepositorySourceDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepositorySourceDoc {
    repository: String,
    url_template: String,
    #[serde(default)]
    tag_pattern: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdDoc {
    #[serde(default)]
    repository: Option<String>,
    #[serde(default)]
    account: Option<String>,
    threshold: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FilterDoc {
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowDoc {
    id: String,
    #[serde(default)]
    repository: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    package: Option<String>,
    reason: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    until_fix: bool,
}

fn severity(field: String, value: &str) -> Result<Severity, PolicyError> {
    value
        .parse::<Severity>()
        .ok()
        .filter(|s| s.is_ranked())
        .ok_or_else(|| {
            invalid(
                field,
                format!(
                    "`{value}` is not a threshold; use one of {}",
                    Severity::RANKED.map(|s| s.as_str()).join(", ")
                ),
            )
        })
}

fn pattern(field: String, value: &str) -> Result<Glob, PolicyError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "pattern must not be empty"));
    }
    Ok(Glob::new(value))
}

/// A 12-digit AWS account id.
fn account(field: String, value: &str) -> Result<String, PolicyError> {
    let value = value.trim();
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_string())
    } else {
        Err(invalid(
            field,
            format!("`{value}` is not an AWS account id (12 digits)"),
        ))
    }
}

fn url_template(field: String, value: &str) -> Result<UrlTemplate, PolicyError> {
    UrlTemplate::parse(value).map_err(|problem| invalid(field, problem))
}

impl SourceDoc {
    fn into_rules(self) -> Result<SourceRules, PolicyError> {
        let repositories = self
            .repositories
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let at = |f: &str| format!("source.repositories[{i}].{f}");
                Ok(RepositorySource {
                    repository: pattern(at("repository"), &r.repository)?,
                    url_template: url_template(at("url_template"), &r.url_template)?,
                    tag_pattern: r
                        .tag_pattern
                        .as_deref()
                        .map(|p| pattern(at("tag_pattern"), p))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        Ok(SourceRules {
            url_template: self
                .url_template
                .as_deref()
                .map(|t| url_template("source.url_template".into(), t))
                .transpose()?,
            tag_pattern: self
                .tag_pattern
                .as_deref()
                .map(|p| pattern("source.tag_pattern".into(), p))
                .transpose()?,
            repositories,
        })
    }
}

impl RiskDoc {
    fn to_rule(&self, i: usize) -> Result<RiskRule, PolicyError> {
        let at = |f: &str| format!("risk[{i}].{f}");
        let rule = RiskRule {
            repository: self
                .repository
                .as_deref()
                .map(|r| pattern(at("repository"), r))
                .transpose()?,
            account: self
                .account
                .as_deref()
                .map(|a| account(at("account"), a))
                .transpose()?,
            exploit_raise_to: self
                .exploit_available
                .as_ref()
                .map(|e| severity(at("exploit_available.raise_to"), &e.raise_to))
                .transpose()?,
            epss: self
                .epss
                .as_ref()
                .map(|e| {
                    if !(0.0..=1.0).contains(&e.at_least) {
                        return Err(invalid(
                            at("epss.at_least"),
                            format!("`{}` is not an EPSS score (0 to 1)", e.at_least),
                        ));
                    }
                    Ok((e.at_least, severity(at("epss.raise_to"), &e.raise_to)?))
                })
                .transpose()?,
            not_in_use: self
                .not_in_use
                .as_ref()
                .map(|n| {
                    if n.days < 0 {
                        return Err(invalid(
                            at("not_in_use.days"),
                            format!("`{}` is not a number of days (0 or more)", n.days),
                        ));
                    }
                    let lower_to = if n.lower_to.trim().eq_ignore_ascii_case("NONE") {
                        None
                    } else {
                        Some(
                            severity(at("not_in_use.lower_to"), &n.lower_to).map_err(|e| {
                                invalid(e.field, format!("{}, or NONE (not alerted)", e.problem))
                            })?,
                        )
                    };
                    Ok(NotInUseRule {
                        days: n.days,
                        lower_to,
                    })
                })
                .transpose()?,
            only_in_use: self
                .only_in_use
                .as_ref()
                .map(|v| only_in_use_days(at("only_in_use"), v))
                .transpose()?
                .flatten(),
        };
        if rule.exploit_raise_to.is_none()
            && rule.epss.is_none()
            && rule.not_in_use.is_none()
            && rule.only_in_use.is_none()
        {
            return Err(invalid(
                format!("risk[{i}]"),
                "give at least one of exploit_available, epss, not_in_use, only_in_use",
            ));
        }
        Ok(rule)
    }
}

/// `only_in_use: {"days": N}`. The bare `true` of earlier versions dropped
/// an image that had never run, however new: it is refused with the way to
/// say it now, never read as some number of days. `false` is no rule.
fn only_in_use_days(field: String, value: &Value) -> Result<Option<i64>, PolicyError> {
    let days =
        match value {
            Value::Bool(false) | Value::Null => return Ok(None),
            Value::Bool(true) => return Err(invalid(
                field,
                "`true` is no longer allowed: an image must be known idle for a number of days \
                 since its push or last use before its findings are dropped; write \
                 {\"days\": 14} (or another number)",
            )),
            Value::Object(map) => {
                if let Some(key) = map.keys().find(|k| *k != "days") {
                    return Err(invalid(
                        field,
                        format!("unknown field `{key}`, expected `days`"),
                    ));
                }
                map.get("days")
                    .ok_or_else(|| invalid(format!("{field}.days"), "missing"))?
            }
            other => return Err(invalid(field, format!("`{other}` is not {{\"days\": N}}"))),
        };
    match days.as_i64() {
        Some(n) if n >= 0 => Ok(Some(n)),
        _ => Err(invalid(
            format!("{field}.days"),
            format!("`{days}` is not a number of days (0 or more)"),
        )),
    }
}

fn patterns(field: &str, values: &[String]) -> Result<Vec<Glob>, PolicyError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| pattern(format!("{field}[{i}]"), v))
        .collect()
}

impl PolicyDoc {
    fn into_policy(
        self,
        fallback: Severity,
        fallback_origin: &'static str,
    ) -> Result<Policy, PolicyError> {
        if self.version != POLICY_VERSION {
            return Err(invalid(
                "version",
                format!(
                    "version {} is not supported; use {POLICY_VERSION}",
                    self.version
                ),
            ));
        }
        let (threshold, threshold_origin) = match &self.threshold {
            Some(t) => (severity("threshold".into(), t)?, "the policy document"),
            None => (fallback, fallback_origin),
        };
        let thresholds = self
            .thresholds
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let at = |f: &str| format!("thresholds[{i}].{f}");
                if t.repository.is_none() && t.account.is_none() {
                    return Err(invalid(
                        at("repository"),
                        "give a repository, an account or both",
                    ));
                }
                Ok(ThresholdRule {
                    repository: t
                        .repository
                        .as_deref()
                        .map(|r| pattern(at("repository"), r))
                        .transpose()?,
                    account: t
                        .account
                        .as_deref()
                        .map(|a| account(at("account"), a))
                        .transpose()?,
                    threshold: severity(at("threshold"), &t.threshold)?,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        let allow = self
            .allow
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let at = |f: &str| format!("allow[{i}] ({}).{f}", a.id);
                if a.id.trim().is_empty() {
                    return Err(invalid(format!("allow[{i}].id"), "must not be empty"));
                }
                if a.reason.trim().is_empty() {
                    return Err(invalid(at("reason"), "a reason is required"));
                }
                let expires = a
                    .expires
                    .as_deref()
                    .map(|d| {
                        NaiveDate::parse_from_str(d, "%Y-%m-%d")
                            .ok()
                            .filter(|_| d.len() == 10)
                            .ok_or_else(|| {
                                invalid(at("expires"), format!("`{d}` is not a date (YYYY-MM-DD)"))
                            })
                    })
                    .transpose()?;
                Ok(AllowEntry {
                    id: a.id.trim().to_string(),
                    repository: a
                        .repository
                        .as_deref()
                        .map(|r| pattern(at("repository"), r))
                        .transpose()?,
                    account: a
                        .account
                        .as_deref()
                        .map(|v| account(at("account"), v))
                        .transpose()?,
                    package: a.package.clone().filter(|p| !p.trim().is_empty()),
                    reason: a.reason.clone(),
                    expires,
                    until_fix: a.until_fix,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        Ok(Policy {
            threshold,
            threshold_origin,
            thresholds,
            repositories: Filter {
                include: patterns("repositories.include", &self.repositories.include)?,
                exclude: patterns("repositories.exclude", &self.repositories.exclude)?,
            },
            tags: Filter {
                include: patterns("tags.include", &self.tags.include)?,
                exclude: patterns("tags.exclude", &self.tags.exclude)?,
            },
            only_fixable: self.only_fixable,
            allow,
            source: self
                .source
                .map(SourceDoc::into_rules)
                .transpose()?
                .unwrap_or_default(),
            sla: match &self.sla {
                None => None,
                Some(map) => Some(
                    crate::domain::deadline::Sla::new(map.iter().map(|(k, v)| (k.clone(), *v)))
                        .map_err(|(key, problem)| invalid(format!("sla.{key}"), problem))?,
                ),
            },
            owners: self
                .owners
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let at = |f: &str| format!("owners[{i}].{f}");
                    if o.repository.is_none() && o.account.is_none() {
                        return Err(invalid(
                            at("repository"),
                            "give a repository, an account or both",
                        ));
                    }
                    Ok(OwnerRule {
                        owner: check_name(o.owner.trim()).map_err(|problem| {
                            invalid(at("owner"), format!("`{}` {problem}", o.owner))
                        })?,
                        repository: o
                            .repository
                            .as_deref()
                            .map(|r| pattern(at("repository"), r))
                            .transpose()?,
                        account: o
                            .account
                            .as_deref()
                            .map(|a| account(at("account"), a))
                            .transpose()?,
                    })
                })
                .collect::<Result<Vec<_>, PolicyError>>()?,
            risk: self
                .risk
                .iter()
                .enumerate()
                .map(|(i, r)| r.to_rule(i))
                .collect::<Result<Vec<_>, PolicyError>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_documents_name_the_entry_and_field() {
        let cases = [
            (r#"{"version": 2}"#, "version"),
            (r#"{"threshold": "HIGH"}"#, "document"),
            (r#"{"version": 1, "threshold": "SEVERE"}"#, "threshold"),
            (r#"{"version": 1, "treshold": "HIGH"}"#, "treshold"),
            (
                r#"{"version": 1, "thresholds": [{"repository": "a", "threshold": "x"}]}"#,
                "thresholds[0].threshold",
            ),
            (r#"{"version": 1, "allow": [{"id": "CVE-1"}]}"#, "allow[0]"),
            (
                r#"{"version": 1, "thresholds": [{"threshold": "HIGH"}]}"#,
                "thresholds[0].repository",
            ),
            (
                r#"{"version": 1, "thresholds": [{"account": "payments", "threshold": "HIGH"}]}"#,
                "thresholds[0].account",
            ),
            (
                r#"{"version": 1, "allow": [{"id": "CVE-1", "reason": "r", "account": "1111"}]}"#,
                "allow[0] (CVE-1).account",
            ),
            (
                r#"{"version": 1, "thresholds": [{"acount": "111111111111", "threshold": "HIGH"}]}"#,
                "thresholds[0].acount",
            ),
            (
                r#"{"version": 1, "allow": [{"id": "CVE-1", "reason": " "}]}"#,
                "allow[0] (CVE-1).reason",
            ),
            (
                r#"{"version": 1, "allow": [{"id": "CVE-1", "reason": "r", "expires": "2026-13-01"}]}"#,
                "allow[0] (CVE-1).expires",
            ),
            (
                r#"{"version": 1, "allow": [{"id": "CVE-1", "reason": "r", "until": "2026-01-01"}]}"#,
                "allow[0].until",
            ),
            (
                r#"{"version": 1, "tags": {"exclude": [""]}}"#,
                "tags.exclude[0]",
            ),
            (
                r#"{"version": 1, "repositories": {"inclde": []}}"#,
                "repositories.inclde",
            ),
            ("not json", "document"),
            (
                r#"{"version": 1, "owners": [{"owner": "pay"}]}"#,
                "owners[0].repository",
            ),
            (r#"{"version": 1, "sla": {"CRITICAL": 0}}"#, "sla.CRITICAL"),
            (r#"{"version": 1, "sla": {"SEVERE": 5}}"#, "sla.SEVERE"),
            (r#"{"version": 1, "sla": {"HIGH": "30"}}"#, "sla.HIGH"),
            (
                r#"{"version": 1, "owners": [{"owner": "<!channel>", "repository": "a/*"}]}"#,
                "owners[0].owner",
            ),
            (
                r#"{"version": 1, "owners": [{"owner": "pay", "account": "12"}]}"#,
                "owners[0].account",
            ),
            (
                r#"{"version": 1, "owners": [{"owner": "pay", "repo": "a/*"}]}"#,
                "owners[0].repo",
            ),
            (
                r#"{"version": 1, "source": {"url_template": "http://git.example.com/{tag}"}}"#,
                "source.url_template",
            ),
            (
                r#"{"version": 1, "source": {"repositories": [{"repository": "a/*", "url_template": "https://git.example.com/{repository}"}]}}"#,
                "source.repositories[0].url_template",
            ),
            (
                r#"{"version": 1, "source": {"repositories": [{"repository": "", "url_template": "https://g.example/{tag}"}]}}"#,
                "source.repositories[0].repository",
            ),
            (
                r#"{"version": 1, "source": {"repositories": [{"repository": "a"}]}}"#,
                "source.repositories[0]",
            ),
            (
                r#"{"version": 1, "source": {"tag_pattern": " "}}"#,
                "source.tag_pattern",
            ),
            (
                r#"{"version": 1, "source": {"template": "https://g.example/{tag}"}}"#,
                "source.template",
            ),
            (
                r#"{"version": 1, "risk": [{"repository": "a/*"}]}"#,
                "risk[0]",
            ),
            (
                r#"{"version": 1, "risk": [{"epss": {"at_least": 1.5, "raise_to": "HIGH"}}]}"#,
                "risk[0].epss.at_least",
            ),
            (
                r#"{"version": 1, "risk": [{"exploit_available": {"raise_to": "URGENT"}}]}"#,
                "risk[0].exploit_available.raise_to",
            ),
            (
                r#"{"version": 1, "risk": [{"not_in_use": {"days": 30, "lower_to": "SOMETIMES"}}]}"#,
                "risk[0].not_in_use.lower_to",
            ),
            (
                r#"{"version": 1, "risk": [{"not_in_use": {"days": -1, "lower_to": "LOW"}}]}"#,
                "risk[0].not_in_use.days",
            ),
            (
                r#"{"version": 1, "risk": [{"only_in_use": true}]}"#,
                "risk[0].only_in_use",
            ),
            (
                r#"{"version": 1, "risk": [{"only_in_use": {"days": -3}}]}"#,
                "risk[0].only_in_use.days",
            ),
            (
                r#"{"version": 1, "risk": [{"only_in_use": {"dayz": 3}}]}"#,
                "risk[0].only_in_use",
            ),
            (
                r#"{"version": 1, "risk": [{"only_in_use": {}}]}"#,
                "risk[0].only_in_use.days",
            ),
            (
                r#"{"version": 1, "risk": [{"exploit": {"raise_to": "HIGH"}}]}"#,
                "risk[0].exploit",
            ),
            (
                r#"{"version": 1, "allow": [{"id": "CVE-1", "reason": "r", "until_fix": "yes"}]}"#,
                "allow[0].until_fix",
            ),
        ];
        for (doc, field) in cases {
            let err = Policy::from_document(doc).expect_err(doc);
            assert_eq!(err.field, field, "{doc}: {err}");
        }
        let err = Policy::from_document(r#"{"version": 1, "treshold": "HIGH"}"#).unwrap_err();
        assert!(err.problem.contains("unknown field `treshold`"), "{err}");
    }
}
