//! The organization mode's job: the same scan, in a member account and region, under that
//! account's own KMS request quotas.

use crate::handler::{KeyRotation, Settings};
use aws_config::SdkConfig;
use shared::alert::AlertSink;
use shared::findings::aws::SecurityHub;
use shared::kms::aws::{AwsKeyService, Limits};
use shared::organization::work::{Tally, WorkItem};
use shared::organization::worker::{AccountJob, ScopedAlerts};
use shared::organization::JobName;
use std::time::SystemTime;

pub struct MemberScan {
    pub settings: Settings,
    pub quota_share_percent: u32,
    /// Publish Security Hub findings, in the member account and region.
    pub security_hub: bool,
}

impl AccountJob for MemberScan {
    const JOB: JobName = JobName::KmsScan;

    async fn run<A: AlertSink>(
        &self,
        member: &SdkConfig,
        item: &WorkItem,
        alerts: ScopedAlerts<'_, A>,
        now: SystemTime,
        source: &str,
    ) -> Result<Tally, String> {
        let mut settings = self.settings.clone();
        settings.region = item.region.clone();
        // Quotas are per account and region: each scan gets its own share.
        let limits = Limits::share_of_quota(self.quota_share_percent);
        let rates = limits.rates();
        let function = KeyRotation::new(
            AwsKeyService::new(
                aws_sdk_kms::Client::new(member),
                aws_sdk_resourcegroupstagging::Client::new(member),
                limits,
            ),
            alerts,
            settings,
            rates,
            SecurityHub::when_enabled(self.security_hub, member),
        );
        let report = function
            .scan(
                shared::time::epoch_seconds(now),
                source,
                Some(&item.account),
            )
            .await
            .map_err(|error| shared::text::with_causes(&error))?;
        let mut tally = Tally::new(
            report.classes.iter().chain(&report.findings),
            report.alerts_sent,
        );
        tally.counts.insert("compliant".into(), report.compliant);
        tally.counts.insert("exempt".into(), report.exempt);
        Ok(tally)
    }
}
