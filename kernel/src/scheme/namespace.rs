//! Namespaces: the set of scheme names a process can open. Every process
//! holds one (children inherit it); kernel schemes and daemons started in
//! it register there. A process can only narrow its own namespace to a
//! subset (`SYS_NS_RESTRICT`); the empty one, the null namespace, opens nothing
//! new, which is where a daemon goes once it has what it needs.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::syscall::error::{EEXIST, Error};
use spin::{Once, RwLock};
use x86_64::instructions::interrupts::without_interrupts;

use super::SchemeRef;

pub struct Namespace {
    schemes: RwLock<BTreeMap<String, SchemeRef>>,
}

static ROOT: Once<Arc<Namespace>> = Once::new();

/// The namespace of the kernel and of the first process.
pub fn root() -> Arc<Namespace> {
    ROOT.call_once(|| Arc::new(Namespace::empty())).clone()
}

impl Namespace {
    pub fn empty() -> Namespace {
        Namespace { schemes: RwLock::new(BTreeMap::new()) }
    }

    pub fn get(&self, name: &str) -> Option<SchemeRef> {
        without_interrupts(|| self.schemes.read().get(name).cloned())
    }

    /// Add `scheme` under its name (`EEXIST` if taken).
    pub fn insert(&self, scheme: SchemeRef) -> Result<(), Error> {
        without_interrupts(|| {
            let mut schemes = self.schemes.write();
            if schemes.contains_key(scheme.name()) {
                return Err(Error::new(EEXIST));
            }
            schemes.insert(String::from(scheme.name()), scheme);
            Ok(())
        })
    }

    /// Remove `name` if it still names the scheme with `key`.
    pub fn remove(&self, name: &str, key: usize) {
        without_interrupts(|| {
            let mut schemes = self.schemes.write();
            if schemes.get(name).is_some_and(|s| s.key() == key) {
                schemes.remove(name);
            }
        });
    }

    /// The names, sorted.
    pub fn names(&self) -> Vec<String> {
        without_interrupts(|| self.schemes.read().keys().cloned().collect())
    }

    pub fn is_null(&self) -> bool {
        without_interrupts(|| self.schemes.read().is_empty())
    }

    /// A new namespace with only `names` of this one; `None` names the
    /// first that is not here.
    pub fn subset(&self, names: &[String]) -> Result<Namespace, String> {
        let schemes = without_interrupts(|| self.schemes.read().clone());
        let mut kept = BTreeMap::new();
        for name in names {
            let scheme = schemes.get(name).ok_or_else(|| name.clone())?;
            kept.insert(name.clone(), scheme.clone());
        }
        Ok(Namespace { schemes: RwLock::new(kept) })
    }
}
