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
