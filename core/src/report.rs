//! Reports computed from case documents: the due follow-ups of a worker and the
//! indicators of a district.
//!
//! Everything here is a pure function over [`Case`](crate::case::Case) values: no I/O,
//! no clock (the date is passed in). Callers read the cases (from the device store or the
//! server storage) and hand them over; the outputs derive serde so the dashboard, the
//! FFI and the CSV export share one shape.
//!
//! Follow-ups are the ones [`Case::follow_up_dates`](crate::case::Case::follow_up_dates)
//! lists: the next visit planned at the latest visit, evaluation dates of active goals,
//! follow-up dates of referrals still open (made or accepted), and the plan's review
//! date. Closed cases have none.

mod due;
mod indicators;

pub use due::{due_follow_ups, due_on_device, FollowUp};
pub use indicators::{district_indicators, duplicate_service, Indicators, OUTSIDE_AGENCY};

#[cfg(test)]
mod tests;
