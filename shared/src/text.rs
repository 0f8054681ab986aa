//! Quoting outside input in errors, logs and alerts without echoing it unbounded.

/// At most `max_chars` characters of `input`, and how many were left out.
pub fn excerpt(input: &str, max_chars: usize) -> String {
    let total = input.chars().count();
    if total <= max_chars {
        return input.to_owned();
    }
    let kept: String = input.chars().take(max_chars).collect();
    format!("{kept}… ({} more characters)", total - max_chars)
}

/// What the rest of the project quotes of one input value.
pub const QUOTE_CHARS: usize = 120;

/// An error with its causes, `outer: cause: root cause` (drivers put the TLS or authentication
/// reason in the source).
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut_and_says_so() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("abcdef", 3), "abc… (3 more characters)");
        assert_eq!(excerpt("ééééé", 2), "éé… (3 more characters)");
        let huge = "x".repeat(1_000_000);
        assert!(excerpt(&huge, QUOTE_CHARS).len() < 200);
    }
}
