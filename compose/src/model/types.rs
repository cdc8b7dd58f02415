//! Value types with a Compose spelling: durations, byte sizes, file modes.
//!
//! Each parses what Docker Compose accepts and prints what `docker compose config` prints, so
//! a normalised file reads the same in both tools. Binding reports a malformed value through
//! [`crate::bind::report`] and keeps a zero, so one bad value does not hide the next mistake.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bind::report;

/// A Go-style duration (`1m30s`, `500ms`), printed as Go prints it (`90s` reads back as `1m30s`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid duration {s:?}: use a number and a unit, like 30s, 1m30s or 500ms");
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        if rest == "0" {
            return Ok(Duration(std::time::Duration::ZERO));
        }
        let mut nanos: f64 = 0.0;
        while !rest.is_empty() {
            let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
            rest = &rest[num_len..];
            let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
            let scale = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(bad()),
            };
            nanos += number * scale;
            rest = &rest[unit_len..];
        }
        Ok(Duration(std::time::Duration::from_nanos(nanos.round() as u64)))
    }
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.as_nanos();
        if total == 0 {
            return write!(f, "0s");
        }
        let frac = |value: u128, unit: u128| {
            let whole = value / unit;
            let rem = value % unit;
            if rem == 0 {
                whole.to_string()
            } else {
                let digits = unit.to_string().len() - 1;
                let s = format!("{whole}.{rem:0digits$}");
                s.trim_end_matches('0').to_string()
            }
        };
        if total < 1_000 {
            return write!(f, "{total}ns");
        }
        if total < 1_000_000 {
            return write!(f, "{}µs", frac(total, 1_000));
        }
        if total < 1_000_000_000 {
            return write!(f, "{}ms", frac(total, 1_000_000));
        }
        let hours = total / 3_600_000_000_000;
        let minutes = (total / 60_000_000_000) % 60;
        let seconds = total % 60_000_000_000;
        if hours > 0 {
            write!(f, "{hours}h{minutes}m")?;
        } else if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        write!(f, "{}s", frac(seconds, 1_000_000_000))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Parsed(Duration::parse))
    }
}

/// A size in bytes, written as `512`, `64m`, `1.5g` (powers of 1024, as Docker reads them);
/// printed as the number of bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid size {s:?}: use a number of bytes or a number with a unit (b, k, m, g)");
        let t = s.trim().to_ascii_lowercase();
        let num_len = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let number: f64 = t[..num_len].parse().map_err(|_| bad())?;
        let scale: f64 = match t[num_len..].trim() {
            "" | "b" => 1.0,
            "k" | "kb" | "kib" => 1024.0,
            "m" | "mb" | "mib" => 1024.0 * 1024.0,
            "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
            "t" | "tb" | "tib" => 1024.0f64.powi(4),
            "p" | "pb" | "pib" => 1024.0f64.powi(5),
            _ => return Err(bad()),
        };
        Ok(ByteSize((number * scale) as u64))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Parsed(ByteSize::parse))
    }
}

/// A file mode. YAML `0440` is octal already; the string `"0440"` is read as octal too.
/// Printed as a quoted octal string, as Docker Compose does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FileMode(pub u32);

impl Serialize for FileMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("0{:o}", self.0))
    }
}

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ModeVisitor;
        impl Visitor<'_> for ModeVisitor {
            type Value = FileMode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a file mode")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FileMode, E> {
                Ok(FileMode(v as u32))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FileMode, E> {
                Ok(FileMode(v as u32))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FileMode, E> {
                Ok(FileMode(u32::from_str_radix(v, 8).unwrap_or_else(|_| {
                    report(format!("invalid file mode {v:?}: use an octal number like 0440"));
                    0
                })))
            }
        }
        d.deserialize_any(ModeVisitor)
    }
}

/// Reads any scalar as its text; used by values that accept both strings and numbers.
pub(crate) struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// Reads any scalar as text and parses it while the deserializer still knows where the value
/// is, so a parse failure is reported at the value's position.
struct Parsed<T>(fn(&str) -> Result<T, String>);

impl<T: Default> Visitor<'_> for Parsed<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.0)(v).unwrap_or_else(|e| {
            report(e);
            T::default()
        }))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

/// `deserialize_with` for fields that take a string or a number and keep it as text.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(TextVisitor)
}

/// `deserialize_with` for optional fields that take a string or a number.
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(d.deserialize_any(TextVisitor)?))
}

/// `deserialize_with` for numbers that may be written as strings (`cpus: '0.5'`).
pub fn opt_float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_any(Parsed(|t| t.trim().parse().map_err(|_| format!("invalid number {t:?}")))).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_like_go() {
        for (input, printed) in [
            ("10s", "10s"),
            ("60s", "1m0s"),
            ("120s", "2m0s"),
            ("90s", "1m30s"),
            ("1h", "1h0m0s"),
            ("500ms", "500ms"),
            ("1.5s", "1.5s"),
            ("1m30s", "1m30s"),
            ("0", "0s"),
            ("2us", "2µs"),
        ] {
            assert_eq!(Duration::parse(input).expect(input).to_string(), printed, "{input}");
        }
        assert!(Duration::parse("10").is_err());
        assert!(Duration::parse("ten seconds").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("50M"), Ok(ByteSize(52_428_800)));
        assert_eq!(ByteSize::parse("10000"), Ok(ByteSize(10_000)));
        assert_eq!(ByteSize::parse("1.5g"), Ok(ByteSize(1_610_612_736)));
        assert!(ByteSize::parse("lots").is_err());
    }
}
