//! Issuing the calls a decision needs, and only those.

use std::future::Future;

/// Awaits `call` only when `needed`: joined with other calls, an unneeded one costs nothing.
pub async fn when<F: Future>(needed: bool, call: F) -> Option<F::Output> {
    match needed {
        true => Some(call.await),
        false => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn an_unneeded_call_is_never_made() {
        let made = AtomicUsize::new(0);
        let call = || async {
            made.fetch_add(1, Ordering::Relaxed);
            7
        };
        assert_eq!(when(false, call()).await, None);
        assert_eq!(made.load(Ordering::Relaxed), 0);
        assert_eq!(when(true, call()).await, Some(7));
        assert_eq!(made.load(Ordering::Relaxed), 1);
    }
}
