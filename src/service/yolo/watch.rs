//! While an approved command runs, the YOLO mode it runs under must still
//! stand: `yolo revoke`, `end` or a new request — from any process on the
//! database — stops it.

use std::time::Duration;

use crate::domain::{ConversationId, Timestamp};
use crate::service::Bridge;
use crate::store::{ActivationState, YoloStore};

/// How often a running command's activation is read: about how long a
/// command goes on after its YOLO mode was withdrawn.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

impl<S: YoloStore> Bridge<S> {
    /// Resolves once the activation of `conversation` requested at
    /// `requested_at` no longer stands: revoked (`yolo revoke`, `end`),
    /// replaced by a new request, or gone. Its expiry does not count: a human
    /// approved the command while it stood, and its timeout bounds the run.
    /// A failed read counts as standing: the store being away for a moment
    /// must not kill a build.
    pub(super) async fn withdrawn(&self, conversation: &ConversationId, requested_at: Timestamp) {
        loop {
            tokio::time::sleep(WATCH_INTERVAL).await;
            if !self.standing(conversation, requested_at).await {
                return;
            }
        }
    }

    /// Whether the activation of `conversation` requested at `requested_at`
    /// still stands (see [`Bridge::withdrawn`]); read once, right before a
    /// command starts, so a mode revoked during the git snapshot runs nothing.
    pub(super) async fn standing(
        &self,
        conversation: &ConversationId,
        requested_at: Timestamp,
    ) -> bool {
        match self.store.activation(conversation).await {
            Ok(Some(a)) => {
                a.state == ActivationState::Active && a.request.requested_at == requested_at
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %crate::store::error_chain(&e), "cannot read the YOLO mode of a running command; it runs on");
                true
            }
        }
    }
}
