//! Itemize strings (`%i`, 11 characters `YXcstpoguax`, rsync-cli.md §4.5) and the rule that decides
//! whether an item is worth a line at all (rsync's "significant" item flags).

/// What changed for one item, as found by the receiver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Change {
    pub new: bool,
    /// Content is being transferred.
    pub transfer: bool,
    /// Local change (dir/symlink/device created or a link target changed).
    pub local: bool,
    pub checksum: bool,
    pub size: bool,
    pub time: bool,
    pub perms: bool,
    pub owner: bool,
    pub group: bool,
    pub hlink: bool,
    /// Already a hard link to its group's leader: itemized with `h` but, unlike `hlink`, not a
    /// change by itself (rsync names no link target then).
    pub linked: bool,
    /// Made from an alternate directory's copy that matched (rsync's ITEM_LOCAL_CHANGE with no
    /// significant flag): itemized with `c` but, unlike `local`, not a change by itself.
    pub matched: bool,
    /// The mtime is set to the transfer time (`T`): content or a link changed while times are not
    /// preserved (rsync log.c: ITEM_REPORT_TIME without preserve_times).
    pub time_now: bool,
    /// Access time (`-U`), ACL (`-A`), extended attributes (`-X`).
    pub atime: bool,
    pub acl: bool,
    pub xattr: bool,
}

impl Change {
    /// rsync logs an item with `-v` / `%n` when something about it changed.
    pub fn significant(&self) -> bool {
        self.new
            || self.transfer
            || self.local
            || self.checksum
            || self.size
            || self.time
            || self.perms
            || self.owner
            || self.group
            || self.hlink
            || self.atime
            || self.acl
            || self.xattr
    }
}

/// Build the 11-character string. `y` is '>' (received) or '<' (sent to the remote);
/// `x` is the type letter (f d L D S).
pub fn itemize(y: char, x: char, c: &Change) -> String {
    let first = if c.hlink || c.linked {
        'h'
    } else if c.transfer {
        y
    } else if c.local || c.matched || (c.new && x != 'f') {
        'c'
    } else {
        '.'
    };
    let mut s = String::with_capacity(11);
    s.push(first);
    s.push(x);
    if c.new {
        // A new name, whether written or hard-linked (`hf+++++++++ b => a`).
        s.push_str("+++++++++");
        return s;
    }
    let flags = [
        (c.checksum, 'c'),
        (c.size, 's'),
        (c.time || c.time_now, if c.time_now { 'T' } else { 't' }),
        (c.perms, 'p'),
        (c.owner, 'o'),
        (c.group, 'g'),
        (c.atime, 'u'),
        (c.acl, 'a'),
        (c.xattr, 'x'),
    ];
    // log.c: an item that is not a transfer and shows no attribute change has its dots blanked.
    let blank = !flags.iter().any(|(b, _)| *b) && matches!(first, '.' | 'h' | 'c');
    for (b, ch) in flags {
        s.push(if b {
            ch
        } else if blank {
            ' '
        } else {
            '.'
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn observed_lines() {
        let new = Change {
            new: true,
            ..Default::default()
        };
        assert_eq!(
            itemize(
                '>',
                'f',
                &Change {
                    transfer: true,
                    ..new
                }
            ),
            ">f+++++++++"
        );
        assert_eq!(itemize('>', 'd', &new), "cd+++++++++");
        assert_eq!(itemize('>', 'L', &new), "cL+++++++++");
        assert_eq!(
            itemize(
                '<',
                'f',
                &Change {
                    transfer: true,
                    ..new
                }
            ),
            "<f+++++++++"
        );
        assert_eq!(
            itemize(
                '>',
                'f',
                &Change {
                    perms: true,
                    ..Default::default()
                }
            ),
            ".f...p....."
        );
        assert_eq!(
            itemize(
                '>',
                'f',
                &Change {
                    transfer: true,
                    size: true,
                    ..Default::default()
                }
            ),
            ">f.s......."
        );
        assert_eq!(
            itemize(
                '>',
                'f',
                &Change {
                    transfer: true,
                    time: true,
                    ..Default::default()
                }
            ),
            ">f..t......"
        );
        assert_eq!(
            itemize(
                '>',
                'd',
                &Change {
                    time: true,
                    ..Default::default()
                }
            ),
            ".d..t......"
        );
        assert_eq!(itemize('>', 'f', &Change::default()), ".f         ");
    }
}
