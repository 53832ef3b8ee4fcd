extern crate std;

use super::*;

#[test]
fn the_same_seed_gives_the_same_ops() {
    let a: Vec<Op> = Workload::new(7).take(50).collect();
    let b: Vec<Op> = Workload::new(7).take(50).collect();
    let c: Vec<Op> = Workload::new(8).take(50).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn ops_only_touch_files_that_exist_and_writes_are_bounded() {
    let mut files = Files::new();
    let mut kinds = [0usize; 4];
    for op in Workload::new(3).take(2000) {
        for step in &op.steps {
            match step {
                Step::Create(name) => {
                    assert!(!files.contains_key(name), "create of existing {name}");
                    kinds[0] += 1;
                }
                Step::Append(name, data) => {
                    assert!(files.contains_key(name), "append to missing {name}");
                    assert!(!data.is_empty() && data.len() <= MAX_WRITE);
                    kinds[1] += 1;
                }
                Step::Rename(from, _) => {
                    assert!(files.contains_key(from), "rename of missing {from}");
                    kinds[2] += 1;
                }
                Step::Unlink(name) => {
                    assert!(files.contains_key(name), "unlink of missing {name}");
                    kinds[3] += 1;
                }
            }
            apply(&mut files, step);
        }
    }
    assert!(kinds.iter().all(|&n| n > 50), "every kind of step is made: {kinds:?}");
}

fn state_after(seed: u64, steps: usize) -> Files {
    let mut files = Files::new();
    for step in Workload::new(seed).flat_map(|op| op.steps).take(steps) {
        apply(&mut files, &step);
    }
    files
}

#[test]
fn every_state_is_found_where_it_is() {
    let states = States::new(5, 100);
    let total = states.op_end(99).unwrap();
    for steps in 0..=total {
        let found = states.find(&state_after(5, steps), 0).unwrap();
        // The same state may have come earlier; it never comes later.
        assert!(found.step <= steps);
        assert_eq!(digest(&state_after(5, found.step)), digest(&state_after(5, steps)));
    }
}

#[test]
fn judging_a_cut() {
    let states = States::new(9, 40);
    let end10 = states.op_end(10).unwrap();
    let end11 = states.op_end(11).unwrap();
    // Op 10 acknowledged, op 11 under way: any state between is fine.
    for steps in end10..=end11 {
        assert!(judge(&states, &state_after(9, steps), Some(10), 11).is_ok(), "step {steps}");
    }
    // Lost acknowledged work.
    let early = state_after(9, states.op_end(5).unwrap());
    assert!(judge(&states, &early, Some(10), 11).is_err());
    // Work from the future.
    let late = state_after(9, states.op_end(20).unwrap());
    assert!(judge(&states, &late, Some(10), 11).is_err());
    // A torn write: a file with a byte changed.
    let mut torn = state_after(9, end10);
    let (_, data) = torn.iter_mut().find(|(_, d)| !d.is_empty()).unwrap();
    data[0] ^= 1;
    assert!(judge(&states, &torn, Some(10), 11).is_err());
    // Nothing acknowledged yet: the empty directory is fine.
    assert!(judge(&states, &Files::new(), None, 0).is_ok());
}
