//! `true` and `false`: exit with status 0 and 1, ignoring arguments.

pub fn true_main(_args: &[&str]) -> u8 {
    0
}

pub fn false_main(_args: &[&str]) -> u8 {
    1
}
