//! The shell (`programs/sh`) and the utilities (`programs/utils`): `sh -c`
//! scripts run with standard output and error on pipes, compared with what
//! they must print, byte for byte, and their statuses. The daemons the
//! scripts use (`tmp:`, `zero:`, `null:`) are started by the tests
//! themselves, as a self-test boot runs no `init.rc`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use rt::fs::File;

use crate::daemons::{Daemon, start};
use crate::support::{Outcome, WAIT, ensure, fork_child, ok, wait_for};

const SH: &str = "initfs:bin/sh";

/// What a script printed and how it ended.
struct Ran {
    out: String,
    err: String,
    status: i32,
}

/// Reads what is in the pipe now (the writers have ended).
fn drain(mut pipe: File) -> Result<String, String> {
    ok("nonblocking pipe", pipe.set_nonblocking(true))?;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(err) if err.errno == rt::abi::syscall::EAGAIN => break,
            Err(err) => return Err(format!("read pipe: {err}")),
        }
    }
    String::from_utf8(bytes).map_err(|_| String::from("output is not UTF-8"))
}

/// Runs `sh -c script` with `PATH=initfs:bin` and no `PWD` (so it starts
/// in `initfs:`), its standard output and error on pipes.
fn sh(script: &str) -> Result<Ran, String> {
    let (out_read, out_write) = ok("pipe", rt::fs::pipe())?;
    let (err_read, err_write) = ok("pipe", rt::fs::pipe())?;
    let pid = fork_child(|| {
        for (file, fd) in [(&out_write, 1), (&err_write, 2)] {
            if rt::sys::dup2(file.fd(), fd, &[]).is_err() {
                return 120;
            }
        }
        let err = rt::process::exec(SH, &["-c", script], &["PATH=initfs:bin"]);
        rt::eprintln!("exec {SH}: {err}");
        121
    })?;
    drop((out_write, err_write));
    let status = wait_for(pid, WAIT)?;
    let status = match (status.code(), status.signal()) {
        (Some(code), _) => i32::from(code),
        (None, Some(signal)) => 128 + signal as i32,
        _ => return Err(format!("sh ended with {status}")),
    };
    Ok(Ran { out: drain(out_read)?, err: drain(err_read)?, status })
}

/// Runs `script` and checks all three results.
fn expect(script: &str, out: &str, err: &str, status: i32) -> Result<(), String> {
    let ran = sh(script)?;
    ensure!(ran.out == out, "sh -c {script:?}: stdout {:?}, expected {out:?} (stderr {:?})", ran.out, ran.err);
    ensure!(ran.err == err, "sh -c {script:?}: stderr {:?}, expected {err:?}", ran.err);
    ensure!(ran.status == status, "sh -c {script:?}: status {}, expected {status}", ran.status);
    Ok(())
}

/// `text` with every `YYYY-MM-DD HH:MM` (a time `ls -l` shows) replaced by
/// `<date>`, so output with times compares with a fixed text.
fn mask_dates(text: &str) -> String {
    let shape = b"dddd-dd-dd dd:dd";
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let fits = bytes.len() - i >= shape.len()
            && shape.iter().zip(&bytes[i..]).all(|(s, b)| if *s == b'd' { b.is_ascii_digit() } else { s == b });
        if fits {
            out.push_str("<date>");
            i += shape.len();
        } else {
            let c = text[i..].chars().next().unwrap_or('?');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// [`expect`] for output with modification times in it (see [`mask_dates`]).
fn expect_dated(script: &str, out: &str, err: &str, status: i32) -> Result<(), String> {
    let ran = sh(script)?;
    let got = mask_dates(&ran.out);
    ensure!(got == out, "sh -c {script:?}: stdout {got:?}, expected {out:?} (stderr {:?})", ran.err);
    ensure!(ran.err == err, "sh -c {script:?}: stderr {:?}, expected {err:?}", ran.err);
    ensure!(ran.status == status, "sh -c {script:?}: status {}, expected {status}", ran.status);
    Ok(())
}

fn tmp() -> Result<Daemon, String> {
    start("tmpd", "tmp")
}

pub fn shell_words_quotes_and_variables() -> Outcome {
    expect(
        r#"echo 'a  b' "c  $X" d\ e $X; X=1; echo $X ${X}y "$X" '$X'; export Y=two; echo $Y; unset Y; echo "[$Y]"; echo -n no; echo newline"#,
        "a  b c   d e\n1 1y 1 $X\ntwo\n[]\nnonewline\n",
        "",
        0,
    )?;
    // Every variable reaches programs; `NAME=VALUE cmd` only that one.
    let ran = sh("export Z=zed; W=one env; echo \"[$W]\"")?;
    let lines: Vec<&str> = ran.out.lines().collect();
    for want in ["Z=zed", "W=one", "PATH=initfs:bin", "PWD=initfs:", "[]"] {
        ensure!(lines.contains(&want), "no {want:?} in {:?}", ran.out);
    }
    expect("echo 'oops", "", "sh: unterminated single quote\n", 2)?;
    expect("echo a | | b", "", "sh: syntax error near unexpected `|`\n", 2)?;
    Ok(String::from("quotes, escapes, $VAR, ${VAR}, export/unset, syntax errors"))
}

pub fn shell_lists_and_status() -> Outcome {
    expect(
        "true && echo and1; false && echo and2; false || echo or1; true || echo or2; false; echo $?; \
         sh -c 'exit 7'; echo $?; nosuch; echo $?; true; echo ${?}",
        "and1\nor1\n1\n7\n127\n0\n",
        "sh: nosuch: command not found\n",
        0,
    )?;
    expect("exit 3; echo never", "", "", 3)?;
    expect("false", "", "", 1)?;
    expect("sleep 0.05 & wait; echo waited $?", "waited 0\n", "", 0)?;
    killed_child_is_128_plus_the_signal()?;
    Ok(String::from("&&, ||, ;, $?, exit, 127 for unknown commands, & and wait, 128+signal"))
}

/// `sh -c 'sleep 5; echo status $?'` with the sleep killed by SIGTERM
/// from here (found in `sys:context` as the shell's child): `$?` is 143.
fn killed_child_is_128_plus_the_signal() -> Result<(), String> {
    let (out_read, out_write) = ok("pipe", rt::fs::pipe())?;
    let pid = fork_child(|| {
        if rt::sys::dup2(out_write.fd(), 1, &[]).is_err() {
            return 120;
        }
        let err = rt::process::exec(SH, &["-c", "sleep 5; echo status $?"], &["PATH=initfs:bin"]);
        rt::eprintln!("exec {SH}: {err}");
        121
    })?;
    drop(out_write);
    let mut sleeper = None;
    crate::support::wait_until(WAIT, || {
        let text = rt::fs::read_to_string("sys:context").unwrap_or_default();
        sleeper = text.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(1) == Some(&format!("{pid}").as_str()) && line.contains("sleep"))
                .then(|| fields[0].parse::<usize>().ok())
                .flatten()
        });
        sleeper.is_some()
    });
    let Some(sleeper) = sleeper else {
        crate::support::kill_and_reap(pid);
        return Err(String::from("the shell's sleep never showed in sys:context"));
    };
    ok("kill the sleep", rt::process::kill(sleeper, rt::abi::SIGTERM))?;
    let status = wait_for(pid, WAIT)?;
    let out = drain(out_read)?;
    ensure!(out == "status 143\n" && status.success(), "after SIGTERM: {out:?}, {status}");
    Ok(())
}

pub fn shell_pipes_and_redirections() -> Outcome {
    let _tmp = tmp()?;
    expect(
        "echo hello > tmp:a.txt; echo world >> tmp:a.txt; cat tmp:a.txt; cat < tmp:a.txt | head -n 1 | wc; \
         cat tmp:nope 2> tmp:err.txt; echo status $?; cat tmp:err.txt; echo x | cat | cat | cat",
        "hello\nworld\n      1       1       6\nstatus 1\ncat: tmp:nope: No such file or directory\nx\n",
        "",
        0,
    )?;
    expect(
        "echo x > tmp:no/dir; echo $?; cat < tmp:none; echo $?",
        "1\n1\n",
        "sh: tmp:no/dir: No such file or directory\nsh: tmp:none: No such file or directory\n",
        0,
    )?;
    // A redirected builtin leaves the shell's own output alone afterwards.
    expect("pwd > tmp:p; echo after; cat tmp:p", "after\ninitfs:\n", "", 0)?;
    Ok(String::from("> >> < 2> to tmp:, a 3-stage pipe, errors"))
}

pub fn shell_cd_and_relative_paths() -> Outcome {
    let _tmp = tmp()?;
    expect(
        "pwd; cd tmp:; pwd; mkdir d; cd d; pwd; echo inside > f.txt; cat f.txt; cd ..; pwd; cat d/f.txt; ls; \
         cd initfs:etc; ls; cd ../bin; pwd; cd tmp:nope; echo $?; cd initfs:etc/init.rc; echo $?; cd tmp:d; pwd",
        "initfs:\ntmp:\ntmp:d\ninside\ntmp:\ninside\nd\ninit.rc\ninitfs:bin\n1\n1\ntmp:d\n",
        "sh: cd: tmp:nope: No such file or directory\nsh: cd: initfs:etc/init.rc: Not a directory\n",
        0,
    )?;
    // `./x` and URLs run directly; `help` lists the builtins.
    expect("cd initfs:bin; ./echo dot; initfs:bin/echo url; ../bin/echo up", "dot\nurl\nup\n", "", 0)?;
    let ran = sh("help")?;
    ensure!(ran.out.starts_with("builtins:\n") && ran.out.contains("\n  cd [DIR]"), "help: {:?}", ran.out);
    let ran = sh("cd :; pwd; ls")?;
    let lines: Vec<&str> = ran.out.lines().collect();
    ensure!(lines.first() == Some(&":"), "cd : then pwd: {:?}", ran.out);
    for scheme in ["initfs", "tmp", "sys"] {
        ensure!(lines.contains(&scheme), "ls : lists no {scheme}: {:?}", ran.out);
    }
    // The utilities resolve relative paths against the exported PWD.
    expect(
        "cd initfs:etc; head -n 1 init.rc; initfs:bin/pwd",
        "# initfs:/etc/init.rc — what init starts at boot, top to bottom.\ninitfs:etc\n",
        "",
        0,
    )?;
    Ok(String::from("cd to URLs, relative paths, .., ls :"))
}

pub fn utilities_on_files() -> Outcome {
    let _tmp = tmp()?;
    expect_dated(
        "echo one two > tmp:f; cp tmp:f tmp:g; cat tmp:g; mkdir tmp:dir; cp tmp:f tmp:dir; ls tmp:dir; \
         mv tmp:g tmp:h; ls tmp:; rm tmp:h; ls tmp:; touch tmp:empty; wc tmp:empty tmp:f; hexdump -C tmp:f; \
         ls -l tmp:; rm tmp:dir/f; rmdir tmp:dir; ls tmp:",
        "one two\nf\ndir\nf\nh\ndir\nf\n      0       0       0 tmp:empty\n      1       2       8 tmp:f\n      1       2       8 total\n\
         00000000  6f 6e 65 20 74 77 6f 0a                           |one two.|\n00000008\n\
         drwxr-xr-x        1 <date> dir\n-rw-r--r--        0 <date> empty\n-rw-r--r--        8 <date> f\nempty\nf\n",
        "",
        0,
    )?;
    expect(
        "cat tmp:nope; echo $?; rm tmp:nope; mkdir tmp:d; mkdir tmp:d; ls tmp:nope; touch tmp:no/x; echo $?",
        "1\n1\n",
        "cat: tmp:nope: No such file or directory\nrm: tmp:nope: No such file or directory\n\
         mkdir: tmp:d: File exists\nls: tmp:nope: No such file or directory\ntouch: tmp:no/x: No such file or directory\n",
        0,
    )?;
    expect("head -n x tmp:f", "", "head: -n needs a number of lines\nusage: head [-n LINES] [FILE...]\n", 2)?;
    // Across schemes mv copies, then cannot remove the read-only source.
    let ran = sh("mv initfs:etc/init.rc tmp:rc; echo $?; head -n 1 tmp:rc")?;
    ensure!(
        ran.out == "1\n# initfs:/etc/init.rc — what init starts at boot, top to bottom.\n",
        "mv across schemes: {:?} / {:?}",
        ran.out,
        ran.err
    );
    ensure!(ran.err.starts_with("mv: initfs:etc/init.rc: "), "mv's error: {:?}", ran.err);
    expect(
        "echo a b c | head -n 1 | wc; echo -n abc | wc",
        "      1       3       6\n      0       1       3\n",
        "",
        0,
    )?;
    Ok(String::from("cat cp mv rm rmdir mkdir touch wc head hexdump ls -l echo -n, and their errors"))
}

pub fn utilities_about_the_system() -> Outcome {
    let uname = ok("read sys:uname", rt::fs::read_to_string("sys:uname"))?;
    let fields: Vec<&str> = uname.split_whitespace().collect();
    ensure!(fields.len() == 3, "sys:uname is {uname:?}");
    expect(
        "uname; uname -a; uname -r; uname -m; true; echo $?; false; echo $?; initfs:bin/pwd",
        &format!("{}\n{}\n{}\n{}\n0\n1\ninitfs:\n", fields[0], fields.join(" "), fields[1], fields[2]),
        "",
        0,
    )?;
    let ran = sh("ps")?;
    let mut lines = ran.out.lines();
    ensure!(lines.next() == Some("  PID  PPID  PGID STATE     NAME"), "ps header: {:?}", ran.out);
    ensure!(ran.out.contains("usertests") && ran.out.contains(" ps"), "ps lists {:?}", ran.out);
    let ran = sh("free")?;
    let lines: Vec<&str> = ran.out.lines().collect();
    ensure!(lines.len() == 3 && lines[1].starts_with("Mem:") && lines[1].contains("MiB"), "free: {:?}", ran.out);
    let ran = sh("env")?;
    ensure!(ran.out.lines().any(|l| l == "PATH=initfs:bin"), "env: {:?}", ran.out);
    expect("kill -9 9999; echo $?", "1\n", "kill: 9999: No such process\n", 0)?;
    expect("kill -TERM -9999; echo $?", "1\n", "kill: -9999: No such process\n", 0)?;
    expect("kill -FOO 1", "", "kill: unknown signal FOO\nusage: kill [-SIGNAL] PID...\n", 2)?;
    expect("sleep x", "", "sleep: invalid time interval 'x'\nusage: sleep SECONDS\n", 2)?;
    let start = rt::time::now();
    expect("sleep 0.2", "", "", 0)?;
    let slept = rt::time::now() - start;
    ensure!(slept >= Duration::from_millis(200), "sleep 0.2 took {} ms", slept.as_millis());
    Ok(format!("uname ps free env kill sleep ({} ms) true false pwd", slept.as_millis()))
}

pub fn utilities_dd() -> Outcome {
    let _zero = start("zerod", "zero")?;
    let _null = start("nulld", "null")?;
    let _tmp = tmp()?;
    let ran = sh("dd if=zero: of=null: bs=64K count=16")?;
    ensure!(ran.status == 0 && ran.out.is_empty(), "dd: status {}, stdout {:?}", ran.status, ran.out);
    ensure!(
        ran.err.starts_with("16+0 records in\n16+0 records out\n1048576 bytes (1.0 MiB) copied, "),
        "dd reported {:?}",
        ran.err
    );
    let figures = String::from(ran.err.lines().nth(2).unwrap_or_default());
    let ran = sh("echo one two > tmp:f; dd if=tmp:f bs=3")?;
    ensure!(ran.out == "one two\n", "dd to stdout: {:?}", ran.out);
    ensure!(ran.err.starts_with("2+1 records in\n2+1 records out\n8 bytes (8 B) copied, "), "dd: {:?}", ran.err);
    expect("dd if=tmp:nope", "", "dd: tmp:nope: No such file or directory\n", 1)?;
    expect("dd bs=0", "", "dd: invalid block size 0\nusage: dd [if=URL] [of=URL] [bs=BYTES] [count=BLOCKS]\n", 2)?;
    Ok(figures)
}

/// `cp` and `dd` open their input with its first read, and create their
/// output with its first write, in one system call each (`rt::batch`):
/// files of every size around the first read's limit copy whole, the
/// edge cases (empty files, directories, missing files, an output that
/// cannot be made) report as before.
pub fn cp_and_dd_open_with_their_first_read_and_write() -> Outcome {
    let _tmp = tmp()?;
    let first = rt::batch::CHAIN_READ;
    let sizes = [0, 1, 100, first - 1, first, first + 1, 20_000, 70_000];
    for size in sizes {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 31 + size) as u8).collect();
        ok("write source", rt::fs::write(&format!("tmp:src{size}"), &bytes))?;
        let ran = sh(&format!("cp tmp:src{size} tmp:dst{size}"))?;
        ensure!(ran.status == 0 && ran.err.is_empty(), "cp of {size} bytes: {} {:?}", ran.status, ran.err);
        let copied = ok("read copy", rt::fs::read(&format!("tmp:dst{size}")))?;
        ensure!(copied == bytes, "cp of {size} bytes made {} bytes, or other ones", copied.len());
        // Over a longer file: truncated first.
        let ran = sh(&format!("cp tmp:src70000 tmp:over{size}; cp tmp:src{size} tmp:over{size}"))?;
        ensure!(ran.status == 0, "cp over a longer file: {:?}", ran.err);
        let copied = ok("read copy", rt::fs::read(&format!("tmp:over{size}")))?;
        ensure!(copied == bytes, "cp of {size} bytes over 70,000 left {} bytes", copied.len());
        // dd: one record of 100 bytes (or what there is), into a new file.
        let ran = sh(&format!("dd if=tmp:src{size} of=tmp:dd{size} bs=100 count=1"))?;
        let record = &bytes[..size.min(100)];
        let counts = match record.len() {
            0 => "0+0 records in\n0+0 records out\n",
            100 => "1+0 records in\n1+0 records out\n",
            _ => "0+1 records in\n0+1 records out\n",
        };
        ensure!(ran.status == 0 && ran.err.starts_with(counts), "dd of {size} bytes: {} {:?}", ran.status, ran.err);
        let copied = ok("read dd's output", rt::fs::read(&format!("tmp:dd{size}")))?;
        ensure!(copied == record, "dd of {size} bytes wrote {} bytes", copied.len());
    }
    // The whole file through dd in records of 4 KiB.
    let ran = sh("dd if=tmp:src70000 of=tmp:dd-all bs=4K")?;
    ensure!(ran.err.starts_with("17+1 records in\n17+1 records out\n70000 bytes "), "dd: {:?}", ran.err);
    let whole = ok("read dd's output", rt::fs::read("tmp:dd-all"))?;
    ensure!(whole == ok("read source", rt::fs::read("tmp:src70000"))?, "dd in 4 KiB records changed the file");
    // No record at all: the output is made, empty.
    let ran = sh("dd of=tmp:made count=0 < tmp:src1")?;
    ensure!(ran.status == 0 && ran.err.starts_with("0+0 records in\n0+0 records out\n"), "dd count=0: {:?}", ran.err);
    let made = ok("read dd's output", rt::fs::read("tmp:made"))?;
    ensure!(made.is_empty(), "dd count=0 wrote {} bytes", made.len());
    let ran = sh("dd if=tmp:src100 of=nosuch:x")?;
    ensure!(
        ran.status == 1 && ran.err.starts_with("dd: nosuch:x: No such device\n"),
        "dd to a scheme that is not there: {} {:?}",
        ran.status,
        ran.err
    );
    // cp into a directory, of a directory, of a missing file.
    expect("mkdir tmp:dir; cp tmp:src100 tmp:dir; ls tmp:dir", "src100\n", "", 0)?;
    let copied = ok("read copy", rt::fs::read("tmp:dir/src100"))?;
    ensure!(copied.len() == 100, "cp into a directory made {} bytes", copied.len());
    expect("cp tmp:dir tmp:x", "", "cp: tmp:dir: Is a directory\n", 1)?;
    expect("cp tmp:nope tmp:x", "", "cp: tmp:nope: No such file or directory\n", 1)?;
    expect("cp tmp:src1 nosuch:x", "", "cp: nosuch:x: No such device\n", 1)?;
    Ok(format!("{} sizes from 0 to 70,000 bytes by cp and dd, errors as before", sizes.len()))
}

pub fn shell_scripts_and_stdin() -> Outcome {
    let _tmp = tmp()?;
    expect(
        "echo 'echo from file; exit 4' > tmp:s.sh; sh tmp:s.sh; echo $?; echo 'echo piped' | sh; cd tmp:; sh s.sh",
        "from file\n4\npiped\nfrom file\n",
        "",
        4,
    )?;
    expect("sh tmp:nope", "", "sh: tmp:nope: No such file or directory\n", 127)?;
    // After `-c COMMANDS` come `$0` and the arguments, as in other shells.
    expect("sh -c 'echo $0 $# $1' name one; echo $?", "name 1 one\n0\n", "", 0)?;
    expect("echo 'echo $0 $2' > tmp:a.sh; sh tmp:a.sh x y", "tmp:a.sh y\n", "", 0)?;
    Ok(String::from("sh FILE ARG..., sh -c COMMANDS NAME ARG..., commands on standard input"))
}

pub fn paths_resolve_against_the_directory() -> Outcome {
    use rt::fs::{is_url, resolve_in};
    let cases = [
        ("initfs:", "bin", "initfs:bin"),
        ("initfs:", "", "initfs:"),
        ("tmp:dir", "a.txt", "tmp:dir/a.txt"),
        ("tmp:a/b", "../c/./d", "tmp:a/c/d"),
        ("tmp:a", "../../..", "tmp:"),
        ("tmp:a", "zero:", "zero:"),
        ("tmp:a", ":", ":"),
        ("tmp:a", "initfs:bin/../etc", "initfs:etc"),
        ("initfs:/bin", "sh", "initfs:/bin/sh"),
        ("", "x/y", "x/y"),
    ];
    for (cwd, path, want) in cases {
        let got = resolve_in(cwd, path);
        ensure!(got == want, "resolve_in({cwd:?}, {path:?}) = {got:?}, expected {want:?}");
    }
    ensure!(is_url("a:") && is_url(":") && is_url("a:b/c") && !is_url("a/b:c") && !is_url("abc"), "is_url");
    Ok(format!("{} cases", cases.len()))
}
