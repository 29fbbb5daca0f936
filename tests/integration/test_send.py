"""Issue 10 item 14 and item 15 (CLI part): `bevis send` against hostile
input. It streams its input in bounded memory, reports an item too large
for any request at once, gives up on a server that stays busy, escapes the
control characters in the reasons it prints, and range-checks its numeric
options. Peak memory is VmHWM in /proc/PID/status, polled: the child's
ru_maxrss would count the Python process it was spawned from."""
import os
import subprocess
import tempfile
import time

from bevistest import BEVIS, SANITIZE, Daemon, check, eq, event, free_port, ndjson, own_cluster

# The size of the generated input for the memory test; the figure.
SEND_MB = int(os.environ.get("BEVIS_SEND_MB", "200"))
# ASan's shadow memory and quarantine make a sanitizer build's RSS meaningless.
RSS_LIMIT = (64 << 20) if not SANITIZE else 1 << 40


def note(msg):
    print(f"  send: {msg}", flush=True)


def vm_hwm(pid):
    """The process's peak resident set in bytes, or 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_bevis_measured(args, stdin=subprocess.DEVNULL, timeout=900):
    """Runs bevis; returns (exit code, stdout, stderr, peak RSS in bytes,
    seconds)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen([BEVIS, *args], stdin=stdin, stdout=out, stderr=err)
        deadline = t0 + timeout
        hwm = 0
        while p.poll() is None:
            # VmHWM of a zombie is gone; of the live process it only grows.
            hwm = max(hwm, vm_hwm(p.pid))
            if time.monotonic() > deadline:
                p.kill()
                p.wait()
                break
            time.sleep(0.02)
        secs = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read(), err.read(), hwm, secs


def write_events(path, megabytes, prefix="big"):
    """NDJSON of bench-like events (about 470 bytes each) up to megabytes."""
    pad = "x" * 330
    n = 0
    size = 0
    with open(path, "w") as f:
        while size < megabytes << 20:
            chunk = "".join(
                '{"supplier":"demo","id":"%s-%08d","time":"2026-10-01T00:00:00Z",'
                '"severity":3,"message":"%s","seq":%d}\n' % (prefix, n + i, pad, n + i)
                for i in range(10000))
            f.write(chunk)
            size += len(chunk)
            n += 10000
    return n


def test_send_streams_a_large_input_in_bounded_memory(cluster):
    """A generated NDJSON file of SEND_MB MB, through a pipe and as a
    regular file: everything is stored once, and bevis stays under 64 MiB
    (it used 966 MiB for 200 MB when it read the whole input)."""
    db = cluster.new_database()
    d = Daemon(db)
    path = os.path.join(tempfile.gettempdir(), "bevis-send-%d.ndjson" % os.getpid())
    try:
        n = write_events(path, SEND_MB)
        cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
        rc, out, err, rss, secs = run_bevis_measured(
            ["send", "--endpoint", d.endpoint, "-"], stdin=cat.stdout)
        cat.stdout.close()
        cat.wait()
        note(f"{SEND_MB} MB through a pipe: {n} events in {secs:.1f} s, "
             f"peak RSS {rss / 2**20:.1f} MiB")
        eq(rc, 0, "pipe: exit code: " + err.decode(errors="replace")[-2000:])
        check(b"-: %d items in " % n in out and b": %d accepted, 0 duplicate, 0 quarantined\n" % n
              in out, out)
        check(rss < RSS_LIMIT, f"pipe: peak RSS {rss} bytes, want < {RSS_LIMIT}")
        eq(db.count("event"), n, "events stored")
        # The same file again, as a regular file: every item a duplicate.
        rc, out, err, rss, secs = run_bevis_measured(["send", "--endpoint", d.endpoint, path])
        note(f"{SEND_MB} MB as a file (all duplicates): {secs:.1f} s, "
             f"peak RSS {rss / 2**20:.1f} MiB")
        eq(rc, 0, "file: exit code: " + err.decode(errors="replace")[-2000:])
        check(b": 0 accepted, %d duplicate, 0 quarantined\n" % n in out, out)
        check(rss < RSS_LIMIT, f"file: peak RSS {rss} bytes, want < {RSS_LIMIT}")
        eq(db.count("event"), n, "events stored once")
    finally:
        if os.path.exists(path):
            os.unlink(path)
        eq(d.stop(), 0, "bevisd exit code")


def test_send_dev_zero_ends_with_a_clear_error(cluster):
    """/dev/zero as a file and as standard input: bevis stops at the first
    read with a reason, in bounded memory (it grew to 1.8 GiB in 10 s)."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    for name, args, stdin in (("file", ["/dev/zero"], subprocess.DEVNULL),
                              ("stdin", ["-"], open("/dev/zero", "rb"))):
        rc, out, err, rss, secs = run_bevis_measured(
            ["send", "--endpoint", endpoint, "--type", "ndjson", *args], stdin=stdin,
            timeout=30)
        note(f"/dev/zero as {name}: exit {rc} in {secs:.1f} s, peak RSS {rss / 2**20:.1f} MiB")
        eq(rc, 2, f"{name}: exit code")
        label = args[0].encode()
        eq(err, b"bevis send: " + label + b":1: a NUL byte: the input is not JSON text "
           b"(binary or compressed?); stopping here\n", f"{name}: stderr")
        check(b"NOT ALL DELIVERED" in out and b"the input was not read to its end" in out,
              out)
        check(secs < 10, f"{name}: took {secs:.1f} s")
        check(rss < RSS_LIMIT, f"{name}: peak RSS {rss}")
    # Without --type, /dev/zero is taken as NDJSON, and ends the same way.
    rc, out, err, rss, secs = run_bevis_measured(["send", "--endpoint", endpoint, "/dev/zero"],
                                                 timeout=30)
    eq(rc, 2, "no --type: exit code")
    check(b"a NUL byte" in err, err)


def test_send_reports_an_item_too_large_at_once(cluster):
    """An NDJSON line larger than any request (max_message_size, 16 MiB) is
    reported at once with its line number and skipped; the items around it
    are stored. It used to be sent and retried silently for 40 s."""
    db = cluster.new_database()
    d = Daemon(db)
    path = os.path.join(tempfile.gettempdir(), "bevis-large-%d.ndjson" % os.getpid())
    try:
        with open(path, "wb") as f:
            f.write(ndjson([event(1), event(2)]))
            f.write(b'{"supplier":"demo","id":"huge","time":"2026-10-01T00:00:00Z","m":"')
            f.write(b"y" * (17 << 20))
            f.write(b'"}\n')
            f.write(ndjson([event(3), event(4)]))
        rc, out, err, rss, secs = run_bevis_measured(["send", "--endpoint", d.endpoint, path])
        note(f"17 MiB item: exit {rc} in {secs:.1f} s, peak RSS {rss / 2**20:.1f} MiB")
        eq(rc, 2, "exit code")
        eq(err.decode(), f"{path}:3: item too large: more than 16773120 bytes, the most "
           "one request can carry (max_message_size); not sent\n", "stderr")
        eq(out.decode(), f"{path}: 5 items in 1 requests: 4 accepted, 0 duplicate, "
           f"0 quarantined - NOT ALL DELIVERED\n{path}: 1 items too large to send\n"
           f"{path}: 0 items in 0 requests were not stored\n", "stdout")
        check(secs < 15, f"took {secs:.1f} s")
        eq(db.count("event"), 4, "events stored")
        # The same in a JSON array: the element is named by its line.
        with open(path, "wb") as f:
            f.write(b"[\n" + ndjson([event(5)]).rstrip() + b",\n")
            f.write(b'{"supplier":"demo","id":"huge","time":"2026-10-01T00:00:00Z","m":"')
            f.write(b"y" * (17 << 20))
            f.write(b'"},\n' + ndjson([event(6)]).rstrip() + b"\n]\n")
        rc, out, err, rss, secs = run_bevis_measured(["send", "--endpoint", d.endpoint,
                                                      "--type", "json", path])
        eq(rc, 2, "json: exit code")
        check(err.startswith(f"{path}:3: item too large: ".encode()) and
              err.endswith(b" bytes, more than the 16773118 one request can carry "
                           b"(max_message_size); not sent\n"), err)
        check(b": 3 items in 2 requests: 2 accepted," in out, out)
        eq(db.count("event"), 6, "events stored")
    finally:
        os.unlink(path)
        eq(d.stop(), 0, "bevisd exit code")


def test_send_gives_up_when_bevisd_stays_busy(cluster):
    """With the database down and a 64 KiB spool, bevisd spools the first
    requests and then answers busy. bevis send waits with a growing,
    jittered delay and gives up on each busy request after --busy-timeout,
    where it used to resend for ever. What was spooled is stored once the
    database is back."""
    with own_cluster() as c:
        db = c.new_database()
        d = Daemon(db, spool_max_bytes="64KiB", spool_after_ms=100)
        path = os.path.join(tempfile.gettempdir(), "bevis-busy-%d.ndjson" % os.getpid())
        try:
            with open(path, "wb") as f:
                f.write(ndjson([event(i) for i in range(2000)]))
            c.pg_stop()
            rc, out, err, rss, secs = run_bevis_measured(
                ["send", "--endpoint", d.endpoint, "--busy-timeout", "3", "--timeout", "20",
                 "--chunk-items", "50", "--window", "16", path], timeout=120)
            note(f"busy: exit {rc} in {secs:.1f} s: {out.decode().strip()}")
            eq(rc, 2, "exit code: " + err.decode())
            check(b"bevis send: bevisd is busy" in err and b"giving up after 3 s" in err, err)
            check(b"items): bevisd stayed busy for 3 s; giving up on it\n" in err, err)
            check(b"2000 items in 40 requests: 0 accepted, 0 duplicate, 0 quarantined, " in out
                  and b"spooled - NOT ALL DELIVERED" in out, out)
            check(3 <= secs < 40, f"took {secs:.1f} s")
            spooled = int(out.split(b" quarantined, ")[1].split(b" spooled")[0])
            c.pg_start()
            deadline = time.monotonic() + 60
            while db.count("event") < spooled and time.monotonic() < deadline:
                time.sleep(0.2)
            eq(db.count("event"), spooled, "spooled events stored once the database is back")
        finally:
            if not os.path.exists(os.path.join(c.dir, "data", "postmaster.pid")):
                c.pg_start()
            os.unlink(path)
            d.stop()


def test_send_prints_reasons_with_control_characters_escaped(cluster):
    """A reason quotes supplier bytes; bevis send prints C0, DEL and C1
    control characters in it as \\xNN."""
    db = cluster.new_database()
    d = Daemon(db)
    try:
        body = (b'{"supplier":"demo","id":"e1","time":"\\u001b[2J\\u0085\\u007fx"}\n'
                + ndjson([event(1)]))
        rc, out, err, rss, secs = run_bevis_measured(["send", "--endpoint", d.endpoint, "-"],
                                                     stdin=_bytes_stdin(body))
        eq(rc, 1, "exit code")
        eq(err, b"-:1: quarantined: field 'time' is not an RFC 3339 date-time: "
           b"'\\x1b[2J\\u0085\\x7fx'\n", "stderr")
        # The stored reason keeps the bytes themselves (as hex: psql's
        # output would be split at U+0085).
        eq(db.value("SELECT encode(convert_to(reason, 'UTF8'), 'hex') FROM quarantine"),
           "field 'time' is not an RFC 3339 date-time: '\x1b[2J\x85\x7fx'".encode().hex(),
           "stored reason")
    finally:
        eq(d.stop(), 0, "bevisd exit code")


def _bytes_stdin(data):
    """A readable file holding data, for a child's standard input."""
    f = tempfile.TemporaryFile()
    f.write(data)
    f.seek(0)
    return f


def test_send_numeric_options_are_range_checked(cluster):
    """Issue 10 item 15: every numeric option is parsed whole and in range."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    cases = [
        (["send", "--window", "99999999999999999999", "x"],
         "bevis send: --window: '99999999999999999999' is out of range (1 to 1024)\n"),
        (["send", "--window", "0", "x"], "bevis send: --window: '0' is out of range (1 to 1024)\n"),
        (["send", "--chunk-items", "1x", "x"],
         "bevis send: --chunk-items: '1x' is not a whole number\n"),
        (["send", "--retries", "-1", "x"],
         "bevis send: --retries: '-1' is out of range (0 to 1000)\n"),
        (["send", "--timeout", "abc", "x"],
         "bevis send: --timeout: 'abc' is not a number of seconds\n"),
        (["send", "--timeout", "0", "x"],
         "bevis send: --timeout: '0' is out of range (0.001 to 86400 seconds)\n"),
        (["send", "--busy-timeout", "1e999", "x"],
         "bevis send: --busy-timeout: '1e999' is not a number of seconds\n"),
        (["ping", "--timeout", "2s"], "bevis ping: --timeout: '2s' is not a number of seconds\n"),
    ]
    for args, want in cases:
        rc, out, err, rss, secs = run_bevis_measured([args[0], "--endpoint", endpoint,
                                                      *args[1:]], timeout=30)
        eq((rc, err.decode()), (2, want), " ".join(args))
    # --help says what happens on busy.
    rc, out, err, rss, secs = run_bevis_measured(["send", "--help"])
    check(rc == 0 and b"--busy-timeout" in out and b"jittered" in out, out)


def test_send_refuses_a_json_array_over_its_bound(cluster):
    """A JSON array is split whole, so it is read to a bound (24 MiB) and
    refused past it with a pointer to NDJSON, in bounded memory."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    path = os.path.join(tempfile.gettempdir(), "bevis-array-%d.json" % os.getpid())
    try:
        line = ndjson([event(1, message="m" * 400)]).rstrip()
        with open(path, "wb") as f:
            f.write(b"[" + b",\n".join([line] * (25 * 2**20 // len(line) + 1)) + b"]\n")
        rc, out, err, rss, secs = run_bevis_measured(["send", "--endpoint", endpoint, path],
                                                     timeout=60)
        note(f"25 MiB JSON array: exit {rc} in {secs:.1f} s, peak RSS {rss / 2**20:.1f} MiB")
        eq((rc, err.decode()), (2, f"bevis send: {path}: a JSON input larger than 24 MiB is "
                                   "not read whole; send it as NDJSON (one event per line), "
                                   "which is streamed\n"), "refusal")
        check(rss < RSS_LIMIT, f"peak RSS {rss}")
    finally:
        os.unlink(path)
