//! The import function's own settings (beside [`common::config::Settings`]).

use common::config::{ConfigError, env_opt, env_or};
use regex::Regex;

use crate::{archive::ArchiveLimits, statement::MappingRules};

/// Default extension base of the CoolEnglish platform's own context extensions.
pub const DEFAULT_EXTENSION_BASE: &str = "https://www.coolenglish.edu.tw/xapi/extensions/";
/// Default course-id rule: `…/course/view.php?id=770` → `770`, `…/course/<id>` → `<id>`.
pub const DEFAULT_COURSE_ID_PATTERN: &str = r"/course/(?:view\.php\?id=)?([^/?#&]+)";

/// Everything that shapes an import.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub limits: ArchiveLimits,
    pub rules: MappingRules,
    /// Statements per multi-row insert round.
    pub batch_statements: usize,
    /// Share of rejected statements (0..1) above which the whole file fails.
    pub max_reject_share: f64,
    /// Where uploads arrive, and where they go after an import.
    pub uploads_prefix: String,
    pub completed_prefix: String,
    pub error_prefix: String,
    /// Detailed rejections kept in a report (the count is always exact).
    pub max_reported_rejects: usize,
}

impl ImportSettings {
    /// Reads the `IMPORT_*` and `XAPI_*` variables.
    ///
    /// # Errors
    /// The first variable that does not parse.
    pub fn from_env(zone: chrono_tz::Tz) -> Result<Self, ConfigError> {
        let pattern: String = env_or(
            "XAPI_COURSE_ID_PATTERN",
            DEFAULT_COURSE_ID_PATTERN.to_owned(),
        )?;
        let course_id_pattern = Regex::new(&pattern).map_err(|e| ConfigError::Invalid {
            name: "XAPI_COURSE_ID_PATTERN",
            value: pattern.clone(),
            reason: e.to_string(),
        })?;
        let base: String = env_or("XAPI_EXTENSION_BASE", DEFAULT_EXTENSION_BASE.to_owned())?;
        let rules = MappingRules::with_base(
            &base,
            env_opt("XAPI_LEVEL_EXTENSION")?,
            course_id_pattern,
            zone,
        );
        let max_reject_share: f64 = env_or("IMPORT_MAX_REJECT_SHARE", 0.05)?;
        if !(0.0..=1.0).contains(&max_reject_share) {
            return Err(ConfigError::Invalid {
                name: "IMPORT_MAX_REJECT_SHARE",
                value: max_reject_share.to_string(),
                reason: "must be between 0 and 1".into(),
            });
        }
        let defaults = ArchiveLimits::default();
        Ok(Self {
            limits: ArchiveLimits {
                max_entries: env_or("IMPORT_MAX_ENTRIES", defaults.max_entries)?,
                max_uncompressed_bytes: env_or(
                    "IMPORT_MAX_UNCOMPRESSED_BYTES",
                    defaults.max_uncompressed_bytes,
                )?,
                max_compression_ratio: env_or(
                    "IMPORT_MAX_COMPRESSION_RATIO",
                    defaults.max_compression_ratio,
                )?,
                max_statement_bytes: env_or(
                    "IMPORT_MAX_STATEMENT_BYTES",
                    defaults.max_statement_bytes,
                )?,
            },
            rules,
            batch_statements: env_or("IMPORT_BATCH_STATEMENTS", 2_000usize)?,
            max_reject_share,
            uploads_prefix: "uploads/".into(),
            completed_prefix: "completed/".into(),
            error_prefix: "error/".into(),
            max_reported_rejects: 1_000,
        })
    }

    /// Settings with every default, for tests and tools.
    pub fn defaults(zone: chrono_tz::Tz) -> Self {
        let pattern = Regex::new(DEFAULT_COURSE_ID_PATTERN)
            .unwrap_or_else(|_| unreachable!("the default pattern compiles"));
        Self {
            limits: ArchiveLimits::default(),
            rules: MappingRules::with_base(DEFAULT_EXTENSION_BASE, None, pattern, zone),
            batch_statements: 2_000,
            max_reject_share: 0.05,
            uploads_prefix: "uploads/".into(),
            completed_prefix: "completed/".into(),
            error_prefix: "error/".into(),
            max_reported_rejects: 1_000,
        }
    }
}
