//! Wall-clock time without `std`: what the kernel needs to turn the CMOS
//! real-time clock's registers into Unix time at boot ([`Rtc::unix_seconds`]),
//! and what programs need to show Unix time as a date ([`Date`], printed as
//! `date` prints it: `Thu Dec  3 11:50:50 UTC 2026`).
//!
//! The calendar arithmetic is the `time` crate's (no `std`, no allocation);
//! this crate adds the RTC's register formats (BCD or binary, 12- or
//! 24-hour, an optional century register) and checks every field, so a
//! clock that reads garbage gives `None`, never a panic or a wrong date.
//! The RTC is taken to keep UTC, as QEMU's does by default.
//!
//! May touch: nothing but its arguments.

#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

use time::{Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Status register B bit 1: 24-hour mode (else 12-hour, with bit 7 of the
/// hours register meaning PM).
const STATUS_B_24_HOUR: u8 = 1 << 1;
/// Status register B bit 2: binary values (else BCD).
const STATUS_B_BINARY: u8 = 1 << 2;
/// The PM flag in the hours register, in 12-hour mode.
const HOURS_PM: u8 = 0x80;

/// The RTC's date and time registers as read (CMOS 0x00, 0x02, 0x04,
/// 0x07, 0x08, 0x09, the century register the FADT names if any, and
/// status register B at 0x0B).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtc {
    pub seconds: u8,
    pub minutes: u8,
    pub hours: u8,
    pub day: u8,
    pub month: u8,
    pub year: u8,
    /// The century register, if the machine has one.
    pub century: Option<u8>,
    pub status_b: u8,
}

/// A BCD byte's value (`None` if a nibble is not a decimal digit).
fn from_bcd(byte: u8) -> Option<u8> {
    let (high, low) = (byte >> 4, byte & 0x0f);
    (high < 10 && low < 10).then_some(high * 10 + low)
}

impl Rtc {
    /// A register's value in the clock's format.
    fn value(&self, byte: u8) -> Option<u8> {
        if self.status_b & STATUS_B_BINARY != 0 { Some(byte) } else { from_bcd(byte) }
    }

    /// The hour, 0-23.
    fn hour(&self) -> Option<u8> {
        if self.status_b & STATUS_B_24_HOUR != 0 {
            return self.value(self.hours).filter(|&h| h < 24);
        }
        let hour = self.value(self.hours & !HOURS_PM).filter(|&h| (1..=12).contains(&h))?;
        let pm = self.hours & HOURS_PM != 0;
        Some(match (hour, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, false) => h,
            (h, true) => h + 12,
        })
    }

    /// The full year: the century register's, else 20xx (the clock has no
    /// way to say 19xx without one, and no machine running this is older).
    fn full_year(&self) -> Option<i32> {
        let year = i32::from(self.value(self.year).filter(|&y| y < 100)?);
        let century = match self.century {
            Some(byte) => i32::from(self.value(byte).filter(|&c| (19..=99).contains(&c))?),
            None => 20,
        };
        Some(century * 100 + year)
    }

    /// Seconds since 1970-01-01 00:00:00 UTC, or `None` if a register
    /// holds something no clock shows (a non-BCD byte, month 13, 31 April).
    pub fn unix_seconds(&self) -> Option<i64> {
        let month = Month::try_from(self.value(self.month)?).ok()?;
        let date = time::Date::from_calendar_date(self.full_year()?, month, self.value(self.day)?).ok()?;
        let time = Time::from_hms(self.hour()?, self.value(self.minutes)?, self.value(self.seconds)?).ok()?;
        Some(PrimitiveDateTime::new(date, time).assume_utc().unix_timestamp())
    }
}

/// A moment in UTC, shown as `date` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(OffsetDateTime);

impl Date {
    /// The moment `seconds` after the Unix epoch (`None` outside the years
    /// -9999..=9999).
    pub fn from_unix(seconds: i64) -> Option<Date> {
        OffsetDateTime::from_unix_timestamp(seconds).ok().map(Date)
    }

    pub fn year(&self) -> i32 {
        self.0.year()
    }

    /// 1-12.
    pub fn month(&self) -> u8 {
        u8::from(self.0.month())
    }

    pub fn day(&self) -> u8 {
        self.0.day()
    }

    pub fn hour(&self) -> u8 {
        self.0.hour()
    }

    pub fn minute(&self) -> u8 {
        self.0.minute()
    }

    pub fn second(&self) -> u8 {
        self.0.second()
    }

    /// `YYYY-MM-DD HH:MM` (as `ls -l` shows a modification time).
    pub fn short(&self) -> ShortDate {
        ShortDate(*self)
    }
}

/// `Thu Dec  3 11:50:50 UTC 2026`.
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let day = DAYS[usize::from(self.0.weekday().number_days_from_monday())];
        let month = MONTHS[usize::from(self.month() - 1)];
        write!(
            f,
            "{day} {month} {:>2} {:02}:{:02}:{:02} UTC {}",
            self.day(),
            self.hour(),
            self.minute(),
            self.second(),
            self.year()
        )
    }
}

/// A [`Date`] as `YYYY-MM-DD HH:MM`.
pub struct ShortDate(Date);

impl fmt::Display for ShortDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02} {:02}:{:02}", d.year(), d.month(), d.day(), d.hour(), d.minute())
    }
}

#[cfg(test)]
mod tests;
