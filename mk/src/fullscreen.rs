//! The full-screen programs on the serial console, driven like a person
//! would: `edit` makes a file from typed text, arrow keys and Home/End,
//! saves it with Ctrl-S and quits with Ctrl-Q, and `cat` shows exactly the
//! text; a save to read-only `initfs:` fails on the status line and Ctrl-Q
//! then asks again; a long `hexdump` piped into `less` pages, searches and
//! quits, and the shell's prompt comes back and runs commands. Their
//! screens are not compared line by line (that is `lib/text-buffer`'s
//! host tests' job): each step waits for a marker the step must draw.
//!
//! May touch: the guest it is handed (its `tmp:` and console).

use std::time::Duration;

use crate::check::strip_escapes;
use crate::guest::Guest;
use crate::session;

/// How long one step may take to draw what it must.
const STEP: Duration = Duration::from_secs(10);
/// Quiet after a marker before the next keys go.
const SETTLE: Duration = Duration::from_millis(200);

/// The file `edit` makes.
const FILE: &str = "tmp:edit-check";
/// What is typed into it: two lines, then up to the end of the first
/// (`!`), down and to the start of the second (`>`), to its end and a
/// newline.
const TYPED: &str = "hello\rworld\x1b[A\x1b[F!\x1b[B\x1b[H>\x1b[4~\r";
/// The text that must be saved.
const EXPECTED: &[&str] = &["hello!", ">world"];

/// Runs the checks; a note on success, or what went wrong with the
/// console's text since the failing step.
pub fn run(guest: &mut Guest) -> Result<String, String> {
    edit_saves_what_was_typed(guest)?;
    edit_reports_a_failed_save(guest)?;
    less_pages_and_searches(guest)?;
    Ok(String::from("edit saved typed text, reported a read-only save; less paged, searched and quit"))
}

/// Types `keys` and waits until the console, from then on, shows `marker`.
fn keys_then(guest: &mut Guest, keys: &str, marker: &str, what: &str) -> Result<(), String> {
    let mark = guest.output.len();
    guest.type_text(keys)?;
    let seen = guest.wait_until(STEP, SETTLE, |out| {
        strip_escapes(&String::from_utf8_lossy(&out[mark.min(out.len())..])).contains(marker)
    });
    if seen {
        return Ok(());
    }
    let text = strip_escapes(&String::from_utf8_lossy(&guest.output[mark..]));
    Err(format!("{what}: `{marker}` did not show within {} s; console:\n{text}", STEP.as_secs()))
}

/// Types `keys` that end the program and waits for the shell's prompt.
fn keys_then_prompt(guest: &mut Guest, keys: &str, what: &str) -> Result<(), String> {
    let mark = guest.output.len();
    guest.type_text(keys)?;
    if guest.wait_until(STEP, SETTLE, |out| out.len() > mark && session::ends_in_prompt(&out[mark..])) {
        return Ok(());
    }
    let text = strip_escapes(&String::from_utf8_lossy(&guest.output[mark..]));
    Err(format!("{what}: no shell prompt within {} s; console:\n{text}", STEP.as_secs()))
}

/// Runs `command` at the prompt; its output lines must be `expected`.
fn command_shows(guest: &mut Guest, command: &str, expected: &[&str]) -> Result<(), String> {
    let output = session::run_command(guest, command, false)?;
    if output.prompt_back && output.lines == expected {
        return Ok(());
    }
    Err(format!(
        "`{command}`: expected {expected:?}, got {:?}{}",
        output.lines,
        if output.prompt_back { "" } else { " and no prompt" }
    ))
}

fn edit_saves_what_was_typed(guest: &mut Guest) -> Result<(), String> {
    keys_then(guest, &format!("edit {FILE}\r"), "new file", "edit on a new file")?;
    keys_then(guest, TYPED, "3:1", "typing into edit")?;
    keys_then(guest, "\x13", "wrote 14 bytes", "Ctrl-S in edit")?;
    keys_then_prompt(guest, "\x11", "Ctrl-Q in edit")?;
    command_shows(guest, &format!("cat {FILE}"), EXPECTED)
}

fn edit_reports_a_failed_save(guest: &mut Guest) -> Result<(), String> {
    keys_then(guest, "edit initfs:edit-check\r", "new file", "edit on initfs:")?;
    keys_then(guest, "x\x13", "cannot save", "Ctrl-S to read-only initfs:")?;
    keys_then(guest, "\x11", "unsaved changes", "Ctrl-Q with unsaved changes")?;
    keys_then_prompt(guest, "\x11", "Ctrl-Q twice")?;
    command_shows(guest, "cat initfs:edit-check", &["cat: initfs:edit-check: No such file or directory"])
}

fn less_pages_and_searches(guest: &mut Guest) -> Result<(), String> {
    // 16 bytes a line, 23 rows of text: the first screen ends at 0x160, a
    // page forward starts at 0x170, the search puts 0x1000 at the top and
    // a page back starts 23 lines before it, at 0xe90.
    keys_then(guest, "hexdump initfs:bin/hello | less\r", "00000160", "less on a pipe")?;
    keys_then(guest, " ", "00000170", "Space in less")?;
    keys_then(guest, "/00001000\r", "00001000  ", "a search in less")?;
    keys_then(guest, "\x1b[5~", "00000e90", "PageUp in less")?;
    keys_then_prompt(guest, "q", "q in less")?;
    command_shows(guest, "echo back in cooked mode", &["back in cooked mode"])
}
