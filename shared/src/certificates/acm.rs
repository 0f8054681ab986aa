//! The ACM port the certificate function needs, and its SDK adapter.

use super::{Certificate, CertificateKind};
use aws_sdk_acm::error::DisplayErrorContext;
use aws_sdk_acm::types::{CertificateDetail, Filters, KeyAlgorithm, ValidationMethod};
use std::future::Future;

#[derive(Debug, thiserror::Error)]
#[error("ACM {operation} failed{}: {message}", arn.as_deref().map(|a| format!(" for {a}")).unwrap_or_default())]
pub struct AcmError {
    pub operation: &'static str,
    pub arn: Option<String>,
    pub message: String,
}

/// Every certificate ARN of the region, and how many `ListCertificates` pages it took.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    pub arns: Vec<String>,
    pub pages: usize,
}

pub trait CertificateInventory: Send + Sync {
    /// Every certificate of the region, of every key type.
    fn list(&self) -> impl Future<Output = Result<Listing, AcmError>> + Send;

    /// `None` when the certificate no longer exists.
    fn describe(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<Certificate>, AcmError>> + Send;

    /// Asks ACM to renew a private certificate.
    fn renew(&self, arn: &str) -> impl Future<Output = Result<(), AcmError>> + Send;
}

pub struct AcmInventory {
    client: aws_sdk_acm::Client,
}

impl AcmInventory {
    pub fn new(client: aws_sdk_acm::Client) -> Self {
        Self { client }
    }
}

fn acm_error<E: std::error::Error>(
    operation: &'static str,
    arn: Option<&str>,
    error: &E,
) -> AcmError {
    AcmError {
        operation,
        arn: arn.map(str::to_owned),
        message: DisplayErrorContext(error).to_string(),
    }
}

/// `ListCertificates` returns only RSA-1024 and RSA-2048 certificates unless asked for every key
/// type: without this filter EC certificates are silently missed.
pub fn every_key_type() -> Filters {
    let all = KeyAlgorithm::values()
        .iter()
        .map(|value| KeyAlgorithm::from(*value))
        .collect();
    Filters::builder().set_key_types(Some(all)).build()
}

impl CertificateInventory for AcmInventory {
    async fn list(&self) -> Result<Listing, AcmError> {
        let mut pages = self
            .client
            .list_certificates()
            .includes(every_key_type())
            .into_paginator()
            .send();
        let mut listing = Listing::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| acm_error("ListCertificates", None, &error))?;
            listing.pages += 1;
            listing.arns.extend(
                page.certificate_summary_list
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|s| s.certificate_arn),
            );
        }
        Ok(listing)
    }

    async fn describe(&self, arn: &str) -> Result<Option<Certificate>, AcmError> {
        match self
            .client
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
        {
            Ok(output) => Ok(output.certificate.as_ref().map(certificate_from)),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(acm_error("DescribeCertificate", Some(arn), &error)),
        }
    }

    async fn renew(&self, arn: &str) -> Result<(), AcmError> {
        self.client
            .renew_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .map_err(|error| acm_error("RenewCertificate", Some(arn), &error))?;
        Ok(())
    }
}

/// Maps ACM's description to plain data.
pub fn certificate_from(detail: &CertificateDetail) -> Certificate {
    let common_name = detail.domain_name.clone();
    let other_names = detail
        .subject_alternative_names()
        .iter()
        .filter(|name| Some(*name) != common_name.as_ref())
        .cloned()
        .collect();
    let renewal = detail.renewal_summary.as_ref();
    let validations = detail
        .domain_validation_options()
        .iter()
        .chain(renewal.map_or(&[][..], |r| r.domain_validation_options()));
    Certificate {
        arn: detail.certificate_arn.clone().unwrap_or_default(),
        common_name,
        other_names,
        kind: detail
            .r#type
            .as_ref()
            .map_or(CertificateKind::Other("UNKNOWN".into()), |t| {
                CertificateKind::from_acm(t.as_str())
            }),
        status: detail
            .status
            .as_ref()
            .map_or_else(|| "UNKNOWN".to_owned(), |s| s.as_str().to_owned()),
        not_after: detail.not_after.map(|t| t.secs()),
        in_use_by: detail.in_use_by().to_vec(),
        renewal_eligible: detail
            .renewal_eligibility
            .as_ref()
            .is_some_and(|e| e.as_str() == "ELIGIBLE"),
        renewal_status: renewal.map(|r| r.renewal_status.as_str().to_owned()),
        renewal_status_reason: renewal
            .and_then(|r| r.renewal_status_reason.as_ref())
            .map(|r| r.as_str().to_owned()),
        email_validation: validations
            .into_iter()
            .any(|v| v.validation_method == Some(ValidationMethod::Email)),
        managed_by: detail.managed_by.as_ref().map(|m| m.as_str().to_owned()),
        key_algorithm: detail.key_algorithm.as_ref().map(|k| k.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_acm::operation::describe_certificate::{
        DescribeCertificateError, DescribeCertificateOutput,
    };
    use aws_sdk_acm::operation::list_certificates::ListCertificatesOutput;
    use aws_sdk_acm::operation::renew_certificate::RenewCertificateOutput;
    use aws_sdk_acm::primitives::DateTime;
    use aws_sdk_acm::types::{
        CertificateManagedBy, CertificateStatus, CertificateSummary, CertificateType,
        DomainValidation, FailureReason, RenewalEligibility, RenewalStatus, RenewalSummary,
    };
    use aws_sdk_acm::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/1";

    /// What ACM returns for a DNS-validated certificate in use whose renewal is stuck: the fields
    /// moto cannot produce (in-use, eligibility, renewal summary, managed-by).
    fn stuck_renewal() -> CertificateDetail {
        CertificateDetail::builder()
            .certificate_arn(ARN)
            .domain_name("shop.example.com")
            .subject_alternative_names("shop.example.com")
            .subject_alternative_names("*.shop.example.com")
            .r#type(CertificateType::AmazonIssued)
            .status(CertificateStatus::Issued)
            .not_after(DateTime::from_secs(1_800_000_000))
            .in_use_by("arn:aws:cloudfront::123456789012:distribution/E1")
            .renewal_eligibility(RenewalEligibility::Eligible)
            .key_algorithm(KeyAlgorithm::EcPrime256v1)
            .domain_validation_options(
                DomainValidation::builder()
                    .domain_name("shop.example.com")
                    .validation_method(ValidationMethod::Dns)
                    .build()
                    .unwrap(),
            )
            .renewal_summary(
                RenewalSummary::builder()
                    .renewal_status(RenewalStatus::PendingValidation)
                    .renewal_status_reason(FailureReason::CaaError)
                    .domain_validation_options(
                        DomainValidation::builder()
                            .domain_name("shop.example.com")
                            .validation_method(ValidationMethod::Email)
                            .build()
                            .unwrap(),
                    )
                    .updated_at(DateTime::from_secs(1_790_000_000))
                    .build()
                    .unwrap(),
            )
            .build()
    }

    #[test]
    fn descriptions_map_to_plain_data() {
        let certificate = certificate_from(&stuck_renewal());
        assert_eq!(
            certificate,
            Certificate {
                arn: ARN.into(),
                common_name: Some("shop.example.com".into()),
                other_names: vec!["*.shop.example.com".into()],
                kind: CertificateKind::AmazonIssued,
                status: "ISSUED".into(),
                not_after: Some(1_800_000_000),
                in_use_by: vec!["arn:aws:cloudfront::123456789012:distribution/E1".into()],
                renewal_eligible: true,
                renewal_status: Some("PENDING_VALIDATION".into()),
                renewal_status_reason: Some("CAA_ERROR".into()),
                email_validation: true,
                managed_by: None,
                key_algorithm: Some("EC_prime256v1".into()),
            }
        );
        let cloudfront = CertificateDetail::builder()
            .managed_by(CertificateManagedBy::Cloudfront)
            .r#type(CertificateType::Private)
            .build();
        let mapped = certificate_from(&cloudfront);
        assert_eq!(mapped.managed_by.as_deref(), Some("CLOUDFRONT"));
        assert_eq!(mapped.kind, CertificateKind::Private);
        assert_eq!(mapped.status, "UNKNOWN");
        assert_eq!(mapped.not_after, None);
    }

    #[tokio::test]
    async fn listing_asks_for_every_key_type_and_follows_every_page() {
        let first = mock!(Client::list_certificates)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListCertificatesOutput::builder()
                    .certificate_summary_list(
                        CertificateSummary::builder()
                            .certificate_arn("arn:1")
                            .build(),
                    )
                    .certificate_summary_list(
                        CertificateSummary::builder()
                            .certificate_arn("arn:2")
                            .build(),
                    )
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::list_certificates)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                ListCertificatesOutput::builder()
                    .certificate_summary_list(
                        CertificateSummary::builder()
                            .certificate_arn("arn:3")
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_acm, RuleMode::MatchAny, [&first, &second]);
        let listing = AcmInventory::new(client).list().await.unwrap();
        assert_eq!(listing.arns, ["arn:1", "arn:2", "arn:3"]);
        assert_eq!(listing.pages, 2);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));

        let key_types = every_key_type().key_types().to_vec();
        for wanted in [
            KeyAlgorithm::Rsa2048,
            KeyAlgorithm::Rsa4096,
            KeyAlgorithm::EcPrime256v1,
            KeyAlgorithm::EcSecp384r1,
        ] {
            assert!(key_types.contains(&wanted), "{wanted:?}");
        }
    }

    #[tokio::test]
    async fn a_vanished_certificate_is_none_and_renewal_is_requested() {
        let gone = mock!(Client::describe_certificate).then_error(|| {
            DescribeCertificateError::ResourceNotFoundException(
                aws_sdk_acm::types::error::ResourceNotFoundException::builder()
                    .message("gone")
                    .build(),
            )
        });
        let present = mock!(Client::describe_certificate).then_output(|| {
            DescribeCertificateOutput::builder()
                .certificate(stuck_renewal())
                .build()
        });
        let renew = mock!(Client::renew_certificate)
            .match_requests(|r| r.certificate_arn() == Some(ARN))
            .then_output(|| RenewCertificateOutput::builder().build());
        let client = mock_client!(aws_sdk_acm, RuleMode::Sequential, [&gone, &present, &renew]);
        let inventory = AcmInventory::new(client);
        assert_eq!(inventory.describe(ARN).await.unwrap(), None);
        assert_eq!(
            inventory.describe(ARN).await.unwrap().map(|c| c.arn),
            Some(ARN.to_owned())
        );
        inventory.renew(ARN).await.unwrap();
        assert_eq!(renew.num_calls(), 1);
    }
}
