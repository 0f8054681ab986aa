//! What every function shares: configuration from the environment, the AWS clients' configuration,
//! structured logging, secret handling and password generation, alerts to SNS, and the Secrets
//! Manager rotation protocol that every rotation function runs.
//!
//! Decisions are pure functions over plain data (see [`rotation::guard`], [`password`], [`alert`]
//! rendering); AWS calls live in thin adapters behind small traits ([`rotation::SecretStore`],
//! [`alert::AlertSink`]).

pub mod alert;
pub mod aws;
pub mod calls;
pub mod certificates;
pub mod config;
pub mod database;
pub mod expiry;
pub mod fields;
pub mod findings;
pub mod iam;
pub mod identifiers;
pub mod kms;
pub mod logging;
pub mod metrics;
pub mod organization;
pub mod password;
pub mod ratelimit;
pub mod retry;
pub mod rotation;
pub mod secret;
pub mod startup;
pub mod text;
pub mod time;
