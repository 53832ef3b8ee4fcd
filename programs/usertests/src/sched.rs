//! Time and scheduling: nanosleep, the clocks, sched_yield, killing
//! sleeping, spinning and blocked processes, and FPU state that survives
//! preemption and fork.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::hint::black_box;
use core::sync::atomic::Ordering;
use core::time::Duration;

use rt::abi::syscall::{self as sc, CLOCK_MONOTONIC, CLOCK_REALTIME, TimeSpec};
use rt::abi::{SIGINT, SIGKILL, SIGTERM};

use crate::support::{
    Outcome, WAIT, await_flag, ensure, expect_errno, expect_exit, expect_signal, fork_child, now, ok, raise_flag,
    shared_page, sleep_ms, syscall, wait_for, wait_until,
};

fn nanosleep(ts: &TimeSpec) -> isize {
    syscall(sc::SYS_NANOSLEEP, &[(ts as *const TimeSpec).expose_provenance(), 0])
}

pub fn nanosleep_sleeps_long_enough() -> Outcome {
    let mut longest = Duration::ZERO;
    for ms in [1u64, 15, 40] {
        let start = now();
        ok("nanosleep", rt::sys::nanosleep(&rt::time::timespec(Duration::from_millis(ms)), None))?;
        let took = now() - start;
        ensure!(took >= Duration::from_millis(ms), "a {ms} ms sleep took {took:?}");
        ensure!(took < Duration::from_secs(5), "a {ms} ms sleep took {took:?}");
        longest = longest.max(took);
    }
    let start = now();
    ok("nanosleep(0)", rt::sys::nanosleep(&TimeSpec::default(), None))?;
    ensure!(now() - start < Duration::from_secs(1), "a zero sleep took {:?}", now() - start);
    expect_errno("nanosleep with 10^9 ns", nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 1_000_000_000 }), sc::EINVAL)?;
    expect_errno("nanosleep with -1 ns", nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: -1 }), sc::EINVAL)?;
    expect_errno("nanosleep with -1 s", nanosleep(&TimeSpec { tv_sec: -1, tv_nsec: 0 }), sc::EINVAL)?;
    Ok(format!("40 ms took {} ms", longest.as_millis()))
}

pub fn clock_gettime_monotonic() -> Outcome {
    let mut last = ok("clock_gettime", rt::sys::clock_gettime(CLOCK_MONOTONIC))?;
    let mut previous = rt::time::now();
    for _ in 0..2000 {
        let time = rt::time::now();
        ensure!(time >= previous, "the monotonic clock went back from {previous:?} to {time:?}");
        previous = time;
    }
    let ts = ok("clock_gettime", rt::sys::clock_gettime(CLOCK_MONOTONIC))?;
    ensure!((0..1_000_000_000).contains(&ts.tv_nsec), "tv_nsec {} out of range", ts.tv_nsec);
    ensure!((ts.tv_sec, ts.tv_nsec) >= (last.tv_sec, last.tv_nsec), "the clock went backwards");
    last = ts;
    sleep_ms(20);
    let later = ok("clock_gettime", rt::sys::clock_gettime(CLOCK_MONOTONIC))?;
    let elapsed = (later.tv_sec - last.tv_sec) * 1_000_000_000 + i64::from(later.tv_nsec - last.tv_nsec);
    ensure!(elapsed >= 20_000_000, "the clock advanced {elapsed} ns across a 20 ms sleep");
    // The wall clock starts from the RTC: after 2024-01-01, and as far
    // ahead of the monotonic clock as the Unix epoch is before boot.
    let wall = ok("CLOCK_REALTIME", rt::sys::clock_gettime(CLOCK_REALTIME))?;
    ensure!(wall.tv_sec > 1_704_067_200, "CLOCK_REALTIME says {} s after the epoch", wall.tv_sec);
    let mut out = TimeSpec::default();
    let ret = syscall(sc::SYS_CLOCK_GETTIME, &[99, (&raw mut out).expose_provenance()]);
    expect_errno("clock 99", ret, sc::EINVAL)?;
    Ok(format!("{}.{:03} s since boot", later.tv_sec, later.tv_nsec / 1_000_000))
}

pub fn sched_yield_ping_pong() -> Outcome {
    for _ in 0..100 {
        ok("sched_yield", rt::sys::sched_yield())?;
    }
    // Two processes hand a turn back and forth, yielding while waiting.
    const ROUNDS: u64 = 200;
    let page = shared_page()?;
    let turn = &page.atomic_u64s()[0];
    let pid = fork_child(|| {
        for round in 0..ROUNDS {
            let deadline = now() + WAIT;
            while turn.load(Ordering::Acquire) != 2 * round + 1 {
                if now() > deadline {
                    return 1;
                }
                rt::thread::yield_now();
            }
            turn.store(2 * round + 2, Ordering::Release);
        }
        0
    })?;
    let mut stuck = false;
    for round in 0..ROUNDS {
        turn.store(2 * round + 1, Ordering::Release);
        let deadline = now() + WAIT;
        while turn.load(Ordering::Acquire) != 2 * round + 2 {
            if now() > deadline {
                stuck = true;
                break;
            }
            rt::thread::yield_now();
        }
        if stuck {
            break;
        }
    }
    let status = wait_for(pid, WAIT)?;
    ensure!(!stuck, "the turn stopped coming back at {}", turn.load(Ordering::Acquire));
    expect_exit("the other side", status, 0)?;
    Ok(format!("{ROUNDS} round trips"))
}

/// Forks a child running `body`, which sets the shared word it is given
/// once it is about to sleep, spin or block; kills it with `signal` and
/// checks that it dies of it, promptly.
fn kill_child(signal: usize, body: impl FnOnce(&core::sync::atomic::AtomicU32) -> i32) -> Outcome {
    let page = shared_page()?;
    let ready = &page.atomic_u32s()[0];
    let pid = fork_child(|| body(ready))?;
    let started = wait_until(WAIT, || ready.load(Ordering::Acquire) != 0);
    // Let it get well into its sleep or spin.
    sleep_ms(30);
    let sent = now();
    let killed = rt::sys::kill(pid, signal);
    let status = wait_for(pid, WAIT)?;
    let took = now() - sent;
    ensure!(started, "the child never got ready");
    ok("kill", killed)?;
    expect_signal("the child", status, signal)?;
    ensure!(took < Duration::from_secs(2), "it took {took:?} to die");
    Ok(format!("died in {} ms", took.as_millis()))
}

pub fn kill_sleeping_child() -> Outcome {
    kill_child(SIGKILL, |ready| {
        ready.store(1, Ordering::Release);
        rt::time::sleep(Duration::from_secs(60));
        0
    })
}

pub fn kill_spinning_child() -> Outcome {
    kill_child(SIGTERM, |ready| {
        ready.store(1, Ordering::Release);
        let mut x = 0u64;
        loop {
            x = black_box(x.wrapping_add(1));
        }
    })
}

pub fn kill_child_blocked_in_futex() -> Outcome {
    kill_child(SIGINT, |ready| {
        ready.store(1, Ordering::Release);
        let word = core::sync::atomic::AtomicU32::new(0);
        // No timeout: only the signal ends this.
        let _ = rt::sync::futex_wait(&word, 0, None);
        0
    })
}

pub fn kill_child_blocked_in_waitpid() -> Outcome {
    let page = shared_page()?;
    let grandchild = &page.atomic_u64s()[1];
    let release = &page.atomic_u32s()[1];
    let outcome = kill_child(SIGKILL, |ready| {
        let Ok(pid) = fork_child(|| if await_flag(release, WAIT * 2) { 0 } else { 1 }) else {
            return 3;
        };
        grandchild.store(pid as u64, Ordering::Release);
        ready.store(1, Ordering::Release);
        // Blocks: only the signal ends this.
        let _ = rt::process::wait(pid);
        0
    });
    // The grandchild was orphaned to init; end it.
    raise_flag(release);
    let orphan = grandchild.load(Ordering::Acquire) as usize;
    if orphan != 0 {
        let _ = rt::sys::kill(orphan, SIGKILL);
    }
    outcome
}

pub fn kill_bad_arguments() -> Outcome {
    let me = rt::process::getpid();
    for signal in [0, 1, 5, 64, usize::MAX] {
        expect_errno(&format!("kill with signal {signal}"), syscall(rt::abi::SYS_KILL, &[me, signal]), sc::EINVAL)?;
    }
    expect_errno("kill of pid 999999", syscall(rt::abi::SYS_KILL, &[999_999, SIGTERM]), sc::ESRCH)?;
    // A child that has exited but is not yet reaped cannot be signalled.
    // (There is no way to see a zombie without reaping it: give it ample
    // time to exit.)
    let pid = fork_child(|| 3)?;
    sleep_ms(100);
    let ret = syscall(rt::abi::SYS_KILL, &[pid, SIGTERM]);
    let status = wait_for(pid, WAIT)?;
    expect_errno("kill of a zombie", ret, sc::ESRCH)?;
    expect_exit("the zombie", status, 3)?;
    // A process may signal itself.
    let status = crate::support::run_child(|| {
        let _ = rt::sys::kill(rt::process::getpid(), SIGTERM);
        // The signal takes effect on the way back to user mode.
        0
    })?;
    expect_signal("a child that killed itself", status, SIGTERM)?;
    Ok(String::from("EINVAL, ESRCH, self"))
}

/// Spins (not sleeping: it must be preempted) for `ms` milliseconds.
fn spin_for(ms: u64) {
    let until = now() + Duration::from_millis(ms);
    let mut x = 0u64;
    while now() < until {
        for _ in 0..1000 {
            x = black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }
}

pub fn fpu_state_survives_preemption() -> Outcome {
    // More spinners than CPUs (up to 5), so each is preempted many times.
    const SPINNERS: u64 = 6;
    rt::testing::fpu_fill(100);
    let mut pids = Vec::new();
    for seed in 1..=SPINNERS {
        pids.push(fork_child(move || {
            rt::testing::fpu_fill(seed);
            spin_for(200);
            if !rt::testing::fpu_check(seed) {
                return 1;
            }
            // And across a sleep.
            sleep_ms(5);
            if rt::testing::fpu_check(seed) { 0 } else { 2 }
        })?);
    }
    let mut statuses = Vec::new();
    for pid in pids {
        statuses.push(wait_for(pid, WAIT));
    }
    // This process slept in waitpid meanwhile: its state must be intact.
    ensure!(rt::testing::fpu_check(100), "the parent's FPU state changed while it waited");
    for status in statuses {
        let status = status?;
        ensure!(status.code() != Some(1), "a spinner's FPU state changed while it was preempted");
        ensure!(status.code() != Some(2), "a spinner's FPU state changed across a sleep");
        expect_exit("a spinner", status, 0)?;
    }
    Ok(format!("{SPINNERS} processes x 200 ms"))
}

pub fn fpu_state_inherited_by_fork() -> Outcome {
    rt::testing::fpu_fill(0x5eed);
    let status = crate::support::run_child(|| {
        if !rt::testing::fpu_check(0x5eed) {
            return 1;
        }
        // The child's own change stays its own.
        rt::testing::fpu_fill(0xc41d);
        0
    })?;
    expect_exit("the child (1 = it did not get the parent's FPU state)", status, 0)?;
    ensure!(rt::testing::fpu_check(0x5eed), "the child's FPU changes reached the parent");
    Ok(String::new())
}

/// A program starts with the initial FPU state, whatever the process
/// that exec'd it left in the registers (the kernel loads a thread's FPU
/// state only once it uses them, `arch/x86_64/fpu.rs`, and exec forgets
/// the old program's).
pub fn fpu_state_starts_clean_after_exec() -> Outcome {
    rt::testing::fpu_fill(0xfeed);
    // The child inherits the filled state, then execs: the new program
    // must not see it.
    let status = crate::support::run_child(|| {
        if !rt::testing::fpu_check(0xfeed) {
            return 3;
        }
        crate::exec::exec_self("fpu-initial", &[], &[])
    })?;
    expect_exit("the exec'd program (1: it found another's FPU state, 3: the fork lost the parent's)", status, 0)?;
    ensure!(rt::testing::fpu_check(0xfeed), "this process's FPU state changed");
    Ok(String::from("a program exec'd by a process with a full FPU finds the initial state"))
}
