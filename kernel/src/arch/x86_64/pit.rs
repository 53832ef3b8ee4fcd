//! The legacy 8254 PIT, used only as a reference clock of known frequency:
//! to calibrate the TSC at boot, and as a one-shot interrupt source for the
//! IOAPIC self-test. Touches ports 0x40-0x43 and 0x61.

use x86_64::instructions::port::Port;

/// The PIT input clock.
pub const FREQUENCY_HZ: u64 = 1_193_182;

const CHANNEL0: u16 = 0x40;
const CHANNEL2: u16 = 0x42;
const COMMAND: u16 = 0x43;
const GATE_PORT: u16 = 0x61;

/// Busy-wait for `ticks` PIT periods on channel 2 (which needs no
/// interrupt), calling `on_start` right after the countdown starts. Returns
/// once the channel's output goes high.
pub fn wait_channel2(ticks: u16, on_start: impl FnOnce()) {
    let mut gate = Port::<u8>::new(GATE_PORT);
    let mut command = Port::<u8>::new(COMMAND);
    let mut data = Port::<u8>::new(CHANNEL2);
    // SAFETY: ports 0x42/0x43/0x61 are the PIT channel 2 and its gate on
    // every PC; nothing else in the kernel uses channel 2 or the speaker.
    unsafe {
        // Gate on, speaker off.
        let value = gate.read();
        gate.write((value & !0x02) | 0x01);
        // Channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count), binary.
        command.write(0b1011_0000);
        data.write(ticks as u8);
        data.write((ticks >> 8) as u8);
        // Restart the count by toggling the gate.
        let value = gate.read();
        gate.write(value & !0x01);
        gate.write(value | 0x01);
    }
    on_start();
    // SAFETY: reading the gate port's status bits has no side effects.
    unsafe {
        while gate.read() & 0x20 == 0 {
            core::hint::spin_loop();
        }
    }
}

/// Program channel 0 to raise IRQ 0 once after `ticks` periods (mode 0).
pub fn one_shot_channel0(ticks: u16) {
    let mut command = Port::<u8>::new(COMMAND);
    let mut data = Port::<u8>::new(CHANNEL0);
    // SAFETY: channel 0 is not used for timekeeping (the LAPIC timer is);
    // the IOAPIC self-test is its only user.
    unsafe {
        command.write(0b0011_0000); // channel 0, lobyte/hibyte, mode 0
        data.write(ticks as u8);
        data.write((ticks >> 8) as u8);
    }
}
