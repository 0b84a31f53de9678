//! Just enough HTML to act like a browser on a login or consent page: find the forms, their
//! `action` and `method`, and every `<input>` and `<button>` with its name and value.
//!
//! Not a general parser: it scans for tags, which is all server-rendered forms need.

/// One `<input>` or `<button>` of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// `input` or `button`.
    pub tag: &'static str,
    /// The `type` attribute, lower-cased (`text` for an input without one, `submit` for a button).
    pub kind: String,
    pub name: String,
    pub value: String,
    pub checked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Form {
    pub action: Option<String>,
    pub method: String,
    pub fields: Vec<Field>,
}

impl Form {
    pub fn has_field(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.name == name)
    }

    /// What a browser submits when the user fills `values` (by field name) and clicks the submit
    /// button named `button` with value `button_value` (or the form's first submit button).
    pub fn submission(
        &self,
        values: &[(&str, &str)],
        button: Option<(&str, &str)>,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for f in self.fields.iter().filter(|f| !f.name.is_empty()) {
            let is_button = f.tag == "button"
                || matches!(f.kind.as_str(), "submit" | "button" | "image" | "reset");
            if is_button {
                continue;
            }
            if matches!(f.kind.as_str(), "checkbox" | "radio") && !f.checked {
                continue;
            }
            let value = values
                .iter()
                .find(|(n, _)| *n == f.name)
                .map_or(f.value.as_str(), |(_, v)| v);
            out.push((f.name.clone(), value.to_owned()));
        }
        if let Some((name, value)) = button {
            out.push((name.to_owned(), value.to_owned()));
        }
        out
    }
}

/// Every form in `html`, in document order.
pub fn forms(html: &str) -> Vec<Form> {
    let mut forms = Vec::new();
    let mut current: Option<Form> = None;
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt + 1..];
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        let Some(gt) = tag_end(rest) else { break };
        let attrs = parse_attributes(&rest[name_end..gt]);
        rest = &rest[gt + 1..];
        match name.as_str() {
            "form" => {
                if let Some(done) = current.take() {
                    forms.push(done);
                }
                current = Some(Form {
                    action: attr(&attrs, "action").map(str::to_owned),
                    method: attr(&attrs, "method").unwrap_or("get").to_ascii_lowercase(),
                    fields: Vec::new(),
                });
            }
            "/form" => {
                if let Some(done) = current.take() {
                    forms.push(done);
                }
            }
            "input" | "button" => {
                if let Some(form) = current.as_mut() {
                    let tag = if name == "input" { "input" } else { "button" };
                    let default_kind = if tag == "input" { "text" } else { "submit" };
                    form.fields.push(Field {
                        tag,
                        kind: attr(&attrs, "type")
                            .unwrap_or(default_kind)
                            .to_ascii_lowercase(),
                        name: attr(&attrs, "name").unwrap_or_default().to_owned(),
                        value: attr(&attrs, "value").unwrap_or_default().to_owned(),
                        checked: attrs.iter().any(|(n, _)| n == "checked"),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(done) = current.take() {
        forms.push(done);
    }
    forms
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The index of the `>` closing a tag, skipping any inside quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if start == i {
            break;
        }
        let name = s[start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                i += 1;
                let vstart = i;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                value = decode_entities(&s[vstart..i]);
                i += 1;
            } else {
                let vstart = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = decode_entities(&s[vstart..i]);
            }
        }
        out.push((name, value));
    }
    out
}

/// Character references as template engines write them in attribute values.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN: &str = r#"<html><body>
<form class="inline-form" id="other" method="post" action="/ui/consent/switch"><input type="hidden" name="csrf_token" value="x"></form>
<form id="login-form" method="post" action="/ui/login?a=1&#38;b=2" novalidate>
<input type="hidden" name="csrf_token" value="a&#43;b&#61;">
<input type="hidden" name="challenge" value='c1'>
<input type="text" id="username" name="username" value="" autofocus>
<input type="password" id="password" name="password" required>
<input type="checkbox" id="remember" name="remember" value="1">
<button type="submit" id="login-submit">Sign in</button>
</form></body></html>"#;

    #[test]
    fn finds_the_login_form_with_its_hidden_fields() {
        let forms = forms(LOGIN);
        assert_eq!(forms.len(), 2);
        let login = forms
            .iter()
            .find(|f| f.has_field("password"))
            .expect("login form");
        assert_eq!(login.action.as_deref(), Some("/ui/login?a=1&b=2"));
        assert_eq!(login.method, "post");
        let body = login.submission(&[("username", "u"), ("password", "p")], None);
        assert_eq!(
            body,
            vec![
                ("csrf_token".to_owned(), "a+b=".to_owned()),
                ("challenge".to_owned(), "c1".to_owned()),
                ("username".to_owned(), "u".to_owned()),
                ("password".to_owned(), "p".to_owned()),
            ]
        );
    }

    #[test]
    fn a_consent_form_submits_the_clicked_button_and_checked_boxes() {
        let html = r#"<form id="consent-form" method="post" action="/ui/consent">
<input type="hidden" name="csrf_token" value="t">
<input type="checkbox" name="remember" value="1" checked>
<button type="submit" name="decision" value="deny">No</button>
<button type="submit" name="decision" value="allow">Yes</button></form>"#;
        let form = &forms(html)[0];
        assert!(form.has_field("decision"));
        let body = form.submission(&[], Some(("decision", "allow")));
        assert_eq!(
            body,
            vec![
                ("csrf_token".to_owned(), "t".to_owned()),
                ("remember".to_owned(), "1".to_owned()),
                ("decision".to_owned(), "allow".to_owned()),
            ]
        );
    }

    #[test]
    fn decodes_numeric_and_named_references() {
        assert_eq!(
            decode_entities("&#60;&#x3e;&amp;&quot;&bogus"),
            "<>&\"&bogus"
        );
    }
}
