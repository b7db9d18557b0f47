//! Which image an event is about, and how to name it to people.

use serde::{Deserialize, Serialize};

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

/// The AWS partition a region belongs to: it decides ARNs, the registry's
/// host name and the console (AWS General Reference, "Identify AWS
/// resources with Amazon Resource Names (ARNs)"; Amazon ECR endpoints in
/// China end in `.amazonaws.com.cn`). A region is in
/// exactly one partition, so the image's region tells it; the event's ARNs
/// agree by construction (`arn:aws-cn:` for `cn-*` regions, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    Aws,
    China,
    GovCloud,
}

impl Partition {
    pub fn of_region(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::China
        } else if region.starts_with("us-gov-") {
            Partition::GovCloud
        } else {
            Partition::Aws
        }
    }

    /// The partition as ARNs spell it.
    pub fn arn_name(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::China => "aws-cn",
            Partition::GovCloud => "aws-us-gov",
        }
    }

    /// Domain of the registry endpoints (`ACCOUNT.dkr.ecr.REGION.<domain>`).
    pub fn registry_domain(self) -> &'static str {
        match self {
            Partition::China => "amazonaws.com.cn",
            Partition::Aws | Partition::GovCloud => "amazonaws.com",
        }
    }

    /// The console's origin for `region`.
    pub fn console_origin(self, region: &str) -> String {
        match self {
            Partition::Aws => format!("https://{region}.console.aws.amazon.com"),
            Partition::China => "https://console.amazonaws.cn".into(),
            Partition::GovCloud => "https://console.amazonaws-us-gov.com".into(),
        }
    }
}

/// An image in a registry: the account and region it lives in, its
/// repository, its digest (tags move or are absent) and its tags.
#[derive(Default, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    pub fn partition(&self) -> Partition {
        Partition::of_region(&self.region)
    }

    /// The full reference to pull or pin: `account.dkr.ecr.region.amazonaws.com/repo@sha256:...`
    /// (`amazonaws.com.cn` in China).
    pub fn pinned_reference(&self) -> String {
        format!(
            "{}.dkr.ecr.{}.{}/{}@{}",
            self.account,
            self.region,
            self.partition().registry_domain(),
            self.repository,
            self.digest
        )
    }

    /// `arn:<partition>:ecr:<region>:<account>:repository/<name>`.
    pub fn repository_arn(&self) -> String {
        format!(
            "arn:{}:ecr:{}:{}:repository/{}",
            self.partition().arn_name(),
            self.region,
            self.account,
            self.repository
        )
    }

    /// An image of account 123456789012 in us-east-1 (digest `sha256:00`),
    /// for the unit tests.
    #[cfg(test)]
    pub(crate) fn sample(repository: &str, tags: &[&str]) -> ImageRef {
        ImageRef {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: repository.into(),
            digest: "sha256:00".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// The image's repository in the ECR console of its region and partition.
    pub fn repository_console_url(&self) -> String {
        format!(
            "{origin}/ecr/repositories/private/{account}/{repo}?region={region}",
            origin = self.partition().console_origin(&self.region),
            account = self.account,
            repo = self.repository,
            region = self.region,
        )
    }

    /// This image's scan results in the ECR console of its region and partition.
    pub fn console_url(&self) -> String {
        format!(
            "{origin}/ecr/repositories/private/{account}/{repo}/_/image/{digest}/scan-results?region={region}",
            origin = self.partition().console_origin(&self.region),
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

    #[test]
    fn links_and_names_follow_the_partition_of_the_region() {
        let mut img = image(&["v1"]);
        for (region, console, pull, arn) in [
            (
                "eu-west-1",
                "https://eu-west-1.console.aws.amazon.com/ecr/",
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api@sha256:",
                "arn:aws:ecr:eu-west-1:123456789012:repository/team/api",
            ),
            (
                "cn-north-1",
                "https://console.amazonaws.cn/ecr/",
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/api@sha256:",
                "arn:aws-cn:ecr:cn-north-1:123456789012:repository/team/api",
            ),
            (
                "us-gov-west-1",
                "https://console.amazonaws-us-gov.com/ecr/",
                "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/team/api@sha256:",
                "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/team/api",
            ),
        ] {
            img.region = region.into();
            assert!(
                img.console_url().starts_with(console),
                "{}",
                img.console_url()
            );
            assert!(img.console_url().ends_with(&format!("?region={region}")));
            assert!(
                img.pinned_reference().starts_with(pull),
                "{}",
                img.pinned_reference()
            );
            assert_eq!(img.repository_arn(), arn);
        }
    }
}
