//! Ladder's domain core.
//!
//! Invariant: nothing in this crate touches the clock, the network, the file system or the
//! database. Every function that needs the time takes `now` as an argument, which is what
//! makes SLA, calendar and escalation logic testable to the microsecond.

#![forbid(unsafe_code)]

pub mod audit;
pub mod calendar;
pub mod escalation;
pub mod ids;
pub mod kinds;
pub mod policy;
pub mod quoting;
pub mod sla;
pub mod target;
pub mod text;
pub mod triggers;

pub use calendar::{BusinessCalendar, BusinessDuration};
pub use ids::*;
pub use kinds::*;
pub use policy::Policy;
pub use target::Target;
