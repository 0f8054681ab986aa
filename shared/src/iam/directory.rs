//! The IAM port the rotator needs, and its SDK adapter.

use super::{AccessKey, KeyUse};
use crate::secret::SecretText;
use aws_sdk_iam::error::DisplayErrorContext;
use aws_sdk_iam::types::{StatusType, Tag};
use std::collections::BTreeMap;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamUser {
    pub name: String,
    pub arn: String,
}

/// A key just created: the only moment its secret exists. It must be stored before anything else.
#[derive(Debug)]
pub struct NewKey {
    pub id: String,
    pub secret: SecretText,
    pub created: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("IAM user {user} does not exist")]
    UserNotFound { user: String },
    #[error("IAM user {user} has no access key {key}")]
    KeyNotFound { user: String, key: String },
    #[error("IAM user {user} already has two access keys")]
    KeyLimitReached { user: String },
    #[error("IAM {operation} failed for {subject}: {message}")]
    Api {
        operation: &'static str,
        subject: String,
        message: String,
    },
}

/// Every user under a path, and how many `ListUsers` pages it took.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserListing {
    pub users: Vec<IamUser>,
    pub pages: usize,
}

pub trait KeyDirectory: Send + Sync {
    /// Every user under the path prefix (all pages).
    fn users(
        &self,
        path_prefix: &str,
    ) -> impl Future<Output = Result<UserListing, DirectoryError>> + Send;
    fn user(&self, name: &str) -> impl Future<Output = Result<IamUser, DirectoryError>> + Send;
    fn tags(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>, DirectoryError>> + Send;
    fn groups(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<String>, DirectoryError>> + Send;
    /// The user's keys, without their last use.
    fn keys(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Vec<AccessKey>, DirectoryError>> + Send;
    fn last_used(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<KeyUse>, DirectoryError>> + Send;
    fn create_key(&self, user: &str)
        -> impl Future<Output = Result<NewKey, DirectoryError>> + Send;
    /// [`DirectoryError::KeyNotFound`] when the key does not exist (or no longer does).
    fn deactivate_key(
        &self,
        user: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;
    /// Succeeds when the key is already gone (another run deleted it).
    fn delete_key(
        &self,
        user: &str,
        key: &str,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;
    /// Sets these tags on the user in one call (`TagUser` takes up to 50).
    fn tag(
        &self,
        user: &str,
        tags: &[(&str, &str)],
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;
    /// Removes these tags from the user in one call.
    fn untag(
        &self,
        user: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;
}

pub struct IamDirectory {
    client: aws_sdk_iam::Client,
}

impl IamDirectory {
    pub fn new(client: aws_sdk_iam::Client) -> Self {
        Self { client }
    }
}

fn api<E: std::error::Error>(operation: &'static str, subject: &str, error: &E) -> DirectoryError {
    DirectoryError::Api {
        operation,
        subject: subject.to_owned(),
        message: DisplayErrorContext(error).to_string(),
    }
}

fn epoch(at: Option<aws_sdk_iam::primitives::DateTime>) -> i64 {
    at.map_or(0, |t| t.secs())
}

impl KeyDirectory for IamDirectory {
    async fn users(&self, path_prefix: &str) -> Result<UserListing, DirectoryError> {
        let mut pages = self
            .client
            .list_users()
            .path_prefix(path_prefix)
            // IAM's largest page: a tenth of the default's round trips, which wait on each
            // other, and a bounded page to hold however large the account.
            .max_items(1000)
            .into_paginator()
            .send();
        let mut listing = UserListing::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| api("ListUsers", path_prefix, &e))?;
            listing.pages += 1;
            listing
                .users
                .extend(page.users.into_iter().map(|u| IamUser {
                    name: u.user_name,
                    arn: u.arn,
                }));
        }
        Ok(listing)
    }

    async fn user(&self, name: &str) -> Result<IamUser, DirectoryError> {
        match self.client.get_user().user_name(name).send().await {
            Ok(output) => output
                .user
                .map(|u| IamUser {
                    name: u.user_name,
                    arn: u.arn,
                })
                .ok_or_else(|| DirectoryError::UserNotFound {
                    user: name.to_owned(),
                }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                Err(DirectoryError::UserNotFound {
                    user: name.to_owned(),
                })
            }
            Err(e) => Err(api("GetUser", name, &e)),
        }
    }

    async fn tags(&self, user: &str) -> Result<BTreeMap<String, String>, DirectoryError> {
        let mut pages = self
            .client
            .list_user_tags()
            .user_name(user)
            .into_paginator()
            .items()
            .send();
        let mut tags = BTreeMap::new();
        while let Some(tag) = pages.next().await {
            let tag = tag.map_err(|e| api("ListUserTags", user, &e))?;
            tags.insert(tag.key, tag.value);
        }
        Ok(tags)
    }

    async fn groups(&self, user: &str) -> Result<Vec<String>, DirectoryError> {
        let mut pages = self
            .client
            .list_groups_for_user()
            .user_name(user)
            .into_paginator()
            .items()
            .send();
        let mut groups = Vec::new();
        while let Some(group) = pages.next().await {
            groups.push(
                group
                    .map_err(|e| api("ListGroupsForUser", user, &e))?
                    .group_name,
            );
        }
        Ok(groups)
    }

    async fn keys(&self, user: &str) -> Result<Vec<AccessKey>, DirectoryError> {
        let output = self
            .client
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(|e| api("ListAccessKeys", user, &e))?;
        Ok(output
            .access_key_metadata
            .into_iter()
            .filter_map(|k| {
                Some(AccessKey {
                    id: k.access_key_id?,
                    active: k.status == Some(StatusType::Active),
                    created: epoch(k.create_date),
                    last_used: None,
                })
            })
            .collect())
    }

    async fn last_used(&self, key: &str) -> Result<Option<KeyUse>, DirectoryError> {
        let output = self
            .client
            .get_access_key_last_used()
            .access_key_id(key)
            .send()
            .await
            .map_err(|e| api("GetAccessKeyLastUsed", &super::key_suffix(key), &e))?;
        let known = |s: String| (s != "N/A" && !s.is_empty()).then_some(s);
        Ok(output.access_key_last_used.and_then(|used| {
            Some(KeyUse {
                at: used.last_used_date?.secs(),
                service: known(used.service_name),
                region: known(used.region),
            })
        }))
    }

    async fn create_key(&self, user: &str) -> Result<NewKey, DirectoryError> {
        let output = match self.client.create_access_key().user_name(user).send().await {
            Ok(output) => output,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_limit_exceeded_exception()) =>
            {
                return Err(DirectoryError::KeyLimitReached {
                    user: user.to_owned(),
                })
            }
            Err(e) => return Err(api("CreateAccessKey", user, &e)),
        };
        let key = output.access_key.ok_or_else(|| DirectoryError::Api {
            operation: "CreateAccessKey",
            subject: user.to_owned(),
            message: "the response held no key".into(),
        })?;
        Ok(NewKey {
            id: key.access_key_id,
            secret: SecretText::new(key.secret_access_key),
            created: epoch(key.create_date),
        })
    }

    async fn deactivate_key(&self, user: &str, key: &str) -> Result<(), DirectoryError> {
        match self
            .client
            .update_access_key()
            .user_name(user)
            .access_key_id(key)
            .status(StatusType::Inactive)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                Err(DirectoryError::KeyNotFound {
                    user: user.to_owned(),
                    key: super::key_suffix(key),
                })
            }
            Err(e) => Err(api("UpdateAccessKey", user, &e)),
        }
    }

    async fn delete_key(&self, user: &str, key: &str) -> Result<(), DirectoryError> {
        match self
            .client
            .delete_access_key()
            .user_name(user)
            .access_key_id(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(api("DeleteAccessKey", user, &e)),
        }
    }

    async fn tag(&self, user: &str, tags: &[(&str, &str)]) -> Result<(), DirectoryError> {
        let tags = tags
            .iter()
            .map(|(key, value)| Tag::builder().key(*key).value(*value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| api("TagUser", user, &e))?;
        self.client
            .tag_user()
            .user_name(user)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| api("TagUser", user, &e))?;
        Ok(())
    }

    async fn untag(&self, user: &str, keys: &[&str]) -> Result<(), DirectoryError> {
        self.client
            .untag_user()
            .user_name(user)
            .set_tag_keys(Some(keys.iter().map(|k| (*k).to_owned()).collect()))
            .send()
            .await
            .map_err(|e| api("UntagUser", user, &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::operation::list_users::ListUsersOutput;
    use aws_sdk_iam::types::User;
    use aws_sdk_iam::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn user(name: &str) -> User {
        User::builder()
            .user_name(name)
            .user_id(format!("ID{name}"))
            .arn(format!("arn:aws:iam::123456789012:user/team/{name}"))
            .path("/team/")
            .create_date(aws_sdk_iam::primitives::DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    /// moto ignores `MaxItems`, so the pagination every account past 100 users depends on is
    /// tested here (the reference sample never paginated).
    #[tokio::test]
    async fn every_page_of_users_is_read_with_the_path_prefix() {
        let first = mock!(Client::list_users)
            .match_requests(|r| r.marker().is_none() && r.path_prefix() == Some("/team/"))
            .then_output(|| {
                ListUsersOutput::builder()
                    .users(user("a"))
                    .users(user("b"))
                    .is_truncated(true)
                    .marker("m2")
                    .build()
                    .unwrap()
            });
        let second = mock!(Client::list_users)
            .match_requests(|r| r.marker() == Some("m2"))
            .then_output(|| {
                ListUsersOutput::builder()
                    .users(user("c"))
                    .is_truncated(false)
                    .build()
                    .unwrap()
            });
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&first, &second]);
        let listing = IamDirectory::new(client).users("/team/").await.unwrap();
        let users = &listing.users;
        assert_eq!(listing.pages, 2);
        assert_eq!(
            users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(users[2].arn, "arn:aws:iam::123456789012:user/team/c");
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }
}
