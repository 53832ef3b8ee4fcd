use super::*;
use alloc::vec;
use alloc::vec::Vec;

extern crate alloc;

fn world<'a>(fds: &'a [usize], children: &'a [usize]) -> World<'a> {
    World {
        scratch_addr: 0x1000_0000,
        read_only: 0x2000_0000,
        playground: (0x3000_0000, 64 << 20),
        fds,
        pid: 10,
        ppid: 9,
        children,
        slot: 1,
    }
}

fn run(seed: u64, n: usize) -> (Vec<Call>, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let mut scratch = vec![0u8; SCRATCH_LEN];
    let fds = [3, 4, 5];
    let w = world(&fds, &[11]);
    let calls = (0..n).map(|_| generate(&mut rng, &w, &mut scratch)).collect();
    (calls, scratch)
}

#[test]
fn the_same_seed_gives_the_same_calls() {
    assert_eq!(run(42, 2000), run(42, 2000));
    assert_ne!(run(42, 50).0, run(43, 50).0);
}

#[test]
fn every_call_is_drawn_and_fills_exactly_its_registers() {
    let (calls, _) = run(7, 50_000);
    for (i, spec) in SPECS.iter().enumerate() {
        assert!(calls.iter().any(|c| c.spec == i), "{} never drawn", spec.name);
        let slots: usize = spec.args.iter().map(|a| a.slots()).sum();
        assert!(slots <= 6, "{} takes more than six registers", spec.name);
    }
}

#[test]
fn the_table_names_each_number_once() {
    for (i, a) in SPECS.iter().enumerate() {
        for b in &SPECS[i + 1..] {
            assert_ne!(a.number, b.number, "{} and {}", a.name, b.name);
        }
    }
    assert!(SPECS.iter().all(|s| s.number != SYS_EXIT));
}

#[test]
fn most_buffers_are_valid_and_valid_ones_stay_in_the_scratch() {
    let mut rng = Rng::new(3);
    let w = world(&[3], &[]);
    let mut cursor_scratch = vec![0u8; SCRATCH_LEN];
    let mut valid = 0;
    for _ in 0..10_000 {
        let mut cursor = pools::Cursor::new(w.scratch_addr, &mut cursor_scratch);
        let [addr, len] = pools::draw(&mut rng, &w, Arg::OutBuf, &mut cursor);
        if (w.scratch_addr..w.scratch_addr + SCRATCH_LEN).contains(&addr) {
            assert!(addr + len <= w.scratch_addr + SCRATCH_LEN / 2, "{addr:#x}+{len} leaves the buffers");
            valid += 1;
        }
    }
    assert!(valid > 6_000, "only {valid} of 10000 buffers valid");
}

#[test]
fn paths_are_written_where_the_pointer_says() {
    let mut rng = Rng::new(11);
    let w = world(&[], &[]);
    let mut scratch = vec![0u8; SCRATCH_LEN];
    let mut seen_tmp = false;
    for _ in 0..2_000 {
        let [addr, len] = {
            let mut cursor = pools::Cursor::new(w.scratch_addr, &mut scratch);
            pools::draw(&mut rng, &w, Arg::Path, &mut cursor)
        };
        let inside = addr.checked_add(len).is_some_and(|end| end <= w.scratch_addr + SCRATCH_LEN);
        if addr >= w.scratch_addr + SCRATCH_LEN / 2 && inside {
            let at = addr - w.scratch_addr;
            let bytes = &scratch[at..at + len];
            seen_tmp |= bytes.starts_with(b"tmp:fuzz1");
            assert!(!bytes.contains(&b'@'), "placeholder left in {bytes:?}");
        }
    }
    assert!(seen_tmp);
}

#[test]
fn the_consoles_are_never_generated() {
    let (_, scratch) = run(5, 20_000);
    // The scratch holds the last paths written; none names a spared scheme.
    for spared in SCHEMES_SPARED {
        let needle = alloc::format!("{spared}:");
        assert!(!scratch.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle}");
    }
}

#[test]
fn most_batches_are_an_open_and_calls_on_its_file() {
    let mut rng = Rng::new(11);
    let fds = [3];
    let w = world(&fds, &[]);
    let mut scratch = vec![0u8; SCRATCH_LEN];
    let submit = SPECS.iter().position(|s| s.number == abi::SYS_SUBMIT).unwrap();
    let (mut batches, mut chains) = (0, 0);
    while batches < 400 {
        let call = generate(&mut rng, &w, &mut scratch);
        if call.spec != submit {
            continue;
        }
        batches += 1;
        let [addr, count] = [call.args[0], call.args[1]];
        let Some(at) =
            addr.checked_sub(w.scratch_addr).filter(|at| count.checked_mul(48).is_some_and(|n| at + n <= SCRATCH_LEN))
        else {
            continue;
        };
        let word = |i: usize, j: usize| {
            let start = at + i * 48 + j * 8;
            u64::from_le_bytes(scratch[start..start + 8].try_into().unwrap())
        };
        // An open first, then calls on the file it opened.
        if count >= 2 && word(0, 0) == u64::from(abi::SQE_OPEN) && word(1, 1) == abi::SQE_FD_OPENED {
            chains += 1;
        }
    }
    assert!(chains >= 400 / 2, "{chains} of 400 batches look like chains");
}
