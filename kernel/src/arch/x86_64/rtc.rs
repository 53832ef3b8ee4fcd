//! The CMOS real-time clock, read once at boot to start the wall clock
//! (`crate::time`). Register formats are decoded by `lib/wall-clock`.
//!
//! A read waits for the clock not to be mid-update (status A bit 7), then
//! reads every register twice until two reads agree, so a second ticking
//! over between two registers cannot give a time an hour or a year off.
//!
//! May touch: CMOS ports 0x70/0x71 (only here; nothing else in the kernel
//! uses the CMOS), with NMIs left enabled.

use wall_clock::Rtc;
use x86_64::instructions::port::Port;

const INDEX: u16 = 0x70;
const DATA: u16 = 0x71;
const STATUS_A: u8 = 0x0a;
const STATUS_B: u8 = 0x0b;
const UPDATE_IN_PROGRESS: u8 = 0x80;
/// QEMU and most PCs keep the century here (the FADT may name another).
const CENTURY: u8 = 0x32;

fn read(register: u8) -> u8 {
    let mut index = Port::<u8>::new(INDEX);
    let mut data = Port::<u8>::new(DATA);
    // SAFETY: ports 0x70/0x71 are the CMOS index and data on every PC;
    // selecting a register and reading it changes nothing else, and only
    // this module uses them (with interrupts off, so the pair is atomic).
    x86_64::instructions::interrupts::without_interrupts(|| unsafe {
        index.write(register & 0x7f);
        data.read()
    })
}

fn snapshot() -> Rtc {
    // Bounded: a clock stuck "updating" is read as it is.
    for _ in 0..100_000 {
        if read(STATUS_A) & UPDATE_IN_PROGRESS == 0 {
            break;
        }
        core::hint::spin_loop();
    }
    Rtc {
        seconds: read(0x00),
        minutes: read(0x02),
        hours: read(0x04),
        day: read(0x07),
        month: read(0x08),
        year: read(0x09),
        century: Some(read(CENTURY)),
        status_b: read(STATUS_B),
    }
}

/// Seconds since the Unix epoch by the RTC, or `None` if it reads nonsense
/// (then with no century register assumed, in case that was the nonsense).
pub fn unix_seconds() -> Option<i64> {
    let mut last = snapshot();
    for _ in 0..10 {
        let now = snapshot();
        if now == last {
            break;
        }
        last = now;
    }
    last.unix_seconds().or(Rtc { century: None, ..last }.unix_seconds())
}
