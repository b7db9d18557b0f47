//! Shell-style patterns for repository names and tags: `*` matches any run
//! of characters (including `/`), `?` one character; everything else is literal.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob(pattern.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, text: &str) -> bool {
        let p: Vec<char> = self.0.chars().collect();
        let t: Vec<char> = text.chars().collect();
        // Iterative matcher with one backtrack point: linear in practice.
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
                pi += 1;
                ti += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if let Some((sp, st)) = star {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
}

/// Whether a registry scanning filter matches a repository name: without a
/// wildcard a filter matches every name that contains it; `*` stands for
/// any run of characters (ECR user guide, "Filters to choose which
/// repositories are scanned").
pub fn registry_filter_matches(filter: &str, repository: &str) -> bool {
    if filter.contains('*') {
        Glob::new(filter).matches(repository)
    } else {
        repository.contains(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks() {
        let cases = [
            ("prod-*", "prod-api", true),
            ("prod-*", "prod-", true),
            ("prod-*", "staging-api", false),
            ("*", "team/a/b", true),
            ("team/*", "team/a/b", true),
            ("pr-?", "pr-1", true),
            ("pr-?", "pr-12", false),
            ("*-rc*", "1.2-rc3", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(text),
                expected,
                "{pattern} ~ {text}"
            );
        }
    }
}
