//! The organization mode's job: the same sweep, over a member account's users, with the key
//! secrets kept in the member account (in the item's region) and readable by the member role.

use crate::handler::{Request, Rotator, Settings};
use aws_config::SdkConfig;
use shared::alert::AlertSink;
use shared::findings::aws::SecurityHub;
use shared::iam::directory::IamDirectory;
use shared::iam::vault::SecretsManagerVault;
use shared::organization::work::{Tally, WorkItem};
use shared::organization::worker::{AccountJob, ScopedAlerts};
use shared::organization::JobName;
use std::time::SystemTime;

pub struct MemberSweep {
    pub settings: Settings,
    pub secret_prefix: String,
    /// The member role's name: in each account, the key secrets' resource policy lets only the
    /// key's user and this role read them (as `ROTATOR_ROLE_ARN` does in single-account mode).
    pub member_role_name: String,
    /// Publish Security Hub findings, in the member account (the item's region).
    pub security_hub: bool,
}

impl AccountJob for MemberSweep {
    const JOB: JobName = JobName::KeySweep;

    async fn run<A: AlertSink>(
        &self,
        member: &SdkConfig,
        item: &WorkItem,
        alerts: ScopedAlerts<'_, A>,
        now: SystemTime,
        source: &str,
    ) -> Result<Tally, String> {
        let partition = shared::aws::partition(&item.region);
        let member_role_arn = format!(
            "arn:{partition}:iam::{}:role/{}",
            item.account, self.member_role_name
        );
        let rotator = Rotator::new(
            IamDirectory::new(aws_sdk_iam::Client::new(member)),
            // The hub's SECRET_KMS_KEY_ID names a key of the hub account: member secrets use
            // their own account's default key.
            SecretsManagerVault::new(
                aws_sdk_secretsmanager::Client::new(member),
                self.secret_prefix.clone(),
                None,
                Some(member_role_arn),
            ),
            alerts,
            self.settings.clone(),
            SecurityHub::when_enabled(self.security_hub, member),
        );
        let report = rotator
            .run(
                &Request::Sweep,
                shared::time::epoch_seconds(now),
                source,
                Some(&item.account),
            )
            .await
            .map_err(|error| shared::text::with_causes(&error))?;
        Ok(Tally::new(&report.outcomes, report.alerts_sent))
    }
}
