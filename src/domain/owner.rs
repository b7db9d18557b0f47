//! Who owns an image: the team its alerts are routed to.
//!
//! Resolved in this order (docs/alerts.md, "Who owns it"):
//!
//! 1. the repository's own tag, `OWNER_TAG_KEY` (default `owner`), read
//!    with ECR's `ListTagsForResource`;
//! 2. the policy document's `owners` list, first matching entry;
//! 3. otherwise [`UNOWNED`].
//!
//! An owner name goes into an SNS message attribute that subscription
//! filter policies match, into the email text and into a Slack message, so
//! it is checked ([`check_name`]): a tag value that is not a usable name is
//! reported and the image is treated as unowned, never failed.

use crate::domain::glob::Glob;
use crate::domain::image::ImageRef;

/// The owner of an image nobody claims.
pub const UNOWNED: &str = "unowned";
/// The longest owner name.
pub const NAME_MAX: usize = 64;

/// An image's owner, and where the name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub name: String,
    pub source: OwnerSource,
}

/// Where an owner's name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerSource {
    /// The repository's tag with this key.
    RepositoryTag(String),
    /// The policy document's `owners[N]`.
    Policy(usize),
    /// Neither: [`UNOWNED`].
    Nobody,
}

impl Owner {
    pub fn unowned() -> Owner {
        Owner {
            name: UNOWNED.to_string(),
            source: OwnerSource::Nobody,
        }
    }

    /// `payments (repository tag owner)`: the line alerts carry.
    pub fn phrase(&self) -> String {
        format!("{} ({})", self.name, self.source.phrase())
    }
}

impl OwnerSource {
    /// `repository tag owner`, `policy owners[1]`, `no owner tag or policy entry`.
    pub fn phrase(&self) -> String {
        match self {
            OwnerSource::RepositoryTag(key) => format!("repository tag {key}"),
            OwnerSource::Policy(index) => format!("policy owners[{index}]"),
            OwnerSource::Nobody => "no owner tag or policy entry".to_string(),
        }
    }

    /// The short form for JSON and logs: `tag`, `policy`, `none`.
    pub fn kind(&self) -> &'static str {
        match self {
            OwnerSource::RepositoryTag(_) => "tag",
            OwnerSource::Policy(_) => "policy",
            OwnerSource::Nobody => "none",
        }
    }
}

/// Characters an owner name may hold besides letters and digits: those of
/// team names and e-mail-like handles. Everything else (`*`, `<`, `>`, `&`,
/// quotes, backticks, commas, `=`, control characters …) would need escaping
/// in a filter policy, a Slack message or the template's `OwnerEmails` list.
const ALLOWED_PUNCTUATION: &[char] = &['-', '_', '.', '/', ':', '@', '+', ' '];

/// `value` as an owner name, or why it is not one.
pub fn check_name(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("is empty".into());
    }
    if value.trim() != value {
        return Err("starts or ends with a space".into());
    }
    let length = value.chars().count();
    if length > NAME_MAX {
        return Err(format!(
            "is {length} characters long; at most {NAME_MAX} are allowed"
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_alphanumeric() || ALLOWED_PUNCTUATION.contains(c)))
    {
        return Err(format!(
            "contains {c:?}; an owner name holds letters, digits, spaces and - _ . / : @ +"
        ));
    }
    Ok(value.to_string())
}

/// One `owners` entry of the policy document: the images it covers (by
/// repository pattern, account, or both) and their owner.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnerRule {
    pub owner: String,
    pub repository: Option<Glob>,
    pub account: Option<String>,
}

impl OwnerRule {
    pub fn covers(&self, image: &ImageRef) -> bool {
        self.repository
            .as_ref()
            .is_none_or(|g| g.matches(&image.repository))
            && self.account.as_ref().is_none_or(|a| *a == image.account)
    }
}

/// The owner of `image`: its repository's tag value when there is a usable
/// one, else the first policy entry covering it, else [`UNOWNED`].
/// `tag` is `(key, value)` as read; a value that is not a usable name is
/// passed over (the caller reports it).
pub fn resolve(tag: Option<(&str, &str)>, rules: &[OwnerRule], image: &ImageRef) -> Owner {
    if let Some((key, value)) = tag {
        if let Ok(name) = check_name(value) {
            return Owner {
                name,
                source: OwnerSource::RepositoryTag(key.to_string()),
            };
        }
    }
    rules
        .iter()
        .enumerate()
        .find(|(_, rule)| rule.covers(image))
        .map_or_else(Owner::unowned, |(index, rule)| Owner {
            name: rule.owner.clone(),
            source: OwnerSource::Policy(index),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(account: &str, repository: &str) -> ImageRef {
        ImageRef {
            account: account.into(),
            region: "us-east-1".into(),
            repository: repository.into(),
            digest: "sha256:1".into(),
            tags: vec![],
        }
    }

    fn rules() -> Vec<OwnerRule> {
        vec![
            OwnerRule {
                owner: "payments".into(),
                repository: Some(Glob::new("pay/*")),
                account: None,
            },
            OwnerRule {
                owner: "platform".into(),
                repository: None,
                account: Some("222222222222".into()),
            },
        ]
    }

    #[test]
    fn the_tag_comes_first_then_the_first_policy_entry_then_nobody() {
        let pay = image("111111111111", "pay/api");
        let by_tag = resolve(Some(("owner", "search")), &rules(), &pay);
        assert_eq!(by_tag.name, "search");
        assert_eq!(by_tag.phrase(), "search (repository tag owner)");
        let by_policy = resolve(None, &rules(), &pay);
        assert_eq!(by_policy.phrase(), "payments (policy owners[0])");
        let by_account = resolve(None, &rules(), &image("222222222222", "pay2"));
        assert_eq!(by_account.phrase(), "platform (policy owners[1])");
        let nobody = resolve(None, &rules(), &image("111111111111", "web"));
        assert_eq!(nobody.name, UNOWNED);
        assert_eq!(nobody.phrase(), "unowned (no owner tag or policy entry)");
    }

    #[test]
    fn a_bad_tag_value_falls_through_to_the_policy() {
        let pay = image("111111111111", "pay/api");
        let owner = resolve(Some(("owner", "<!channel>")), &rules(), &pay);
        assert_eq!(owner.phrase(), "payments (policy owners[0])");
    }

    #[test]
    fn names_are_checked_for_what_breaks_filters_and_chat() {
        assert_eq!(check_name("payments").unwrap(), "payments");
        assert_eq!(
            check_name("Team Zürich/web-01").unwrap(),
            "Team Zürich/web-01"
        );
        assert!(check_name("").unwrap_err().contains("empty"));
        assert!(check_name(" pay").unwrap_err().contains("space"));
        assert!(check_name(&"a".repeat(65))
            .unwrap_err()
            .contains("65 characters"));
        for bad in [
            "a*b", "<!here>", "a,b", "a=b", "`x`", "a\"b", "a\nb", "&amp;",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(check_name(&"a".repeat(64)).unwrap().len(), 64);
    }
}
