//! The reporting time zone (SPEC sections 7, 8 and 9), from chrono-tz's IANA data (DST
//! included): `local_month(ts, zone)` is the first day of the local calendar month holding the
//! UTC instant `ts`; `local_midnight(date, zone)` the UTC instant of 00:00 local on `date`;
//! `days_between(from, to)` the (fractional) days between two instants.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{
    Array, AsArray, Date32Builder, Float64Array, TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::strings;

/// An IANA zone name (`America/Los_Angeles`, `UTC`); the error names the value.
pub fn zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name.trim())
        .map_err(|_| format!("{name:?} is not an IANA time zone name (e.g. America/Los_Angeles)"))
}

/// The first day of the local calendar month of `micros` (UTC) in `tz`.
pub fn month_of(micros: i64, tz: Tz) -> Option<NaiveDate> {
    let local = tz.timestamp_micros(micros).single()?;
    NaiveDate::from_ymd_opt(local.year(), local.month(), 1)
}

/// The UTC instant (microseconds) of 00:00:00 local on `day` in `tz`; when midnight falls in a
/// DST gap, the first local instant of that day.
pub fn midnight_of(day: NaiveDate, tz: Tz) -> Option<i64> {
    (0..24 * 60)
        .find_map(|minute| {
            let local = day.and_hms_opt(minute / 60, minute % 60, 0)?;
            tz.from_local_datetime(&local).earliest()
        })
        .map(|t| t.timestamp_micros())
}

fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(days as i64))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeFunction {
    /// `local_month(timestamp, zone)` -> DATE: the first day of the local calendar month.
    Month,
    /// `local_midnight(date, zone)` -> TIMESTAMP (UTC): 00:00 local on that day.
    Midnight,
}

/// `local_month` / `local_midnight`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimeUdf {
    function: TimeFunction,
    signature: Signature,
}

impl TimeUdf {
    pub fn new(function: TimeFunction) -> Self {
        TimeUdf {
            function,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// The zone of each row, parsed once per distinct name in a batch.
struct Zones(Option<(String, Tz)>);

impl Zones {
    fn get(&mut self, name: &str, function: &str) -> Result<Tz> {
        match &self.0 {
            Some((cached, tz)) if cached == name => Ok(*tz),
            _ => match zone(name) {
                Ok(tz) => {
                    self.0 = Some((name.to_string(), tz));
                    Ok(tz)
                }
                Err(message) => exec_err!("{function}: {message}"),
            },
        }
    }
}

impl ScalarUDFImpl for TimeUdf {
    fn name(&self) -> &str {
        match self.function {
            TimeFunction::Month => "local_month",
            TimeFunction::Midnight => "local_midnight",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.function {
            TimeFunction::Month => DataType::Date32,
            TimeFunction::Midnight => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let zones = strings(&args.args[1], n)?;
        let zones = zones.as_string::<i32>();
        let mut cache = Zones(None);
        let input = args.args[0].to_array(n)?;
        match self.function {
            TimeFunction::Month => {
                let ts = cast(&input, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
                let ts = ts.as_primitive::<TimestampMicrosecondType>();
                let mut out = Date32Builder::with_capacity(n);
                for i in 0..n {
                    if ts.is_null(i) || zones.is_null(i) {
                        out.append_null();
                        continue;
                    }
                    let tz = cache.get(zones.value(i), self.name())?;
                    out.append_option(month_of(ts.value(i), tz).map(crate::load::values::date32));
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
            TimeFunction::Midnight => {
                let days = cast(&input, &DataType::Date32)?;
                let days = days.as_primitive::<Date32Type>();
                let mut out = TimestampMicrosecondBuilder::with_capacity(n);
                for i in 0..n {
                    if days.is_null(i) || zones.is_null(i) {
                        out.append_null();
                        continue;
                    }
                    let tz = cache.get(zones.value(i), self.name())?;
                    out.append_option(days_to_date(days.value(i)).and_then(|d| midnight_of(d, tz)));
                }
                Ok(ColumnarValue::Array(Arc::new(
                    out.finish().with_timezone("UTC"),
                )))
            }
        }
    }
}

/// `days_between(from, to)` -> DOUBLE: the days from `from` to `to`, fractions included
/// (microseconds / 86 400 000 000: a day is 24 hours of UTC, as SPEC 6's half-life counts).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DaysBetween {
    signature: Signature,
}

impl Default for DaysBetween {
    fn default() -> Self {
        DaysBetween {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// Microseconds in a day.
const DAY_MICROS: f64 = 86_400_000_000.0;

/// The days from `from` to `to` (microseconds since the epoch).
pub fn days_between(from: i64, to: i64) -> f64 {
    (to - from) as f64 / DAY_MICROS
}

impl ScalarUDFImpl for DaysBetween {
    fn name(&self) -> &str {
        "days_between"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let micros = |i: usize| -> Result<_> {
            let a = args.args[i].to_array(n)?;
            Ok(cast(&a, &DataType::Timestamp(TimeUnit::Microsecond, None))?)
        };
        let (from, to) = (micros(0)?, micros(1)?);
        let (from, to) = (
            from.as_primitive::<TimestampMicrosecondType>(),
            to.as_primitive::<TimestampMicrosecondType>(),
        );
        let out: Float64Array = (0..n)
            .map(|i| {
                (from.is_valid(i) && to.is_valid(i))
                    .then(|| days_between(from.value(i), to.value(i)))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn los_angeles_months_follow_the_local_calendar() {
        let la = zone("America/Los_Angeles").unwrap();
        let feb = NaiveDate::from_ymd_opt(2024, 2, 1);
        let mar = NaiveDate::from_ymd_opt(2024, 3, 1);
        // UTC-8 in winter: 07:59Z is 23:59 on Feb 29, 08:00Z is midnight on Mar 1.
        assert_eq!(month_of(micros("2024-03-01T07:59:00Z"), la), feb);
        assert_eq!(month_of(micros("2024-03-01T08:00:00Z"), la), mar);
        // UTC-7 (DST) until Nov 3 2024: 07:30Z on Nov 1 is 00:30 local, November.
        assert_eq!(
            month_of(micros("2024-11-01T07:30:00Z"), la),
            NaiveDate::from_ymd_opt(2024, 11, 1)
        );
        assert!(zone("Mars/Olympus_Mons").is_err());
    }

    #[test]
    fn days_between_counts_fractional_days() {
        let from = micros("2024-03-01T00:00:00Z");
        assert_eq!(days_between(from, micros("2024-03-08T00:00:00Z")), 7.0);
        assert_eq!(days_between(from, micros("2024-03-01T06:00:00Z")), 0.25);
        assert_eq!(days_between(micros("2024-03-02T00:00:00Z"), from), -1.0);
    }

    #[test]
    fn local_midnight_is_the_zones_midnight_in_utc() {
        let la = zone("America/Los_Angeles").unwrap();
        let day = |m, d| NaiveDate::from_ymd_opt(2024, m, d).unwrap();
        // PDT (UTC-7) on April 2, PST (UTC-8) on February 2.
        assert_eq!(
            midnight_of(day(4, 2), la),
            Some(micros("2024-04-02T07:00:00Z"))
        );
        assert_eq!(
            midnight_of(day(2, 2), la),
            Some(micros("2024-02-02T08:00:00Z"))
        );
        // Havana skips midnight on 2024-03-10 (00:00 -> 01:00): the day starts at 01:00 CDT.
        let havana = zone("America/Havana").unwrap();
        assert_eq!(
            midnight_of(day(3, 10), havana),
            Some(micros("2024-03-10T05:00:00Z"))
        );
    }
}
