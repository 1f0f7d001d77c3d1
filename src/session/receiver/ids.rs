//! The owner and group an item gets here, and the ids its ACLs name: by `--usermap`/`--groupmap`/
//! `--chown` (meta::idmap), else by the name the sender sent (rsync uidlist.c, acls.c). The maps
//! are read when the receiver starts (a bad map ends the run before anything is written, as
//! rsync's receiver does).

use super::*;

impl Receiver {
    pub(super) fn load_id_maps(&mut self) -> Result<()> {
        let mut notes = Vec::new();
        let maps = meta::idmap::Maps::load(&self.opts, &self.names, &mut |n| notes.push(n));
        for n in notes {
            self.conn.error(&n)?;
        }
        // uidlist.c exits from the receiver process, which names itself in the last line
        // (error::role_of recognises these messages wherever they are printed).
        self.idmaps = maps?;
        Ok(())
    }

    /// The ids an entry's ACLs name, mapped as owners are (rsync acls.c recv_ida_entries): by the
    /// sent name, through `--usermap`/`--groupmap`/`--chown`; with `--numeric-ids` as sent.
    pub(super) fn map_acl_ids(&self, e: &mut Entry) {
        let names = e
            .x_existing()
            .map(|x| std::mem::take(&mut x.acl_names))
            .unwrap_or_default();
        let m = &self.idmaps;
        if self.opts.numeric_ids || (names.is_empty() && m.user.is_none() && m.group.is_none()) {
            return;
        }
        let Some(x) = e.x_existing().and_then(|x| x.xattrs.as_mut()) else {
            return;
        };
        let map = |user: bool, id: u32| {
            let sent = names.iter().find(|(u, i, _)| (*u, *i) == (user, id));
            self.map_id(user, id, sent.map(|(_, _, n)| n.as_slice()))
        };
        for (_, v) in x.iter_mut().filter(|(n, _)| meta::xattr::Select::is_acl(n)) {
            meta::xattr::map_acl_ids(v, map);
        }
    }

    /// The owner and group an item gets here.
    pub(super) fn want_ids(&self, e: &Entry) -> (u32, u32) {
        (
            self.map_id(true, e.uid, e.user.map(OwnerName::bytes).as_deref()),
            self.map_id(false, e.gid, e.group.map(OwnerName::bytes).as_deref()),
        )
    }

    /// A user (`user`) or group id from the sender, with the name it sent (if any), as this side
    /// gives it: a `--usermap`/`--groupmap`/`--chown` rule that matches wins; otherwise the
    /// local id of the sent name, else the id as sent (`--numeric-ids`: always the id as sent).
    /// A map matches a name the sender did not send as the local one; with `--numeric-ids`, or
    /// for an id without a name anywhere, rsync matches the empty name (so `*` still matches).
    fn map_id(&self, user: bool, id: u32, sent: Option<&[u8]>) -> u32 {
        let numeric = self.opts.numeric_ids;
        let rules = if user {
            &self.idmaps.user
        } else {
            &self.idmaps.group
        };
        if let Some(rules) = rules {
            let name = if numeric {
                Vec::new()
            } else {
                let local = || {
                    if user {
                        self.names.local_user(id)
                    } else {
                        self.names.local_group(id)
                    }
                    .map(|n| n.bytes().to_vec())
                };
                sent.map(<[u8]>::to_vec).or_else(local).unwrap_or_default()
            };
            if let Some(to) = rules.map(id, &name) {
                return to;
            }
        }
        match sent.filter(|_| !numeric) {
            Some(n) if user => self.names.uid_of(n).unwrap_or(id),
            Some(n) => self.names.gid_of(n).unwrap_or(id),
            None => id,
        }
    }
}
