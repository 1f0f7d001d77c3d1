//! Output levels: rsync's `--info` flags (which `-v` sets in groups) and `--debug` flags, kept
//! apart from the option parser that fills them (`options.rs`).

/// `--info` levels that shape output (rsync's info flags; -v sets groups of them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Info {
    pub name: u8,
    pub stats: u8,
    pub progress: u8,
    pub del: u8,
    pub flist: u8,
    pub misc: u8,
    pub nonreg: u8,
    pub skip: u8,
    pub copy: u8,
    pub symsafe: u8,
    pub backup: u8,
    pub remove: u8,
    pub mount: u8,
}

/// `--debug` levels, one per name of `help::DEBUG_FLAGS` (in that order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DebugLevels([u8; 24]);

impl DebugLevels {
    /// The level of flag `name` (upper-case, as in `--debug=help`).
    pub fn get(&self, name: &str) -> u8 {
        super::help::DEBUG_FLAGS
            .iter()
            .position(|(n, _)| *n == name)
            .map_or(0, |i| self.0[i])
    }

    pub(super) fn set(&mut self, i: usize, level: u8) {
        self.0[i] = level;
    }

    /// Back to `--debug=` text (for the remote side).
    pub fn to_spec(&self) -> Option<String> {
        let words: Vec<String> = super::help::DEBUG_FLAGS
            .iter()
            .zip(self.0)
            .filter(|(_, l)| *l > 0)
            .map(|((n, _), l)| format!("{}{l}", n.to_ascii_lowercase()))
            .collect();
        (!words.is_empty()).then(|| words.join(","))
    }
}
