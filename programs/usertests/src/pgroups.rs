//! Process groups: fork inherits the group, `setpgid` rules and errors,
//! `getpgid`, and signalling a whole group (`kill` with a negative pid,
//! `rt::process::kill_group`) with its permission rule.

use alloc::format;
use alloc::vec::Vec;
use core::time::Duration;

use rt::abi::syscall as sc;
use rt::abi::{SIGINT, SIGKILL, SIGTERM};

use crate::support::{
    Outcome, WAIT, ensure, expect_err, expect_exit, expect_signal, fork_child, kill_and_reap, ok, run_child,
    shared_page, wait_for,
};

/// A child that sleeps until it is signalled (bounded: it exits 3 after a
/// minute, which the tests treat as a failure).
fn sleeper() -> Result<usize, alloc::string::String> {
    fork_child(|| {
        rt::time::sleep(Duration::from_secs(60));
        3
    })
}

pub fn pgroup_inherited_by_fork() -> Outcome {
    let mine = ok("getpgid(0)", rt::process::getpgid(0))?;
    let pid = rt::process::getpid();
    ensure!(ok("getpgid(self)", rt::process::getpgid(pid))? == mine, "getpgid(pid) differs from getpgid(0)");
    let page = shared_page()?;
    let seen = &page.atomic_u64s()[0];
    let status = run_child(|| {
        seen.store(rt::process::getpgid(0).map_or(u64::MAX, |g| g as u64), core::sync::atomic::Ordering::Release);
        0
    })?;
    expect_exit("child", status, 0)?;
    let child_group = seen.load(core::sync::atomic::Ordering::Acquire);
    ensure!(child_group == mine as u64, "the child's group is {child_group}, the parent's {mine}");
    expect_err("getpgid of a pid that does not exist", rt::process::getpgid(999_999), sc::ESRCH)?;
    Ok(format!("group {mine} passed to the child"))
}

pub fn setpgid_rules() -> Outcome {
    let me = rt::process::getpid();
    let first = sleeper()?;
    let second = sleeper()?;
    let result = (|| {
        ok("setpgid(first, 0)", rt::process::setpgid(first, 0))?;
        ensure!(ok("getpgid(first)", rt::process::getpgid(first))? == first, "first child not leading its group");
        ok("setpgid(second, first)", rt::process::setpgid(second, first))?;
        ensure!(ok("getpgid(second)", rt::process::getpgid(second))? == first, "second child did not join");
        expect_err("joining a group nobody is in", rt::process::setpgid(second, 999_999), sc::EPERM)?;
        ensure!(ok("getpgid(second)", rt::process::getpgid(second))? == first, "a refused setpgid moved it");
        let parent = rt::process::getppid();
        expect_err("setpgid of the parent", rt::process::setpgid(parent, 0), sc::ESRCH)?;
        expect_err("setpgid of a missing pid", rt::process::setpgid(999_999, 0), sc::ESRCH)?;
        expect_err("setpgid with a negative pid", rt::process::setpgid(usize::MAX, 0), sc::EINVAL)?;
        expect_err("setpgid with a negative group", rt::process::setpgid(0, usize::MAX), sc::EINVAL)?;
        ok("setpgid(0, 0)", rt::process::setpgid(0, 0))?;
        ensure!(ok("getpgid(0)", rt::process::getpgid(0))? == me, "setpgid(0, 0) did not make a group {me}");
        // The children stay where they were put.
        ensure!(ok("getpgid(first)", rt::process::getpgid(first))? == first, "first child moved with the parent");
        Ok(())
    })();
    kill_and_reap(first);
    kill_and_reap(second);
    result?;
    // A child cannot be moved once it has ended.
    let gone = fork_child(|| 0)?;
    expect_exit("short child", wait_for(gone, WAIT)?, 0)?;
    expect_err("setpgid of a reaped child", rt::process::setpgid(gone, 0), sc::ESRCH)?;
    Ok(format!("groups {first} (two members) and {me}"))
}

pub fn kill_group_signals_every_member() -> Outcome {
    let members: Vec<usize> = (0..3).map(|_| sleeper()).collect::<Result<_, _>>()?;
    let outsider = sleeper()?;
    let group = members[0];
    let moved = members.iter().try_for_each(|&pid| rt::process::setpgid(pid, group));
    if let Err(err) = moved {
        members.iter().chain([&outsider]).for_each(|&pid| kill_and_reap(pid));
        return Err(format!("setpgid: {}", crate::support::ename(err)));
    }
    ok("kill_group", rt::process::kill_group(group, SIGTERM))?;
    for &pid in &members {
        expect_signal("group member", wait_for(pid, WAIT)?, SIGTERM)?;
    }
    // The outsider (this test's group) was not signalled.
    let alive = matches!(rt::sys::waitpid(outsider, rt::abi::WNOHANG), Ok((0, _)));
    kill_and_reap(outsider);
    ensure!(alive, "a process outside the group ended too");
    expect_err("kill_group of an empty group", rt::process::kill_group(group, SIGTERM), sc::ESRCH)?;
    expect_err("kill_group of group 0", rt::process::kill_group(0, SIGTERM), sc::EINVAL)?;
    let leader = sleeper()?;
    let bad = rt::process::setpgid(leader, 0).and_then(|()| rt::process::kill_group(leader, 77));
    kill_and_reap(leader);
    expect_err("kill_group with an unknown signal", bad, sc::EINVAL)?;
    Ok(format!("3 members of group {group} got SIGTERM, the outsider did not"))
}

pub fn kill_group_needs_permission() -> Outcome {
    let target = sleeper()?;
    let result = (|| {
        ok("setpgid(target, 0)", rt::process::setpgid(target, 0))?;
        let status = run_child(|| {
            if rt::sys::setuid(1000, 1000).is_err() {
                return 1;
            }
            match rt::process::kill_group(target, SIGKILL) {
                Err(err) if err.errno == sc::EPERM => 0,
                Err(_) => 2,
                Ok(()) => 3,
            }
        })?;
        expect_exit("unprivileged child signalling a root group (0 = EPERM)", status, 0)?;
        ensure!(
            matches!(rt::sys::waitpid(target, rt::abi::WNOHANG), Ok((0, _))),
            "the refused signal reached the group"
        );
        ok("kill_group as root", rt::process::kill_group(target, SIGINT))?;
        expect_signal("target", wait_for(target, WAIT)?, SIGINT)
    })();
    if result.is_err() {
        kill_and_reap(target);
    }
    result?;
    Ok(format!("uid 1000 refused, root delivered SIGINT to group {target}"))
}
