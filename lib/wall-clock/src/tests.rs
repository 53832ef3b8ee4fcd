extern crate std;

use std::string::ToString;

use super::*;

/// QEMU's defaults: BCD, 24-hour.
fn bcd(seconds: u8, minutes: u8, hours: u8, day: u8, month: u8, year: u8, century: Option<u8>) -> Rtc {
    Rtc { seconds, minutes, hours, day, month, year, century, status_b: STATUS_B_24_HOUR }
}

#[test]
fn bcd_24_hour_with_century() {
    let rtc = bcd(0x50, 0x50, 0x11, 0x03, 0x12, 0x26, Some(0x20));
    assert_eq!(rtc.unix_seconds(), Some(1_796_298_650));
}

#[test]
fn binary_and_12_hour_forms_agree() {
    let bcd = bcd(0x05, 0x04, 0x13, 0x29, 0x02, 0x24, None);
    let binary = Rtc { seconds: 5, minutes: 4, hours: 13, day: 29, month: 2, year: 24, century: None, status_b: 6 };
    let twelve = Rtc { hours: 0x01 | HOURS_PM, status_b: 0, ..bcd };
    assert_eq!(bcd.unix_seconds(), Some(1_709_211_845));
    assert_eq!(binary.unix_seconds(), bcd.unix_seconds());
    assert_eq!(twelve.unix_seconds(), bcd.unix_seconds());
    // 12 AM is midnight, 12 PM noon.
    let midnight = Rtc { hours: 0x12, status_b: 0, ..bcd };
    let noon = Rtc { hours: 0x12 | HOURS_PM, status_b: 0, ..bcd };
    assert_eq!(noon.unix_seconds().unwrap() - midnight.unix_seconds().unwrap(), 12 * 3600);
}

#[test]
fn garbage_registers_give_none() {
    let good = bcd(0x00, 0x00, 0x00, 0x01, 0x01, 0x00, Some(0x20));
    assert_eq!(good.unix_seconds(), Some(946_684_800));
    for bad in [
        Rtc { seconds: 0x5a, ..good },
        Rtc { minutes: 0x60, ..good },
        Rtc { hours: 0x24, ..good },
        Rtc { day: 0x00, ..good },
        Rtc { day: 0x31, month: 0x04, ..good },
        Rtc { month: 0x13, ..good },
        Rtc { month: 0x00, ..good },
        Rtc { year: 0xff, ..good },
        Rtc { century: Some(0x05), ..good },
        Rtc { hours: 0x00, status_b: 0, ..good },
        Rtc { hours: 0x13, status_b: 0, ..good },
        Rtc { day: 0x29, month: 0x02, year: 0x23, ..good },
    ] {
        assert_eq!(bad.unix_seconds(), None, "{bad:?}");
    }
}

#[test]
fn every_register_value_is_survived() {
    for byte in 0..=255u8 {
        for status_b in [0, 2, 4, 6] {
            let rtc = Rtc {
                seconds: byte,
                minutes: byte,
                hours: byte,
                day: byte,
                month: byte,
                year: byte,
                century: Some(byte),
                status_b,
            };
            let _ = rtc.unix_seconds();
        }
    }
}

#[test]
fn dates_print_as_date_does() {
    let date = Date::from_unix(1_796_298_650).unwrap();
    assert_eq!(date.to_string(), "Thu Dec  3 11:50:50 UTC 2026");
    assert_eq!(date.short().to_string(), "2026-12-03 11:50");
    assert_eq!(Date::from_unix(0).unwrap().to_string(), "Thu Jan  1 00:00:00 UTC 1970");
    assert_eq!(Date::from_unix(i64::MAX), None);
}
