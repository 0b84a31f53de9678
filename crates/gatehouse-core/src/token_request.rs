//! Token-endpoint requests: form parsing (RFC 6749 §3.2, §4.1.3, §4.4.2, §6) and client
//! authentication parsing (RFC 6749 §2.3.1).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;

use crate::error::{ErrorCode, OAuthError};
use crate::secret::SecretString;

/// A parsed `application/x-www-form-urlencoded` body in which no parameter repeats.
#[derive(Debug, Default)]
pub struct Form {
    values: HashMap<String, String>,
}

impl Form {
    /// Takes already-decoded pairs. A repeated parameter is an `invalid_request` (RFC 6749 §3.2:
    /// "Request and response parameters MUST NOT be included more than once"). Parameters sent
    /// without a value are treated as omitted (RFC 6749 §3.1).
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, OAuthError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut values = HashMap::new();
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            if values.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "the {k} parameter must not be repeated"
                )));
            }
            values.insert(k, v);
        }
        Ok(Self { values })
    }

    /// The value of `name`, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("the {name} parameter is missing")))
    }
}

/// How the client presented its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresentedCredentials {
    /// HTTP Basic. `secret_raw` is the secret exactly as sent; `secret` is its form-decoding
    /// (RFC 6749 §2.3.1). Clients disagree on whether to encode, so both are tried.
    Basic {
        client_id: String,
        secret: SecretString,
        secret_raw: SecretString,
    },
    /// `client_id` and `client_secret` in the body.
    Post {
        client_id: String,
        secret: SecretString,
    },
    /// Only `client_id` in the body: a public client.
    None { client_id: String },
}

impl PresentedCredentials {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::None { client_id } => client_id,
        }
    }

    pub fn method(&self) -> crate::client::TokenEndpointAuthMethod {
        use crate::client::TokenEndpointAuthMethod as M;
        match self {
            Self::Basic { .. } => M::ClientSecretBasic,
            Self::Post { .. } => M::ClientSecretPost,
            Self::None { .. } => M::None,
        }
    }
}

/// Why client credentials could not even be read. Always `invalid_client` (401) or
/// `invalid_request` (400).
fn invalid_client(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

/// Reads the client's credentials from the `Authorization` header and the form.
///
/// More than one method in one request is refused (RFC 6749 §2.3: "MUST NOT use more than one
/// authentication method in each request").
pub fn presented_credentials(
    authorization: Option<&str>,
    form: &Form,
) -> Result<PresentedCredentials, OAuthError> {
    let body_id = form.get("client_id");
    let body_secret = form.get("client_secret");
    if let Some(header) = authorization {
        let basic = parse_basic(header)?;
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use either HTTP Basic or client_secret in the body, not both",
            ));
        }
        if body_id.is_some_and(|id| id != basic.client_id()) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the one in the Authorization header",
            ));
        }
        return Ok(basic);
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(PresentedCredentials::Post {
            client_id: id.to_owned(),
            secret: SecretString::new(secret),
        }),
        (Some(id), None) => Ok(PresentedCredentials::None {
            client_id: id.to_owned(),
        }),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "client_secret was sent without client_id",
        )),
        (None, None) => Err(invalid_client("client authentication is required")),
    }
}

/// Parses `Basic base64(urlencode(id) ":" urlencode(secret))`.
pub fn parse_basic(header: &str) -> Result<PresentedCredentials, OAuthError> {
    let (scheme, encoded) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| invalid_client("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client(
            "the Authorization header must use the Basic scheme",
        ));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| invalid_client("malformed Basic credentials"))?;
    let decoded =
        String::from_utf8(decoded).map_err(|_| invalid_client("malformed Basic credentials"))?;
    let (id_raw, secret_raw) = decoded
        .split_once(':')
        .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
    let client_id =
        form_decode(id_raw).ok_or_else(|| invalid_client("malformed Basic credentials"))?;
    if client_id.is_empty() {
        return Err(invalid_client("malformed Basic credentials"));
    }
    let secret = form_decode(secret_raw).unwrap_or_else(|| secret_raw.to_owned());
    Ok(PresentedCredentials::Basic {
        client_id,
        secret: SecretString::new(secret),
        secret_raw: SecretString::new(secret_raw),
    })
}

/// `application/x-www-form-urlencoded` decoding of one component: `+` is a space, `%XX` a byte.
/// `None` when the result is not UTF-8 or an escape is broken.
pub fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(Form::from_pairs([("grant_type", "a"), ("grant_type", "b")]).is_err());
        let f = Form::from_pairs([("grant_type", "client_credentials"), ("scope", "")]).unwrap();
        assert_eq!(f.get("grant_type"), Some("client_credentials"));
        assert_eq!(f.get("scope"), None);
        assert_eq!(
            f.require("code").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn basic_credentials_are_form_decoded_and_raw_kept() {
        let creds = parse_basic(&basic("my%20client", "s%2Bcr+t")).unwrap();
        let PresentedCredentials::Basic {
            client_id,
            secret,
            secret_raw,
        } = creds
        else {
            panic!()
        };
        assert_eq!(client_id, "my client");
        assert_eq!(secret.expose(), "s+cr t");
        assert_eq!(secret_raw.expose(), "s%2Bcr+t");
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        for h in [
            "Bearer abc",
            "Basic !!!",
            "Basic",
            &format!("Basic {}", STANDARD.encode("nocolon")),
            &basic("", "x"),
        ] {
            assert_eq!(
                parse_basic(h).unwrap_err().code,
                ErrorCode::InvalidClient,
                "{h}"
            );
        }
    }

    #[test]
    fn one_method_per_request() {
        let form = Form::from_pairs([("client_id", "a"), ("client_secret", "s")]).unwrap();
        assert_eq!(
            presented_credentials(Some(&basic("a", "s")), &form)
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        let form = Form::from_pairs([("client_id", "b")]).unwrap();
        assert_eq!(
            presented_credentials(Some(&basic("a", "s")), &form)
                .unwrap_err()
                .code,
            ErrorCode::InvalidRequest
        );
        let form = Form::from_pairs([("client_id", "a")]).unwrap();
        assert!(matches!(
            presented_credentials(None, &form).unwrap(),
            PresentedCredentials::None { .. }
        ));
        let form = Form::from_pairs([("client_id", "a"), ("client_secret", "s")]).unwrap();
        assert!(matches!(
            presented_credentials(None, &form).unwrap(),
            PresentedCredentials::Post { .. }
        ));
        let form = Form::from_pairs(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(
            presented_credentials(None, &form).unwrap_err().code,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn form_decode_handles_escapes() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(form_decode("%FF"), None);
    }
}
