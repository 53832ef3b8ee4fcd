//! Redirections: opening their files (paths resolved against the current
//! directory, so any scheme works), copying descriptors (`2>&1`), feeding
//! here-documents through a pipe, and putting them on this process's
//! descriptors: for good in a child about to exec, or for the time a
//! builtin, function or compound command runs in the shell, after which
//! the shell's own descriptors come back.
//!
//! May touch: this process's descriptors, the files named.

use alloc::string::String;
use alloc::vec::Vec;

use rt::abi::syscall::{O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use rt::fs::File;
use rt::prelude::*;
use rt::process::Fork;
use shell_syntax::{Redirect, RedirectOp};

use crate::expand;
use crate::shell::Shell;

/// A here-document this long or shorter is written into its pipe before
/// the command runs (the pipe holds 64 KiB); a longer one is written by a
/// child of its own while the command reads.
const HERE_DOC_INLINE: usize = 32 * 1024;

/// A redirection with its target expanded.
pub struct Prepared {
    pub fd: usize,
    pub op: RedirectOp,
    /// The target as expanded (for messages, descriptor numbers and
    /// here-document text).
    pub text: String,
    /// The target as a URL (file redirections).
    pub url: String,
}

/// Expands the targets of `redirects`.
pub fn prepare(shell: &mut Shell, redirects: &[Redirect]) -> Vec<Prepared> {
    redirects
        .iter()
        .map(|redirect| {
            let text = expand::string(shell, &redirect.target);
            let url = match redirect.op {
                RedirectOp::Input | RedirectOp::Output | RedirectOp::Append => shell.resolve(&text),
                _ => String::new(),
            };
            Prepared { fd: redirect.fd, op: redirect.op, text, url }
        })
        .collect()
}

/// Where a redirection's descriptor comes from.
enum Source {
    /// A file or pipe opened for it.
    File(File),
    /// A copy of this descriptor.
    Copy(usize),
    /// `>&-`: the descriptor is closed.
    Close,
}

/// Opens what `redirect` reads or writes; an error is printed.
fn open(redirect: &Prepared) -> Result<Source, ()> {
    let flags = match redirect.op {
        RedirectOp::Input => O_RDONLY,
        RedirectOp::Output => O_WRONLY | O_CREAT | O_TRUNC,
        RedirectOp::Append => O_WRONLY | O_CREAT | O_APPEND,
        RedirectOp::DupInput | RedirectOp::DupOutput => {
            if redirect.text == "-" {
                return Ok(Source::Close);
            }
            return match redirect.text.parse::<usize>() {
                Ok(fd) => Ok(Source::Copy(fd)),
                Err(_) => {
                    eprintln!("sh: {}: not a file descriptor", redirect.text);
                    Err(())
                }
            };
        }
        RedirectOp::HereDoc { .. } => return here_doc(&redirect.text).map(Source::File),
    };
    File::open_with(&redirect.url, flags).map(Source::File).map_err(|err| eprintln!("sh: {}: {err}", redirect.text))
}

/// A pipe whose reading end yields `text`.
fn here_doc(text: &str) -> Result<File, ()> {
    let (reader, mut writer) = rt::fs::pipe().map_err(|err| eprintln!("sh: here-document: {err}"))?;
    if text.len() <= HERE_DOC_INLINE {
        writer.write_all(text.as_bytes()).map_err(|err| eprintln!("sh: here-document: {err}"))?;
        return Ok(reader);
    }
    // The writer is a grandchild: its parent ends at once (and is waited
    // for here), so init, which takes orphans, collects the writer when
    // its text is read or its reader gone.
    match rt::process::fork() {
        Ok(Fork::Child) => {
            drop(reader);
            if let Ok(Fork::Child) = rt::process::fork() {
                let status = if writer.write_all(text.as_bytes()).is_ok() { 0 } else { 1 };
                rt::process::exit(status)
            }
            rt::process::exit(0)
        }
        Ok(Fork::Parent(pid)) => {
            drop(writer);
            let _ = rt::process::wait(pid);
            Ok(reader)
        }
        Err(err) => {
            eprintln!("sh: here-document: {err}");
            Err(())
        }
    }
}

/// Puts `source` on descriptor `fd`.
fn install(source: Source, fd: usize, what: &str) -> Result<(), ()> {
    let result = match source {
        // Opened right onto the descriptor (it was closed): keep it.
        Source::File(file) if file.fd() == fd => {
            let _ = file.into_fd();
            Ok(())
        }
        Source::File(file) => rt::sys::dup2(file.fd(), fd, &[]).map(drop),
        Source::Copy(from) if from == fd => Ok(()),
        Source::Copy(from) => rt::sys::dup2(from, fd, &[]).map(drop),
        Source::Close => {
            let _ = rt::sys::close(fd);
            Ok(())
        }
    };
    result.map_err(|err| eprintln!("sh: {what}: {err}"))
}

/// In a child: applies `redirects` for good. Status 1 if one failed.
pub fn apply(redirects: &[Prepared]) -> Result<(), i32> {
    for redirect in redirects {
        let source = open(redirect).map_err(|()| 1)?;
        install(source, redirect.fd, &redirect.text).map_err(|()| 1)?;
    }
    Ok(())
}

/// The shell's descriptors as they were before [`apply_saved`]: each
/// replaced descriptor and a copy of what it was (`None`: it was closed).
pub struct Saved(Vec<(usize, Option<usize>)>);

/// In the shell: applies `redirects`, keeping copies of what they replace
/// for [`restore`]. On failure what was applied is undone, status 1.
pub fn apply_saved(redirects: &[Prepared]) -> Result<Saved, i32> {
    let mut saved = Saved(Vec::new());
    for redirect in redirects {
        let fd = redirect.fd;
        // Saved before opening: a file opened onto `fd` (it was closed)
        // must not be taken for what `fd` was.
        saved.0.push((fd, rt::sys::dup(fd, &[]).ok()));
        let Ok(source) = open(redirect) else {
            restore(saved);
            return Err(1);
        };
        if install(source, fd, &redirect.text).is_err() {
            restore(saved);
            return Err(1);
        }
    }
    Ok(saved)
}

/// Puts back the descriptors [`apply_saved`] replaced, last first.
pub fn restore(saved: Saved) {
    for (fd, copy) in saved.0.into_iter().rev() {
        match copy {
            Some(copy) => {
                let _ = rt::sys::dup2(copy, fd, &[]);
                let _ = rt::sys::close(copy);
            }
            None => {
                let _ = rt::sys::close(fd);
            }
        }
    }
}

/// Runs `run` with `redirects` applied to the shell's descriptors, then
/// undoes them; status 1 without running it if one failed.
pub fn around(shell: &mut Shell, redirects: &[Prepared], run: impl FnOnce(&mut Shell) -> i32) -> i32 {
    if redirects.is_empty() {
        return run(shell);
    }
    match apply_saved(redirects) {
        Ok(saved) => {
            let status = run(shell);
            restore(saved);
            status
        }
        Err(status) => status,
    }
}
