//! `Options`: the validated meaning of the command line. Flags are applied strictly in argv order
//! (so `-a --no-o` and `--no-o -a` differ, as with popt), then [`Options::finish`] resolves
//! implications and conflicts with rsync's messages (rsync-cli.md §1.3.14).

use super::defs::{Def, Support};
pub use super::levels::{DebugLevels, Info};
use super::lex::{lex, Item};
pub use super::values::parse_size;
use super::values::{parse_num, parse_stop_after, parse_stop_at};
use crate::engine::{EngineId, EngineParams};
use crate::error::{Error, Result, RERR_UNSUPPORTED};

/// When deletions happen (rsync's --delete-WHEN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeleteWhen {
    #[default]
    During,
    Before,
    Delay,
    After,
}

/// Everything the run needs, resolved.
/// Which alternate-destination option is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AltDest {
    Compare,
    Copy,
    Link,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub verbose: u8,
    pub quiet: bool,
    pub info: Info,
    pub debug: DebugLevels,
    pub checksum: bool,
    pub recursive: bool,
    pub dirs: bool,
    pub relative: bool,
    pub implied_dirs: bool,
    pub update: bool,
    pub inplace: bool,
    pub mkpath: bool,
    pub links: bool,
    pub copy_links: bool,
    pub copy_unsafe_links: bool,
    pub safe_links: bool,
    pub copy_dirlinks: bool,
    pub keep_dirlinks: bool,
    pub hard_links: bool,
    pub perms: bool,
    pub executability: bool,
    pub chmod: Vec<String>,
    /// `--chmod` parsed (validated at parse time: a bad rule is a usage error).
    pub chmod_rules: Vec<crate::meta::chmod::Rule>,
    pub owner: bool,
    pub group: bool,
    pub devices: bool,
    pub specials: bool,
    pub times: bool,
    pub omit_dir_times: bool,
    pub omit_link_times: bool,
    pub sparse: bool,
    /// `--delay-updates`: finished files wait in the partial dir until the end of the run.
    pub delay_updates: bool,
    /// `--append` (1) / `--append-verify` (2); implies `--inplace`.
    pub append: u8,
    /// `--chown`, `--usermap`, `--groupmap` rules (meta::idmap).
    pub usermap: Option<String>,
    pub groupmap: Option<String>,
    /// `-U`/`--atimes`.
    pub atimes: bool,
    /// `-X` (1) / `-XX` (2: also the receiver's own namespaces, as rsync counts).
    pub xattrs: u8,
    /// `-A`/`--acls`.
    pub acls: bool,
    /// `-y`/`--fuzzy` (1; 2 = also the alternate destination dirs).
    pub fuzzy: u8,
    pub copy_devices: bool,
    pub write_devices: bool,
    pub dry_run: bool,
    pub whole_file: Option<bool>,
    pub checksum_choice: Option<String>,
    pub one_file_system: u8,
    pub block_size: Option<u32>,
    pub rsh: Option<String>,
    pub rsync_path: Option<String>,
    pub existing: bool,
    pub ignore_existing: bool,
    pub remove_source_files: bool,
    pub delete: bool,
    pub delete_when: DeleteWhen,
    pub delete_excluded: bool,
    pub ignore_missing_args: bool,
    /// `--delete-missing-args` (implies `--ignore-missing-args` on the sending side).
    pub delete_missing_args: bool,
    /// `--files-from=FILE` (`-` = stdin; `host:FILE` / `:FILE` = on the remote host).
    pub files_from: Option<String>,
    pub ignore_errors: bool,
    pub force: bool,
    pub max_delete: Option<i64>,
    pub max_size: Option<u64>,
    pub min_size: Option<u64>,
    pub partial: bool,
    pub partial_dir: Option<String>,
    pub prune_empty_dirs: bool,
    /// `--no-inc-recursive` (`--no-i-r`).
    pub no_inc_recursive: bool,
    pub numeric_ids: bool,
    pub timeout: u64,
    pub ignore_times: bool,
    pub size_only: bool,
    pub modify_window: i64,
    pub temp_dir: Option<String>,
    pub compress: bool,
    pub compress_choice: Option<String>,
    pub compress_level: Option<i32>,
    /// Filter rules in the order given (`-f` syntax; `--exclude X` becomes `- X`, etc.).
    pub filters: Vec<String>,
    pub cvs_exclude: bool,
    pub from0: bool,
    pub old_args: bool,
    pub secluded_args: bool,
    pub stats: bool,
    pub eight_bit: bool,
    pub human: u8,
    pub itemize: u8,
    pub remote_options: Vec<String>,
    pub out_format: Option<String>,
    pub log_file: Option<String>,
    pub log_file_format: Option<String>,
    pub list_only: bool,
    pub bwlimit: u64,
    pub fsync: bool,
    pub backup: bool,
    /// `--compare-dest` / `--copy-dest` / `--link-dest` (one kind, up to 20 dirs).
    pub alt_dest: Option<AltDest>,
    pub alt_dirs: Vec<String>,
    pub backup_dir: Option<String>,
    pub suffix: Option<String>,
    pub ipv: Option<u8>,
    pub drop_d: bool,
    /// `--super` / `--no-super`: act as super-user (owners, devices, any group) or not,
    /// whatever the effective uid; `None` = as the uid says.
    pub super_user: Option<bool>,
    /// `--munge-links`: this side munges symlinks it receives and unmunges those it sends
    /// (never passed to the other side; `-M--munge-links` does that).
    pub munge_links: bool,
    /// `--insecure-links`: operator paths follow any symlink (plan::trusted); local only.
    pub insecure_links: bool,
    /// `--copy-as=USER[:GROUP]`: this side (both, locally) runs as USER once the remote shell
    /// is started (meta::identity).
    pub copy_as: Option<String>,
    /// `--fake-super`: this side (both, locally) keeps privileged attributes in the
    /// `user.rsync.%stat` xattr (meta::fake).
    pub fake_super: bool,
    /// `--stop-after` / `--stop-at`: when this side stops (Unix seconds; rsync's stop_at_utime).
    pub stop_at: Option<i64>,
    pub engine: Option<EngineId>,
    pub engine_params: EngineParams,
    pub dedupe: bool,
    pub inplace_policy: String,
    pub inplace_buffer: u64,
    pub pipeline: String,
    /// `--streams`: 0 = auto.
    pub streams: usize,
    pub remote_install: bool,
    pub fallback: Option<String>,
    pub server: bool,
    pub sender: bool,
    pub local_server: bool,
    pub show_help: bool,
    /// `--info=help` / `--debug=help`: print that flag list and exit.
    pub show_flag_help: Option<&'static str>,
    pub show_version: u8,
    pub operands: Vec<String>,
    /// Local transfers: the source operands, given to the receiving half so that `%f` can show
    /// names as rsync's sender does (not a command-line option).
    pub local_sources: Vec<String>,
    /// `--delete-WHEN` variables set (rsync options.c: before 1, during or delay 2, after 4), for
    /// the conflict check.
    delete_whens: u8,
    /// rsync's `recurse` as options.c sets it in order: 2 = -r, 1 = implied by -a (only when
    /// nothing set it before, so `--no-r -a` recurses and `-a --no-r` does not), 0 = off.
    recurse: u8,
    explicit_relative: Option<bool>,
    explicit_dirs: Option<bool>,
    /// `--old-dirs`: -r limited to the top level (see `finish`).
    old_dirs: bool,
    f_count: u8,
    human_set: bool,
    /// Which of --chown's halves / the map options were typed (for rsync's conflict messages).
    pub(super) map_typed: Vec<(&'static str, &'static str)>,
    /// Options that were typed but are not supported: (display name, daemon?).
    unsupported: Vec<(String, bool)>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Options {
    /// Whether this side acts as super-user: `--super` / `--no-super`, else the effective uid
    /// (rsync's am_root).
    pub fn am_root(&self) -> bool {
        // --fake-super is rsync's am_root = -1: owners and devices are kept (in xattrs).
        self.fake_super || self.super_user.unwrap_or_else(crate::meta::is_root)
    }

    /// Parse argv (without argv[0]).
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut o = Options {
            implied_dirs: true,
            dedupe: true,
            human: 1,
            inplace_policy: "trim".into(),
            inplace_buffer: 8 << 20,
            pipeline: "stream".into(),
            streams: 1,
            remote_install: false,
            fallback: None,
            ..Default::default()
        };
        for item in lex(args)? {
            match item {
                Item::Operand(s) => o.operands.push(s),
                Item::Opt {
                    def,
                    negated,
                    value,
                } => o.apply(def, negated, value)?,
            }
        }
        o.finish()?;
        Ok(o)
    }

    fn apply(&mut self, def: &'static Def, neg: bool, value: Option<String>) -> Result<()> {
        let on = !neg;
        let v = value.unwrap_or_default();
        if matches!(def.support, Support::No | Support::Daemon) && on {
            self.unsupported
                .push((def.long.to_string(), def.support == Support::Daemon));
            return Ok(());
        }
        match def.long {
            "verbose" => self.verbose = if on { self.verbose.saturating_add(1) } else { 0 },
            "info" => self.info_flags(&v)?,
            "debug" => self.debug_flags(&v)?,
            "stderr" => {}
            "quiet" => self.quiet = on,
            "checksum" => self.checksum = on,
            "archive" => {
                if on && self.recurse == 0 {
                    self.recurse = 1;
                }
                if on {
                    self.links = true;
                    self.perms = true;
                    self.times = true;
                    self.group = true;
                    self.owner = true;
                    self.devices = true;
                    self.specials = true;
                }
            }
            "recursive" => self.recurse = if on { 2 } else { 0 },
            "relative" => self.explicit_relative = Some(on),
            "implied-dirs" => self.implied_dirs = on,
            "backup" => self.backup = on,
            "backup-dir" => self.backup_dir = Some(v),
            "compare-dest" | "copy-dest" | "link-dest" => {
                let kind = match def.long {
                    "compare-dest" => AltDest::Compare,
                    "copy-dest" => AltDest::Copy,
                    _ => AltDest::Link,
                };
                if let Some(old) = self.alt_dest.filter(|k| *k != kind) {
                    let old = match old {
                        AltDest::Compare => "compare-dest",
                        AltDest::Copy => "copy-dest",
                        AltDest::Link => "link-dest",
                    };
                    return Err(Error::syntax(format!(
                        "ERROR: the --{} option conflicts with the --{old} option",
                        def.long
                    )));
                }
                if self.alt_dirs.len() >= 20 {
                    return Err(Error::syntax(format!(
                        "ERROR: at most 20 --{} args may be specified",
                        def.long
                    )));
                }
                self.alt_dest = Some(kind);
                self.alt_dirs.push(v);
            }
            "suffix" => self.suffix = Some(v),
            "update" => self.update = on,
            "inplace" => self.inplace = on,
            "dirs" => self.explicit_dirs = Some(on),
            "old-dirs" => self.old_dirs = on,
            "mkpath" => self.mkpath = on,
            "links" => self.links = on,
            "copy-links" => self.copy_links = on,
            "copy-unsafe-links" => self.copy_unsafe_links = on,
            "safe-links" => self.safe_links = on,
            "copy-dirlinks" => self.copy_dirlinks = on,
            "keep-dirlinks" => self.keep_dirlinks = on,
            "hard-links" => self.hard_links = on,
            "perms" => self.perms = on,
            "executability" => self.executability = on,
            "chmod" => self.chmod.push(v),
            "owner" => self.owner = on,
            "group" => self.group = on,
            "devices" => self.devices = on,
            "specials" => self.specials = on,
            "D" => {
                self.devices = on;
                self.specials = on;
            }
            "drop-D" => self.drop_d = on,
            // options.c: --super, --no-super and --fake-super set one variable (am_root), so
            // the last of them wins.
            "super" => {
                self.super_user = Some(on);
                self.fake_super = false;
            }
            "munge-links" => self.munge_links = on,
            "insecure-links" => self.insecure_links = on,
            "copy-as" => self.copy_as = Some(v),
            "fake-super" => {
                self.fake_super = on;
                self.super_user = None;
            }
            "times" => self.times = on,
            "omit-dir-times" => self.omit_dir_times = on,
            "omit-link-times" => self.omit_link_times = on,
            "sparse" => self.sparse = on,
            "delay-updates" => self.delay_updates = on,
            "append" => self.append = if on { self.append.max(1) } else { 0 },
            "append-verify" => self.append = if on { 2 } else { 0 },
            "usermap" | "groupmap" | "chown" => self.id_maps(def.long, v)?,
            "atimes" => self.atimes = on,
            "crtimes" => {
                // rsync built without crtime support on Linux refuses it at parse time.
                return Err(Error::syntax("This rsync does not support --crtimes (-N)"));
            }
            "xattrs" => self.xattrs = if on { self.xattrs.saturating_add(1) } else { 0 },
            "acls" => {
                // rsync options.c: -A sets preserve_perms where it stands, so a later
                // --no-perms still turns permissions off (the ACL's named entries are then
                // applied with the mode rsync gives without -p).
                self.acls = on;
                self.perms |= on;
            }
            "fuzzy" => self.fuzzy = if on { self.fuzzy.saturating_add(1) } else { 0 },
            "copy-devices" => self.copy_devices = on,
            "write-devices" => self.write_devices = on,
            "dry-run" => self.dry_run = on,
            "whole-file" => self.whole_file = Some(on),
            "checksum-choice" => self.checksum_choice = Some(v),
            "one-file-system" => {
                self.one_file_system = if on { self.one_file_system.saturating_add(1) } else { 0 }
            }
            "block-size" => self.block_size = Some(parse_size("block-size", &v, 1)? as u32),
            "rsh" => self.rsh = on.then_some(v),
            "rsync-path" => self.rsync_path = Some(v),
            "existing" => self.existing = on,
            "ignore-existing" => self.ignore_existing = on,
            "remove-source-files" => self.remove_source_files = on,
            "delete" => self.delete = on,
            "del" | "delete-during" | "delete-before" | "delete-delay" | "delete-after" => {
                self.delete = on;
                if on {
                    // options.c counts delete_before + !!delete_during + delete_after: --del,
                    // --delete-during and --delete-delay set one variable (the last wins), and
                    // repeating an option is no conflict.
                    self.delete_whens |= match def.long {
                        "delete-before" => 1,
                        "delete-after" => 4,
                        _ => 2,
                    };
                    self.delete_when = match def.long {
                        "delete-before" => DeleteWhen::Before,
                        "delete-delay" => DeleteWhen::Delay,
                        "delete-after" => DeleteWhen::After,
                        _ => DeleteWhen::During,
                    };
                }
            }
            "delete-excluded" => {
                self.delete_excluded = on;
                self.delete |= on;
            }
            "ignore-missing-args" => self.ignore_missing_args = on,
            "delete-missing-args" => self.delete_missing_args = on,
            "files-from" => self.files_from = Some(v),
            "ignore-errors" => self.ignore_errors = on,
            "force" => self.force = on,
            "max-delete" => self.max_delete = Some(parse_num("max-delete", &v)?),
            "max-size" => self.max_size = Some(parse_size("max-size", &v, 1)?),
            "min-size" => self.min_size = Some(parse_size("min-size", &v, 1)?),
            "max-alloc" => {
                parse_size("max-alloc", &v, 1)?;
            }
            "partial" => self.partial = on,
            "partial-dir" => {
                self.partial_dir = Some(v);
                self.partial = true;
            }
            "prune-empty-dirs" => self.prune_empty_dirs = on,
            "inc-recursive" => self.no_inc_recursive = !on,
            "numeric-ids" => self.numeric_ids = on,
            "timeout" => self.timeout = if on { parse_num("timeout", &v)? } else { 0 },
            "ignore-times" => self.ignore_times = on,
            "size-only" => self.size_only = on,
            "modify-window" => self.modify_window = parse_num("modify-window", &v)?,
            "temp-dir" => self.temp_dir = Some(v),
            "compress" => self.compress = on,
            "compress-choice" => {
                match v.as_str() {
                    "zstd" | "lz4" | "none" => {}
                    "zlib" | "zlibx" => {}
                    _ => {
                        return Err(Error::syntax(format!("Invalid compress choice: {v}")));
                    }
                }
                self.compress_choice = Some(v);
            }
            "compress-level" => self.compress_level = Some(parse_num("compress-level", &v)?),
            "cvs-exclude" => self.cvs_exclude = on,
            "filter" => self.filters.push(v),
            "F" => {
                self.f_count += 1;
                self.filters.push(if self.f_count == 1 {
                    "dir-merge /.rsync-filter".into()
                } else {
                    "- .rsync-filter".into()
                });
            }
            // Internal rule forms read by `filter::FilterList`: old-style rules, where a value
            // starting with "- " or "+ " (or a lone "!") keeps rsync's prefix meaning.
            "exclude" => self.filters.push(format!("\x02- {v}")),
            "include" => self.filters.push(format!("\x02+ {v}")),
            // Internal rule form read by `filter::FilterList` (old-style prefixes allowed).
            "exclude-from" => self.filters.push(format!("\x01- {v}")),
            "include-from" => self.filters.push(format!("\x01+ {v}")),
            "from0" => self.from0 = on,
            "old-args" => self.old_args = on,
            "secluded-args" => self.secluded_args = on,
            "stats" => self.stats = on,
            "8-bit-output" => self.eight_bit = on,
            "human-readable" => {
                self.human = if on {
                    if self.human_set {
                        (self.human + 1).min(3)
                    } else {
                        2
                    }
                } else {
                    0
                };
                self.human_set = on;
            }
            "progress" => self.info.progress = if on { 1 } else { 0 },
            "P" => {
                self.partial = on;
                self.info.progress = if on { 1 } else { 0 };
            }
            "itemize-changes" => self.itemize = if on { self.itemize.saturating_add(1) } else { 0 },
            "remote-option" => {
                if !v.starts_with('-') {
                    return Err(Error::syntax(format!(
                        "Remote option must start with a dash: {v}"
                    )));
                }
                self.remote_options.push(v)
            }
            "out-format" => self.out_format = Some(v),
            "log-file" => self.log_file = Some(v),
            "log-file-format" => self.log_file_format = Some(v),
            "list-only" => self.list_only = on,
            "bwlimit" => self.bwlimit = if on { parse_size("bwlimit", &v, 1024)? } else { 0 },
            "stop-after" => self.stop_at = Some(parse_stop_after(&v, unix_now())?),
            "stop-at" => self.stop_at = Some(parse_stop_at(&v, unix_now())?),
            "fsync" => self.fsync = on,
            "ipv4" => self.ipv = Some(4),
            "ipv6" => self.ipv = Some(6),
            "version" => self.show_version += 1,
            "help" => self.show_help = true,
            "engine" => {
                self.engine = Some(EngineId::parse(&v).ok_or_else(|| {
                    Error::syntax(format!(
                        "unknown --engine {v}: choose parasync, rsync, dsync, skysync-f, skysync-c or pdsync"
                    ))
                })?)
            }
            "threads" => self.engine_params.threads = parse_num("threads", &v)?,
            "hw" => self.engine_params.hw = Some(on),
            "dedupe" => self.dedupe = on,
            "inplace-policy" => {
                if !matches!(v.as_str(), "trim" | "localmin" | "delete") {
                    return Err(Error::syntax(format!("unknown --inplace-policy {v}")));
                }
                self.inplace_policy = v;
            }
            "inplace-buffer" => self.inplace_buffer = parse_size("inplace-buffer", &v, 1)?,
            "pipeline" => {
                self.engine_params.pipeline = crate::engine::parasync::Pipeline::parse(&v)
                    .ok_or_else(|| Error::syntax(format!("unknown --pipeline {v}")))?;
                self.pipeline = v;
            }
            "streams" => {
                self.streams = if v == "auto" {
                    0
                } else if v == "helper" && self.server {
                    crate::streams::HELPER
                } else {
                    parse_num("streams", &v)?
                }
            }
            "remote-install" => self.remote_install = on,
            "fallback" => {
                if !matches!(v.as_str(), "rsync" | "none") {
                    return Err(Error::syntax(format!(
                        "unknown --fallback {v}: choose rsync or none"
                    )));
                }
                self.fallback = (v == "rsync").then_some(v);
            }
            "server" => self.server = on,
            "sender" => self.sender = on,
            "local-server" => self.local_server = on,
            "source-operand" => self.local_sources.push(v),
            _ => {} // Support::Ignored options.
        }
        Ok(())
    }

    /// `--debug=FLAGS`: names are checked (rsync rejects unknown ones) and levels recorded; the
    /// flags parasync prints for are marked in `help::DEBUG_FLAGS`, the others are accepted.
    fn debug_flags(&mut self, spec: &str) -> Result<()> {
        for word in spec.split(',').filter(|w| !w.is_empty()) {
            let lw = word.to_ascii_lowercase();
            let split = lw.find(|c: char| c.is_ascii_digit()).unwrap_or(lw.len());
            let (name, num) = lw.split_at(split);
            let level: u8 = if num.is_empty() {
                1
            } else {
                parse_num("debug", num)?
            };
            let flags = super::help::DEBUG_FLAGS;
            match name {
                "help" => self.show_flag_help = Some("debug"),
                "all" => (0..flags.len()).for_each(|i| self.debug.set(i, level)),
                "none" => self.debug = DebugLevels::default(),
                _ => match flags.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)) {
                    Some(i) => self.debug.set(i, level),
                    None => return Err(Error::syntax(format!("Unknown --debug item: \"{word}\""))),
                },
            }
        }
        Ok(())
    }

    fn info_flags(&mut self, spec: &str) -> Result<()> {
        for word in spec.split(',').filter(|w| !w.is_empty()) {
            let lw = word.to_ascii_lowercase();
            let split = lw.find(|c: char| c.is_ascii_digit()).unwrap_or(lw.len());
            let (name, num) = lw.split_at(split);
            let level: u8 = if num.is_empty() {
                1
            } else {
                parse_num("info", num)?
            };
            let i = &mut self.info;
            match name {
                "name" => i.name = level,
                "stats" => i.stats = level,
                "progress" => i.progress = level,
                "del" => i.del = level,
                "flist" => i.flist = level,
                "misc" => i.misc = level,
                "nonreg" => i.nonreg = level,
                "skip" => i.skip = level,
                "copy" => i.copy = level,
                "symsafe" => i.symsafe = level,
                "backup" => i.backup = level,
                "remove" => i.remove = level,
                "mount" => i.mount = level,
                "none" => *i = Info::default(),
                "all" => {
                    *i = Info {
                        name: level,
                        stats: level,
                        progress: level,
                        del: level,
                        flist: level,
                        misc: level,
                        nonreg: level,
                        skip: level,
                        copy: level,
                        symsafe: level,
                        backup: level,
                        remove: level,
                        mount: level,
                    }
                }
                "help" => self.show_flag_help = Some("info"),
                _ => return Err(Error::syntax(format!("Unknown --info item: \"{word}\""))),
            }
        }
        Ok(())
    }

    /// rsync's option conflicts that involve options parasync does not implement: a command line
    /// rsync itself rejects gets rsync's message and exit 1 rather than "not supported" (exit 4).
    fn unsupported_conflicts(&self) -> Result<()> {
        let typed = |n: &str| self.unsupported.iter().any(|(u, _)| u == n);
        if typed("confine-root") && self.insecure_links {
            return Err(Error::syntax(
                "--insecure-links cannot be combined with --confine-root",
            ));
        }
        if typed("write-batch") && typed("read-batch") {
            return Err(Error::syntax(
                "--write-batch and --read-batch can not be used together",
            ));
        }
        let basis: Vec<&str> = self
            .unsupported
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| matches!(*n, "compare-dest" | "copy-dest" | "link-dest"))
            .collect();
        if let Some(other) = basis.iter().find(|n| **n != basis[0]) {
            return Err(Error::syntax(format!(
                "ERROR: the --{other} option conflicts with the --{} option",
                basis[0]
            )));
        }
        if basis.len() > 20 {
            return Err(Error::syntax(format!(
                "ERROR: at most 20 --{} args may be specified",
                basis[0]
            )));
        }
        // Daemon-only options: rsync refuses these two without a daemon connection (the
        // others, --port, --address, --sockopts, --early-input, it accepts and ignores).
        if typed("contimeout") {
            return Err(Error::syntax(
                "The --contimeout option may only be used when connecting to an rsync daemon.",
            ));
        }
        if typed("password-file") {
            return Err(Error::syntax(
                "The --password-file option may only be used when accessing an rsync daemon.",
            ));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.unsupported_conflicts()?;
        if let Some((name, daemon)) = self.unsupported.first() {
            let msg = if *daemon {
                format!("--{name}: rsync daemon mode is not supported by parasync (use host:path over a remote shell)")
            } else {
                format!("--{name}: this option is not supported by parasync yet")
            };
            return Err(Error::new(RERR_UNSUPPORTED, msg));
        }
        // --files-from changes defaults wherever it appears (rsync(1)): -R and -d are implied
        // and -a stops implying -r; explicit --no-R / --no-d / -r still win.
        let ff = self.files_from.is_some();
        self.recursive = match self.recurse {
            2 => true,
            1 => !ff,
            _ => false,
        };
        self.relative = self.explicit_relative.unwrap_or(ff);
        self.dirs = self.explicit_dirs.unwrap_or(ff);
        // options.c: --old-dirs is -r with the rule "- /*/*" (directories listed, their
        // contents not), the form old rsyncs knew as --dirs. The client turns it into both.
        if self.old_dirs && !self.server {
            self.recursive = true;
            self.dirs = true;
            self.filters.push("- /*/*".into());
        }
        if self.delete
            && !self.recursive
            && !self.dirs
            && !self.server
            && !self.show_help
            && self.show_version == 0
        {
            return Err(Error::syntax(
                "--delete does not work without --recursive (-r) or --dirs (-d).",
            ));
        }
        if self.delete_whens.count_ones() > 1 {
            return Err(Error::syntax(
                "You may not combine multiple --delete-WHEN options.",
            ));
        }
        // options.c: --append implies --inplace; --delay-updates implies --partial-dir=.~tmp~.
        if self.append > 0 {
            if self.whole_file == Some(true) {
                return Err(Error::syntax("--append cannot be used with --whole-file"));
            }
            self.inplace = true;
        }
        // rsync(1): --write-devices implies --inplace.
        if self.write_devices {
            self.inplace = true;
        }
        if self.delay_updates && self.partial_dir.is_none() {
            self.partial_dir = Some(".~tmp~".into());
        }
        if self.partial_dir.is_some() && self.inplace {
            return Err(Error::syntax(format!(
                "--{} cannot be used with --{}",
                if self.append > 0 { "append" } else { "inplace" },
                if self.delay_updates {
                    "delay-updates"
                } else {
                    "partial-dir"
                }
            )));
        }
        self.chmod_rules = crate::meta::chmod::parse(&self.chmod)?;
        if self.backup_dir.is_some() {
            // rsync: --backup-dir implies --backup.
            self.backup = true;
        }
        if let Some(s) = &self.suffix {
            if s.contains('/') {
                return Err(Error::syntax(format!(
                    "--suffix cannot contain slashes: {s}"
                )));
            }
        }
        if self.secluded_args && self.old_args {
            return Err(Error::syntax("--secluded-args conflicts with --old-args."));
        }
        if self.modify_window < 0 {
            self.modify_window = -1;
        }
        // -v levels (options.c: the info/debug groups implied by -v).
        let v = self.verbose;
        let i = &mut self.info;
        if !self.quiet {
            i.nonreg = i.nonreg.max(1);
            if v >= 1 {
                for f in [
                    &mut i.copy,
                    &mut i.del,
                    &mut i.flist,
                    &mut i.misc,
                    &mut i.name,
                    &mut i.stats,
                    &mut i.symsafe,
                ] {
                    *f = (*f).max(1);
                }
            }
            if v >= 2 {
                for f in [
                    &mut i.backup,
                    &mut i.misc,
                    &mut i.mount,
                    &mut i.name,
                    &mut i.remove,
                    &mut i.skip,
                ] {
                    *f = (*f).max(2);
                }
            }
            if self.stats {
                i.stats = i.stats.max(2);
            }
            if i.progress > 0 && i.progress < 2 {
                i.name = i.name.max(1);
                i.flist = i.flist.max(2);
            }
        } else {
            *i = Info::default();
        }
        if self.itemize > 0 && self.out_format.is_none() {
            self.out_format = Some("%i %n%L".into());
        }
        self.engine_params.block_size = self.block_size;
        self.engine_params.checksum_choice = self.checksum_choice.clone();
        Ok(())
    }

    /// Does the per-item stdout format itemize (`-i`, or `%i` in `--out-format`)? rsync's
    /// `stdout_format_has_i`: it also turns on messages such as "created directory".
    pub fn stdout_format_has_i(&self) -> bool {
        self.out_format.as_deref().is_some_and(|f| f.contains("%i"))
    }

    /// Are directory times left alone? `-O`, or implied by `--backup` without `--backup-dir`:
    /// backups made inside a directory would change its time after it was set (rsync's
    /// options.c implies `-O` then, without passing it to the other side).
    pub fn omits_dir_times(&self) -> bool {
        self.omit_dir_times || (self.backup && self.backup_dir.is_none())
    }

    /// Whether rsync would recurse incrementally (compat.c set_allow_inc_recurse): not without
    /// -r or with --no-inc-recursive, and not when the receiver needs the whole list first
    /// (--delete-before, --delete-after, --delay-updates, --prune-empty-dirs). It shows in the
    /// "sending incremental file list" header and in when the top directory's line goes out.
    pub fn inc_recurse(&self) -> bool {
        let whole_list =
            self.delete && matches!(self.delete_when, DeleteWhen::Before | DeleteWhen::After);
        self.recursive
            && !self.no_inc_recursive
            && !whole_list
            && !self.delay_updates
            && !self.prune_empty_dirs
    }

    /// Does the sender report its match totals ("total: matches=…", rsync's match_report(),
    /// shown from `-vv` or `--debug=DELTASUM`)?
    pub fn match_report(&self) -> bool {
        (self.verbose > 1 || self.debug.get("DELTASUM") > 0) && !self.quiet
    }

    /// Is the output of unchanged items requested (`-ii`)?
    pub fn itemize_unchanged(&self) -> bool {
        self.itemize > 1 || self.verbose > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn p(args: &[&str]) -> Result<Options> {
        Options::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }
    #[test]
    fn archive_order() {
        let o = p(&["-a", "--no-o", "x", "y"]).unwrap();
        assert!(o.recursive && o.links && o.perms && !o.owner && o.group);
        let o = p(&["--no-o", "-a", "x"]).unwrap();
        assert!(o.owner);
        // rsync's recurse variable: a later -a sets it again, a later --no-r clears it.
        assert!(p(&["--no-r", "-a", "x"]).unwrap().recursive);
        assert!(!p(&["-a", "--no-r", "x"]).unwrap().recursive);
        let o = p(&["-a", "--no-D", "x"]).unwrap();
        assert!(!o.devices && !o.specials);
    }
    #[test]
    fn conflicts() {
        assert_eq!(
            p(&["--delete-before", "--delete-after", "-r", "a", "b"])
                .unwrap_err()
                .code,
            1
        );
        assert_eq!(p(&["--write-batch=x", "a", "b"]).unwrap_err().code, 4);
        // Daemon-only: --daemon is refused (4), --contimeout is a usage error (1), --port is
        // accepted and ignored, as rsync does without a daemon connection.
        assert_eq!(p(&["--daemon", "a", "b"]).unwrap_err().code, 4);
        assert_eq!(p(&["--contimeout=2", "a", "b"]).unwrap_err().code, 1);
        assert!(p(&["--port=2", "a", "b"]).is_ok());
        assert_eq!(p(&["--suffix=a/b", "a", "b"]).unwrap_err().code, 1);
    }
    #[test]
    fn human_levels() {
        assert_eq!(p(&["x"]).unwrap().human, 1);
        assert_eq!(p(&["-h", "x"]).unwrap().human, 2);
        assert_eq!(p(&["-hh", "x"]).unwrap().human, 3);
        assert_eq!(p(&["--no-h", "x"]).unwrap().human, 0);
    }
}
