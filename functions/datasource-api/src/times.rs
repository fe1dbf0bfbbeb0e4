//! The API's times: the original's `YYYY-MM-DD HH:MM:SS`, in UTC as stored (the data-sync
//! platform has no business zone; its `insert_time`s are instants, not local days).

use chrono::NaiveDateTime;

const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A stored UTC `DATETIME` as `YYYY-MM-DD HH:MM:SS`.
pub fn utc_text(utc: NaiveDateTime) -> String {
    utc.format(FORMAT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_the_originals_format() {
        let t = chrono::NaiveDate::from_ymd_opt(2024, 5, 1)
            .and_then(|d| d.and_hms_milli_opt(8, 0, 7, 250))
            .expect("a time");
        assert_eq!(utc_text(t), "2024-05-01 08:00:07");
    }
}
