//! Telling `event:` watchers what became ready, the same way for each of
//! netd's schemes: a handle's readiness is worked out anew after every
//! turn, and what was not ready when last told is reported. A read (or
//! write, or accept) forgets that it told about reading (writing), so a
//! handle still readable after a partial read is reported again.
//! `udp:`, `icmp:` and `ip:` go through [`drain`]; `tcp:` walks its own
//! connections (one pass, no look-ups) and applies the same rule with
//! [`tell`].
//!
//! May touch: nothing but what the scheme hands it.

use alloc::vec::Vec;

use scheme::EventFlags;

pub trait Readiness {
    /// Every open handle.
    fn ids(&self) -> Vec<usize>;
    /// Move the handle on (a finished lookup, a handshake) and say what
    /// it is ready for now.
    fn ready_now(&mut self, handle: usize) -> EventFlags;
    /// What the watchers were last told about the handle.
    fn told(&mut self, handle: usize) -> Option<&mut EventFlags>;
}

/// The handles of `scheme` with readiness not told yet.
pub fn drain<R: Readiness>(scheme: &mut R, events: &mut Vec<(usize, EventFlags)>) {
    for handle in scheme.ids() {
        let ready = scheme.ready_now(handle);
        if let Some(told) = scheme.told(handle) {
            tell(told, ready, handle, events);
        }
    }
}

/// Note that `handle` is `ready` now, and queue what of it the watchers
/// were not told yet.
pub fn tell(told: &mut EventFlags, ready: EventFlags, handle: usize, events: &mut Vec<(usize, EventFlags)>) {
    let new = ready - *told;
    *told = ready;
    if !new.is_empty() {
        events.push((handle, new));
    }
}
