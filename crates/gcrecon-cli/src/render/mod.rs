//! Rendering of plans and drift reports.
