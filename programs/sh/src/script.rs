//! Running commands read from a file or a pipe (`sh FILE`, or `sh` with
//! standard input that is not a console): line by line, without a prompt.
//! A line that leaves a command incomplete (inside quotes, a compound
//! command, a `$(…)` or a here-document, after a backslash or after
//! `&&`, `||` or `|`) continues on the next line; once the command is
//! complete it runs, so a function is defined before the lines after it
//! are read. Any other syntax error is reported for that command (status
//! 2) and the rest still runs.

use alloc::string::String;
use alloc::vec::Vec;

use rt::fs::File;
use rt::prelude::*;

use crate::shell::Shell;

/// Reads `input` to its end, running each complete command as it comes.
pub fn run(shell: &mut Shell, input: &mut File) {
    let mut pending: Vec<u8> = Vec::new();
    let mut text = String::new();
    let mut buf = [0u8; 512];
    let mut at_end = false;
    while !at_end && shell.exit_code.is_none() {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(err) => {
                eprintln!("sh: read: {err}");
                0
            }
        };
        if n == 0 {
            at_end = true;
            if !pending.is_empty() {
                pending.push(b'\n');
            }
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            text.push_str(&String::from_utf8_lossy(&line));
            match shell_syntax::parse(&text) {
                Err(err) if err.incomplete() => continue,
                _ => {}
            }
            let command = core::mem::take(&mut text);
            shell.run_text(&command);
            if shell.exit_code.is_some() {
                return;
            }
        }
    }
    if !text.is_empty() {
        shell.run_text(&text);
    }
}
