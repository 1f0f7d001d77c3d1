//! The client: parse → plan → connect (local pipe pair or remote shell) → handshake → run the
//! local role → print the summary → exit code. Mirrors rsync's main.c start_client.

use crate::cli::{help, Options};
use crate::error::{code_text, Error, Problems, Result};
use crate::plan::operand::plan;
use crate::plan::remote::{escape_arg, server_options, split_rsh};
use crate::report;
use crate::session::filters::Filters;
use crate::session::receiver::Receiver;
use crate::session::sender::Sender;
use crate::session::{spawn_reader, Conn};
use crate::transport::{self, ssh, Stream};
use crate::wire::msg::{Compress, Msg, Stats};
use crate::wire::{handshake, Caps, FrameReader, FrameWriter};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Print rsync's final error line.
pub fn print_exit(code: i32, role: &str) {
    let kind = if code == crate::error::RERR_VANISHED {
        "warning"
    } else {
        "error"
    };
    eprintln!(
        "rsync {kind}: {} (code {code}) at main.c(1) [{role}={}]",
        code_text(code),
        help::VERSION
    );
}

/// The role rsync names once its options are parsed and before it forks (main.c): the
/// pre-fork `Receiver` of a pull (its first operand is remote), the `sender` otherwise.
fn operand_role(first: Option<&str>) -> &'static str {
    let remote = first.is_some_and(|a| a.find(':').is_some_and(|c| !a[..c].contains('/')));
    if remote {
        "Receiver"
    } else {
        "sender"
    }
}

fn fail(e: &Error, role: &str) -> i32 {
    if !e.msg.is_empty() {
        eprintln!("{}", e.msg);
    }
    // A fatal error of rsync's pre-fork receiver (e.g. creating the destination) ends its run, and
    // rsync's last line names that role.
    print_exit(e.code, e.role.unwrap_or(role));
    e.code
}

/// Entry point for argv (without argv[0]).
pub fn run(args: Vec<String>) -> i32 {
    if args.is_empty() {
        eprint!("{}", help::help_text());
        print_exit(1, "client");
        return 1;
    }
    let mut opts = match Options::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            // A few of rsync's option messages carry no "rsync: " prefix (options.c).
            let bare = [
                "Unknown --info item",
                "Unknown --debug item",
                "The --password-file",
                "The --contimeout",
            ];
            if bare.iter().any(|b| e.msg.starts_with(b)) {
                eprintln!("{}", e.msg);
            } else {
                eprintln!("rsync: {}", e.msg);
            }
            // rsync refuses the daemon-only two once it knows its role: the sender, or the
            // receiver of a pull (its first operand is remote).
            let role = if e.msg.starts_with("The --password-file")
                || e.msg.starts_with("The --contimeout")
            {
                let first = args.iter().find(|a| !a.starts_with('-'));
                operand_role(first.map(String::as_str))
            } else {
                "client"
            };
            print_exit(e.code, role);
            return e.code;
        }
    };
    if opts.insecure_links {
        // Local only: never sent to the peer (rsync 3.5); `-M--insecure-links` for the other side.
        crate::plan::trusted::set_insecure(true);
    }
    if opts.server {
        // Only a --stop-at given with -M reaches a server (rsync does not pass it on).
        if let Some(at) = opts.stop_at {
            crate::deadline::stop_at(at, if opts.sender { "sender" } else { "receiver" }, false);
        }
        if let Err(e) = copy_as(&opts, if opts.sender { "sender" } else { "Receiver" }) {
            eprintln!("{}", e.msg);
            print_exit(e.code, e.role.unwrap_or("server"));
            return e.code;
        }
        return crate::server::run(opts);
    }
    if let Some(kind) = opts.show_flag_help {
        crate::report::out_or_die(&help::flag_help(kind));
        return 0;
    }
    if opts.show_help {
        crate::report::out_or_die(&help::help_text());
        return 0;
    }
    if opts.show_version > 0 {
        crate::report::out_or_die(&if opts.show_version > 1 {
            help::version_json()
        } else {
            help::version_text()
        });
        return 0;
    }
    if opts.operands.is_empty() {
        eprint!("{}", help::help_text());
        print_exit(1, "client");
        return 1;
    }
    let mut p = match plan(&opts.operands) {
        Ok(p) => p,
        Err(e) => return fail(&e, operand_role(opts.operands.first().map(String::as_str))),
    };
    // The list is read here, except a remote one on a pull: the remote sender reads that.
    let remote = p.remote.clone();
    let fetch = |path: &str| -> std::io::Result<Vec<u8>> {
        // A list on the receiving host of a push: read it over the remote shell.
        let Some((user, host)) = &remote else {
            return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
        };
        let mut argv = rsh_base(&opts, user, host).map_err(std::io::Error::other)?;
        argv.push("cat".into());
        argv.push(escape_arg(path, false));
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
        }
        Ok(out.stdout)
    };
    match crate::plan::sources::expand_files_from(&opts, &mut p, &fetch) {
        Ok(remote_list) => opts.files_from = remote_list,
        Err(e) => {
            let role = if e.code == 1 { "client" } else { "sender" };
            return fail(&e, role);
        }
    }
    if p.dest.is_none() {
        opts.list_only = true;
        // The walk is all the work: its probes may have the other cores.
        crate::flist::probe::set_parallel(true);
        if !opts.recursive {
            opts.dirs = true;
        }
    }
    let role = if p.local_sends { "sender" } else { "generator" };
    if let Some(at) = opts.stop_at {
        crate::deadline::stop_at(at, if p.local_sends { "sender" } else { "receiver" }, true);
    }
    let mut result = run_transfer(opts.clone(), p.clone());
    if let (Err(e), Some((user, host))) = (&result, &p.remote) {
        // 127: the remote shell found no such program; 2: something else answered.
        if e.code == 127 || e.code == 2 {
            if opts.remote_install {
                result = rsh_base(&opts, user, host)
                    .and_then(|b| crate::bootstrap::install(&b))
                    .and_then(|path| {
                        let mut o = opts.clone();
                        o.rsync_path = Some(path);
                        run_transfer(o, p.clone())
                    });
            } else if opts.fallback.is_some() {
                return crate::bootstrap::fallback_rsync(&args);
            } else {
                eprintln!(
                    "parasync: no usable parasync on {host}: install it there, or use --remote-install (copy this binary) or --fallback=rsync"
                );
            }
        }
    }
    let code = match result {
        Ok(code) => {
            if code != 0 {
                print_exit(code, role);
            }
            code
        }
        Err(e) => fail(&e, role),
    };
    // --debug=EXIT: rsync's _exit_cleanup lines (on stdout, as rsync's are).
    let exit = opts.debug.get("EXIT");
    if exit > 0 {
        let at = format!("[{role}] _exit_cleanup(code={code}, file=main.c, line=1)");
        if exit > 1 {
            crate::report::out(&format!("{at}: entered\n"));
        }
        crate::report::out(&format!("{at}: about to call exit({code})\n"));
    }
    code
}

fn compress_of(o: &Options, caps: &Caps) -> Compress {
    if !o.compress {
        return Compress::None;
    }
    match o.compress_choice.as_deref() {
        Some("none") => Compress::None,
        Some("lz4") if caps.features & crate::wire::handshake::FEAT_LZ4 != 0 => Compress::Lz4,
        _ if caps.features & crate::wire::handshake::FEAT_ZSTD != 0 => {
            Compress::Zstd(o.compress_level.unwrap_or(3))
        }
        _ => Compress::None,
    }
}

/// Build a connection end over a stream (handshake included).
pub fn connect(
    stream: Stream,
    o: &Options,
    is_client: bool,
    role: &'static str,
    inbound_cap: Option<usize>,
) -> Result<Conn> {
    let sent = Arc::new(AtomicU64::new(0));
    let recvd = Arc::new(AtomicU64::new(0));
    let mut w = FrameWriter::new(stream.w, sent.clone());
    let mut r = FrameReader::new(stream.r, recvd.clone());
    let guard = (o.timeout > 0).then(|| {
        crate::deadline::HandshakeWatchdog::arm(Duration::from_secs(o.timeout), role, is_client)
    });
    let caps = handshake(&mut w, &mut r, &Caps::ours());
    drop(guard);
    let caps = caps?;
    if o.bwlimit > 0 {
        w.set_bwlimit(o.bwlimit);
    }
    let (rx, urgent, queued) = spawn_reader(r, inbound_cap, !o.inplace);
    Ok(Conn {
        w,
        rx,
        urgent,
        flushed: Instant::now(),
        queued,
        comp: compress_of(o, &caps),
        is_client,
        sent,
        recvd,
        timeout: (o.timeout > 0).then(|| Duration::from_secs(o.timeout)),
        quiet: o.quiet,
        role,
        wake: crossbeam_channel::unbounded(),
        version: caps.version,
    })
}

/// `--copy-as` for this side; a failure is rsync's usage error, named after `role`.
fn copy_as(o: &Options, role: &'static str) -> Result<()> {
    match &o.copy_as {
        Some(spec) => crate::meta::identity::become_copy_as(spec).map_err(|mut e| {
            e.role = Some(role);
            e
        }),
        None => Ok(()),
    }
}

/// The remote shell command: `-e`, else `RSYNC_RSH`, else `ssh`.
fn rsh_of(o: &Options) -> String {
    o.rsh
        .clone()
        .or_else(|| std::env::var("RSYNC_RSH").ok())
        .unwrap_or_else(|| "ssh".into())
}

/// The remote shell command up to and including the host (`ssh -l user -4 host`).
fn rsh_base(o: &Options, user: &Option<String>, host: &str) -> Result<Vec<String>> {
    let rsh = rsh_of(o);
    let mut argv = split_rsh(&rsh)?;
    if argv.is_empty() {
        return Err(Error::syntax("Empty remote shell command"));
    }
    if let Some(u) = user {
        argv.push("-l".into());
        argv.push(u.clone());
    }
    let is_ssh = argv[0].rsplit('/').next() == Some("ssh");
    if is_ssh {
        if let Some(v) = o.ipv {
            argv.push(format!("-{v}"));
        }
    }
    argv.push(host.to_string());
    Ok(argv)
}

fn remote_argv(
    o: &Options,
    user: &Option<String>,
    host: &str,
    sender: bool,
    paths: &[String],
    literal: bool,
) -> Result<Vec<String>> {
    let mut argv = rsh_base(o, user, host)?;
    // --rsync-path is passed verbatim (it may be "sudo parasync"); a plain `rsync` there means
    // "the remote parasync", since parasync cannot speak rsync's protocol.
    let prog = match o.rsync_path.as_deref() {
        None => "parasync".to_string(),
        Some(p) if p == "rsync" || p.ends_with("/rsync") || p.ends_with(" rsync") => {
            format!("{}parasync", &p[..p.len() - 5])
        }
        Some(p) => p.to_string(),
    };
    argv.push(prog);
    argv.push("--server".into());
    if sender {
        argv.push("--sender".into());
    }
    for a in server_options(o, false) {
        argv.push(if o.old_args { a } else { escape_arg(&a, false) });
    }
    // options.c passes --super to a receiving server only; --no-super stays on this side.
    if !sender && o.super_user == Some(true) {
        argv.push("--super".into());
    }
    argv.push(".".into());
    for p in paths {
        argv.push(if o.old_args {
            p.clone()
        } else {
            escape_arg(p, !literal)
        });
    }
    Ok(argv)
}

/// `--debug=CMD` (and `-vv`, `-vvvv`): the remote shell command as rsync's main.c do_cmd
/// shows it, on stdout.
fn show_command(o: &Options, argv: &[String], user: &Option<String>, host: &str, paths: &[String]) {
    let implied = match o.verbose {
        v if v >= 4 => 2,
        v if v >= 2 => 1,
        _ => 0,
    };
    let level = o.debug.get("CMD").max(implied);
    if level == 0 || o.quiet {
        return;
    }
    let ns = |s: Option<&str>| s.unwrap_or("<NULL>").to_string();
    let text = if level >= 2 {
        let words: String = argv
            .iter()
            .enumerate()
            .map(|(i, a)| format!("cmd[{i}]={a} "))
            .collect();
        format!(
            "cmd={} machine={host} user={} path={}\n{words}\n",
            ns(o.rsh.as_deref()),
            ns(user.as_deref()),
            ns(paths.first().map(String::as_str)),
        )
    } else {
        let words: Vec<String> = argv
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("\"{a}\"")
                } else {
                    a.clone()
                }
            })
            .collect();
        format!(
            "opening connection using: {}  ({} args)\n",
            words.join(" "),
            argv.len()
        )
    };
    report::out(&text);
}

/// `--streams`: the master connection (kept until the transfer ends) and the helper totals.
struct Streams {
    _master: crate::streams::master::Master,
    totals: Arc<std::sync::Mutex<crate::streams::Totals>>,
}

/// Start the master when several streams are usable; sessions then ride on it (`opts.rsh`).
fn start_streams(opts: &mut Options, p: &crate::plan::operand::Plan) -> Result<Option<Streams>> {
    let Some((user, host)) = &p.remote else {
        crate::streams::usable(opts, p, &[]);
        return Ok(None);
    };
    let rsh = rsh_of(opts);
    let words = split_rsh(&rsh)?;
    if !crate::streams::usable(opts, p, &words) {
        return Ok(None);
    }
    let master = crate::streams::master::Master::start(rsh_base(opts, user, host)?, words.len())?;
    opts.rsh = Some(format!(
        "{rsh}{}",
        crate::streams::master::session_words(master.socket())
    ));
    Ok(Some(Streams {
        _master: master,
        totals: Default::default(),
    }))
}

/// Opens helper sessions of the transfer `p` over the master (see streams::helpers).
fn helper_spawn(
    o: &Options,
    p: &crate::plan::operand::Plan,
    filters: &Filters,
) -> crate::streams::helpers::Spawn {
    let (user, host) = p.remote.clone().expect("remote transfer");
    let remote_sends = !p.local_sends;
    let mut o = crate::streams::helper_options(o);
    o.streams = crate::streams::HELPER;
    let paths = if p.local_sends {
        vec![p.dest.clone().unwrap_or_default()]
    } else {
        p.sources.clone()
    };
    let literal = p.literal;
    let wire = filters.to_wire();
    Box::new(move |_k| {
        let argv = remote_argv(&o, &user, &host, remote_sends, &paths, literal)?;
        let (child, stream) = ssh::spawn(&argv)?;
        let (role, cap) = if remote_sends {
            ("receiver", Some(64))
        } else {
            ("sender", None)
        };
        let mut conn = connect(stream, &o, true, role, cap)?;
        conn.send(&Msg::Filters(wire.clone()))?;
        Ok((conn, child))
    })
}

/// File-list segments a walk started before the connection may queue (about 20 entries each:
/// some 40,000 entries, a few MiB — as far as a walk gets while ssh connects).
const EARLY_SEGMENTS: usize = 2 << 10;

fn run_transfer(mut opts: Options, p: crate::plan::operand::Plan) -> Result<i32> {
    let streams = start_streams(&mut opts, &p)?;
    if streams.is_none() {
        opts.streams = 1;
    }
    let start = Instant::now();
    if let Some(lf) = &opts.log_file {
        match crate::report::logfile::open(lf) {
            Ok(()) => crate::report::logfile::line(if p.local_sends || p.remote.is_none() {
                b"building file list"
            } else {
                b"receiving file list"
            }),
            Err(e) => {
                eprintln!(
                    "rsync: [client] failed to open log-file {lf}: {}",
                    crate::error::io_text(&e)
                );
                // log.c: an info line, so on stdout.
                crate::report::out("Ignoring \"log file\" setting.\n");
            }
        }
    }
    let filters = Filters::from_options(&opts)?;
    let mut remote: Option<ssh::Remote> = None;
    let mut server_thread = None;
    let mut early_walk = None;
    let stream = match &p.remote {
        None => {
            let (client, server) =
                transport::pipe_pair().map_err(|e| Error::new(14, format!("pipe: {e}")))?;
            let mut sopts = opts.clone();
            sopts.whole_file = Some(opts.whole_file.unwrap_or(true));
            let args = {
                let mut a = vec!["--server".to_string(), "--local-server".to_string()];
                a.extend(server_options(&sopts, true));
                // Both halves of a local transfer follow --super / --no-super / --fake-super, and
                // its receiver --drop-D (never sent to a remote peer, as rsync).
                match opts.super_user {
                    Some(true) => a.push("--super".into()),
                    Some(false) => a.push("--no-super".into()),
                    None => {}
                }
                if opts.fake_super {
                    a.push("--fake-super".into());
                }
                if opts.drop_d {
                    a.push("--drop-D".into());
                }
                a.push(".".into());
                a.push(p.dest.clone().unwrap_or_else(|| ".".into()));
                a
            };
            let sources = p.sources.clone();
            // Both halves of a local transfer copy as that user (rsync's receiver names it).
            copy_as(&opts, "Receiver")?;
            server_thread = Some(
                std::thread::Builder::new()
                    .name("receiver".into())
                    .spawn(move || {
                        let mut o = Options::parse(&args).expect("server options");
                        o.local_sources = sources;
                        if o.insecure_links {
                            // `-M--insecure-links`: given to this side's receiver.
                            crate::plan::trusted::set_insecure(true);
                        }
                        crate::server::serve(o, server)
                    })
                    .expect("spawn receiver"),
            );
            client
        }
        Some((user, host)) => {
            let paths = if p.local_sends {
                vec![p.dest.clone().unwrap_or_default()]
            } else {
                p.sources.clone()
            };
            // rsync's sender logs a push's items, and its %f is the path on the sender: the
            // remote receiver that formats them here needs the operands as typed.
            let mut ropts = opts.clone();
            let has_f = |f: &Option<String>| f.as_deref().is_some_and(|f| f.contains("%f"));
            if p.local_sends && (has_f(&opts.out_format) || has_f(&opts.log_file_format)) {
                ropts.local_sources = p.sources.clone();
            }
            let argv = remote_argv(&ropts, user, host, !p.local_sends, &paths, p.literal)?;
            show_command(&opts, &argv, user, host, &paths);
            let (child, stream) = ssh::spawn(&argv)?;
            // The remote shell runs as the caller; the copying on this side as --copy-as says.
            copy_as(&opts, if p.local_sends { "sender" } else { "Receiver" })?;
            if p.local_sends {
                // The file list does not depend on the receiver: walk while ssh connects (its
                // key exchange and the remote start take ~0.3 s), and let the walk hand the
                // large files to the prefetcher (session::prefetch).
                if let Ok(sources) = crate::plan::sources::sources(&opts, &p.sources) {
                    let pf = crate::session::prefetch::wanted(&opts).then(|| {
                        let (tx, rx) = crate::session::prefetch::channel();
                        crate::session::prefetch::start(&opts.engine_params, rx);
                        tx
                    });
                    let (tx, rx) = crossbeam_channel::bounded(EARLY_SEGMENTS);
                    crate::session::sender::start_walk(&opts, sources, &filters, tx, pf);
                    early_walk = Some(rx);
                }
            }
            remote = Some(child);
            stream
        }
    };
    let role = if p.local_sends { "sender" } else { "receiver" };
    // A pull's receiver is rsync's pre-fork `Receiver` until the handshake is done (main.c
    // client_run): what fails before that names it so.
    let pre_fork = std::cell::Cell::new(!p.local_sends);
    let counters: std::cell::RefCell<Option<(Arc<AtomicU64>, Arc<AtomicU64>)>> = Default::default();
    // Did the session print the sender's totals (`Msg::Tally`)?
    let tallied = std::cell::Cell::new(false);
    let result = (|| -> Result<(Stats, Stats, Problems)> {
        let mut conn = connect(
            stream,
            &opts,
            true,
            if pre_fork.get() { "Receiver" } else { role },
            if p.local_sends { None } else { Some(64) },
        )
        .map_err(|mut e| {
            e.role = e.role.or(pre_fork.get().then_some("Receiver"));
            e
        })?;
        pre_fork.set(false);
        tallied.set(crate::session::tallies(&opts, conn.version));
        *counters.borrow_mut() = Some((conn.sent.clone(), conn.recvd.clone()));
        conn.send(&Msg::Filters(filters.to_wire()))?;
        let header = opts.info.flist > 0
            && !opts.quiet
            && (!opts.list_only || opts.verbose > 0)
            && (opts.recursive || opts.dirs);
        let incremental = opts.inc_recurse();
        if header {
            let verb = if p.local_sends {
                "sending"
            } else {
                "receiving"
            };
            if incremental {
                crate::report::out(&format!("{verb} incremental file list\n"));
            } else if p.local_sends {
                crate::report::out("building file list ... done\n");
                crate::report::set_list_line_open(true);
            } else {
                // (A remote sender's errors reach rsync after its "done": no newline there.)
                crate::report::out("receiving file list ... done\n");
            }
        }
        if p.local_sends {
            let sources = crate::plan::sources::sources(&opts, &p.sources)?;
            let primary = conn.w.share();
            let mut sender = Sender::new(opts.clone(), conn, sources, filters.clone());
            sender.early = early_walk.take();
            if let Some(st) = &streams {
                sender.helpers = Some(Box::new(crate::streams::helpers::PushHelpers::new(
                    helper_spawn(&opts, &p, &filters),
                    crate::streams::helper_options(&opts),
                    filters.clone(),
                    st.totals.clone(),
                    primary,
                )));
            }
            let (s, r, pr) = sender.run()?;
            Ok((s, r, pr))
        } else {
            let dest = p.dest.clone().unwrap_or_else(|| ".".into());
            let mut recv = Receiver::new(opts.clone(), conn, dest.clone(), filters.clone(), false);
            if let Some(st) = &streams {
                recv.delegate = Some(Box::new(crate::streams::helpers::PullHelpers::new(
                    opts.streams,
                    helper_spawn(&opts, &p, &filters),
                    crate::streams::helper_options(&opts),
                    filters.clone(),
                    dest,
                    st.totals.clone(),
                )));
            }
            let (r, s, pr) = recv.run()?;
            Ok((s, r, pr))
        }
    })();
    let mut server_code = 0;
    if let Some(t) = server_thread {
        if result.is_ok() {
            server_code = t.join().unwrap_or(12);
        }
    }
    let transport_code = remote.as_mut().map(|r| {
        if result.is_ok() {
            r.wait()
        } else {
            // A timed-out peer is not waited for (rsync exits right after the timeout).
            let stalled = matches!(&result, Err(e) if e.code == crate::error::RERR_TIMEOUT);
            r.wait_or_kill(if stalled { 0 } else { 5 })
        }
    });
    crate::session::trace::threads();
    let (sender_stats, recv_stats, mut problems) = match result {
        Ok(x) => x,
        Err(e) => {
            // The remote shell's status explains a closed connection (rsync: 255, 127, ...).
            if let Some(tc) = transport_code.filter(|c| *c != 0) {
                if e.code == 12 || e.code == 2 {
                    let got = counters
                        .borrow()
                        .as_ref()
                        .map(|(_, r)| r.load(Ordering::Relaxed))
                        .unwrap_or(0);
                    if e.code == 2 && !e.msg.is_empty() {
                        eprintln!("{}", e.msg);
                    } else {
                        let role = if pre_fork.get() { "Receiver" } else { role };
                        eprintln!("rsync: connection unexpectedly closed ({got} bytes received so far) [{role}]");
                    }
                    let code = if (124..=127).contains(&tc) || tc == 255 {
                        tc
                    } else {
                        e.code
                    };
                    let mut e = Error::new(code, String::new());
                    e.role = pre_fork.get().then_some("Receiver");
                    return Err(e);
                }
            }
            return Err(e);
        }
    };
    let _ = server_code;
    problems.merge(decode_problems(recv_stats.problems));
    problems.merge(decode_problems(sender_stats.problems));
    let (mut sender_stats, mut recv_stats) = (sender_stats, recv_stats);
    let mut extra = (0, 0);
    if let Some(st) = &streams {
        let t = st.totals.lock().unwrap();
        problems.merge(t.problems);
        crate::streams::add_stats(&mut sender_stats, &t.sender);
        crate::streams::add_stats(&mut recv_stats, &t.receiver);
        extra = (t.sent, t.recvd);
    }
    // Merge: flist-side numbers from the sender, write-side numbers from the receiver.
    let mut st = recv_stats.clone();
    for (dst, src) in [
        (&mut st.num_files, sender_stats.num_files),
        (&mut st.num_reg, sender_stats.num_reg),
        (&mut st.num_dir, sender_stats.num_dir),
        (&mut st.num_link, sender_stats.num_link),
        (&mut st.num_dev, sender_stats.num_dev),
        (&mut st.num_special, sender_stats.num_special),
        (&mut st.total_size, sender_stats.total_size),
        (&mut st.literal, sender_stats.literal),
        (&mut st.matched, sender_stats.matched),
        (&mut st.flist_size, sender_stats.flist_size),
        (&mut st.flist_gen_ms, sender_stats.flist_gen_ms),
        (&mut st.deduped, sender_stats.deduped),
        (&mut st.dedup_files, sender_stats.dedup_files),
        (&mut st.dedup_chunk_bytes, sender_stats.dedup_chunk_bytes),
        (&mut st.renamed, sender_stats.renamed),
    ] {
        *dst = src;
    }
    st.sender_engine_msgs = sender_stats.engine_msgs;
    st.sender_engine_us = sender_stats.engine_us;
    st.copy_ops = sender_stats.copy_ops;
    st.sender_phase_us = sender_stats.phase_us;
    st.sender_msg_bytes = sender_stats.msg_bytes;
    let (sent, recvd) = counters
        .borrow()
        .as_ref()
        .map(|(s, r)| (s.load(Ordering::Relaxed), r.load(Ordering::Relaxed)))
        .unwrap_or((0, 0));
    let (sent, recvd) = (sent + extra.0, recvd + extra.1);
    crate::report::logfile::line(
        format!(
            "sent {} bytes  received {} bytes  total size {}",
            sent, recvd, st.total_size
        )
        .as_bytes(),
    );
    if opts.match_report() && !tallied.get() {
        // A peer older than protocol 5 or --streams (several senders): the totals go last.
        crate::report::out(&format!("{}\n", match_report(&st)));
    }
    if !opts.quiet && !opts.list_only || (opts.list_only && opts.verbose > 0) {
        let elapsed = start.elapsed().as_secs() as f64;
        if opts.info.stats >= 2 {
            let engine = opts
                .engine
                .unwrap_or(crate::engine::EngineId::Parasync)
                .name();
            report::out(&report::stats_block(
                &st, sent, recvd, opts.human, 0.0, engine,
            ));
        }
        if opts.info.stats >= 1 {
            if opts.info.stats < 2 {
                report::out("\n");
            }
            report::out(&report::summary(
                sent,
                recvd,
                st.total_size,
                elapsed,
                opts.human,
                opts.dry_run,
            ));
        }
    }
    let code = problems.exit_code();
    if code != 0 && !p.local_sends && p.remote.is_some() && st.num_files == 0 {
        // An empty list ends a pull before rsync's receiver forks (main.c client_run).
        let mut e = Error::new(code, String::new());
        e.role = Some("Receiver");
        return Err(e);
    }
    Ok(code)
}

/// match.c match_report(): the sender's totals line (no line end).
pub fn match_report(st: &Stats) -> String {
    format!(
        "total: matches={}  hash_hits={}  false_alarms=0 data={}",
        st.copy_ops, st.copy_ops, st.literal
    )
}

pub fn encode_problems(p: &Problems) -> u8 {
    p.partial as u8 | (p.vanished as u8) << 1 | (p.del_limit as u8) << 2
}

pub fn decode_problems(b: u8) -> Problems {
    Problems {
        partial: b & 1 != 0,
        vanished: b & 2 != 0,
        del_limit: b & 4 != 0,
    }
}
