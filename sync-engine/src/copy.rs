//! Rows for PostgreSQL's `COPY … FROM STDIN` in its text format: how `postgresqlwriter`
//! writes with `writeMode` insert.
//!
//! DataX's postgresqlwriter sends multi-row `INSERT`s; COPY is PostgreSQL's own bulk path
//! (one statement per batch, no placeholders, no 65,535-parameter limit, no per-row
//! planning), several times faster for the same rows. The semantics stay those of an
//! insert: a batch the server refuses is halved until the refused rows are alone, and
//! those become dirty records, exactly as with `INSERT` (see `run::write_batch`).
//!
//! # The text format
//! One line per row, fields separated by a tab, `\N` for NULL; in a value, backslash, tab,
//! new line and carriage return are written `\\`, `\t`, `\n`, `\r`. Each value is written in
//! the input syntax of its target column's type, so the server parses it as it would parse
//! a literal: numbers as digits (floats in the shortest form that reads back to the same
//! value, `NaN`, `Infinity`), booleans `t` / `f`, bytea as `\x` and hex, dates and times in
//! ISO form (years before 1 as `BC`), timestamptz with an explicit `+00`. A value whose kind
//! does not fit its target (the conversion before has already refused those it could not
//! convert) is NULL, as the parameter binding of the `INSERT` path does.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, NaiveDateTime};

use crate::{codec::Target, value::Value};

/// `COPY table (columns) FROM STDIN` (the text format is the default).
pub fn statement(table: &str, columns: &[String]) -> String {
    format!("COPY {table} ({}) FROM STDIN", columns.join(","))
}

/// Appends `rows` to `out` in the text format, each value written for its target.
pub fn encode(rows: &[Vec<Value>], targets: &[Target], out: &mut String) {
    for row in rows {
        for (i, (value, target)) in row.iter().zip(targets).enumerate() {
            if i > 0 {
                out.push('\t');
            }
            field(value, target, out);
        }
        out.push('\n');
    }
}

fn field(value: &Value, target: &Target, out: &mut String) {
    // `write!` into a String cannot fail.
    let _ = match (target, value) {
        (Target::Int(_) | Target::UInt, Value::Long(n)) => write!(out, "{n}"),
        (Target::Int(_) | Target::UInt, Value::ULong(n)) => write!(out, "{n}"),
        (Target::Float, Value::Double(f)) => {
            // real: the shortest form that reads back to the same single-precision value.
            let single = *f as f32;
            if single.is_finite() {
                write!(out, "{single}")
            } else {
                float(f64::from(single), out);
                Ok(())
            }
        }
        (Target::Double, Value::Double(f)) => {
            float(*f, out);
            Ok(())
        }
        (Target::Decimal, Value::Decimal(d)) => write!(out, "{d}"),
        (Target::Text | Target::Cast(_) | Target::Span, Value::String(s)) => {
            escaped(s, out);
            Ok(())
        }
        (Target::Bytes, Value::Bytes(bytes)) => {
            // `\x` is itself escaped: the text format reads `\\x…` as the bytea input `\x…`.
            out.push_str("\\\\x");
            for b in bytes {
                let _ = write!(out, "{b:02x}");
            }
            Ok(())
        }
        (Target::Bool, Value::Bool(b)) => {
            out.push(if *b { 't' } else { 'f' });
            Ok(())
        }
        (Target::Date, Value::Date(d)) => {
            date(*d, out);
            Ok(())
        }
        (Target::DateTime, Value::DateTime(t)) => {
            date_time(*t, out);
            Ok(())
        }
        (Target::DateTimeTz, Value::DateTime(t)) => {
            date_time(*t, out);
            out.push_str("+00");
            Ok(())
        }
        (Target::Time | Target::Span, Value::Time(t)) => write!(out, "{}", t.format("%H:%M:%S%.f")),
        _ => {
            out.push_str("\\N");
            Ok(())
        }
    };
}

/// Rust's shortest round-trip form, which PostgreSQL reads back exactly; its spellings of
/// the special values.
fn float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        let _ = write!(out, "{f}");
    }
}

fn escaped(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(at) = rest.find(['\\', '\t', '\n', '\r']) {
        out.push_str(&rest[..at]);
        let (escape, tail) = match rest.as_bytes()[at] {
            b'\\' => ("\\\\", &rest[at + 1..]),
            b'\t' => ("\\t", &rest[at + 1..]),
            b'\n' => ("\\n", &rest[at + 1..]),
            _ => ("\\r", &rest[at + 1..]),
        };
        out.push_str(escape);
        rest = tail;
    }
    out.push_str(rest);
}

/// ISO `YYYY-MM-DD`; a year before 1 is written PostgreSQL's way (year 0 is 1 BC).
fn date(d: NaiveDate, out: &mut String) {
    let _ = if d.year() >= 1 {
        write!(out, "{}", d.format("%Y-%m-%d"))
    } else {
        write!(
            out,
            "{:04}-{:02}-{:02} BC",
            1 - d.year(),
            d.month(),
            d.day()
        )
    };
}

fn date_time(t: NaiveDateTime, out: &mut String) {
    if t.year() >= 1 {
        let _ = write!(out, "{}", t.format("%Y-%m-%d %H:%M:%S%.f"));
    } else {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {} BC",
            1 - t.year(),
            t.month(),
            t.day(),
            t.format("%H:%M:%S%.f")
        );
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::NaiveTime;

    use super::*;

    fn one(value: Value, target: Target) -> String {
        let mut out = String::new();
        field(&value, &target, &mut out);
        out
    }

    #[test]
    fn text_escapes_the_four_special_characters_only() {
        assert_eq!(
            one(Value::String("a\tb\nc\rd\\e 😀 \\N".into()), Target::Text),
            "a\\tb\\nc\\rd\\\\e 😀 \\\\N"
        );
        assert_eq!(one(Value::String(String::new()), Target::Text), "");
        assert_eq!(one(Value::Null, Target::Text), "\\N");
    }

    #[test]
    fn each_kind_is_written_in_its_input_syntax() {
        assert_eq!(one(Value::Long(-32768), Target::Int(16)), "-32768");
        assert_eq!(
            one(Value::ULong(u64::MAX), Target::UInt),
            "18446744073709551615"
        );
        assert_eq!(one(Value::Double(0.1), Target::Double), "0.1");
        assert_eq!(one(Value::Double(f64::NAN), Target::Double), "NaN");
        assert_eq!(
            one(Value::Double(f64::NEG_INFINITY), Target::Double),
            "-Infinity"
        );
        assert_eq!(one(Value::Double(0.1), Target::Float), "0.1");
        let d = bigdecimal::BigDecimal::from_str("-12345678901234.123456").expect("decimal");
        assert_eq!(
            one(Value::Decimal(d), Target::Decimal),
            "-12345678901234.123456"
        );
        assert_eq!(
            one(Value::Bytes(vec![0, 0xff, b'\\']), Target::Bytes),
            "\\\\x00ff5c"
        );
        assert_eq!(one(Value::Bool(true), Target::Bool), "t");
        let day = NaiveDate::from_ymd_opt(2026, 2, 28).expect("date");
        assert_eq!(one(Value::Date(day), Target::Date), "2026-02-28");
        let bc = NaiveDate::from_ymd_opt(-43, 3, 15).expect("date");
        assert_eq!(one(Value::Date(bc), Target::Date), "0044-03-15 BC");
        let at = day.and_hms_micro_opt(23, 59, 59, 123_456).expect("time");
        assert_eq!(
            one(Value::DateTime(at), Target::DateTime),
            "2026-02-28 23:59:59.123456"
        );
        assert_eq!(
            one(Value::DateTime(at), Target::DateTimeTz),
            "2026-02-28 23:59:59.123456+00"
        );
        let t = NaiveTime::from_hms_opt(8, 0, 0).expect("time");
        assert_eq!(one(Value::Time(t), Target::Time), "08:00:00");
        assert_eq!(
            one(Value::String("-838:59:59".into()), Target::Span),
            "-838:59:59"
        );
        assert_eq!(
            one(Value::Long(1), Target::Bool),
            "\\N",
            "a kind that does not fit is NULL"
        );
    }

    #[test]
    fn rows_are_lines_of_tab_separated_fields() {
        let mut out = String::new();
        encode(
            &[
                vec![Value::Long(1), Value::String("x".into())],
                vec![Value::Long(2), Value::Null],
            ],
            &[Target::Int(64), Target::Text],
            &mut out,
        );
        assert_eq!(out, "1\tx\n2\t\\N\n");
        assert_eq!(
            statement("public.dst", &["id".into(), "name".into()]),
            "COPY public.dst (id,name) FROM STDIN"
        );
    }
}
