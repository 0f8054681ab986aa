//! Certificate authorities made by the tests, and server certificates they sign, for the
//! database servers' TLS.

use crate::Result;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

pub struct Authority {
    params: CertificateParams,
    key: KeyPair,
    pub pem: String,
}

pub fn authority(name: &str) -> Result<Authority> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let pem = params.clone().self_signed(&key)?.pem();
    Ok(Authority { params, key, pem })
}

/// A certificate for `localhost` and 127.0.0.1 signed by `ca`: (certificate PEM, key PEM).
pub fn server_certificate(ca: &Authority) -> Result<(String, String)> {
    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["localhost".to_owned()])?;
    server
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    server
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let issuer = rcgen::Issuer::new(ca.params.clone(), &ca.key);
    let certificate = server.signed_by(&server_key, &issuer)?;
    Ok((certificate.pem(), server_key.serialize_pem()))
}
