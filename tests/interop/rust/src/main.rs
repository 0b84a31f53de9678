//! Interoperability driver: the `openidconnect` crate, as a partner's Rust app uses it.
//!
//! The library does discovery (issuer checked against the URL it asked), fetches the JWKS,
//! builds authorization URLs (PKCE S256, state, nonce), exchanges codes, verifies ID tokens
//! (signature against the JWKS, `iss`, `aud`, `exp`, `iat`, `nonce`; the driver adds the
//! `at_hash` check with the library's `AccessTokenHash`), refreshes, calls userinfo, revokes
//! (RFC 7009: the library insists on an https endpoint) and introspects (RFC 7662). The seed's
//! authorization URL has no `nonce`, which openidconnect always adds, so that one URL is built
//! by `oauth2`, the crate openidconnect is built on; its code is still exchanged and its ID token
//! verified by openidconnect. The library does not read callbacks: the driver checks `state` and
//! `iss` (RFC 9207) and deserializes an error callback into the library's
//! `StandardErrorResponse<CoreAuthErrorResponseType>`.
//!
//! HTTPS only: the issuer is the suite's TLS proxy, trusted through `INTEROP_CA_FILE`.
//! Configuration comes from `INTEROP_*` variables set by `tests/interop/run`. Output: one line
//! per scenario, `RESULT openidconnect <scenario> PASS|FAIL <message>` (`N/A <reason>` for the
//! scenarios the library cannot run, [`NOT_APPLICABLE`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthErrorResponseType, CoreAuthenticationFlow, CoreClaimName,
    CoreClaimType, CoreClient, CoreClientAuthMethod, CoreClientRegistrationRequest,
    CoreErrorResponseType, CoreGrantType, CoreIdTokenClaims, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreRevocableToken, CoreSubjectIdentifierType, CoreTokenResponse,
    CoreUserInfoClaims,
};
use openidconnect::registration::{ClientRegistrationError, EmptyAdditionalClientMetadata};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalProviderMetadata, AsyncHttpClient, AuthType,
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, IntrospectionUrl, IssuerUrl, JsonWebKey,
    JsonWebKeyAlgorithm, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, RequestTokenError, RevocationUrl, Scope, StandardErrorResponse,
    TokenIntrospectionResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LIB: &str = "openidconnect";
const SEED_SCOPES: &str = "openid offline offline_access urn:neoncloud:projects:create \
    urn:neoncloud:projects:read urn:neoncloud:projects:update urn:neoncloud:projects:delete";
const SEED_PARAMS: [&str; 8] = [
    "client_id",
    "scope",
    "response_type",
    "redirect_uri",
    "grant_type",
    "state",
    "code_challenge",
    "code_challenge_method",
];
const TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// configuration

struct Creds {
    id: String,
    secret: String,
}

struct Config {
    issuer: String,
    short_issuer: String,
    short_ttl: f64,
    username: String,
    password: String,
    email: String,
    public_id: String,
    basic: Creds,
    post: Creds,
    seed: Creds,
    seed_port: u16,
    ca_pem: Vec<u8>,
}

fn var(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("environment variable {name} is not set"))
}

impl Config {
    fn from_env() -> Result<Self> {
        let creds = |kind: &str| -> Result<Creds> {
            Ok(Creds {
                id: var(&format!("INTEROP_{kind}_CLIENT_ID"))?,
                secret: var(&format!("INTEROP_{kind}_CLIENT_SECRET"))?,
            })
        };
        let ca_file = var("INTEROP_CA_FILE")?;
        Ok(Self {
            issuer: var("INTEROP_ISSUER")?,
            short_issuer: var("INTEROP_SHORT_ISSUER")?,
            short_ttl: var("INTEROP_SHORT_CODE_TTL_SECONDS")?.parse()?,
            username: var("INTEROP_USERNAME")?,
            password: var("INTEROP_PASSWORD")?,
            email: var("INTEROP_USER_EMAIL")?,
            public_id: var("INTEROP_PUBLIC_CLIENT_ID")?,
            basic: creds("BASIC")?,
            post: creds("POST")?,
            seed: creds("SEED")?,
            seed_port: var("INTEROP_SEED_CALLBACK_PORT")?.parse()?,
            ca_pem: std::fs::read(&ca_file).with_context(|| format!("reading {ca_file}"))?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// the library's HTTP client: reqwest, trusting only the suite's CA, redirects off

#[derive(Debug)]
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

#[derive(Clone)]
struct Http {
    client: reqwest::Client,
}

impl Http {
    fn new(ca_pem: &[u8]) -> Result<Self> {
        Ok(Self {
            client: reqwest_client(ca_pem)?,
        })
    }
}

fn reqwest_client(ca_pem: &[u8]) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem)?])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()?)
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let err = |e: &dyn std::fmt::Display| HttpError(e.to_string());
            let (parts, body) = request.into_parts();
            let response = self
                .client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| err(&e))?;
            let mut out = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            let bytes = response.bytes().await.map_err(|e| err(&e))?;
            out.body(bytes.to_vec()).map_err(|e| err(&e))
        })
    }
}

type TokenError = RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>;
/// An error callback (RFC 6749 §4.1.2.1), its code read into the library's type.
#[derive(Debug)]
struct AuthError {
    error: CoreAuthErrorResponseType,
    description: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// provider metadata and clients

/// RFC 8414 / 7009 / 7662 / 9207 fields the core metadata type does not carry.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Extras {
    revocation_endpoint: String,
    introspection_endpoint: String,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}
impl AdditionalProviderMetadata for Extras {}

type Metadata = ProviderMetadata<
    Extras,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type Partner = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

async fn discover(http: &Http, issuer: &str) -> Result<Metadata> {
    Metadata::discover_async(IssuerUrl::new(issuer.to_owned())?, http)
        .await
        .map_err(|e| anyhow!("discovery failed: {e:?}"))
}

fn partner(meta: &Metadata, id: &str, secret: Option<&str>, auth: AuthType) -> Result<Partner> {
    let extras = meta.additional_metadata().clone();
    Ok(CoreClient::from_provider_metadata(
        meta.clone(),
        ClientId::new(id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_auth_type(auth)
    .set_revocation_url(RevocationUrl::new(extras.revocation_endpoint)?)
    .set_introspection_url(IntrospectionUrl::new(extras.introspection_endpoint)?))
}

// ---------------------------------------------------------------------------------------------
// the user's browser: follows redirects, keeps cookies, submits the forms with their CSRF token

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
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
                rest = &rest[end + 1..];
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

/// The attributes of a start tag's inside (`<form id="x" …>` → {id: x, …}).
fn attributes(tag: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = tag.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '<');
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
            .unwrap_or(rest.len());
        if name_end == 0 {
            break;
        }
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            if let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let inner = &after[1..];
                let end = inner.find(q).unwrap_or(inner.len());
                value = decode_entities(&inner[..end]);
                rest = inner.get(end + 1..).unwrap_or("");
            } else {
                let end = after
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(after.len());
                value = decode_entities(&after[..end]);
                rest = &after[end..];
            }
        }
        out.insert(name, value);
    }
    out
}

struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

/// The form with this id: its action and the hidden fields a browser submits untouched.
fn find_form(html: &str, id: &str) -> Option<Form> {
    let mut rest = html;
    while let Some(start) = rest.find("<form") {
        rest = &rest[start..];
        let tag_end = rest.find('>')?;
        let attrs = attributes(&rest[..tag_end]);
        let body_end = rest.find("</form>").unwrap_or(rest.len());
        let body = &rest[tag_end..body_end];
        rest = &rest[body_end..];
        if attrs.get("id").map(String::as_str) != Some(id) {
            if rest.is_empty() {
                return None;
            }
            rest = &rest[1..];
            continue;
        }
        let mut fields = Vec::new();
        let mut inputs = body;
        while let Some(i) = inputs.find("<input") {
            inputs = &inputs[i..];
            let end = inputs.find('>').unwrap_or(inputs.len());
            let a = attributes(&inputs[..end]);
            if a.get("type").map(String::as_str) == Some("hidden")
                && let Some(name) = a.get("name")
            {
                fields.push((name.clone(), a.get("value").cloned().unwrap_or_default()));
            }
            inputs = &inputs[end..];
        }
        return Some(Form {
            action: attrs.get("action").cloned().unwrap_or_default(),
            fields,
        });
    }
    None
}

struct Browser<'a> {
    http: reqwest::Client,
    cfg: &'a Config,
    jar: HashMap<String, BTreeMap<String, String>>,
}

impl<'a> Browser<'a> {
    fn new(cfg: &'a Config) -> Result<Self> {
        Ok(Self {
            http: reqwest_client(&cfg.ca_pem)?,
            cfg,
            jar: HashMap::new(),
        })
    }

    fn origin(url: &reqwest::Url) -> String {
        url.origin().ascii_serialization()
    }

    async fn fetch(
        &mut self,
        url: &reqwest::Url,
        form: Option<&[(String, String)]>,
    ) -> Result<reqwest::Response> {
        let origin = Self::origin(url);
        let mut request = match form {
            Some(fields) => self
                .http
                .post(url.clone())
                .header("origin", &origin)
                .form(fields),
            None => self.http.get(url.clone()),
        }
        .header("user-agent", "gatehouse-interop-browser")
        .header("accept", "text/html");
        if let Some(cookies) = self.jar.get(&origin).filter(|c| !c.is_empty()) {
            let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", header.join("; "));
        }
        let response = request.send().await?;
        let jar = self.jar.entry(origin).or_default();
        for line in response.headers().get_all("set-cookie") {
            let line = line.to_str()?;
            let mut parts = line.split(';');
            let pair = parts.next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let expired = parts.any(|a| {
                let a = a.trim().to_ascii_lowercase();
                a == "max-age=0" || a.starts_with("max-age=-")
            });
            if expired {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        Ok(response)
    }

    /// Signs in, answers the consent screen with `decision` (without "remember"), follows the
    /// redirects until it lands on `redirect_uri` (a [`Callback`]); returns that URL.
    async fn authorize(
        &mut self,
        url: reqwest::Url,
        redirect_uri: &str,
        decision: &str,
    ) -> Result<reqwest::Url> {
        let mut url = url;
        let mut form: Option<Vec<(String, String)>> = None;
        for _ in 0..20 {
            if url.as_str().starts_with(redirect_uri) {
                let response = self.fetch(&url, None).await?;
                ensure!(
                    response.status() == 200,
                    "callback listener answered {}",
                    response.status()
                );
                return Ok(url);
            }
            let response = self.fetch(&url, form.as_deref()).await?;
            let status = response.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let location = response
                    .headers()
                    .get("location")
                    .context("a redirect without Location")?
                    .to_str()?;
                url = url.join(location)?;
                if status != 307 && status != 308 {
                    form = None;
                }
                continue;
            }
            let html = response.text().await?;
            ensure!(
                status == 200,
                "browser: HTTP {status} at {}: {}",
                url.path(),
                html.chars().take(200).collect::<String>()
            );
            let (next, fields) = if let Some(login) = find_form(&html, "login-form") {
                let mut fields = login.fields;
                fields.push(("username".into(), self.cfg.username.clone()));
                fields.push(("password".into(), self.cfg.password.clone()));
                (login.action, fields)
            } else if let Some(consent) = find_form(&html, "consent-form") {
                let mut fields = consent.fields;
                fields.push(("decision".into(), decision.to_owned()));
                (consent.action, fields)
            } else {
                bail!(
                    "browser: neither a login nor a consent form at {}",
                    url.path()
                );
            };
            url = url.join(&next)?;
            form = Some(fields);
        }
        bail!("browser: more than 20 redirects")
    }
}

// ---------------------------------------------------------------------------------------------
// the app's loopback callback listener (RFC 8252 §7.3)

struct Callback {
    port: u16,
    received: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Callback {
    async fn listen(port: u16) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf);
                    if let Some(path) = head.split_whitespace().nth(1) {
                        sink.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(path.to_owned());
                    }
                    let body = "You can close this window.";
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
                         connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Ok(Self {
            port,
            received,
            task,
        })
    }

    /// The full URL of the first request the listener received.
    fn take(&self, redirect_uri: &RedirectUrl) -> Result<reqwest::Url> {
        let path = {
            let mut received = self.received.lock().unwrap_or_else(|e| e.into_inner());
            ensure!(
                !received.is_empty(),
                "the callback listener received nothing"
            );
            received.remove(0)
        };
        Ok(redirect_uri.url().join(&path)?)
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// flows

struct Ctx {
    cfg: Config,
    http: Http,
    meta: Metadata,
}

/// An authorization the user completed in the browser; the code is not exchanged yet.
struct Flow {
    params: HashMap<String, String>,
    state: CsrfToken,
    nonce: Option<Nonce>,
    verifier: String,
    redirect: RedirectUrl,
    issuer: String,
}

impl Flow {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// What the app does with the callback: RFC 9207 `iss`, `state`, then either the code or
    /// the error, read into the library's error type.
    fn response(&self) -> Result<std::result::Result<AuthorizationCode, AuthError>> {
        ensure!(
            self.param("iss") == Some(self.issuer.as_str()),
            "callback iss {:?} is the issuer",
            self.param("iss")
        );
        ensure!(
            self.param("state") == Some(self.state.secret().as_str()),
            "callback state matches"
        );
        if let Some(error) = self.param("error") {
            return Ok(Err(AuthError {
                error: serde_json::from_value(error.into())?,
                description: self.param("error_description").map(str::to_owned),
            }));
        }
        let code = self.param("code").context("callback has no code")?;
        Ok(Ok(AuthorizationCode::new(code.to_owned())))
    }

    async fn exchange(
        &self,
        http: &Http,
        client: &Partner,
        verifier: Option<&str>,
        redirect: Option<&RedirectUrl>,
    ) -> Result<std::result::Result<CoreTokenResponse, TokenError>> {
        let code = match self.response()? {
            Ok(code) => code,
            Err(e) => bail!("the callback carries an error: {e:?}"),
        };
        let verifier = verifier.unwrap_or(&self.verifier).to_owned();
        let redirect = redirect.unwrap_or(&self.redirect).clone();
        Ok(client
            .exchange_code(code)?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(http)
            .await)
    }
}

async fn authorize(
    ctx: &Ctx,
    client: &Partner,
    issuer: &str,
    scopes: &str,
    decision: &str,
) -> Result<Flow> {
    let cb = Callback::listen(0).await?;
    let redirect = RedirectUrl::new(format!("http://127.0.0.1:{}/callback", cb.port))?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .set_redirect_uri(Cow::Owned(redirect.clone()));
    // The library always asks for `openid`.
    for scope in scopes.split(' ').filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.to_owned()));
    }
    let (url, state, nonce) = request.url();
    Browser::new(&ctx.cfg)?
        .authorize(url, redirect.as_str(), decision)
        .await?;
    let callback = cb.take(&redirect)?;
    let params = callback.query_pairs().into_owned().collect();
    Ok(Flow {
        params,
        state,
        nonce: Some(nonce),
        verifier: verifier.secret().clone(),
        redirect,
        issuer: issuer.to_owned(),
    })
}

/// The ID token, verified by the library, plus its `at_hash`.
fn verify_id_token(
    client: &Partner,
    tokens: &CoreTokenResponse,
    nonce: Option<&Nonce>,
) -> Result<CoreIdTokenClaims> {
    let id_token = tokens.id_token().context("no ID token")?;
    let verifier = client.id_token_verifier();
    let claims = match nonce {
        Some(nonce) => id_token.claims(&verifier, nonce),
        None => id_token.claims(&verifier, |n: Option<&Nonce>| match n {
            None => Ok(()),
            Some(_) => Err("a nonce nobody sent".to_owned()),
        }),
    }
    .map_err(|e| anyhow!("ID token rejected by the library: {e:?}"))?
    .clone();
    if let Some(expected) = claims.access_token_hash() {
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg()?,
            id_token.signing_key(&verifier)?,
        )?;
        ensure!(&actual == expected, "at_hash matches the access token");
    }
    Ok(claims)
}

fn describe_id_token(claims: &CoreIdTokenClaims) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let sub = claims.subject().as_str();
    let audiences: Vec<&str> = claims.audiences().iter().map(|a| a.as_str()).collect();
    format!(
        "id_token sub={}… aud={audiences:?} exp in {}s",
        sub.get(..8).unwrap_or(sub),
        claims.expiration().timestamp() - now
    )
}

fn token_error<T>(result: std::result::Result<T, TokenError>, want: &str) -> Result<String> {
    match result {
        Ok(_) => bail!("the request succeeded, but it must fail with {want}"),
        Err(RequestTokenError::ServerResponse(e)) => {
            let got = e.error().to_string();
            ensure!(
                got == want,
                "error == {want} (got {got}: {:?})",
                e.error_description()
            );
            Ok(format!("RequestTokenError::ServerResponse error={got}"))
        }
        Err(other) => bail!("expected the server error {want}, got {other:?}"),
    }
}

fn auth_error(
    result: std::result::Result<AuthorizationCode, AuthError>,
    want: &str,
) -> Result<String> {
    match result {
        Ok(_) => bail!("the callback carries a code, but it must carry the error {want}"),
        Err(e) => {
            let got = serde_json::to_value(&e.error)?
                .as_str()
                .unwrap_or_default()
                .to_owned();
            ensure!(
                got == want,
                "error == {want} (got {:?}: {:?})",
                e.error,
                e.description
            );
            Ok(format!("CoreAuthErrorResponseType::{:?} ({got})", e.error))
        }
    }
}

async fn introspect(
    ctx: &Ctx,
    client: &Partner,
    token: &str,
    hint: Option<&str>,
) -> Result<openidconnect::core::CoreTokenIntrospectionResponse> {
    let token = AccessToken::new(token.to_owned());
    let mut request = client.introspect(&token);
    if let Some(hint) = hint {
        request = request.set_token_type_hint(hint);
    }
    request
        .request_async(&ctx.http)
        .await
        .map_err(|e| anyhow!("introspection failed: {e:?}"))
}

// ---------------------------------------------------------------------------------------------
// scenarios

impl Ctx {
    fn public(&self) -> Result<Partner> {
        partner(&self.meta, &self.cfg.public_id, None, AuthType::RequestBody)
    }

    fn confidential(&self, creds: &Creds, auth: AuthType) -> Result<Partner> {
        partner(&self.meta, &creds.id, Some(&creds.secret), auth)
    }

    async fn code_flow(&self, client: &Partner, scopes: &str) -> Result<(Flow, CoreTokenResponse)> {
        let flow = authorize(self, client, &self.cfg.issuer, scopes, "allow").await?;
        let tokens = flow
            .exchange(&self.http, client, None, None)
            .await?
            .map_err(|e| anyhow!("code exchange failed: {e:?}"))?;
        Ok((flow, tokens))
    }
}

async fn s1_discovery_jwks(ctx: &Ctx) -> Result<String> {
    // Discovery (issuer compared with the URL asked) and the JWKS, both by the library.
    let meta = discover(&ctx.http, &ctx.cfg.issuer).await?;
    ensure!(meta.issuer().as_str() == ctx.cfg.issuer, "issuer matches");
    let extras = meta.additional_metadata();
    ensure!(
        extras
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256"),
        "S256 advertised"
    );
    ensure!(
        extras.authorization_response_iss_parameter_supported,
        "RFC 9207 iss advertised"
    );
    let keys = meta.jwks().keys();
    ensure!(!keys.is_empty(), "the JWKS has keys");
    let mut algs = Vec::new();
    for key in keys {
        ensure!(key.key_id().is_some(), "every key has a kid");
        match key.signing_alg() {
            JsonWebKeyAlgorithm::Algorithm(alg) => algs.push(
                serde_json::to_value(alg)?
                    .as_str()
                    .unwrap_or("?")
                    .to_owned(),
            ),
            other => bail!(
                "key {:?}: the library cannot use its alg ({other:?})",
                key.key_id()
            ),
        }
    }
    for alg in meta.id_token_signing_alg_values_supported() {
        let name = serde_json::to_value(alg)?
            .as_str()
            .unwrap_or("?")
            .to_owned();
        ensure!(
            algs.contains(&name),
            "a key for the advertised ID token alg {name}"
        );
    }
    Ok(format!(
        "issuer matches; {} keys parsed ({})",
        keys.len(),
        algs.join(", ")
    ))
}

async fn s2_public_cli_pkce(ctx: &Ctx) -> Result<String> {
    let client = ctx.public()?;
    let (flow, tokens) = ctx
        .code_flow(
            &client,
            "openid profile email offline_access urn:neoncloud:projects:read",
        )
        .await?;
    for p in ["code", "state", "scope", "iss"] {
        ensure!(flow.params.contains_key(p), "callback carries {p}");
    }
    ensure!(
        tokens.token_type().as_ref().eq_ignore_ascii_case("bearer"),
        "token_type Bearer"
    );
    ensure!(
        tokens.refresh_token().is_some(),
        "a refresh token (offline_access)"
    );
    let claims = verify_id_token(&client, &tokens, flow.nonce.as_ref())?;
    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )?
        .request_async(&ctx.http)
        .await
        .map_err(|e| anyhow!("userinfo failed: {e:?}"))?;
    let email = info.email().map(|e| e.as_str().to_owned());
    ensure!(
        email.as_deref() == Some(ctx.cfg.email.as_str()),
        "userinfo email ({email:?})"
    );
    ensure!(info.email_verified().is_some(), "userinfo email_verified");
    ensure!(
        info.preferred_username().map(|u| u.as_str()) == Some(ctx.cfg.username.as_str()),
        "userinfo preferred_username"
    );
    let name = info
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned())
        .context("userinfo name")?;
    Ok(format!(
        "{}; userinfo name={name:?} email={}",
        describe_id_token(&claims),
        ctx.cfg.email
    ))
}

async fn s3_code(ctx: &Ctx, kind: &str) -> Result<String> {
    let (creds, auth) = match kind {
        "basic" => (&ctx.cfg.basic, AuthType::BasicAuth),
        _ => (&ctx.cfg.post, AuthType::RequestBody),
    };
    let client = ctx.confidential(creds, auth)?;
    let (flow, tokens) = ctx
        .code_flow(&client, "openid profile email urn:neoncloud:projects:read")
        .await?;
    let claims = verify_id_token(&client, &tokens, flow.nonce.as_ref())?;
    ensure!(
        tokens.refresh_token().is_none(),
        "no refresh token without offline_access"
    );
    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )?
        .request_async(&ctx.http)
        .await
        .map_err(|e| anyhow!("userinfo failed: {e:?}"))?;
    ensure!(
        info.email().map(|e| e.as_str()) == Some(ctx.cfg.email.as_str()),
        "userinfo email"
    );
    Ok(format!(
        "client_secret_{kind}: {}; userinfo ok",
        describe_id_token(&claims)
    ))
}

async fn s4_refresh_rotation(ctx: &Ctx) -> Result<String> {
    let client = ctx.public()?;
    let (flow, tokens) = ctx
        .code_flow(&client, "openid offline_access urn:neoncloud:projects:read")
        .await?;
    let sub = verify_id_token(&client, &tokens, flow.nonce.as_ref())?
        .subject()
        .clone();
    let refresh = |rt: openidconnect::RefreshToken| {
        let client = &client;
        async move {
            client
                .exchange_refresh_token(&rt)?
                .request_async(&ctx.http)
                .await
                .map_err(anyhow::Error::from)
        }
    };
    let raw_refresh = |rt: openidconnect::RefreshToken| {
        let client = &client;
        async move {
            Ok::<_, anyhow::Error>(
                client
                    .exchange_refresh_token(&rt)?
                    .request_async(&ctx.http)
                    .await,
            )
        }
    };
    let rt1 = tokens.refresh_token().context("a refresh token")?.clone();
    let second = refresh(rt1.clone()).await?;
    let rt2 = second
        .refresh_token()
        .context("a rotated refresh token")?
        .clone();
    ensure!(
        rt2.secret() != rt1.secret(),
        "rotation: a new refresh token"
    );
    let _: CoreUserInfoClaims = client
        .user_info(second.access_token().clone(), Some(sub))?
        .request_async(&ctx.http)
        .await
        .map_err(|e| anyhow!("userinfo with the new access token failed: {e:?}"))?;
    let third = refresh(rt2.clone()).await?;
    let rt3 = third.refresh_token().context("a second rotation")?.clone();
    ensure!(
        rt3.secret() != rt2.secret(),
        "the new refresh token works and rotates again"
    );
    let old = token_error(raw_refresh(rt1).await?, "invalid_grant")?;
    let killed = token_error(raw_refresh(rt3).await?, "invalid_grant")?;
    Ok(format!(
        "new token works; old one: {old}; newest after reuse: {killed}"
    ))
}

async fn s5_revoke_introspect(ctx: &Ctx) -> Result<String> {
    let client = ctx.confidential(&ctx.cfg.basic, AuthType::BasicAuth)?;
    let scope = "openid offline_access urn:neoncloud:projects:read";
    let (flow, tokens) = ctx.code_flow(&client, scope).await?;
    let sub = verify_id_token(&client, &tokens, flow.nonce.as_ref())?
        .subject()
        .to_string();
    let access = tokens.access_token().secret().clone();
    let refresh = tokens.refresh_token().context("a refresh token")?.clone();
    let live = introspect(ctx, &client, &access, None).await?;
    ensure!(live.active(), "live access token is active");
    ensure!(
        live.sub() == Some(sub.as_str()),
        "introspection sub ({:?})",
        live.sub()
    );
    ensure!(
        live.client_id().map(|c| c.as_str()) == Some(ctx.cfg.basic.id.as_str()),
        "introspection client_id"
    );
    let scopes: Vec<String> = live
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    for s in scope.split(' ') {
        ensure!(
            scopes.iter().any(|x| x == s),
            "introspection scope has {s} ({scopes:?})"
        );
    }
    client
        .revoke_token(CoreRevocableToken::from(tokens.access_token().clone()))?
        .request_async(&ctx.http)
        .await
        .map_err(|e| anyhow!("revoking the access token failed: {e:?}"))?;
    ensure!(
        !introspect(ctx, &client, &access, None).await?.active(),
        "revoked access token is inactive"
    );
    client
        .revoke_token(CoreRevocableToken::from(refresh.clone()))?
        .request_async(&ctx.http)
        .await
        .map_err(|e| anyhow!("revoking the refresh token failed: {e:?}"))?;
    ensure!(
        !introspect(ctx, &client, refresh.secret(), Some("refresh_token"))
            .await?
            .active(),
        "revoked refresh token is inactive"
    );
    token_error(
        client
            .exchange_refresh_token(&refresh)?
            .request_async(&ctx.http)
            .await,
        "invalid_grant",
    )?;
    Ok(format!(
        "live: active, scope={:?}, sub matches; after revocation: active=false (access and \
         refresh), refresh -> invalid_grant",
        scopes.join(" ")
    ))
}

async fn s6_client_credentials(ctx: &Ctx, kind: &str) -> Result<String> {
    let (creds, auth) = match kind {
        "basic" => (&ctx.cfg.basic, AuthType::BasicAuth),
        _ => (&ctx.cfg.post, AuthType::RequestBody),
    };
    let client = ctx.confidential(creds, auth)?;
    let tokens = client
        .exchange_client_credentials()?
        .add_scope(Scope::new("urn:neoncloud:projects:read".into()))
        .request_async(&ctx.http)
        .await
        .map_err(|e| anyhow!("client_credentials failed: {e:?}"))?;
    ensure!(
        tokens.token_type().as_ref().eq_ignore_ascii_case("bearer"),
        "a Bearer token"
    );
    ensure!(
        tokens.refresh_token().is_none() && tokens.id_token().is_none(),
        "no refresh or ID token"
    );
    let info = introspect(ctx, &client, tokens.access_token().secret(), None).await?;
    ensure!(
        info.active() && info.client_id().map(|c| c.as_str()) == Some(creds.id.as_str()),
        "introspection: active, client_id"
    );
    let scopes: Vec<String> = info
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    ensure!(
        scopes.iter().any(|s| s == "urn:neoncloud:projects:read"),
        "introspection scope"
    );
    Ok(format!(
        "client_secret_{kind}: token issued, introspection active scope={:?}",
        scopes.join(" ")
    ))
}

async fn s6_public_refused(ctx: &Ctx) -> Result<String> {
    let client = ctx.public()?;
    token_error(
        client
            .exchange_client_credentials()?
            .add_scope(Scope::new("openid".into()))
            .request_async(&ctx.http)
            .await,
        "unauthorized_client",
    )
}

async fn s7_seed_url(ctx: &Ctx) -> Result<String> {
    let cb = Callback::listen(ctx.cfg.seed_port).await?;
    let redirect = RedirectUrl::new(format!(
        "http://localhost:{}/api/auth/callback/neon",
        cb.port
    ))?;
    // The URL, by oauth2 (no nonce, like the seed) ...
    let oauth = oauth2::basic::BasicClient::new(oauth2::ClientId::new(ctx.cfg.seed.id.clone()))
        .set_auth_uri(oauth2::AuthUrl::new(
            ctx.meta.authorization_endpoint().url().to_string(),
        )?)
        .set_redirect_uri(oauth2::RedirectUrl::new(redirect.to_string())?);
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let mut request = oauth
        .authorize_url(oauth2::CsrfToken::new_random)
        .add_extra_param("grant_type", "authorization_code")
        .set_pkce_challenge(challenge);
    for scope in SEED_SCOPES.split(' ') {
        request = request.add_scope(oauth2::Scope::new(scope.to_owned()));
    }
    let (url, state) = request.url();
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    let mut want: Vec<String> = SEED_PARAMS.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    ensure!(
        sorted == want,
        "the URL has exactly the seed's parameters ({})",
        names.join(",")
    );
    Browser::new(&ctx.cfg)?
        .authorize(url, redirect.as_str(), "allow")
        .await?;
    let callback = cb.take(&redirect)?;
    let flow = Flow {
        params: callback.query_pairs().into_owned().collect(),
        state: CsrfToken::new(state.secret().clone()),
        nonce: None,
        verifier: verifier.secret().clone(),
        redirect,
        issuer: ctx.cfg.issuer.clone(),
    };
    // ... exchanged with client_secret_post, the ID token verified, by openidconnect.
    let client = ctx.confidential(&ctx.cfg.seed, AuthType::RequestBody)?;
    let tokens = flow
        .exchange(&ctx.http, &client, None, None)
        .await?
        .map_err(|e| anyhow!("code exchange failed: {e:?}"))?;
    let granted: Vec<String> = tokens
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    for s in SEED_SCOPES.split(' ').filter(|s| s.starts_with("urn:")) {
        ensure!(granted.iter().any(|g| g == s), "granted scope has {s}");
    }
    ensure!(
        tokens.refresh_token().is_some(),
        "a refresh token (offline)"
    );
    verify_id_token(&client, &tokens, None)?;
    Ok(format!(
        "{} -> code -> tokens (client_secret_post); scope={:?}",
        names.join("&"),
        granted.join(" ")
    ))
}

async fn s8_wrong_redirect_uri(ctx: &Ctx) -> Result<String> {
    let client = ctx.public()?;
    let flow = authorize(ctx, &client, &ctx.cfg.issuer, "openid", "allow").await?;
    let port = flow.redirect.url().port().unwrap_or(80);
    let other = RedirectUrl::new(format!(
        "http://127.0.0.1:{}/callback",
        if port == 65535 { 65534 } else { port + 1 }
    ))?;
    token_error(
        flow.exchange(&ctx.http, &client, None, Some(&other))
            .await?,
        "invalid_grant",
    )
}

async fn s8_wrong_verifier(ctx: &Ctx) -> Result<String> {
    let client = ctx.public()?;
    let flow = authorize(ctx, &client, &ctx.cfg.issuer, "openid", "allow").await?;
    let (_, other) = PkceCodeChallenge::new_random_sha256();
    token_error(
        flow.exchange(&ctx.http, &client, Some(other.secret()), None)
            .await?,
        "invalid_grant",
    )
}

async fn s8_code_reused(ctx: &Ctx) -> Result<String> {
    let client = ctx.confidential(&ctx.cfg.basic, AuthType::BasicAuth)?;
    let flow = authorize(
        ctx,
        &client,
        &ctx.cfg.issuer,
        "openid urn:neoncloud:projects:read",
        "allow",
    )
    .await?;
    let first = flow
        .exchange(&ctx.http, &client, None, None)
        .await?
        .map_err(|e| anyhow!("first exchange failed: {e:?}"))?;
    let msg = token_error(
        flow.exchange(&ctx.http, &client, None, None).await?,
        "invalid_grant",
    )?;
    ensure!(
        !introspect(ctx, &client, first.access_token().secret(), None)
            .await?
            .active(),
        "the access token from the replayed code is revoked"
    );
    Ok(format!("{msg}; first access token revoked"))
}

async fn s8_expired_code(ctx: &Ctx) -> Result<String> {
    let meta = discover(&ctx.http, &ctx.cfg.short_issuer).await?;
    let client = partner(&meta, &ctx.cfg.public_id, None, AuthType::RequestBody)?;
    let flow = authorize(ctx, &client, &ctx.cfg.short_issuer, "openid", "allow").await?;
    tokio::time::sleep(Duration::from_secs_f64(ctx.cfg.short_ttl + 1.5)).await;
    token_error(
        flow.exchange(&ctx.http, &client, None, None).await?,
        "invalid_grant",
    )
}

async fn s8_wrong_secret(ctx: &Ctx) -> Result<String> {
    let mut msgs = Vec::new();
    for (kind, creds, auth) in [
        ("basic", &ctx.cfg.basic, AuthType::BasicAuth),
        ("post", &ctx.cfg.post, AuthType::RequestBody),
    ] {
        let wrong = Creds {
            id: creds.id.clone(),
            secret: "not-the-secret".into(),
        };
        let client = ctx.confidential(&wrong, auth)?;
        let msg = token_error(
            client
                .exchange_client_credentials()?
                .add_scope(Scope::new("urn:neoncloud:projects:read".into()))
                .request_async(&ctx.http)
                .await,
            "invalid_client",
        )?;
        msgs.push(format!("{kind}: {msg}"));
    }
    Ok(msgs.join("; "))
}

async fn s8_scope_not_allowed(ctx: &Ctx) -> Result<String> {
    let client = ctx.public()?;
    let flow = authorize(
        ctx,
        &client,
        &ctx.cfg.issuer,
        "openid urn:neoncloud:billing:admin",
        "allow",
    )
    .await?;
    let m1 = auth_error(flow.response()?, "invalid_scope")?;
    let backend = ctx.confidential(&ctx.cfg.basic, AuthType::BasicAuth)?;
    let m2 = token_error(
        backend
            .exchange_client_credentials()?
            .add_scope(Scope::new("urn:neoncloud:billing:admin".into()))
            .request_async(&ctx.http)
            .await,
        "invalid_scope",
    )?;
    Ok(format!("authorization: {m1}; token endpoint: {m2}"))
}

async fn s8_consent_denied(ctx: &Ctx) -> Result<String> {
    let client = ctx.public()?;
    let flow = authorize(ctx, &client, &ctx.cfg.issuer, "openid profile", "deny").await?;
    Ok(format!(
        "{} (state and iss checked)",
        auth_error(flow.response()?, "access_denied")?
    ))
}

/// RFC 7591 through the library: registration with the initial access token from discovery's
/// `registration_endpoint`, then a code flow with the new public client. The library checks the
/// answer's shape (every URI field parsed); refusals come back as its `ServerResponse` error.
async fn s12_dynamic_registration(ctx: &Ctx) -> Result<String> {
    let endpoint = ctx
        .meta
        .registration_endpoint()
        .cloned()
        .context("registration_endpoint in discovery")?;
    let token = AccessToken::new(var("INTEROP_REGISTRATION_TOKEN")?);
    let request = |redirect: &str| -> Result<CoreClientRegistrationRequest> {
        Ok(CoreClientRegistrationRequest::new(
            vec![RedirectUrl::new(redirect.to_owned())?],
            EmptyAdditionalClientMetadata::default(),
        )
        .set_grant_types(Some(vec![
            CoreGrantType::AuthorizationCode,
            CoreGrantType::RefreshToken,
        ]))
        .set_token_endpoint_auth_method(Some(CoreClientAuthMethod::None)))
    };
    let refused = |e: &dyn std::fmt::Debug, code: &str| -> Result<()> {
        let text = format!("{e:?}");
        ensure!(
            text.contains("ServerResponse") && text.contains(code),
            "expected the library's ServerResponse {code}, got {text}"
        );
        Ok(())
    };
    let anonymous = request("http://127.0.0.1/callback")?
        .register_async(&endpoint, &ctx.http)
        .await;
    // 401 is not an RFC 7591 §3.2.2 error status, so the library hands over status and body.
    match anonymous {
        Ok(_) => bail!("registration without an initial access token succeeded"),
        Err(ClientRegistrationError::Response(status, body, _)) => {
            let body = String::from_utf8_lossy(&body);
            ensure!(
                status.as_u16() == 401 && body.contains("\"invalid_token\""),
                "no token: {status} {body}"
            );
        }
        Err(e) => bail!("no token: expected a 401 answer, got {e:?}"),
    }
    let insecure = request("http://app.example.com/callback")?
        .set_initial_access_token(Some(token.clone()))
        .register_async(&endpoint, &ctx.http)
        .await;
    match insecure {
        Ok(_) => bail!("a plain http redirect URI on a public host was registered"),
        Err(e) => refused(&e, "InvalidRedirectUri")?,
    }
    let registered = request("http://127.0.0.1/callback")?
        .set_initial_access_token(Some(token))
        .register_async(&endpoint, &ctx.http)
        .await
        .map_err(|e| anyhow!("registration failed: {e:?}"))?;
    let id = registered.client_id().as_str().to_owned();
    ensure!(
        registered.client_secret().is_none(),
        "a public client gets no secret"
    );
    ensure!(
        registered.registration_access_token().is_some(),
        "a registration_access_token"
    );
    let uri = registered
        .registration_client_uri()
        .context("a registration_client_uri")?;
    ensure!(
        uri.as_str() == format!("{}/oauth2/register/{id}", ctx.cfg.issuer),
        "registration_client_uri {uri:?}"
    );
    let client = partner(&ctx.meta, &id, None, AuthType::RequestBody)?;
    let (flow, tokens) = ctx
        .code_flow(&client, "openid offline_access profile")
        .await?;
    let claims = verify_id_token(&client, &tokens, flow.nonce.as_ref())?;
    ensure!(
        tokens.refresh_token().is_some(),
        "a refresh token (offline_access)"
    );
    Ok(format!(
        "no token: invalid_token; http redirect: invalid_redirect_uri; registered {}… (none); {}",
        id.get(..8).unwrap_or(&id),
        describe_id_token(&claims)
    ))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn report(name: &str, result: Result<String>) {
    match result {
        Ok(msg) => println!("RESULT {LIB} {name} PASS {}", one_line(&msg)),
        Err(e) => println!("RESULT {LIB} {name} FAIL {}", one_line(&format!("{e:#}"))),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    println!("LIBRARY {LIB} 4.1.0");
    let cfg = Config::from_env()?;
    let http = Http::new(&cfg.ca_pem)?;
    let only = std::env::var("INTEROP_ONLY").unwrap_or_default();
    // The scenarios of this deployment (../run sets it from scenarios.txt); all when unset.
    let wanted = std::env::var("INTEROP_SCENARIOS").ok();
    let runs = |name: &str| {
        (only.is_empty() || name.contains(&only))
            && wanted
                .as_deref()
                .is_none_or(|w| w.split_whitespace().any(|s| s == name))
    };
    let meta = match discover(&http, &cfg.issuer).await {
        Ok(meta) => meta,
        Err(e) => {
            // Nothing else can run without discovery; every scenario reports it.
            for name in SCENARIOS.iter().filter(|name| runs(name)) {
                report(name, Err(anyhow!("discovery failed: {e:#}")));
            }
            return Ok(());
        }
    };
    let ctx = Ctx { cfg, http, meta };
    for name in SCENARIOS {
        if !runs(name) {
            continue;
        }
        let result = match name {
            "1-discovery-jwks" => s1_discovery_jwks(&ctx).await,
            "2-public-cli-pkce" => s2_public_cli_pkce(&ctx).await,
            "3-code-client-secret-basic" => s3_code(&ctx, "basic").await,
            "3-code-client-secret-post" => s3_code(&ctx, "post").await,
            "4-refresh-rotation" => s4_refresh_rotation(&ctx).await,
            "5-revoke-introspect" => s5_revoke_introspect(&ctx).await,
            "6-client-credentials-basic" => s6_client_credentials(&ctx, "basic").await,
            "6-client-credentials-post" => s6_client_credentials(&ctx, "post").await,
            "6-client-credentials-public-refused" => s6_public_refused(&ctx).await,
            "7-seed-authorization-url" => s7_seed_url(&ctx).await,
            "8-wrong-redirect-uri" => s8_wrong_redirect_uri(&ctx).await,
            "8-wrong-pkce-verifier" => s8_wrong_verifier(&ctx).await,
            "8-code-reused" => s8_code_reused(&ctx).await,
            "8-expired-code" => s8_expired_code(&ctx).await,
            "8-wrong-client-secret" => s8_wrong_secret(&ctx).await,
            "8-scope-not-allowed" => s8_scope_not_allowed(&ctx).await,
            "8-consent-denied" => s8_consent_denied(&ctx).await,
            "12-dynamic-registration" => s12_dynamic_registration(&ctx).await,
            other => Err(anyhow!("no such scenario {other}")),
        };
        report(name, result);
    }
    for (name, reason) in NOT_APPLICABLE {
        if runs(name) {
            println!("RESULT {LIB} {name} N/A {reason}");
        }
    }
    Ok(())
}

/// Scenarios of the suite this driver does not run, and why: said in the table rather than
/// worked around with hand-written protocol code (or counted as passes).
const NOT_APPLICABLE: [(&str, &str); 8] = [
    (
        "9-private-key-jwt",
        "openidconnect 4.1 has no client assertion authentication (AuthType: BasicAuth, RequestBody only)",
    ),
    (
        "9-client-secret-jwt",
        "openidconnect 4.1 has no client assertion authentication (AuthType: BasicAuth, RequestBody only)",
    ),
    (
        "9-request-object",
        "openidconnect 4.1 builds no request objects (RFC 9101)",
    ),
    (
        "9-client-assertion-replayed",
        "openidconnect 4.1 has no client assertion authentication (AuthType: BasicAuth, RequestBody only)",
    ),
    (
        "11-device-grant",
        "not driven yet: this driver does not use openidconnect's device authorization API",
    ),
    (
        "11-device-slow-down",
        "not driven yet: this driver does not use openidconnect's device authorization API",
    ),
    (
        "11-device-denied",
        "not driven yet: this driver does not use openidconnect's device authorization API",
    ),
    (
        "11-device-wrong-user-code",
        "not driven yet: this driver does not use openidconnect's device authorization API",
    ),
];

const SCENARIOS: [&str; 18] = [
    "1-discovery-jwks",
    "2-public-cli-pkce",
    "3-code-client-secret-basic",
    "3-code-client-secret-post",
    "4-refresh-rotation",
    "5-revoke-introspect",
    "6-client-credentials-basic",
    "6-client-credentials-post",
    "6-client-credentials-public-refused",
    "7-seed-authorization-url",
    "8-wrong-redirect-uri",
    "8-wrong-pkce-verifier",
    "8-code-reused",
    "8-expired-code",
    "8-wrong-client-secret",
    "8-scope-not-allowed",
    "8-consent-denied",
    "12-dynamic-registration",
];
