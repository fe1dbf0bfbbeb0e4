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
    /// Largest upload (zip bytes) spooled and imported; a larger one fails permanently.
    pub max_object_bytes: u64,
    /// Most statements one file may hold: it is imported in one transaction within one
    /// invocation, so a larger one fails permanently with a report asking to split it.
    pub max_statements: u64,
}

impl ImportSettings {
    /// Reads the `IMPORT_*` and `XAPI_*` variables; each one that is unset keeps its value
    /// from [`ImportSettings::defaults`], the only place the defaults are written.
    ///
    /// # Errors
    /// The first variable that does not parse.
    pub fn from_env(zone: chrono_tz::Tz) -> Result<Self, ConfigError> {
        let defaults = Self::defaults(zone);
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
        let max_reject_share: f64 = env_or("IMPORT_MAX_REJECT_SHARE", defaults.max_reject_share)?;
        if !(0.0..=1.0).contains(&max_reject_share) {
            return Err(ConfigError::Invalid {
                name: "IMPORT_MAX_REJECT_SHARE",
                value: max_reject_share.to_string(),
                reason: "must be between 0 and 1".into(),
            });
        }
        let limits = &defaults.limits;
        Ok(Self {
            limits: ArchiveLimits {
                max_entries: env_or("IMPORT_MAX_ENTRIES", limits.max_entries)?,
                max_uncompressed_bytes: env_or(
                    "IMPORT_MAX_UNCOMPRESSED_BYTES",
                    limits.max_uncompressed_bytes,
                )?,
                max_compression_ratio: env_or(
                    "IMPORT_MAX_COMPRESSION_RATIO",
                    limits.max_compression_ratio,
                )?,
                max_statement_bytes: env_or(
                    "IMPORT_MAX_STATEMENT_BYTES",
                    limits.max_statement_bytes,
                )?,
            },
            rules,
            batch_statements: env_or("IMPORT_BATCH_STATEMENTS", defaults.batch_statements)?,
            max_reject_share,
            max_object_bytes: env_or("IMPORT_MAX_OBJECT_BYTES", defaults.max_object_bytes)?,
            max_statements: env_or("IMPORT_MAX_STATEMENTS", defaults.max_statements)?,
            // Not settable from the environment: the SAM template's notification filter
            // and IAM grants name these prefixes.
            ..defaults
        })
    }

    /// Settings with every default: the one place they are written (tests and tools use
    /// it as is; [`ImportSettings::from_env`] starts from it).
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
            // The template gives the function 4 GiB of /tmp; the zip is all that is spooled.
            max_object_bytes: 3 << 30,
            // Measured: see docs/import-format.md, "Large files".
            max_statements: 2_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variable `from_env` reads.
    const VARIABLES: [&str; 11] = [
        "XAPI_COURSE_ID_PATTERN",
        "XAPI_EXTENSION_BASE",
        "XAPI_LEVEL_EXTENSION",
        "IMPORT_MAX_REJECT_SHARE",
        "IMPORT_MAX_ENTRIES",
        "IMPORT_MAX_UNCOMPRESSED_BYTES",
        "IMPORT_MAX_COMPRESSION_RATIO",
        "IMPORT_MAX_STATEMENT_BYTES",
        "IMPORT_BATCH_STATEMENTS",
        "IMPORT_MAX_OBJECT_BYTES",
        "IMPORT_MAX_STATEMENTS",
    ];

    #[test]
    fn from_env_without_variables_is_the_defaults() {
        // The process environment cannot be changed safely in a threaded test run, so this
        // test checks the case it can: none of the variables set (as under `make test`).
        if VARIABLES
            .iter()
            .any(|name| std::env::var_os(name).is_some())
        {
            eprintln!("skipped: an IMPORT_*/XAPI_* variable is set");
            return;
        }
        let zone = chrono_tz::Asia::Taipei;
        let from_env = ImportSettings::from_env(zone).expect("no variable set parses");
        // Regex has no PartialEq; its Debug form shows the pattern, so Debug compares all.
        assert_eq!(
            format!("{from_env:?}"),
            format!("{:?}", ImportSettings::defaults(zone))
        );
    }
}
