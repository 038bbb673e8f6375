//! What every signed-in page shows around its content: the top bar and the left rail.

use ladder_core::Role;
use ladder_storage::escalations;
use ladder_storage::queues::{self, Filter};

use super::queues::{count_shown, COUNT_CAP};
use super::{approvals, assets, PageError, Viewer};
use crate::state::AppState;

/// The rail's counts, as shown: "12", or "999+" past `queues::COUNT_CAP`.
pub struct Counts {
    pub mine: String,
    pub watching: String,
    pub escalations: String,
    /// The approvals waiting for this person's decision.
    pub approvals: String,
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

    /// The layout with the rail's counts, read from the queues themselves. Every page pays
    /// for them, so each is a capped count over one index, and none reads what the rail does
    /// not show (the counts by status, the rows).
    pub async fn load(
        state: &AppState,
        viewer: &Viewer,
        here: &'static str,
    ) -> Result<Chrome, PageError> {
        let mut chrome = Chrome::bare(viewer);
        chrome.here = here;
        let caller = &viewer.caller;
        let all = Filter::default();
        let mut conn = state.db.conn().await?;
        let keys = caller.queue_keys();
        let audience = caller.queue_audience(&keys);
        // The queue is soonest due first: its first row says whether anything is overdue.
        let first = Filter {
            limit: 1,
            ..Filter::default()
        };
        let (head, _) = queues::escalations_rows(&mut conn, &audience, &first).await?;
        let now = state.now();
        let overdue = head
            .first()
            .and_then(|i| i.escalation.queue_due_at())
            .is_some_and(|due| due <= now);
        let escalations = queues::escalations_total(&mut conn, &audience, &all, COUNT_CAP).await?;
        let (mine, watching, approvals) = if caller.is_platform() {
            (0, 0, String::new())
        } else {
            let (tenant, user) = (caller.tenant_id(), &caller.user.id);
            let mine = queues::mine_total(&mut conn, tenant, user, &all, COUNT_CAP).await?;
            let watching = queues::watching_total(&mut conn, tenant, user, &all, COUNT_CAP).await?;
            let pending =
                escalations::pending_approvals_first(&mut conn, tenant, COUNT_CAP).await?;
            let policy = crate::flows::policy_in(&mut conn, tenant).await?;
            let mine_to_decide = pending
                .iter()
                .filter(|a| approvals::may_decide(&caller.actor, &policy, a))
                .count() as i64;
            // Read no further than the cap: past it there may be more for this person.
            let approvals = if pending.len() as i64 >= COUNT_CAP {
                format!("{mine_to_decide}+")
            } else {
                mine_to_decide.to_string()
            };
            (mine, watching, approvals)
        };
        chrome.counts = Some(Counts {
            mine: count_shown(mine),
            watching: count_shown(watching),
            escalations: count_shown(escalations),
            approvals,
            overdue,
        });
        Ok(chrome)
    }
}
