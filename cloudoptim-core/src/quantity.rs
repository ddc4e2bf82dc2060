//! Kubernetes resource quantities, parsed exactly as the API server parses them.
//!
//! The grammar is the one of `k8s.io/apimachinery/pkg/api/resource`:
//!
//! ```text
//! <quantity>        ::= <signedNumber><suffix>
//! <signedNumber>    ::= [+-] <digits> [ . <digits> ] | [+-] . <digits>
//! <suffix>          ::= <binarySI> | <decimalSI> | <decimalExponent>
//! <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
//! <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
//! <decimalExponent> ::= e <signedNumber> | E <signedNumber>
//! ```
//!
//! Values are kept exact (an integer mantissa times a power of ten) and rounded up when
//! converted to integers, as `Quantity.Value()` and `Quantity.MilliValue()` do.

use std::fmt;
use std::str::FromStr;

/// Why a quantity string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuantityError {
    /// The string was empty.
    #[error("empty quantity")]
    Empty,
    /// The string does not follow the quantity grammar.
    #[error("invalid quantity {input:?}: {reason}")]
    Invalid {
        /// The rejected input.
        input: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The value does not fit in the supported range.
    #[error("quantity {0:?} is out of range")]
    OutOfRange(String),
}

/// Result alias for quantity parsing.
pub type Result<T, E = QuantityError> = std::result::Result<T, E>;

/// An exact Kubernetes quantity: `mantissa × 10^exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    mantissa: i128,
    exponent: i32,
}

const MAX_DIGITS: usize = 36;

impl Quantity {
    /// Parses a quantity string such as `100m`, `1.5`, `1Gi`, `1e3`, `129M` or `5n`.
    pub fn parse(input: &str) -> Result<Self> {
        let s = input.trim();
        if s.is_empty() {
            return Err(QuantityError::Empty);
        }
        let invalid = |reason| QuantityError::Invalid {
            input: input.to_string(),
            reason,
        };
        let bytes = s.as_bytes();
        let mut i = 0;
        let negative = match bytes[0] {
            b'-' => {
                i = 1;
                true
            }
            b'+' => {
                i = 1;
                false
            }
            _ => false,
        };
        let mut digits = String::new();
        let mut frac_len: i32 = 0;
        let mut seen_dot = false;
        let mut seen_digit = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_digit() {
                digits.push(c as char);
                seen_digit = true;
                if seen_dot {
                    frac_len += 1;
                }
            } else if c == b'.' && !seen_dot {
                seen_dot = true;
            } else {
                break;
            }
            i += 1;
        }
        if !seen_digit {
            return Err(invalid("expected a number"));
        }
        let suffix = &s[i..];
        let (mult_pow2, mut exp10): (u32, i32) = match suffix {
            "" => (0, 0),
            "n" => (0, -9),
            "u" => (0, -6),
            "m" => (0, -3),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            "Ki" => (10, 0),
            "Mi" => (20, 0),
            "Gi" => (30, 0),
            "Ti" => (40, 0),
            "Pi" => (50, 0),
            "Ei" => (60, 0),
            other if other.starts_with(['e', 'E']) => {
                let exp = &other[1..];
                let valid = {
                    let body = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                    !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
                };
                if !valid {
                    return Err(invalid("bad exponent"));
                }
                let e: i32 = exp
                    .parse()
                    .map_err(|_| QuantityError::OutOfRange(input.to_string()))?;
                if e.abs() > 1000 {
                    return Err(QuantityError::OutOfRange(input.to_string()));
                }
                (0, e)
            }
            _ => return Err(invalid("unknown suffix")),
        };
        let trimmed = digits.trim_start_matches('0');
        let significant = if trimmed.is_empty() { "0" } else { trimmed };
        if significant.len() > MAX_DIGITS {
            return Err(QuantityError::OutOfRange(input.to_string()));
        }
        let mut mantissa: i128 = significant
            .parse()
            .map_err(|_| QuantityError::OutOfRange(input.to_string()))?;
        if mult_pow2 > 0 {
            mantissa = mantissa
                .checked_mul(1i128 << mult_pow2)
                .ok_or_else(|| QuantityError::OutOfRange(input.to_string()))?;
        }
        exp10 -= frac_len;
        if negative {
            mantissa = -mantissa;
        }
        Ok(Quantity {
            mantissa,
            exponent: exp10,
        }
        .normalized())
    }

    /// A quantity from a whole number of base units.
    pub fn from_int(value: i64) -> Self {
        Quantity {
            mantissa: value as i128,
            exponent: 0,
        }
        .normalized()
    }

    /// A quantity from a number of thousandths of a base unit (millicores, say).
    pub fn from_milli(milli: i64) -> Self {
        Quantity {
            mantissa: milli as i128,
            exponent: -3,
        }
        .normalized()
    }

    fn normalized(mut self) -> Self {
        if self.mantissa == 0 {
            self.exponent = 0;
            return self;
        }
        while self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.exponent += 1;
        }
        self
    }

    /// `ceil(value × 10^scale)`, saturating at the bounds of `i64`.
    fn scaled_ceil(&self, scale: i32) -> i64 {
        let e = self.exponent + scale;
        if self.mantissa == 0 {
            return 0;
        }
        if e >= 0 {
            let mut v = self.mantissa;
            for _ in 0..e {
                v = match v.checked_mul(10) {
                    Some(v) => v,
                    None => {
                        return if self.mantissa > 0 {
                            i64::MAX
                        } else {
                            i64::MIN
                        };
                    }
                };
            }
            v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
        } else {
            let mut div: i128 = 1;
            for _ in 0..(-e) {
                div = match div.checked_mul(10) {
                    Some(d) => d,
                    // Smaller than any representable unit: rounds up to 1 (or down to 0).
                    None => return if self.mantissa > 0 { 1 } else { 0 },
                };
            }
            let q = self.mantissa.div_euclid(div);
            let r = self.mantissa.rem_euclid(div);
            let v = if r > 0 { q + 1 } else { q };
            v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
        }
    }

    /// The value in base units, rounded up (`Quantity.Value()`): bytes for memory.
    pub fn value(&self) -> i64 {
        self.scaled_ceil(0)
    }

    /// The value in thousandths of a base unit, rounded up (`Quantity.MilliValue()`): millicores for CPU.
    pub fn milli_value(&self) -> i64 {
        self.scaled_ceil(3)
    }

    /// The value in billionths of a base unit, rounded up: nanocores for CPU usage.
    pub fn nano_value(&self) -> i64 {
        self.scaled_ceil(9)
    }

    /// The value as a float (may lose precision).
    pub fn as_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// Whether the quantity is negative.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self> {
        Quantity::parse(s)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exponent >= 0 {
            write!(f, "{}", self.mantissa)?;
            if self.exponent > 0 {
                write!(f, "e{}", self.exponent)?;
            }
            Ok(())
        } else {
            write!(f, "{}e{}", self.mantissa, self.exponent)
        }
    }
}

/// Formats millicores as Kubernetes would write them: `500m`, `2`, `1500m`.
pub fn format_cpu_milli(milli: i64) -> String {
    if milli % 1000 == 0 {
        format!("{}", milli / 1000)
    } else {
        format!("{milli}m")
    }
}

/// Formats bytes with the largest binary suffix that divides them exactly
/// (`1Gi`, `1536Mi`), falling back to `Mi` rounded up for odd values.
pub fn format_memory_bytes(bytes: i64) -> String {
    const UNITS: [(&str, i64); 4] = [
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    if bytes == 0 {
        return "0".into();
    }
    for (suffix, size) in UNITS {
        if bytes % size == 0 && bytes.abs() >= size {
            return format!("{}{}", bytes / size, suffix);
        }
    }
    let mi = (bytes + (1 << 20) - 1) >> 20;
    format!("{mi}Mi")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("1Gi").value(), 1 << 30);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("1E3").value(), 1000);
        assert_eq!(q("1k").value(), 1000);
        assert_eq!(q("129M").value(), 129_000_000);
        assert_eq!(q("5n").nano_value(), 5);
        assert_eq!(q("5n").milli_value(), 1, "rounds up like MilliValue");
        assert_eq!(q("31127824Ki").value(), 31_127_824 * 1024);
        assert_eq!(q("7910m").milli_value(), 7910);
        assert_eq!(q(".5").milli_value(), 500);
        assert_eq!(q("0.1").milli_value(), 100);
        assert_eq!(q("+2").value(), 2);
        assert_eq!(q("-1").value(), -1);
        assert_eq!(q("1.5Gi").value(), 3 << 29);
        assert_eq!(q("2e-3").milli_value(), 2);
        assert_eq!(q("144965184n").milli_value(), 145);
        assert_eq!(q("0").value(), 0);
    }

    #[test]
    fn rounds_up_fractions() {
        assert_eq!(q("0.1m").milli_value(), 1);
        assert_eq!(q("1.0001").value(), 2);
        assert_eq!(q("-0.5").value(), 0);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "", "m", "1x", "1.2.3", "1Gb", "1e", "1e+", "abc", "1 Gi", "Ki", "1ki", "--1", "1e3.5",
        ] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn large_values_saturate_or_fail_cleanly() {
        assert!(Quantity::parse("1e2000").is_err());
        assert_eq!(q("8Ei").value(), i64::MAX);
        assert!(Quantity::parse(&"9".repeat(60)).is_err());
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_cpu_milli(500), "500m");
        assert_eq!(format_cpu_milli(2000), "2");
        assert_eq!(format_memory_bytes(1 << 30), "1Gi");
        assert_eq!(format_memory_bytes(1536 << 20), "1536Mi");
        assert_eq!(format_memory_bytes(1_000_000), "1Mi");
        assert_eq!(q(&format_memory_bytes(3 << 20)).value(), 3 << 20);
    }
}
