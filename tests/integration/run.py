"""Runs every test_* function of tests/integration/test_*.py against one real
PostgreSQL cluster. Prints one line per test and a closing
'N passed, N failed' line; exits 1 if any failed."""
import importlib.util
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bevistest  # noqa: E402


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    only = sys.argv[1:]
    tests = []
    for fn in sorted(os.listdir(here)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fn[:-3], os.path.join(here, fn))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for name in dir(mod):
            if name.startswith("test_") and callable(getattr(mod, name)):
                full = f"{fn[:-3]}.{name}"
                if not only or any(o in full for o in only):
                    tests.append((full, getattr(mod, name)))
    cluster = bevistest.Cluster()
    passed = failed = 0
    try:
        for full, fn in tests:
            t0 = time.time()
            try:
                fn(cluster)
                passed += 1
                print(f"PASS {full} ({time.time() - t0:.1f} s)", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {full} ({time.time() - t0:.1f} s)", flush=True)
                traceback.print_exc()
    finally:
        cluster.stop()
    print(f"integration: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
