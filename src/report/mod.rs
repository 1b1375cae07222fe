//! Glucose reports (`GENERATE_REPORT`): the pure parts. The handler reads the readings and
//! stores the result; everything between is here.
//!
//! - [`period`]: the local days a report covers, as UTC instants `[from, to)` in the user's
//!   time zone, and the period it is compared with.
//! - [`stats`]: reading count, days with data, coverage and sufficiency, mean, SD, CV, GMI,
//!   estimated A1C, the five consensus ranges, AGP percentiles by local hour, the change
//!   against the previous period.
//! - [`targets`]: the consensus targets (Battelino 2019) and whether a period meets them.
//! - [`html`]: the self-contained page, with the SVG charts of `agp_chart` and `range_bar`.
//!
//! Conventions are those of [`crate::cgm`] (one reading, one vote; sample SD; iglu's band
//! boundaries; type-7 percentiles), with two choices of the report's own:
//! - **local time**: days with data, the period's edges and the AGP hours are read in the
//!   user's zone (`users.timezone`), not UTC as the A1C estimate's sufficiency is;
//! - **sufficiency** is judged over the whole period: coverage of at least 70 % of the
//!   possible readings (its real minutes ÷ the sensor interval) and data on at least 14 local
//!   days. A weekly report is never sufficient.

mod agp_chart;
pub mod html;
pub mod period;
mod range_bar;
pub mod stats;
pub mod targets;

pub use html::{escape, render, NO_READINGS};
pub use period::{PeriodError, ReportPeriod};
pub use stats::{compute, ReportStats};

#[cfg(test)]
mod tests;
