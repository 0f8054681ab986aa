//! The organization mode's job: the same scan, in a member account and region.

use crate::handler::{CertificateExpiry, Settings};
use aws_config::SdkConfig;
use shared::alert::AlertSink;
use shared::certificates::acm::AcmInventory;
use shared::findings::aws::SecurityHub;
use shared::organization::work::{Tally, WorkItem};
use shared::organization::worker::{AccountJob, ScopedAlerts};
use shared::organization::JobName;
use std::time::SystemTime;

pub struct MemberScan {
    pub settings: Settings,
    /// Publish Security Hub findings, in the member account and region.
    pub security_hub: bool,
}

impl AccountJob for MemberScan {
    const JOB: JobName = JobName::CertificateScan;

    async fn run<A: AlertSink>(
        &self,
        member: &SdkConfig,
        item: &WorkItem,
        alerts: ScopedAlerts<'_, A>,
        now: SystemTime,
        source: &str,
    ) -> Result<Tally, String> {
        let mut settings = self.settings.clone();
        if let Some(region) = member.region() {
            settings.region = region.to_string();
        }
        let function = CertificateExpiry::new(
            AcmInventory::new(aws_sdk_acm::Client::new(member)),
            alerts,
            settings,
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
        Ok(Tally::new(&report.standings, report.alerts_sent))
    }
}
