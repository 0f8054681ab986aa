//! Real X.509 certificates with chosen names, key types and validity, imported into moto's ACM.

use crate::Result;
use rcgen::{
    CertificateParams, DnType, KeyPair, SignatureAlgorithm, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};

#[derive(Debug, Clone, Copy)]
pub enum Key {
    Rsa2048,
    EcP256,
}

impl Key {
    fn algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            Key::Rsa2048 => &PKCS_RSA_SHA256,
            Key::EcP256 => &PKCS_ECDSA_P256_SHA256,
        }
    }
}

pub struct TestCertificate {
    pub certificate_pem: String,
    pub private_key_pem: String,
}

/// A self-signed certificate for `names` (the first is the common name), valid from a day ago
/// until `not_after` (seconds since the epoch).
pub fn self_signed(names: &[&str], key: Key, not_after: i64) -> Result<TestCertificate> {
    let key_pair = KeyPair::generate_for(key.algorithm())?;
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    if let Some(common_name) = names.first() {
        params
            .distinguished_name
            .push(DnType::CommonName, *common_name);
    }
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after)?;
    let certificate = params.self_signed(&key_pair)?;
    Ok(TestCertificate {
        certificate_pem: certificate.pem(),
        private_key_pem: key_pair.serialize_pem(),
    })
}

pub async fn import(acm: &aws_sdk_acm::Client, certificate: &TestCertificate) -> Result<String> {
    let output = acm
        .import_certificate()
        .certificate(aws_sdk_acm::primitives::Blob::new(
            certificate.certificate_pem.as_bytes(),
        ))
        .private_key(aws_sdk_acm::primitives::Blob::new(
            certificate.private_key_pem.as_bytes(),
        ))
        .send()
        .await?;
    output
        .certificate_arn
        .ok_or_else(|| "ImportCertificate returned no ARN".into())
}

/// Now, in seconds since the epoch.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub const DAY: i64 = 86_400;
