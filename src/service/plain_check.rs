//! A plain `check_messages` of one session that spends a quota (rate limits
//! on, the default, and no wait): its authorisation is read in the take's
//! own transaction ([`Store::take_admitted`]) instead of before it, which
//! saves a read per call (a round trip on PostgreSQL, a read transaction on
//! SQLite). Every other check goes through [`Bridge::check_messages`]'s
//! general path.

use super::delivery::{Inbox, TOOL};
use super::session_draft;
use super::{Bridge, CheckMessages, ServiceError, SessionCredentials, admission};
use crate::domain::MAX_REPLY_BYTES;
use crate::store::{PageLimit, Store};

impl<S: Store> Bridge<S> {
    /// Reads one page of `c`'s inbox, admitting the caller on the
    /// conversation the take reads: the same answers, refusals and audit
    /// records as the general path.
    pub(super) async fn plain_check(
        &self,
        c: &SessionCredentials,
        check: CheckMessages,
    ) -> Result<Inbox, ServiceError> {
        let at = self.clock.now();
        let draft = session_draft(TOOL, c);
        self.verify_token(c, &draft, at)?;
        let lease = match Self::lease(check.leased, at) {
            Ok(lease) => lease,
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        let limit = PageLimit {
            count: check.limit,
            bytes: MAX_REPLY_BYTES,
        };
        let admit = admission(c.side, at);
        let guard = self.guard(c, TOOL, at, draft.clone());
        let taken = self
            .store
            .take_admitted(c.conversation.clone(), c.side, limit, lease, guard, admit)
            .await;
        let (conversation, page) = match taken {
            Ok(Ok(taken)) => taken,
            Ok(Err(denied)) => return Err(self.deny(&draft, at, denied)),
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        let mut inbox = Inbox::default();
        inbox.add(&conversation, page);
        Ok(inbox)
    }
}
