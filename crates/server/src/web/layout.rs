//! What every signed-in page shows around its content: the top bar and the left rail.

use ladder_core::Role;
use ladder_storage::escalations;
use ladder_storage::queues::{self, Audience, Filter};

use super::{assets, PageError, Viewer};
use crate::state::AppState;

/// The rail's counts.
pub struct Counts {
    pub mine: i64,
    pub watching: i64,
    pub escalations: i64,
    pub approvals: i64,
    /// Something in the escalations queue is past a deadline.
    pub overdue: bool,
}

/// The layout's data: who is signed in, where, and the rail's counts.
pub struct Chrome {
    pub org: String,
    pub person: String,
    pub csrf: String,
    pub manager: bool,
    pub platform: bool,
    /// Which rail entry is this page's ("mine", "watching", "escalations", …).
    pub here: &'static str,
    pub counts: Option<Counts>,
    pub flash: Option<String>,
    /// What the search box shows.
    pub query: String,
    pub assets: &'static str,
}

impl Chrome {
    /// The layout without counts (error pages).
    pub fn bare(viewer: &Viewer) -> Chrome {
        let role = viewer.caller.role();
        Chrome {
            org: viewer.tenant.name.clone(),
            person: viewer.caller.user.name.clone(),
            csrf: viewer.csrf(),
            manager: matches!(role, Role::Owner | Role::Admin),
            platform: viewer.caller.is_platform(),
            here: "",
            counts: None,
            flash: viewer.flash.clone(),
            query: String::new(),
            assets: assets::version(),
        }
    }

    /// The layout with the rail's counts, read from the queues themselves.
    pub async fn load(
        state: &AppState,
        viewer: &Viewer,
        here: &'static str,
    ) -> Result<Chrome, PageError> {
        let mut chrome = Chrome::bare(viewer);
        chrome.here = here;
        let caller = &viewer.caller;
        // One row each: the counts come with the page.
        let one = Filter {
            limit: 1,
            ..Filter::default()
        };
        let mut conn = state.db.conn().await?;
        let keys = caller.queue_keys();
        let audience = if caller.is_platform() {
            Audience::Platform
        } else {
            Audience::Staff {
                tenant_id: caller.tenant_id(),
                user_id: &caller.user.id,
                keys: &keys,
            }
        };
        // The queue is soonest due first: its first row says whether anything is overdue.
        let first = queues::escalations(&mut conn, &audience, &one).await?;
        let now = state.now();
        let overdue = first
            .items
            .first()
            .and_then(|i| i.escalation.queue_due_at())
            .is_some_and(|due| due <= now);
        let escalations_total = first.total;
        let (mine, watching, approvals) = if caller.is_platform() {
            (0, 0, 0)
        } else {
            let mine = queues::mine(&mut conn, caller.tenant_id(), &caller.user.id, &one)
                .await?
                .total;
            let watching = queues::watching(&mut conn, caller.tenant_id(), &caller.user.id, &one)
                .await?
                .total;
            let approvals = escalations::pending_approvals(&mut conn, caller.tenant_id())
                .await?
                .len() as i64;
            (mine, watching, approvals)
        };
        chrome.counts = Some(Counts {
            mine,
            watching,
            escalations: escalations_total,
            approvals,
            overdue,
        });
        Ok(chrome)
    }
}
