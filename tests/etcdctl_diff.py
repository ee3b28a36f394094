#!/usr/bin/python3
"""tests/etcdctl_diff.py - zkvctl's get, put, del and txn against the real etcdctl 3.4.

usage: /usr/bin/python3 tests/etcdctl_diff.py --zkv-node build/zkv-node
                                              --zkvctl build/zkvctl --group NAME [--keep]

Starts a single-member etcd (/usr/bin/etcd, 3.4) and a single-member zkv-node
(as tests/hashkv_diff.py does), runs the same command lines through etcdctl
against etcd and through zkvctl against zkv, and requires the same stdout,
stderr and exit code from both, byte for byte, in every -w format a case
names. Both stores start empty, so the revisions agree; what differs by
nature is left out: the header's cluster id, member id and raft term (the
same placeholder replaces them in both).

Groups (each its own servers, so that they run in parallel):
  sort  get --sort-by / --order, with and without --limit, over a key range,
        --prefix and --from-key; their errors; in txn request lines
  get   --rev, --limit, --keys-only, --print-value-only, --from-key,
        --prefix, --consistency, a range end, -w table, the errors
  put   --prev-kv, --ignore-value, --ignore-lease, --lease, stdin values
  del   --prev-kv, --prefix, --from-key, a range end
  txn   -i/--interactive, both branches, request lines with flags
  hex   --hex in every format, on keys and values that are not text

Known version differences, turned into zkvctl's form before comparing:
zkvctl prints as etcdctl 3.5/3.6, and etcdctl 3.4 differs in
- a txn's JSON: 3.4 names each response by its Go field (`"Response":
  {"ResponseRange":...}`), 3.5 by its proto name (`{"response_range":...}`);
- `-w fields --hex`: 3.4 prints the ids and leases in decimal, 3.5 in hex (the
  leases as %016x);
- 3.4's client logs a warning line (JSON, `{"level":"warn",...}`) on stderr
  before the `Error:` of a request that failed.

The differences zkvctl documents (docs/OPERATIONS.md, "Where zkvctl differs
from etcdctl") are allowed where a case says so: exit 128 where etcdctl exits
4 (a bad --order, --sort-by or --consistency, -w table of a KV reply, which
zkvctl refuses before sending anything).

On the first difference it prints the command line and both outputs and
exits 1; otherwise one summary line, exit 0.
"""
import argparse
import atexit
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hashkv_diff                                  # noqa: E402  (its servers)

ETCDCTL = "/usr/bin/etcdctl"
FORMATS = ("simple", "json", "fields")


class Differ:
    """Runs each command line through both CLIs and compares."""

    def __init__(self, etcd_endpoint, zkv_endpoint, zkvctl):
        self.etcd = [ETCDCTL, "--endpoints", etcd_endpoint]
        self.zkv = [zkvctl, "--endpoints", zkv_endpoint]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL")}
        self.env["ETCDCTL_API"] = "3"
        self.cases = 0

    @staticmethod
    def normalise(text):
        """The header fields that differ by nature, as placeholders."""
        text = re.sub(rb'"(cluster_id|member_id|raft_term)":\d+', rb'"\1":N', text)
        text = re.sub(rb'"(ClusterID|MemberID|RaftTerm)" : [0-9a-f]+', rb'"\1" : N', text)
        return text

    def run(self, argv, stdin=b""):
        return subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=self.env, timeout=30)

    @staticmethod
    def as_35(text, hex_fields):
        """etcdctl 3.4's stdout in 3.5's form (see the version differences)."""
        if hex_fields:
            text = re.sub(rb'("(?:Prev)?Lease" : )(\d+)',
                          lambda m: m.group(1) + b"%016x" % int(m.group(2)), text)
        for go, proto in ((b"ResponseRange", b"response_range"), (b"ResponsePut", b"response_put"),
                          (b"ResponseDeleteRange", b"response_delete_range"),
                          (b"ResponseTxn", b"response_txn")):
            text = text.replace(b'{"Response":{"%s":' % go, b'{"Response":{"%s":' % proto)
        return text

    def check(self, args, stdin=b"", bad_feature=False):
        """args (str or bytes each) through both; bad_feature: etcdctl's exit 4
        is zkvctl's 128 (its documented deviation)."""
        args = [a.encode() if isinstance(a, str) else a for a in args]
        e = self.run(self.etcd + args, stdin)
        z = self.run(self.zkv + args, stdin)
        self.cases += 1
        hex_fields = b"--hex" in args and b"fields" in args
        e_out = self.normalise(self.as_35(e.stdout, hex_fields))
        e_err = re.sub(rb'(?m)^\{"level":"warn".*\n', b"", e.stderr)
        z_out = self.normalise(z.stdout)
        code_ok = e.returncode == z.returncode or (
            bad_feature and e.returncode == 4 and z.returncode == 128)
        if code_ok and e_out == z_out and e_err == z.stderr:
            return z
        line = b" ".join(args).decode("utf-8", "backslashreplace")
        print("etcdctl_diff: `%s` differs%s" % (
            line, " (stdin %r)" % stdin if stdin else ""), file=sys.stderr)
        print("etcdctl: exit %d\n  stdout: %r\n  stderr: %r" % (e.returncode, e.stdout, e.stderr),
              file=sys.stderr)
        print("zkvctl:  exit %d\n  stdout: %r\n  stderr: %r" % (z.returncode, z.stdout, z.stderr),
              file=sys.stderr)
        raise hashkv_diff.Failure(line)

    def each_format(self, args, stdin=b"", formats=FORMATS, bad_feature=False):
        for fmt in formats:
            self.check(list(args) + ["-w", fmt], stdin, bad_feature)

    def txn(self, text, args=(), formats=FORMATS):
        self.each_format(["txn"] + list(args), text.encode() if isinstance(text, str) else text,
                         formats)


def setup_sort(d):
    """Keys whose versions, revisions and values tie in places."""
    d.check(["put", "a", "3"])                  # rev 2
    d.check(["put", "b", "1"])                  # rev 3
    d.check(["put", "c", "2"])                  # rev 4
    d.check(["put", "b", "11"])                 # rev 5: b version 2
    d.check(["put", "d", "2"])                  # rev 6: d's value is c's
    d.txn('\nput e 5\nput f 0\n\n\n', formats=("simple",))    # rev 7: e, f created together
    d.check(["put", "c", "22"])                 # rev 8
    d.check(["put", "c", "2"])                  # rev 9: c version 3
    d.check(["put", "g", ""])                   # rev 10: an empty value
    d.check(["put", "h/1", "x"])                # rev 11
    d.check(["put", "h/2", "y"])                # rev 12


def group_sort(d):
    setup_sort(d)
    selections = (["a", "z"], ["--prefix", "h/"], ["--from-key", "c"], ["--prefix", ""])
    for selection in selections:
        for target in ("", "CREATE", "KEY", "MODIFY", "VALUE", "VERSION"):
            for order in ("", "ASCEND", "DESCEND"):
                for limit in (None, "2"):
                    args = ["get"] + selection
                    if target:
                        args.append("--sort-by=" + target)
                    if order:
                        args.append("--order=" + order)
                    if limit:
                        args.append("--limit=" + limit)
                    d.check(args + ["-w", "json"])
    # The other formats, and flags that meet the sort
    for extra in (["--sort-by=VERSION"], ["--sort-by=MODIFY", "--order=DESCEND", "--limit=3"],
                  ["--sort-by=VALUE", "--order=DESCEND", "--limit=4"],
                  ["--order=DESCEND", "--limit=1"],
                  ["--sort-by=VALUE", "--keys-only"],
                  ["--sort-by=VALUE", "--keys-only", "--order=DESCEND", "--limit=3"],
                  ["--sort-by=CREATE", "--order=DESCEND", "--rev=8"],
                  ["--sort-by=version", "--order=descend"], ["--sort-by=Modify", "--order=Ascend"],
                  ["--sort-by=KEY", "--order=ASCEND", "--limit=2"],
                  ["--sort-by=VALUE", "--order=ASCEND", "--limit=-1"], ["--limit=-1"]):
        d.each_format(["get", "--prefix", ""] + extra)
    d.check(["get", "--prefix", "", "--sort-by=VALUE", "--order=DESCEND",
             "--print-value-only"])
    d.check(["get", "--prefix", "", "--sort-by=VERSION", "--limit=3", "--print-value-only"])
    # Their errors (etcdctl exits 4, zkvctl 128), after the other checks
    d.check(["get", "a", "--order=UP"], bad_feature=True)
    d.check(["get", "a", "--sort-by=NAME"], bad_feature=True)
    d.check(["get", "a", "--sort-by=NAME", "--order=UP"], bad_feature=True)
    d.check(["get", "a", "--order="])
    d.check(["get", "--order=UP"])              # no key: the key's error first
    d.check(["get", "a", "b", "--prefix", "--order=UP"])
    # In txn request lines
    d.txn('\nget --prefix "" --sort-by=MODIFY --order=DESCEND --limit=3\n'
          'get a z --sort-by=VALUE\n\n\n')
    d.txn('mod("a") = "2"\n\nget --prefix "" --sort-by=VERSION --order=DESCEND\n\n'
          'get --from-key c --sort-by=CREATE --order=DESCEND --keys-only --limit=2\n\n')


def group_get(d):
    setup_sort(d)
    for args in (["a"], ["a", "c"], ["zz"], ["--prefix", "h/"], ["--prefix", ""],
                 ["--from-key", "d"], ["--from-key", ""], ["a", "--limit=2"],
                 ["--prefix", "", "--limit=3"], ["a", "z", "--limit=0"],
                 ["--prefix", "", "--keys-only"], ["--from-key", "c", "--keys-only", "--limit=2"],
                 ["c", "--rev=4"], ["c", "--rev=8"], ["--prefix", "", "--rev=5"], ["c", "--rev=0"],
                 ["--prefix", "", "--consistency=s"], ["c", "--consistency=l"]):
        d.each_format(["get"] + args)
    for args in (["c"], ["--prefix", ""], ["--prefix", "", "--keys-only"], ["c", "--rev=4"]):
        d.check(["get", "--print-value-only"] + args)
    d.check(["get", "--print-value-only", "c", "-w", "json"])
    d.check(["get", "--print-value-only", "c", "-w", "fields"])
    d.check(["get", "c", "--rev=99"])
    d.check(["get", "c", "-w", "table"], bad_feature=True)
    d.check(["get", "c", "--consistency=x"], bad_feature=True)
    d.check(["get"])
    d.check(["get", "a", "b", "--prefix"])
    d.check(["get", "a", "--prefix", "--from-key"])
    d.check(["get", "a", "--rev=-1"])
    d.check(["compaction", "5"])
    d.check(["get", "c", "--rev=4"])
    d.each_format(["get", "c", "--rev=5"])


def group_put(d):
    d.each_format(["put", "k", "v1"])
    d.each_format(["put", "k", "v2", "--prev-kv"])
    d.each_format(["put", "new", "v", "--prev-kv"])
    d.each_format(["put", "k", "--ignore-value"])
    d.each_format(["put", "k", "--ignore-value", "--prev-kv"])
    d.each_format(["put", "k", "v3", "--ignore-lease"])
    d.each_format(["put", "k", "v4", "--lease=0"])
    d.check(["get", "k", "-w", "json"])
    d.check(["put", "k", "--prev-kv"], stdin=b"from stdin\nand more")
    d.check(["put", "stdin"], stdin=b"")
    d.check(["put", "--", "dash", "-v"])
    d.check(["put", "k", "v", "--ignore-value"])
    d.check(["put", "missing", "--ignore-value"])
    d.check(["put", "missing", "v", "--ignore-lease"])
    d.check(["put", "k", "v", "--lease=1"])
    d.check(["put", "k", "v", "--lease=1", "--ignore-lease"])
    d.check(["put", "k", "v", "--lease=zz"])
    d.check(["put"])
    d.each_format(["get", "--prefix", ""])
    # Last: etcdctl writes before it refuses the format, zkvctl refuses first
    d.check(["put", "t", "v", "-w", "table"], bad_feature=True)


def group_del(d):
    setup_sort(d)
    d.each_format(["del", "zz"])
    d.each_format(["del", "a", "--prev-kv"])
    d.each_format(["del", "b", "c"])
    d.each_format(["del", "--prefix", "h/", "--prev-kv"])
    d.each_format(["del", "--from-key", "f", "--prev-kv"])
    d.check(["del", "d"])
    d.check(["del"])
    d.check(["del", "a", "b", "--prefix"])
    d.check(["del", "a", "--prefix", "--from-key"])
    d.each_format(["del", "--prefix", "", "--prev-kv"])
    d.check(["del", "a", "-w", "table"], bad_feature=True)


def group_txn(d):
    d.check(["put", "k", "v"])
    d.check(["put", "n", "1"])
    ok = ('value("k") = "v"\nver("n") > "0"\n\n'
          'put k w --prev-kv\nget --prefix "" --limit=1\ndel n --prev-kv\nget k --keys-only\n\n'
          'put never x\n\n')
    d.txn(ok)
    d.txn('value("k") = "v"\n\nput never x\n\nget k --rev=2\nget --from-key "" --keys-only\n'
          'put k2 "a b" --prev-kv\ndel k --prev-kv\n\n')
    d.txn('\n\n\n')
    d.txn('c("k2") > "0"\n\nget k2\n\n\n', args=["-i"])
    d.txn('m("k2") = "0"\n\n\nget k2\n\n', args=["--interactive"])
    d.txn('create("k2") < "1"\nmod("k2") != "1"\n\n\nput k3 z\n\n', args=["-i"])
    d.check(["txn"], stdin=b'value("k2") = "a b"\n')
    d.check(["txn"], stdin=b'bogus\n\n\n')
    d.check(["txn"], stdin=b'\nput\n\n\n')
    d.check(["txn"], stdin=b'\nfrobnicate k\n\n\n')
    d.txn('\nget k2 --consistency=s --rev=0\nget --prefix "" --keys-only=true\n\n\n',
          formats=("simple",))
    d.each_format(["get", "--prefix", ""])
    d.check(["txn", "-w", "table"], stdin=b'\n\n\n', bad_feature=True)


def group_hex(d):
    key, value = b"k\x01\xff", b"v\x00alue"[0:1] + b"\x02\xfe"
    d.check(["put", key, value])
    d.each_format(["put", key, b"\xc3\xa9t\xc3\xa9", "--prev-kv", "--hex"])
    d.each_format(["get", key, "--hex"])
    d.each_format(["get", "--prefix", "k", "--hex", "--keys-only"])
    d.check(["get", key, "--hex", "--print-value-only"])
    d.txn('\nget --prefix k\nput k2 x --prev-kv\n\n\n', args=["--hex"])
    d.each_format(["del", "--prefix", "k", "--prev-kv", "--hex"])


GROUPS = {"sort": group_sort, "get": group_get, "put": group_put, "del": group_del,
          "txn": group_txn, "hex": group_hex}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zkv-node", required=True, help="path of the zkv-node binary")
    ap.add_argument("--zkvctl", required=True, help="path of the zkvctl binary")
    ap.add_argument("--group", required=True, choices=sorted(GROUPS))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    args = ap.parse_args()
    cleanup = hashkv_diff.CLEANUP
    atexit.register(cleanup.run)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _: sys.exit(128 + signum))
    cleanup.keep = args.keep
    cleanup.tmp = tempfile.mkdtemp(prefix="etcdctl_diff.")
    started = time.monotonic()
    try:
        _, eclient, _ = hashkv_diff.start_etcd(cleanup.tmp)
        etcd_endpoint = eclient._url            # python3-etcd3's "host:port"
        _, zkv, _ = hashkv_diff.start_zkv(cleanup.tmp, os.path.abspath(args.zkv_node))
        differ = Differ(etcd_endpoint, zkv.endpoint, os.path.abspath(args.zkvctl))
        GROUPS[args.group](differ)
    except hashkv_diff.Failure:
        return 1
    except RuntimeError as e:       # a server did not come up
        print("etcdctl_diff: %s" % e, file=sys.stderr)
        return 2
    finally:
        cleanup.run()
    print("etcdctl_diff: group %s: %d command lines print the same through etcdctl and "
          "zkvctl, %.1f s" % (args.group, differ.cases, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
