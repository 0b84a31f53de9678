//! `/admin/clients`: register, list, read, replace, patch, delete clients and rotate secrets.
//!
//! Field names are RFC 7591's and Hydra's, so a client exported from Hydra imports unchanged:
//! unknown fields are ignored, `null` and `""` mean "not set", and the server fills Hydra's
//! defaults. Every request is parsed and validated completely before the single store write.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use gatehouse_core::client::{
    Client, ClientId, ClientMetadata, ClientSecretHashes, SealedSecret, TokenEndpointAuthMethod,
};
use gatehouse_core::registration::{
    self, RegistrationPolicy, apply_defaults, generate_client_secret, parse_access_token_strategy,
    parse_auth_method, parse_client_id, parse_cors_origins, parse_grant_types,
    parse_id_token_claims, parse_redirect_uris, parse_response_types, parse_scope,
    validate_chosen_secret, validate_metadata,
};
use gatehouse_core::secret::SecretString;
use gatehouse_core::store::StoreError;
use gatehouse_core::{ErrorCode, OAuthError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::PathParam;
use super::pagination::{PageParams, next_link};
use super::{AdminConfig, AdminState, ApiError, ErrorBody, patch, rfc3339};

const TAG: &str = "clients";

/// A client as the admin API accepts it (create, full replacement, import of a Hydra export).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClientRequest {
    /// Chosen by the operator (1–255 visible ASCII characters), or a UUID v4 when omitted.
    pub client_id: Option<String>,
    /// Write-only: at least 32 characters. Omit it to have a 256-bit secret generated; either
    /// way it is shown once and stored only as a keyed hash. Not allowed for `none` clients.
    #[serde(default, deserialize_with = "secret_field")]
    #[schema(value_type = Option<String>, write_only)]
    pub client_secret: Option<SecretString>,
    pub client_name: Option<String>,
    /// Absolute, no fragment, compared as exact strings; plain http only on loopback hosts.
    pub redirect_uris: Option<Vec<String>>,
    /// `authorization_code` (default), `refresh_token`, `client_credentials`,
    /// `urn:ietf:params:oauth:grant-type:device_code`.
    pub grant_types: Option<Vec<String>>,
    /// `code`; defaults to `["code"]` with the `authorization_code` grant, else `[]`.
    pub response_types: Option<Vec<String>>,
    /// Space-separated scopes the client may ask for; default `openid offline offline_access`.
    pub scope: Option<String>,
    pub audience: Option<Vec<String>>,
    /// `client_secret_basic` (default), `client_secret_post`, `client_secret_jwt`,
    /// `private_key_jwt` (needs `jwks` or `jwks_uri`; holds no secret), or `none` for public
    /// clients.
    pub token_endpoint_auth_method: Option<String>,
    /// RFC 7591: the only algorithm the client's `client_assertion`s may use (RS256…, PS256…,
    /// ES256, ES384, EdDSA for `private_key_jwt`; HS256/384/512 for `client_secret_jwt`).
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// The client's public keys inline, a JWK Set (`{"keys": [...]}`); not with `jwks_uri`.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// https, or plain http on a loopback host.
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub skip_consent: Option<bool>,
    /// `opaque` (default) or `jwt`.
    pub access_token_strategy: Option<String>,
    /// Free-form JSON kept with the client.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Browser origins (`https://app.example.com`) that may call the token, revocation,
    /// userinfo and discovery endpoints from a web page (CORS).
    pub allowed_cors_origins: Option<Vec<String>>,
    /// Who the client belongs to (free text).
    pub owner: Option<String>,
    /// Where the client publishes its public keys (JWK Set), for `private_key_jwt`: fetched over
    /// https only (plain http only in dev mode), cached as its `Cache-Control` says.
    pub jwks_uri: Option<String>,
    /// `minimal` (default: the profile comes from `/userinfo`) or `scopes` (ID tokens also
    /// carry the claims of the granted `profile` and `email` scopes).
    pub id_token_claims: Option<String>,
    /// RFC 9126 §5: accept this client's authorization requests only when pushed
    /// (`/oauth2/par`).
    pub require_pushed_authorization_requests: Option<bool>,
    /// RFC 8707 resource indicators (absolute URIs without a fragment) the client may name with
    /// `resource`; its access tokens for them carry them as `aud`.
    pub allowed_resources: Option<Vec<String>>,
    /// RFC 9449 §5.2: every token request of this client must carry a DPoP proof.
    pub dpop_bound_access_tokens: Option<bool>,
    /// RFC 9101 §10.5: accept this client's authorization requests only as a signed request
    /// object (`request`, by value or pushed), verified with its keys.
    pub require_signed_request_object: Option<bool>,
    /// Every sign-in for this client must use a second factor (TOTP or a recovery code); users
    /// without one enrol first. Default `false`.
    pub require_mfa: Option<bool>,
    /// `true` switches the client off: everything it holds ends at once (access and refresh
    /// tokens, pending codes) and it gets nothing new until switched on again; switching it on
    /// brings back nothing that was ended. Omitted in a `PUT`: unchanged.
    pub disabled: Option<bool>,
}

/// `client_secret` as a string or nothing. A wrongly typed value is refused without echoing it.
fn secret_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(SecretString::new(s))),
        Some(_) => Err(serde::de::Error::custom("client_secret must be a string")),
    }
}

impl ClientRequest {
    /// Parses every field, fills the defaults and applies every registration rule: the one set
    /// of rules for clients registered by an operator and by themselves (`/oauth2/register`).
    pub(crate) fn into_parts(
        self,
        policy: RegistrationPolicy,
    ) -> Result<(Option<ClientId>, Option<SecretString>, ClientMetadata), OAuthError> {
        let token_endpoint_auth_method =
            parse_auth_method(self.token_endpoint_auth_method.as_deref().unwrap_or(""))?;
        let scope = parse_scope(self.scope.as_deref().unwrap_or(""))?;
        let access_token_strategy =
            parse_access_token_strategy(self.access_token_strategy.as_deref().unwrap_or(""))?;
        let redirect_uris = parse_redirect_uris(
            "redirect_uris",
            &self.redirect_uris.unwrap_or_default(),
            policy,
        )?;
        let post_logout_redirect_uris = parse_redirect_uris(
            "post_logout_redirect_uris",
            &self.post_logout_redirect_uris.unwrap_or_default(),
            policy,
        )?;
        let grant_types = parse_grant_types(&self.grant_types.unwrap_or_default())?;
        let response_types = parse_response_types(&self.response_types.unwrap_or_default())?;
        let allowed_cors_origins =
            parse_cors_origins(&self.allowed_cors_origins.unwrap_or_default(), policy)?;
        let id_token_claims = parse_id_token_claims(self.id_token_claims.as_deref().unwrap_or(""))?;
        let mut metadata = ClientMetadata {
            client_name: self.client_name.unwrap_or_default(),
            redirect_uris,
            grant_types,
            response_types,
            scope,
            audience: self.audience.unwrap_or_default(),
            token_endpoint_auth_method,
            logo_uri: self.logo_uri.unwrap_or_default(),
            client_uri: self.client_uri.unwrap_or_default(),
            policy_uri: self.policy_uri.unwrap_or_default(),
            tos_uri: self.tos_uri.unwrap_or_default(),
            contacts: self.contacts.unwrap_or_default(),
            post_logout_redirect_uris,
            skip_consent: self.skip_consent.unwrap_or_default(),
            access_token_strategy,
            metadata: self.metadata.unwrap_or(Value::Null),
            allowed_cors_origins,
            owner: self.owner.unwrap_or_default(),
            jwks_uri: self.jwks_uri.unwrap_or_default(),
            // Hydra exports `"jwks": {}` for a client without keys.
            jwks: self
                .jwks
                .filter(|j| !j.is_null() && j.as_object().is_none_or(|o| !o.is_empty())),
            token_endpoint_auth_signing_alg: self
                .token_endpoint_auth_signing_alg
                .unwrap_or_default(),
            client_secret_sealed: Default::default(),
            id_token_claims,
            require_pushed_authorization_requests: self
                .require_pushed_authorization_requests
                .unwrap_or_default(),
            allowed_resources: self.allowed_resources.unwrap_or_default(),
            dpop_bound_access_tokens: self.dpop_bound_access_tokens.unwrap_or_default(),
            require_signed_request_object: self.require_signed_request_object.unwrap_or_default(),
            require_mfa: self.require_mfa.unwrap_or_default(),
            disabled: self.disabled.unwrap_or_default(),
            registration_access_token_hash: None,
        };
        apply_defaults(&mut metadata);
        validate_metadata(&metadata)?;
        if let Some(secret) = &self.client_secret {
            validate_chosen_secret(secret, token_endpoint_auth_method)?;
        }
        let client_id = self
            .client_id
            .filter(|id| !id.is_empty())
            .map(|id| parse_client_id(&id))
            .transpose()?;
        Ok((client_id, self.client_secret, metadata))
    }

    fn parse(body: Result<Json<Self>, JsonRejection>) -> Result<Self, ApiError> {
        body.map(|Json(request)| request).map_err(|rejection| {
            ApiError::from_json_rejection(&rejection, ErrorCode::InvalidClientMetadata)
        })
    }
}

/// A client as the admin API answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientResponse {
    pub client_id: String,
    pub client_name: String,
    /// Only in the answer that created or replaced the secret: it is not stored and cannot be
    /// read again.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose_secret"
    )]
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<SecretString>,
    /// RFC 7591 §3.2.1: sent with a new secret; 0 means it does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub scope: String,
    pub audience: Vec<String>,
    pub token_endpoint_auth_method: String,
    /// Empty when any algorithm that fits the method is accepted.
    pub token_endpoint_auth_signing_alg: String,
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    pub logo_uri: String,
    pub client_uri: String,
    pub policy_uri: String,
    pub tos_uri: String,
    pub contacts: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub skip_consent: bool,
    pub access_token_strategy: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub allowed_cors_origins: Vec<String>,
    pub owner: String,
    pub jwks_uri: String,
    /// `minimal` or `scopes`.
    pub id_token_claims: String,
    pub require_pushed_authorization_requests: bool,
    pub allowed_resources: Vec<String>,
    pub dpop_bound_access_tokens: bool,
    pub require_signed_request_object: bool,
    pub require_mfa: bool,
    /// Switched off by an operator (see the request field).
    pub disabled: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

pub(crate) fn expose_secret<S: Serializer>(
    secret: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_str(secret.expose()),
        None => s.serialize_none(),
    }
}

impl ClientResponse {
    pub(crate) fn new(client: &Client, new_secret: Option<SecretString>) -> Result<Self, ApiError> {
        let m = &client.metadata;
        Ok(Self {
            client_id: client.id.to_string(),
            client_name: m.client_name.clone(),
            client_secret_expires_at: new_secret.as_ref().map(|_| 0),
            client_secret: new_secret,
            redirect_uris: m.redirect_uris.iter().map(ToString::to_string).collect(),
            grant_types: m.grant_types.iter().map(ToString::to_string).collect(),
            response_types: m.response_types.iter().map(ToString::to_string).collect(),
            scope: m.scope.to_string(),
            audience: m.audience.clone(),
            token_endpoint_auth_method: m.token_endpoint_auth_method.as_str().to_owned(),
            token_endpoint_auth_signing_alg: m.token_endpoint_auth_signing_alg.clone(),
            jwks: m.jwks.clone(),
            logo_uri: m.logo_uri.clone(),
            client_uri: m.client_uri.clone(),
            policy_uri: m.policy_uri.clone(),
            tos_uri: m.tos_uri.clone(),
            contacts: m.contacts.clone(),
            post_logout_redirect_uris: m
                .post_logout_redirect_uris
                .iter()
                .map(ToString::to_string)
                .collect(),
            skip_consent: m.skip_consent,
            access_token_strategy: m.access_token_strategy.as_str().to_owned(),
            metadata: m.metadata.clone(),
            allowed_cors_origins: m.allowed_cors_origins.clone(),
            owner: m.owner.clone(),
            jwks_uri: m.jwks_uri.clone(),
            id_token_claims: m.id_token_claims.as_str().to_owned(),
            require_pushed_authorization_requests: m.require_pushed_authorization_requests,
            allowed_resources: m.allowed_resources.clone(),
            dpop_bound_access_tokens: m.dpop_bound_access_tokens,
            require_signed_request_object: m.require_signed_request_object,
            require_mfa: m.require_mfa,
            disabled: m.disabled,
            created_at: rfc3339(client.created_at)?,
            updated_at: rfc3339(client.updated_at)?,
        })
    }
}

/// What a write does to the client's secret.
enum SecretPlan {
    /// Public and `private_key_jwt` clients: no secret.
    None,
    Keep(ClientSecretHashes, SealedSecret),
    /// Store this one (and show it once).
    New(SecretString),
}

/// Clients without a secret method hold no secret; a chosen secret replaces the stored one at
/// once; otherwise the stored secret stays, and a client that becomes confidential gets a
/// generated one. A `client_secret_jwt` client also needs its secret sealed: one that has only
/// the hash (it used another method before) gets a new secret, since a hash cannot be unsealed.
fn plan_secret(
    method: TokenEndpointAuthMethod,
    chosen: Option<SecretString>,
    existing: Option<(&ClientSecretHashes, &SealedSecret)>,
) -> SecretPlan {
    match (chosen, existing) {
        (Some(secret), _) => SecretPlan::New(secret),
        (None, _) if !method.uses_secret() => SecretPlan::None,
        (None, Some((_, sealed)))
            if method == TokenEndpointAuthMethod::ClientSecretJwt && sealed.is_empty() =>
        {
            SecretPlan::New(generate_client_secret())
        }
        (None, Some((hashes, sealed))) => SecretPlan::Keep(
            hashes.clone(),
            if method == TokenEndpointAuthMethod::ClientSecretJwt {
                sealed.clone()
            } else {
                SealedSecret::default()
            },
        ),
        (None, None) => SecretPlan::New(generate_client_secret()),
    }
}

impl AdminState {
    /// The stored hashes, the secret to show once, and (for `client_secret_jwt`) the sealed
    /// secret for the client's metadata.
    fn settle_secret(
        &self,
        plan: SecretPlan,
        method: TokenEndpointAuthMethod,
    ) -> Result<
        (
            Option<ClientSecretHashes>,
            Option<SecretString>,
            SealedSecret,
        ),
        ApiError,
    > {
        Ok(match plan {
            SecretPlan::None => (None, None, SealedSecret::default()),
            SecretPlan::Keep(hashes, sealed) => (Some(hashes), None, sealed),
            SecretPlan::New(secret) => {
                let sealed = self.seal_if_needed(&secret, method)?;
                (
                    Some(registration::secret_hashes(
                        &secret,
                        &self.client_secret_hasher,
                    )),
                    Some(secret),
                    sealed,
                )
            }
        })
    }

    /// Seals `secret` when `method` is `client_secret_jwt` (the only method whose secret must be
    /// recoverable: it is the HMAC key of the client's assertions).
    fn seal_if_needed(
        &self,
        secret: &SecretString,
        method: TokenEndpointAuthMethod,
    ) -> Result<SealedSecret, ApiError> {
        if method != TokenEndpointAuthMethod::ClientSecretJwt {
            return Ok(SealedSecret::default());
        }
        let Some(sealing) = &self.secret_sealing else {
            return Err(OAuthError::new(
                ErrorCode::InvalidClientMetadata,
                "client_secret_jwt is not available on this admin API",
            )
            .into());
        };
        crate::client_auth::seal_secret(sealing, secret).map_err(|e| {
            tracing::error!(error = %e, "sealing a client secret failed");
            ApiError::server_error()
        })
    }

    async fn load_client(&self, id: &str) -> Result<Client, ApiError> {
        self.durable
            .get_client(id)
            .await?
            .ok_or_else(|| client_not_found(id))
    }

    /// `PUT` and `PATCH`: a full replacement that keeps id, `created_at`, `disabled` and the
    /// secret unless told otherwise.
    ///
    /// Switching a client off ends its incarnation first (the cut-off every use of its codes and
    /// tokens checks, on every replica at once, whatever their client caches hold); switching it
    /// on gives it a new incarnation, so what was ended stays ended.
    async fn replace_client(
        &self,
        existing: Client,
        request: ClientRequest,
    ) -> Result<ClientResponse, ApiError> {
        let disabled = request.disabled.unwrap_or(existing.metadata.disabled);
        let (body_id, chosen, mut metadata) =
            request.into_parts(self.config.registration_policy())?;
        metadata.disabled = disabled;
        // A client that registered itself stays manageable with its registration access token.
        metadata.registration_access_token_hash =
            existing.metadata.registration_access_token_hash.clone();
        if body_id.is_some_and(|id| id != existing.id) {
            return Err(ApiError::invalid_request(
                "client_id cannot be changed; create a new client instead",
            ));
        }
        let method = metadata.token_endpoint_auth_method;
        let plan = plan_secret(
            method,
            chosen,
            existing
                .secret
                .as_ref()
                .map(|h| (h, &existing.metadata.client_secret_sealed)),
        );
        let (secret, shown, sealed) = self.settle_secret(plan, method)?;
        metadata.client_secret_sealed = sealed;
        let switched_off = disabled && !existing.metadata.disabled;
        let incarnation = if existing.metadata.disabled && !disabled {
            Client::new_incarnation()
        } else {
            existing.incarnation
        };
        let client = Client {
            id: existing.id,
            incarnation,
            metadata,
            secret,
            created_at: existing.created_at,
            updated_at: self.now(),
        };
        if switched_off {
            self.revocations.end_client(&client.incarnation).await?;
        }
        if let Err(e) = self.durable.update_client(&client).await {
            if switched_off {
                // The client stays on: it must keep working.
                if let Err(undo) = self.revocations.restore_client(&client.incarnation).await {
                    tracing::error!(client_id = %client.id, error = %undo, "a failed switch-off could not be undone: the client's tokens stay ended");
                }
            }
            return Err(not_found_as(e, &client.id));
        }
        if disabled {
            // Also on a repeated switch-off, so retrying one whose revocation failed completes
            // it. The cut-off above already ends these families' tokens; revoked families are
            // refused even by a replica whose client cache is not fresh yet.
            let families = self
                .durable
                .revoke_families_of_client(client.id.as_str())
                .await?;
            if switched_off {
                tracing::info!(client_id = %client.id, families, "client switched off; everything granted to it ended");
            }
        }
        ClientResponse::new(&client, shown)
    }
}

fn client_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("client {id:?} does not exist"))
}

fn not_found_as(e: StoreError, id: &str) -> ApiError {
    match e {
        StoreError::NotFound => client_not_found(id),
        e => e.into(),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateParams {
    /// `true`: validate the client completely (every registration rule, and whether its id is
    /// taken) without registering it; the answer is `200` with the client as it would be
    /// created, without a secret (none is generated) and with an empty `client_id` when the
    /// server would generate one.
    pub dry_run: Option<bool>,
}

/// Registers a client (or imports one exported from Hydra); with `?dry_run=true` only checks it.
#[utoipa::path(post, path = "/admin/clients", tag = TAG, request_body = ClientRequest, params(CreateParams),
    responses(
        (status = 201, description = "Registered; `client_secret` is shown this once", body = ClientResponse),
        (status = 200, description = "`dry_run=true`: the client would be registered like this; nothing was written", body = ClientResponse),
        (status = 400, description = "`invalid_client_metadata`, `invalid_redirect_uri` or `invalid_request`", body = ErrorBody),
        (status = 409, description = "The client id is taken", body = ErrorBody),
    ))]
pub async fn create_client(
    State(state): State<AdminState>,
    query: Result<Query<CreateParams>, QueryRejection>,
    body: Result<Json<ClientRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ClientResponse>), ApiError> {
    let Query(params) = query.map_err(|e| ApiError::from_query_rejection(&e))?;
    let (id, chosen, mut metadata) =
        ClientRequest::parse(body)?.into_parts(state.config.registration_policy())?;
    if params.dry_run == Some(true) {
        return dry_run_create(&state, id, metadata).await;
    }
    let id = match id {
        Some(id) => id,
        None => parse_client_id(&uuid::Uuid::new_v4().to_string())?,
    };
    let method = metadata.token_endpoint_auth_method;
    let (secret, shown, sealed) = state.settle_secret(plan_secret(method, chosen, None), method)?;
    metadata.client_secret_sealed = sealed;
    let now = state.now();
    let client = Client {
        id,
        incarnation: Client::new_incarnation(),
        metadata,
        secret,
        created_at: now,
        updated_at: now,
    };
    state
        .durable
        .create_client(&client)
        .await
        .map_err(|e| match e {
            StoreError::Conflict => client_exists(&client.id),
            e => e.into(),
        })?;
    tracing::info!(client_id = %client.id, "client registered");
    Ok((
        StatusCode::CREATED,
        Json(ClientResponse::new(&client, shown)?),
    ))
}

fn client_exists(id: &ClientId) -> ApiError {
    ApiError::conflict(format!("client {id:?} already exists"))
}

/// `POST /admin/clients?dry_run=true`: the checks of a registration (the request was already
/// validated) and the client it would register; nothing is written and no secret generated.
async fn dry_run_create(
    state: &AdminState,
    id: Option<ClientId>,
    metadata: ClientMetadata,
) -> Result<(StatusCode, Json<ClientResponse>), ApiError> {
    if let Some(id) = &id
        && state.durable.get_client(id.as_str()).await?.is_some()
    {
        return Err(client_exists(id));
    }
    let now = state.now();
    let client = Client {
        // Only to render the answer; the id shown is the chosen one or empty.
        id: match &id {
            Some(id) => id.clone(),
            None => parse_client_id("dry-run")?,
        },
        incarnation: Client::new_incarnation(),
        metadata,
        secret: None,
        created_at: now,
        updated_at: now,
    };
    let mut answer = ClientResponse::new(&client, None)?;
    if id.is_none() {
        answer.client_id = String::new();
    }
    Ok((StatusCode::OK, Json(answer)))
}

/// Lists clients by id, a page at a time.
#[utoipa::path(get, path = "/admin/clients", tag = TAG, params(PageParams),
    responses(
        (status = 200, description = "One page of clients", body = [ClientResponse],
            headers(("Link" = String, description = "`<…>; rel=\"next\"` while more pages follow"))),
        (status = 400, description = "Bad `page_size` or `page_token`", body = ErrorBody),
    ))]
pub async fn list_clients(
    State(state): State<AdminState>,
    query: Result<Query<PageParams>, QueryRejection>,
) -> Result<(HeaderMap, Json<Vec<ClientResponse>>), ApiError> {
    let Query(params) = query.map_err(|e| ApiError::from_query_rejection(&e))?;
    let page = params.to_request()?;
    let found = state.durable.list_clients(&page).await?;
    let items = found
        .items
        .iter()
        .map(|c| ClientResponse::new(c, None))
        .collect::<Result<Vec<_>, _>>()?;
    let mut headers = HeaderMap::new();
    if let Some(link) = next_link("/admin/clients", page.size, found.next.as_deref(), &[]) {
        headers.insert(header::LINK, link);
    }
    Ok((headers, Json(items)))
}

/// Reads one client (never its secret).
#[utoipa::path(get, path = "/admin/clients/{id}", tag = TAG, params(("id" = String, Path, description = "Client id")),
    responses((status = 200, description = "The client", body = ClientResponse), (status = 404, description = "No such client", body = ErrorBody)))]
pub async fn get_client(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
) -> Result<Json<ClientResponse>, ApiError> {
    let client = state.load_client(&id).await?;
    Ok(Json(ClientResponse::new(&client, None)?))
}

/// Replaces a client completely: omitted fields take their defaults, as on creation. The secret
/// stays unless `client_secret` is given (then it is replaced at once, with no grace period).
#[utoipa::path(put, path = "/admin/clients/{id}", tag = TAG, params(("id" = String, Path, description = "Client id")),
    request_body = ClientRequest,
    responses(
        (status = 200, description = "Replaced; `client_secret` only if this request set or generated one", body = ClientResponse),
        (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody), (status = 404, description = "No such client", body = ErrorBody),
    ))]
pub async fn replace_client(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
    body: Result<Json<ClientRequest>, JsonRejection>,
) -> Result<Json<ClientResponse>, ApiError> {
    let request = ClientRequest::parse(body)?;
    let existing = state.load_client(&id).await?;
    Ok(Json(state.replace_client(existing, request).await?))
}

/// Changes part of a client with an RFC 6902 JSON Patch (an array, as Hydra takes it) or an
/// RFC 7396 merge patch (an object). The result must pass the same rules as a `PUT`.
#[utoipa::path(patch, path = "/admin/clients/{id}", tag = TAG, params(("id" = String, Path, description = "Client id")),
    request_body(content = Value, description = "A JSON Patch array (RFC 6902) or a merge-patch object (RFC 7396)",
        content_type = "application/json"),
    responses(
        (status = 200, description = "The client", body = ClientResponse),
        (status = 400, description = "Refused; `error` and `error_description` say why", body = ErrorBody), (status = 404, description = "No such client", body = ErrorBody),
    ))]
pub async fn patch_client(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<ClientResponse>, ApiError> {
    let Json(operations) =
        body.map_err(|e| ApiError::from_json_rejection(&e, ErrorCode::InvalidRequest))?;
    let existing = state.load_client(&id).await?;
    let mut document = serde_json::to_value(ClientResponse::new(&existing, None)?)
        .map_err(|_| ApiError::server_error())?;
    patch::apply(&mut document, operations)?;
    let bytes = serde_json::to_vec(&document).map_err(|_| ApiError::server_error())?;
    let request = ClientRequest::parse(Json::<ClientRequest>::from_bytes(&bytes))?;
    Ok(Json(state.replace_client(existing, request).await?))
}

/// Deletes a client and ends everything granted to it (RFC 7592 §2.3): its access tokens and
/// pending codes stop working at once on every replica, its refresh tokens and consents go. A
/// client registered later under the same id starts with nothing.
#[utoipa::path(delete, path = "/admin/clients/{id}", tag = TAG, params(("id" = String, Path, description = "Client id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such client", body = ErrorBody)))]
pub async fn delete_client(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
) -> Result<StatusCode, ApiError> {
    let client = state.load_client(&id).await?;
    state.revocations.end_client(&client.incarnation).await?;
    if let Err(e) = state.durable.delete_client(&id).await {
        // The client still exists: it must keep working.
        if let Err(undo) = state.revocations.restore_client(&client.incarnation).await {
            tracing::error!(client_id = %id, error = %undo, "a failed client deletion could not be undone: the client's tokens stay ended");
        }
        return Err(not_found_as(e, &id));
    }
    tracing::info!(client_id = %id, "client deleted; everything granted to it ended");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RotateParams {
    /// Seconds the previous secret keeps working (0 to 2592000); the server's configured grace
    /// period (one day by default) when omitted. Use 0 for a leaked secret.
    pub grace_seconds: Option<u64>,
}

/// Rotates a confidential client's secret without downtime: the new secret is returned once and
/// the previous one stays valid for the grace period. A secret replaced earlier stops at once.
#[utoipa::path(post, path = "/admin/clients/{id}/secret", tag = TAG,
    params(("id" = String, Path, description = "Client id"), RotateParams),
    responses(
        (status = 200, description = "The client with its new `client_secret`, shown this once", body = ClientResponse),
        (status = 400, description = "Public client, or grace period out of range", body = ErrorBody),
        (status = 404, description = "No such client", body = ErrorBody),
    ))]
pub async fn rotate_secret(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
    query: Result<Query<RotateParams>, QueryRejection>,
) -> Result<Json<ClientResponse>, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::from_query_rejection(&e))?;
    let grace = match params.grace_seconds {
        None => state.config.secret_rotation_grace,
        Some(s) if s <= AdminConfig::MAX_SECRET_ROTATION_GRACE.as_secs() => {
            std::time::Duration::from_secs(s)
        }
        Some(_) => {
            let max = AdminConfig::MAX_SECRET_ROTATION_GRACE.as_secs();
            return Err(ApiError::invalid_request(format!(
                "grace_seconds must be between 0 and {max}"
            )));
        }
    };
    let grace = time::Duration::try_from(grace).unwrap_or(time::Duration::ZERO);
    let mut client = state.load_client(&id).await?;
    if !client.metadata.token_endpoint_auth_method.uses_secret() {
        return Err(OAuthError::invalid_request(format!(
            "client {id:?} authenticates with {} and has no secret to rotate",
            client.metadata.token_endpoint_auth_method
        ))
        .into());
    }
    let new_secret = generate_client_secret();
    // A client_secret_jwt client's assertions are checked against the sealed secret only: the
    // new secret takes over at once (the grace period keeps the old one for the other methods).
    client.metadata.client_secret_sealed =
        state.seal_if_needed(&new_secret, client.metadata.token_endpoint_auth_method)?;
    let now = state.now();
    client.secret = Some(match &client.secret {
        Some(old) => {
            registration::rotate_secret(old, &new_secret, &state.client_secret_hasher, now, grace)
        }
        None => registration::secret_hashes(&new_secret, &state.client_secret_hasher),
    });
    client.updated_at = now;
    state
        .durable
        .update_client(&client)
        .await
        .map_err(|e| not_found_as(e, &id))?;
    tracing::info!(client_id = %id, grace_seconds = grace.whole_seconds(), "client secret rotated");
    Ok(Json(ClientResponse::new(&client, Some(new_secret))?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_client_request_prints_no_secret() {
        let request: ClientRequest = serde_json::from_str(
            r#"{"client_id":"billing","client_secret":"chosen-client-secret-value-0123456789"}"#,
        )
        .unwrap();
        let printed = format!("{request:?} {request:#?}");
        assert!(!printed.contains("chosen-client-secret-value"), "{printed}");
        assert!(printed.contains("billing"));
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// How many days back to count, today (UTC) included: 1 to 366, 30 when omitted.
    pub days: Option<u16>,
}

/// How much a client was used over the last days.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageResponse {
    pub client_id: String,
    /// The days counted, today (UTC) included.
    pub days: u16,
    /// Tokens the token endpoint issued to the client (every grant).
    pub tokens_issued: u64,
    /// Sign-ins to the client: authorization codes issued and devices authorized.
    pub logins: u64,
}

/// A client's usage: tokens issued and sign-ins, over the last `days` days. Each process writes
/// its counts every few seconds, so the last seconds may not be counted yet.
#[utoipa::path(get, path = "/admin/clients/{id}/usage", tag = TAG,
    params(("id" = String, Path, description = "Client id"), UsageParams),
    responses(
        (status = 200, description = "The client's usage", body = UsageResponse),
        (status = 400, description = "`days` out of range", body = ErrorBody),
        (status = 404, description = "No such client", body = ErrorBody),
    ))]
pub async fn client_usage(
    State(state): State<AdminState>,
    PathParam(id): PathParam,
    query: Result<Query<UsageParams>, QueryRejection>,
) -> Result<Json<UsageResponse>, ApiError> {
    const MAX_DAYS: u16 = 366;
    let Query(params) = query.map_err(|e| ApiError::from_query_rejection(&e))?;
    let days = params.days.unwrap_or(30);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::invalid_request(format!(
            "days must be between 1 and {MAX_DAYS}"
        )));
    }
    let client = state.load_client(&id).await?;
    let since = state.now().date() - time::Duration::days(i64::from(days) - 1);
    let usage = state
        .durable
        .client_usage(client.id.as_str(), since)
        .await?;
    Ok(Json(UsageResponse {
        client_id: client.id.to_string(),
        days,
        tokens_issued: usage.tokens_issued,
        logins: usage.logins,
    }))
}
