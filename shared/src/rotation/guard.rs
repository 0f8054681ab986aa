//! The pure decisions of the protocol: may this step run, and what must finishSecret change.

use std::collections::BTreeMap;

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// What `DescribeSecret` says, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretState {
    pub arn: String,
    pub name: String,
    pub rotation_enabled: bool,
    /// Version id -> its staging labels.
    pub versions: BTreeMap<String, Vec<String>>,
}

impl SecretState {
    pub fn version_with(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.as_str())
    }

    pub fn has_stage(&self, version: &str, stage: &str) -> bool {
        self.versions
            .get(version)
            .is_some_and(|stages| stages.iter().any(|s| s == stage))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GuardError {
    #[error("rotation is not enabled for secret {secret}")]
    RotationNotEnabled { secret: String },
    #[error("secret {secret} has no version {token}: no stage for rotation")]
    TokenNotInSecret { secret: String, token: String },
    #[error("version {token} of secret {secret} is not staged AWSPENDING (stages: {stages})")]
    TokenNotPending {
        secret: String,
        token: String,
        stages: String,
    },
    #[error("secret {secret} has no version staged AWSCURRENT")]
    NoCurrentVersion { secret: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardOutcome {
    /// Run the step.
    Proceed,
    /// The token's version is already `AWSCURRENT`: the rotation finished; every step succeeds
    /// without doing anything (finishSecret still tidies the labels, see [`plan_finish`]).
    AlreadyCurrent,
}

/// The reference template's guards, in its order.
pub fn check(state: &SecretState, token: &str) -> Result<GuardOutcome, GuardError> {
    if !state.rotation_enabled {
        return Err(GuardError::RotationNotEnabled {
            secret: state.name.clone(),
        });
    }
    let Some(stages) = state.versions.get(token) else {
        return Err(GuardError::TokenNotInSecret {
            secret: state.name.clone(),
            token: token.to_owned(),
        });
    };
    if stages.iter().any(|s| s == AWSCURRENT) {
        return Ok(GuardOutcome::AlreadyCurrent);
    }
    if !stages.iter().any(|s| s == AWSPENDING) {
        return Err(GuardError::TokenNotPending {
            secret: state.name.clone(),
            token: token.to_owned(),
            stages: if stages.is_empty() {
                "none".to_owned()
            } else {
                stages.join(", ")
            },
        });
    }
    Ok(GuardOutcome::Proceed)
}

/// What finishSecret must change, derived from the labels alone so that a retry after a crash at
/// any point computes exactly the remaining work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishPlan {
    /// Move `AWSCURRENT` from this version to the token (it becomes `AWSPREVIOUS`).
    pub move_current_from: Option<String>,
    /// Remove `AWSPENDING` from the token's version, so the next `RotateSecret` can never fail
    /// with "a previous rotation isn't complete".
    pub remove_pending: bool,
}

impl FinishPlan {
    pub fn is_empty(&self) -> bool {
        self.move_current_from.is_none() && !self.remove_pending
    }
}

pub fn plan_finish(state: &SecretState, token: &str) -> Result<FinishPlan, GuardError> {
    let current = state
        .version_with(AWSCURRENT)
        .ok_or_else(|| GuardError::NoCurrentVersion {
            secret: state.name.clone(),
        })?;
    Ok(FinishPlan {
        move_current_from: (current != token).then(|| current.to_owned()),
        remove_pending: state.has_stage(token, AWSPENDING),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(enabled: bool, versions: &[(&str, &[&str])]) -> SecretState {
        SecretState {
            arn: "arn:aws:secretsmanager:eu-west-1:1:secret:s-AbCdEf".into(),
            name: "s".into(),
            rotation_enabled: enabled,
            versions: versions
                .iter()
                .map(|(id, stages)| {
                    (
                        id.to_string(),
                        stages.iter().map(|s| s.to_string()).collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_pending_token_proceeds() {
        let s = state(true, &[("old", &[AWSCURRENT]), ("tok", &[AWSPENDING])]);
        assert_eq!(check(&s, "tok"), Ok(GuardOutcome::Proceed));
    }

    #[test]
    fn rotation_must_be_enabled_before_anything_else() {
        let s = state(false, &[("old", &[AWSCURRENT]), ("tok", &[AWSPENDING])]);
        assert_eq!(
            check(&s, "tok"),
            Err(GuardError::RotationNotEnabled { secret: "s".into() })
        );
    }

    #[test]
    fn an_unknown_token_is_rejected() {
        let s = state(true, &[("old", &[AWSCURRENT])]);
        let error = check(&s, "nope").unwrap_err();
        assert_eq!(
            error,
            GuardError::TokenNotInSecret {
                secret: "s".into(),
                token: "nope".into()
            }
        );
        assert!(error.to_string().contains("no stage for rotation"));
    }

    #[test]
    fn a_current_token_means_already_finished_even_if_still_pending() {
        assert_eq!(
            check(&state(true, &[("tok", &[AWSCURRENT])]), "tok"),
            Ok(GuardOutcome::AlreadyCurrent)
        );
        assert_eq!(
            check(&state(true, &[("tok", &[AWSPENDING, AWSCURRENT])]), "tok"),
            Ok(GuardOutcome::AlreadyCurrent)
        );
    }

    #[test]
    fn a_token_that_is_neither_current_nor_pending_is_rejected() {
        let s = state(
            true,
            &[
                ("cur", &[AWSCURRENT]),
                ("tok", &[AWSPREVIOUS]),
                ("bare", &[]),
            ],
        );
        assert_eq!(
            check(&s, "tok"),
            Err(GuardError::TokenNotPending {
                secret: "s".into(),
                token: "tok".into(),
                stages: "AWSPREVIOUS".into()
            })
        );
        assert!(
            matches!(check(&s, "bare"), Err(GuardError::TokenNotPending { stages, .. }) if stages == "none")
        );
    }

    #[test]
    fn finish_moves_current_and_clears_pending() {
        let s = state(true, &[("old", &[AWSCURRENT]), ("tok", &[AWSPENDING])]);
        assert_eq!(
            plan_finish(&s, "tok"),
            Ok(FinishPlan {
                move_current_from: Some("old".into()),
                remove_pending: true
            })
        );
    }

    #[test]
    fn finish_after_a_crash_between_its_two_changes_only_clears_pending() {
        let s = state(
            true,
            &[("old", &[AWSPREVIOUS]), ("tok", &[AWSCURRENT, AWSPENDING])],
        );
        assert_eq!(
            plan_finish(&s, "tok"),
            Ok(FinishPlan {
                move_current_from: None,
                remove_pending: true
            })
        );
    }

    #[test]
    fn finish_when_done_does_nothing() {
        let s = state(true, &[("old", &[AWSPREVIOUS]), ("tok", &[AWSCURRENT])]);
        let plan = plan_finish(&s, "tok").unwrap();
        assert!(plan.is_empty());
    }

    #[test]
    fn finish_without_any_current_version_is_an_error() {
        let s = state(true, &[("tok", &[AWSPENDING])]);
        assert_eq!(
            plan_finish(&s, "tok"),
            Err(GuardError::NoCurrentVersion { secret: "s".into() })
        );
    }
}
