//! The gRPC link's TLS material, read from the files the configuration names, checked before
//! anything listens: a file that cannot be read or does not hold a certificate or key stops the
//! process with exit code 2 and a line naming the setting.

use std::path::Path;

use gatehouse_core::secret::SecretString;
use gatehouse_login::ClientTls;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, Server, ServerTlsConfig};

use crate::config::{Config, ConfigError, Role};

/// The TLS of both ends of the link, as far as this process's role needs them.
#[derive(Default)]
pub struct GrpcTls {
    /// The gRPC listener's mutual TLS (`serve all`/`serve token` with the server files).
    pub server: Option<ServerTlsConfig>,
    /// This process's calls to the token service (`serve login`, or `serve all`'s in-process UI).
    pub client: Option<ClientTls>,
}

impl std::fmt::Debug for GrpcTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcTls")
            .field("server", &self.server.is_some())
            .field("client", &self.client)
            .finish()
    }
}

fn read(key: &str, path: &Path) -> Result<String, ConfigError> {
    let env = format!("GATEHOUSE_{}", key.to_ascii_uppercase());
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            key,
            format!("cannot read {} ({e})", path.display()),
            format!("set {env} to a readable PEM file"),
        )
    })?;
    if !text.contains("-----BEGIN ") {
        return Err(ConfigError::new(
            key,
            format!("{} is not a PEM file", path.display()),
            format!("set {env} to a PEM file (`gatehouse certs grpc` writes them)"),
        ));
    }
    Ok(text)
}

/// Reads and checks the files of `config` that `role` uses.
pub fn load(config: &Config, role: Role) -> Result<GrpcTls, ConfigError> {
    let mut tls = GrpcTls::default();
    if matches!(role, Role::All | Role::Token)
        && let (Some(cert), Some(key), Some(ca)) = (
            &config.grpc_tls_cert,
            &config.grpc_tls_key,
            &config.grpc_client_ca,
        )
    {
        let server = ServerTlsConfig::new()
            .identity(Identity::from_pem(
                read("grpc_tls_cert", cert)?,
                read("grpc_tls_key", key)?,
            ))
            .client_ca_root(Certificate::from_pem(read("grpc_client_ca", ca)?));
        // Building the acceptor parses everything: a bad certificate or key fails here.
        Server::builder()
            .tls_config(server.clone())
            .map_err(|e| {
                ConfigError::new(
                    "grpc_tls_cert",
                    format!("the gRPC server certificate, key or client CA is unusable ({e})"),
                    "point GATEHOUSE_GRPC_TLS_CERT, GATEHOUSE_GRPC_TLS_KEY and GATEHOUSE_GRPC_CLIENT_CA at a matching certificate, PKCS#8 key and CA",
                )
            })?;
        tls.server = Some(server);
    }
    if matches!(role, Role::All | Role::Login)
        && let Some(ca) = &config.token_grpc_ca
    {
        let identity = match (
            &config.token_grpc_client_cert,
            &config.token_grpc_client_key,
        ) {
            (Some(cert), Some(key)) => Some((
                read("token_grpc_client_cert", cert)?,
                SecretString::new(read("token_grpc_client_key", key)?),
            )),
            _ => None,
        };
        let client = ClientTls {
            ca_pem: read("token_grpc_ca", ca)?,
            identity,
        };
        let mut check =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&client.ca_pem));
        if let Some((cert, key)) = &client.identity {
            check = check.identity(Identity::from_pem(cert, key.expose()));
        }
        Endpoint::from_static("https://localhost")
            .tls_config(check)
            .map_err(|e| {
                ConfigError::new(
                    "token_grpc_client_cert",
                    format!("the CA, client certificate or key for the token service is unusable ({e})"),
                    "point GATEHOUSE_TOKEN_GRPC_CA, GATEHOUSE_TOKEN_GRPC_CLIENT_CERT and GATEHOUSE_TOKEN_GRPC_CLIENT_KEY at a CA, a certificate and its PKCS#8 key",
                )
            })?;
        tls.client = Some(client);
    }
    Ok(tls)
}
