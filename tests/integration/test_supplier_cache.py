"""Issue 10, item 7: a bevisd (re)started while PostgreSQL is down admits
the suppliers of its last load, from state_dir/suppliers, and spools their
requests; a damaged copy is ignored with a warning; once the database is
back the loader (retrying with a short backoff) takes over."""
import os
import stat
import time

import zmq

from bevistest import check, eq, event, ndjson, own_cluster, wait_for
from test_curve import Keys, curve_client, curve_daemon


def send(d, keys, name, rid, n=10, timeout=10):
    c = curve_client(d, keys, name)
    try:
        t0 = time.monotonic()
        rep = c.events(ndjson([event(i, supplier=name, prefix=rid) for i in range(n)]),
                       rid=rid.encode(), timeout=timeout)
        return rep, time.monotonic() - t0
    finally:
        c.close()


def test_a_restart_during_an_outage_keeps_suppliers_served(cluster):
    with own_cluster() as c:
        db = c.new_database(suppliers=())
        keys = Keys()
        keys.supplier(db, "skolplattform")
        keys.supplier(db, "stadsnat")
        d = curve_daemon(db, keys, spool_max_bytes="16MiB", spool_after_ms=300,
                         supplier_refresh=3600)
        try:
            rep, _ = send(d, keys, "skolplattform", "before")
            eq((rep["status"], rep["accepted"]), ("ok", 10), "before the outage")
            cache = os.path.join(d.state_dir, "suppliers")
            eq(oct(stat.S_IMODE(os.stat(cache).st_mode)), "0o600", "cache file mode")
            with open(cache) as f:
                lines = f.read().splitlines()
            ids = dict(db.sql("SELECT name, id FROM supplier"))
            eq(lines[:3], ["bevis-suppliers 1",
                           f"{ids['skolplattform']} skolplattform "
                           f"{keys.suppliers['skolplattform'][0].decode()}",
                           f"{ids['stadsnat']} stadsnat "
                           f"{keys.suppliers['stadsnat'][0].decode()}"], "cache lines")
            check(len(lines) == 4 and lines[3].startswith("sha256 "), lines)

            # The outage, and a crash and restart in the middle of it.
            c.pg_stop()
            d.kill()
            t0 = time.monotonic()
            d.restart()
            rep, _ = send(d, keys, "stadsnat", "during")
            took = time.monotonic() - t0
            eq(rep["status"], "spooled", f"a request after the restart: {rep}")
            check(took < 5, f"restart to spooled reply took {took:.1f} s")
            log = d.logtext(since_start=True)
            check("suppliers: the database is unreachable; admitting the 2 suppliers "
                  f"of the last load ({d.state_dir}/suppliers) until it answers" in log, log)
            # The database comes back: the loader, retrying every few
            # seconds at most (not supplier_refresh), reads it again, and the
            # spool replays.
            c.pg_start()
            wait_for(lambda: "suppliers: loaded from the database again: 2 active"
                     in d.logtext(since_start=True), 10, "the loader's next load")
            wait_for(lambda: db.count("submission", "request_id = 'during'") == 1, 15,
                     "the spooled request stored")
            eq(db.count("event", "source_event_id LIKE 'during-%'"), 10, "events once")
            rep, _ = send(d, keys, "skolplattform", "after")
            eq((rep["status"], rep["accepted"]), ("ok", 10), "after the outage")
        finally:
            d.stop()


def test_a_damaged_supplier_cache_is_ignored(cluster):
    with own_cluster() as c:
        db = c.new_database(suppliers=())
        keys = Keys()
        keys.supplier(db, "skolplattform")
        d = curve_daemon(db, keys, spool_max_bytes="16MiB", spool_after_ms=300)
        try:
            rep, _ = send(d, keys, "skolplattform", "before")
            eq(rep["status"], "ok", "before")
            cache = os.path.join(d.state_dir, "suppliers")
            with open(cache, "r+b") as f:
                data = f.read()
                f.seek(data.index(b"skolplattform"))
                f.write(b"S")           # one byte changed
            c.pg_stop()
            d.kill()
            d.restart()
            log = d.logtext(since_start=True)
            check(f"suppliers: ignoring the cached table: {cache}: checksum mismatch "
                  "(damaged file)" in log, log)
            check("every connection is refused until they are" in log, log)
            try:
                rep, _ = send(d, keys, "skolplattform", "refused", timeout=2)
                raise AssertionError(f"a reply without a trusted table: {rep}")
            except TimeoutError:
                pass
            # Back to normal as soon as the database is.
            c.pg_start()
            wait_for(lambda: "suppliers: 1 active with a key" in d.logtext(since_start=True),
                     10, "the loader's retry")
            rep, _ = send(d, keys, "skolplattform", "after")
            eq(rep["status"], "ok", "after the outage")
        finally:
            d.stop()
