//! Who may call which RPC.
//!
//! With mutual TLS the caller's client certificate (verified by the TLS layer against the
//! configured CA before any request is read) names its role, as a SAN URI
//! `urn:gatehouse:role:<role>`, or, for certificate tools that cannot write URI SANs (Helm's
//! `genSignedCert`), as a Subject common name of exactly that string:
//!
//! | role | may call |
//! |---|---|
//! | `login` | GetServerInfo and the login UI's RPCs (ValidateAuthorizationRequest … ValidateLogoutRequest, LookupDeviceAuthorization, CompleteDeviceAuthorization, the partner portal's GetPartnerSettings … GetLogo, and the account pages' GetAccountSettings … RegisterUser) |
//! | `resource-server` | GetServerInfo, Introspect |
//!
//! Anything else is `PERMISSION_DENIED`, including an RPC added later and not given to a role, and
//! Revoke (which trusts the `client_id` it is given; clients revoke at `/oauth2/revoke`). A link
//! without TLS (loopback, or `GATEHOUSE_GRPC_INSECURE` behind a mesh) carries no certificate: there
//! every RPC is open, as the operator chose.

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use x509_parser::extensions::GeneralName;

/// The URI prefix of a role in a client certificate.
pub const ROLE_URI_PREFIX: &str = "urn:gatehouse:role:";

/// A caller's role, from its client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Login,
    ResourceServer,
}

impl Role {
    pub const ALL: [Self; 2] = [Self::Login, Self::ResourceServer];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::ResourceServer => "resource-server",
        }
    }

    /// The SAN URI that grants this role, e.g. `urn:gatehouse:role:login`.
    pub fn uri(self) -> String {
        format!("{ROLE_URI_PREFIX}{}", self.name())
    }

    fn parse_uri(uri: &str) -> Option<Self> {
        let name = uri.strip_prefix(ROLE_URI_PREFIX)?;
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether this role may call `method` of the token service.
    pub fn may_call(self, method: &str) -> bool {
        match self {
            Self::Login => matches!(
                method,
                "GetServerInfo"
                    | "ValidateAuthorizationRequest"
                    | "DescribeClient"
                    | "AuthenticateUser"
                    | "GetUser"
                    | "IssueAuthorizationCode"
                    | "RecordConsent"
                    | "GetConsent"
                    | "ListConsents"
                    | "RevokeConsent"
                    | "ValidateLogoutRequest"
                    | "LookupDeviceAuthorization"
                    | "CompleteDeviceAuthorization"
                    | "ListFactors"
                    | "BeginTotpEnrolment"
                    | "ConfirmTotpEnrolment"
                    | "VerifySecondFactor"
                    | "RemoveFactor"
                    | "RegenerateRecoveryCodes"
                    | "BeginPasskeyRegistration"
                    | "FinishPasskeyRegistration"
                    | "BeginPasskeyAuthentication"
                    | "FinishPasskeyAuthentication"
                    | "GetPartnerSettings"
                    | "ListPartnerScopes"
                    | "SubmitRegistrationRequest"
                    | "ListRegistrationRequests"
                    | "GetRegistrationRequest"
                    | "RevealClientSecret"
                    | "RotateClientSecret"
                    | "UpdatePartnerApp"
                    | "PutLogo"
                    | "GetLogo"
                    | "GetAccountSettings"
                    | "RequestPasswordReset"
                    | "InspectAccountLink"
                    | "ResetPassword"
                    | "VerifyEmail"
                    | "RegisterUser"
                    | "UpdateProfile"
                    | "ChangePassword"
                    | "RequestEmailChange"
            ),
            Self::ResourceServer => matches!(method, "GetServerInfo" | "Introspect"),
        }
    }
}

/// The roles a client certificate (DER) names: its SAN URIs, or, when it has none of ours, its
/// Subject common names. An unreadable certificate names none.
pub fn roles_of(certificate_der: &[u8]) -> Vec<Role> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(certificate_der) else {
        return Vec::new();
    };
    let mut roles: Vec<Role> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::URI(uri) => Role::parse_uri(uri),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if roles.is_empty() {
        roles = cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .filter_map(Role::parse_uri)
            .collect();
    }
    roles
}

/// How the listener authenticates its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callers {
    /// No TLS: the link itself is trusted (loopback, or a mesh that does mTLS); every RPC is open.
    TrustedLink,
    /// Mutual TLS: the client certificate's roles decide.
    Certificates,
}

/// Wraps the token service so each call is checked against [`Callers`].
#[derive(Debug, Clone)]
pub struct Access<S> {
    inner: S,
    callers: Callers,
}

impl<S> Access<S> {
    pub fn new(inner: S, callers: Callers) -> Self {
        Self { inner, callers }
    }
}

impl<S: NamedService> NamedService for Access<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for Access<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if self.callers == Callers::Certificates
            && let Err(refusal) = check(&request)
        {
            return Box::pin(std::future::ready(Ok(refusal.into_http())));
        }
        Box::pin(self.inner.call(request))
    }
}

/// The method of `/gatehouse.token.v1.TokenService/<Method>`.
fn method_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or_default()
}

fn check(request: &http::Request<Body>) -> Result<(), tonic::Status> {
    let method = method_of(request.uri().path());
    let leaf = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(TlsConnectInfo::peer_certs)
        .and_then(|certs| certs.first().map(|c| c.to_vec()));
    let Some(leaf) = leaf else {
        return Err(tonic::Status::unauthenticated(
            "a client certificate is required",
        ));
    };
    let roles = roles_of(&leaf);
    if roles.iter().any(|role| role.may_call(method)) {
        return Ok(());
    }
    tracing::warn!(
        method,
        roles = ?roles.iter().map(|r| r.name()).collect::<Vec<_>>(),
        "a gRPC call outside the caller's role was refused"
    );
    Err(tonic::Status::permission_denied(format!(
        "the caller's certificate does not allow {method}"
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cert(sans: Vec<rcgen::SanType>, cn: Option<&str>) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.subject_alt_names = sans;
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
        }
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn uri(s: &str) -> rcgen::SanType {
        rcgen::SanType::URI(rcgen::string::Ia5String::try_from(s).unwrap())
    }

    #[test]
    fn roles_come_from_san_uris_or_else_the_common_name() {
        assert_eq!(
            roles_of(&cert(vec![uri("urn:gatehouse:role:login")], None)),
            [Role::Login]
        );
        assert_eq!(
            roles_of(&cert(
                vec![uri("urn:gatehouse:role:resource-server")],
                Some("urn:gatehouse:role:login")
            )),
            [Role::ResourceServer],
            "a SAN URI role wins over the common name"
        );
        assert_eq!(
            roles_of(&cert(Vec::new(), Some("urn:gatehouse:role:login"))),
            [Role::Login]
        );
        for nothing in [
            cert(vec![uri("urn:gatehouse:role:admin")], None),
            cert(vec![uri("https://login.example")], Some("login")),
            cert(Vec::new(), Some("urn:gatehouse:role:login-ish")),
            b"not a certificate".to_vec(),
        ] {
            assert!(roles_of(&nothing).is_empty());
        }
    }

    #[test]
    fn each_role_calls_only_its_rpcs() {
        for m in [
            "ValidateAuthorizationRequest",
            "DescribeClient",
            "AuthenticateUser",
            "IssueAuthorizationCode",
            "LookupDeviceAuthorization",
            "CompleteDeviceAuthorization",
            "ListFactors",
            "BeginTotpEnrolment",
            "ConfirmTotpEnrolment",
            "VerifySecondFactor",
            "RemoveFactor",
            "RegenerateRecoveryCodes",
            "BeginPasskeyRegistration",
            "FinishPasskeyRegistration",
            "BeginPasskeyAuthentication",
            "FinishPasskeyAuthentication",
        ] {
            assert!(
                Role::Login.may_call(m) && !Role::ResourceServer.may_call(m),
                "{m}"
            );
        }
        assert!(Role::ResourceServer.may_call("Introspect") && !Role::Login.may_call("Introspect"));
        for role in Role::ALL {
            assert!(role.may_call("GetServerInfo"));
            assert!(
                !role.may_call("Revoke"),
                "nobody revokes for a client it cannot authenticate"
            );
            assert!(
                !role.may_call("SomethingNew"),
                "a new RPC is closed until given to a role"
            );
        }
        assert_eq!(
            method_of("/gatehouse.token.v1.TokenService/Introspect"),
            "Introspect"
        );
        assert_eq!(Role::Login.uri(), "urn:gatehouse:role:login");
    }
}
