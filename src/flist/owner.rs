//! Interned user and group names. Every list entry of an `-o`/`-g` transfer names its owner and
//! group, and a tree names few of them: an entry holds a 4-byte id into one table per process
//! (two `Arc<[u8]>` fat pointers were 32 of an entry's 104 bytes, on each side, for each file).
//!
//! The table only grows. Its size is bounded by the distinct names of the lists this process
//! holds, which a peer cannot make larger than the list itself.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock, RwLock};

/// A user or group name as listed (not the empty name: ids without one carry none).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OwnerName(NonZeroU32);

#[derive(Default)]
struct Table {
    names: Vec<Arc<[u8]>>,
    ids: HashMap<Arc<[u8]>, NonZeroU32>,
}

fn table() -> &'static RwLock<Table> {
    static T: OnceLock<RwLock<Table>> = OnceLock::new();
    T.get_or_init(Default::default)
}

impl OwnerName {
    /// The id of `name`, entered on first use.
    pub fn new(name: &[u8]) -> OwnerName {
        if let Some(&id) = table().read().unwrap().ids.get(name) {
            return OwnerName(id);
        }
        let mut t = table().write().unwrap();
        if let Some(&id) = t.ids.get(name) {
            return OwnerName(id);
        }
        let name: Arc<[u8]> = name.into();
        t.names.push(name.clone());
        let id = NonZeroU32::new(t.names.len() as u32).expect("owner name table overflow");
        t.ids.insert(name, id);
        OwnerName(id)
    }

    /// The name's bytes.
    pub fn bytes(self) -> Arc<[u8]> {
        table().read().unwrap().names[self.0.get() as usize - 1].clone()
    }
}

impl std::fmt::Debug for OwnerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::OwnerName;

    #[test]
    fn same_name_same_id_and_small() {
        let (a, b) = (OwnerName::new(b"alice"), OwnerName::new(b"bob"));
        assert_eq!(a, OwnerName::new(b"alice"));
        assert_ne!(a, b);
        assert_eq!(&*b.bytes(), b"bob");
        assert_eq!(std::mem::size_of::<Option<OwnerName>>(), 4);
    }
}
