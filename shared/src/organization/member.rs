//! Access to a member account: `sts:AssumeRole` into its member role, the credentials cached per
//! account for the life of the process (a worker instance often gets the same account's other
//! regions and jobs next), and an SDK configuration for one account and region built from them.

use aws_config::{Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Credentials with less than this left are assumed again: a job must not run out mid-way.
const REFRESH_AHEAD: Duration = Duration::from_secs(10 * 60);
/// Sessions last one hour (the most role chaining allows, and every job takes minutes at most).
const SESSION_SECONDS: i32 = 3_600;

/// The member role: its name (the same in every account) and the optional external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRole {
    pub name: String,
    pub external_id: Option<String>,
}

impl MemberRole {
    pub fn arn(&self, partition: &str, account: &str) -> String {
        format!("arn:{partition}:iam::{account}:role/{}", self.name)
    }
}

/// Assumes a role; production: [`StsRoles`].
pub trait RoleAssumer: Send + Sync {
    fn assume(
        &self,
        role_arn: &str,
        external_id: Option<&str>,
        session_name: &str,
    ) -> impl Future<Output = Result<Credentials, String>> + Send;
}

pub struct StsRoles {
    client: aws_sdk_sts::Client,
}

impl StsRoles {
    /// The hub's STS client: the SDK uses the regional endpoint of the function's own region,
    /// whose throttling bucket is separate from the global endpoint's.
    pub fn new(client: aws_sdk_sts::Client) -> Self {
        Self { client }
    }
}

impl RoleAssumer for StsRoles {
    async fn assume(
        &self,
        role_arn: &str,
        external_id: Option<&str>,
        session_name: &str,
    ) -> Result<Credentials, String> {
        let output = self
            .client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .set_external_id(external_id.map(str::to_owned))
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await
            .map_err(|error| {
                // A refusal reads best as its code and message (what a person acts on); other
                // failures (network, timeouts) keep the SDK's whole account of them.
                use aws_sdk_sts::error::ProvideErrorMetadata;
                match (error.code(), error.message()) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.to_owned(),
                    _ => aws_sdk_sts::error::DisplayErrorContext(&error).to_string(),
                }
            })?;
        let credentials = output
            .credentials
            .ok_or("AssumeRole answered without credentials")?;
        let expiry = SystemTime::try_from(credentials.expiration)
            .map_err(|e| format!("AssumeRole answered an unusable expiry: {e}"))?;
        Ok(Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            Some(credentials.session_token),
            Some(expiry),
            "organization-member-role",
        ))
    }
}

/// The SDK configurations of member accounts.
pub struct MemberAccess<R> {
    roles: R,
    role: MemberRole,
    session_name: String,
    hub: SdkConfig,
    cache: Mutex<HashMap<String, Credentials>>,
}

impl<R: RoleAssumer> MemberAccess<R> {
    /// `session_name` shows in the member account's CloudTrail as who acted (the function's name).
    pub fn new(roles: R, role: MemberRole, session_name: &str, hub: SdkConfig) -> Self {
        Self {
            roles,
            role,
            session_name: session_name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "=,.@-_".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .take(64)
                .collect(),
            hub,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn role(&self) -> &MemberRole {
        &self.role
    }

    /// The configuration for `account` in `region`: the hub's settings (retries, timeouts, HTTP
    /// client and its connection pool, endpoint overrides) with the member's credentials.
    pub async fn config(
        &self,
        account: &str,
        region: &str,
        now: SystemTime,
    ) -> Result<SdkConfig, String> {
        let credentials = match self.cached(account, now) {
            Some(credentials) => credentials,
            None => {
                let partition = crate::aws::partition(region);
                let credentials = self
                    .roles
                    .assume(
                        &self.role.arn(partition, account),
                        self.role.external_id.as_deref(),
                        &self.session_name,
                    )
                    .await?;
                self.lock().insert(account.to_owned(), credentials.clone());
                credentials
            }
        };
        Ok(self
            .hub
            .to_builder()
            .region(Region::new(region.to_owned()))
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                credentials,
            ))
            .build())
    }

    fn cached(&self, account: &str, now: SystemTime) -> Option<Credentials> {
        let cache = self.lock();
        let credentials = cache.get(account)?;
        let fresh = credentials
            .expiry()
            .is_none_or(|expiry| expiry > now + REFRESH_AHEAD);
        fresh.then(|| credentials.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Credentials>> {
        // A panic while holding the lock leaves a map that is still whole: keep using it.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct CountingRoles {
        calls: AtomicUsize,
        lifetime: Duration,
        now: SystemTime,
    }

    impl RoleAssumer for CountingRoles {
        async fn assume(
            &self,
            role_arn: &str,
            external_id: Option<&str>,
            session: &str,
        ) -> Result<Credentials, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if role_arn.contains("999999999999") {
                return Err("AccessDenied: not authorized to perform sts:AssumeRole".into());
            }
            assert_eq!(external_id, Some("ext"));
            assert_eq!(session, "org-worker");
            Ok(Credentials::new(
                role_arn,
                "secret",
                None,
                Some(self.now + self.lifetime),
                "test",
            ))
        }
    }

    fn access(lifetime: Duration, now: SystemTime) -> MemberAccess<CountingRoles> {
        let hub = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .build();
        MemberAccess::new(
            CountingRoles {
                calls: AtomicUsize::new(0),
                lifetime,
                now,
            },
            MemberRole {
                name: "member".into(),
                external_id: Some("ext".into()),
            },
            "org worker",
            hub,
        )
    }

    #[tokio::test]
    async fn credentials_are_assumed_once_per_account_while_fresh() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let access = access(Duration::from_secs(3_600), now);
        let first = access
            .config("111111111111", "eu-west-1", now)
            .await
            .unwrap();
        let second = access
            .config("111111111111", "us-east-1", now)
            .await
            .unwrap();
        access
            .config("222222222222", "us-east-1", now)
            .await
            .unwrap();
        assert_eq!(access.roles.calls.load(Ordering::SeqCst), 2);
        assert_eq!(first.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(second.region().map(|r| r.as_ref()), Some("us-east-1"));
        // Near expiry the role is assumed again.
        let later = now + Duration::from_secs(3_600) - REFRESH_AHEAD;
        access
            .config("111111111111", "eu-west-1", later)
            .await
            .unwrap();
        assert_eq!(access.roles.calls.load(Ordering::SeqCst), 3);
        let refused = access.config("999999999999", "eu-west-1", now).await;
        assert!(refused.is_err_and(|e| e.contains("AccessDenied")));
    }

    #[test]
    fn role_arns_follow_the_partition() {
        let role = MemberRole {
            name: "member".into(),
            external_id: None,
        };
        assert_eq!(
            role.arn("aws-cn", "111111111111"),
            "arn:aws-cn:iam::111111111111:role/member"
        );
    }
}
