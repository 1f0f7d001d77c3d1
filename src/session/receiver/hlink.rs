//! `-H`: which link of a hard-link group is transferred and when the others are linked to it,
//! in rsync's order (hlink.c `hard_link_check`/`finish_hard_link`, generator.c), because that
//! order is what `-v`/`-i` print:
//!
//! - A member whose name exists on the receiver is processed like any file. If it is up to date
//!   it becomes the group's leader at once, and the members skipped before it are linked to it
//!   right there (`A => B` after B); if it needs a transfer, it leads once the transfer is done.
//! - A member whose name is missing is skipped while later members may follow; the group's last
//!   member, if the group still has no leader, is transferred and leads.
//! - Members arriving after a finished leader are linked at once (`hf… C => B` in place);
//!   members arriving while it is in transfer wait.
//! - When a transferred leader is done, its waiting members (in arrival order) and then the
//!   skipped ones (last first) are linked and printed: in a dry run right after the leader's own
//!   line, otherwise after the whole file list (rsync's generator learns of finished files late),
//!   before `--delete-after` deletions.
//!
//! rsync knows a group's "last" member because it reads the file list [`super::output::LOOKAHEAD`]
//! entries ahead: the last member it has seen by then. parasync's receiver decides the same way
//! once the list has grown that far past a member (or at its end), so skipped members keep a
//! place-holder line (which holds back the lines after it) until then.

use super::*;

/// Marks a place-holder line of a skipped member (never printed).
const PLACE: &str = "\0hlink";

#[derive(Default)]
pub(super) struct Groups {
    groups: HashMap<u64, Group>,
    /// Where `push_line` inserts while a skipped member's line takes its place.
    pub(super) slot: Option<usize>,
}

#[derive(Default)]
struct Group {
    leader: Option<(u32, Lead)>,
    /// Members skipped for want of a leader, in list order.
    skipped: Vec<u32>,
    /// Members waiting for the leader's transfer, in arrival order.
    waiting: Vec<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lead {
    /// Transfer requested; linking waits for the end of the run.
    Sent,
    /// Up to date, transferred, or (dry run) as good as transferred.
    Done,
}

impl Receiver {
    /// A regular file of a hard-link group (with `-H`); `old` is what its name holds now.
    pub(super) fn hl_process(
        &mut self,
        idx: u32,
        e: &Entry,
        path: &Path,
        old: Option<Stat>,
    ) -> Result<()> {
        let group = e.x().hlink;
        let leader = self.hl.groups.entry(group).or_default().leader;
        match leader {
            Some((l, Lead::Done)) => return self.hl_link(idx, l),
            Some((_, Lead::Sent)) => {
                self.hl.groups.entry(group).or_default().waiting.push(idx);
                return Ok(());
            }
            // A member an alternate directory holds is as good as present (it may lead).
            None if old.is_none() && !self.alt_has_copy(e) => {
                let g = self.hl.groups.entry(group).or_default();
                g.skipped.push(idx);
                // Only item lines need the place kept (and a quiet run keeps no lines at all).
                if self.opts.info.name > 0 || self.opts.out_format.is_some() {
                    self.push_line(Some(idx), PLACE.into());
                }
                return Ok(());
            }
            None => {}
        }
        self.hl_lead(idx, e, path, old)
    }

    /// Process `idx` as its group's leader; link the skipped members once it is done.
    fn hl_lead(&mut self, idx: u32, e: &Entry, path: &Path, old: Option<Stat>) -> Result<()> {
        let group = e.x().hlink;
        // A member the transfer rules skip (--max-size, -u, …) leads nothing: the group waits
        // for another (hlink.c handle_skipped_hlink), so no member is linked to a stale file.
        if self.skipped_by_rules(e, old.as_ref()) {
            return Ok(());
        }
        let mut skipped = {
            let g = self.hl.groups.entry(group).or_default();
            std::mem::take(&mut g.skipped)
        };
        // Their place-holders go: the leader's line stands for the group.
        for &s in &skipped {
            if let Some(p) = self.placeholder(s) {
                self.remove_line(p);
            }
        }
        let (mut idx, mut path, mut old) = (idx, path.to_path_buf(), old);
        let mut e = e.clone();
        loop {
            self.not_placed = None;
            self.process_file_plain(idx, &e, &path, old)?;
            let sent = self.jobs.contains_key(&idx);
            if self.opts.debug.get("HLINK") > 0 {
                let how = if sent { "sent" } else { "up to date" };
                let name = report::escape(&e.name);
                self.gen_line(format!("hlink for {idx} ({name},{group}): leader, {how}"));
            }
            // A leader whose file is not placed here — left alone by --append, or left out
            // by --compare-dest — leads nothing either: the next member takes the lead
            // (generator.c marks no group done then).
            if self.not_placed.take() == Some(idx) {
                if skipped.is_empty() {
                    return Ok(());
                }
                idx = skipped.remove(0);
                e = self.flist[idx as usize].clone();
                path = self.target(&e);
                old = self.dest_stat(&path);
                continue;
            }
            let g = self.hl.groups.entry(group).or_default();
            g.skipped = skipped;
            if sent {
                g.leader = Some((idx, Lead::Sent));
                return Ok(());
            }
            g.leader = Some((idx, Lead::Done));
            return self.hl_finish(group);
        }
    }

    /// Link the leader's waiting members, then its skipped ones (last first).
    fn hl_finish(&mut self, group: u64) -> Result<()> {
        let Some(g) = self.hl.groups.get_mut(&group) else {
            return Ok(());
        };
        let Some((leader, _)) = g.leader else {
            return Ok(());
        };
        g.leader = Some((leader, Lead::Done));
        let mut chain = std::mem::take(&mut g.waiting);
        chain.extend(std::mem::take(&mut g.skipped).into_iter().rev());
        for m in chain {
            self.hl_link(m, leader)?;
        }
        Ok(())
    }

    /// End of the file list: a group without a leader is led by its last member.
    pub(super) fn hl_resolve(&mut self) -> Result<()> {
        self.hl_resolve_before(u32::MAX)
    }

    /// rsync reads the list only [`output::LOOKAHEAD`] entries ahead: a member with no other
    /// member that far behind it is the last one rsync knows of, so it leads its group (the
    /// later members link to it as they come).
    pub(super) fn hl_resolve_behind(&mut self) -> Result<()> {
        let seen = self.flist.len();
        if self.hl.groups.is_empty() || seen <= super::output::LOOKAHEAD {
            return Ok(());
        }
        self.hl_resolve_before((seen - super::output::LOOKAHEAD) as u32)
    }

    /// Lead every leaderless group whose last skipped member comes before `limit`.
    fn hl_resolve_before(&mut self, limit: u32) -> Result<()> {
        let mut open: Vec<(u32, u64)> = self
            .hl
            .groups
            .iter()
            .filter(|(_, g)| g.leader.is_none())
            .filter_map(|(k, g)| Some((*g.skipped.last()?, *k)))
            .filter(|(last, _)| *last < limit)
            .collect();
        open.sort();
        for (last, group) in open {
            if let Some(g) = self.hl.groups.get_mut(&group) {
                g.skipped.pop();
            }
            let e = self.flist[last as usize].clone();
            let path = self.target(&e);
            let others = self.hl.groups.get(&group).map(|g| g.skipped.clone());
            for s in others.unwrap_or_default() {
                if let Some(p) = self.placeholder(s) {
                    self.remove_line(p);
                }
            }
            // The leader's lines take its place-holder's place.
            let p = self.placeholder(last);
            if let Some(p) = p {
                self.remove_line(p);
            }
            self.hl.slot = p;
            let r = self.hl_lead(last, &e, &path, None);
            self.hl.slot = None;
            r?;
        }
        Ok(())
    }

    /// End of the run: link the members of transferred leaders, in list order of the leaders.
    pub(super) fn hl_finish_all(&mut self) -> Result<()> {
        let mut sent: Vec<(u32, u64)> = self
            .hl
            .groups
            .iter()
            .filter_map(|(k, g)| match g.leader {
                Some((l, Lead::Sent)) => Some((l, *k)),
                _ => None,
            })
            .collect();
        sent.sort();
        for (_, group) in sent {
            self.hl_finish(group)?;
        }
        Ok(())
    }

    /// Make `idx` a link to `leader` (rsync's maybe_hard_link) and print it as rsync does:
    /// `hf+++++++++` for a new name, else the attribute changes of the name's old file.
    fn hl_link(&mut self, idx: u32, leader: u32) -> Result<()> {
        let e = self.flist[idx as usize].clone();
        let le = self.flist[leader as usize].clone();
        let (path, lpath) = (self.target(&e), self.target(&le));
        let old = self.dest_stat(&path);
        let lead_meta = std::fs::metadata(&lpath).ok();
        // A member the alternate directories hold (hlink.c hard_link_check): not a new item.
        // Under --compare-dest the leader was not made here, and neither is the member; under
        // --link-dest the link is quiet below -ii; under --copy-dest it is an existing link.
        if old.is_none() && self.alt_has_copy(&e) {
            let kind = self.opts.alt_dest;
            if kind == Some(crate::cli::options::AltDest::Compare) || lead_meta.is_none() {
                if self.opts.itemize_unchanged() {
                    self.log_item(idx, &e, &Change::default(), false, None);
                }
                return Ok(());
            }
            let c = Change {
                hlink: kind == Some(crate::cli::options::AltDest::Copy),
                linked: true,
                ..Default::default()
            };
            if c.hlink || self.opts.itemize_unchanged() {
                self.log_item(idx, &e, &c, false, Some(le.name.to_vec()));
            }
            if kind == Some(crate::cli::options::AltDest::Link) {
                self.is_uptodate_line(&e);
            }
            if self.opts.dry_run {
                return Ok(());
            }
            if self.link_member(&lpath, &path, &le.name)? {
                self.delivered(idx)?;
            }
            return Ok(());
        }
        let same = match (&old, &lead_meta) {
            (Some(a), Some(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        let change = match &old {
            None => Change {
                new: true,
                hlink: true,
                ..Default::default()
            },
            Some(m) => {
                let (uid, gid) = self.want_ids(&e);
                let mode = meta::target_mode(&e, Some(m.mode()), &self.meta);
                let mut c = decide::attr_change(&e, m, &self.opts, uid, gid, mode);
                c.size = m.len() != e.size;
                c.hlink = !same;
                c.linked = same;
                c
            }
        };
        if old.is_none() {
            self.new_counts(&e);
        }
        if self.opts.debug.get("HLINK") > 0 {
            let (n, l) = (report::escape(&e.name), report::escape(&le.name));
            self.gen_line(format!(
                "hlink for {idx} ({n},{}): linked to {l}",
                e.x().hlink
            ));
        }
        if same {
            self.uptodate_line(&e, &change);
        }
        // An existing link is itemized without its target (`hf          b`, with -ii).
        let to = (!same).then(|| le.name.to_vec());
        self.log_item(idx, &e, &change, false, to);
        if self.opts.dry_run {
            return Ok(());
        }
        if same {
            return self.delivered(idx);
        }
        if old.is_some() {
            // hlink.c maybe_hard_link: the name's old file is backed up like any replaced one.
            let rel = self.rel_name(&e);
            match self.make_backup(&path, &rel, false) {
                Ok(true) => {}
                Ok(false) => {
                    let _ = std::fs::remove_file(&path);
                }
                Err(err) => return self.fail(super::backup::backup_failed(&path, &err)),
            }
        }
        if self.link_member(&lpath, &path, &le.name)? {
            self.delivered(idx)?;
        }
        Ok(())
    }

    /// Hard-link a member at `path` to its leader's file; a failure is rsync's receiver error.
    fn link_member(&mut self, lpath: &Path, path: &Path, leader: &[u8]) -> Result<bool> {
        if let Err(err) = std::fs::hard_link(lpath, path) {
            self.fail(format!(
                "rsync: [receiver] link \"{}\" => {} failed: {}",
                crate::flist::walk::full_name(path),
                report::escape(leader),
                io_text(&err)
            ))?;
            return Ok(false);
        }
        Ok(true)
    }

    fn placeholder(&self, idx: u32) -> Option<usize> {
        self.lines
            .iter()
            .position(|(w, s)| *w == Some(idx) && s == PLACE)
    }

    fn remove_line(&mut self, p: usize) {
        self.lines.remove(p);
        if p < self.gen_at {
            self.gen_at -= 1;
        }
    }
}
