#!/usr/bin/env python3
"""Compare parasync with rsync over a real loopback sshd (design.md §8, §9).

For each workload of ../shared/bench/workloads.py the destination is a fresh copy of `old` and the
transfer is `-a --delete --stats new/ 127.0.0.1:dst/`, run back to back (round-robin, so drift in
machine load hits every tool alike) with:
  rsync            the installed rsync on both ends
  parasync-dsync   parasync --engine=dsync
  parasync         parasync with its default engine
The table shows the median wall time, the client's "Total bytes sent", peak RSS of the client and of
the remote half (each measured by GNU time; the remote one through --rsync-path), and ratios to rsync.
GNU time reports the largest process of the client's tree, which includes the ssh client (about
8 MiB), so the client column has that floor; the server column measures the remote half alone.

Extra parasync variants run as more tools: `--extra 'streams4=--streams 4' --extra 'auto=--streams auto'`
(NAME=ARGS, ARGS split on spaces); `--tools rsync,parasync` limits the built-in ones. `--mode` sets
the destination each run starts from: `update` (a copy of old, default), `initial` (empty) or
`rerun` (a copy of new: nothing changed, every tool only compares). With `--keep DIR` a workload
already generated in DIR is reused (the 200,000-file tree takes minutes to generate). `--dest DIR`
puts the destinations on another file system: on an ext4 without a journal (this machine's root)
every file created within minutes of a mass delete makes the inode allocator skip the recently
deleted inodes one by one, so each run after the previous run's tree was removed measured that
(a 200,000-file initial copy: 2x slower for either tool); a fresh journaled ext4 on a loop device
(`mkfs.ext4 img; mount -o loop img /mnt/x`) does not.

usage: benches/compare.py [--workloads tree,bigfresh] [--scale 1.0] [--runs 3]
                          [--bin target/release/parasync] [--generator PATH] [--keep DIR]
                          [--extra NAME=ARGS ...] [--tools rsync,parasync] [--mode update|initial|rerun]
                          [--dest DIR]
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Sshd:
    """A throwaway OpenSSH server on 127.0.0.1, configured as the integration tests do."""

    def __init__(self, root):
        self.dir = os.path.join(root, 'sshd')
        os.makedirs(self.dir)
        for k in ('hostkey', 'userkey'):
            subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', f'{self.dir}/{k}'], check=True)
        shutil.copy(f'{self.dir}/userkey.pub', f'{self.dir}/authorized_keys')
        os.makedirs('/run/sshd', exist_ok=True)
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            self.port = s.getsockname()[1]
        d = self.dir
        with open(f'{d}/sshd_config', 'w') as f:
            f.write(f'ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\n'
                    f'AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n'
                    'PasswordAuthentication no\nPermitRootLogin yes\nMaxStartups 100:30:200\n')
        subprocess.run(['/usr/sbin/sshd', '-f', f'{d}/sshd_config', '-E', f'{d}/sshd.log'], check=True)
        self.wrapper = f'{d}/ssh-wrap'
        with open(self.wrapper, 'w') as f:
            f.write(f'#!/bin/sh\nexec ssh -p {self.port} -i {d}/userkey -o StrictHostKeyChecking=no '
                    '-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR "$@"\n')
        os.chmod(self.wrapper, 0o755)
        for _ in range(100):
            probe = subprocess.run([self.wrapper, '127.0.0.1', 'true'], stderr=subprocess.DEVNULL)
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        sys.exit('test sshd did not come up; see ' + f'{d}/sshd.log')

    def stop(self):
        try:
            with open(f'{self.dir}/sshd.pid') as f:
                os.kill(int(f.read().strip()), 15)
        except (OSError, ValueError):
            pass


def peak_kib(path):
    try:
        with open(path) as f:
            m = re.search(r'Maximum resident set size \(kbytes\): (\d+)', f.read())
        return int(m.group(1)) if m else None
    except OSError:
        return None


def one_run(tool, args, sshd, work, wl, mode='update', dest=None):
    """One timed transfer into a fresh destination (see --mode); returns (seconds, bytes sent, client KiB, server KiB)."""
    dst = os.path.join(dest or work, 'dst')
    shutil.rmtree(dst, ignore_errors=True)
    if mode == 'initial':
        os.makedirs(dst)
    else:
        subprocess.run(['cp', '-a', os.path.join(wl, 'new' if mode == 'rerun' else 'old') + '/.', dst], check=True)
    subprocess.run(['sync'])
    ctime, stime = os.path.join(work, 'client.time'), os.path.join(work, 'server.time')
    for p in (ctime, stime):
        if os.path.exists(p):
            os.remove(p)
    prog, extra = tool
    remote = extra['remote']
    cmd = (['/usr/bin/time', '-v', '-o', ctime, prog, '-e', sshd.wrapper,
            f'--rsync-path=/usr/bin/time -v -o {stime} {remote}'] + extra['args'] + args
           + [os.path.join(wl, 'new') + '/', f'127.0.0.1:{dst}/'])
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors='replace')
    dt = time.monotonic() - t0
    if r.returncode != 0:
        return None, f'exit {r.returncode}: {r.stderr.strip()[-300:]}'
    m = re.search(r'^Total bytes sent: ([\d,]+)', r.stdout, re.M)
    sent = int(m.group(1).replace(',', '')) if m else None
    check = subprocess.run(['diff', '-r', '--no-dereference', os.path.join(wl, 'new'), dst],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors='replace')
    if check.returncode != 0:
        return None, 'destination differs from source: ' + check.stdout[:300]
    return (dt, sent, peak_kib(ctime), peak_kib(stime)), None


def fmt_ratio(x, base):
    return f'{x / base:.2f}×' if x is not None and base else '–'


def fmt_mib(kib):
    return f'{kib / 1024:.1f}' if kib is not None else '–'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--workloads', default='tree,bigfresh')
    ap.add_argument('--scale', type=float, default=1.0)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--bin', default=os.path.join(REPO, 'target', 'release', 'parasync'))
    ap.add_argument('--generator', default=os.path.join(REPO, '..', 'shared', 'bench', 'workloads.py'))
    ap.add_argument('--keep', help='work directory to use and keep (default: a temp dir, removed)')
    ap.add_argument('--extra', action='append', default=[], metavar='NAME=ARGS',
                    help='another parasync variant: tool name and its extra arguments')
    ap.add_argument('--tools', default='rsync,parasync-dsync,parasync', help='built-in tools to run')
    ap.add_argument('--mode', default='update', choices=['update', 'initial', 'rerun'])
    ap.add_argument('--dest', help='directory (on the file system to measure) to hold the destinations')
    a = ap.parse_args()
    binp = os.path.abspath(a.bin)
    if not os.access(binp, os.X_OK):
        sys.exit(f'{binp} not found; build it with `cargo build --release` or pass --bin')
    for need in ('/usr/sbin/sshd', '/usr/bin/time', shutil.which('rsync') or '/nonexistent'):
        if not os.path.exists(need):
            sys.exit(f'{need} missing (apt-get install openssh-server rsync time)')
    root = a.keep or tempfile.mkdtemp(prefix='parasync-bench')
    os.makedirs(root, exist_ok=True)
    sshd = Sshd(tempfile.mkdtemp(dir=root))
    tools = [
        ('rsync', ('rsync', {'remote': 'rsync', 'args': []})),
        ('parasync-dsync', (binp, {'remote': binp, 'args': ['--engine=dsync']})),
        ('parasync', (binp, {'remote': binp, 'args': []})),
    ]
    keep = set(a.tools.split(','))
    tools = [t for t in tools if t[0] in keep]
    for x in a.extra:
        name, _, args = x.partition('=')
        tools.append((name, (binp, {'remote': binp, 'args': args.split()})))
    rows = []
    # The remote shell's own cost (`ssh 127.0.0.1 true`), timed between the transfers: a floor
    # under every tool's time.
    floors = []
    try:
        for wl_name in a.workloads.split(','):
            wl = os.path.join(root, 'wl-' + wl_name)
            if not (a.keep and os.path.isdir(os.path.join(wl, 'new'))):
                subprocess.run([sys.executable, a.generator, wl_name, wl, '--scale', str(a.scale)], check=True)
            work = os.path.join(root, 'work')
            os.makedirs(work, exist_ok=True)
            results = {name: [] for name, _ in tools}
            errors = {}
            for _ in range(a.runs):
                t0 = time.monotonic()
                subprocess.run([sshd.wrapper, '127.0.0.1', 'true'], check=False)
                floors.append(time.monotonic() - t0)
                for name, tool in tools:
                    if name in errors:
                        continue
                    res, err = one_run(tool, ['-a', '--delete', '--stats'], sshd, work, wl, a.mode, a.dest)
                    if err:
                        errors[name] = err
                    else:
                        results[name].append(res)
            base = None
            for name, _ in tools:
                rs = results[name]
                if not rs:
                    rows.append((wl_name, name, None, None, None, None, errors.get(name, 'no runs')))
                    continue
                med = statistics.median(r[0] for r in rs)
                sent = statistics.median(r[1] for r in rs if r[1] is not None) if any(r[1] is not None for r in rs) else None
                crss = max((r[2] for r in rs if r[2] is not None), default=None)
                srss = max((r[3] for r in rs if r[3] is not None), default=None)
                if name == 'rsync':
                    base = (med, sent, crss, srss)
                rows.append((wl_name, name, (med, sent, crss, srss), base, len(rs), None, None))
    finally:
        sshd.stop()
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f'\nscale {a.scale}, mode {a.mode}, {a.runs} runs each, median wall time; RSS = peak of any run')
    if floors:
        print(f'ssh setup floor (`ssh 127.0.0.1 true`, median of {len(floors)}): '
              f'{statistics.median(floors):.3f} s')
    print()
    print('| workload | tool | time s | × rsync | bytes sent | × rsync | client RSS MiB | × rsync | server RSS MiB | × rsync |')
    print('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for row in rows:
        wl_name, name, vals = row[0], row[1], row[2]
        if vals is None:
            print(f'| {wl_name} | {name} | failed: {row[6]} | | | | | | | |')
            continue
        base = row[3] or (None, None, None, None)
        med, sent, crss, srss = vals
        print(f'| {wl_name} | {name} | {med:.3f} | {fmt_ratio(med, base[0])} | '
              f'{sent if sent is not None else "–"} | {fmt_ratio(sent, base[1])} | '
              f'{fmt_mib(crss)} | {fmt_ratio(crss, base[2])} | {fmt_mib(srss)} | {fmt_ratio(srss, base[3])} |')


if __name__ == '__main__':
    main()
