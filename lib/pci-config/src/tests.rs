//! Host tests of the decoding and the text.

extern crate std;

use super::*;

/// A header from its fields: vendor, device, class triple, header type
/// byte, BAR words, interrupt line and pin.
fn header(vendor: u16, device: u16, class: [u8; 3], header_type: u8, bars: &[u32], irq: (u8, u8)) -> Header {
    let mut words = [0u32; 16];
    words[0] = u32::from(device) << 16 | u32::from(vendor);
    words[1] = 0x0200_0007;
    words[2] = u32::from(class[0]) << 24 | u32::from(class[1]) << 16 | u32::from(class[2]) << 8 | 0x02;
    words[3] = u32::from(header_type) << 16;
    for (i, &bar) in bars.iter().enumerate() {
        words[4 + i] = bar;
    }
    words[15] = u32::from(irq.1) << 8 | u32::from(irq.0);
    Header(words)
}

#[test]
fn addresses_print_and_parse() {
    let a = Address::new(0, 0x1f, 2).unwrap();
    assert_eq!(std::format!("{a}"), "00:1f.2");
    assert_eq!(Address::parse("00:1f.2"), Some(a));
    assert_eq!(Address::parse("00:1F.2"), Some(a));
    assert_eq!(Address::parse("ff:00.7"), Address::new(0xff, 0, 7));
    for bad in ["", "00:20.0", "00:1f.8", "0:1f.2", "00-1f.2", "00:1f:2", "000:1f.2", "g0:00.0", "00:+1.0", "00:1f.2 "]
    {
        assert_eq!(Address::parse(bad), None, "{bad:?}");
    }
    assert_eq!(Address::new(0, 32, 0), None);
    assert_eq!(Address::new(0, 0, 8), None);
}

#[test]
fn config_address_selects_a_word() {
    let a = Address::new(1, 2, 3).unwrap();
    assert_eq!(a.config_address(0x10), 0x8001_1310);
    assert_eq!(a.config_address(0x13), 0x8001_1310, "offsets round down to a word");
    assert_eq!(Address::new(0xff, 31, 7).unwrap().config_address(0xfc), 0x80ff_fffc);
}

#[test]
fn fields_come_from_their_bytes() {
    let h = header(0x8086, 0x7000, [0x06, 0x01, 0x00], 0x80, &[], (11, 1));
    assert_eq!((h.vendor(), h.device()), (0x8086, 0x7000));
    assert_eq!((h.class(), h.subclass(), h.prog_if(), h.revision()), (6, 1, 0, 2));
    assert_eq!((h.command(), h.status()), (0x0007, 0x0200));
    assert_eq!(h.header_type(), 0);
    assert!(h.multi_function());
    assert_eq!((h.interrupt_line(), h.interrupt_pin()), (11, 1));
}

#[test]
fn the_listing_line_has_the_documented_shape() {
    let h = header(0x8086, 0x7000, [0x06, 0x01, 0x00], 0x80, &[], (0xff, 0));
    assert_eq!(listing_line(Address::new(0, 1, 0).unwrap(), &h), "00:01.0 8086:7000 06.01.00 ISA bridge");
    let h = header(0x1af4, 0x1000, [0x02, 0x00, 0x00], 0, &[], (0xff, 0));
    assert_eq!(listing_line(Address::new(0, 3, 0).unwrap(), &h), "00:03.0 1af4:1000 02.00.00 Ethernet controller");
}

#[test]
fn bars_decode() {
    assert_eq!(Bar::decode(0, Some(0)), Bar::Unused);
    assert_eq!(Bar::decode(1, None), Bar::Unused, "an I/O BAR at port 0 is empty");
    assert_eq!(Bar::decode(0xc041, None), Bar::Io { port: 0xc040 });
    assert_eq!(Bar::decode(0xfebf_1000, None), Bar::Memory32 { address: 0xfebf_1000, prefetchable: false });
    assert_eq!(Bar::decode(0xfd00_0008, None), Bar::Memory32 { address: 0xfd00_0000, prefetchable: true });
    assert_eq!(Bar::decode(0xfe00_000c, Some(0x1)), Bar::Memory64 { address: 0x1_fe00_0000, prefetchable: true });
    assert_eq!(Bar::decode(0x0000_0004, Some(0)), Bar::Unused, "an empty 64-bit BAR");
    assert_eq!(Bar::decode(0xfe00_0004, None), Bar::Invalid { raw: 0xfe00_0004 }, "64-bit in the last slot");
    assert_eq!(Bar::decode(0xfe00_0006, Some(0)), Bar::Invalid { raw: 0xfe00_0006 }, "reserved type");
}

#[test]
fn a_64_bit_bar_takes_two_slots() {
    let bars = [0xc001, 0xfe00_000c, 0x0000_0001, 0xfebf_0000, 0, 0];
    let h = header(0x1b36, 0x0010, [0x01, 0x08, 0x02], 0, &bars, (10, 1));
    let decoded = h.bars();
    assert_eq!(
        decoded,
        [
            (0, Bar::Io { port: 0xc000 }),
            (1, Bar::Memory64 { address: 0x1_fe00_0000, prefetchable: true }),
            (3, Bar::Memory32 { address: 0xfebf_0000, prefetchable: false }),
            (4, Bar::Unused),
            (5, Bar::Unused),
        ]
    );
}

#[test]
fn bridges_have_two_bars_and_bus_numbers() {
    let mut h = header(0x1b36, 0x0001, [0x06, 0x04, 0x00], 0x01, &[0xfe80_0000, 0], (0xff, 0));
    h.0[6] = 0x00_05_01_00; // primary 0, secondary 1, subordinate 5
    // Words 6.. are bus numbers, not BARs.
    assert_eq!(h.bars(), [(0, Bar::Memory32 { address: 0xfe80_0000, prefetchable: false }), (1, Bar::Unused)]);
    assert_eq!(h.buses(), Some((0, 1, 5)));
    let text = describe(Address::new(0, 2, 0).unwrap(), &h);
    assert!(text.contains("header_type: 1 (pci-to-pci bridge)\n"), "{text}");
    assert!(text.contains("buses: 00 01 05\n"), "{text}");
    assert!(!text.contains("bar2"), "{text}");
    // An unknown layout has no BARs at all.
    let odd = header(0x1234, 0x5678, [0xff, 0, 0], 0x05, &[0xc001], (0xff, 0));
    assert!(odd.bars().is_empty());
    assert_eq!(odd.buses(), None);
}

#[test]
fn the_description_lists_every_field() {
    let bars = [0xfd00_0008, 0, 0xfebf_4000, 0, 0, 0];
    let h = header(0x1234, 0x1111, [0x03, 0x00, 0x00], 0x00, &bars, (11, 1));
    let text = describe(Address::new(0, 1, 0).unwrap(), &h);
    let expected = "address: 00:01.0\n\
        vendor: 1234\n\
        device: 1111\n\
        class: 03.00.00 VGA compatible controller\n\
        revision: 02\n\
        header_type: 0 (general)\n\
        command: 0007\n\
        status: 0200\n\
        bar0: mem32 0xfd000000 prefetchable\n\
        bar1: unused\n\
        bar2: mem32 0xfebf4000\n\
        bar3: unused\n\
        bar4: unused\n\
        bar5: unused\n\
        interrupt_line: 11\n\
        interrupt_pin: A\n";
    assert_eq!(text, expected);
    let quiet = header(0x8086, 0x29c0, [0x06, 0x00, 0x00], 0x80, &[], (0xff, 0));
    let text = describe(Address::new(0, 0, 0).unwrap(), &quiet);
    assert!(text.contains("header_type: 0 (general), multi-function\n"), "{text}");
    assert!(text.ends_with("interrupt_line: none\ninterrupt_pin: none\n"), "{text}");
    let bad_pin = header(0x8086, 0x29c0, [0x06, 0x00, 0x00], 0, &[], (3, 9));
    assert!(describe(Address::new(0, 0, 0).unwrap(), &bad_pin).ends_with("interrupt_pin: none\n"));
}

#[test]
fn class_names() {
    assert_eq!(class_name(0x06, 0x01, 0), "ISA bridge");
    assert_eq!(class_name(0x06, 0x00, 0), "host bridge");
    assert_eq!(class_name(0x01, 0x06, 0x01), "SATA controller (AHCI)");
    assert_eq!(class_name(0x0c, 0x03, 0x30), "USB controller (xHCI)");
    assert_eq!(class_name(0x0c, 0x03, 0x99), "USB controller");
    assert_eq!(class_name(0x02, 0x42, 0), "network controller", "unknown subclass: the class's name");
    assert_eq!(class_name(0x42, 0, 0), "unknown class");
    assert_eq!(class_name(0xff, 0, 0), "unassigned class");
}

#[test]
fn any_header_decodes_without_panicking() {
    // A cheap sweep over odd words: every accessor and both texts.
    let mut seed = 0x1234_5678u32;
    for _ in 0..2000 {
        let mut words = [0u32; 16];
        for word in &mut words {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            *word = seed;
        }
        let h = Header(words);
        let a = Address::new(seed as u8, (seed >> 8) as u8 & 31, (seed >> 16) as u8 & 7).unwrap();
        let _ = listing_line(a, &h);
        let text = describe(a, &h);
        assert!(text.starts_with("address: ") && text.ends_with('\n'));
        assert!(h.bars().len() <= 6);
    }
}
