//! The function's own settings, read once at start-up.

use chrono_tz::Tz;
use common::{
    config::{ConfigError, env_or},
    instant::DateWindow,
    period::cctv_time_zone_from_env,
};

/// Settings of `cctv-api`.
#[derive(Debug, Clone)]
pub struct CctvSettings {
    /// `CCTV_TIME_ZONE`: the cameras' local time zone (default Asia/Seoul). Dates in query
    /// ranges are local days in it, and a count posted for a past local day marks that day
    /// for the next rollup run.
    pub time_zone: Tz,
    /// `CCTV_MAX_BATCH`: the most counts one POST carries (default 1000).
    pub max_batch: usize,
    /// `CCTV_AUTO_REGISTER_CAMERAS`: register unknown camera ids on their first count
    /// (default true); when false, a count for an unknown camera is rejected with 400.
    pub auto_register_cameras: bool,
    /// `HTTP_MAX_BODY_BYTES`: the largest request body (default 1 MiB); larger answers 413.
    pub max_body_bytes: usize,
    /// `DATE_WINDOW_FROM` / `DATE_WINDOW_TO`: the plausible dates (default 2000-01-01 to
    /// 2100-01-01, excluded); an instant or date outside them answers 400.
    pub date_window: DateWindow,
}

impl Default for CctvSettings {
    fn default() -> Self {
        Self {
            time_zone: chrono_tz::Asia::Seoul,
            max_batch: 1000,
            auto_register_cameras: true,
            max_body_bytes: common::http::DEFAULT_BODY_LIMIT,
            date_window: DateWindow::default(),
        }
    }
}

impl CctvSettings {
    /// Reads the variables above.
    ///
    /// # Errors
    /// The first variable that does not parse.
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let settings = Self {
            time_zone: cctv_time_zone_from_env()?,
            max_batch: env_or("CCTV_MAX_BATCH", defaults.max_batch)?,
            auto_register_cameras: env_or(
                "CCTV_AUTO_REGISTER_CAMERAS",
                defaults.auto_register_cameras,
            )?,
            max_body_bytes: env_or("HTTP_MAX_BODY_BYTES", defaults.max_body_bytes)?,
            date_window: DateWindow::from_env()?,
        };
        if settings.max_batch == 0 {
            return Err(ConfigError::Invalid {
                name: "CCTV_MAX_BATCH",
                value: "0".into(),
                reason: "at least 1".into(),
            });
        }
        Ok(settings)
    }
}
