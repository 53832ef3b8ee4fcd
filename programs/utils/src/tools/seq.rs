//! `seq [FIRST [INCREMENT]] LAST`: the whole numbers from FIRST (1) to
//! LAST by INCREMENT (1; negative counts down), one a line. Touches only
//! standard output.

use alloc::format;

use crate::report::{self, FAILED, OK};
use crate::stream::Output;

pub fn main(args: &[&str]) -> u8 {
    let mut numbers = [1i64, 1, 0];
    let slots: &[usize] = match args.len() {
        1 => &[2],
        2 => &[0, 2],
        3 => &[0, 1, 2],
        _ => return report::usage("seq", "one to three numbers expected"),
    };
    for (&slot, &arg) in slots.iter().zip(args) {
        match arg.parse() {
            Ok(value) => numbers[slot] = value,
            Err(_) => {
                rt::eprintln!("seq: {arg}: invalid number");
                return FAILED;
            }
        }
    }
    let [first, increment, last] = numbers;
    if increment == 0 {
        rt::eprintln!("seq: the increment must not be 0");
        return FAILED;
    }
    let mut out = Output::new();
    let mut value = first;
    while (increment > 0 && value <= last) || (increment < 0 && value >= last) {
        if out.push(format!("{value}\n").as_bytes()).is_err() {
            return FAILED;
        }
        match value.checked_add(increment) {
            Some(next) => value = next,
            None => break,
        }
    }
    if out.flush().is_err() { FAILED } else { OK }
}
