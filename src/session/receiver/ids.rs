//! Owner and group of created items under `--usermap`/`--groupmap`/`--chown` (meta::idmap): the
//! maps are read when the receiver starts (a bad map ends the run before anything is written, as
//! rsync's receiver does); an id no rule matches is mapped by name as usual.

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
        let names = std::mem::take(&mut e.acl_names);
        let m = &self.idmaps;
        if self.opts.numeric_ids || (names.is_empty() && m.user.is_none() && m.group.is_none()) {
            return;
        }
        let Some(x) = e.xattrs.as_mut() else {
            return;
        };
        let map = |user: bool, id: u32| -> u32 {
            let sent = names
                .iter()
                .find(|(u, i, _)| (*u, *i) == (user, id))
                .map(|(_, _, n)| n);
            let (map, local) = if user {
                (&m.user, self.names.local_user(id))
            } else {
                (&m.group, self.names.local_group(id))
            };
            let name = sent.cloned().or(local).unwrap_or_default();
            if let Some(to) = map.as_ref().and_then(|map| map.map(id, &name)) {
                return to;
            }
            match sent {
                Some(n) if user => self.names.uid_of(n).unwrap_or(id),
                Some(n) => self.names.gid_of(n).unwrap_or(id),
                None => id,
            }
        };
        for (_, v) in x.iter_mut().filter(|(n, _)| meta::xattr::Select::is_acl(n)) {
            meta::xattr::map_acl_ids(v, map);
        }
    }

    /// (uid, gid) when a map applies to either; the other follows the usual rules.
    pub(super) fn mapped_ids(&self, e: &Entry) -> Option<(u32, u32)> {
        let m = &self.idmaps;
        if m.user.is_none() && m.group.is_none() {
            return None;
        }
        // A name the sender did not send is the local one; with --numeric-ids, or for an id
        // without a name anywhere, rsync matches the empty name (so `*` still matches).
        let numeric = self.opts.numeric_ids;
        let name = |sent: &Option<Vec<u8>>, local: &dyn Fn() -> Option<Vec<u8>>| {
            if numeric {
                Vec::new()
            } else {
                sent.clone().or_else(local).unwrap_or_default()
            }
        };
        let uid = m
            .user
            .as_ref()
            .and_then(|u| u.map(e.uid, &name(&e.user, &|| self.names.local_user(e.uid))));
        let gid = m
            .group
            .as_ref()
            .and_then(|g| g.map(e.gid, &name(&e.group, &|| self.names.local_group(e.gid))));
        if uid.is_none() && gid.is_none() {
            return None;
        }
        let plain = self.plain_ids(e);
        Some((uid.unwrap_or(plain.0), gid.unwrap_or(plain.1)))
    }
}
