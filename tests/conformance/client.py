#!/usr/bin/env python3
"""A bevis protocol 1.1 client written from docs/PROTOCOL.md alone, as a
supplier's integrator would write it, with no knowledge of the server's
code. It causes every reply a client can cause and checks each against
what the document promises; any difference is printed as a FAIL line and
makes the exit status 1.

What it needs, as the document says a client needs it (all from the
environment): BEVIS_ENDPOINT; BEVIS_SERVER_KEY and BEVIS_CLIENT_KEY, the
files of the server's public key and this supplier's secret key (§1.1);
BEVIS_SUPPLIER, the name the key is registered under; and the limits the
operator set: BEVIS_MAX_MESSAGE_SIZE (§4), BEVIS_MAX_ITEMS (§3) and
BEVIS_SUPPLIER_INFLIGHT_BYTES (§5.4)."""
import json
import os
import sys
import time
import uuid

import zmq

ENDPOINT = os.environ["BEVIS_ENDPOINT"]
SUPPLIER = os.environ["BEVIS_SUPPLIER"]
MAX_MESSAGE = int(os.environ["BEVIS_MAX_MESSAGE_SIZE"])
MAX_ITEMS = int(os.environ["BEVIS_MAX_ITEMS"])
INFLIGHT = int(os.environ["BEVIS_SUPPLIER_INFLIGHT_BYTES"])
V = b"bevis/1"
ND = b"application/x-ndjson"
JS = b"application/json"
failures = []
checked = 0


def read_key(path):
    with open(path, "rb") as f:
        return f.read().strip()


SERVER_PUB = read_key(os.environ["BEVIS_SERVER_KEY"])
CLIENT_SEC = read_key(os.environ["BEVIS_CLIENT_KEY"])
CLIENT_PUB = zmq.curve_public(CLIENT_SEC)


def expect(cond, what):
    global checked
    checked += 1
    if not cond:
        failures.append(what)
        print(f"FAIL {what}", flush=True)


def same(got, want, what):
    expect(got == want, f"{what}: got {got!r}, want {want!r}")


def rid():
    return uuid.uuid4().hex.encode()


class Conn:
    """One DEALER socket with this supplier's key (§1.1)."""

    def __init__(self):
        self.ctx = zmq.Context.instance()
        self.s = self.ctx.socket(zmq.DEALER)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.curve_serverkey = SERVER_PUB
        self.s.curve_publickey = CLIENT_PUB
        self.s.curve_secretkey = CLIENT_SEC
        self.s.connect(ENDPOINT)

    def send(self, frames):
        # Non-blocking (§1.3): a refused key has no connection to queue on.
        self.s.send_multipart(frames, flags=zmq.NOBLOCK)

    def recv(self, timeout=10.0):
        if not self.s.poll(int(timeout * 1000)):
            return None
        return self.s.recv_multipart()

    def ask(self, frames, what, delim=False):
        """Sends a request, returns (request id frame, status object); checks
        the reply's frames (§5)."""
        self.send(([b""] if delim else []) + frames)
        f = self.recv()
        if f is None:
            expect(False, f"{what}: no reply")
            return None, {}
        if delim:
            same(f[:1], [b""], f"{what}: the delimiter comes back")
            f = f[1:]
        same(len(f), 3, f"{what}: reply frames")
        same(f[0], V, f"{what}: reply version")
        try:
            st = json.loads(f[2])
        except ValueError:
            expect(False, f"{what}: status is not JSON: {f[2][:80]!r}")
            return f[1], {}
        expect(not f[2].endswith(b"\n"), f"{what}: no trailing newline")
        return f[1], st

    def events(self, body, ct=ND, r=None, what="EVENTS"):
        r = r or rid()
        got, st = self.ask([V, b"EVENTS", r, ct, body], what)
        same(got, r, f"{what}: reply request id")
        return st


def error(st, code, what):
    """An error reply (§5.3): exactly status, error, message."""
    same((st.get("status"), st.get("error")), ("error", code), what)
    same(sorted(st), ["error", "message", "status"], f"{what}: members")
    expect(isinstance(st.get("message"), str) and st["message"], f"{what}: a message")


def ok_reply(st, what):
    """The ok reply of EVENTS (§5.1): counts add up, outcomes in item order."""
    same(st.get("status"), "ok", what)
    for m in ("submission", "items", "accepted", "duplicate", "quarantined"):
        expect(isinstance(st.get(m), int), f"{what}: {m} is an integer")
    expect("replay" not in st or st["replay"] is True, f"{what}: replay is absent or true")
    out = st.get("outcomes", [])
    same(len(out), st.get("items"), f"{what}: one outcome per item")
    same([o.get("item") for o in out], list(range(len(out))), f"{what}: item order")
    for name in ("accepted", "duplicate", "quarantined"):
        same(sum(o.get("outcome") == name for o in out), st.get(name), f"{what}: {name}")
    for o in out:
        expect(("reason" in o) == (o.get("outcome") == "quarantined"),
               f"{what}: a reason exactly for quarantined items: {o}")
    return out


def ev(i, run, **extra):
    e = {"id": f"conf-{run}-{i}", "time": "2026-10-06T08:00:12Z", "severity": "high",
         "message": f"conformance event {i}"}
    e.update(extra)
    return e


def nd(events):
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def main():
    run = uuid.uuid4().hex[:10]
    c = Conn()

    # ---- PING and whoami (§5.2) ---------------------------------------
    r = rid()
    got, st = c.ask([V, b"PING", r, b"", b""], "PING")
    same(got, r, "PING: request id")
    same((st.get("status"), st.get("pong"), st.get("protocol")), ("ok", True, "1.1"),
         "pong announces protocol 1.1")
    expect(isinstance(st.get("server"), str) and isinstance(st.get("in_flight"), int),
           "pong: server and in_flight")
    w = st.get("whoami", {})
    same((w.get("mechanism"), w.get("supplier"), w.get("key_active")),
         ("CURVE", SUPPLIER, True), "whoami")
    expect(isinstance(w.get("key_fingerprint"), str) and len(w["key_fingerprint"]) == 32,
           "whoami: a 32-hex-digit key fingerprint")
    # The same with the delimiter, as a REQ socket would send it (§1).
    r = rid()
    got, st = c.ask([V, b"PING", r, b"", b""], "PING with delimiter", delim=True)
    same((got, st.get("pong")), (r, True), "PING with delimiter")

    # ---- errors, one per check, in the order of §2 ---------------------
    got, st = c.ask([V, b"EVENTS", rid(), ND], "4 frames")
    error(st, "bad_frames", "4 frames")
    got, st = c.ask([b"bevis/2", b"PING", rid(), b"", b""], "version")
    error(st, "unsupported_version", "version bevis/2")
    got, st = c.ask([V, b"PING", b"has space", b"", b""], "request id")
    error(st, "bad_request_id", "request id with a space")
    same(got, b"", "bad_request_id: the reply's request id is empty")
    got, st = c.ask([V, b"PING", b"x" * 129, b"", b""], "long request id")
    error(st, "bad_request_id", "request id of 129 bytes")
    got, st = c.ask([V, b"events", rid(), ND, b""], "lower case command")
    error(st, "unknown_command", "command in lower case")
    # Which error wins (§2): a bad version beats a bad request id; a bad
    # request id beats a bad command; PING skips the rest.
    got, st = c.ask([b"bevis/9", b"NOPE", b"", b"", b""], "several faults")
    error(st, "unsupported_version", "several faults: the version wins")
    got, st = c.ask([V, b"NOPE", b"", b"", b""], "id and command")
    error(st, "bad_request_id", "bad id and bad command: the id wins")
    got, st = c.ask([V, b"PING", rid(), b"text/plain", b"x" * 100], "PING ignores the rest")
    same(st.get("pong"), True, "PING ignores content type and body")
    big = b"x" * (MAX_MESSAGE + 1)
    st = c.events(big, ct=b"text/plain", what="too large")
    error(st, "too_large", "over max_message_size, even with a bad content type")
    st = c.events(b"", ct=b"text/plain", what="content type")
    error(st, "unsupported_content_type", "text/plain")
    st = c.events(b"", ct=b"application/json; charset=latin1", what="charset")
    error(st, "unsupported_content_type", "charset latin1")
    expect("charset" in st.get("message", ""), "the charset refusal says charset")
    st = c.events(nd([ev(i, run) for i in range(MAX_ITEMS + 1)]), what="too many items")
    error(st, "too_many_items", "max_items + 1 items")

    # ---- outcomes (§5.1, §8) ------------------------------------------
    item_nul = b'{"id":"conf-%s-nul","time":"2026-10-06T08:00:12Z","m":"a\\u0000"}' % \
        run.encode()
    item_sur = b'{"id":"conf-%s-sur","time":"2026-10-06T08:00:12Z","\\ud800k":1}' % \
        run.encode()
    body = (nd([ev(0, run), ev(1, run), ev(0, run),
                ev(3, run, time="2026-10-05T25:61:00Z"),
                ev(4, run, supplier="somebody-else")])
            + item_nul + b"\n" + item_sur + b"\n" + b"[1,2]\n\n  \r\n" + b"{\"id\":\n")
    r = rid()
    st = c.events(body, r=r, what="outcomes")
    out = ok_reply(st, "outcomes")
    same([o.get("outcome") for o in out],
         ["accepted", "accepted", "duplicate", "quarantined", "quarantined", "quarantined",
          "quarantined", "quarantined", "quarantined"], "outcomes, blank lines skipped")
    same([o.get("id") for o in out],
         [f"conf-{run}-0", f"conf-{run}-1", f"conf-{run}-0", f"conf-{run}-3",
          f"conf-{run}-4", None, None, None, None],
         "ids, also of quarantined items whose id could be read (§5.1)")
    if len(out) == 9:
        same(out[3]["reason"], "field 'time' is not an RFC 3339 date-time: "
             "'2026-10-05T25:61:00Z'", "reason: time")
        same(out[4]["reason"], f"supplier mismatch: item names 'somebody-else', key "
             f"belongs to '{SUPPLIER}'", "reason: supplier mismatch")
        # Byte offsets are 0-based and point at the start of the bad
        # sequence (§8).
        at_nul, at_sur = item_nul.index(b"\\u0000"), item_sur.index(b"\\ud800")
        same(out[5]["reason"], "field 'm' holds \\u0000 at byte %d" % at_nul,
             "reason: \\u0000, 0-based offset")
        same(out[6]["reason"], "a member name holds a lone surrogate escape '\\ud800' at "
             "byte %d" % at_sur, "reason: lone surrogate in a name")
        same(out[7]["reason"], "item must be a JSON object, got array", "reason: array")
        same(out[8]["reason"], "invalid JSON: unexpected end of item", "reason: cut item")
    first = st

    # ---- replay and conflict (§6.2) -----------------------------------
    st = c.events(body, r=r, what="replay")
    same(st, dict(first, replay=True), "replay: the stored outcome, word for word")
    st = c.events(body, ct=JS, r=r, what="replay as JSON")
    error(st, "request_id_conflict", "same body, same id, another content type")
    st = c.events(body + b"\n", r=r, what="conflict")
    error(st, "request_id_conflict", "another body under the same id")
    st = c.events(body, ct=b"Application/X-NDJSON; Charset=\"utf-8\"", what="new id")
    out = ok_reply(st, "resend under a new id, with a charset")
    same((st.get("accepted"), st.get("duplicate"), "replay" in st), (0, 3, False),
         "resend under a new id: duplicates")

    # ---- STATUS (§5.6) -------------------------------------------------
    got, st = c.ask([V, b"STATUS", r, b"", b""], "STATUS")
    same(got, r, "STATUS: reply request id")
    want = {k: v for k, v in first.items()}
    want["state"] = "committed"
    same(st, want, "STATUS: the stored outcome, with state committed")
    got, st = c.ask([V, b"STATUS", b"never-" + rid(), b"", b""], "STATUS unknown")
    same(st, {"status": "ok", "state": "unknown"}, "STATUS of an id never sent")

    # ---- busy (§5.4) ---------------------------------------------------
    # Requests in flight at once, each a good part of the supplier's budget:
    # some are answered busy, nothing of those is stored, and a resend
    # under the same id goes through.
    size = INFLIGHT // 2 + 1
    pending = {}
    for k in range(8):
        evs, n = [], 0
        while n < size:
            e = ev(f"busy-{k}-{len(evs)}", run, pad="p" * 20000)
            evs.append(e)
            n += len(json.dumps(e)) + 1
        r = rid()
        pending[r] = [V, b"EVENTS", r, ND, nd(evs)]
        c.send(pending[r])
    busy = 0
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        f = c.recv(30)
        if f is None:
            break
        st = json.loads(f[2])
        if st.get("status") == "busy":
            busy += 1
            same(sorted(st), ["message", "retry_after_ms", "status"], "busy: members")
            expect(isinstance(st.get("retry_after_ms"), int), "busy: retry_after_ms")
            time.sleep(st.get("retry_after_ms", 500) / 1000)
            c.send(pending[f[1]])
        elif f[1] in pending:
            ok_reply(st, "a request after busy")
            same(st.get("duplicate"), 0, "nothing of a busy request was stored")
            del pending[f[1]]
    same(len(pending), 0, "every request answered ok in the end")
    expect(busy > 0, "busy: at least one request answered busy")

    print(f"conformance: {checked} checks, {len(failures)} failed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
