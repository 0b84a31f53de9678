//! The partner portal's RPCs (partner onboarding), over [`crate::partners`].

use gatehouse_proto::token::v1 as pb;
use tonic::Status;

use super::TokenGrpc;

impl TokenGrpc {
    pub(super) async fn partner_get_partner_settings(
        &self,
        _request: pb::GetPartnerSettingsRequest,
    ) -> Result<pb::GetPartnerSettingsResponse, Status> {
        Err(Status::unimplemented("not yet"))
    }

    pub(super) async fn partner_list_partner_scopes(
        &self,
        _request: pb::ListPartnerScopesRequest,
    ) -> Result<pb::ListPartnerScopesResponse, Status> {
        Err(Status::unimplemented("not yet"))
    }

    pub(super) async fn partner_submit_registration_request(
        &self,
        _request: pb::SubmitRegistrationRequestRequest,
    ) -> Result<pb::SubmitRegistrationRequestResponse, Status> {
        Err(Status::unimplemented("not yet"))
    }

    pub(super) async fn partner_list_registration_requests(
        &self,
        _request: pb::ListRegistrationRequestsRequest,
    ) -> Result<pb::ListRegistrationRequestsResponse, Status> {
        Err(Status::unimplemented("not yet"))
    }

    pub(super) async fn partner_get_registration_request(
        &self,
        _request: pb::GetRegistrationRequestRequest,
    ) -> Result<pb::GetRegistrationRequestResponse, Status> {
        Err(Status::unimplemented("not yet"))
    }

    pub(super) async fn partner_reveal_client_secret(
        &self,
        _request: pb::RevealClientSecretRequest,
    ) -> Result<pb::RevealClientSecretResponse, Status> {
        Err(Status::unimplemented("not yet"))
    }

    pub(super) async fn partner_rotate_client_secret(
        &self,
        _request: pb::RotateClientSecretRequest,
    ) -> Result<pb::RotateClientSecretResponse, Status> {
        Err(Status::unimplemented("not yet"))
    }

    pub(super) async fn partner_update_partner_app(
        &self,
        _request: pb::UpdatePartnerAppRequest,
    ) -> Result<pb::UpdatePartnerAppResponse, Status> {
        Err(Status::unimplemented("not yet"))
    }

    pub(super) async fn partner_put_logo(
        &self,
        _request: pb::PutLogoRequest,
    ) -> Result<pb::PutLogoResponse, Status> {
        Err(Status::unimplemented("not yet"))
    }

    pub(super) async fn partner_get_logo(
        &self,
        _request: pb::GetLogoRequest,
    ) -> Result<pb::GetLogoResponse, Status> {
        Err(Status::unimplemented("not yet"))
    }
}
