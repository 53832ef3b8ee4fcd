//! The directories a path walk went through: (directory node, name) ->
//! the node of the directory under that name, so that the next walk
//! through the same directories reads each node once instead of looking
//! the name up (README "Files that stay", the creates row).
//!
//! Why: RedoxFS checks the hash of every block it reads, and a look-up of
//! a name reads the directory's node (its four tree blocks and the node
//! block), its H-tree and the list of entries that holds the name, and
//! then the node found; a walk still has to read each node it passes (for
//! its kind and its permissions), but with the name known it reads only
//! that. For `file:/bench/fN` that is seven blocks fewer per call.
//!
//! When an entry holds: it is only ever made from a look-up that found
//! the name, and RedoxFS changes what a name leads to only when it removes
//! or renames one (a node's id is freed only once no name leads to it).
//! So `redoxfsd` empties the whole map before each unlink, rmdir and
//! rename, whatever their outcome ([`DirNames::take_for_change`]), and a
//! restarted daemon starts empty. Only directories are entered (a walk
//! passes only through them), at most [`DirNames::MAX`] of them; past it
//! the map starts again empty.
//!
//! May touch: nothing but its map.

use alloc::collections::BTreeMap;
use alloc::string::String;

use redoxfs::{Node, TreePtr};

/// See the module header.
#[derive(Default)]
pub struct DirNames {
    /// Directory node id -> name -> node id of the directory it names.
    by_dir: BTreeMap<u32, BTreeMap<String, u32>>,
    entries: usize,
}

impl DirNames {
    /// The most names kept.
    pub const MAX: usize = 512;

    /// The directory `name` in `dir` led to, when a walk found it there
    /// since the last change of names.
    pub fn get(&self, dir: TreePtr<Node>, name: &str) -> Option<TreePtr<Node>> {
        self.by_dir.get(&dir.id())?.get(name).map(|&id| TreePtr::new(id))
    }

    /// A walk found the directory `child` under `name` in `dir`.
    pub fn insert(&mut self, dir: TreePtr<Node>, name: &str, child: TreePtr<Node>) {
        if self.entries >= Self::MAX {
            *self = DirNames::default();
        }
        if self.by_dir.entry(dir.id()).or_default().insert(String::from(name), child.id()).is_none() {
            self.entries += 1;
        }
    }

    /// The map, for a call that is about to remove or rename a name, which
    /// may use it for its own walks; what stays behind is empty.
    pub fn take_for_change(&mut self) -> DirNames {
        core::mem::take(self)
    }
}
