//! Dynamic client registration: `POST /oauth2/register` (RFC 7591) and the client configuration
//! endpoint `GET`/`PUT`/`DELETE /oauth2/register/{client_id}` (RFC 7592).
//!
//! Registering needs an initial access token (`Authorization: Bearer`, made with `gatehouse
//! registration-tokens create`) unless the operator opened registration to everyone. The request
//! goes through the admin API's parsing and rules ([`ClientRequest`]), then through the
//! self-registration policy ([`check_self_registered`]). The answer carries a
//! `registration_access_token`, shown once and stored only as a keyed hash on the client, that
//! reads, replaces and deletes this one client.
//!
//! Errors are RFC 7591 §3.2.2 JSON (`invalid_client_metadata`, `invalid_redirect_uri`, 400); a
//! missing or wrong token is 401 `invalid_token` with a Bearer challenge, the same whether the
//! client exists or not.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::client::{Client, ClientMetadata, TokenEndpointAuthMethod};
use gatehouse_core::registration::{
    self, generate_client_secret, parse_client_id, verify_client_secret,
};
use gatehouse_core::secret::{KeyedHasher, SecretString};
use gatehouse_core::self_registration::{
    check_self_registered, generate_registration_token, registration_token_hasher,
    verify_registration_access_token,
};
use gatehouse_core::store::StoreError;
use gatehouse_core::{ErrorCode, OAuthError};
use serde::{Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;

use super::error::BearerError;
use crate::admin::{ClientRequest, ClientResponse};
use crate::service::{TokenService, store_error};

/// A registered client as RFC 7591 §3.2.1 and RFC 7592 §3 answer it: the admin API's fields plus
/// the registration ones.
#[derive(Serialize)]
struct RegistrationResponse {
    #[serde(flatten)]
    client: ClientResponse,
    client_id_issued_at: i64,
    /// Only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "expose")]
    registration_access_token: Option<SecretString>,
    registration_client_uri: String,
}

fn expose<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_str(secret.expose()),
        None => s.serialize_none(),
    }
}

fn invalid_token(description: &'static str) -> BearerError {
    BearerError::Failed(OAuthError::new(ErrorCode::InvalidToken, description))
}

fn invalid_metadata(description: &'static str) -> BearerError {
    BearerError::Failed(OAuthError::new(
        ErrorCode::InvalidClientMetadata,
        description,
    ))
}

/// The `Authorization: Bearer` credential, if the request sent one.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, BearerError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(BearerError::Failed(OAuthError::invalid_request(
            "more than one Authorization header",
        )));
    }
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    match token {
        Some(token) => Ok(Some(token)),
        None => Err(invalid_token("use Authorization: Bearer with a token")),
    }
}

/// The body as client metadata: a JSON object in which the server, not the client, picks the
/// `client_id` and `client_secret`.
fn read_request(
    body: Result<Bytes, BytesRejection>,
    service: &TokenService,
) -> Result<ClientRequest, BearerError> {
    let bytes = body.map_err(|_| BearerError::TooLarge)?;
    let mut request: ClientRequest = serde_json::from_slice(&bytes).map_err(|_| {
        invalid_metadata("the body must be a JSON object of RFC 7591 client metadata")
    })?;
    if request.client_secret.is_some() {
        return Err(invalid_metadata(
            "client_secret is chosen by the server; leave it out",
        ));
    }
    if request.scope.as_deref().is_none_or(str::is_empty) {
        request.scope = Some(
            service
                .settings()
                .registration
                .policy
                .allowed_scopes
                .to_string(),
        );
    }
    Ok(request)
}

/// The admin API's rules, then the self-registration policy.
fn validate(request: ClientRequest, service: &TokenService) -> Result<ClientMetadata, BearerError> {
    let settings = &service.settings().registration;
    let (_, _, metadata) = request
        .into_parts(settings.redirect_policy)
        .map_err(BearerError::Failed)?;
    check_self_registered(&metadata, &settings.policy).map_err(BearerError::Failed)?;
    Ok(metadata)
}

fn hasher(service: &TokenService) -> KeyedHasher {
    registration_token_hasher(&service.client_secrets)
}

fn now(service: &TokenService) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(service.clock().unix())
        .unwrap_or_else(|_| service.clock().now())
}

/// The answer as JSON. Metadata that is not set is left out rather than sent as `""`
/// (RFC 7591 §3.2.1 returns what is registered, and a strict library parses every URI field).
fn answer(
    service: &TokenService,
    client: &Client,
    secret: Option<SecretString>,
    registration_access_token: Option<SecretString>,
) -> Result<Value, BearerError> {
    let response = ClientResponse::new(client, secret)
        .map_err(|_| BearerError::Failed(OAuthError::server_error()))?;
    let answer = RegistrationResponse {
        client: response,
        client_id_issued_at: client.created_at.unix_timestamp(),
        registration_access_token,
        registration_client_uri: format!(
            "{}/oauth2/register/{}",
            service.issuer(),
            url::form_urlencoded::byte_serialize(client.id.as_bytes()).collect::<String>()
        ),
    };
    let mut value = serde_json::to_value(answer)
        .map_err(|_| BearerError::Failed(OAuthError::server_error()))?;
    if let Some(fields) = value.as_object_mut() {
        fields.retain(|_, v| v.as_str() != Some(""));
    }
    Ok(value)
}

/// `POST /oauth2/register`.
pub(super) async fn register(
    State(service): State<Arc<TokenService>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match register_client(&service, &headers, body).await {
        Ok(answer) => (StatusCode::CREATED, Json(answer)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn register_client(
    service: &TokenService,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, BearerError> {
    let hasher = hasher(service);
    let now = now(service);
    // The token is checked (and a use counted) before the body is looked at, so a caller without
    // one learns nothing about the policy; the use is given back if no client comes of it.
    let used = match bearer(headers)? {
        Some(token) => {
            let hash = hasher.hash(token);
            let counted = service
                .durable()
                .use_registration_token(&hash, now)
                .await
                .map_err(|e| BearerError::Failed(store_error(e)))?;
            if !counted {
                return Err(invalid_token(
                    "the initial access token is unknown, expired or used up",
                ));
            }
            Some(hash)
        }
        None if service.settings().registration.open => None,
        None => {
            return Err(invalid_token(
                "registering a client needs an initial access token (Authorization: Bearer)",
            ));
        }
    };
    let result = create(service, body, &hasher, now).await;
    if result.is_err()
        && let Some(hash) = &used
        && let Err(e) = service.durable().unuse_registration_token(hash).await
    {
        tracing::warn!(error = %e, "a use of an initial access token could not be given back");
    }
    result
}

async fn create(
    service: &TokenService,
    body: Result<Bytes, BytesRejection>,
    hasher: &KeyedHasher,
    now: OffsetDateTime,
) -> Result<Value, BearerError> {
    let request = read_request(body, service)?;
    if request
        .client_id
        .as_deref()
        .is_some_and(|id| !id.is_empty())
    {
        return Err(invalid_metadata(
            "client_id is assigned by the server; leave it out",
        ));
    }
    let mut metadata = validate(request, service)?;
    let access_token = generate_registration_token();
    metadata.registration_access_token_hash = Some(hasher.hash(access_token.expose()));
    let secret = (metadata.token_endpoint_auth_method != TokenEndpointAuthMethod::None)
        .then(generate_client_secret);
    let id = parse_client_id(&uuid::Uuid::new_v4().to_string()).map_err(BearerError::Failed)?;
    let client = Client {
        id,
        incarnation: Client::new_incarnation(),
        secret: secret
            .as_ref()
            .map(|s| registration::secret_hashes(s, &service.client_secrets)),
        metadata,
        created_at: now,
        updated_at: now,
    };
    service
        .durable()
        .create_client(&client)
        .await
        .map_err(|e| BearerError::Failed(store_error(e)))?;
    tracing::info!(client_id = %client.id, "client registered itself (RFC 7591)");
    answer(service, &client, secret, Some(access_token))
}

/// The client the registration access token is for; 401 for any other token or client.
async fn authorized_client(
    service: &TokenService,
    headers: &HeaderMap,
    id: &str,
) -> Result<Client, BearerError> {
    let refused = || invalid_token("the registration access token is not valid for this client");
    let Some(token) = bearer(headers)? else {
        return Err(invalid_token(
            "use Authorization: Bearer with the client's registration access token",
        ));
    };
    let client = service
        .durable()
        .get_client(id)
        .await
        .map_err(|e| BearerError::Failed(store_error(e)))?
        .ok_or_else(refused)?;
    if verify_registration_access_token(&client.metadata, token, &hasher(service)) {
        Ok(client)
    } else {
        Err(refused())
    }
}

/// `GET /oauth2/register/{client_id}` (RFC 7592 §2.1).
pub(super) async fn read(
    State(service): State<Arc<TokenService>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let client = authorized_client(&service, &headers, &id).await?;
        answer(&service, &client, None, None)
    }
    .await;
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `PUT /oauth2/register/{client_id}` (RFC 7592 §2.2): replaces the metadata under the same rules
/// as registering. `client_id` must be the client's; `client_secret`, if sent, must be its current
/// secret (the client cannot choose a new one). The registration access token stays valid.
pub(super) async fn replace(
    State(service): State<Arc<TokenService>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let existing = authorized_client(&service, &headers, &id).await?;
        let mut value: Value = match &body {
            Ok(bytes) => serde_json::from_slice(bytes).map_err(|_| {
                invalid_metadata("the body must be a JSON object of RFC 7591 client metadata")
            })?,
            Err(_) => return Err(BearerError::TooLarge),
        };
        let Some(fields) = value.as_object_mut() else {
            return Err(invalid_metadata(
                "the body must be a JSON object of RFC 7591 client metadata",
            ));
        };
        match fields.remove("client_id") {
            Some(Value::String(sent)) if sent == existing.id.as_str() => {}
            _ => {
                return Err(BearerError::Failed(OAuthError::invalid_request(
                    "client_id must be sent and be this client's",
                )));
            }
        }
        if let Some(sent) = fields.remove("client_secret") {
            let matches = sent.as_str().is_some_and(|s| {
                verify_client_secret(&existing, s, &service.client_secrets, now(&service))
            });
            if !matches {
                return Err(invalid_metadata(
                    "client_secret cannot be changed by the client; send the current one or leave it out",
                ));
            }
        }
        // RFC 7592 §2.2: these are the server's; a client echoing them back is not an error.
        for field in [
            "registration_access_token",
            "registration_client_uri",
            "client_id_issued_at",
            "client_secret_expires_at",
        ] {
            fields.remove(field);
        }
        let bytes = serde_json::to_vec(&value).map_err(|_| BearerError::Failed(OAuthError::server_error()))?;
        let mut metadata = validate(read_request(Ok(Bytes::from(bytes)), &service)?, &service)?;
        metadata.registration_access_token_hash =
            existing.metadata.registration_access_token_hash.clone();
        // Only an operator switches a client off or on.
        metadata.disabled = existing.metadata.disabled;
        let (secret, shown) = match (metadata.token_endpoint_auth_method, &existing.secret) {
            (TokenEndpointAuthMethod::None, _) => (None, None),
            (_, Some(hashes)) => (Some(hashes.clone()), None),
            (_, None) => {
                let new = generate_client_secret();
                (
                    Some(registration::secret_hashes(&new, &service.client_secrets)),
                    Some(new),
                )
            }
        };
        let client = Client {
            id: existing.id,
            incarnation: existing.incarnation,
            metadata,
            secret,
            created_at: existing.created_at,
            updated_at: now(&service),
        };
        service
            .durable()
            .update_client(&client)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => invalid_token("the registration access token is not valid for this client"),
                e => BearerError::Failed(store_error(e)),
            })?;
        service.invalidate_client(client.id.as_str());
        tracing::info!(client_id = %client.id, "client updated its registration (RFC 7592)");
        answer(&service, &client, shown, None)
    }
    .await;
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `DELETE /oauth2/register/{client_id}` (RFC 7592 §2.3): deletes the client and ends everything
/// granted to it, as the admin API's delete does.
pub(super) async fn delete(
    State(service): State<Arc<TokenService>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let client = authorized_client(&service, &headers, &id).await?;
        delete_client(&service, &client)
            .await
            .map_err(|e| BearerError::Failed(store_error(e)))
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn delete_client(service: &TokenService, client: &Client) -> Result<(), StoreError> {
    service
        .revocations()
        .end_client(&client.incarnation)
        .await?;
    if let Err(e) = service.durable().delete_client(client.id.as_str()).await {
        // The client still exists: it must keep working.
        if let Err(undo) = service
            .revocations()
            .restore_client(&client.incarnation)
            .await
        {
            tracing::error!(client_id = %client.id, error = %undo, "a failed client deletion could not be undone: the client's tokens stay ended");
        }
        return Err(e);
    }
    service.invalidate_client(client.id.as_str());
    tracing::info!(client_id = %client.id, "client deleted its registration (RFC 7592); everything granted to it ended");
    Ok(())
}
