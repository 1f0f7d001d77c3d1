//! `--chown`, `--usermap`, `--groupmap` on the command line (rsync options.c): which maps are
//! set, and rsync's messages when one is given twice or by both a map option and `--chown`. The
//! maps themselves are applied by the receiver (meta::idmap).

use super::options::Options;
use crate::error::{Error, Result};

impl Options {
    /// options.c: `--chown=USER:GROUP` sets the user map `*:USER` and the group map `*:GROUP`
    /// (an empty half sets nothing); each map may be given once, and a map conflicts with the
    /// --chown half that set it.
    pub(super) fn id_maps(&mut self, name: &'static str, v: String) -> Result<()> {
        let set = |this: &mut Self, which: &'static str, rule: String| -> Result<()> {
            let slot = if which == "usermap" {
                &mut this.usermap
            } else {
                &mut this.groupmap
            };
            if slot.is_some() {
                let prior = this
                    .map_typed
                    .iter()
                    .find(|t| t.0 == which)
                    .map_or(which, |t| t.1);
                return Err(Error::syntax(if name == "chown" && prior == "chown" {
                    let half = if which == "usermap" { "user" } else { "group" };
                    format!("You can only specify a {half}-affecting --chown once.")
                } else if prior == name {
                    format!("You can only specify --{name} once.")
                } else {
                    format!("--{name} conflicts with prior --{prior}.")
                }));
            }
            *slot = Some(rule);
            this.map_typed.push((which, name));
            // options.c: a user map turns -o on, a group map -g, where it is given: a later
            // --no-o / --no-g turns it off again (and the map with it).
            if which == "usermap" {
                this.owner = true;
            } else {
                this.group = true;
            }
            Ok(())
        };
        if name == "chown" {
            let (u, g) = match v.split_once(':') {
                Some((u, g)) => (u, g),
                None => (v.as_str(), ""),
            };
            if !u.is_empty() {
                set(self, "usermap", format!("*:{u}"))?;
            }
            if !g.is_empty() {
                set(self, "groupmap", format!("*:{g}"))?;
            }
            return Ok(());
        }
        set(self, name, v)
    }
}
