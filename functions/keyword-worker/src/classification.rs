//! What a classifier answers for one question, whichever classifier it is.

use serde::{Deserialize, Serialize};

/// A question's category and keywords.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// One of the configured categories (`other` when none fits).
    pub category: String,
    /// The question's keywords, most relevant first, without duplicates.
    pub keywords: Vec<String>,
}

/// The category every classifier falls back to.
pub const OTHER: &str = "other";
