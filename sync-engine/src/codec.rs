//! Rows in and out of the two drivers: a [`ReadCodec`] per result column decodes a
//! MySQL or PostgreSQL row into [`Value`]s with DataX's type mapping, and a [`Target`] per
//! writer column converts a [`Value`] to what the target column takes, as DataX's writers
//! do with the target's column types (a string into an INT column is parsed; text that is
//! not a number is a dirty record, not a silent zero).

use std::str::FromStr;

use bigdecimal::{BigDecimal, ToPrimitive};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::{
    Column, Row, TypeInfo,
    mysql::{MySqlRow, types::MySqlTime},
    postgres::PgRow,
};

use crate::value::Value;

/// How one result column is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadCodec {
    Long,
    /// PostgreSQL int2, int4 and oid: their own widths on the wire, chosen once per result.
    Short,
    Int,
    Oid,
    ULong,
    /// PostgreSQL bool.
    Bool,
    /// MySQL BIT: a bool for BIT(1) (its only values are 0 and 1); a wider field's value
    /// above 1 stays its number (sqlx does not expose the declared width).
    Bits,
    Float,
    Double,
    Decimal,
    Text,
    Bytes,
    Date,
    DateTime,
    /// PostgreSQL timestamptz: read as UTC.
    DateTimeTz,
    Time,
    Null,
}

/// Why a column cannot be read.
pub fn unsupported(name: &str, type_name: &str) -> String {
    format!(
        "column {name} has type {type_name}, which the sync does not read; cast it in querySql (for example to text)"
    )
}

impl ReadCodec {
    /// The codec for a MySQL column.
    pub fn mysql(name: &str, type_name: &str) -> Result<Self, String> {
        Ok(match type_name {
            "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
                ReadCodec::Long
            }
            "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
            | "BIGINT UNSIGNED" => ReadCodec::ULong,
            "BIT" => ReadCodec::Bits,
            "FLOAT" => ReadCodec::Float,
            "DOUBLE" => ReadCodec::Double,
            "DECIMAL" => ReadCodec::Decimal,
            "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM"
            | "SET" | "JSON" => ReadCodec::Text,
            "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
                ReadCodec::Bytes
            }
            "DATE" => ReadCodec::Date,
            "DATETIME" | "TIMESTAMP" => ReadCodec::DateTime,
            "TIME" => ReadCodec::Time,
            "NULL" => ReadCodec::Null,
            other => return Err(unsupported(name, other)),
        })
    }

    /// The codec for a PostgreSQL column.
    pub fn postgres(name: &str, type_name: &str) -> Result<Self, String> {
        Ok(match type_name {
            "INT2" => ReadCodec::Short,
            "INT4" => ReadCodec::Int,
            "OID" => ReadCodec::Oid,
            "INT8" => ReadCodec::Long,
            "BOOL" => ReadCodec::Bool,
            "FLOAT4" => ReadCodec::Float,
            "FLOAT8" => ReadCodec::Double,
            "NUMERIC" => ReadCodec::Decimal,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => ReadCodec::Text,
            "BYTEA" => ReadCodec::Bytes,
            "DATE" => ReadCodec::Date,
            "TIMESTAMP" => ReadCodec::DateTime,
            "TIMESTAMPTZ" => ReadCodec::DateTimeTz,
            "TIME" => ReadCodec::Time,
            "VOID" => ReadCodec::Null,
            other => return Err(unsupported(name, other)),
        })
    }
}

/// The codecs of a MySQL result.
pub fn mysql_codecs(row: &MySqlRow) -> Result<Vec<ReadCodec>, String> {
    row.columns()
        .iter()
        .map(|c| ReadCodec::mysql(c.name(), c.type_info().name()))
        .collect()
}

/// The codecs of a PostgreSQL result.
pub fn postgres_codecs(row: &PgRow) -> Result<Vec<ReadCodec>, String> {
    row.columns()
        .iter()
        .map(|c| ReadCodec::postgres(c.name(), c.type_info().name()))
        .collect()
}

/// A MySQL TIME is a span (-838:59:59 to 838:59:59), not only a time of day: one outside
/// 00:00–24:00 keeps MySQL's own text, which a MySQL TIME column takes back as it is.
fn mysql_time(time: MySqlTime) -> Value {
    if time.is_valid_time_of_day()
        && let Some(t) = NaiveTime::from_hms_micro_opt(
            time.hours(),
            time.minutes().into(),
            time.seconds().into(),
            time.microseconds(),
        )
    {
        return Value::Time(t);
    }
    Value::String(time.to_string())
}

/// MySQL's span text (`-838:59:59`, `100:00:00.5`).
fn is_mysql_span(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let mut parts = body.splitn(3, ':');
    let (Some(h), Some(m), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (s, fraction) = s.split_once('.').unwrap_or((s, "0"));
    [h, m, s, fraction]
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && m.len() == 2
        && s.len() == 2
}

fn read_error(row_column: &str, error: sqlx::Error) -> String {
    format!("column {row_column}: {error}")
}

/// Decodes one MySQL row.
pub fn decode_mysql(row: &MySqlRow, codecs: &[ReadCodec]) -> Result<Vec<Value>, String> {
    let mut out = Vec::with_capacity(codecs.len());
    for (i, codec) in codecs.iter().enumerate() {
        let value = match codec {
            ReadCodec::Long | ReadCodec::Short | ReadCodec::Int | ReadCodec::Oid => row
                .try_get_unchecked::<Option<i64>, _>(i)
                .map(|v| v.map(Value::Long)),
            ReadCodec::ULong => row
                .try_get_unchecked::<Option<u64>, _>(i)
                .map(|v| v.map(Value::ULong)),
            ReadCodec::Bool | ReadCodec::Bits => {
                row.try_get_unchecked::<Option<u64>, _>(i).map(|v| {
                    v.map(|b| {
                        if b <= 1 {
                            Value::Bool(b == 1)
                        } else {
                            Value::ULong(b)
                        }
                    })
                })
            }
            ReadCodec::Float => row
                .try_get_unchecked::<Option<f32>, _>(i)
                .map(|v| v.map(|f| Value::Double(f64::from(f)))),
            ReadCodec::Double => row
                .try_get_unchecked::<Option<f64>, _>(i)
                .map(|v| v.map(Value::Double)),
            ReadCodec::Decimal => row
                .try_get_unchecked::<Option<BigDecimal>, _>(i)
                .map(|v| v.map(Value::Decimal)),
            ReadCodec::Text => row
                .try_get_unchecked::<Option<String>, _>(i)
                .map(|v| v.map(Value::String)),
            ReadCodec::Bytes => row
                .try_get_unchecked::<Option<Vec<u8>>, _>(i)
                .map(|v| v.map(Value::Bytes)),
            ReadCodec::Date => row
                .try_get_unchecked::<Option<NaiveDate>, _>(i)
                .map(|v| v.map(Value::Date)),
            ReadCodec::DateTime | ReadCodec::DateTimeTz => row
                .try_get_unchecked::<Option<NaiveDateTime>, _>(i)
                .map(|v| v.map(Value::DateTime)),
            ReadCodec::Time => row
                .try_get_unchecked::<Option<MySqlTime>, _>(i)
                .map(|v| v.map(mysql_time)),
            ReadCodec::Null => Ok(None),
        };
        out.push(
            value
                .map_err(|e| read_error(row.columns()[i].name(), e))?
                .unwrap_or(Value::Null),
        );
    }
    Ok(out)
}

/// Decodes one PostgreSQL row.
pub fn decode_postgres(row: &PgRow, codecs: &[ReadCodec]) -> Result<Vec<Value>, String> {
    let mut out = Vec::with_capacity(codecs.len());
    for (i, codec) in codecs.iter().enumerate() {
        let value = match codec {
            ReadCodec::Short => row
                .try_get::<Option<i16>, _>(i)
                .map(|v| v.map(|n| Value::Long(n.into()))),
            ReadCodec::Int => row
                .try_get::<Option<i32>, _>(i)
                .map(|v| v.map(|n| Value::Long(n.into()))),
            ReadCodec::Oid => row
                .try_get::<Option<sqlx::postgres::types::Oid>, _>(i)
                .map(|v| v.map(|n| Value::Long(n.0.into()))),
            ReadCodec::Long => row.try_get::<Option<i64>, _>(i).map(|v| v.map(Value::Long)),
            ReadCodec::Bool => row
                .try_get::<Option<bool>, _>(i)
                .map(|v| v.map(Value::Bool)),
            ReadCodec::Float => row
                .try_get::<Option<f32>, _>(i)
                .map(|v| v.map(|f| Value::Double(f64::from(f)))),
            ReadCodec::Double => row
                .try_get::<Option<f64>, _>(i)
                .map(|v| v.map(Value::Double)),
            ReadCodec::Decimal => row
                .try_get::<Option<BigDecimal>, _>(i)
                .map(|v| v.map(Value::Decimal)),
            ReadCodec::Text => row
                .try_get_unchecked::<Option<String>, _>(i)
                .map(|v| v.map(Value::String)),
            ReadCodec::Bytes => row
                .try_get::<Option<Vec<u8>>, _>(i)
                .map(|v| v.map(Value::Bytes)),
            ReadCodec::Date => row
                .try_get::<Option<NaiveDate>, _>(i)
                .map(|v| v.map(Value::Date)),
            ReadCodec::DateTime => row
                .try_get::<Option<NaiveDateTime>, _>(i)
                .map(|v| v.map(Value::DateTime)),
            ReadCodec::DateTimeTz => row
                .try_get::<Option<DateTime<Utc>>, _>(i)
                .map(|v| v.map(|t| Value::DateTime(t.naive_utc()))),
            ReadCodec::Time => row
                .try_get::<Option<NaiveTime>, _>(i)
                .map(|v| v.map(Value::Time)),
            ReadCodec::ULong | ReadCodec::Bits => {
                row.try_get::<Option<i64>, _>(i).map(|v| v.map(Value::Long))
            }
            ReadCodec::Null => Ok(None),
        };
        out.push(
            value
                .map_err(|e| read_error(row.columns()[i].name(), e))?
                .unwrap_or(Value::Null),
        );
    }
    Ok(out)
}

/// What a target column takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A signed integer of this many bits.
    Int(u8),
    UInt,
    Float,
    Double,
    Decimal,
    Text,
    Bytes,
    Bool,
    Date,
    DateTime,
    DateTimeTz,
    Time,
    /// MySQL TIME: a time of day, or a span such as `-838:59:59` as text.
    Span,
    /// Anything else (PostgreSQL uuid, json, inet, enums…): sent as text with a cast to
    /// the named type.
    Cast(String),
}

impl Target {
    /// A MySQL target column by its sqlx type name.
    pub fn mysql(type_name: &str) -> Self {
        match type_name {
            "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
                Target::Int(64)
            }
            "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
            | "BIGINT UNSIGNED" | "BIT" => Target::UInt,
            "FLOAT" => Target::Float,
            "DOUBLE" => Target::Double,
            "DECIMAL" => Target::Decimal,
            "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
                Target::Bytes
            }
            "DATE" => Target::Date,
            "DATETIME" | "TIMESTAMP" => Target::DateTime,
            "TIME" => Target::Span,
            // CHAR, VARCHAR, TEXT, ENUM, SET, JSON, GEOMETRY …: MySQL converts from text.
            _ => Target::Text,
        }
    }

    /// A PostgreSQL target column by its sqlx type name.
    pub fn postgres(type_name: &str) -> Self {
        match type_name {
            "INT2" => Target::Int(16),
            "INT4" => Target::Int(32),
            "INT8" => Target::Int(64),
            "FLOAT4" => Target::Float,
            "FLOAT8" => Target::Double,
            "NUMERIC" => Target::Decimal,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Target::Text,
            "BYTEA" => Target::Bytes,
            "BOOL" => Target::Bool,
            "DATE" => Target::Date,
            "TIMESTAMP" => Target::DateTime,
            "TIMESTAMPTZ" => Target::DateTimeTz,
            "TIME" => Target::Time,
            other => Target::Cast(other.to_ascii_lowercase()),
        }
    }

    /// Converts `value` for this column, or says why it cannot be written.
    pub fn convert(&self, value: &Value) -> Result<Value, String> {
        if matches!(value, Value::Null) {
            return Ok(Value::Null);
        }
        let refused = || {
            format!(
                "a {} value {:?} does not fit a {self:?} column",
                value.type_name(),
                clip(&value.to_text())
            )
        };
        Ok(match self {
            Target::Int(bits) => {
                let n: i64 = match value {
                    Value::Long(n) => *n,
                    Value::ULong(n) => i64::try_from(*n).map_err(|_| refused())?,
                    Value::Bool(b) => i64::from(*b),
                    Value::Double(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => *f as i64,
                    Value::Decimal(d) if d.is_integer() => d.to_i64().ok_or_else(refused)?,
                    Value::String(s) => s.trim().parse().map_err(|_| refused())?,
                    _ => return Err(refused()),
                };
                let fits = match bits {
                    16 => i16::try_from(n).is_ok(),
                    32 => i32::try_from(n).is_ok(),
                    _ => true,
                };
                if !fits {
                    return Err(format!(
                        "{n} is out of range for a {bits}-bit integer column"
                    ));
                }
                Value::Long(n)
            }
            Target::UInt => match value {
                Value::ULong(n) => Value::ULong(*n),
                Value::Long(n) => Value::ULong(u64::try_from(*n).map_err(|_| refused())?),
                Value::Bool(b) => Value::ULong(u64::from(*b)),
                Value::Decimal(d) if d.is_integer() => {
                    Value::ULong(d.to_u64().ok_or_else(refused)?)
                }
                Value::Double(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19 => {
                    Value::ULong(*f as u64)
                }
                Value::String(s) => Value::ULong(s.trim().parse().map_err(|_| refused())?),
                _ => return Err(refused()),
            },
            Target::Float | Target::Double => match value {
                Value::Double(f) => Value::Double(*f),
                Value::Long(n) => Value::Double(*n as f64),
                Value::ULong(n) => Value::Double(*n as f64),
                Value::Decimal(d) => Value::Double(d.to_f64().ok_or_else(refused)?),
                Value::String(s) => Value::Double(s.trim().parse().map_err(|_| refused())?),
                _ => return Err(refused()),
            },
            Target::Decimal => match value {
                Value::Decimal(d) => Value::Decimal(d.clone()),
                Value::Long(n) => Value::Decimal(BigDecimal::from(*n)),
                Value::ULong(n) => Value::Decimal(BigDecimal::from(*n)),
                Value::Double(f) if f.is_finite() => {
                    Value::Decimal(BigDecimal::from_str(&f.to_string()).map_err(|_| refused())?)
                }
                Value::String(s) => {
                    Value::Decimal(BigDecimal::from_str(s.trim()).map_err(|_| refused())?)
                }
                _ => return Err(refused()),
            },
            Target::Text | Target::Cast(_) => match value {
                Value::String(s) => Value::String(s.clone()),
                Value::Bytes(b) => Value::String(String::from_utf8(b.clone()).map_err(|_| {
                    "bytes that are not UTF-8 cannot be written as text".to_owned()
                })?),
                other => Value::String(other.to_text().into_owned()),
            },
            Target::Bytes => match value {
                Value::Bytes(b) => Value::Bytes(b.clone()),
                Value::String(s) => Value::Bytes(s.as_bytes().to_vec()),
                other => Value::Bytes(other.to_text().into_owned().into_bytes()),
            },
            Target::Bool => match value {
                Value::Bool(b) => Value::Bool(*b),
                Value::Long(0) | Value::ULong(0) => Value::Bool(false),
                Value::Long(1) | Value::ULong(1) => Value::Bool(true),
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "t" | "1" => Value::Bool(true),
                    "false" | "f" | "0" => Value::Bool(false),
                    _ => return Err(refused()),
                },
                _ => return Err(refused()),
            },
            Target::Date => match value {
                Value::Date(d) => Value::Date(*d),
                Value::DateTime(t) if t.time() == NaiveTime::MIN => Value::Date(t.date()),
                Value::String(s) => Value::Date(parse_date(s).ok_or_else(refused)?),
                _ => return Err(refused()),
            },
            Target::DateTime | Target::DateTimeTz => match value {
                Value::DateTime(t) => Value::DateTime(*t),
                Value::Date(d) => Value::DateTime(d.and_time(NaiveTime::MIN)),
                Value::String(s) => Value::DateTime(parse_date_time(s).ok_or_else(refused)?),
                _ => return Err(refused()),
            },
            Target::Time | Target::Span => match value {
                Value::Time(t) => Value::Time(*t),
                Value::String(s) => match NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f") {
                    Ok(t) => Value::Time(t),
                    Err(_) if *self == Target::Span && is_mysql_span(s.trim()) => {
                        Value::String(s.trim().to_owned())
                    }
                    Err(_) => return Err(refused()),
                },
                _ => return Err(refused()),
            },
        })
    }
}

fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

fn parse_date_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| parse_date(text).map(|d| d.and_time(NaiveTime::MIN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_follow_the_target_and_refuse_what_does_not_fit() {
        assert_eq!(
            Target::Int(32).convert(&Value::String(" 42 ".into())),
            Ok(Value::Long(42))
        );
        assert!(Target::Int(16).convert(&Value::Long(70_000)).is_err());
        assert!(
            Target::Int(64)
                .convert(&Value::String("DataX".into()))
                .is_err()
        );
        assert!(Target::Int(64).convert(&Value::Double(1.5)).is_err());
        assert_eq!(
            Target::Text.convert(&Value::Bytes(b"test".to_vec())),
            Ok(Value::String("test".into()))
        );
        assert!(
            Target::Text
                .convert(&Value::Bytes(vec![0xff, 0xfe]))
                .is_err()
        );
        assert_eq!(
            Target::Decimal.convert(&Value::String("1.10".into())),
            Ok(Value::Decimal(
                BigDecimal::from_str("1.10").expect("decimal")
            ))
        );
        assert_eq!(Target::Bool.convert(&Value::Long(1)), Ok(Value::Bool(true)));
        assert_eq!(Target::UInt.convert(&Value::Null), Ok(Value::Null));
        let midnight = NaiveDate::from_ymd_opt(2026, 1, 2)
            .expect("date")
            .and_time(NaiveTime::MIN);
        assert_eq!(
            Target::DateTime.convert(&Value::String("2026-01-02".into())),
            Ok(Value::DateTime(midnight))
        );
    }

    #[test]
    fn types_map_as_datax_documents() {
        assert_eq!(ReadCodec::mysql("y", "YEAR"), Ok(ReadCodec::Long));
        assert_eq!(ReadCodec::mysql("d", "DECIMAL"), Ok(ReadCodec::Decimal));
        assert_eq!(ReadCodec::mysql("b", "BIT"), Ok(ReadCodec::Bits));
        assert!(ReadCodec::mysql("g", "GEOMETRY").is_err());
        assert_eq!(
            ReadCodec::postgres("t", "TIMESTAMPTZ"),
            Ok(ReadCodec::DateTimeTz)
        );
        assert!(
            ReadCodec::postgres("u", "UUID")
                .expect_err("uuid")
                .contains("cast it")
        );
        assert_eq!(Target::postgres("UUID"), Target::Cast("uuid".into()));
    }
}
