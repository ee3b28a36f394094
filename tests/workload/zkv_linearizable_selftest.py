#!/usr/bin/python3
"""tests/workload/zkv_linearizable_selftest.py — the history checker (tests/workload/zkv_linearizable.py)
against the hand-made histories of tests/histories.

usage: /usr/bin/python3 tests/workload/zkv_linearizable_selftest.py [DIR]

Every ok_*.jsonl must pass (exit 0); every bad_*.jsonl must be reported as a
violation (exit 1) and, when its meta record names "expect_violation" (a
name or a list of names), each of those among the violations found. Any
other file name ending in .jsonl is an error, so that none is skipped
silently. Prints one line per file; exits 0 only if all of them are right.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "zkv_linearizable.py")
HISTORIES = os.path.join(os.path.dirname(HERE), "histories")


def expected_names(path):
    """The violation names the history's meta record says must be found."""
    with open(path, encoding="utf-8") as f:
        names = json.loads(f.readline()).get("expect_violation", [])
    return [names] if isinstance(names, str) else names


def check(path):
    """None when the checker judges path as its name says, else what went wrong."""
    name = os.path.basename(path)
    if not name.startswith(("ok_", "bad_")):
        return "neither ok_ nor bad_"
    want = 0 if name.startswith("ok_") else 1
    run = subprocess.run([sys.executable, CHECKER, path, "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=60)
    if run.returncode != want:
        return "exit %d, expected %d:\n%s" % (run.returncode, want, run.stdout.rstrip())
    if want == 1:
        found = json.loads(run.stdout.splitlines()[-1])["by_name"]
        missing = [n for n in expected_names(path) if n not in found]
        if missing:
            return "no %s among the violations (%s)" % (
                ", ".join(repr(n) for n in missing), ", ".join(found))
    return None


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else HISTORIES
    files = sorted(f for f in os.listdir(directory) if f.endswith(".jsonl"))
    if not files:
        print("zkv-check-selftest: no histories in %s" % directory)
        return 1
    failed = 0
    for name in files:
        problem = check(os.path.join(directory, name))
        print("%s %s%s" % ("FAIL" if problem else "ok  ", name,
                           ": " + problem if problem else ""))
        failed += problem is not None
    print("zkv-check-selftest: %d of %d histories judged right" % (len(files) - failed,
                                                                   len(files)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
