//! Sets of disk blocks as sorted, merged `[start, end)` ranges: what the
//! file system daemon's group commit (`lib/redoxfs-glue`'s `group`)
//! compares to find the blocks freed since a header became durable. Pure
//! logic, tested on the host.
//!
//! May touch: nothing but its arguments.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

/// `ranges` sorted and merged: no two overlap or touch.
pub fn merged(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.retain(|&(start, end)| start < end);
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if last.1 >= start => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// The blocks in `now` that are not in `before` (both [`merged`]).
pub fn blocks_not_in(now: &[(u64, u64)], before: &[(u64, u64)]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(start, end) in now {
        let mut at = start;
        while at < end {
            while j < before.len() && before[j].1 <= at {
                j += 1;
            }
            match before.get(j) {
                Some(&(b_start, b_end)) if b_start <= at => at = b_end.min(end),
                Some(&(b_start, _)) => {
                    let stop = b_start.min(end);
                    out.extend(at..stop);
                    at = stop;
                }
                None => {
                    out.extend(at..end);
                    at = end;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn merging_sorts_joins_and_drops_empty_ranges() {
        assert_eq!(merged(vec![(8, 9), (0, 2), (2, 4), (3, 5), (7, 7)]), [(0, 5), (8, 9)]);
        assert_eq!(merged(vec![]), []);
    }

    #[test]
    fn blocks_outside_the_old_ranges() {
        assert_eq!(blocks_not_in(&[(0, 10)], &[(2, 4), (6, 7)]), [0, 1, 4, 5, 7, 8, 9]);
        assert_eq!(blocks_not_in(&[(3, 5)], &[(0, 10)]), [] as [u64; 0]);
        assert_eq!(blocks_not_in(&[(3, 5), (20, 22)], &[]), [3, 4, 20, 21]);
        assert_eq!(blocks_not_in(&[(0, 3), (5, 8)], &[(1, 6)]), [0, 6, 7]);
    }

    #[test]
    fn agrees_with_a_set_difference() {
        // Every small pair of range sets, against a bitmap.
        let sets: Vec<Vec<(u64, u64)>> = (0u32..256)
            .map(|bits| merged((0..8).filter(|i| bits & (1 << i) != 0).map(|i| (i * 2, i * 2 + 2)).collect()))
            .collect();
        for now in &sets {
            for before in sets.iter().step_by(7) {
                let inside = |set: &[(u64, u64)], b: u64| set.iter().any(|&(s, e)| s <= b && b < e);
                let expected: Vec<u64> = (0..16).filter(|&b| inside(now, b) && !inside(before, b)).collect();
                assert_eq!(blocks_not_in(now, before), expected, "{now:?} minus {before:?}");
            }
        }
    }
}
