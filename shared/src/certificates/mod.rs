//! ACM certificates: what we know of one (plain data), the pure decisions over it
//! ([`policy`]: will ACM renew it, is it at risk today, what to tell a person), and the ACM
//! adapter ([`acm`]).

pub mod acm;
pub mod policy;

/// What `DescribeCertificate` says of a certificate, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Certificate {
    pub arn: String,
    pub common_name: Option<String>,
    /// Subject alternative names other than the common name.
    pub other_names: Vec<String>,
    pub kind: CertificateKind,
    /// `ISSUED`, `EXPIRED`, `REVOKED`, `PENDING_VALIDATION`, `INACTIVE`, `VALIDATION_TIMED_OUT`, `FAILED`.
    pub status: String,
    /// Seconds since the epoch; `None` until issued.
    pub not_after: Option<i64>,
    pub in_use_by: Vec<String>,
    /// `RenewalEligibility == ELIGIBLE`.
    pub renewal_eligible: bool,
    /// `RenewalSummary.RenewalStatus`: `PENDING_AUTO_RENEWAL`, `PENDING_VALIDATION`, `SUCCESS`, `FAILED`.
    pub renewal_status: Option<String>,
    pub renewal_status_reason: Option<String>,
    /// Any domain validated by email: renewal waits for a person to approve.
    pub email_validation: bool,
    /// `CLOUDFRONT` when CloudFront manages (and renews) it.
    pub managed_by: Option<String>,
    pub key_algorithm: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CertificateKind {
    Imported,
    #[default]
    AmazonIssued,
    Private,
    Other(String),
}

impl CertificateKind {
    pub fn from_acm(value: &str) -> Self {
        match value {
            "IMPORTED" => Self::Imported,
            "AMAZON_ISSUED" => Self::AmazonIssued,
            "PRIVATE" => Self::Private,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Imported => "IMPORTED",
            Self::AmazonIssued => "AMAZON_ISSUED",
            Self::Private => "PRIVATE",
            Self::Other(other) => other,
        }
    }
}

impl Certificate {
    /// The name a person recognises: the common name, else the first other name, else the ARN.
    pub fn display_name(&self) -> &str {
        self.common_name
            .as_deref()
            .or(self.other_names.first().map(String::as_str))
            .unwrap_or(&self.arn)
    }
}
