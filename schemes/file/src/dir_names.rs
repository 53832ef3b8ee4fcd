//! The directories a path walk went through: (directory node, name) ->
//! the directory under that name, with its mode, owner and group, so
//! that the next walk through the same directories reads nothing from the
//! disk for them (README "Files that stay", the creates row).
//!
//! Why: RedoxFS checks the hash of every block it reads, and a walk's
//! step, the look-up of a name, reads the directory's node (its four tree
//! blocks and the node block), its H-tree and the list of entries that
//! holds the name, and then the node found (five blocks more). A walk
//! needs of each directory only where it is (its node id), its kind, and
//! who may search it, and those change in RedoxFS only when a name is
//! removed or renamed: a node's id is freed only once no name leads to it,
//! and `redoxfsd` has no call that changes a mode, owner or group once a
//! node is made. For `file:/bench/fN` that is seventeen block reads fewer
//! per call.
//!
//! When an entry holds: it is only ever made from a look-up that found
//! the name (or from the root node), and `redoxfsd` empties the whole map
//! before each unlink, rmdir and rename, whatever their outcome
//! ([`DirNames::take_for_change`]); a restarted daemon starts empty. A call
//! that changes a node's mode, owner or group (a `chmod`, a `chown`) must
//! empty it too. Only directories are entered, at most [`DirNames::MAX`];
//! past it the map starts again empty.
//!
//! [`NodeMeta::permission`] is the one place `redoxfsd` decides who may
//! use a node.
//!
//! May touch: nothing but its map.

use alloc::collections::BTreeMap;
use alloc::string::String;

use redoxfs::{Node, TreeData, TreePtr};

/// What a permission check and a walk need of a node.
#[derive(Clone, Copy)]
pub struct NodeMeta {
    pub ptr: TreePtr<Node>,
    mode: u16,
    uid: u32,
    gid: u32,
}

impl NodeMeta {
    pub fn of(node: &TreeData<Node>) -> NodeMeta {
        let data = node.data();
        NodeMeta { ptr: node.ptr(), mode: data.mode(), uid: data.uid(), gid: data.gid() }
    }

    pub fn is_dir(&self) -> bool {
        self.mode & Node::MODE_TYPE == Node::MODE_DIR
    }

    /// Whether a caller with `uid` and `gid` may do `op` (a mask of read
    /// 4, write 2, search or execute 1) as Unix decides it, the rule of
    /// `redoxfs::Node::permission`: the owner's bits to the owner, the
    /// group's to the group and to a caller of group 0, the others' to
    /// everyone, and all to root.
    pub fn permission(&self, uid: u32, gid: u32, op: u16) -> bool {
        let mut perm = self.mode & 0o7;
        if self.uid == uid {
            perm |= (self.mode >> 6) & 0o7;
        }
        if self.gid == gid || gid == 0 {
            perm |= (self.mode >> 3) & 0o7;
        }
        if uid == 0 {
            perm |= 0o7;
        }
        perm & op == op
    }
}

/// See the module header.
#[derive(Default)]
pub struct DirNames {
    root: Option<NodeMeta>,
    /// Directory node id -> name -> the directory it names.
    by_dir: BTreeMap<u32, BTreeMap<String, NodeMeta>>,
    entries: usize,
}

impl DirNames {
    /// The most names kept.
    pub const MAX: usize = 512;

    /// The root directory, when a walk read it since the last change.
    pub fn root(&self) -> Option<NodeMeta> {
        self.root
    }

    pub fn set_root(&mut self, root: NodeMeta) {
        self.root = Some(root);
    }

    /// The directory `name` in `dir` led to, when a walk found it there
    /// since the last change of names.
    pub fn get(&self, dir: TreePtr<Node>, name: &str) -> Option<NodeMeta> {
        self.by_dir.get(&dir.id())?.get(name).copied()
    }

    /// A walk found the directory `child` under `name` in `dir`.
    pub fn insert(&mut self, dir: TreePtr<Node>, name: &str, child: NodeMeta) {
        if self.entries >= Self::MAX {
            *self = DirNames::default();
        }
        if self.by_dir.entry(dir.id()).or_default().insert(String::from(name), child).is_none() {
            self.entries += 1;
        }
    }

    /// The map, for a call that is about to remove or rename a name, which
    /// may use it for its own walks; what stays behind is empty.
    pub fn take_for_change(&mut self) -> DirNames {
        core::mem::take(self)
    }
}
