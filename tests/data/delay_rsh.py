#!/usr/bin/env python3
"""rsh wrapper adding one-way latency: delay.py SECONDS host command... runs the command locally and
delays every byte in both directions by SECONDS (a link with RTT = 2 * SECONDS)."""
import os, subprocess, sys, threading, time, collections
d = float(sys.argv[1]); cmd = ' '.join(sys.argv[3:])
p = subprocess.Popen(['sh', '-c', cmd], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
def pump(src, dst):
    q = collections.deque(); cv = threading.Condition(); done = [False]
    def reader():
        while True:
            b = os.read(src, 65536)
            with cv:
                q.append((time.monotonic() + d, b)); cv.notify()
            if not b: return
    threading.Thread(target=reader, daemon=True).start()
    while True:
        with cv:
            while not q: cv.wait()
            t, b = q.popleft()
        w = t - time.monotonic()
        if w > 0: time.sleep(w)
        if not b:
            os.close(dst); return
        os.write(dst, b)
a = threading.Thread(target=pump, args=(0, p.stdin.fileno())); a.start()
pump(p.stdout.fileno(), 1)
sys.exit(p.wait())
