// The utilities the multi-call binary `utils` answers to, one name each:
// the single list both the binary (which checks at compile time that its
// dispatch table has exactly these names, in this order) and the build
// tool `mk` (which `include!`s this file and stages the binary as
// `initfs:bin/NAME` for each) use. Plain Rust with no `//!` header, so it
// can be included anywhere.

/// Every name `utils` dispatches on, in the order of its table.
pub const UTILITIES: &[&str] = &[
    "cat", "chan", "cp", "date", "dd", "df", "echo", "env", "false", "free", "get", "head", "hexdump", "host", "httpd",
    "ifconfig", "kill", "ls", "mkdir", "mv", "nc", "ping", "poweroff", "ps", "pwd", "reboot", "rm", "rmdir", "sleep",
    "sync", "touch", "true", "uname", "wc",
];
