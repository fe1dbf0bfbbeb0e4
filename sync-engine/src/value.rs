//! One field of a record, as the engine carries it between a reader and a writer: DataX's
//! internal types (Long, Double, String, Date, Bool, Bytes) split where keeping the source
//! exact needs it: DECIMAL / NUMERIC stay decimals (never a float), unsigned BIGINTs past
//! `i64` stay unsigned, dates, times and date-times stay apart, NULL stays NULL.

use std::borrow::Cow;

use bigdecimal::BigDecimal;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// A record: one value per column, in the reader's column order.
pub type Record = Vec<Value>;

/// One field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Long(i64),
    ULong(u64),
    Double(f64),
    Decimal(BigDecimal),
    String(String),
    Bytes(Vec<u8>),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Time(NaiveTime),
}

impl Value {
    /// DataX's byte size of the field (`Column.getByteSize`), which its summary's
    /// average-throughput line sums: a string counts its UTF-16 length, a number the
    /// length of its decimal text, a date 8, a bool 1, bytes their length, NULL 0.
    pub fn byte_size(&self) -> u64 {
        let size = match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Long(v) => decimal_len(v.unsigned_abs()) + usize::from(*v < 0),
            Value::ULong(v) => decimal_len(*v),
            Value::Double(v) => v.to_string().len(),
            Value::Decimal(v) => v.to_string().len(),
            Value::String(s) => {
                if s.is_ascii() {
                    s.len()
                } else {
                    s.encode_utf16().count()
                }
            }
            Value::Bytes(b) => b.len(),
            Value::Date(_) | Value::DateTime(_) | Value::Time(_) => 8,
        };
        size as u64
    }

    /// The field as text, as DataX's `Column.asString` gives it to streamwriter: `null`
    /// for NULL, bytes as UTF-8 (lossy), date-times as `yyyy-MM-dd HH:mm:ss` (fractions
    /// kept when present).
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            Value::Null => Cow::Borrowed("null"),
            Value::Bool(v) => Cow::Borrowed(if *v { "true" } else { "false" }),
            Value::Long(v) => Cow::Owned(v.to_string()),
            Value::ULong(v) => Cow::Owned(v.to_string()),
            Value::Double(v) => Cow::Owned(v.to_string()),
            Value::Decimal(v) => Cow::Owned(v.to_plain_string()),
            Value::String(s) => Cow::Borrowed(s),
            Value::Bytes(b) => String::from_utf8_lossy(b),
            Value::Date(d) => Cow::Owned(d.format("%Y-%m-%d").to_string()),
            Value::DateTime(t) => Cow::Owned(t.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
            Value::Time(t) => Cow::Owned(t.format("%H:%M:%S%.f").to_string()),
        }
    }

    /// The DataX type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Long(_) | Value::ULong(_) => "long",
            Value::Double(_) => "double",
            Value::Decimal(_) => "decimal",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Date(_) => "date",
            Value::DateTime(_) => "datetime",
            Value::Time(_) => "time",
        }
    }
}

fn decimal_len(mut v: u64) -> usize {
    let mut len = 1;
    while v >= 10 {
        v /= 10;
        len += 1;
    }
    len
}

/// The byte size of a record (the sum of its fields').
pub fn record_bytes(record: &[Value]) -> u64 {
    record.iter().map(Value::byte_size).sum()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn byte_sizes_follow_dataxs_columns() {
        assert_eq!(Value::Long(-120).byte_size(), 4);
        assert_eq!(Value::ULong(u64::MAX).byte_size(), 20);
        assert_eq!(Value::String("héllo😀".into()).byte_size(), 7);
        assert_eq!(Value::Null.byte_size(), 0);
        assert_eq!(Value::Bool(true).byte_size(), 1);
        let decimal = BigDecimal::from_str("12345678901234567890.123456789").expect("decimal");
        assert_eq!(Value::Decimal(decimal.clone()).byte_size(), 30);
        assert_eq!(
            Value::Decimal(decimal).to_text(),
            "12345678901234567890.123456789"
        );
    }

    #[test]
    fn text_is_what_streamwriter_prints() {
        let at = NaiveDate::from_ymd_opt(2026, 12, 2)
            .and_then(|d| d.and_hms_micro_opt(10, 5, 1, 250_000))
            .expect("valid");
        assert_eq!(Value::DateTime(at).to_text(), "2026-12-02 10:05:01.250");
        assert_eq!(Value::Null.to_text(), "null");
        assert_eq!(Value::Bytes(b"test".to_vec()).to_text(), "test");
    }
}
