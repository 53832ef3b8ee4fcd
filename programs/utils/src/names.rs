// The utilities the multi-call binary `utils` answers to: the single table
// of their names, one-line summaries and usage texts. The binary checks at
// compile time that its dispatch table has exactly these names, in this
// order, and answers `NAME --help` from it; the build tool `mk`
// `include!`s this file and stages the binary as `initfs:bin/NAME` for
// each name; the shell's `help` can list it. Plain Rust with no `//!`
// header and no dependencies, so it can be included anywhere.

/// One utility: its name, what it does in one line, and its usage: the
/// synopsis (starting with the name), then any option lines.
#[allow(dead_code)]
pub struct Utility {
    pub name: &'static str,
    pub summary: &'static str,
    pub usage: &'static str,
}

const fn utility(name: &'static str, summary: &'static str, usage: &'static str) -> Utility {
    Utility { name, summary, usage }
}

/// Every utility, in the order of the dispatch table (sorted by name).
pub const UTILITY_TABLE: &[Utility] = &[
    utility("basename", "the last part of a path or URL", "basename NAME [SUFFIX]"),
    utility("cat", "write files (or standard input) to standard output", "cat [FILE...]"),
    utility("chan", "talk over chan: (ipcd) from the shell", "chan listen NAME | chan send NAME TEXT..."),
    utility("cp", "copy a file", "cp SOURCE DEST"),
    utility("date", "the wall-clock time (UTC)", "date [+%s]"),
    utility("dd", "copy records between files", "dd [if=URL] [of=URL] [bs=BYTES] [count=BLOCKS]"),
    utility("df", "size, used and free space of file systems", "df [PATH...]"),
    utility("dirname", "what leads to the last part of a path or URL", "dirname NAME"),
    utility("echo", "print the words", "echo [-n] [WORD...]"),
    utility("env", "print the environment", "env"),
    utility("false", "exit with status 1", "false"),
    utility("find", "walk directories, printing the paths that match", "find [PATH...] [-name GLOB] [-type f|d]"),
    utility("free", "physical memory and kernel heap", "free"),
    utility("get", "fetch an http:// URL to standard output", "get [-w SECONDS] http://HOST[:PORT]/PATH"),
    utility(
        "grep",
        "print the lines that match a regular expression",
        "grep [-i] [-v] [-n] [-c] [-r] PATTERN [FILE...]\n  -i  ignore case\n  -v  the lines that do not match\n  \
         -n  number the lines\n  -c  only count the lines\n  -r  search the files under directories",
    ),
    utility("head", "the first lines of files", "head [-n LINES] [FILE...]"),
    utility("hexdump", "bytes in hex and ASCII", "hexdump [-C] [FILE...]"),
    utility("host", "look a name up through DNS", "host NAME"),
    utility("httpd", "serve a directory over HTTP", "httpd [-q] DIR [PORT]"),
    utility("ifconfig", "network cards and their addresses", "ifconfig [CARD [ADDR/PREFIX|dhcp]]"),
    utility("kill", "send a signal to processes", "kill [-SIGNAL] PID..."),
    utility("ls", "list directories, names in natural order", "ls [-l] [PATH...]"),
    utility("mkdir", "create directories", "mkdir DIR..."),
    utility("mv", "move or rename a file", "mv SOURCE DEST"),
    utility(
        "nc",
        "TCP or UDP between standard input/output and the network",
        "nc [-u] [-w SECONDS] HOST PORT | nc [-u] [-w SECONDS] -l PORT",
    ),
    utility("ping", "ICMP echo to a host", "ping [-c COUNT] [-i SECONDS] [-W SECONDS] HOST"),
    utility("poweroff", "stop everything and turn the machine off", "poweroff"),
    utility(
        "printf",
        "format and print the arguments",
        "printf FORMAT [ARG...]\n  %s %d %i %x %X %o %c %% with flags - and 0, width and .precision;\n  \
         escapes \\n \\t \\\\ \\0NNN; the format is reused while arguments remain",
    ),
    utility("ps", "the processes", "ps"),
    utility("pwd", "print the current directory", "pwd"),
    utility("reboot", "stop everything and reset the machine", "reboot"),
    utility("rm", "remove files", "rm FILE..."),
    utility("rmdir", "remove empty directories", "rmdir DIR..."),
    utility("seq", "print a sequence of numbers", "seq [FIRST [INCREMENT]] LAST"),
    utility("sleep", "wait a number of seconds", "sleep SECONDS"),
    utility(
        "sort",
        "sort lines",
        "sort [-n] [-r] [-u] [-k FIELD] [FILE...]\n  -n  compare as numbers\n  -r  reverse the order\n  \
         -u  only the first of equal lines\n  -k  compare by the FIELD-th blank-separated field",
    ),
    utility("stat", "size, kind, mode, owner and times of files", "stat FILE..."),
    utility("sync", "make what was written durable now", "sync [PATH...]"),
    utility(
        "tail",
        "the last lines of a file, or follow it as it grows",
        "tail [-n LINES] [-f] [FILE]\n  -n  how many lines (10)\n  -f  keep printing what is added (Ctrl-C ends)",
    ),
    utility("tee", "copy standard input to standard output and files", "tee [-a] [FILE...]\n  -a  append to the files"),
    utility("touch", "create empty files", "touch FILE..."),
    utility("true", "exit with status 0", "true"),
    utility("uname", "the system's name, release or machine", "uname [-a|-s|-r|-m]"),
    utility("uniq", "drop repeated adjacent lines", "uniq [-c] [FILE]\n  -c  prefix each line with its count"),
    utility("uptime", "time since boot", "uptime"),
    utility("wc", "count lines, words and bytes", "wc [-l] [-w] [-c] [FILE...]"),
    utility(
        "xargs",
        "run a command with words from standard input as arguments",
        "xargs [-n MAX] [COMMAND [ARG...]]\n  -n  at most MAX words per run (all by default)\n  \
         COMMAND is found on $PATH (echo by default)",
    ),
];

const UTILITY_COUNT: usize = UTILITY_TABLE.len();

const UTILITY_NAMES: [&str; UTILITY_COUNT] = {
    let mut names = [""; UTILITY_COUNT];
    let mut i = 0;
    while i < UTILITY_COUNT {
        names[i] = UTILITY_TABLE[i].name;
        i += 1;
    }
    names
};

/// Every name `utils` dispatches on, in the order of its table.
pub const UTILITIES: &[&str] = &UTILITY_NAMES;

/// The table's entry for `name`.
#[allow(dead_code)]
pub fn utility_named(name: &str) -> Option<&'static Utility> {
    UTILITY_TABLE.iter().find(|utility| utility.name == name)
}
