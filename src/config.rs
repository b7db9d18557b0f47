//! Start-up configuration, read and checked once at cold start.

use crate::domain::commit_link::UrlTemplate;
use crate::domain::severity::Severity;
use std::collections::BTreeMap;

pub const ALERT_TOPIC_ARN: &str = "ALERT_TOPIC_ARN";
pub const SEVERITY_THRESHOLD: &str = "SEVERITY_THRESHOLD";
pub const ALERT_ON_SCAN_FAILURE: &str = "ALERT_ON_SCAN_FAILURE";
pub const CHAT_TOPIC_ARN: &str = "CHAT_TOPIC_ARN";
pub const POLICY_PARAMETER_NAME: &str = "POLICY_PARAMETER_NAME";
pub const POLICY_CACHE_SECONDS: &str = "POLICY_CACHE_SECONDS";
pub const DEDUP_TABLE_NAME: &str = "DEDUP_TABLE_NAME";
pub const REPORT_BUCKET_NAME: &str = "REPORT_BUCKET_NAME";
pub const SOURCE_URL_TEMPLATE: &str = "SOURCE_URL_TEMPLATE";
pub const METRICS: &str = "METRICS";
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
pub const METRICS_REPOSITORY_DIMENSION: &str = "METRICS_REPOSITORY_DIMENSION";
pub const METRICS_OWNER_DIMENSION: &str = "METRICS_OWNER_DIMENSION";
pub const MEMBER_ROLE_NAME: &str = "MEMBER_ROLE_NAME";
pub const ACCOUNT_ALIASES: &str = "ACCOUNT_ALIASES";
pub const FINDINGS_WAIT_SECONDS: &str = "FINDINGS_WAIT_SECONDS";
pub const INITIAL_SCAN_WINDOW_MINUTES: &str = "INITIAL_SCAN_WINDOW_MINUTES";
pub const STORM_THRESHOLD: &str = "STORM_THRESHOLD";
pub const STORM_WINDOW_MINUTES: &str = "STORM_WINDOW_MINUTES";
pub const STORM_SUMMARY_MINUTES: &str = "STORM_SUMMARY_MINUTES";
pub const STORM_TABLE_NAME: &str = "STORM_TABLE_NAME";
pub const SCOPE_ACCOUNT_IDS: &str = "SCOPE_ACCOUNT_IDS";
pub const RECHECK_DELAY_SECONDS: &str = "RECHECK_DELAY_SECONDS";
pub const BATCH_CONCURRENCY: &str = "BATCH_CONCURRENCY";
pub const OWNER_TAG_KEY: &str = "OWNER_TAG_KEY";
pub const OWNER_CACHE_SECONDS: &str = "OWNER_CACHE_SECONDS";
pub const DIGEST_IMAGE_DAYS: &str = "DIGEST_IMAGE_DAYS";
pub const DIGEST_STALE_DAYS: &str = "DIGEST_STALE_DAYS";
pub const DIGEST_REGIONS: &str = "DIGEST_REGIONS";
pub const DIGEST_QUEUE_URL: &str = "DIGEST_QUEUE_URL";
pub const DIGEST_WAIT_MINUTES: &str = "DIGEST_WAIT_MINUTES";
pub const DIGEST_ASSEMBLY_DELAY_SECONDS: &str = "DIGEST_ASSEMBLY_DELAY_SECONDS";
/// Set by Lambda: the function's region.
pub const AWS_REGION: &str = "AWS_REGION";

/// The digest counts images pushed or pulled within this many days.
pub const DEFAULT_DIGEST_IMAGE_DAYS: u64 = 30;
/// The digest says a basic scan older than this many days is not current.
pub const DEFAULT_DIGEST_STALE_DAYS: u64 = 30;

/// A fanned-out digest waits this long for its registries' parts before
/// it assembles with what reported, naming the rest.
pub const DEFAULT_DIGEST_WAIT_MINUTES: u64 = 60;
/// The fanned-out assembly's first look, after the run starts: SQS's
/// longest delay, by when a part that started at once has reached its own
/// 900-second timeout.
pub const DEFAULT_DIGEST_ASSEMBLY_DELAY_SECONDS: u64 = 900;

/// The repository tag that names an image's owner unless OWNER_TAG_KEY says.
pub const DEFAULT_OWNER_TAG_KEY: &str = "owner";
/// How long a warm function uses a repository's owner tag before reading it
/// again: a retag reaches alerts within this time.
pub const DEFAULT_OWNER_CACHE_SECONDS: u64 = 300;

/// Images of one batch judged and alerted at once: each waits on AWS
/// (dedup read, claim, publish, commit), and the waiting is what a batch
/// spends its time on.
pub const DEFAULT_BATCH_CONCURRENCY: u64 = 50;

/// How long an initial scan's Finding events wait for the image's
/// `Inspector2 Scan` alert before the findings function alerts them itself
/// (dedup on). Until then their messages are returned to the queue, which
/// delivers them again after its visibility timeout (the stack's: 1,020 s).
pub const DEFAULT_RECHECK_DELAY_SECONDS: u64 = 900;

/// A vulnerability newly affecting more images than this within the storm
/// window gets one storm alert instead of per-image alerts (0: never).
pub const DEFAULT_STORM_THRESHOLD: u64 = 20;
pub const DEFAULT_STORM_WINDOW_MINUTES: u64 = 60;
/// A running storm's follow-up comes at most this often.
pub const DEFAULT_STORM_SUMMARY_MINUTES: u64 = 15;

/// How long an invocation re-reads findings that lag the scan event's counts.
pub const DEFAULT_FINDINGS_WAIT_SECONDS: u64 = 20;
/// A finding event first observed this soon after the image was pushed
/// belongs to the initial scan, which the `Inspector2 Scan` event alerts on.
pub const DEFAULT_INITIAL_SCAN_WINDOW_MINUTES: u64 = 30;

/// The CloudWatch namespace of the metrics unless METRICS_NAMESPACE says.
pub const DEFAULT_METRICS_NAMESPACE: &str = "EcrScanAlerts";

/// How long a fetched policy document is used before it is read again.
pub const DEFAULT_POLICY_CACHE_SECONDS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub alert_topic_arn: String,
    pub threshold: Severity,
    /// `SEVERITY_THRESHOLD` was set (else `threshold` is the default, HIGH).
    pub threshold_from_env: bool,
    pub alert_on_scan_failure: bool,
    /// Topic for Slack custom notifications; `None` sends no chat messages.
    pub chat_topic_arn: Option<String>,
    /// SSM parameter holding the policy document; replaces the threshold.
    pub policy_parameter_name: Option<String>,
    pub policy_cache_seconds: u64,
    /// DynamoDB table remembering what was alerted; `None` turns dedup off.
    pub dedup_table_name: Option<String>,
    /// `REPORT_BUCKET_NAME`: where the digest writes its posture report
    /// (`None`: no report).
    pub report_bucket_name: Option<String>,
    /// Link to the source of commit-tagged images; the policy may override it.
    pub source_url_template: Option<UrlTemplate>,
    /// Print one Embedded Metric Format line per event.
    pub metrics: bool,
    pub metrics_namespace: String,
    /// Add the repository as a metric dimension (one paid metric per value).
    pub metrics_repository_dimension: bool,
    /// `METRICS_OWNER_DIMENSION`: the digest's posture gauges per owner too.
    pub metrics_owner_dimension: bool,
    /// Role the function assumes in other accounts to read their findings;
    /// `None` reads them with the function's own credentials.
    pub member_role_name: Option<String>,
    /// Names people know accounts by, shown next to the account id.
    pub account_aliases: BTreeMap<String, String>,
    /// Budget for re-reading findings when ECR returns fewer than the scan
    /// event counted (enhanced findings can lag the status).
    pub findings_wait_seconds: u64,
    /// `Inspector2 Finding` events first observed within this many minutes
    /// of the image's push are part of the initial scan; 0 alerts on them.
    pub initial_scan_window_minutes: u64,
    /// CVE storms ([`crate::domain::storm`]): more images than this per
    /// vulnerability within the window make a storm (0: no storms).
    pub storm_threshold: u64,
    pub storm_window_minutes: u64,
    pub storm_summary_minutes: u64,
    /// Where storms are counted across batches and invocations; without it,
    /// within one batch.
    pub storm_table_name: Option<String>,
    /// The accounts whose events this stack alerts on; `None`: any account
    /// whose events reach the function (organisation-wide).
    pub scope_account_ids: Option<std::collections::BTreeSet<String>>,
    /// How long an initial scan's Finding events wait for the image's
    /// `Inspector2 Scan` alert before the findings function alerts them
    /// (with dedup; 0: they never do, the Scan event alone alerts them).
    pub recheck_delay_seconds: u64,
    /// Images of one batch alerted at once (1: one after another).
    pub batch_concurrency: u64,
    /// The repository tag whose value names an image's owner.
    pub owner_tag_key: String,
    /// How long a repository's owner tag is used before it is read again.
    pub owner_cache_seconds: u64,
    /// The digest: images pushed or pulled within this many days count.
    pub digest_image_days: u64,
    /// The digest: a basic scan older than this many days is not current.
    pub digest_stale_days: u64,
    /// `DIGEST_REGIONS`: the regions the digest reads (empty: the
    /// function's own).
    pub digest_regions: Vec<String>,
    /// `DIGEST_QUEUE_URL`: the digest's work queue; with it (and the dedup
    /// table) a run over more than one registry fans out, one message per
    /// registry (`None`: one invocation reads them all).
    pub digest_queue_url: Option<String>,
    /// `DIGEST_WAIT_MINUTES`: how long a fanned-out run waits for its parts.
    pub digest_wait_minutes: u64,
    /// `DIGEST_ASSEMBLY_DELAY_SECONDS`: when the assembly first looks, and
    /// again while it waits (at most 900, SQS's longest delay).
    pub digest_assembly_delay_seconds: u64,
    /// The function's region (`AWS_REGION`, set by Lambda).
    pub region: Option<String>,
}

impl Default for Config {
    /// A threshold of HIGH and nothing else set (tests start from it).
    fn default() -> Config {
        Config {
            alert_topic_arn: String::new(),
            threshold: Severity::High,
            threshold_from_env: false,
            alert_on_scan_failure: true,
            chat_topic_arn: None,
            policy_parameter_name: None,
            policy_cache_seconds: DEFAULT_POLICY_CACHE_SECONDS,
            dedup_table_name: None,
            report_bucket_name: None,
            source_url_template: None,
            metrics: false,
            metrics_namespace: DEFAULT_METRICS_NAMESPACE.into(),
            metrics_repository_dimension: false,
            metrics_owner_dimension: false,
            member_role_name: None,
            account_aliases: BTreeMap::new(),
            findings_wait_seconds: DEFAULT_FINDINGS_WAIT_SECONDS,
            initial_scan_window_minutes: DEFAULT_INITIAL_SCAN_WINDOW_MINUTES,
            storm_threshold: DEFAULT_STORM_THRESHOLD,
            storm_window_minutes: DEFAULT_STORM_WINDOW_MINUTES,
            storm_summary_minutes: DEFAULT_STORM_SUMMARY_MINUTES,
            storm_table_name: None,
            scope_account_ids: None,
            recheck_delay_seconds: DEFAULT_RECHECK_DELAY_SECONDS,
            batch_concurrency: DEFAULT_BATCH_CONCURRENCY,
            owner_tag_key: DEFAULT_OWNER_TAG_KEY.into(),
            owner_cache_seconds: DEFAULT_OWNER_CACHE_SECONDS,
            digest_image_days: DEFAULT_DIGEST_IMAGE_DAYS,
            digest_stale_days: DEFAULT_DIGEST_STALE_DAYS,
            digest_regions: Vec::new(),
            digest_queue_url: None,
            digest_wait_minutes: DEFAULT_DIGEST_WAIT_MINUTES,
            digest_assembly_delay_seconds: DEFAULT_DIGEST_ASSEMBLY_DELAY_SECONDS,
            region: None,
        }
    }
}

/// A variable that is missing or has a value it may not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl Config {
    /// The threshold of the environment, and where it comes from: one
    /// precedence for every path (policy document, then
    /// `SEVERITY_THRESHOLD`, then HIGH).
    pub fn threshold_fallback(&self) -> (Severity, &'static str) {
        if self.threshold_from_env {
            (self.threshold, SEVERITY_THRESHOLD)
        } else {
            (self.threshold, "the default")
        }
    }

    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = Env(&lookup);
        let alerts = alerts(&env)?;
        let policy = policy(&env)?;
        let memory = memory(&env)?;
        let metrics = metrics(&env)?;
        let accounts = accounts(&env)?;
        let timing = timing(&env)?;
        let (owner_tag_key, owner_cache_seconds) = owners(&env)?;
        let digest_image_days =
            env.whole(DIGEST_IMAGE_DAYS, DEFAULT_DIGEST_IMAGE_DAYS, 3_650, "days")?;
        let digest_stale_days =
            env.whole(DIGEST_STALE_DAYS, DEFAULT_DIGEST_STALE_DAYS, 3_650, "days")?;
        Ok(Config {
            alert_topic_arn: alerts.topic,
            threshold: alerts.threshold,
            threshold_from_env: alerts.threshold_from_env,
            alert_on_scan_failure: alerts.on_scan_failure,
            chat_topic_arn: alerts.chat_topic,
            source_url_template: alerts.source_url_template,
            policy_parameter_name: policy.parameter_name,
            policy_cache_seconds: policy.cache_seconds,
            dedup_table_name: memory.dedup_table,
            report_bucket_name: env.bucket(REPORT_BUCKET_NAME)?,
            storm_table_name: memory.storm_table,
            storm_threshold: memory.storm_threshold,
            storm_window_minutes: memory.storm_window_minutes,
            storm_summary_minutes: memory.storm_summary_minutes,
            metrics: metrics.on,
            metrics_namespace: metrics.namespace,
            metrics_repository_dimension: metrics.repository_dimension,
            metrics_owner_dimension: metrics.owner_dimension,
            member_role_name: accounts.member_role,
            account_aliases: accounts.aliases,
            scope_account_ids: accounts.scope,
            findings_wait_seconds: timing.findings_wait_seconds,
            initial_scan_window_minutes: timing.initial_scan_window_minutes,
            recheck_delay_seconds: timing.recheck_delay_seconds,
            batch_concurrency: timing.batch_concurrency,
            owner_tag_key,
            owner_cache_seconds,
            digest_image_days: digest_image_days.max(1),
            digest_stale_days: digest_stale_days.max(1),
            digest_regions: regions(&env, DIGEST_REGIONS)?,
            digest_queue_url: queue_url(&env, DIGEST_QUEUE_URL)?,
            digest_wait_minutes: env.whole(
                DIGEST_WAIT_MINUTES,
                DEFAULT_DIGEST_WAIT_MINUTES,
                1_440,
                "minutes",
            )?,
            digest_assembly_delay_seconds: env.whole(
                DIGEST_ASSEMBLY_DELAY_SECONDS,
                DEFAULT_DIGEST_ASSEMBLY_DELAY_SECONDS,
                u64::from(crate::domain::digest_run::MAX_DELAY_SECONDS),
                "seconds",
            )?,
            region: env.get(AWS_REGION).map(|r| r.trim().to_string()),
        })
    }
}

/// An SQS queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`,
/// Amazon SQS Developer Guide, "Amazon SQS queue and message identifiers";
/// `http://` only for a local stack on 127.0.0.1).
fn queue_url(env: &Env, variable: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(value) = env.get(variable) else {
        return Ok(None);
    };
    let url = value.trim();
    let local = url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:");
    let path = url.split("://").nth(1).unwrap_or("");
    if (url.starts_with("https://") || local)
        && path.split('/').filter(|p| !p.is_empty()).count() >= 3
    {
        Ok(Some(url.to_string()))
    } else {
        Err(ConfigError {
            variable,
            problem: format!(
                "`{value}` is not an SQS queue URL; expected https://sqs.<region>.amazonaws.com/<account>/<queue>"
            ),
        })
    }
}

/// The environment as the parsers read it: an empty value is no value.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn flag(&self, variable: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(variable) {
            None => Ok(default),
            Some(value) => parse_bool(&value).ok_or_else(|| ConfigError {
                variable,
                problem: format!("`{value}` is not allowed; use true or false"),
            }),
        }
    }

    /// A whole number from 0 to `max` of `unit`.
    fn whole(
        &self,
        variable: &'static str,
        default: u64,
        max: u64,
        unit: &str,
    ) -> Result<u64, ConfigError> {
        match self.get(variable) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| ConfigError {
                    variable,
                    problem: format!(
                        "`{value}` is not allowed; use a whole number of {unit} from 0 to {max}"
                    ),
                }),
        }
    }

    /// A DynamoDB table name, if set.
    fn table(&self, variable: &'static str) -> Result<Option<String>, ConfigError> {
        let name = self.get(variable);
        if let Some(name) = &name {
            let ok = (3..=255).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !ok {
                return Err(ConfigError {
                    variable,
                    problem: format!(
                        "`{name}` is not a DynamoDB table name (3-255 letters, digits, _ . -)"
                    ),
                });
            }
        }
        Ok(name)
    }

    /// An S3 bucket name (Amazon S3 User Guide, "General purpose bucket
    /// naming rules": 3-63 lowercase letters, digits, dots and hyphens,
    /// beginning and ending with a letter or digit).
    fn bucket(&self, variable: &'static str) -> Result<Option<String>, ConfigError> {
        let Some(name) = self.get(variable).filter(|n| !n.trim().is_empty()) else {
            return Ok(None);
        };
        let bytes = name.as_bytes();
        let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let ok = (3..=63).contains(&name.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-".contains(b))
            && edge(bytes.first())
            && edge(bytes.last());
        if !ok {
            return Err(ConfigError {
                variable,
                problem: format!(
                    "`{name}` is not an S3 bucket name (3-63 lowercase letters, digits, . and -, starting and ending with a letter or digit)"
                ),
            });
        }
        Ok(Some(name))
    }
}

/// Where alerts go and what they say: the topics, the threshold, failed
/// scans, the commit link.
struct Alerts {
    topic: String,
    threshold: Severity,
    threshold_from_env: bool,
    on_scan_failure: bool,
    chat_topic: Option<String>,
    source_url_template: Option<UrlTemplate>,
}

fn alerts(env: &Env<'_>) -> Result<Alerts, ConfigError> {
    let topic = env.get(ALERT_TOPIC_ARN).ok_or_else(|| ConfigError {
        variable: ALERT_TOPIC_ARN,
        problem: "missing; set it to the ARN of the SNS topic that receives alerts".into(),
    })?;
    check_topic_arn(ALERT_TOPIC_ARN, &topic)?;
    let threshold = match env.get(SEVERITY_THRESHOLD) {
        None => Severity::High,
        Some(value) => value
            .parse::<Severity>()
            .ok()
            .filter(|sev| sev.is_ranked())
            .ok_or_else(|| ConfigError {
                variable: SEVERITY_THRESHOLD,
                problem: format!(
                    "`{value}` is not allowed; use one of {}",
                    Severity::RANKED.map(|s| s.as_str()).join(", ")
                ),
            })?,
    };
    let chat_topic = env.get(CHAT_TOPIC_ARN);
    if let Some(arn) = &chat_topic {
        check_topic_arn(CHAT_TOPIC_ARN, arn)?;
    }
    let source_url_template = env
        .get(SOURCE_URL_TEMPLATE)
        .map(|t| {
            UrlTemplate::parse(&t).map_err(|problem| ConfigError {
                variable: SOURCE_URL_TEMPLATE,
                problem: format!(
                    "{problem}; expected e.g. https://git.example.com/{{repository}}/commit/{{tag}}"
                ),
            })
        })
        .transpose()?;
    Ok(Alerts {
        topic,
        threshold,
        threshold_from_env: env.get(SEVERITY_THRESHOLD).is_some(),
        on_scan_failure: env.flag(ALERT_ON_SCAN_FAILURE, true)?,
        chat_topic,
        source_url_template,
    })
}

/// The policy document's parameter and how long it is cached.
struct PolicySettings {
    parameter_name: Option<String>,
    cache_seconds: u64,
}

fn policy(env: &Env<'_>) -> Result<PolicySettings, ConfigError> {
    let parameter_name = env.get(POLICY_PARAMETER_NAME);
    if let Some(name) = &parameter_name {
        let ok = name.len() <= 2048
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
        if !ok {
            return Err(ConfigError {
                variable: POLICY_PARAMETER_NAME,
                problem: format!(
                    "`{name}` is not an SSM parameter name (letters, digits, _ . - /)"
                ),
            });
        }
    }
    Ok(PolicySettings {
        parameter_name,
        cache_seconds: env.whole(
            POLICY_CACHE_SECONDS,
            DEFAULT_POLICY_CACHE_SECONDS,
            3600,
            "seconds",
        )?,
    })
}

/// What is remembered across events: the dedup table and CVE storms.
struct Memory {
    dedup_table: Option<String>,
    storm_table: Option<String>,
    storm_threshold: u64,
    storm_window_minutes: u64,
    storm_summary_minutes: u64,
}

fn memory(env: &Env<'_>) -> Result<Memory, ConfigError> {
    let storm_threshold = env.whole(STORM_THRESHOLD, DEFAULT_STORM_THRESHOLD, 100_000, "images")?;
    let storm_window_minutes = env.whole(
        STORM_WINDOW_MINUTES,
        DEFAULT_STORM_WINDOW_MINUTES,
        1440,
        "minutes",
    )?;
    if storm_threshold > 0 && storm_window_minutes == 0 {
        return Err(ConfigError {
            variable: STORM_WINDOW_MINUTES,
            problem: "must be at least 1 while STORM_THRESHOLD is set".into(),
        });
    }
    Ok(Memory {
        dedup_table: env.table(DEDUP_TABLE_NAME)?,
        storm_table: env.table(STORM_TABLE_NAME)?,
        storm_threshold,
        storm_window_minutes,
        storm_summary_minutes: env.whole(
            STORM_SUMMARY_MINUTES,
            DEFAULT_STORM_SUMMARY_MINUTES,
            1440,
            "minutes",
        )?,
    })
}

/// The Embedded Metric Format lines.
struct Metrics {
    on: bool,
    namespace: String,
    repository_dimension: bool,
    owner_dimension: bool,
}

fn metrics(env: &Env<'_>) -> Result<Metrics, ConfigError> {
    let namespace = env
        .get(METRICS_NAMESPACE)
        .unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.into());
    if namespace.len() > 255
        || namespace.starts_with(':')
        || !namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/#: ".contains(&b))
    {
        return Err(ConfigError {
            variable: METRICS_NAMESPACE,
            problem: format!("`{namespace}` is not a CloudWatch namespace"),
        });
    }
    Ok(Metrics {
        on: env.flag(METRICS, true)?,
        namespace,
        repository_dimension: env.flag(METRICS_REPOSITORY_DIMENSION, false)?,
        owner_dimension: env.flag(METRICS_OWNER_DIMENSION, false)?,
    })
}

/// Which accounts: the member role, the names people know them by, and
/// the stack's scope.
struct Accounts {
    member_role: Option<String>,
    aliases: BTreeMap<String, String>,
    scope: Option<std::collections::BTreeSet<String>>,
}

fn accounts(env: &Env<'_>) -> Result<Accounts, ConfigError> {
    let member_role = env.get(MEMBER_ROLE_NAME).map(|n| n.trim().to_string());
    if let Some(name) = &member_role {
        let ok = name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !ok {
            return Err(ConfigError {
                variable: MEMBER_ROLE_NAME,
                problem: format!(
                    "`{name}` is not an IAM role name (up to 64 letters, digits, + = , . @ _ -; no path)"
                ),
            });
        }
    }
    let aliases = match env.get(ACCOUNT_ALIASES) {
        None => BTreeMap::new(),
        Some(value) => parse_aliases(&value).map_err(|problem| ConfigError {
            variable: ACCOUNT_ALIASES,
            problem: format!(
                "{problem}; expected e.g. 111111111111=payments-prod,222222222222=data-dev"
            ),
        })?,
    };
    let scope = match env.get(SCOPE_ACCOUNT_IDS) {
        None => None,
        Some(value) => {
            let mut ids = std::collections::BTreeSet::new();
            for id in value.split(',').map(str::trim) {
                if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ConfigError {
                        variable: SCOPE_ACCOUNT_IDS,
                        problem: format!(
                            "`{id}` is not an AWS account id (12 digits); expected e.g. 111111111111,222222222222, or empty for any account"
                        ),
                    });
                }
                ids.insert(id.to_string());
            }
            Some(ids)
        }
    };
    Ok(Accounts {
        member_role,
        aliases,
        scope,
    })
}

/// A list of AWS region names (`us-east-1,eu-west-1`), each checked: two
/// letters, a dash, words, a dash and a number (`us-gov-west-1` too).
fn regions(env: &Env<'_>, variable: &'static str) -> Result<Vec<String>, ConfigError> {
    let Some(value) = env.get(variable).filter(|v| !v.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for region in value.split(',').map(str::trim) {
        let parts: Vec<&str> = region.split('-').collect();
        let ok = parts.len() >= 3
            && parts[0].len() == 2
            && parts[0].bytes().all(|b| b.is_ascii_lowercase())
            && parts[1..parts.len() - 1]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0);
        if !ok {
            return Err(ConfigError {
                variable,
                problem: format!(
                    "`{region}` is not an AWS region name; expected e.g. us-east-1,eu-west-1"
                ),
            });
        }
        if !out.iter().any(|r| r == region) {
            out.push(region.to_string());
        }
    }
    Ok(out)
}

/// Which repository tag names the owner, and how long it is cached. A tag
/// key is 1 to 128 letters, digits, spaces and `_ . : / = + - @` (Amazon ECR
/// API Reference, `Tag`), and may not start with `aws:` (reserved).
fn owners(env: &Env<'_>) -> Result<(String, u64), ConfigError> {
    let key = env.get(OWNER_TAG_KEY).map_or_else(
        || DEFAULT_OWNER_TAG_KEY.to_string(),
        |k| k.trim().to_string(),
    );
    let ok = key.chars().count() <= 128
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
        && !key.to_ascii_lowercase().starts_with("aws:");
    if !ok {
        return Err(ConfigError {
            variable: OWNER_TAG_KEY,
            problem: format!(
                "`{key}` is not a tag key (up to 128 letters, digits, spaces and _ . : / = + - @; not starting with aws:)"
            ),
        });
    }
    let seconds = env.whole(
        OWNER_CACHE_SECONDS,
        DEFAULT_OWNER_CACHE_SECONDS,
        3_600,
        "seconds",
    )?;
    Ok((key, seconds))
}

/// How long the function waits: for findings that lag, and for an
/// initial scan's Scan event.
struct Timing {
    findings_wait_seconds: u64,
    initial_scan_window_minutes: u64,
    recheck_delay_seconds: u64,
    batch_concurrency: u64,
}

fn timing(env: &Env<'_>) -> Result<Timing, ConfigError> {
    Ok(Timing {
        // Bounded well under the function's timeout (120 s).
        findings_wait_seconds: env.whole(
            FINDINGS_WAIT_SECONDS,
            DEFAULT_FINDINGS_WAIT_SECONDS,
            60,
            "seconds",
        )?,
        initial_scan_window_minutes: env.whole(
            INITIAL_SCAN_WINDOW_MINUTES,
            DEFAULT_INITIAL_SCAN_WINDOW_MINUTES,
            1440,
            "minutes",
        )?,
        recheck_delay_seconds: env.whole(
            RECHECK_DELAY_SECONDS,
            DEFAULT_RECHECK_DELAY_SECONDS,
            86_400,
            "seconds",
        )?,
        batch_concurrency: match env.whole(
            BATCH_CONCURRENCY,
            DEFAULT_BATCH_CONCURRENCY,
            100,
            "images",
        )? {
            0 => {
                return Err(ConfigError {
                    variable: BATCH_CONCURRENCY,
                    problem: "`0` is not allowed; use a whole number of images from 1 to 100"
                        .into(),
                })
            }
            n => n,
        },
    })
}

/// `account=alias` pairs separated by commas: 12-digit ids, aliases of
/// letters, digits and `-_.` (as IAM account aliases, plus `_` and `.`).
fn parse_aliases(value: &str) -> Result<BTreeMap<String, String>, String> {
    let mut aliases = BTreeMap::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((account, alias)) = pair.split_once('=') else {
            return Err(format!("`{pair}` is not account=alias"));
        };
        let (account, alias) = (account.trim(), alias.trim());
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{account}` is not an AWS account id (12 digits)"));
        }
        let alias_ok = !alias.is_empty()
            && alias.len() <= 63
            && alias
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !alias_ok {
            return Err(format!(
                "`{alias}` is not an alias (1 to 63 letters, digits, - _ .)"
            ));
        }
        if aliases
            .insert(account.to_string(), alias.to_string())
            .is_some()
        {
            return Err(format!("account {account} is named twice"));
        }
    }
    Ok(aliases)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// `arn:<partition>:sns:<region>:<12-digit account>:<name>` of a standard topic.
fn check_topic_arn(variable: &'static str, arn: &str) -> Result<(), ConfigError> {
    let bad = |problem: String| ConfigError { variable, problem };
    let parts: Vec<&str> = arn.split(':').collect();
    let shape_ok = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
        && parts[5].len() <= 256
        && parts[5]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !shape_ok {
        return Err(bad(format!(
            "`{arn}` is not an SNS topic ARN (expected arn:aws:sns:<region>:<account>:<topic>)"
        )));
    }
    if parts[5].ends_with(".fifo") {
        return Err(bad(format!(
            "`{arn}` is a FIFO topic; FIFO topics deliver only to SQS, so use a standard topic"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:scan-alerts";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_to_high_and_alerting_on_failed_scans() {
        let cfg = config(&[(ALERT_TOPIC_ARN, TOPIC)]).unwrap();
        assert_eq!(cfg.threshold, Severity::High);
        assert!(cfg.alert_on_scan_failure);
        assert_eq!(cfg.chat_topic_arn, None);
    }

    #[test]
    fn the_chat_topic_is_optional_but_checked() {
        let chat = "arn:aws:sns:us-east-1:123456789012:scan-chat";
        let cfg = config(&[(ALERT_TOPIC_ARN, TOPIC), (CHAT_TOPIC_ARN, chat)]).unwrap();
        assert_eq!(cfg.chat_topic_arn.as_deref(), Some(chat));
        let err = config(&[(ALERT_TOPIC_ARN, TOPIC), (CHAT_TOPIC_ARN, "slack")]).unwrap_err();
        assert_eq!(err.variable, CHAT_TOPIC_ARN);
    }

    #[test]
    fn reads_every_variable() {
        let cfg = config(&[
            (ALERT_TOPIC_ARN, TOPIC),
            (SEVERITY_THRESHOLD, "medium"),
            (ALERT_ON_SCAN_FAILURE, "false"),
            (
                CHAT_TOPIC_ARN,
                "arn:aws-cn:sns:cn-north-1:123456789012:scan-chat",
            ),
            (POLICY_PARAMETER_NAME, "/scan-alerts/policy"),
            (POLICY_CACHE_SECONDS, "5"),
            (DEDUP_TABLE_NAME, "scan-alerts-dedup"),
            (
                SOURCE_URL_TEMPLATE,
                "https://git.example.com/{repository}/commit/{tag}",
            ),
            (METRICS, "false"),
            (METRICS_NAMESPACE, "Team/Scans"),
            (METRICS_REPOSITORY_DIMENSION, "true"),
            (METRICS_OWNER_DIMENSION, "true"),
            (MEMBER_ROLE_NAME, "scan-reader"),
            (ACCOUNT_ALIASES, "111111111111=payments-prod"),
            (FINDINGS_WAIT_SECONDS, "7"),
            (INITIAL_SCAN_WINDOW_MINUTES, "45"),
        ])
        .unwrap();
        assert_eq!(cfg.alert_topic_arn, TOPIC);
        assert_eq!(cfg.threshold, Severity::Medium);
        assert!(cfg.threshold_from_env);
        assert!(!cfg.alert_on_scan_failure);
        assert_eq!(
            cfg.chat_topic_arn.as_deref(),
            Some("arn:aws-cn:sns:cn-north-1:123456789012:scan-chat")
        );
        assert_eq!(
            cfg.policy_parameter_name.as_deref(),
            Some("/scan-alerts/policy")
        );
        assert_eq!(cfg.policy_cache_seconds, 5);
        assert_eq!(cfg.dedup_table_name.as_deref(), Some("scan-alerts-dedup"));
        assert!(cfg.source_url_template.is_some());
        assert!(!cfg.metrics);
        assert_eq!(cfg.metrics_namespace, "Team/Scans");
        assert!(cfg.metrics_repository_dimension);
        assert!(cfg.metrics_owner_dimension);
        assert_eq!(cfg.member_role_name.as_deref(), Some("scan-reader"));
        assert_eq!(cfg.account_aliases["111111111111"], "payments-prod");
        assert_eq!(cfg.findings_wait_seconds, 7);
        assert_eq!(cfg.initial_scan_window_minutes, 45);
        // Every field was set away from its default.
        let default = Config {
            alert_topic_arn: TOPIC.into(),
            ..Config::default()
        };
        assert_ne!(cfg.findings_wait_seconds, default.findings_wait_seconds);
        assert_ne!(
            cfg.initial_scan_window_minutes,
            default.initial_scan_window_minutes
        );
        assert_ne!(cfg.policy_cache_seconds, default.policy_cache_seconds);
    }

    #[test]
    fn wait_and_window_are_bounded() {
        for (variable, value) in [
            (FINDINGS_WAIT_SECONDS, "61"),
            (FINDINGS_WAIT_SECONDS, "-1"),
            (INITIAL_SCAN_WINDOW_MINUTES, "soon"),
        ] {
            let err = config(&[(ALERT_TOPIC_ARN, TOPIC), (variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(err.problem.contains(value), "{err}");
        }
    }

    #[test]
    fn storm_settings_are_checked_and_default_to_twenty_images_an_hour() {
        let cfg = config(&[(ALERT_TOPIC_ARN, TOPIC)]).unwrap();
        assert_eq!(
            (
                cfg.storm_threshold,
                cfg.storm_window_minutes,
                cfg.storm_table_name
            ),
            (20, 60, None)
        );
        let cfg = config(&[
            (ALERT_TOPIC_ARN, TOPIC),
            (STORM_THRESHOLD, "0"),
            (STORM_TABLE_NAME, "scan-alerts-dedup"),
        ])
        .unwrap();
        assert_eq!(cfg.storm_threshold, 0, "0 turns storms off");
        assert_eq!(cfg.storm_table_name.as_deref(), Some("scan-alerts-dedup"));
        for (variable, value) in [
            (STORM_THRESHOLD, "many"),
            (STORM_WINDOW_MINUTES, "0"),
            (STORM_SUMMARY_MINUTES, "-5"),
            (STORM_TABLE_NAME, "storm table"),
        ] {
            let err = config(&[(ALERT_TOPIC_ARN, TOPIC), (variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
        }
    }

    #[test]
    fn a_missing_topic_names_the_variable() {
        let err = config(&[]).unwrap_err();
        assert_eq!(err.variable, ALERT_TOPIC_ARN);
        assert!(err.to_string().contains("ALERT_TOPIC_ARN"));
    }

    #[test]
    fn malformed_or_fifo_topics_are_rejected() {
        for arn in [
            "scan-alerts",
            "arn:aws:sqs:us-east-1:123456789012:q",
            "arn:aws:sns:us-east-1:1234:t",
            "arn:aws:sns:us-east-1:123456789012:alerts.fifo",
        ] {
            let err = config(&[(ALERT_TOPIC_ARN, arn)]).unwrap_err();
            assert_eq!(err.variable, ALERT_TOPIC_ARN, "{arn}");
        }
    }

    #[test]
    fn an_unknown_threshold_lists_the_allowed_values() {
        for value in ["SEVERE", "UNDEFINED", "UNTRIAGED"] {
            let err = config(&[(ALERT_TOPIC_ARN, TOPIC), (SEVERITY_THRESHOLD, value)]).unwrap_err();
            assert_eq!(err.variable, SEVERITY_THRESHOLD);
            assert!(err
                .problem
                .contains("INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL"));
        }
    }

    #[test]
    fn policy_and_dedup_settings_are_checked() {
        let cfg = config(&[
            (ALERT_TOPIC_ARN, TOPIC),
            (POLICY_PARAMETER_NAME, "/scan-alerts/policy"),
            (POLICY_CACHE_SECONDS, "0"),
            (DEDUP_TABLE_NAME, "scan-alerts-dedup"),
        ])
        .unwrap();
        assert_eq!(
            cfg.policy_parameter_name.as_deref(),
            Some("/scan-alerts/policy")
        );
        assert_eq!(cfg.policy_cache_seconds, 0);
        assert_eq!(cfg.dedup_table_name.as_deref(), Some("scan-alerts-dedup"));
        assert_eq!(
            config(&[
                (ALERT_TOPIC_ARN, TOPIC),
                (REPORT_BUCKET_NAME, "stack-reports-1a2b")
            ])
            .unwrap()
            .report_bucket_name
            .as_deref(),
            Some("stack-reports-1a2b")
        );
        for (var, value) in [
            (POLICY_PARAMETER_NAME, "policy name"),
            (POLICY_CACHE_SECONDS, "soon"),
            (POLICY_CACHE_SECONDS, "86400"),
            (REPORT_BUCKET_NAME, "Reports_Bucket"),
            (DIGEST_REGIONS, "us-east-1,europe"),
            (DIGEST_REGIONS, "US-EAST-1"),
            (REPORT_BUCKET_NAME, "-reports"),
            (REPORT_BUCKET_NAME, "ab"),
            (DEDUP_TABLE_NAME, "x"),
            (DEDUP_TABLE_NAME, "bad/name"),
            (DIGEST_QUEUE_URL, "digest-work"),
            (DIGEST_QUEUE_URL, "http://sqs.us-east-1.amazonaws.com/1/q"),
            (DIGEST_WAIT_MINUTES, "2000"),
            (DIGEST_ASSEMBLY_DELAY_SECONDS, "901"),
        ] {
            let err = config(&[(ALERT_TOPIC_ARN, TOPIC), (var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{var}={value}");
        }
    }

    #[test]
    fn the_digest_fans_out_only_with_a_queue_url() {
        let cfg = config(&[(ALERT_TOPIC_ARN, TOPIC)]).unwrap();
        assert_eq!(cfg.digest_queue_url, None);
        assert_eq!(cfg.digest_wait_minutes, 60);
        assert_eq!(cfg.digest_assembly_delay_seconds, 900);
        let url = "https://sqs.us-east-1.amazonaws.com/123456789012/stack-DigestQueue-1a2b";
        let cfg = config(&[
            (ALERT_TOPIC_ARN, TOPIC),
            (DIGEST_QUEUE_URL, url),
            (DIGEST_WAIT_MINUTES, "0"),
            (DIGEST_ASSEMBLY_DELAY_SECONDS, "0"),
        ])
        .unwrap();
        assert_eq!(cfg.digest_queue_url.as_deref(), Some(url));
        assert_eq!(
            (cfg.digest_wait_minutes, cfg.digest_assembly_delay_seconds),
            (0, 0)
        );
    }

    #[test]
    fn the_source_url_template_is_optional_but_checked() {
        assert_eq!(
            config(&[(ALERT_TOPIC_ARN, TOPIC)])
                .unwrap()
                .source_url_template,
            None
        );
        let template = "https://git.example.com/{repository}/commit/{tag}";
        let cfg = config(&[(ALERT_TOPIC_ARN, TOPIC), (SOURCE_URL_TEMPLATE, template)]).unwrap();
        assert_eq!(
            cfg.source_url_template.as_ref().map(|t| t.as_str()),
            Some(template)
        );
        for (bad, says) in [
            ("http://git.example.com/{tag}", "https://"),
            ("https://git.example.com/{repository}", "{tag}"),
            ("https://git.example.com/{sha}/{tag}", "unknown placeholder"),
            ("https://{repository}/{tag}", "host"),
        ] {
            let err = config(&[(ALERT_TOPIC_ARN, TOPIC), (SOURCE_URL_TEMPLATE, bad)]).unwrap_err();
            assert_eq!(err.variable, SOURCE_URL_TEMPLATE, "{bad}");
            assert!(err.to_string().contains("SOURCE_URL_TEMPLATE"));
            assert!(err.problem.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn the_member_role_is_optional_but_checked() {
        let topic = (ALERT_TOPIC_ARN, TOPIC);
        assert_eq!(config(&[topic]).unwrap().member_role_name, None);
        let c = config(&[topic, (MEMBER_ROLE_NAME, "ecr-scan-alerts-reader")]).unwrap();
        assert_eq!(
            c.member_role_name.as_deref(),
            Some("ecr-scan-alerts-reader")
        );
        let err = config(&[topic, (MEMBER_ROLE_NAME, "team/reader")]).unwrap_err();
        assert_eq!(err.variable, MEMBER_ROLE_NAME);
        assert!(err.problem.contains("not an IAM role name"), "{err}");
    }

    #[test]
    fn account_aliases_are_optional_but_checked() {
        let topic = (ALERT_TOPIC_ARN, TOPIC);
        assert!(config(&[topic]).unwrap().account_aliases.is_empty());
        let c = config(&[
            topic,
            (
                ACCOUNT_ALIASES,
                "111111111111=payments-prod, 222222222222=data-dev",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.account_aliases.get("111111111111").map(String::as_str),
            Some("payments-prod")
        );
        assert_eq!(
            c.account_aliases.get("222222222222").map(String::as_str),
            Some("data-dev")
        );
        for (bad, says) in [
            ("payments-prod", "is not account=alias"),
            ("1111=payments", "not an AWS account id"),
            ("111111111111=", "is not an alias"),
            ("111111111111=pay ments", "is not an alias"),
            ("111111111111=a,111111111111=b", "named twice"),
        ] {
            let err = config(&[topic, (ACCOUNT_ALIASES, bad)]).unwrap_err();
            assert_eq!(err.variable, ACCOUNT_ALIASES, "{bad}");
            assert!(err.problem.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn the_account_scope_is_a_list_of_account_ids_or_any() {
        let topic = (ALERT_TOPIC_ARN, TOPIC);
        assert_eq!(config(&[topic]).unwrap().scope_account_ids, None);
        assert_eq!(
            config(&[topic, (SCOPE_ACCOUNT_IDS, "")])
                .unwrap()
                .scope_account_ids,
            None,
            "empty: any account (organisation-wide)"
        );
        let c = config(&[topic, (SCOPE_ACCOUNT_IDS, "111111111111, 222222222222")]).unwrap();
        let ids: Vec<&str> = c
            .scope_account_ids
            .as_ref()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(ids, ["111111111111", "222222222222"]);
        for bad in ["1111", "111111111111,", "abcdefghijkl"] {
            let err = config(&[topic, (SCOPE_ACCOUNT_IDS, bad)]).unwrap_err();
            assert_eq!(err.variable, SCOPE_ACCOUNT_IDS, "{bad}");
            assert!(
                err.problem.contains("not an AWS account id"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_owner_tag_key_defaults_to_owner_and_is_checked() {
        let topic = (ALERT_TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:alerts");
        let c = config(&[topic]).unwrap();
        assert_eq!(
            (c.owner_tag_key.as_str(), c.owner_cache_seconds),
            ("owner", 300)
        );
        let c = config(&[
            topic,
            (OWNER_TAG_KEY, "team:name"),
            (OWNER_CACHE_SECONDS, "60"),
        ])
        .unwrap();
        assert_eq!(
            (c.owner_tag_key.as_str(), c.owner_cache_seconds),
            ("team:name", 60)
        );
        for bad in ["aws:owner", "a*b", &"k".repeat(129)] {
            let err = config(&[topic, (OWNER_TAG_KEY, bad)]).unwrap_err();
            assert_eq!(err.variable, OWNER_TAG_KEY, "{bad}");
        }
        let err = config(&[topic, (OWNER_CACHE_SECONDS, "3601")]).unwrap_err();
        assert_eq!(err.variable, OWNER_CACHE_SECONDS);
    }

    #[test]
    fn batch_concurrency_is_one_to_a_hundred_images() {
        let topic = (ALERT_TOPIC_ARN, TOPIC);
        assert_eq!(config(&[topic]).unwrap().batch_concurrency, 50);
        assert_eq!(
            config(&[topic, (BATCH_CONCURRENCY, "1")])
                .unwrap()
                .batch_concurrency,
            1
        );
        for bad in ["0", "101", "many"] {
            let err = config(&[topic, (BATCH_CONCURRENCY, bad)]).unwrap_err();
            assert_eq!(err.variable, BATCH_CONCURRENCY, "{bad}");
        }
    }

    #[test]
    fn the_recheck_delay_is_a_number_of_seconds() {
        let topic = (ALERT_TOPIC_ARN, TOPIC);
        assert_eq!(config(&[topic]).unwrap().recheck_delay_seconds, 900);
        assert_eq!(
            config(&[topic, (RECHECK_DELAY_SECONDS, "0")])
                .unwrap()
                .recheck_delay_seconds,
            0
        );
        let err = config(&[topic, (RECHECK_DELAY_SECONDS, "soon")]).unwrap_err();
        assert_eq!(err.variable, RECHECK_DELAY_SECONDS);
    }

    #[test]
    fn a_bad_boolean_names_the_variable() {
        let err = config(&[(ALERT_TOPIC_ARN, TOPIC), (ALERT_ON_SCAN_FAILURE, "yes")]).unwrap_err();
        assert_eq!(err.variable, ALERT_ON_SCAN_FAILURE);
    }
}
