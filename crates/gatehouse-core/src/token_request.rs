//! Token-endpoint requests: form parsing (RFC 6749 §3.2, §4.1.3, §4.4.2, §6) and client
//! authentication parsing (RFC 6749 §2.3.1).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;

use crate::client::ClientId;
use crate::error::{ErrorCode, OAuthError};
use crate::protocol::GrantType;
use crate::secret::SecretString;

/// A parsed `application/x-www-form-urlencoded` body in which no parameter repeats, except
/// `resource` (RFC 8707 §2), kept apart in [`Form::resources`].
///
/// Its `Debug` shows only the parameters known to carry no secret ([`Form::PUBLIC_PARAMETERS`]);
/// every other value (`code`, `code_verifier`, `refresh_token`, `client_secret`, `token`,
/// `password`, anything unknown) prints as `[redacted]`.
#[derive(Default)]
pub struct Form {
    values: HashMap<String, String>,
    resources: Vec<String>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        let mut map = f.debug_map();
        for name in names {
            if Self::PUBLIC_PARAMETERS.contains(&name.as_str()) {
                map.entry(name, &self.values[name]);
            } else {
                map.entry(name, &format_args!("[redacted]"));
            }
        }
        if !self.resources.is_empty() {
            map.entry(&"resource", &self.resources);
        }
        map.finish()
    }
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
        let mut resources = Vec::new();
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            if k == "resource" {
                if !v.is_empty() {
                    resources.push(v);
                }
                continue;
            }
            if values.contains_key(&k) {
                return Err(OAuthError::invalid_request(format!(
                    "the {k} parameter must not be repeated"
                )));
            }
            values.insert(k, v);
        }
        Ok(Self { values, resources })
    }

    /// The RFC 8707 `resource` parameters, in the order given (empty ones dropped).
    pub fn resources(&self) -> &[String] {
        &self.resources
    }

    /// Every value of `name`: the resources for `resource`, else the one value if present.
    pub fn get_all(&self, name: &str) -> Vec<String> {
        if name == "resource" {
            return self.resources.clone();
        }
        self.get(name).map(str::to_owned).into_iter().collect()
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

    /// Parameters whose values are never secret, and so may appear in `Debug` output.
    pub const PUBLIC_PARAMETERS: &'static [&'static str] = &[
        "grant_type",
        "client_id",
        "scope",
        "redirect_uri",
        "audience",
        "token_type_hint",
        "client_assertion_type",
    ];

    /// The `grant_type` parameter (RFC 6749 §4.1.3, §4.4.2, §6): `invalid_request` when absent,
    /// `unsupported_grant_type` when not one of [`GrantType`].
    pub fn grant_type(&self) -> Result<GrantType, OAuthError> {
        let name = self.require("grant_type")?;
        GrantType::parse(name).ok_or_else(|| {
            OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "supported grant types: {}",
                    GrantType::ALL
                        .iter()
                        .map(|g| g.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }
}

/// How the client presented its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresentedCredentials {
    /// HTTP Basic. `secret_raw` is the secret exactly as sent; `secret` is its form-decoding
    /// (RFC 6749 §2.3.1). Clients disagree on whether to encode, so both are tried.
    Basic {
        client_id: ClientId,
        secret: SecretString,
        secret_raw: SecretString,
    },
    /// `client_id` and `client_secret` in the body.
    Post {
        client_id: ClientId,
        secret: SecretString,
    },
    /// Only `client_id` in the body: a public client.
    None { client_id: ClientId },
    /// A JWT client assertion (RFC 7523 §2.2): `client_assertion_type` is
    /// [`JWT_BEARER`](crate::client_assertion::JWT_BEARER). The client is the assertion's `sub`
    /// (a `client_id` sent along must name the same one); `method` follows from its `alg` (a MAC
    /// is `client_secret_jwt`). Nothing in it is trusted until the signature is verified.
    Assertion {
        client_id: ClientId,
        assertion: SecretString,
        method: crate::client::TokenEndpointAuthMethod,
    },
}

impl PresentedCredentials {
    pub fn client_id(&self) -> &ClientId {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::None { client_id }
            | Self::Assertion { client_id, .. } => client_id,
        }
    }

    pub fn method(&self) -> crate::client::TokenEndpointAuthMethod {
        use crate::client::TokenEndpointAuthMethod as M;
        match self {
            Self::Basic { .. } => M::ClientSecretBasic,
            Self::Post { .. } => M::ClientSecretPost,
            Self::None { .. } => M::None,
            Self::Assertion { method, .. } => *method,
        }
    }
}

/// Why client credentials could not even be read. Always `invalid_client` (401) or
/// `invalid_request` (400).
fn invalid_client(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

/// A presented client id that cannot name any client fails like an unknown one.
fn presented_client_id(id: &str) -> Result<ClientId, OAuthError> {
    ClientId::parse(id).map_err(|_| invalid_client("client authentication failed"))
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
    if form.get("client_assertion").is_some() || form.get("client_assertion_type").is_some() {
        if authorization.is_some() || body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: a client_assertion, HTTP Basic or client_secret",
            ));
        }
        return presented_assertion(form, body_id);
    }
    if let Some(header) = authorization {
        let basic = parse_basic(header)?;
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use either HTTP Basic or client_secret in the body, not both",
            ));
        }
        if body_id.is_some_and(|id| id != basic.client_id().as_str()) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the one in the Authorization header",
            ));
        }
        return Ok(basic);
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(PresentedCredentials::Post {
            client_id: presented_client_id(id)?,
            secret: SecretString::new(secret),
        }),
        (Some(id), None) => Ok(PresentedCredentials::None {
            client_id: presented_client_id(id)?,
        }),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "client_secret was sent without client_id",
        )),
        (None, None) => Err(invalid_client("client authentication is required")),
    }
}

/// `client_assertion_type` and `client_assertion` (RFC 7521 §4.2, RFC 7523 §2.2).
fn presented_assertion(
    form: &Form,
    body_id: Option<&str>,
) -> Result<PresentedCredentials, OAuthError> {
    use crate::client_assertion::{JWT_BEARER, method_of_alg, peek};
    match form.get("client_assertion_type") {
        Some(JWT_BEARER) => {}
        Some(_) => {
            return Err(invalid_client(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        None => {
            return Err(OAuthError::invalid_request(
                "the client_assertion_type parameter is missing",
            ));
        }
    }
    let assertion = form.require("client_assertion")?;
    let peeked = peek(assertion).ok_or_else(|| invalid_client("malformed client_assertion"))?;
    let subject = peeked
        .subject
        .ok_or_else(|| invalid_client("the client_assertion has no sub"))?;
    if body_id.is_some_and(|id| id != subject) {
        return Err(invalid_client(
            "client_id differs from the client_assertion's sub",
        ));
    }
    Ok(PresentedCredentials::Assertion {
        client_id: presented_client_id(&subject)?,
        assertion: SecretString::new(assertion),
        method: method_of_alg(&peeked.alg),
    })
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
    let client_id = presented_client_id(&client_id)?;
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
    let hex = |b: Option<u8>| char::from(b?).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let (high, low) = (hex(bytes.next())?, hex(bytes.next())?);
                out.push(u8::try_from(high * 16 + low).ok()?);
            }
            b => out.push(b),
        }
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
    fn resource_alone_may_repeat_and_is_listed_in_order() {
        let f = Form::from_pairs([
            ("resource", "https://a.example.com"),
            ("grant_type", "client_credentials"),
            ("resource", ""),
            ("resource", "https://b.example.com"),
        ])
        .unwrap();
        let both = vec![
            "https://a.example.com".to_owned(),
            "https://b.example.com".to_owned(),
        ];
        assert_eq!(f.resources(), both.as_slice());
        assert_eq!(f.get_all("resource"), both);
        assert_eq!(
            f.get_all("grant_type"),
            vec!["client_credentials".to_owned()]
        );
        assert!(f.get_all("scope").is_empty());
        assert_eq!(f.get("resource"), None, "read resources with resources()");
        let printed = format!("{f:?}");
        assert!(printed.contains("https://b.example.com"), "{printed}");
        assert!(!format!("{:?}", Form::default()).contains("resource"));
    }

    #[test]
    fn basic_credentials_are_form_decoded_and_raw_kept() {
        let creds = parse_basic(&basic("my%2Dclient", "s%2Bcr+t")).unwrap();
        let PresentedCredentials::Basic {
            client_id,
            secret,
            secret_raw,
        } = creds
        else {
            panic!()
        };
        assert_eq!(client_id, "my-client");
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
    fn a_form_prints_no_secret_it_holds() {
        let secrets = [
            ("code", "code-value-1"),
            ("code_verifier", "verifier-value-2"),
            ("refresh_token", "refresh-value-3"),
            ("client_secret", "secret-value-4"),
            ("token", "token-value-5"),
            ("password", "password-value-6"),
            ("client_assertion", "assertion-value-7"),
            ("some_future_parameter", "future-value-8"),
        ];
        let public = [
            ("grant_type", "authorization_code"),
            ("client_id", "neoncli"),
        ];
        let form = Form::from_pairs(secrets.iter().chain(public.iter()).copied()).unwrap();
        let printed = format!("{form:?} {form:#?}");
        for (name, value) in secrets {
            assert!(!printed.contains(value), "{name}'s value in {printed}");
            assert!(printed.contains(name), "{printed}");
        }
        assert!(
            printed.contains("\"grant_type\": \"authorization_code\""),
            "{printed}"
        );
        assert!(printed.contains("neoncli"), "{printed}");
    }

    #[test]
    fn presented_credentials_print_no_secret() {
        let form =
            Form::from_pairs([("client_id", "a"), ("client_secret", "body-secret-1")]).unwrap();
        let post = presented_credentials(None, &form).unwrap();
        let basic = parse_basic(&basic("a", "basic%2Dsecret-2")).unwrap();
        let printed = format!("{post:?} {basic:?} {post:#?} {basic:#?}");
        for secret in ["body-secret-1", "basic%2Dsecret-2", "basic-secret-2"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }

    #[test]
    fn grant_types_are_parsed_at_the_form() {
        let form = |g: &str| Form::from_pairs([("grant_type", g)]).unwrap();
        assert_eq!(
            form("refresh_token").grant_type().unwrap(),
            GrantType::RefreshToken
        );
        let unsupported = form("password").grant_type().unwrap_err();
        assert_eq!(unsupported.code, ErrorCode::UnsupportedGrantType);
        assert_eq!(
            unsupported.description,
            "supported grant types: authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(
            Form::default().grant_type().unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn a_client_id_no_client_can_have_fails_as_an_unknown_client() {
        for id in ["with space", "tab\there", "ünï"] {
            let form = Form::from_pairs([("client_id", id)]).unwrap();
            let err = presented_credentials(None, &form).unwrap_err();
            assert_eq!(
                (err.code, err.description.as_ref()),
                (ErrorCode::InvalidClient, "client authentication failed"),
                "{id:?}"
            );
        }
        let err = parse_basic(&basic("with%20space", "s")).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn form_decode_handles_escapes() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(form_decode("%FF"), None);
        // Both characters of an escape must be hex digits: no sign, no space.
        assert_eq!(form_decode("%+F"), None);
        assert_eq!(form_decode("%-1"), None);
        assert_eq!(form_decode("% 1"), None);
        assert_eq!(form_decode("ab%41%42c+d").as_deref(), Some("abABc d"));
    }

    #[test]
    fn each_way_of_presenting_credentials_names_its_method() {
        use crate::client::TokenEndpointAuthMethod as M;
        let post = Form::from_pairs([("client_id", "a"), ("client_secret", "s")]).unwrap();
        let none = Form::from_pairs([("client_id", "a")]).unwrap();
        let basic = basic("a", "s");
        assert_eq!(
            presented_credentials(Some(&basic), &Form::default())
                .unwrap()
                .method(),
            M::ClientSecretBasic
        );
        assert_eq!(
            presented_credentials(None, &post).unwrap().method(),
            M::ClientSecretPost
        );
        assert_eq!(
            presented_credentials(None, &none).unwrap().method(),
            M::None
        );
        for form in [&post, &none] {
            assert_eq!(presented_credentials(None, form).unwrap().client_id(), "a");
        }
    }

    fn jwt(header: &str, payload: &str) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    fn assertion_form(extra: &[(&str, &str)], assertion: &str) -> Form {
        let mut pairs = vec![
            ("client_assertion_type", crate::client_assertion::JWT_BEARER),
            ("client_assertion", assertion),
        ];
        pairs.extend_from_slice(extra);
        Form::from_pairs(pairs).unwrap()
    }

    #[test]
    fn a_client_assertion_names_its_client_by_sub_and_its_method_by_alg() {
        use crate::client::TokenEndpointAuthMethod as M;
        let es = jwt(r#"{"alg":"ES256"}"#, r#"{"sub":"billing"}"#);
        let presented = presented_credentials(None, &assertion_form(&[], &es)).unwrap();
        assert_eq!(presented.client_id(), "billing");
        assert_eq!(presented.method(), M::PrivateKeyJwt);
        assert!(!format!("{presented:?}").contains(&es));
        let hs = jwt(r#"{"alg":"HS256"}"#, r#"{"sub":"billing"}"#);
        let presented =
            presented_credentials(None, &assertion_form(&[("client_id", "billing")], &hs)).unwrap();
        assert_eq!(presented.method(), M::ClientSecretJwt);
        assert_eq!(presented.client_id(), "billing");
    }

    #[test]
    fn a_client_assertion_is_refused_when_malformed_or_mixed_with_another_method() {
        let good = jwt(r#"{"alg":"ES256"}"#, r#"{"sub":"billing"}"#);
        let code = |authorization: Option<&str>, form: &Form| {
            presented_credentials(authorization, form).unwrap_err().code
        };
        // Another client named in client_id.
        assert_eq!(
            code(None, &assertion_form(&[("client_id", "other")], &good)),
            ErrorCode::InvalidClient
        );
        // Together with a secret or Basic.
        assert_eq!(
            code(None, &assertion_form(&[("client_secret", "s")], &good)),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(Some(&basic("billing", "s")), &assertion_form(&[], &good)),
            ErrorCode::InvalidRequest
        );
        // Not a JWT, no sub, a sub no client can have.
        for bad in [
            "not-a-jwt".to_owned(),
            jwt(r#"{"alg":"ES256"}"#, r#"{"iss":"billing"}"#),
            jwt(r#"{"alg":"ES256"}"#, r#"{"sub":"bad id"}"#),
        ] {
            assert_eq!(
                code(None, &assertion_form(&[], &bad)),
                ErrorCode::InvalidClient
            );
        }
        // Another assertion type, or none, or no assertion.
        let saml = Form::from_pairs([
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            ("client_assertion", good.as_str()),
        ])
        .unwrap();
        assert_eq!(code(None, &saml), ErrorCode::InvalidClient);
        let untyped = Form::from_pairs([("client_assertion", good.as_str())]).unwrap();
        assert_eq!(code(None, &untyped), ErrorCode::InvalidRequest);
        let empty =
            Form::from_pairs([("client_assertion_type", crate::client_assertion::JWT_BEARER)])
                .unwrap();
        assert_eq!(code(None, &empty), ErrorCode::InvalidRequest);
    }
}
