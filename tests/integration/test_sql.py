"""The SQL-level tests: every tests/sql/*.sql file is a pgTAP script, run by
pg_prove on a freshly migrated database of the test cluster. Each script
runs in one transaction that it rolls back."""
import glob
import os
import re
import subprocess

from bevistest import ROOT, check


def test_pgtap_scripts(cluster):
    db = cluster.new_database(suppliers=())
    db.sql("CREATE EXTENSION pgtap")
    scripts = sorted(glob.glob(os.path.join(ROOT, "tests", "sql", "*.sql")))
    check(scripts, "no pgTAP scripts under tests/sql")
    out = subprocess.run(["pg_prove", "--verbose", "-h", cluster.sock, "-p", str(cluster.port),
                          "-U", "postgres", "-d", db.name] + scripts,
                         capture_output=True, text=True)
    failed = [line for line in out.stdout.splitlines() if line.startswith("not ok")]
    tests = re.search(r"Files=(\d+), Tests=(\d+)", out.stdout)
    print(f"  pgTAP: {tests.group(0) if tests else out.stdout[-300:]}, "
          f"{len(failed)} failed")
    check(out.returncode == 0 and "Result: PASS" in out.stdout,
          f"pg_prove failed:\n" + "\n".join(failed) + "\n" + out.stdout[-2000:] + out.stderr)
