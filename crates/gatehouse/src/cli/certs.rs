//! `gatehouse certs grpc`: the certificates of the gRPC link, for operators without a PKI team.
//!
//! A private CA, a server certificate for the token service and one client certificate per caller
//! role (`login`, `resource-server`: the role is a SAN URI `urn:gatehouse:role:<role>`), written as
//! PEM files of mode 0600 with ECDSA P-256 keys in PKCS#8. Existing files are kept unless
//! `--force`, so a deployment can run the command on every start and keep its certificates.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use gatehouse_token::grpc::Role;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Write a CA, the token service's server certificate and the callers' client certificates
    /// for the gRPC link's mutual TLS: ca.crt/ca.key, token.crt/token.key, login.crt/login.key and
    /// resource-server.crt/resource-server.key, each mode 0600.
    Grpc(GrpcCerts),
}

#[derive(Debug, Args)]
pub struct GrpcCerts {
    /// Directory to write into (created when missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// How many days the certificates are valid.
    #[arg(long, value_name = "N", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    days: u32,
    /// A DNS name the token service is reached by (e.g. its service name); repeat for more.
    /// localhost, 127.0.0.1 and ::1 are always in the certificate.
    #[arg(long = "dns", value_name = "NAME")]
    dns: Vec<String>,
    /// Replace files that already exist (new CA: every certificate is issued anew).
    #[arg(long)]
    force: bool,
}

/// The files written, in order.
const FILES: [&str; 8] = [
    "ca.crt",
    "ca.key",
    "token.crt",
    "token.key",
    "login.crt",
    "login.key",
    "resource-server.crt",
    "resource-server.key",
];

pub fn run_certs(cmd: &CertsCommand) -> anyhow::Result<()> {
    match cmd {
        CertsCommand::Grpc(args) => grpc(args),
    }
}

fn grpc(args: &GrpcCerts) -> anyhow::Result<()> {
    for name in &args.dns {
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '/') {
            bail!("--dns {name:?} is not a DNS name");
        }
    }
    let existing: Vec<&str> = FILES
        .iter()
        .copied()
        .filter(|f| args.out.join(f).exists())
        .collect();
    if !args.force && existing.len() == FILES.len() {
        println!(
            "The gRPC certificates in {} exist already; kept (pass --force to issue new ones).",
            args.out.display()
        );
        return Ok(());
    }
    if !args.force && !existing.is_empty() {
        bail!(
            "{} holds only some of the gRPC certificate files ({}); pass --force to issue all of them anew",
            args.out.display(),
            existing.join(", ")
        );
    }
    gatehouse_store::create_private_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;

    let now = OffsetDateTime::now_utc();
    let valid = |mut params: CertificateParams| {
        // A little slack for clocks that run behind.
        params.not_before = now - Duration::minutes(5);
        params.not_after = now + Duration::days(i64::from(args.days));
        params
    };
    let named = |cn: &str| {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Gatehouse");
        dn.push(DnType::CommonName, cn);
        dn
    };

    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca = valid(CertificateParams::default());
    ca.distinguished_name = named("Gatehouse gRPC CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).context("signing the CA")?;
    let issuer = Issuer::new(ca, &ca_key);

    let mut server = valid(CertificateParams::default());
    server.distinguished_name = named("gatehouse-token");
    server.subject_alt_names = std::iter::once("localhost".to_owned())
        .chain(args.dns.iter().cloned())
        .map(|name| {
            rcgen::string::Ia5String::try_from(name.as_str())
                .map(SanType::DnsName)
                .with_context(|| format!("--dns {name:?} is not ASCII"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    server.subject_alt_names.extend([
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ]);
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().context("generating the token service's key")?;
    let server_cert = server
        .signed_by(&server_key, &issuer)
        .context("signing the token service's certificate")?;

    let mut files: Vec<(String, String)> = vec![
        ("ca.crt".into(), ca_cert.pem()),
        ("ca.key".into(), ca_key.serialize_pem()),
        ("token.crt".into(), server_cert.pem()),
        ("token.key".into(), server_key.serialize_pem()),
    ];
    for role in Role::ALL {
        let mut client = valid(CertificateParams::default());
        client.distinguished_name = named(&format!("gatehouse-{}", role.name()));
        client.subject_alt_names = vec![SanType::URI(
            rcgen::string::Ia5String::try_from(role.uri()).context("the role URI")?,
        )];
        client.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().context("generating a client key")?;
        let cert = client
            .signed_by(&key, &issuer)
            .context("signing a client certificate")?;
        let name = role.name();
        files.push((format!("{name}.crt"), cert.pem()));
        files.push((format!("{name}.key"), key.serialize_pem()));
    }
    for (name, contents) in &files {
        write_private(&args.out.join(name), contents)?;
    }
    println!(
        "Wrote the gRPC certificates to {} (valid {} days):",
        args.out.display(),
        args.days
    );
    println!(
        "  token service: GATEHOUSE_GRPC_TLS_CERT=token.crt GATEHOUSE_GRPC_TLS_KEY=token.key GATEHOUSE_GRPC_CLIENT_CA=ca.crt"
    );
    println!(
        "  login UI:      GATEHOUSE_TOKEN_GRPC_CA=ca.crt GATEHOUSE_TOKEN_GRPC_CLIENT_CERT=login.crt GATEHOUSE_TOKEN_GRPC_CLIENT_KEY=login.key"
    );
    println!("  resource servers may introspect with resource-server.crt and resource-server.key.");
    println!("Keep ca.key offline once the certificates are issued.");
    Ok(())
}

/// Writes `contents` to `path` with mode 0600, replacing a file that exists.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        // A file that existed keeps its old mode through `open`: narrow it too.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
