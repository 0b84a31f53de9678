//! `Debug` for the messages that carry a password, a bearer token, a code or a session id
//! (their generated `Debug` is switched off in `build.rs`). The secret fields print
//! `[redacted]`, so a stray `{:?}` in a log line cannot leak them.

use std::fmt;

use crate::token::v1::{
    AuthenticateUserRequest, AuthorizationParams, BeginTotpEnrolmentResponse,
    CompleteDeviceAuthorizationRequest, ConfirmTotpEnrolmentRequest, ConfirmTotpEnrolmentResponse,
    FinishPasskeyAuthenticationRequest, FinishPasskeyRegistrationRequest,
    FinishPasskeyRegistrationResponse, GetLogoResponse, InspectAccountLinkRequest,
    IntrospectRequest, IssueAuthorizationCodeRequest, IssueAuthorizationCodeResponse,
    LookupDeviceAuthorizationRequest, PutLogoRequest, RegenerateRecoveryCodesResponse,
    RegisterUserRequest, ResetPasswordRequest, RevealClientSecretResponse, RevokeRequest,
    RotateClientSecretResponse, ValidateLogoutRequestRequest, VerifyEmailRequest,
    VerifySecondFactorRequest,
};

const REDACTED: &str = "[redacted]";

impl fmt::Debug for RevealClientSecretResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevealClientSecretResponse")
            .field("client_id", &self.client_id)
            .field("client_secret", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for RotateClientSecretResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotateClientSecretResponse")
            .field("client_id", &self.client_id)
            .field("client_secret", &REDACTED)
            .field(
                "previous_secret_expires_at",
                &self.previous_secret_expires_at,
            )
            .finish()
    }
}

impl fmt::Debug for InspectAccountLinkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InspectAccountLinkRequest")
            .field("token", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for ResetPasswordRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetPasswordRequest")
            .field("token", &REDACTED)
            .field("new_password", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for RegisterUserRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterUserRequest")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("client_ip", &self.client_ip)
            .field("language", &self.language)
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl fmt::Debug for VerifyEmailRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyEmailRequest")
            .field("token", &REDACTED)
            .finish()
    }
}

/// Logos are not secret, but a quarter megabyte of bytes in a log line helps no one.
impl fmt::Debug for PutLogoRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutLogoRequest")
            .field("subject", &self.subject)
            .field("content_type", &self.content_type)
            .field("data", &format_args!("{} bytes", self.data.len()))
            .finish()
    }
}

impl fmt::Debug for GetLogoResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetLogoResponse")
            .field("content_type", &self.content_type)
            .field("data", &format_args!("{} bytes", self.data.len()))
            .finish()
    }
}

impl fmt::Debug for AuthenticateUserRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticateUserRequest")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .field("client_ip", &self.client_ip)
            .finish()
    }
}

impl fmt::Debug for AuthorizationParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationParams")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("response_type", &self.response_type)
            .field("scope", &self.scope)
            .field("state", &self.state)
            .field("code_challenge", &self.code_challenge)
            .field("code_challenge_method", &self.code_challenge_method)
            .field("nonce", &self.nonce)
            .field("prompt", &self.prompt)
            .field("max_age", &self.max_age)
            .field("login_hint", &self.login_hint)
            .field("ui_locales", &self.ui_locales)
            .field("duplicate", &self.duplicate)
            .field(
                "id_token_hint",
                &self.id_token_hint.as_ref().map(|_| REDACTED),
            )
            .field("response_mode", &self.response_mode)
            .field("request", &self.request.as_ref().map(|_| REDACTED))
            .field("request_uri", &self.request_uri)
            .field("resource", &self.resource)
            .field("acr_values", &self.acr_values)
            .finish()
    }
}

impl fmt::Debug for BeginTotpEnrolmentResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BeginTotpEnrolmentResponse")
            .field("factor_id", &self.factor_id)
            .field("secret", &REDACTED)
            .field("otpauth_uri", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for ConfirmTotpEnrolmentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfirmTotpEnrolmentRequest")
            .field("user_id", &self.user_id)
            .field("factor_id", &self.factor_id)
            .field("code", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for ConfirmTotpEnrolmentResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfirmTotpEnrolmentResponse")
            .field("confirmed", &self.confirmed)
            .field(
                "recovery_codes",
                &format_args!("{} codes", self.recovery_codes.len()),
            )
            .finish()
    }
}

impl fmt::Debug for VerifySecondFactorRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifySecondFactorRequest")
            .field("user_id", &self.user_id)
            .field("code", &REDACTED)
            .field("client_ip", &self.client_ip)
            .finish()
    }
}

impl fmt::Debug for FinishPasskeyRegistrationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinishPasskeyRegistrationRequest")
            .field("user_id", &self.user_id)
            .field("ceremony_id", &self.ceremony_id)
            .field("label", &self.label)
            .field("credential_json", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for FinishPasskeyRegistrationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinishPasskeyRegistrationResponse")
            .field("registered", &self.registered)
            .field("factor_id", &self.factor_id)
            .field(
                "recovery_codes",
                &format_args!("{} codes", self.recovery_codes.len()),
            )
            .finish()
    }
}

impl fmt::Debug for FinishPasskeyAuthenticationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinishPasskeyAuthenticationRequest")
            .field("ceremony_id", &self.ceremony_id)
            .field("user_id", &self.user_id)
            .field("credential_json", &REDACTED)
            .field("client_ip", &self.client_ip)
            .finish()
    }
}

impl fmt::Debug for RegenerateRecoveryCodesResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegenerateRecoveryCodesResponse")
            .field(
                "recovery_codes",
                &format_args!("{} codes", self.recovery_codes.len()),
            )
            .finish()
    }
}

impl fmt::Debug for IssueAuthorizationCodeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssueAuthorizationCodeRequest")
            .field("request", &self.request)
            .field("subject", &self.subject)
            .field("granted_scope", &self.granted_scope)
            .field("auth_time", &self.auth_time)
            .field("amr", &self.amr)
            .field("session_id", &self.session_id.as_ref().map(|_| REDACTED))
            .field(
                "id_token_claims",
                &self.id_token_claims.as_ref().map(|_| REDACTED),
            )
            .field(
                "access_token_claims",
                &self.access_token_claims.as_ref().map(|_| REDACTED),
            )
            .finish()
    }
}

impl fmt::Debug for IssueAuthorizationCodeResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssueAuthorizationCodeResponse")
            .field("code", &REDACTED)
            .finish()
    }
}

impl fmt::Debug for IntrospectRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectRequest")
            .field("token", &REDACTED)
            .field("token_type_hint", &self.token_type_hint)
            .finish()
    }
}

impl fmt::Debug for RevokeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevokeRequest")
            .field("token", &REDACTED)
            .field("client_id", &self.client_id)
            .field("token_type_hint", &self.token_type_hint)
            .finish()
    }
}

impl fmt::Debug for ValidateLogoutRequestRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidateLogoutRequestRequest")
            .field(
                "id_token_hint",
                &self.id_token_hint.as_ref().map(|_| REDACTED),
            )
            .field("client_id", &self.client_id)
            .field("post_logout_redirect_uri", &self.post_logout_redirect_uri)
            .finish()
    }
}

impl fmt::Debug for LookupDeviceAuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LookupDeviceAuthorizationRequest")
            .field("user_code", &REDACTED)
            .field("client_ip", &self.client_ip)
            .finish()
    }
}

impl fmt::Debug for CompleteDeviceAuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompleteDeviceAuthorizationRequest")
            .field("device_id", &REDACTED)
            .field("approved", &self.approved)
            .field("subject", &self.subject)
            .field("auth_time", &self.auth_time)
            .field("session_id", &self.session_id.as_ref().map(|_| REDACTED))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let printed = format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            AuthenticateUserRequest {
                username: "alice".into(),
                password: "hunter2".into(),
                client_ip: Some("198.51.100.1".into()),
            },
            AuthorizationParams {
                client_id: Some("c".into()),
                id_token_hint: Some("eyJ.hint-secret".into()),
                request: Some("eyJ.request-object-secret".into()),
                ..Default::default()
            },
            IssueAuthorizationCodeRequest {
                session_id: Some("sess-secret".into()),
                ..Default::default()
            },
            IssueAuthorizationCodeResponse {
                code: "gh_ac_secret".into()
            },
            IntrospectRequest {
                token: "gh_at_secret".into(),
                token_type_hint: None
            },
            RevokeRequest {
                token: "gh_rt_secret".into(),
                client_id: "c".into(),
                token_type_hint: None
            },
            ValidateLogoutRequestRequest {
                id_token_hint: Some("eyJ.id-token-secret".into()),
                client_id: Some("c".into()),
                post_logout_redirect_uri: None
            },
        );
        assert!(printed.contains("alice"));
        for secret in [
            "hunter2",
            "hint-secret",
            "request-object-secret",
            "sess-secret",
            "gh_ac_secret",
            "gh_at_secret",
            "gh_rt_secret",
            "id-token-secret",
        ] {
            assert!(!printed.contains(secret), "{secret} leaked: {printed}");
        }
    }

    #[test]
    fn passkey_material_never_prints() {
        let printed = format!(
            "{:?} {:?} {:?}",
            FinishPasskeyRegistrationRequest {
                user_id: "u1".into(),
                ceremony_id: "c1".into(),
                label: "Laptop".into(),
                credential_json: r#"{"attestationObject":"o2NmbXRkbm9uZQ"}"#.into(),
            },
            FinishPasskeyRegistrationResponse {
                registered: true,
                factor_id: "f1".into(),
                recovery_codes: vec!["abcde-fghjk".into()],
            },
            FinishPasskeyAuthenticationRequest {
                ceremony_id: "c2".into(),
                user_id: None,
                credential_json: r#"{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0"}"#.into(),
                client_ip: None,
            },
        );
        assert!(printed.contains("Laptop") && printed.contains("f1"));
        for secret in [
            "o2NmbXRkbm9uZQ",
            "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0",
            "abcde-fghjk",
        ] {
            assert!(!printed.contains(secret), "{secret} leaked: {printed}");
        }
    }
}
