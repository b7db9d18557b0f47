//! Which image an event is about, and how to name it to people.

use serde::Serialize;

/// Basic (ECR's own) or enhanced (Amazon Inspector) scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanKind {
    Basic,
    Enhanced,
}

impl ScanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanKind::Basic => "basic",
            ScanKind::Enhanced => "enhanced",
        }
    }
}

/// An image in a registry: the account and region it lives in, its
/// repository, its digest (tags move or are absent) and its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    pub account: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
}

impl ImageRef {
    /// `repository:first-tag`, or `repository@sha256:<12 hex>` when untagged.
    pub fn short_name(&self) -> String {
        match self.tags.first() {
            Some(tag) => format!("{}:{}", self.repository, tag),
            None => format!("{}@{}", self.repository, self.short_digest()),
        }
    }

    /// `sha256:` and the first 12 hex digits.
    pub fn short_digest(&self) -> &str {
        let end = self
            .digest
            .char_indices()
            .nth("sha256:".len() + 12)
            .map_or(self.digest.len(), |(i, _)| i);
        &self.digest[..end]
    }

    /// The full reference to pull or pin: `account.dkr.ecr.region.amazonaws.com/repo@sha256:...`.
    pub fn pinned_reference(&self) -> String {
        format!(
            "{}.dkr.ecr.{}.amazonaws.com/{}@{}",
            self.account, self.region, self.repository, self.digest
        )
    }

    /// This image's scan results in the ECR console of its region.
    pub fn console_url(&self) -> String {
        format!(
            "https://{region}.console.aws.amazon.com/ecr/repositories/private/{account}/{repo}/_/image/{digest}/scan-results?region={region}",
            region = self.region,
            account = self.account,
            repo = self.repository,
            digest = self.digest,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(tags: &[&str]) -> ImageRef {
        ImageRef {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            repository: "team/api".into(),
            digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                .into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn names_a_tagged_image_by_its_first_tag() {
        assert_eq!(image(&["v1", "abc1234"]).short_name(), "team/api:v1");
    }

    #[test]
    fn names_an_untagged_image_by_a_short_digest() {
        assert_eq!(image(&[]).short_name(), "team/api@sha256:0123456789ab");
    }

    #[test]
    fn console_link_points_at_the_scan_results_in_the_image_region() {
        let url = image(&[]).console_url();
        assert!(url.starts_with("https://eu-west-1.console.aws.amazon.com/ecr/repositories/private/123456789012/team/api/_/image/sha256:0123"));
        assert!(url.ends_with("/scan-results?region=eu-west-1"));
    }
}
