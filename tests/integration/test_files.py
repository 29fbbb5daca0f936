"""Issue 10, item 15: a FIFO (or any non-regular file) named as the config
file or a key file is refused at once with a precise message, where opening
it used to block bevisd and bevisd -n forever."""
import os
import subprocess
import tempfile
import time

from bevistest import BEVIS, BEVISD, check, eq


def run_quick(cmd):
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    return out, time.monotonic() - t0


def test_a_fifo_as_config_or_key_file_is_refused_at_once(cluster):
    tmp = tempfile.mkdtemp(prefix="bevis-fifo-")
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo, 0o600)

    out, took = run_quick([BEVISD, "-n", "-c", fifo])
    eq((out.returncode, out.stdout), (1, ""), "bevisd -n -c FIFO")
    eq(out.stderr, f"{fifo}:0: cannot open: not a regular file (a FIFO)\n",
       "bevisd -n -c FIFO: message")
    check(took < 2, f"bevisd -n -c FIFO took {took:.1f} s")

    out, _ = run_quick([BEVISD, "-n", "-c", tmp])
    eq(out.stderr, f"{tmp}:0: cannot open: not a regular file (a directory)\n",
       "bevisd -n -c DIR: message")

    conf = os.path.join(tmp, "bevisd.conf")
    with open(conf, "w") as f:
        f.write(f"[bevisd]\nendpoint = tcp://127.0.0.1:1\ncurve_secret_key = {fifo}\n"
                f"ledger_key = {fifo}\nuser = nobody\n")
    # bevisd -n does not read keys, but it refuses a key path that is not a
    # regular file.
    out, took = run_quick([BEVISD, "-n", "-c", conf])
    eq((out.returncode, out.stdout, out.stderr),
       (1, "", f"{conf}: {fifo}: not a regular file (a FIFO)\n"), "bevisd -n, FIFO key")
    check(took < 2, f"bevisd -n took {took:.1f} s")
    out, took = run_quick([BEVISD, "-f", "-c", conf])
    eq(out.returncode, 1, f"bevisd with a FIFO as curve_secret_key: {out.stderr}")
    eq(out.stderr, f"{conf}: {fifo}: not a regular file (a FIFO)\n",
       "curve_secret_key FIFO: message")
    check(took < 2, f"bevisd took {took:.1f} s")

    # The CLI's key files too.
    out, took = run_quick([BEVIS, "send", "--server-key", fifo, "--key", fifo,
                           "--endpoint", "tcp://127.0.0.1:1", "/dev/null"])
    check(out.returncode != 0 and f"{fifo}: not a regular file (a FIFO)" in out.stderr,
          f"bevis send with FIFO key files: {out.returncode} {out.stderr}")
    check(took < 2, f"bevis send took {took:.1f} s")


def test_the_sample_config_says_what_the_code_does(cluster):
    """Issue 10, item 17: the comments of conf/bevisd.conf against the code
    (the values against the defaults: tests/unit/torture_config.c)."""
    from bevistest import ROOT
    sample = os.path.join(ROOT, "conf", "bevisd.conf")
    out, _ = run_quick([BEVISD, "-n", "-c", sample])
    eq((out.returncode, out.stdout, out.stderr), (0, "configuration OK\n", ""),
       "bevisd -n on the sample")
    text = open(sample).read()
    check("There is no CURVE" not in text, "the endpoint comment still denies CURVE")
    check("Suppliers authenticate with\n;   their CURVE keys" in text, "endpoint comment")
    check("A line may hold at most 197" in text, "line length")
    # Every line fits what it says.
    eq([n for n, line in enumerate(text.splitlines(), 1) if len(line) > 197], [],
       "lines over 197 characters")
