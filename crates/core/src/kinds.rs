//! The closed vocabularies of the product: roles, statuses, categories and so on.
//!
//! Each is stored and sent as its snake_case name (`de_escalated`, `platform_support`), the
//! same string in JSON, in the database and in the audit trail.

use serde::{Deserialize, Serialize};
use strum::{AsRefStr, Display, EnumIter, EnumString, IntoStaticStr};

macro_rules! vocabulary {
    ($($(#[$doc:meta])* $name:ident { $($variant:ident),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            AsRefStr, Display, EnumString, EnumIter, IntoStaticStr, utoipa::ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// Every accepted name, for error messages that tell the caller what would work.
            pub fn names() -> Vec<&'static str> {
                <Self as strum::IntoEnumIterator>::iter().map(Self::as_str).collect()
            }
        }
    )*};
}

vocabulary! {
    /// What a user may do. Platform support belongs to the platform, not to a tenant.
    Role { Owner, Admin, Agent, Specialist, PlatformSupport, Auditor }

    /// How a ticket reached us.
    Channel { Web, Email, Phone, Chat, Api }

    /// What a ticket or an escalation is about.
    Category { Complaint, Billing, Pricing, Technical, Clinical, Legal, Safety, Other }

    Priority { Low, Normal, High, Urgent, Critical }

    /// `new → open ⇄ pending → escalated → resolved → closed`, and reopen.
    TicketStatus { New, Open, Pending, Escalated, Resolved, Closed }

    /// `requested → acknowledged → resolved`, or `de_escalated`, or `superseded`.
    EscalationState { Requested, Acknowledged, Resolved, DeEscalated, Superseded }

    /// Who an escalation is addressed to.
    TargetKind { Owner, User, Team, Role, Platform }

    /// How the customer wants to be contacted by whoever takes the escalation.
    ContactMethod { Call, Text, Email }

    /// The escalator's sense of urgency: urgent is same business day, standard 2–3 days.
    Urgency { Urgent, Standard }

    /// A customer's value to the business; high-value and VIP customers escalate sooner.
    CustomerTier { Standard, Vip, HighValue }

    /// A detected or derived reason to escalate. The first ten are found in the text of a
    /// message; the rest come from history and the clock.
    TriggerKind {
        LegalThreat, Threat, ClinicalDispute, ManagerRequest, PublicComplaint, Regulator,
        BillingDispute, Anger, RepeatContact, SafetyRisk,
        HighValueCustomer, ManyCustomers, SlaBreach,
    }

    /// What the tenant wants done when a trigger fires.
    TriggerMode { Off, Suggest, Auto }

    CompensationKind { None, Refund, Credit, Other }

    /// Whether the customer agreed the escalation was resolved.
    CustomerVerification { Verified, Disputed, NoResponse }

    /// How two tickets relate. `child_of` links a customer's ticket to the parent incident
    /// ticket that groups the same problem reported by many customers.
    LinkKind { Related, Duplicate, FollowUpOf, ChildOf }

    ApprovalState { Pending, Approved, Denied }

    /// What a notification tells its recipients.
    NotificationKind {
        EscalationRequested, EscalationAcknowledged, EscalationResolved, EscalationDeEscalated,
        EscalationMovedUp, EscalationSkippedYou, ApprovalRequested, ApprovalGranted,
        ApprovalDenied, SlaReminder, SlaBreached, SlaBreachedBelow,
        CustomerAcknowledgement, ResolutionVerificationRequest, PublicReply, TicketCreated,
    }

    /// What an audit event records.
    AuditKind {
        TenantCreated, UserCreated, TeamCreated, CustomerCreated, AvailabilityChanged,
        PolicyChanged,
        TicketCreated, TicketUpdated, Reopened, Replied, NoteAdded, CustomerMessage, CallLogged,
        Linked, WatcherAdded, LinkedToIncident, IncidentChildLinked,
        Escalated, Acknowledged, Resolved, DeEscalated, ReEscalated, RungTimedOut, TargetAway,
        SlaBreachReEscalated, SlaReminder, SlaBreached,
        ApprovalRequested, ApprovalGranted, ApprovalDenied, CustomerVerification,
        WebhookCreated, WebhookDeleted, EmailPreferencesChanged,
        InboundTokenSet, InboundMailboxSet, AttachmentAdded,
    }
}

impl Role {
    /// Owners and admins run the tenant: they manage users and may act on any escalation.
    pub fn is_manager(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Staff of a tenant who work tickets (auditors only read, platform support is outside).
    pub fn is_tenant_staff(self) -> bool {
        !matches!(self, Role::PlatformSupport | Role::Auditor)
    }
}

impl Urgency {
    pub fn priority(self) -> Priority {
        match self {
            Urgency::Urgent => Priority::Urgent,
            Urgency::Standard => Priority::High,
        }
    }
}

impl TriggerKind {
    /// The kinds the text detector looks for.
    pub const TEXT_KINDS: [TriggerKind; 10] = [
        TriggerKind::LegalThreat,
        TriggerKind::Threat,
        TriggerKind::ClinicalDispute,
        TriggerKind::ManagerRequest,
        TriggerKind::PublicComplaint,
        TriggerKind::Regulator,
        TriggerKind::BillingDispute,
        TriggerKind::Anger,
        TriggerKind::RepeatContact,
        TriggerKind::SafetyRisk,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn names_round_trip_between_json_and_storage() {
        for state in [EscalationState::DeEscalated, EscalationState::Superseded] {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            assert_eq!(EscalationState::from_str(state.as_str()).unwrap(), state);
        }
        assert_eq!(Role::PlatformSupport.as_str(), "platform_support");
        assert_eq!(LinkKind::FollowUpOf.as_str(), "follow_up_of");
        assert!(Category::from_str("shouting").is_err());
        assert_eq!(
            AuditKind::SlaBreachReEscalated.as_str(),
            "sla_breach_re_escalated"
        );
        assert_eq!(
            AuditKind::from_str("de_escalated").unwrap(),
            AuditKind::DeEscalated
        );
        assert!(AuditKind::from_str("escalated_maybe").is_err());
    }
}
