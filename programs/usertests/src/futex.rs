//! Futexes: wait and wake across processes, the value check (`EAGAIN`),
//! timeouts (`ETIMEDOUT`), wake counts, bad arguments, and a mutex under
//! contention from several processes on several CPUs.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use rt::abi::syscall::{self as sc, TimeSpec};
use rt::sync::{futex_wait, futex_wake};

use crate::support::{
    Outcome, WAIT, await_flag, ensure, expect_errno, expect_exit, fork_child, now, raise_flag, shared_page, sleep_ms,
    syscall, wait_for, wait_until,
};

pub fn futex_wait_and_wake() -> Outcome {
    let page = shared_page()?;
    let word = &page.atomic_u32s()[0];
    let ready = &page.atomic_u32s()[1];
    let pid = fork_child(|| {
        ready.store(1, Ordering::Release);
        // Sleep until the parent changes the word (bounded).
        let deadline = now() + WAIT;
        while word.load(Ordering::Acquire) == 0 {
            match futex_wait(word, 0, Some(deadline.saturating_sub(now()))) {
                Ok(()) => {}
                Err(err) if err.errno == sc::EAGAIN => {}
                Err(err) if err.errno == sc::ETIMEDOUT => return 1,
                Err(_) => return 2,
            }
        }
        0
    })?;
    let started = wait_until(WAIT, || ready.load(Ordering::Acquire) == 1);
    // Give it time to go to sleep, then wake it until it reports a wake-up.
    sleep_ms(50);
    word.store(1, Ordering::Release);
    let mut woken = 0;
    let _ = wait_until(WAIT, || {
        woken += futex_wake(word, 1).unwrap_or(0);
        woken > 0 || matches!(rt::sys::waitpid(pid, rt::abi::WNOHANG), Ok((p, _)) if p != 0)
    });
    let status = wait_for(pid, WAIT)?;
    ensure!(started, "the child never started");
    expect_exit("the waiting child (1 = timed out)", status, 0)?;
    ensure!(woken == 1, "futex_wake woke {woken} sleepers, expected 1");
    Ok(format!("woke {woken}"))
}

pub fn futex_value_mismatch_eagain() -> Outcome {
    let word = AtomicU32::new(7);
    let start = now();
    let ret = futex_wait(&word, 8, Some(Duration::from_secs(5)));
    ensure!(matches!(ret, Err(e) if e.errno == sc::EAGAIN), "wait on 8 while the word is 7: {ret:?}");
    ensure!(now() - start < Duration::from_secs(1), "EAGAIN took {:?}", now() - start);
    Ok(String::from("EAGAIN at once"))
}

pub fn futex_timeout_etimedout() -> Outcome {
    let word = AtomicU32::new(0);
    let start = now();
    let ret = futex_wait(&word, 0, Some(Duration::from_millis(50)));
    let took = now() - start;
    ensure!(matches!(ret, Err(e) if e.errno == sc::ETIMEDOUT), "a 50 ms wait returned {ret:?}");
    ensure!(took >= Duration::from_millis(50), "timed out after {took:?}, before 50 ms");
    ensure!(took < Duration::from_secs(5), "timed out only after {took:?}");
    Ok(format!("after {} ms", took.as_millis()))
}

pub fn futex_wake_counts() -> Outcome {
    const WAITERS: usize = 3;
    let page = shared_page()?;
    let word = &page.atomic_u32s()[0];
    let waiting = &page.atomic_u32s()[1];
    let lonely = AtomicU32::new(0);
    ensure!(futex_wake(&lonely, 10).ok() == Some(0), "waking a word nobody waits on did not return 0");
    let mut pids = Vec::new();
    for _ in 0..WAITERS {
        pids.push(fork_child(|| {
            waiting.fetch_add(1, Ordering::AcqRel);
            if await_flag(word, WAIT) { 0 } else { 1 }
        })?);
    }
    let _ = wait_until(WAIT, || waiting.load(Ordering::Acquire) as usize == WAITERS);
    sleep_ms(50);
    // One at a time: never more than asked for.
    let mut woken = 0;
    let mut too_many = None;
    let _ = wait_until(WAIT, || {
        match futex_wake(word, 1) {
            Ok(n) if n > 1 => too_many = Some(n),
            Ok(n) => woken += n,
            Err(_) => {}
        }
        too_many.is_some() || woken >= 1
    });
    // Then the rest at once (the flag makes them leave).
    raise_flag(word);
    let mut statuses = Vec::new();
    for pid in pids {
        statuses.push(wait_for(pid, WAIT));
    }
    ensure!(too_many.is_none(), "futex_wake(1) woke {:?}", too_many);
    ensure!(woken == 1, "futex_wake(1) never woke a waiter");
    for status in statuses {
        expect_exit("a waiter", status?, 0)?;
    }
    Ok(format!("1 of {WAITERS}, then the rest"))
}

/// A private word: after a fork each process has its own copy (still one
/// frame until either writes it).
static PRIVATE_WORD: AtomicU32 = AtomicU32::new(0);

pub fn futex_private_memory_is_private() -> Outcome {
    PRIVATE_WORD.store(0, Ordering::Release);
    let page = shared_page()?;
    let ready = &page.atomic_u32s()[0];
    let pid = fork_child(|| {
        ready.store(1, Ordering::Release);
        // Nobody may wake this: the word is this process's own.
        match futex_wait(&PRIVATE_WORD, 0, Some(Duration::from_millis(300))) {
            Err(err) if err.errno == sc::ETIMEDOUT => 0,
            Ok(()) => 1,
            Err(_) => 2,
        }
    })?;
    let started = wait_until(WAIT, || ready.load(Ordering::Acquire) == 1);
    sleep_ms(50);
    // Our copy of the word: waking it must not reach the child's.
    let woken = futex_wake(&PRIVATE_WORD, 1);
    let status = wait_for(pid, WAIT)?;
    ensure!(started, "the child never started");
    ensure!(
        woken.as_ref().ok() == Some(&0) && status.code() != Some(1),
        "futex_wake on this process's private word woke {woken:?} waiter(s): the child sleeping on its own copy \
         (a copy-on-write page, one frame until written) was woken"
    );
    expect_exit("the child waiting on its private word", status, 0)?;
    Ok(String::from("a wake does not cross into another process's private copy"))
}

pub fn futex_bad_arguments() -> Outcome {
    let words = [AtomicU32::new(0), AtomicU32::new(0)];
    let aligned = words[0].as_ptr().expose_provenance();
    let futex =
        |addr: usize, op: usize, value: usize, timeout: usize| syscall(sc::SYS_FUTEX, &[addr, op, value, timeout]);
    expect_errno("wait on an unaligned word", futex(aligned + 1, sc::FUTEX_WAIT, 0, 0), sc::EINVAL)?;
    expect_errno("wake on an unaligned word", futex(aligned + 2, sc::FUTEX_WAKE, 1, 0), sc::EINVAL)?;
    expect_errno("unknown operation", futex(aligned, 99, 0, 0), sc::EINVAL)?;
    let bad_nanos = TimeSpec { tv_sec: 0, tv_nsec: 1_000_000_000 };
    expect_errno(
        "timeout with 10^9 ns",
        futex(aligned, sc::FUTEX_WAIT, 0, (&raw const bad_nanos).expose_provenance()),
        sc::EINVAL,
    )?;
    let negative = TimeSpec { tv_sec: -1, tv_nsec: 0 };
    expect_errno(
        "negative timeout",
        futex(aligned, sc::FUTEX_WAIT, 0, (&raw const negative).expose_provenance()),
        sc::EINVAL,
    )?;
    Ok(String::from("EINVAL"))
}

pub fn futex_mutex_across_processes() -> Outcome {
    const WORKERS: u64 = 4;
    const ROUNDS: u64 = 2000;
    let shared = shared_page()?;
    let counter = rt::testing::shared_mutex(&shared);
    let mut pids = Vec::new();
    for worker in 0..WORKERS {
        pids.push(fork_child(|| {
            for round in 0..ROUNDS {
                let mut value = counter.lock();
                // A read-modify-write that races without the lock, with a
                // yield inside now and then to make others contend.
                let seen = *value;
                if (round + worker) % 64 == 0 {
                    rt::thread::yield_now();
                }
                *value = seen + 1;
            }
            0
        })?);
    }
    let mut failure = None;
    for pid in pids {
        match wait_for(pid, WAIT * 3) {
            Ok(status) if status.success() => {}
            Ok(status) => failure = Some(format!("worker {pid} ended with {status}")),
            Err(err) => failure = Some(err),
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    let total = *counter.lock();
    ensure!(total == WORKERS * ROUNDS, "counter is {total}, expected {}", WORKERS * ROUNDS);
    Ok(format!("{WORKERS} processes x {ROUNDS} increments = {total}"))
}
