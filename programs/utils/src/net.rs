//! What the network utilities share (README "Network"): connecting over
//! `tcp:` and learning at once whether it worked, and copying between a
//! connection and standard input and output in both directions at once.

use core::time::Duration;

use rt::abi::syscall as sc;
use rt::fs::File;
use rt::io;

/// `tcp:HOST:PORT`, connected (`fsync` waits for the handshake), or why not.
pub fn connect(host: &str, port: u16) -> rt::Result<File> {
    let file = File::open_with(&alloc::format!("tcp:{host}:{port}"), sc::O_RDWR | sc::O_CLOEXEC)?;
    file.sync()?;
    Ok(file)
}

/// Copy standard input to `conn` and `conn` to standard output until the
/// peer ends the stream (a child process does standard input: when it
/// ends, the connection's sending side is shut and the rest still read).
/// With `idle`, also ends when nothing arrives for that long (UDP has no
/// end of stream): the connection's read timeout, so a read that waits
/// that long fails with `ETIMEDOUT`. Returns the error that ended the
/// receiving side, if one did.
pub fn relay(conn: &mut File, idle: Option<Duration>) -> rt::Result<()> {
    if idle.is_some() {
        conn.set_read_timeout(idle)?;
    }
    let child = match rt::process::fork()? {
        rt::process::Fork::Child => {
            let mut buf = alloc::vec![0u8; 16 * 1024];
            let mut stdin = File::from_fd(io::STDIN);
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if conn.write_all(&buf[..n]).is_err() {
                            rt::process::exit(1);
                        }
                    }
                }
            }
            // Everything sent: end our side, keep reading theirs.
            let _ = conn.sync();
            let _ = conn.set_len(0);
            rt::process::exit(0);
        }
        rt::process::Fork::Parent(pid) => pid,
    };
    let mut buf = alloc::vec![0u8; 16 * 1024];
    let result = loop {
        match conn.read(&mut buf) {
            Ok(0) => break Ok(()),
            Err(err) if idle.is_some() && err.errno == sc::ETIMEDOUT => break Ok(()),
            Ok(n) => {
                if io::write_stdout(&buf[..n]).is_err() {
                    break Ok(());
                }
            }
            Err(err) => break Err(err),
        }
    };
    let _ = rt::process::kill(child, rt::abi::SIGKILL);
    let _ = rt::process::wait(child);
    result
}
