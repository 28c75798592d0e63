//! Billing: the price table and the quota formula (Veloera reference §3.4).

pub mod pricing;

pub use pricing::{ModelPricing, PriceTable, UsableGroup, quota_for};
