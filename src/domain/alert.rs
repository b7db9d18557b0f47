//! The alert as it leaves the pipeline: subject, text and routing attributes.

use serde::Serialize;

/// SNS's limit for one published message, attributes included.
pub const SNS_MESSAGE_LIMIT: usize = 262_144;
/// SNS subjects must be shorter than 100 characters.
pub const SUBJECT_LIMIT: usize = 99;

pub const ATTR_SEVERITY: &str = "severity";
pub const ATTR_REPOSITORY: &str = "repository";
pub const ATTR_ACCOUNT: &str = "account";
/// Only when an alias is configured for the account.
pub const ATTR_ACCOUNT_ALIAS: &str = "account_alias";
pub const ATTR_REGION: &str = "region";
pub const ATTR_ALERT_KIND: &str = "alert_kind";
/// Findings alerts: `true` when any finding in the alert has a known
/// exploit, `false` when none has, `unknown` when the scanner does not say.
pub const ATTR_EXPLOITABLE: &str = "exploitable";
/// Findings alerts: whether the image runs (`true` / `false` / `unknown`).
pub const ATTR_IN_USE: &str = "in_use";
/// Who owns the image (`unowned` when nobody does); on a storm alert, the
/// owners of its images (a `String.Array`).
pub const ATTR_OWNER: &str = "owner";
/// Storm alerts: the vulnerability id.
pub const ATTR_VULNERABILITY: &str = "vulnerability";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Findings,
    ScanFailed,
    /// One vulnerability newly in many images ([`crate::domain::storm`]).
    Storm,
    /// An owner's periodic digest ([`crate::domain::digest`]).
    Digest,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Findings => "findings",
            AlertKind::ScanFailed => "scan_failed",
            AlertKind::Storm => "storm",
            AlertKind::Digest => "digest",
        }
    }
}

/// One message for the alert topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    pub subject: String,
    /// Human text for the alert topic (email, SQS).
    pub body: String,
    /// The Slack custom notification (JSON) for the chat topic.
    pub chat: String,
    /// String message attributes for subscription filter policies.
    pub attributes: Vec<(&'static str, String)>,
    /// `String.Array` message attributes (a storm's owners and
    /// repositories): a filter policy matches when any element does.
    pub array_attributes: Vec<(&'static str, Vec<String>)>,
}

impl Alert {
    /// A stable hash of what the alert topic receives (subject and text):
    /// the same findings give the same id on a retry.
    pub fn content_id(&self) -> u64 {
        // FNV-1a: stable across builds, unlike std's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.subject.bytes().chain([0u8]).chain(self.body.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash
    }

    pub fn array_attribute(&self, name: &str) -> Option<&[String]> {
        self.array_attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_slice())
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Bytes SNS counts against the message limit for the attributes:
    /// name, data type and value of each.
    pub fn attributes_size(&self) -> usize {
        attributes_size(&self.attributes)
            + self
                .array_attributes
                .iter()
                .map(|(name, values)| name.len() + "String.Array".len() + array_value(values).len())
                .sum::<usize>()
    }

    /// What SNS counts for the alert-topic message.
    pub fn publish_size(&self) -> usize {
        self.body.len() + self.attributes_size()
    }

    /// What SNS counts for the chat-topic message.
    pub fn chat_publish_size(&self) -> usize {
        self.chat.len() + self.attributes_size()
    }
}

/// A `String.Array` attribute's value as SNS takes it: a JSON array.
pub fn array_value(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_string())
}

pub fn attributes_size(attributes: &[(&'static str, String)]) -> usize {
    attributes
        .iter()
        .map(|(name, value)| name.len() + "String".len() + value.len())
        .sum()
}
