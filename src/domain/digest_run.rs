//! A digest run fanned out (docs/digest.md, "Fan-out"): one message per
//! registry (account and region) on the digest queue, each read by its own
//! invocation into a partial kept in the table, and one final assembly
//! that merges the partials and names every registry that did not report.
//! Plain data and its rules; the queue and the table are the adapters'.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// SQS's longest message delay (Amazon SQS API Reference, SendMessage,
/// `DelaySeconds`: "Valid values: 0 to 900").
pub const MAX_DELAY_SECONDS: u32 = 900;

/// A registry: an account (empty: the function's own) and a region (empty:
/// the function's).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Registry {
    pub account: String,
    pub region: String,
}

impl Registry {
    /// `account|region`: its key in the run's record.
    pub fn key(&self) -> String {
        format!("{}|{}", self.account, self.region)
    }

    /// `account 555555555555, region us-east-1`, or `this account, …`.
    pub fn name(&self) -> String {
        let account = if self.account.is_empty() {
            "this account".to_string()
        } else {
            format!("account {}", self.account)
        };
        if self.region.is_empty() {
            account
        } else {
            format!("{account}, region {}", self.region)
        }
    }
}

/// What the digest queue carries: a registry to read for run `run`, or
/// the run's assembly. Written `{"part": {"run": …, "registry": {…}}}` and
/// `{"assembly": {"run": …}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Work {
    Part { run: i64, registry: Registry },
    Assembly { run: i64 },
}

/// What a registry's part reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reported {
    /// Read: its partial is kept in this many chunks, written under
    /// `token` (a message delivered twice may be read twice at once: each
    /// reading keeps its own chunks, and the last to report is read).
    Read { chunks: u32, token: String },
    /// Not read, with why.
    Failed(String),
}

/// A fanned-out run as the table keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestRun {
    /// The run's time (epoch seconds): the schedule's time, so that a
    /// retried schedule is the same run.
    pub run: i64,
    pub registries: Vec<Registry>,
    /// Why the organisation's accounts could not be listed, when not.
    pub accounts_problem: Option<String>,
    /// By registry key.
    pub reported: BTreeMap<String, Reported>,
    pub assembled: bool,
}

impl DigestRun {
    /// Every registry reported (read or failed).
    pub fn all_reported(&self) -> bool {
        self.registries
            .iter()
            .all(|r| self.reported.contains_key(&r.key()))
    }

    /// Whether `registry` reported already (a message delivered twice).
    pub fn has_reported(&self, registry: &Registry) -> bool {
        self.reported.contains_key(&registry.key())
    }

    /// The registries the assembly names as missing from the digests, each
    /// with why: failed ones with their failure, the others as not
    /// reported by the assembly.
    pub fn missing(&self) -> Vec<String> {
        self.registries
            .iter()
            .filter_map(|r| match self.reported.get(&r.key()) {
                Some(Reported::Read { .. }) => None,
                Some(Reported::Failed(why)) => Some(format!("{}: {why}", r.name())),
                None => Some(format!(
                    "{}: did not report before the digests were assembled",
                    r.name()
                )),
            })
            .collect()
    }

    /// The registries read, with their partials' chunk counts and tokens.
    pub fn read(&self) -> Vec<(&Registry, u32, &str)> {
        self.registries
            .iter()
            .filter_map(|r| match self.reported.get(&r.key()) {
                Some(Reported::Read { chunks, token }) => Some((r, *chunks, token.as_str())),
                _ => None,
            })
            .collect()
    }
}

/// What the assembly does when its message arrives at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssemblyStep {
    /// Already assembled (by the last part to report): nothing.
    Done,
    /// Parts are still out and the run may wait: look again later.
    Wait,
    /// Assemble now, naming what did not report.
    Assemble,
}

/// The assembly's decision: wait while parts are out and the run is
/// younger than `wait_seconds`; then assemble with what reported.
pub fn assembly_step(run: &DigestRun, now: i64, wait_seconds: i64) -> AssemblyStep {
    if run.assembled {
        AssemblyStep::Done
    } else if !run.all_reported() && now < run.run + wait_seconds {
        AssemblyStep::Wait
    } else {
        AssemblyStep::Assemble
    }
}

/// Splits `bytes` into chunks of at most `size` bytes (at least one, empty
/// for nothing): a partial is kept in items of at most this size, whatever
/// the registry's size (DynamoDB's item limit is 400 KB, Amazon DynamoDB
/// Developer Guide, "Service, account, and table quotas").
pub fn chunks(bytes: &[u8], size: usize) -> Vec<&[u8]> {
    if bytes.is_empty() {
        return vec![bytes];
    }
    bytes.chunks(size.max(1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(account: &str) -> Registry {
        Registry {
            account: account.into(),
            region: "us-east-1".into(),
        }
    }

    fn read(chunks: u32) -> Reported {
        Reported::Read {
            chunks,
            token: "t".into(),
        }
    }

    fn run() -> DigestRun {
        DigestRun {
            run: 1_000,
            registries: vec![
                registry("111111111111"),
                registry("222222222222"),
                registry(""),
            ],
            ..DigestRun::default()
        }
    }

    #[test]
    fn work_is_written_as_documented_and_unknown_fields_are_refused() {
        let part = Work::Part {
            run: 7,
            registry: registry("111111111111"),
        };
        let text = serde_json::to_string(&part).unwrap();
        assert_eq!(
            text,
            r#"{"part":{"run":7,"registry":{"account":"111111111111","region":"us-east-1"}}}"#
        );
        assert_eq!(serde_json::from_str::<Work>(&text).unwrap(), part);
        assert_eq!(
            serde_json::from_str::<Work>(r#"{"assembly":{"run":7}}"#).unwrap(),
            Work::Assembly { run: 7 }
        );
        assert!(serde_json::from_str::<Work>(r#"{"assembly":{"run":7,"x":1}}"#).is_err());
        assert!(serde_json::from_str::<Work>(r#"{"digest":"scheduled"}"#).is_err());
    }

    #[test]
    fn the_missing_registries_are_named_with_why() {
        let mut run = run();
        run.reported.insert(registry("111111111111").key(), read(2));
        run.reported.insert(
            registry("").key(),
            Reported::Failed("AccessDenied: not authorized".into()),
        );
        assert!(!run.all_reported());
        assert_eq!(
            run.missing(),
            vec![
                "account 222222222222, region us-east-1: did not report before the digests were assembled".to_string(),
                "this account, region us-east-1: AccessDenied: not authorized".to_string(),
            ]
        );
        assert_eq!(run.read(), vec![(&registry("111111111111"), 2, "t")]);
        run.reported.insert(registry("222222222222").key(), read(1));
        assert!(run.all_reported());
        assert_eq!(run.missing().len(), 1);
    }

    #[test]
    fn the_assembly_waits_for_parts_until_the_run_is_old_enough() {
        let mut run = run();
        assert_eq!(assembly_step(&run, 1_000 + 899, 900), AssemblyStep::Wait);
        assert_eq!(
            assembly_step(&run, 1_000 + 900, 900),
            AssemblyStep::Assemble
        );
        for r in run.registries.clone() {
            run.reported.insert(r.key(), read(1));
        }
        assert_eq!(assembly_step(&run, 1_001, 900), AssemblyStep::Assemble);
        run.assembled = true;
        assert_eq!(assembly_step(&run, 1_001, 900), AssemblyStep::Done);
    }

    #[test]
    fn partials_are_kept_in_bounded_chunks() {
        let bytes = vec![7u8; 1_000];
        let parts = chunks(&bytes, 300);
        assert_eq!(parts.len(), 4);
        assert!(parts.iter().all(|c| c.len() <= 300));
        assert_eq!(parts.concat(), bytes);
        assert_eq!(chunks(&[], 300).len(), 1);
    }
}
