//! The legacy 8259 PIC pair. Ferrite uses the IOAPIC, so the PICs are moved
//! to vectors 0xe0-0xef (away from CPU exceptions, in case one fires a
//! spurious interrupt anyway) and fully masked.

use x86_64::instructions::port::Port;

pub fn remap_and_mask() {
    let mut master_cmd = Port::<u8>::new(0x20);
    let mut master_data = Port::<u8>::new(0x21);
    let mut slave_cmd = Port::<u8>::new(0xa0);
    let mut slave_data = Port::<u8>::new(0xa1);
    // SAFETY: the standard ICW1-ICW4 initialisation of the PIC pair at its
    // fixed ports, followed by masking every line; no memory is touched.
    unsafe {
        master_cmd.write(0x11);
        slave_cmd.write(0x11);
        master_data.write(0xe0);
        slave_data.write(0xe8);
        master_data.write(0x04);
        slave_data.write(0x02);
        master_data.write(0x01);
        slave_data.write(0x01);
        master_data.write(0xff);
        slave_data.write(0xff);
    }
}
