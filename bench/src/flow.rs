//! The full authorization-code + PKCE flow as a new browser and a public client do it:
//! authorize → (redirects) → login form → (consent form, if shown) → redirect to the client with
//! a code → token request with the PKCE verifier → userinfo with the access token.
//!
//! The browser part follows redirects, keeps cookies, and submits the page's own forms (hidden
//! fields included, to the form's `action`), so it works against any server's pages without
//! knowing their URLs. Each flow is a new browser (a fresh cookie jar, so every flow logs in),
//! unless the flow is configured as a returning browser: then each worker keeps its cookies from
//! one flow to the next, so after its first flow the server sees a signed-in user who already
//! consented, and the flow is authorize → code → token → userinfo with no password to check.

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::Method;
use hyper::header::{AUTHORIZATION, COOKIE, LOCATION};
use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::cookies::Jar;
use crate::html;
use crate::http::{Client, Req};
use crate::load::Endpoints;

/// More hops than any login + consent needs; bounds a redirect loop.
const MAX_HOPS: usize = 12;

#[derive(Debug, Clone)]
pub struct FlowConfig {
    pub endpoints: Endpoints,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub username: String,
    pub password: String,
    /// Keep the worker's cookies across flows (a returning browser) instead of a new browser
    /// per flow.
    pub returning: bool,
}

fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(&buf)
}

/// Runs one flow; `Ok` only if userinfo answered 200 for the token the flow got.
pub async fn run_flow(client: &mut Client, cfg: &FlowConfig) -> anyhow::Result<()> {
    let verifier = random(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random(16);
    let code = authorize(client, cfg, &challenge, &state, Until::Code)
        .await?
        .ok_or_else(|| anyhow!("the browser part ended without a code"))?;

    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", &cfg.redirect_uri)
        .append_pair("client_id", &cfg.client_id)
        .append_pair("code_verifier", &verifier)
        .finish();
    let resp = client
        .send(&Req::new(Method::POST, &cfg.endpoints.token)?.form(body))
        .await?;
    if resp.status != 200 {
        bail!(
            "the token request answered {}: {}",
            resp.status,
            resp.text()
        );
    }
    let tokens: serde_json::Value = serde_json::from_slice(&resp.body)?;
    let access_token = tokens["access_token"]
        .as_str()
        .ok_or_else(|| anyhow!("no access_token in {}", resp.text()))?;
    if tokens["id_token"].as_str().is_none() {
        bail!("no id_token for an openid request: {}", resp.text());
    }

    let req = Req::new(Method::GET, &cfg.endpoints.userinfo)?
        .header(AUTHORIZATION, &format!("Bearer {access_token}"))?;
    let resp = client.send(&req).await?;
    if resp.status != 200 || !resp.text().contains("\"sub\"") {
        bail!("userinfo answered {}: {}", resp.status, resp.text());
    }
    Ok(())
}

/// Where the browser part stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// At the code on the redirect URI (the whole browser part).
    Code,
    /// At the login page: the authorization request is pending behind its challenge.
    LoginPage,
    /// When the login form has been refused (a wrong password; 401 with the form again).
    RefusedLogin,
}

/// The browser part: from the authorization request to the code at the redirect URI (`Some`),
/// or to an earlier stop (`None`).
pub async fn authorize(
    client: &mut Client,
    cfg: &FlowConfig,
    challenge: &str,
    state: &str,
    until: Until,
) -> anyhow::Result<Option<String>> {
    let mut url = cfg.endpoints.authorization.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("redirect_uri", &cfg.redirect_uri)
        .append_pair("scope", &cfg.scope)
        .append_pair("state", state)
        .append_pair("nonce", &random(16))
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    // A returning browser's jar goes back into the client only when the flow succeeds, so a
    // failed flow starts the next one signed out.
    let mut jar = if cfg.returning {
        std::mem::take(&mut client.session)
    } else {
        Jar::default()
    };
    let mut method = Method::GET;
    let mut body: Option<String> = None;
    for _ in 0..MAX_HOPS {
        let mut req = Req::new(method.clone(), &url)?;
        if let Some(cookie) = jar.header_for(url.path()) {
            req = req.header(COOKIE, &cookie)?;
        }
        if let Some(b) = body.take() {
            req = req.form(b);
        }
        let resp = client.send(&req).await?;
        jar.store(url.path(), &resp.headers);
        match resp.status {
            301 | 302 | 303 | 307 | 308 => {
                let location = resp
                    .header(LOCATION)
                    .ok_or_else(|| anyhow!("{method} {url} redirected without a Location"))?;
                let next = url.join(location)?;
                if next.as_str().starts_with(&cfg.redirect_uri) {
                    let code = code_from(&next, state)?;
                    if cfg.returning {
                        client.session = jar;
                    }
                    return Ok(Some(code));
                }
                if !matches!(resp.status, 307 | 308) {
                    method = Method::GET;
                }
                url = next;
            }
            200 if until == Until::LoginPage && has_login_form(&resp.text()) => return Ok(None),
            401 if until == Until::RefusedLogin && has_login_form(&resp.text()) => {
                return Ok(None);
            }
            200 => {
                let (action, fields) = fill_page(&resp.text(), cfg)
                    .with_context(|| format!("the page at {}", url.path()))?;
                url = url.join(&action)?;
                method = Method::POST;
                body = Some(
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(fields)
                        .finish(),
                );
            }
            s => bail!(
                "{method} {} answered {s}: {}",
                url.path(),
                resp.text().chars().take(300).collect::<String>()
            ),
        }
    }
    bail!("no code after {MAX_HOPS} hops")
}

fn has_login_form(page: &str) -> bool {
    html::forms(page).iter().any(|f| f.has_field("password"))
}

/// What a user does on a page: fill in the login form, or allow on the consent form.
fn fill_page(page: &str, cfg: &FlowConfig) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let forms = html::forms(page);
    let (form, fields) = if let Some(login) = forms.iter().find(|f| f.has_field("password")) {
        let fields = login.submission(
            &[
                ("username", cfg.username.as_str()),
                ("password", cfg.password.as_str()),
            ],
            None,
        );
        (login, fields)
    } else if let Some(consent) = forms.iter().find(|f| f.has_field("decision")) {
        (
            consent,
            consent.submission(&[], Some(("decision", "allow"))),
        )
    } else {
        bail!("no login or consent form")
    };
    if form.method != "post" {
        bail!("the form's method is {}, not post", form.method);
    }
    let action = form.action.clone().unwrap_or_default();
    Ok((action, fields))
}

fn code_from(redirect: &Url, state: &str) -> anyhow::Result<String> {
    let mut code = None;
    let mut got_state = None;
    for (k, v) in redirect.query_pairs() {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => got_state = Some(v.into_owned()),
            "error" => bail!("the authorization failed: {redirect}"),
            _ => {}
        }
    }
    if got_state.as_deref() != Some(state) {
        bail!("the redirect carried the wrong state: {redirect}");
    }
    code.ok_or_else(|| anyhow!("no code in {redirect}"))
}
