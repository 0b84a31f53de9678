//! `application/x-www-form-urlencoded` bodies and query strings, read without failing: a
//! missing or repeated field is the handler's decision, never a framework rejection.

use gatehouse_core::secret::SecretString;
use url::form_urlencoded;

/// A login form carries a password: its `Debug` shows the field names, never their values.
#[derive(Clone, Default)]
pub struct Fields(Vec<(String, String)>, bool);

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        for name in self.names() {
            map.entry(&name, &format_args!("[redacted]"));
        }
        map.finish()
    }
}

impl Fields {
    pub fn parse(bytes: &[u8]) -> Self {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(bytes).into_owned().collect();
        // `form_urlencoded` decodes lossily: an invalid UTF-8 sequence, raw or percent-encoded,
        // becomes U+FFFD, which no parameter has a use for.
        let not_utf8 = std::str::from_utf8(bytes).is_err()
            || pairs.iter().any(|(k, v)| {
                k.contains(char::REPLACEMENT_CHARACTER) || v.contains(char::REPLACEMENT_CHARACTER)
            });
        Self(pairs, not_utf8)
    }

    /// Whether a name or value was not UTF-8 (after percent-decoding).
    pub fn not_utf8(&self) -> bool {
        self.1
    }

    pub fn query(query: Option<&str>) -> Self {
        Self::parse(query.unwrap_or_default().as_bytes())
    }

    /// The first non-empty value of `name` (RFC 6749 §3.1: an empty parameter is an absent one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(SecretString::new)
    }

    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_print_names_but_no_values() {
        let fields = Fields::parse(b"username=alice&password=hunter2-value&csrf=csrf-value");
        let printed = format!("{fields:?} {fields:#?}");
        for value in ["alice", "hunter2-value", "csrf-value"] {
            assert!(!printed.contains(value), "{printed}");
        }
        assert!(printed.contains("password") && printed.contains("username"));
    }
}
