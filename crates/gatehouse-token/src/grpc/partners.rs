//! The partner portal's RPCs (partner onboarding), thin over [`crate::partners`].
//!
//! Errors: a refused field is `INVALID_ARGUMENT`, a request that is not the caller's (or none)
//! `NOT_FOUND`, a disabled or unknown partner `PERMISSION_DENIED`, a wrong status (or a used
//! reveal) `FAILED_PRECONDITION`, partner registration turned off `UNAVAILABLE`; each with the
//! OAuth error in the details.

use gatehouse_core::registration_request::{AppRequest, RegistrationRequest};
use gatehouse_proto::status::{status_from_domain, status_from_domain_with_code};
use gatehouse_proto::token::v1 as pb;
use tonic::{Code, Status};

use super::TokenGrpc;
use crate::partners::{AppUpdate, PartnerError};

fn status(error: PartnerError) -> Status {
    let oauth = error.oauth();
    match error {
        PartnerError::Off => status_from_domain_with_code(Code::Unavailable, &oauth),
        PartnerError::Invalid(_) => status_from_domain_with_code(Code::InvalidArgument, &oauth),
        PartnerError::NotFound => status_from_domain_with_code(Code::NotFound, &oauth),
        PartnerError::Forbidden => status_from_domain_with_code(Code::PermissionDenied, &oauth),
        PartnerError::WrongStatus(_) => {
            status_from_domain_with_code(Code::FailedPrecondition, &oauth)
        }
        PartnerError::Store(_) => status_from_domain(&oauth),
    }
}

fn app_from(app: Option<pb::PartnerApp>) -> AppRequest {
    let app = app.unwrap_or_default();
    AppRequest {
        name: app.name,
        description: app.description,
        website: app.website,
        contact_name: app.contact_name,
        reason: app.reason,
        redirect_uris: app.redirect_uris,
        scopes: app.scopes,
        confidential: app.confidential,
        logo_uri: app.logo_uri,
    }
}

fn app_to(app: &AppRequest) -> pb::PartnerApp {
    pb::PartnerApp {
        name: app.name.clone(),
        description: app.description.clone(),
        website: app.website.clone(),
        contact_name: app.contact_name.clone(),
        reason: app.reason.clone(),
        redirect_uris: app.redirect_uris.clone(),
        scopes: app.scopes.clone(),
        confidential: app.confidential,
        logo_uri: app.logo_uri.clone(),
    }
}

/// A request as its owner sees it (not who reviewed it).
fn request_to(request: &RegistrationRequest) -> pb::PartnerRequest {
    pb::PartnerRequest {
        id: request.id.clone(),
        status: request.status.as_str().to_owned(),
        app: Some(app_to(&request.app)),
        review_reason: request.review_reason.clone(),
        client_id: request.client_id.as_ref().map(|c| c.as_str().to_owned()),
        secret_revealed: request.secret_revealed,
        created_at: request.created_at.unix_timestamp(),
        updated_at: request.updated_at.unix_timestamp(),
    }
}

impl TokenGrpc {
    pub(super) async fn partner_get_partner_settings(
        &self,
        _request: pb::GetPartnerSettingsRequest,
    ) -> Result<pb::GetPartnerSettingsResponse, Status> {
        Ok(pb::GetPartnerSettingsResponse {
            approval_mode: self
                .service
                .settings()
                .partners
                .approval
                .as_str()
                .to_owned(),
        })
    }

    pub(super) async fn partner_list_partner_scopes(
        &self,
        _request: pb::ListPartnerScopesRequest,
    ) -> Result<pb::ListPartnerScopesResponse, Status> {
        let scopes = self
            .service
            .partners()
            .visible_scopes()
            .await
            .map_err(status)?;
        Ok(pb::ListPartnerScopesResponse {
            scopes: scopes.iter().map(Into::into).collect(),
        })
    }

    pub(super) async fn partner_submit_registration_request(
        &self,
        request: pb::SubmitRegistrationRequestRequest,
    ) -> Result<pb::SubmitRegistrationRequestResponse, Status> {
        let submitted = self
            .service
            .partners()
            .submit(
                &request.subject,
                app_from(request.app),
                request.id.as_deref(),
            )
            .await
            .map_err(status)?;
        Ok(pb::SubmitRegistrationRequestResponse {
            request: Some(request_to(&submitted)),
        })
    }

    pub(super) async fn partner_list_registration_requests(
        &self,
        request: pb::ListRegistrationRequestsRequest,
    ) -> Result<pb::ListRegistrationRequestsResponse, Status> {
        let requests = self
            .service
            .partners()
            .list_own(&request.subject)
            .await
            .map_err(status)?;
        Ok(pb::ListRegistrationRequestsResponse {
            requests: requests.iter().map(request_to).collect(),
        })
    }

    pub(super) async fn partner_get_registration_request(
        &self,
        request: pb::GetRegistrationRequestRequest,
    ) -> Result<pb::GetRegistrationRequestResponse, Status> {
        let found = self
            .service
            .partners()
            .get_own(&request.subject, &request.id)
            .await
            .map_err(status)?;
        Ok(pb::GetRegistrationRequestResponse {
            request: Some(request_to(&found)),
        })
    }

    pub(super) async fn partner_reveal_client_secret(
        &self,
        request: pb::RevealClientSecretRequest,
    ) -> Result<pb::RevealClientSecretResponse, Status> {
        let shown = self
            .service
            .partners()
            .reveal_secret(&request.subject, &request.id)
            .await
            .map_err(status)?;
        self.service.invalidate_client(shown.client_id.as_str());
        Ok(pb::RevealClientSecretResponse {
            client_id: shown.client_id.into_string(),
            client_secret: shown.secret.expose().to_owned(),
        })
    }

    pub(super) async fn partner_rotate_client_secret(
        &self,
        request: pb::RotateClientSecretRequest,
    ) -> Result<pb::RotateClientSecretResponse, Status> {
        let shown = self
            .service
            .partners()
            .rotate_secret(&request.subject, &request.id)
            .await
            .map_err(status)?;
        self.service.invalidate_client(shown.client_id.as_str());
        Ok(pb::RotateClientSecretResponse {
            client_id: shown.client_id.into_string(),
            client_secret: shown.secret.expose().to_owned(),
            previous_secret_expires_at: shown.previous_expires_at.map(|t| t.unix_timestamp()),
        })
    }

    pub(super) async fn partner_update_partner_app(
        &self,
        request: pb::UpdatePartnerAppRequest,
    ) -> Result<pb::UpdatePartnerAppResponse, Status> {
        let update = AppUpdate {
            description: request.description,
            logo_uri: request.logo_uri,
            redirect_uris: request.redirect_uris_set.then_some(request.redirect_uris),
            scopes: request.scopes_set.then_some(request.scopes),
        };
        let updated = self
            .service
            .partners()
            .update_app(&request.subject, &request.id, update)
            .await
            .map_err(status)?;
        if let Some(client_id) = &updated.client_id {
            self.service.invalidate_client(client_id.as_str());
        }
        Ok(pb::UpdatePartnerAppResponse {
            request: Some(request_to(&updated)),
        })
    }

    pub(super) async fn partner_put_logo(
        &self,
        request: pb::PutLogoRequest,
    ) -> Result<pb::PutLogoResponse, Status> {
        let logo_id = self
            .service
            .partners()
            .put_logo(&request.subject, &request.content_type, &request.data)
            .await
            .map_err(status)?;
        Ok(pb::PutLogoResponse { logo_id })
    }

    pub(super) async fn partner_get_logo(
        &self,
        request: pb::GetLogoRequest,
    ) -> Result<pb::GetLogoResponse, Status> {
        let logo = self
            .service
            .partners()
            .get_logo(&request.id)
            .await
            .map_err(status)?;
        Ok(pb::GetLogoResponse {
            content_type: logo.content_type,
            data: logo.bytes,
        })
    }
}
