//! Making untrusted text (finding titles, package names, URLs, repository
//! names) safe for each place it is shown.

/// Characters that could break a line, fake a header, or reorder what the
/// reader sees: control characters (C0, C1), Unicode line and paragraph
/// separators, and bidirectional overrides.
fn is_disruptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// Text on one line: disruptive characters become spaces.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if is_disruptive(c) { ' ' } else { c })
        .collect()
}

/// Every character outside printable ASCII becomes `?` (SNS subjects).
pub fn printable_ascii(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// Slack's three control characters as entities: no `<!channel>` ping, no
/// `<@U123>` mention, no `<url|text>` link can be formed from the input.
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Untrusted text as a Slack inline code span: formatting characters
/// (`*`, `_`, `~`) inside it are shown, not applied, and a backtick in the
/// input cannot close the span early (it becomes a look-alike).
pub fn slack_code(text: &str) -> String {
    let inner = slack_escape(text).replace('`', "\u{02CB}");
    if inner.trim().is_empty() {
        return String::new();
    }
    format!("`{inner}`")
}

/// A link `<url|label>` when the URL is a plain http(s) URL that cannot break
/// out of the link syntax; otherwise the label alone. The label is code.
pub fn slack_link(url: Option<&str>, label: &str) -> String {
    let label = slack_code(label);
    match url.filter(|u| is_plain_http_url(u)) {
        Some(url) => format!("<{}|{}>", url.replace('&', "&amp;"), label),
        None => label,
    }
}

/// A link whose label is our own words (escaped, not code); the URL alone
/// when the URL is not a plain http(s) URL, the label alone.
pub fn slack_link_words(url: &str, label: &str) -> String {
    if is_plain_http_url(url) {
        format!("<{}|{}>", url.replace('&', "&amp;"), slack_escape(label))
    } else {
        slack_escape(label)
    }
}

/// http(s), no whitespace, no characters that end or split Slack's link syntax.
pub fn is_plain_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && !url
            .chars()
            .any(|c| c.is_whitespace() || is_disruptive(c) || matches!(c, '<' | '>' | '|' | '`'))
}

/// Cuts `text` to at most `max` characters, marking the cut with `...`.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(3);
    let mut out: String = text.chars().take(keep).collect();
    out.push_str("...");
    out
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub fn truncate_bytes(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hostile strings seen in vulnerability feeds and image contents, and
    /// what must never survive into an alert.
    const HOSTILE: &[(&str, &str)] = &[
        ("<!channel> upgrade now", "<!channel>"),
        ("<!here>", "<!here>"),
        ("<!everyone>", "<!everyone>"),
        ("ping <@U123ABC>", "<@U123ABC>"),
        (
            "<http://evil.example|docs.aws.amazon.com>",
            "<http://evil.example|",
        ),
        ("a & b <script>", "<script>"),
        ("pkg\nSubject: forged", "\nSubject"),
        ("pkg\r\nBcc: x@example.com", "\r\n"),
        ("line\u{2028}break", "\u{2028}"),
        ("left\u{202E}thgir", "\u{202E}"),
        ("tab\there", "\t"),
        ("nul\0byte", "\0"),
        ("esc\u{1b}[31mred", "\u{1b}"),
        ("next\u{85}line", "\u{85}"),
    ];

    #[test]
    fn hostile_text_cannot_ping_link_or_break_lines_in_slack() {
        for (input, forbidden) in HOSTILE {
            for rendered in [
                slack_escape(input),
                slack_code(input),
                slack_link(None, input),
            ] {
                assert!(
                    !rendered.contains(forbidden),
                    "{input:?} rendered as {rendered:?} still contains {forbidden:?}"
                );
                assert!(!rendered.contains('\n'));
            }
        }
    }

    #[test]
    fn hostile_text_cannot_break_lines_in_email() {
        for (input, _) in HOSTILE {
            let line = one_line(input);
            assert!(!line.chars().any(is_disruptive), "{input:?} -> {line:?}");
        }
    }

    #[test]
    fn subjects_keep_only_printable_ascii() {
        for (input, _) in HOSTILE {
            assert!(printable_ascii(input)
                .chars()
                .all(|c| (' '..='~').contains(&c)));
        }
        assert_eq!(printable_ascii("équipe"), "?quipe");
    }

    #[test]
    fn only_the_three_slack_control_characters_are_escaped() {
        assert_eq!(
            slack_escape("a&b<c>d \"q\" 'x'"),
            "a&amp;b&lt;c&gt;d \"q\" 'x'"
        );
    }

    #[test]
    fn code_spans_cannot_be_closed_by_the_input() {
        assert_eq!(slack_code("x` *bold* `y"), "`x\u{02CB} *bold* \u{02CB}y`");
        assert_eq!(slack_code("  "), "");
    }

    #[test]
    fn links_are_formed_only_from_plain_http_urls() {
        assert_eq!(
            slack_link(
                Some("https://nvd.nist.gov/vuln/detail/CVE-1?a=1&b=2"),
                "CVE-1"
            ),
            "<https://nvd.nist.gov/vuln/detail/CVE-1?a=1&amp;b=2|`CVE-1`>"
        );
        for bad in [
            "javascript:alert(1)",
            "https://evil.example|docs.aws.amazon.com",
            "https://a.example/>x",
            "https://a.example/ x",
            "ftp://a.example",
        ] {
            assert_eq!(slack_link(Some(bad), "CVE-1"), "`CVE-1`", "{bad}");
        }
    }

    #[test]
    fn truncation_respects_characters_and_bytes() {
        assert_eq!(truncate_chars("abcdef", 5), "ab...");
        assert_eq!(truncate_chars("abc", 5), "abc");
        assert_eq!(truncate_bytes("ééé".to_string(), 3), "é");
    }
}
