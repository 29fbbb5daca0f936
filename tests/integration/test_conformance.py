"""Issue 15, item 12: tests/conformance/client.py, a client written from
docs/PROTOCOL.md alone, against a real bevisd over CURVE. It causes every
reply a client can cause (errors, outcomes, replay, conflict, busy, STATUS,
whoami) and fails where the document and the daemon disagree."""
import os
import subprocess
import sys

from bevistest import ROOT, eq
from test_curve import Keys, curve_daemon

LIMITS = {"max_message_size": 2 * 1024 * 1024, "max_items": 50,
          "supplier_inflight_bytes": 1024 * 1024}


def test_client_written_from_the_document(cluster):
    db = cluster.new_database(suppliers=())
    keys = Keys()
    keys.supplier(db, "conformance")
    _, sec = keys.suppliers["conformance"]
    client_key = keys.write("client.key", sec, 0o600)
    server_pub = keys.write("server.pub", keys.server_pub, 0o644)
    d = curve_daemon(db, keys, **LIMITS)
    try:
        env = dict(os.environ, BEVIS_ENDPOINT=d.endpoint, BEVIS_SERVER_KEY=server_pub,
                   BEVIS_CLIENT_KEY=client_key, BEVIS_SUPPLIER="conformance",
                   BEVIS_MAX_MESSAGE_SIZE=str(LIMITS["max_message_size"]),
                   BEVIS_MAX_ITEMS=str(LIMITS["max_items"]),
                   BEVIS_SUPPLIER_INFLIGHT_BYTES=str(LIMITS["supplier_inflight_bytes"]))
        out = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "conformance",
                                                           "client.py")],
                             capture_output=True, text=True, timeout=300, env=env)
        print("  " + (out.stdout.strip().splitlines() or ["(no output)"])[-1])
        eq(out.returncode, 0, "conformance client:\n" + out.stdout + out.stderr)
    finally:
        eq(d.stop(), 0, "bevisd exit code")
