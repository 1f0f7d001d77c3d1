//! `parasync --server [--sender] … . <paths>`: the remote half. Reads its role from argv, speaks
//! the protocol on stdin/stdout (or on a pipe pair in local mode), and forwards every message for
//! the user to the client.

use crate::cli::Options;
use crate::error::Result;
use crate::session::filters::Filters;
use crate::session::receiver::Receiver;
use crate::session::sender::Sender;
use crate::transport::Stream;
use crate::wire::msg::Msg;

/// Run the server on stdin/stdout; returns the exit code.
pub fn run(opts: Options) -> i32 {
    // The client prints what this side reports, in its own locale.
    crate::report::set_deferred_escapes(true);
    // The remote shell's pipes to us (crate::transport::grow_pipe).
    crate::transport::grow_pipe(0);
    crate::transport::grow_pipe(1);
    let stream = Stream {
        r: Box::new(std::io::stdin()),
        w: Box::new(std::io::stdout()),
    };
    serve(opts, stream)
}

/// Run the server over `stream`.
pub fn serve(opts: Options, stream: Stream) -> i32 {
    match serve_inner(opts, stream) {
        Ok(code) => code,
        Err(e) => {
            if !e.msg.is_empty() && e.code != 12 {
                eprintln!("{}", e.msg);
            }
            e.code
        }
    }
}

fn serve_inner(opts: Options, stream: Stream) -> Result<i32> {
    let sender = opts.sender;
    let role = if sender { "sender" } else { "receiver" };
    let conn = crate::client::connect(
        stream,
        &opts,
        false,
        role,
        if sender { None } else { Some(64) },
    )?;
    // A fatal error on this side is reported to the client over the connection, with its code.
    let fatal_w = conn.w.clone_handle();
    let r = run_role(opts, conn, sender);
    crate::session::trace::threads();
    if let Err(e) = &r {
        if e.code != 12 {
            fatal_w.fatal(e.code, &e.msg);
            return Err(crate::error::Error::new(e.code, String::new()));
        }
    }
    r
}

fn run_role(opts: Options, mut conn: crate::session::Conn, sender: bool) -> Result<i32> {
    let filters = match conn.recv()? {
        Msg::Filters(b) => Filters::from_wire(&b)?,
        _ => {
            return Err(crate::error::Error::protocol(
                "protocol error: expected the filter list first",
            ))
        }
    };
    // Operands after the "." placeholder.
    let paths: Vec<String> = match opts.operands.iter().position(|a| a == ".") {
        Some(i) => opts.operands[i + 1..].to_vec(),
        None => opts.operands.clone(),
    };
    let problems = if sender {
        let mut plan = crate::plan::operand::Plan {
            remote: None,
            local_sends: true,
            sources: paths,
            dest: Some(String::new()),
            literal: false,
        };
        // `--files-from=host:FILE` on a pull: the list is on this host.
        crate::plan::sources::expand_files_from(&opts, &mut plan, &|_| {
            Err(std::io::ErrorKind::Unsupported.into())
        })?;
        let sources = crate::plan::sources::sources(&opts, &plan.sources)?;
        let helper = opts.streams == crate::streams::HELPER;
        let mut s = Sender::new(opts, conn, sources.clone(), filters);
        if helper {
            // A helper of `--streams`: serve the names the client sends, no walk.
            s.serve_from = Some(sources);
        }
        let (_, _, p) = s.run()?;
        p
    } else {
        let dest = paths.first().cloned().unwrap_or_else(|| ".".into());
        let push = !opts.local_server;
        let streams = opts.streams;
        let mut r = Receiver::new(opts, conn, dest, filters, push);
        if push && streams == crate::streams::HELPER {
            r.starts = Some(crate::streams::starts_to_peer());
        } else if push && streams != 1 {
            r.delegate = Some(Box::new(crate::streams::RemoteDelegate::new(streams)));
        }
        let (_, _, p) = r.run()?;
        p
    };
    Ok(problems.exit_code())
}
