//! What the login UI asks of the token service, over gRPC: check an authorization request,
//! check a user's password, issue a code after consent, and manage remembered consents.

use gatehouse_core::authorize::{
    AuthorizationParams, AuthorizeError, AuthorizePolicy, ValidatedAuthorization, validate,
};
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::error::{ErrorCode, OAuthError};
use gatehouse_core::factor::{MfaPolicy, amr_for, is_multi_factor};
use gatehouse_core::grant::{
    AuthorizationCodeRecord, RESERVED_ACCESS_TOKEN_CLAIMS, RESERVED_ID_TOKEN_CLAIMS, reserved_claim,
};
use gatehouse_core::lockout::{Blocked, Lock, LoginLimits};
use gatehouse_core::redirect::RedirectUri;
use gatehouse_core::scope::{ScopeDefinition, ScopeSet};
use gatehouse_core::secret::{SecretString, random_token};
use gatehouse_core::store::{Consent, Namespace, Records};
use gatehouse_core::user::User;
use std::sync::{Arc, OnceLock};

use crate::issue::AUTHORIZATION_CODE_PREFIX;
use crate::password::{PasswordHashParams, hash_password, is_foreign, verify_password};
use crate::service::{TokenService, store_error};

type Claims = serde_json::Map<String, serde_json::Value>;

/// Claims an external consent app adds to the tokens of one authorization (Hydra's
/// `session.id_token` and `session.access_token`), kept in the code record, and how the user
/// signed in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeClaims {
    pub id_token: Option<Claims>,
    pub access_token: Option<Claims>,
    /// RFC 8176 methods of the sign-in (empty: a password).
    pub amr: Vec<String>,
}

/// Longest password checked, in characters (the admin API's limit for setting one).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// The answer to a sign-in attempt.
#[derive(Debug, Clone)]
// Returned once per sign-in and matched at once: boxing the user would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Authentication {
    Authenticated(Box<User>),
    /// An unknown user, a wrong password or a disabled user: one answer for all three, with
    /// the attempts left before a lock when a limit applies. `disabled` is set only when the
    /// password was right, so it reveals nothing to someone guessing.
    Refused {
        attempts_left: Option<u32>,
        disabled: bool,
    },
    /// Too many recent failures: refused without looking at the password.
    Locked(Lock),
}

/// A validated request with what the consent screen shows about it.
#[derive(Debug, Clone)]
pub struct AuthorizationContext {
    pub request: ValidatedAuthorization,
    pub client: Arc<Client>,
    /// Every requested scope with its catalogue entry (a scope missing from the catalogue is
    /// shown by its name). Hidden ones are flagged, not removed: the UI decides what to list.
    pub scopes: Vec<ScopeDefinition>,
}

impl TokenService {
    /// RFC 6749 §4.1.1 checks of an authorization request against the registered client; a
    /// request naming a pushed request (RFC 9126) gets that one, once.
    pub async fn validate_authorization(
        &self,
        params: &AuthorizationParams,
    ) -> Result<AuthorizationContext, AuthorizeError> {
        if let Some(id) = params
            .request_uri
            .as_deref()
            .and_then(|uri| uri.strip_prefix(crate::par::REQUEST_URI_PREFIX))
        {
            return self
                .pushed_authorization(params.client_id.as_deref(), id)
                .await;
        }
        self.validate_request(params, false).await
    }

    /// The checks of [`Self::validate_authorization`]; `pushed` when the request came through
    /// `/oauth2/par` (a client that must push is refused otherwise).
    pub(crate) async fn validate_request(
        &self,
        params: &AuthorizationParams,
        pushed: bool,
    ) -> Result<AuthorizationContext, AuthorizeError> {
        let client = match params.client_id.as_deref() {
            Some(id) => self.client(id).await.map_err(AuthorizeError::Untrusted)?,
            None => None,
        };
        let policy = AuthorizePolicy {
            require_pkce: self.settings.require_pkce,
        };
        // RFC 9101 §5: a request object's claims replace the query's parameters.
        let from_object;
        let signed = params.request.is_some();
        let params = match (&params.request, client.as_deref()) {
            (Some(jwt), Some(client)) => match self.request_object_params(client, jwt).await {
                Ok(resolved) => {
                    from_object = resolved;
                    &from_object
                }
                Err(error) => return Err(request_object_error(params, client, policy, error)),
            },
            _ => params,
        };
        let mut request = validate(params, client.as_deref(), policy)?;
        let client = client.ok_or_else(|| AuthorizeError::Untrusted(OAuthError::server_error()))?;
        request.mfa_required = self.mfa_required_for(&client.metadata, request.mfa_required);
        if !signed && client.metadata.require_signed_request_object {
            return Err(AuthorizeError::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error: OAuthError::invalid_request(
                    "authorization requests of this client must be a signed request object (request, RFC 9101)",
                ),
                state: request.state.clone(),
            });
        }
        if !pushed
            && (self.settings.require_par || client.metadata.require_pushed_authorization_requests)
        {
            return Err(AuthorizeError::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error: OAuthError::invalid_request(
                    "authorization requests of this client must be pushed to /oauth2/par first (RFC 9126)",
                ),
                state: request.state.clone(),
            });
        }
        if let Some(hint) = &params.id_token_hint {
            // OpenID Connect Core §3.1.2.1: the hint names the user the client expects; the login
            // UI must not answer with anyone else. Expired hints are accepted (the spec allows it).
            let redirect = |description: &'static str| AuthorizeError::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error: OAuthError::invalid_request(description),
                state: request.state.clone(),
            };
            let claims = self.verify_id_token_hint(hint.expose()).map_err(|_| {
                redirect("the id_token_hint is not a valid ID token of this issuer")
            })?;
            if !claims.issued_to(&client.id) {
                return Err(redirect("the id_token_hint was not issued to this client"));
            }
            request.hinted_subject = Some(claims.sub);
        }
        let scopes = self
            .describe_scopes(&request.scope)
            .await
            .map_err(AuthorizeError::Untrusted)?;
        Ok(AuthorizationContext {
            request,
            client,
            scopes,
        })
    }

    /// The authorization parameters of the request object `jwt` of `client` (RFC 9101): signed
    /// with one of the client's keys (or MACed with its `client_secret_jwt` secret), never
    /// `alg: none`, with the claims [`gatehouse_core::request_object::check_claims`] requires.
    async fn request_object_params(
        &self,
        client: &Client,
        jwt: &str,
    ) -> Result<AuthorizationParams, OAuthError> {
        use gatehouse_core::client_assertion::{ASYMMETRIC_ALGS, HMAC_ALGS, peek};
        use gatehouse_core::request_object::{check_claims, params_from_claims};
        let invalid = |d: &'static str| OAuthError::new(ErrorCode::InvalidRequestObject, d);
        let peeked = peek(jwt).ok_or_else(|| invalid("the request object is not a signed JWT"))?;
        if !ASYMMETRIC_ALGS.contains(&peeked.alg.as_str())
            && !HMAC_ALGS.contains(&peeked.alg.as_str())
        {
            return Err(invalid(
                "the request object must be signed (RS*, PS*, ES256, ES384, EdDSA or HS*); alg none is refused",
            ));
        }
        let claims = self
            .verify_client_jwt(client, jwt, &peeked)
            .await
            .map_err(|_| invalid("the request object cannot be verified with this client's keys"))?
            .ok_or_else(|| {
                invalid("the request object's signature does not verify with this client's keys")
            })?;
        check_claims(
            &claims,
            &client.id,
            self.issuer(),
            self.clock.now().unix_timestamp(),
        )?;
        Ok(params_from_claims(&claims, &client.id))
    }

    /// The client `client_id` (`None` when there is none) and whether `redirect_uri` is one of
    /// its registered redirect URIs, matched as authorization requests match them: what the page
    /// refusing an unregistered redirect URI says.
    pub async fn describe_client(
        &self,
        client_id: &str,
        redirect_uri: Option<&str>,
    ) -> Result<Option<(Arc<Client>, bool)>, OAuthError> {
        Ok(self.client(client_id).await?.map(|client| {
            let registered = redirect_uri.is_some_and(|requested| {
                RedirectUri::matching(&client.metadata.redirect_uris, requested).is_some()
            });
            (client, registered)
        }))
    }

    /// Catalogue entries for `scope`, in the order requested.
    pub async fn describe_scopes(
        &self,
        scope: &ScopeSet,
    ) -> Result<Vec<ScopeDefinition>, OAuthError> {
        let catalogue = self.durable.list_scopes().await.map_err(store_error)?;
        Ok(scope
            .iter()
            .map(|s| {
                catalogue
                    .iter()
                    .find(|d| d.name == *s)
                    .cloned()
                    .unwrap_or_else(|| ScopeDefinition {
                        name: s.clone(),
                        label: s.to_string(),
                        description: String::new(),
                        hidden: s.is_technical(),
                        claims: Vec::new(),
                    })
            })
            .collect())
    }

    /// Checks a username and password for an end user at `client_ip`, with the failed-login
    /// limits (`gatehouse_core::lockout`): a locked username or IP is refused before the password
    /// is looked at. An unknown user, a wrong password and a disabled user are one answer
    /// ([`Authentication::Refused`]); an unknown username still costs one argon2 verification, so
    /// timing does not tell which it was.
    pub async fn authenticate_user(
        &self,
        username: &str,
        password: SecretString,
        client_ip: &str,
    ) -> Result<Authentication, OAuthError> {
        if password.expose().chars().count() > MAX_PASSWORD_CHARS {
            return Err(OAuthError::invalid_request(
                "the password is longer than 1,024 characters",
            ));
        }
        let limits = LoginLimits {
            store: self.short_lived.as_ref(),
            keys: &self.login_limit_keys,
            policy: &self.settings.lockout,
        };
        let now = self.clock.unix();
        if let Some(lock) = limits
            .check(username, client_ip, now)
            .await
            .map_err(store_error)?
        {
            return Ok(Authentication::Locked(lock));
        }
        let user = self
            .durable
            .get_user_by_username(username)
            .await
            .map_err(store_error)?;
        let (phc, user) = match user {
            Some(u) => match u.password_hash.clone() {
                Some(phc) => (phc, Some(u)),
                None => (dummy_hash().await?, None),
            },
            None => (dummy_hash().await?, None),
        };
        // An imported hash (bcrypt, PBKDF2, scrypt, argon2i) is re-hashed once it verifies.
        let rehash = user
            .as_ref()
            .filter(|_| is_foreign(&phc))
            .map(|_| (password.clone(), phc.clone()));
        let matches = verify_password(password, phc).await.map_err(|e| {
            tracing::error!(error = %e, "password verification failed");
            OAuthError::server_error()
        })?;
        let disabled = matches && user.as_ref().is_some_and(|u| u.disabled);
        match user.filter(|u| matches && !u.disabled) {
            Some(mut user) => {
                // With a second factor the sign-in is not over: only an accepted code resets the
                // count, or the password could be given again to reset the wrong codes' count.
                if !self.has_second_factor(&user.id).await?
                    && let Err(e) = limits.record_success(username).await
                {
                    tracing::warn!(error = %e, "resetting the failed-login counter failed");
                }
                if let Some((password, old)) = rehash {
                    self.upgrade_password_hash(&mut user, password, old).await;
                }
                Ok(Authentication::Authenticated(Box::new(user)))
            }
            None => {
                let failure = limits
                    .record_failure(username, client_ip, now)
                    .await
                    .map_err(store_error)?;
                match failure.locked {
                    // The username is the operator's data; the password is never logged.
                    Some(Lock {
                        blocked: Blocked::User,
                        ..
                    }) => {
                        tracing::warn!(
                            username,
                            "a username was locked after repeated failed logins"
                        );
                    }
                    Some(Lock {
                        blocked: Blocked::Ip,
                        ..
                    }) => {
                        tracing::warn!(
                            client_ip,
                            "a client IP was blocked after repeated failed logins"
                        );
                    }
                    None => {}
                }
                match failure.locked {
                    Some(lock) => Ok(Authentication::Locked(lock)),
                    None => Ok(Authentication::Refused {
                        attempts_left: failure.attempts_left,
                        disabled,
                    }),
                }
            }
        }
    }

    /// Re-hashes an imported password hash to argon2id after it verified. Best effort: a
    /// failure is logged and the sign-in goes on (the old hash keeps working). The user is read
    /// again first and written only if its hash is still the one verified, so an operator's
    /// change in between is not undone.
    async fn upgrade_password_hash(&self, user: &mut User, password: SecretString, old: String) {
        let new = match hash_password(password, PasswordHashParams::default()).await {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(user_id = %user.id, error = %e, "re-hashing an imported password failed");
                return;
            }
        };
        let current = match self.durable.get_user(&user.id).await {
            Ok(Some(current)) if current.password_hash.as_deref() == Some(old.as_str()) => current,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(user_id = %user.id, error = %e, "re-hashing an imported password: reading the user failed");
                return;
            }
        };
        let upgraded = User {
            password_hash: Some(new),
            ..current
        };
        match self.durable.update_user(&upgraded).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, "imported password hash re-hashed to argon2id");
                user.password_hash = upgraded.password_hash;
            }
            Err(e) => {
                tracing::warn!(user_id = %user.id, error = %e, "storing a re-hashed imported password failed");
            }
        }
    }

    pub async fn user(&self, id: &str) -> Result<Option<User>, OAuthError> {
        self.durable.get_user(id).await.map_err(store_error)
    }

    /// Issues an authorization code after the user consented to `granted` (a subset of what the
    /// request asked for). Returns the code to send to the client.
    pub async fn issue_authorization_code(
        &self,
        request: &ValidatedAuthorization,
        subject: &str,
        granted: &ScopeSet,
        auth_time: i64,
        session_id: Option<&str>,
    ) -> Result<String, OAuthError> {
        self.issue_authorization_code_with(
            request,
            subject,
            granted,
            auth_time,
            session_id,
            CodeClaims::default(),
        )
        .await
    }

    /// Whether a sign-in for a client with `metadata` must use a second factor: `GATEHOUSE_MFA`,
    /// the client's `require_mfa`, or `requested` (the request's `acr_values`).
    pub(crate) fn mfa_required_for(
        &self,
        metadata: &gatehouse_core::client::ClientMetadata,
        requested: bool,
    ) -> bool {
        requested || metadata.require_mfa || self.settings.mfa == MfaPolicy::Required
    }

    /// [`Self::issue_authorization_code`] with the claims an external consent app added
    /// (`session.id_token`, `session.access_token`); a reserved claim name is refused.
    pub async fn issue_authorization_code_with(
        &self,
        request: &ValidatedAuthorization,
        subject: &str,
        granted: &ScopeSet,
        auth_time: i64,
        session_id: Option<&str>,
        extra: CodeClaims,
    ) -> Result<String, OAuthError> {
        let reserved = |claims: &Option<Claims>, names: &[&str]| {
            claims
                .as_ref()
                .and_then(|c| reserved_claim(c, names))
                .is_some()
        };
        if reserved(&extra.id_token, &RESERVED_ID_TOKEN_CLAIMS)
            || reserved(&extra.access_token, &RESERVED_ACCESS_TOKEN_CLAIMS)
        {
            return Err(OAuthError::invalid_request(
                "the extra token claims name a reserved claim",
            ));
        }
        if !granted.is_subset_of(&request.scope) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "the granted scope exceeds the requested scope",
            ));
        }
        let Some(client) = self.client(&request.client_id).await? else {
            return Err(OAuthError::new(
                ErrorCode::InvalidClient,
                "the client no longer exists",
            ));
        };
        // Defence in depth, as for PKCE: whoever calls, a sign-in that had to use a second factor
        // gets no code without one.
        let amr = if extra.amr.is_empty() {
            amr_for(false)
        } else {
            extra.amr.clone()
        };
        if self.mfa_required_for(&client.metadata, request.mfa_required) && !is_multi_factor(&amr) {
            return Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "this sign-in must use a second factor",
            ));
        }
        // Defence in depth: whoever calls, a public client's code carries an S256 challenge
        // (RFC 9700 §2.1.1), so a stolen code is useless without the verifier.
        if client.is_public() && request.code_challenge.is_none() {
            return Err(OAuthError::invalid_request(
                "PKCE is required for public clients: the request must carry an S256 code_challenge",
            ));
        }
        match self.user(subject).await? {
            Some(u) if !u.disabled => {}
            _ => {
                return Err(OAuthError::new(
                    ErrorCode::AccessDenied,
                    "the user is disabled or no longer exists",
                ));
            }
        }
        // Defence in depth, as for PKCE: the resources are the client's to ask for, whoever calls.
        let resources = gatehouse_core::resource::requested(&client.metadata, &request.resources)?;
        let code = format!("{AUTHORIZATION_CODE_PREFIX}{}", random_token(32));
        let issued_at_ms = self.clock.unix_ms();
        let record = AuthorizationCodeRecord {
            grant_id: uuid::Uuid::new_v4().to_string(),
            client_id: request.client_id.clone(),
            client_incarnation: client.incarnation.clone(),
            subject: subject.to_owned(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_given: request.redirect_uri_given,
            scope: granted.clone(),
            code_challenge: request.code_challenge.clone(),
            nonce: request.nonce.clone(),
            auth_time,
            session_id: session_id.map(str::to_owned),
            issued_at: issued_at_ms.div_euclid(1000),
            issued_at_ms,
            resources,
            claims: request.claims.clone(),
            id_token_claims: extra.id_token.filter(|c| !c.is_empty()),
            access_token_claims: extra.access_token.filter(|c| !c.is_empty()),
            amr,
        };
        Records::new(self.short_lived.as_ref())
            .put(
                Namespace::AuthorizationCode,
                &self.token_hash(&code),
                &record,
                self.settings.ttl_auth_code,
            )
            .await
            .map_err(store_error)?;
        tracing::info!(client_id = %request.client_id, "authorization code issued");
        self.usage.count_login(request.client_id.as_str());
        Ok(code)
    }

    /// Remembers that `subject` granted `scope` to `client_id`, merged with what was granted before.
    pub async fn record_consent(
        &self,
        subject: &str,
        client_id: &ClientId,
        scope: &ScopeSet,
    ) -> Result<Consent, OAuthError> {
        let now = self.clock.now();
        let mut merged = self
            .durable
            .get_consent(subject, client_id)
            .await
            .map_err(store_error)?
            .map(|c| c.scope)
            .unwrap_or_default();
        for s in scope.iter() {
            merged.insert(s.clone());
        }
        let consent = Consent {
            subject: subject.to_owned(),
            client_id: client_id.clone(),
            scope: merged,
            granted_at: now,
            expires_at: Some(now + self.settings.ttl_consent),
        };
        self.durable
            .put_consent(&consent)
            .await
            .map_err(store_error)?;
        Ok(consent)
    }

    /// The live consent of `subject` for `client_id`, if any.
    pub async fn consent(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<Consent>, OAuthError> {
        let now = self.clock.now();
        Ok(self
            .durable
            .get_consent(subject, client_id)
            .await
            .map_err(store_error)?
            .filter(|c| c.expires_at.is_none_or(|e| e > now)))
    }

    pub async fn list_consents(&self, subject: &str) -> Result<Vec<Consent>, OAuthError> {
        let now = self.clock.now();
        let all = self
            .durable
            .list_consents(subject)
            .await
            .map_err(store_error)?;
        Ok(all
            .into_iter()
            .filter(|c| c.expires_at.is_none_or(|e| e > now))
            .collect())
    }

    /// Withdraws a consent and ends every code, refresh token and access token the client holds
    /// for the user, at once. Returns whether a consent existed.
    pub async fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, OAuthError> {
        self.revocations
            .end_consent(subject, client_id)
            .await
            .map_err(store_error)?;
        self.durable
            .delete_consent(subject, client_id)
            .await
            .map_err(store_error)
    }
}

/// A real argon2id hash of a random password, made once, so that verifying against an unknown
/// user costs what verifying a real one does.
async fn dummy_hash() -> Result<String, OAuthError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let hash = hash_password(
        SecretString::new(random_token(16)),
        PasswordHashParams::default(),
    )
    .await
    .map_err(|_| OAuthError::server_error())?;
    Ok(DUMMY.get_or_init(|| hash).clone())
}

/// Where a refused request object's error goes: redirected to the query's redirect URI when
/// that one can be trusted for the client (RFC 9101 §6.3), else shown to the user.
fn request_object_error(
    query: &AuthorizationParams,
    client: &Client,
    policy: AuthorizePolicy,
    error: OAuthError,
) -> AuthorizeError {
    // The core refuses a `request` it was not given resolved, after it has checked the client
    // and the redirect URI: that decides whether the error may be redirected.
    match validate(query, Some(client), policy) {
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state,
            ..
        }) => AuthorizeError::Redirect {
            redirect_uri,
            error,
            state,
        },
        _ => AuthorizeError::Untrusted(error),
    }
}
