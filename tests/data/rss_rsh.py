#!/usr/bin/env python3
"""Peak memory of a process of its own: rss_rsh.py OUT host command... (as an rsh: runs the
command through sh, e.g. the server half of a transfer) or rss_rsh.py OUT -- program args...
(runs the program directly); writes the peak resident set in KiB (ru_maxrss from wait4, which
also covers the process's waited-for children) to OUT and exits with the command's status.
The process is forked from this small interpreter, not from the caller, so the caller's own
peak does not carry over into the figure (a forked child starts from its parent's peak)."""
import os, sys
out = sys.argv[1]
if sys.argv[2] == '--':
    argv = sys.argv[3:]
else:
    argv = ['sh', '-c', 'exec ' + ' '.join(sys.argv[3:])]
pid = os.fork()
if pid == 0:
    os.execvp(argv[0], argv)
_, status, ru = os.wait4(pid, 0)
with open(out, 'w') as f:
    f.write('%d\n' % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
