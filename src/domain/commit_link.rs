//! The way back from an image to the source it was built from: when a tag
//! looks like a commit id (or matches a configured pattern), a link made
//! from a URL template such as
//! `https://git.example.com/{repository}/commit/{tag}`.

use crate::domain::glob::Glob;
use crate::domain::image::ImageRef;

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 4] = ["{repository}", "{tag}", "{account}", "{region}"];
const TEMPLATE_MAX: usize = 1024;

/// A checked URL template: `https://`, a literal host, `{tag}` somewhere in
/// the path or query, only the known placeholders, nothing that could break
/// a link in an email or in Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate(String);

impl UrlTemplate {
    /// Checks `template`; the error says what is wrong with it.
    pub fn parse(template: &str) -> Result<UrlTemplate, String> {
        let t = template.trim();
        let Some(rest) = t.strip_prefix("https://") else {
            return Err(format!("`{t}` is not an https:// URL template"));
        };
        if t.len() > TEMPLATE_MAX {
            return Err(format!("longer than {TEMPLATE_MAX} characters"));
        }
        if let Some(c) = t.chars().find(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '|' | '`' | '"' | '\\')
        }) {
            return Err(format!(
                "`{t}` contains {c:?}, which cannot be in a link; percent-encode it"
            ));
        }
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || host.contains(['{', '}', '@']) {
            return Err(format!(
                "`{t}` must name its host literally (no placeholders or user info before the first /)"
            ));
        }
        // Every brace must belong to a known placeholder.
        let mut stripped = t.to_string();
        for p in PLACEHOLDERS {
            stripped = stripped.replace(p, "");
        }
        if stripped.contains(['{', '}']) {
            return Err(format!(
                "`{t}` has an unknown placeholder; use {}",
                PLACEHOLDERS.join(", ")
            ));
        }
        if !t.contains("{tag}") {
            return Err(format!(
                "`{t}` does not contain {{tag}}, so every image would link to the same page"
            ));
        }
        Ok(UrlTemplate(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL for `tag` of `image`, every substituted value percent-encoded.
    pub fn render(&self, image: &ImageRef, tag: &str) -> String {
        // One pass, so a value containing `{tag}` is not substituted again.
        let mut out = String::with_capacity(self.0.len() + 64);
        let mut rest = self.0.as_str();
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start..];
            let (value, len) = match PLACEHOLDERS.iter().find(|p| after.starts_with(**p)) {
                Some(&"{repository}") => (image.repository.as_str(), "{repository}".len()),
                Some(&"{tag}") => (tag, "{tag}".len()),
                Some(&"{account}") => (image.account.as_str(), "{account}".len()),
                Some(&"{region}") => (image.region.as_str(), "{region}".len()),
                _ => ("{", 1),
            };
            out.push_str(&url_safe(value));
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }
}

/// `text` with everything but unreserved characters (RFC 3986: letters,
/// digits, `-._~`) and `/` percent-encoded as UTF-8.
pub fn url_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A tag that looks like a git commit id: 7 to 40 hexadecimal digits, not
/// all of them decimal (an all-digit tag is a build number or a date far
/// more often than a commit).
pub fn looks_like_commit(tag: &str) -> bool {
    (7..=40).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_hexdigit())
        && !tag.bytes().all(|b| b.is_ascii_digit())
}

/// Per-repository source settings from the policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositorySource {
    pub repository: Glob,
    pub url_template: UrlTemplate,
    pub tag_pattern: Option<Glob>,
}

/// The policy document's `source` key: a template replacing
/// `SOURCE_URL_TEMPLATE`, per-repository templates (the first matching
/// entry wins), and a tag pattern for tags that are not commit ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRules {
    pub url_template: Option<UrlTemplate>,
    pub tag_pattern: Option<Glob>,
    pub repositories: Vec<RepositorySource>,
}

/// Where an image's source is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLink {
    /// The tag the link was made from.
    pub tag: String,
    pub url: String,
    /// Whether the tag looks like a commit id (otherwise it matched the pattern).
    pub commit: bool,
}

impl SourceRules {
    /// The link for `image`: the template of the first repository entry
    /// matching it, else the document's template, else `default` (the
    /// environment's); the first tag that looks like a commit id or matches
    /// the tag pattern. `None` when there is no template or no such tag.
    pub fn link(&self, default: Option<&UrlTemplate>, image: &ImageRef) -> Option<SourceLink> {
        let entry = self
            .repositories
            .iter()
            .find(|r| r.repository.matches(&image.repository));
        let template = match entry {
            Some(e) => &e.url_template,
            None => self.url_template.as_ref().or(default)?,
        };
        let pattern = entry
            .and_then(|e| e.tag_pattern.as_ref())
            .or(self.tag_pattern.as_ref());
        let (tag, commit) = image
            .tags
            .iter()
            .find(|t| looks_like_commit(t))
            .map(|t| (t, true))
            .or_else(|| {
                image
                    .tags
                    .iter()
                    .find(|t| pattern.is_some_and(|p| p.matches(t)))
                    .map(|t| (t, false))
            })?;
        Some(SourceLink {
            tag: tag.clone(),
            url: template.render(image, tag),
            commit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "https://git.example.com/{repository}/commit/{tag}";

    fn image(repository: &str, tags: &[&str]) -> ImageRef {
        ImageRef::sample(repository, tags)
    }

    fn env_only(tags: &[&str]) -> Option<SourceLink> {
        let template = UrlTemplate::parse(TEMPLATE).unwrap();
        SourceRules::default().link(Some(&template), &image("demo/web", tags))
    }

    #[test]
    fn commit_like_tags_link_to_the_commit() {
        let link = env_only(&["3f2c1ab"]).unwrap();
        assert_eq!(link.url, "https://git.example.com/demo/web/commit/3f2c1ab");
        assert_eq!(link.tag, "3f2c1ab");
        assert!(link.commit);
        let full = "9c1e5d2b7a0f4e3d2c1b0a9f8e7d6c5b4a392817";
        assert_eq!(env_only(&["v2.4.1", full]).unwrap().tag, full);
    }

    #[test]
    fn release_tags_build_numbers_and_untagged_images_get_no_link() {
        for tags in [
            &["v1.2.3"][..],
            &["latest"],
            &["20261127"],
            &["abc123"],
            &["3f2c1ab9c1e5d2b7a0f4e3d2c1b0a9f8e7d6c5b4a3"],
            &["3f2c1ag"],
            &[],
        ] {
            assert_eq!(env_only(tags), None, "{tags:?}");
        }
    }

    #[test]
    fn substituted_values_are_percent_encoded() {
        let t = UrlTemplate::parse(
            "https://git.example.com/{repository}/-/tree/{tag}?a={account}&r={region}",
        )
        .unwrap();
        let mut img = image("team/a b<x>", &[]);
        img.region = "us-east-1&x=1".into();
        assert_eq!(
            t.render(&img, "rel|1{tag}"),
            "https://git.example.com/team/a%20b%3Cx%3E/-/tree/rel%7C1%7Btag%7D?a=123456789012&r=us-east-1%26x%3D1"
        );
        assert_eq!(url_safe("é/~._-"), "%C3%A9/~._-");
    }

    #[test]
    fn templates_are_checked() {
        assert!(UrlTemplate::parse(TEMPLATE).is_ok());
        for (bad, says) in [
            ("http://git.example.com/{tag}", "https://"),
            ("git.example.com/{tag}", "https://"),
            ("https://git.example.com/{repository}", "{tag}"),
            ("https://{repository}.example.com/{tag}", "host"),
            ("https:///{tag}", "host"),
            ("https://user@evil.example/{tag}", "host"),
            (
                "https://git.example.com/{commit}/{tag}",
                "unknown placeholder",
            ),
            ("https://git.example.com/{tag", "unknown placeholder"),
            ("https://git.example.com/<{tag}>", "cannot be in a link"),
            ("https://git.example.com/a b/{tag}", "cannot be in a link"),
            ("https://git.example.com/a|b/{tag}", "cannot be in a link"),
        ] {
            let err = UrlTemplate::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn the_policy_overrides_per_repository_and_adds_a_tag_pattern() {
        let env = UrlTemplate::parse(TEMPLATE).unwrap();
        let rules = SourceRules {
            url_template: Some(
                UrlTemplate::parse("https://code.example.org/{repository}/+/{tag}").unwrap(),
            ),
            tag_pattern: Some(Glob::new("release-*")),
            repositories: vec![RepositorySource {
                repository: Glob::new("payments/*"),
                url_template: UrlTemplate::parse(
                    "https://git.example.com/pay/monorepo/commit/{tag}",
                )
                .unwrap(),
                tag_pattern: Some(Glob::new("build-*")),
            }],
        };
        let link = |repo: &str, tags: &[&str]| rules.link(Some(&env), &image(repo, tags));
        assert_eq!(
            link("payments/api", &["3f2c1ab"]).unwrap().url,
            "https://git.example.com/pay/monorepo/commit/3f2c1ab"
        );
        let by_pattern = link("payments/api", &["v1", "build-7"]).unwrap();
        assert_eq!(by_pattern.tag, "build-7");
        assert!(!by_pattern.commit);
        assert_eq!(
            link("payments/api", &["release-1"]),
            None,
            "the entry's pattern applies"
        );
        assert_eq!(
            link("web", &["release-1"]).unwrap().url,
            "https://code.example.org/web/+/release-1"
        );
        assert_eq!(
            link("web", &["release-1", "3f2c1ab"]).unwrap().tag,
            "3f2c1ab",
            "a commit id is preferred to a pattern match"
        );
        assert_eq!(
            SourceRules::default().link(None, &image("web", &["3f2c1ab"])),
            None
        );
    }
}
