//! The enumerator's ports and their SDK adapters: the organization's accounts (Organizations),
//! the regions each has enabled (Account Management), and the work queue (SQS).

use crate::digest::{ResultsMessage, RunManifest};
use aws_sdk_account::types::RegionOptStatus;
use aws_sdk_organizations::types::{AccountState, AccountStatus, ChildType};
use shared::organization::work::WorkItem;
use std::future::Future;

/// The accounts found, and how many were left out because they are not active.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    pub active: Vec<String>,
    pub inactive: usize,
    /// Organizations requests made.
    pub calls: usize,
}

pub trait Directory: Send + Sync {
    /// Every account of the organization (every page: a partial list is an error, never taken
    /// for the whole).
    fn all_accounts(&self) -> impl Future<Output = Result<Accounts, String>> + Send;
    /// Every account under these organizational units, their child units included.
    fn accounts_under(
        &self,
        units: &[String],
    ) -> impl Future<Output = Result<Accounts, String>> + Send;
}

pub trait RegionDirectory: Send + Sync {
    /// The regions `account` has enabled (`ENABLED` or `ENABLED_BY_DEFAULT`).
    fn enabled_regions(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Vec<String>, String>> + Send;
}

pub trait WorkQueue: Send + Sync {
    /// Sends every item, one message each, in batches; an item that could not be sent is an error.
    fn send(&self, items: &[WorkItem]) -> impl Future<Output = Result<(), String>> + Send;
}

/// A message received from the results queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub receipt_handle: String,
    pub body: String,
}

pub trait ResultsQueue: Send + Sync {
    fn send_manifest(
        &self,
        manifest: &RunManifest,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// Every message visible now; each stays invisible for a while (until deleted, or until the
    /// next report looks again).
    fn receive_all(&self) -> impl Future<Output = Result<Vec<Received>, String>> + Send;
    fn delete(&self, receipt_handles: &[String])
        -> impl Future<Output = Result<(), String>> + Send;
}

/// Organizations allows at most 20 accounts a page.
const ACCOUNTS_PER_PAGE: i32 = 20;

pub struct Organizations {
    client: aws_sdk_organizations::Client,
}

impl Organizations {
    pub fn new(client: aws_sdk_organizations::Client) -> Self {
        Self { client }
    }
}

fn organizations_error<E: std::error::Error>(operation: &str, error: &E) -> String {
    format!(
        "Organizations {operation} failed: {}",
        aws_sdk_organizations::error::DisplayErrorContext(error)
    )
}

/// `State` replaces `Status` (retired by AWS in September 2026); an answer with only `Status`
/// still counts.
fn is_active(account: &aws_sdk_organizations::types::Account) -> bool {
    match account.state() {
        Some(state) => *state == AccountState::Active,
        None => account.status() == Some(&AccountStatus::Active),
    }
}

fn tally(accounts: &mut Accounts, page: &[aws_sdk_organizations::types::Account]) {
    accounts.calls += 1;
    for account in page {
        match account.id() {
            Some(id) if is_active(account) => accounts.active.push(id.to_owned()),
            _ => accounts.inactive += 1,
        }
    }
}

impl Directory for Organizations {
    async fn all_accounts(&self) -> Result<Accounts, String> {
        let mut accounts = Accounts::default();
        let mut pages = self
            .client
            .list_accounts()
            .max_results(ACCOUNTS_PER_PAGE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| organizations_error("ListAccounts", &e))?;
            tally(&mut accounts, page.accounts());
        }
        Ok(accounts)
    }

    async fn accounts_under(&self, units: &[String]) -> Result<Accounts, String> {
        let mut accounts = Accounts::default();
        let mut pending: Vec<String> = units.to_vec();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(unit) = pending.pop() {
            if !seen.insert(unit.clone()) {
                continue;
            }
            let mut pages = self
                .client
                .list_accounts_for_parent()
                .parent_id(&unit)
                .max_results(ACCOUNTS_PER_PAGE)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| organizations_error("ListAccountsForParent", &e))?;
                tally(&mut accounts, page.accounts());
            }
            let mut children = self
                .client
                .list_children()
                .parent_id(&unit)
                .child_type(ChildType::OrganizationalUnit)
                .max_results(ACCOUNTS_PER_PAGE)
                .into_paginator()
                .send();
            while let Some(page) = children.next().await {
                let page = page.map_err(|e| organizations_error("ListChildren", &e))?;
                accounts.calls += 1;
                pending.extend(
                    page.children()
                        .iter()
                        .filter_map(|c| c.id().map(str::to_owned)),
                );
            }
        }
        accounts.active.sort();
        accounts.active.dedup();
        Ok(accounts)
    }
}

pub struct AccountRegions {
    client: aws_sdk_account::Client,
    /// The account the enumerator runs in: Account Management refuses its own id as `AccountId`.
    own_account: Option<String>,
}

impl AccountRegions {
    pub fn new(client: aws_sdk_account::Client, own_account: Option<String>) -> Self {
        Self {
            client,
            own_account,
        }
    }
}

impl RegionDirectory for AccountRegions {
    async fn enabled_regions(&self, account: &str) -> Result<Vec<String>, String> {
        let mut request = self
            .client
            .list_regions()
            .region_opt_status_contains(RegionOptStatus::Enabled)
            .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
            .max_results(50);
        if self.own_account.as_deref() != Some(account) {
            request = request.account_id(account);
        }
        let mut regions = Vec::new();
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                format!(
                    "Account Management ListRegions failed for {account}: {}",
                    aws_sdk_account::error::DisplayErrorContext(&e)
                )
            })?;
            regions.extend(
                page.regions()
                    .iter()
                    .filter_map(|r| r.region_name().map(str::to_owned)),
            );
        }
        Ok(regions)
    }
}

/// SQS takes at most 10 messages a batch.
const MESSAGES_PER_BATCH: usize = 10;

pub struct SqsWorkQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsWorkQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: String) -> Self {
        Self { client, url }
    }

    /// Sends one batch; answers the entries SQS refused (by index in `batch`).
    async fn send_batch(&self, batch: &[&WorkItem]) -> Result<Vec<usize>, String> {
        let mut entries = Vec::with_capacity(batch.len());
        for (index, item) in batch.iter().enumerate() {
            let body = serde_json::to_string(item).map_err(|e| e.to_string())?;
            let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id(index.to_string())
                .message_body(body)
                .build()
                .map_err(|e| e.to_string())?;
            entries.push(entry);
        }
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "SQS SendMessageBatch failed: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })?;
        Ok(output
            .failed()
            .iter()
            .filter_map(|failure| failure.id().parse().ok())
            .collect())
    }
}

impl WorkQueue for SqsWorkQueue {
    async fn send(&self, items: &[WorkItem]) -> Result<(), String> {
        for chunk in items.chunks(MESSAGES_PER_BATCH) {
            let batch: Vec<&WorkItem> = chunk.iter().collect();
            let refused = self.send_batch(&batch).await?;
            if refused.is_empty() {
                continue;
            }
            // Refused entries (throttling, a transient error) get one more batch of their own.
            let retry: Vec<&WorkItem> = refused
                .iter()
                .filter_map(|&i| batch.get(i).copied())
                .collect();
            let still_refused = self.send_batch(&retry).await?;
            if !still_refused.is_empty() {
                return Err(format!(
                    "SQS refused {} work item(s) twice",
                    still_refused.len()
                ));
            }
        }
        Ok(())
    }
}

/// How long received results stay invisible: longer than a report takes, shorter than the time
/// between reports (so that a run not yet due is looked at again).
const RESULTS_VISIBILITY_SECONDS: i32 = 300;

pub struct SqsResultsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsResultsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: String) -> Self {
        Self { client, url }
    }
}

fn sqs_error<E: std::error::Error>(operation: &str, error: &E) -> String {
    format!(
        "SQS {operation} failed: {}",
        aws_sdk_sqs::error::DisplayErrorContext(error)
    )
}

impl ResultsQueue for SqsResultsQueue {
    async fn send_manifest(&self, manifest: &RunManifest) -> Result<(), String> {
        let message = ResultsMessage::Manifest {
            manifest: manifest.clone(),
        };
        shared::organization::send_json(&self.client, &self.url, &message).await
    }

    async fn receive_all(&self) -> Result<Vec<Received>, String> {
        let mut received = Vec::new();
        loop {
            let messages = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .visibility_timeout(RESULTS_VISIBILITY_SECONDS)
                .send()
                .await
                .map_err(|e| sqs_error("ReceiveMessage", &e))?
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                return Ok(received);
            }
            received.extend(messages.into_iter().filter_map(|m| {
                Some(Received {
                    receipt_handle: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                })
            }));
        }
    }

    async fn delete(&self, receipt_handles: &[String]) -> Result<(), String> {
        for chunk in receipt_handles.chunks(MESSAGES_PER_BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (index, handle) in chunk.iter().enumerate() {
                entries.push(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(index.to_string())
                        .receipt_handle(handle)
                        .build()
                        .map_err(|e| e.to_string())?,
                );
            }
            let output = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sqs_error("DeleteMessageBatch", &e))?;
            if !output.failed().is_empty() {
                // Left on the queue, they are reported again with their run: a duplicate
                // digest, never a lost one.
                tracing::warn!(
                    failed = output.failed().len(),
                    "some results could not be deleted"
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_organizations::operation::list_accounts::ListAccountsOutput;
    use aws_sdk_organizations::types::Account;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn account(id: &str, state: Option<AccountState>, status: Option<AccountStatus>) -> Account {
        Account::builder()
            .id(id)
            .set_state(state)
            .set_status(status)
            .build()
    }

    #[tokio::test]
    async fn every_page_of_list_accounts_is_read_and_only_active_accounts_kept() {
        let first = mock!(aws_sdk_organizations::Client::list_accounts)
            .match_requests(|r| r.next_token().is_none() && r.max_results() == Some(20))
            .then_output(|| {
                ListAccountsOutput::builder()
                    .accounts(account("111111111111", Some(AccountState::Active), None))
                    .accounts(account(
                        "222222222222",
                        Some(AccountState::Suspended),
                        Some(AccountStatus::Suspended),
                    ))
                    .next_token("page-2")
                    .build()
            });
        // An empty page with a token: more may follow, and the listing goes on.
        let second = mock!(aws_sdk_organizations::Client::list_accounts)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| ListAccountsOutput::builder().next_token("page-3").build());
        let third = mock!(aws_sdk_organizations::Client::list_accounts)
            .match_requests(|r| r.next_token() == Some("page-3"))
            .then_output(|| {
                ListAccountsOutput::builder()
                    .accounts(account("333333333333", None, Some(AccountStatus::Active)))
                    .accounts(account(
                        "444444444444",
                        Some(AccountState::PendingClosure),
                        Some(AccountStatus::Active),
                    ))
                    .build()
            });
        let client = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [&first, &second, &third]
        );
        let accounts = Organizations::new(client).all_accounts().await.unwrap();
        assert_eq!(accounts.active, ["111111111111", "333333333333"]);
        assert_eq!(accounts.inactive, 2);
        assert_eq!(accounts.calls, 3);
        assert_eq!(
            (first.num_calls(), second.num_calls(), third.num_calls()),
            (1, 1, 1)
        );
    }

    #[tokio::test]
    async fn a_failed_page_fails_the_listing_instead_of_returning_part_of_it() {
        let first = mock!(aws_sdk_organizations::Client::list_accounts)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListAccountsOutput::builder()
                    .accounts(account("111111111111", Some(AccountState::Active), None))
                    .next_token("page-2")
                    .build()
            });
        let throttled = mock!(aws_sdk_organizations::Client::list_accounts)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_error(|| {
                aws_sdk_organizations::operation::list_accounts::ListAccountsError::AccessDeniedException(
                    aws_sdk_organizations::types::error::AccessDeniedException::builder()
                        .message("not the management account")
                        .build(),
                )
            });
        let client = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [&first, &throttled]
        );
        let error = Organizations::new(client).all_accounts().await.unwrap_err();
        assert!(
            error.contains("ListAccounts") && error.contains("AccessDenied"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn enabled_regions_are_asked_for_each_account_but_never_for_the_callers_own() {
        use aws_sdk_account::operation::list_regions::ListRegionsOutput;
        use aws_sdk_account::types::Region;
        let member = mock!(aws_sdk_account::Client::list_regions)
            .match_requests(|r| {
                r.account_id() == Some("111111111111")
                    && r.region_opt_status_contains()
                        == [RegionOptStatus::Enabled, RegionOptStatus::EnabledByDefault]
            })
            .then_output(|| {
                ListRegionsOutput::builder()
                    .regions(Region::builder().region_name("eu-west-1").build())
                    .regions(Region::builder().region_name("us-east-1").build())
                    .build()
            });
        let own = mock!(aws_sdk_account::Client::list_regions)
            .match_requests(|r| r.account_id().is_none())
            .then_output(|| {
                ListRegionsOutput::builder()
                    .regions(Region::builder().region_name("us-east-1").build())
                    .build()
            });
        let client = mock_client!(aws_sdk_account, RuleMode::MatchAny, [&member, &own]);
        let regions = AccountRegions::new(client, Some("999999999999".into()));
        assert_eq!(
            regions.enabled_regions("111111111111").await.unwrap(),
            ["eu-west-1", "us-east-1"]
        );
        assert_eq!(
            regions.enabled_regions("999999999999").await.unwrap(),
            ["us-east-1"]
        );
    }
}
