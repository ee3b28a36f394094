#!/usr/bin/python3
"""tests/workload/zkv_linearizable.py — checks a fault-injection history (tests/workload/zkv_workload.py)
for linearizability, lost writes and diverging members.

usage: /usr/bin/python3 tests/workload/zkv_linearizable.py HISTORY.jsonl [--json]

A revision-witness checker (the idea of Jepsen's revision-aware etcd
checker): zkv follows etcd, so every write carries a unique, global,
increasing revision, every read the revision it was served at, and every kv
read the revision of the write that produced it. Given those witnesses, the
revision order is the linearization, and checking it takes O(n log n):

  1. input sanity: put/cas values are unique (else the workload is broken);
  2. observations: every value read was written, by a write not known to
     have failed, invoked before the read completed, at one revision; a read
     of a write whose outcome is unknown resolves that write's revision;
  3. no two writes share a revision, across all keys;
  4. per key, every read at revision R sees exactly the latest write at or
     below R (gets, failed cas, deletes of nothing, the value a succeeded cas
     compared, and each member's final state); unknown-outcome writes never
     seen may explain reads that find the latest value gone (see check_key);
  5. real time: an op that started after another finished has a revision at
     least as high (strictly higher for a write);
  6. final state: every member has the same revision, keys and HashKV, and
     none is below the highest acknowledged write.

Violations, by name:
  phantom value                 a value read that no put/cas of that key wrote
  failed write visible          a value read whose write failed (or was a cas
                                whose compare was false)
  read from the future          a value read whose write was invoked only
                                after the read completed
  one write at two revisions    a value read at a mod other than its write's
                                acknowledged revision, or at two mods
  two writes at one revision    distinct writes (any keys) at one revision
  stale read                    a read at R saw an older write than the latest
                                one at or below R
  value newer than read revision  a read at R saw a write made above R
  lost write                    a read at R found the key absent although the
                                latest write at or below R set it, and no
                                unknown del is left to explain it (or the value
                                is seen again at a revision >= R)
  cas failed on expected value  a cas failed at R although the key held its
                                expected value there (same exceptions)
  cas succeeded on wrong value  a cas succeeded at r although at r-1 the key
                                did not hold its expected value
  real-time order               an op got a revision below (a write: at or
                                below) that of an op that completed before it
                                was invoked
  members differ                final revisions, keys or HashKVs differ
  acknowledged write lost       a member's final revision is below an
                                acknowledged write

Exit codes: 0 nothing wrong; 1 a violation (each reported with the ops
involved, the faults around them and the seed to repeat the run); 2 the
input cannot be read or is not a valid history. With --json the last line
of output is one JSON object with the counts and the reported violations.
"""
import argparse
import bisect
import json
import math
import sys
from collections import defaultdict
from operator import attrgetter

INF = math.inf
MAX_REPORTED = 20           # violations printed (and listed in the JSON)
MAX_FAULT_LINES = 10        # fault records printed per violation
MAX_KEYS_LISTED = 10        # differing keys named in "members differ"
FAULT_LEAD_NS = 1_000_000_000   # faults this long before the first op involved count
BY_WREV, BY_INVOKE, BY_COMPLETE = (attrgetter("wrev"), attrgetter("invoke"),
                                   attrgetter("complete"))

# What a read observed, for the per-key replay (check_key).
VALUE = "value"     # a kv (value, mod): get, final
ABSENT = "absent"   # no kv: get, final, del with deleted=0
NOT = "not"         # the value was not `expect`: cas with succeeded=false
EXPECT = "expect"   # the value was `expect` (mod unknown): a succeeded cas, at rev-1


class InputError(Exception):
    """The history cannot be checked: exit 2."""


class Op:
    """One operation record. `complete` is +inf for unknown outcomes (the
    recorded time, when the client gave up, is kept in `gave_up`). `wrev` is
    the revision at which the op wrote, when it is known to have written: the
    reply's for ok writes, the one observed for unknown puts/cas seen by a read."""

    __slots__ = ("index", "client", "member", "f", "key", "value", "expect",
                 "serializable", "invoke", "complete", "gave_up", "outcome", "rev", "found",
                 "deleted", "succeeded", "error", "wrev", "resolved_by")

    def is_write(self):
        """True for ok ops that wrote (a read-only cas or del of nothing did not)."""
        return self.outcome == "ok" and (
            self.f == "put" or (self.f == "cas" and self.succeeded)
            or (self.f == "del" and self.deleted > 0))

    def sets_value(self):
        """True for put/cas ops that may have stored their value."""
        return self.f in ("put", "cas") and self.outcome != "fail" and \
            not (self.outcome == "ok" and self.f == "cas" and not self.succeeded)


class Final:
    """A member's final state: kvs maps key -> (value, mod) at revision rev."""

    __slots__ = ("member", "rev", "kvs", "hashkv")
    complete = INF


class Read:
    """One thing a read saw of a key at revision R (see VALUE..EXPECT)."""

    __slots__ = ("rev", "complete", "kind", "value", "mod", "source")

    def __init__(self, rev, complete, kind, value, mod, source):
        self.rev, self.complete, self.kind = rev, complete, kind
        self.value, self.mod, self.source = value, mod, source


class Demand:
    """A segment of the per-key replay whose "gone" reads (check_key) need
    unknown writes to explain them: first_gone / first_absent are the first
    completion among those reads / among its absent ones (None when none)."""

    __slots__ = ("w", "gone", "first_gone", "first_absent")

    def __init__(self, w, gone):
        self.w, self.gone = w, gone
        self.first_gone = min(read.complete for read in gone)
        self.first_absent = min((read.complete for read in gone if read.kind == ABSENT),
                                default=None)


class Spares:
    """One key's unknown writes of one kind that no read saw, taken in
    invoke order."""

    __slots__ = ("ops", "used")

    def __init__(self, ops):
        self.ops, self.used = ops, 0

    def fits(self, deadline):
        return self.used < len(self.ops) and self.ops[self.used].invoke < deadline

    def take(self):
        self.used += 1

    def taken(self):
        return self.ops[:self.used]


class Violation:
    __slots__ = ("name", "key", "message", "items")

    def __init__(self, name, key, message, items):
        self.name, self.key, self.message, self.items = name, key, message, items


# ---------------------------------------------------------------- reading

TYPE_NAMES = {int: "an integer", str: "a string", bool: "a boolean"}


def _field(record, name, kind, line, required=True):
    """record[name], of type kind (int, str or bool: a bool is no int), or
    None when it is missing or null and not required."""
    value = record.get(name)
    if type(value) is kind:
        return value
    if value is None and not required:
        return None
    if value is None:
        raise InputError("line %d: %s has no %s" % (line, record.get("type"), name))
    raise InputError("line %d: %s is %r, not %s" % (line, name, value, TYPE_NAMES[kind]))


def _kv(value, line, what):
    if not isinstance(value, dict):
        raise InputError("line %d: %s is %r, not {value, mod}" % (line, what, value))
    return (_field(value, "value", str, line), _field(value, "mod", int, line))


def parse_op(record, line):
    op = Op()
    index = record.get("index")
    op.index = index if type(index) is int else "L%d" % line
    op.client, op.member = record.get("client"), record.get("member")
    op.f = _field(record, "f", str, line)
    if op.f not in ("put", "get", "del", "cas"):
        raise InputError("line %d: unknown f %r" % (line, op.f))
    op.key = _field(record, "key", str, line)
    op.outcome = _field(record, "outcome", str, line)
    if op.outcome not in ("ok", "fail", "unknown"):
        raise InputError("line %d: unknown outcome %r" % (line, op.outcome))
    op.invoke = _field(record, "invoke", int, line)
    recorded = _field(record, "complete", int, line, required=op.outcome != "unknown")
    if recorded is not None and recorded < op.invoke:
        raise InputError("line %d: completes before it is invoked" % line)
    op.complete = INF if op.outcome == "unknown" else recorded
    op.gave_up = recorded
    op.value = _field(record, "value", str, line, required=op.f in ("put", "cas"))
    op.expect = _field(record, "expect", str, line, required=op.f == "cas")
    op.serializable = op.f == "get" and \
        _field(record, "serializable", bool, line, required=False) is True
    op.error = record.get("error")
    op.rev = op.found = op.deleted = op.succeeded = op.wrev = op.resolved_by = None
    if op.outcome == "ok":
        op.rev = _field(record, "rev", int, line)
        if op.f == "get":
            if "found" not in record:
                raise InputError("line %d: get has no found" % line)
            found = record["found"]
            op.found = None if found is None else _kv(found, line, "found")
        elif op.f == "del":
            op.deleted = _field(record, "deleted", int, line)
        elif op.f == "cas":
            op.succeeded = _field(record, "succeeded", bool, line)
        if op.is_write():
            op.wrev = op.rev
    return op


def parse_final(record, line):
    final = Final()
    final.member = _field(record, "member", str, line)
    final.rev = _field(record, "rev", int, line)
    kvs = record.get("kvs")
    if not isinstance(kvs, dict):
        raise InputError("line %d: final kvs is %r, not an object" % (line, kvs))
    final.kvs = {key: _kv(kv, line, "kvs[%s]" % key) for key, kv in kvs.items()}
    final.hashkv = record.get("hashkv")
    return final


def load(path):
    """(meta, ops, faults, finals) from a JSONL history; raises InputError.
    Records of other types, and unknown fields, are ignored."""
    meta, ops, faults, finals = None, [], [], []
    decode = json.JSONDecoder().decode
    try:
        with open(path, encoding="utf-8") as f:
            for line, text in enumerate(f, 1):
                if not text.strip():
                    continue
                try:
                    record = decode(text)
                except json.JSONDecodeError as error:
                    raise InputError("line %d: not JSON (%s)" % (line, error.msg)) from None
                if not isinstance(record, dict):
                    raise InputError("line %d: not a JSON object" % line)
                kind = record.get("type")
                if meta is None:
                    if kind != "meta":
                        raise InputError("line %d: the first record must be the meta record"
                                         % line)
                    meta = record
                elif kind == "op":
                    ops.append(parse_op(record, line))
                elif kind == "fault":
                    faults.append((_field(record, "at", int, line), str(record.get("what"))))
                elif kind == "final":
                    finals.append(parse_final(record, line))
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(str(error)) from None
    if meta is None or not ops:
        raise InputError("no %s record" % ("meta" if meta is None else "operation"))
    faults.sort()
    return meta, ops, faults, finals


# ---------------------------------------------------------------- checking

class Checker:
    def __init__(self, meta, ops, faults, finals):
        self.meta, self.ops, self.faults, self.finals = meta, ops, faults, finals
        self.violations = []
        self.writer = {}            # value -> the put/cas op that wrote it
        self.resolved = 0           # unknown puts/cas given a revision by a read
        self.inferred = 0           # unknown writes taken as applied to explain reads
        started = meta.get("started")
        self.started = started if isinstance(started, int) else \
            min((op.invoke for op in ops), default=0)

    def report(self, name, key, message, items):
        self.violations.append(Violation(name, key, message, items))

    def run(self):
        self.check_unique_values()
        self.check_observations()
        self.check_unique_revisions()
        self.check_keys()
        self.check_real_time()
        self.check_finals()

    # -- 1
    def check_unique_values(self):
        for op in self.ops:
            if op.f in ("put", "cas"):
                other = self.writer.setdefault(op.value, op)
                if other is not op:
                    raise InputError("value %r written twice (ops %s and %s): the workload "
                                     "must write unique values" % (op.value, other.index,
                                                                   op.index))

    # -- 2
    def observations(self):
        """(key, value, mod, observer) for every kv read: gets, then finals."""
        for op in self.ops:
            if op.found is not None:
                yield op.key, op.found[0], op.found[1], op
        for final in self.finals:
            for key, (value, mod) in final.kvs.items():
                yield key, value, mod, final

    def check_observations(self):
        """Each value read must come from a write that may have happened, at
        one revision; unknown writes read get that revision (op.wrev)."""
        for key, value, mod, seen in self.observations():
            w = self.writer.get(value)
            what = "%s saw %s=%s (mod %d)" % (self.name(seen), key, value, mod)
            if w is None or w.key != key:
                self.report("phantom value", key, "%s, a value %s" % (
                    what, "no put or cas wrote" if w is None else
                    "written to key %s by %s, not to %s" % (w.key, self.name(w), key)),
                    [seen] + ([w] if w else []))
            elif not w.sets_value():
                self.report("failed write visible", key, "%s, written by %s, which %s" % (
                    what, self.name(w), "failed: it must not have been applied"
                    if w.outcome == "fail" else "did not succeed: its compare was false"),
                    [w, seen])
            else:
                if w.invoke >= seen.complete:
                    self.report("read from the future", key, "%s, written by %s, invoked "
                                "only at %s ms, after the read completed" % (
                                    what, self.name(w), self.ms(w.invoke)), [w, seen])
                if w.wrev is None:
                    w.wrev, w.resolved_by = mod, seen
                    self.resolved += 1
                if mod != w.wrev:
                    first = w.resolved_by
                    self.report("one write at two revisions", key, "%s, but %s" % (
                        what, "the write was acknowledged at rev %d" % w.wrev
                        if first is None else "%s saw it at mod %d" % (self.name(first),
                                                                       w.wrev)),
                        [w, seen] + ([first] if first else []))

    # -- 3
    def check_unique_revisions(self):
        writes = sorted((op for op in self.ops if op.wrev is not None), key=BY_WREV)
        i = 0
        while i < len(writes):
            j = i + 1
            while j < len(writes) and writes[j].wrev == writes[i].wrev:
                j += 1
            if j - i > 1:
                same = writes[i:j]
                keys = sorted({op.key for op in same})
                self.report("two writes at one revision", ",".join(keys), "%s all wrote at "
                            "rev %d; a revision belongs to one write" % (
                                ", ".join(self.name(op) for op in same), writes[i].wrev), same)
            i = j

    # -- 4
    def check_keys(self):
        writes, reads = defaultdict(list), defaultdict(list)
        spare_dels, spare_writes = defaultdict(list), defaultdict(list)
        for op in self.ops:
            f, key = op.f, op.key
            if op.wrev is not None:
                writes[key].append(op)
                if f == "cas":      # it compared its key's value to expect, at wrev-1
                    reads[key].append(Read(op.wrev - 1, op.complete, EXPECT, op.expect, None,
                                           op))
            elif op.outcome == "unknown" and f != "get":    # a write nobody saw
                (spare_dels if f == "del" else spare_writes)[key].append(op)
            if op.outcome != "ok":
                continue
            if f == "get":
                found = op.found
                reads[key].append(
                    Read(op.rev, op.complete, ABSENT, None, None, op) if found is None else
                    Read(op.rev, op.complete, VALUE, found[0], found[1], op))
            elif f == "del" and op.deleted == 0:
                reads[key].append(Read(op.rev, op.complete, ABSENT, None, None, op))
            elif f == "cas" and not op.succeeded:
                reads[key].append(Read(op.rev, op.complete, NOT, op.expect, None, op))
        keys = set(writes) | set(reads) | {key for final in self.finals for key in final.kvs}
        for final in self.finals:
            for key in keys:
                kv = final.kvs.get(key)
                reads[key].append(Read(final.rev, INF, ABSENT, None, None, final) if kv is None
                                  else Read(final.rev, INF, VALUE, kv[0], kv[1], final))
        for key in sorted(keys):
            self.check_key(key, sorted(writes[key], key=BY_WREV), reads[key],
                           sorted(spare_dels[key], key=BY_INVOKE),
                           sorted(spare_writes[key], key=BY_INVOKE))

    def check_key(self, key, writes, reads, spare_dels, spare_writes):
        """Replays one key. The known writes, in revision order, cut the
        revisions into segments; a read at R falls in the segment of W, the
        latest write at or below R, and must see W (its value, or absent for
        a delete or no write).

        Unknown writes never seen by a read count as not applied, but one of
        them may explain reads that find W's value gone: an unknown del an
        absent key (get, del of nothing, final), any unknown write (del, or
        put/cas of an unseen value) a cas failing on W's value. They are
        "gone" reads of W's segment, and pass if (a) each has a higher R
        than every read that saw W there, and (b) unknown writes invoked
        before they completed are left over for the segment (explain)."""
        revs = [op.wrev for op in writes]
        segments = defaultdict(lambda: ([], []))   # index of W -> (saw W, gone)
        for read in reads:
            i = bisect.bisect_right(revs, read.rev) - 1
            w = writes[i] if i >= 0 else None
            verdict = self.replay(key, read, w)
            if verdict is not None:
                segments[i][verdict].append(read)
        demands = []
        for i, (saw, gone) in sorted(segments.items()):
            if not gone:
                continue
            w, first = writes[i], min(gone, key=lambda read: read.rev)
            last = max(saw, key=lambda read: read.rev, default=None)
            if last is not None and first.rev <= last.rev:
                self.report(*self.gone_message(
                    key, w, first, "and %s still sees that value at rev %d, with no write in "
                    "between" % (self.name(last.source), last.rev), [last.source]))
            else:
                demands.append(Demand(w, gone))
        self.explain(key, demands, Spares(spare_dels), Spares(spare_writes))

    def explain(self, key, demands, dels, others):
        """Gives each demand unknown writes of the key: a del invoked before
        its first absent read completed, and something invoked before its
        first gone read completed (the same del, or else a put/cas nobody saw;
        for failed cas alone, a put/cas first, since only a del explains an
        absent key). Greedy, by deadline, earliest invoke first: exact for one
        kind of demand, since what fits one deadline fits every later one."""
        for demand in sorted(demands, key=lambda d: (d.first_gone, d.w.wrev)):
            if demand.first_absent is None:
                plan = [(others if others.fits(demand.first_gone) else dels, demand.first_gone)]
            elif dels.fits(demand.first_gone):
                plan = [(dels, demand.first_gone)]
            else:
                plan = [(dels, demand.first_absent), (others, demand.first_gone)]
            missing = [spares for spares, deadline in plan if not spares.fits(deadline)]
            if not missing:
                for spares, _ in plan:
                    spares.take()
                self.inferred += len(plan)
                continue
            # The read left unexplained: the first absent one when no del is
            # left for it, else the first gone one.
            absent = missing[0] is dels and demand.first_absent is not None
            first = min((read for read in demand.gone if read.kind == ABSENT or not absent),
                        key=lambda read: read.complete)
            used = dels.taken() + ([] if absent else others.taken())
            self.report(*self.gone_message(
                key, demand.w, first, "and no unknown %s of %s invoked before that read "
                "completed is left to explain it%s" % (
                    "del" if absent else "write", key,
                    " (%s already explain%s other reads)" % (
                        ", ".join(self.name(op) for op in used),
                        "s" if len(used) == 1 else "") if used else ""),
                used[:3]))

    def replay(self, key, read, w):
        """0 when read saw W, 1 when it saw W gone (check_key), None when it
        tells nothing about W or was reported here (or in check_observations)."""
        w_value = None if w is None or w.f == "del" else w.value
        if read.kind == ABSENT:
            return 0 if w_value is None else 1
        if read.kind == NOT:
            return 1 if w_value == read.value else None
        if read.kind == EXPECT:
            if w_value == read.value:
                return 0
            self.report("cas succeeded on wrong value", key, "%s succeeded at rev %d, "
                        "comparing to %s, but at rev %d %s" % (
                            self.name(read.source), read.rev + 1, read.value, read.rev,
                            self.state(key, w)), [read.source] + ([w] if w else []))
            return None
        x = self.writer.get(read.value)
        if x is None or x.key != key or x.wrev != read.mod:
            return None         # reported by check_observations
        if x is w:
            return 0
        what = "%s at rev %d saw %s=%s (mod %d)" % (self.name(read.source), read.rev, key,
                                                     read.value, read.mod)
        if x.wrev > read.rev:
            self.report("value newer than read revision", key, "%s, a value written after "
                        "the revision it was read at" % what, [read.source, x])
        else:
            self.report("stale read", key, "%s, but at rev %d %s" % (
                what, read.rev, self.state(key, w)), [read.source, w, x])
        return None

    def gone_message(self, key, w, first, why, extra):
        """The report() arguments for a segment whose gone reads fail."""
        latest = "the latest write at or below, %s at rev %d, set %s to %s" % (
            self.name(w), w.wrev, key, w.value)
        if first.kind == ABSENT:
            return ("lost write", key, "%s finds %s absent at rev %d, but %s, %s" % (
                self.name(first.source), key, first.rev, latest, why),
                [w, first.source] + extra)
        return ("cas failed on expected value", key, "%s failed at rev %d, but %s, its "
                "expected value, %s" % (self.name(first.source), first.rev, latest, why),
                [w, first.source] + extra)

    def state(self, key, w):
        """What key holds after write w (None: no write yet)."""
        if w is None:
            return "%s was absent (no write at or below)" % key
        if w.f == "del":
            return "%s was absent (deleted by %s at rev %d)" % (key, self.name(w), w.wrev)
        return "%s held %s (written by %s at rev %d)" % (key, w.value, self.name(w), w.wrev)

    # -- 5
    def check_real_time(self):
        """Sweep in time order: M is the highest revision of the ok ops that
        completed before B was invoked. B, ok and linearizable (or an unknown
        write resolved by a read: it took effect after its invocation), must
        not be served below M, nor written at or below M."""
        done = sorted((op for op in self.ops if op.outcome == "ok"), key=BY_COMPLETE)
        started = sorted((op for op in self.ops if (op.outcome == "ok" and not op.serializable)
                          or op.wrev is not None), key=BY_INVOKE)
        j, highest = 0, None
        for b in started:
            while j < len(done) and done[j].complete < b.invoke:
                if highest is None or done[j].rev > highest.rev:
                    highest = done[j]
                j += 1
            if highest is None:
                continue
            write = b.wrev is not None
            rev = b.wrev if write else b.rev
            if rev < highest.rev or (write and rev == highest.rev):
                self.report("real-time order", b.key, "%s, invoked at %s ms, was %s at rev "
                            "%d, but %s had completed at %s ms with rev %d: %s" % (
                                self.name(b), self.ms(b.invoke),
                                "written" if write else "served", rev, self.name(highest),
                                self.ms(highest.complete), highest.rev,
                                "a write comes after everything finished before it began"
                                if write else "a read sees everything finished before it "
                                "began"), [highest, b])

    # -- 6
    def check_finals(self):
        if not self.finals:
            return
        keys = sorted({key for final in self.finals for key in final.kvs
                       if any(other.kvs.get(key) != final.kvs.get(key)
                              for other in self.finals)})
        revs = {final.rev for final in self.finals}
        hashes = {final.hashkv for final in self.finals if final.hashkv is not None}
        if keys or len(revs) > 1 or len(hashes) > 1:
            parts = []
            if len(revs) > 1:
                parts.append("revisions %s" % self.per_member(lambda f: str(f.rev)))
            if len(hashes) > 1:
                parts.append("hashkv %s" % self.per_member(lambda f: str(f.hashkv)))
            for key in keys[:MAX_KEYS_LISTED]:
                parts.append("%s: %s" % (key, self.per_member(
                    lambda f: "%s mod %d" % f.kvs[key] if key in f.kvs else "absent")))
            if len(keys) > MAX_KEYS_LISTED:
                parts.append("%d more keys" % (len(keys) - MAX_KEYS_LISTED))
            self.report("members differ", None, "the final states differ: " + "; ".join(parts),
                        list(self.finals))
        acked = max((op for op in self.ops if op.is_write()), key=lambda op: op.rev,
                    default=None)
        for final in self.finals:
            if acked is not None and final.rev < acked.rev:
                self.report("acknowledged write lost", acked.key, "member %s ends at rev %d, "
                            "below %s acknowledged at rev %d: it lost committed writes" % (
                                final.member, final.rev, self.name(acked), acked.rev),
                            [acked, final])

    def per_member(self, show):
        return ", ".join("%s %s" % (final.member, show(final)) for final in self.finals)

    # ---------------------------------------------------------------- output

    def ms(self, ns):
        return "%.3f" % ((ns - self.started) / 1e6)

    def name(self, thing):
        if isinstance(thing, Final):
            return "final of %s" % thing.member
        return "%s #%s" % (thing.f, thing.index)

    def describe(self, thing, key):
        """One line for an op or a final record (showing key for the latter)."""
        if isinstance(thing, Final):
            text = "final %s rev %d" % (thing.member, thing.rev)
            if key is None:
                return text + " hashkv %s" % thing.hashkv
            kv = thing.kvs.get(key)
            return text + (": %s = %s mod %d" % (key, kv[0], kv[1]) if kv else
                           ": %s absent" % key)
        op = thing
        parts = ["#%s" % op.index, "c%s" % op.client, str(op.member), op.f, op.key]
        if op.f == "put":
            parts.append(op.value)
        elif op.f == "cas":
            parts.append("%s if %s" % (op.value, op.expect))
        elif op.serializable:
            parts.append("serializable")
        if op.outcome == "unknown":
            parts.append("[%s, inf) ms unknown" % self.ms(op.invoke))
            if op.gave_up is not None:
                parts.append("(gave up at %s ms)" % self.ms(op.gave_up))
            if op.wrev is not None:
                parts.append("resolved at rev %d" % op.wrev)
        else:
            parts.append("[%s, %s] ms %s" % (self.ms(op.invoke), self.ms(op.complete),
                                             op.outcome))
        if op.outcome == "ok":
            parts.append("rev %d" % op.rev)
            if op.f == "get":
                parts.append("found %s mod %d" % op.found if op.found else "found nothing")
            elif op.f == "del":
                parts.append("deleted %d" % op.deleted)
            elif op.f == "cas":
                parts.append("succeeded" if op.succeeded else "not succeeded")
        elif op.error:
            parts.append(json.dumps(op.error))
        return " ".join(parts)

    def faults_around(self, items):
        """The fault records in [first invoke - 1 s, last completion] of the
        ops involved (an unknown op counts until its client gave up)."""
        ops = [item for item in items if isinstance(item, Op)]
        if not ops:
            return []
        low = min(op.invoke for op in ops) - FAULT_LEAD_NS
        high = max(op.gave_up if op.gave_up is not None else op.invoke for op in ops)
        start = bisect.bisect_left(self.faults, (low, ""))
        return [fault for fault in self.faults[start:] if fault[0] <= high]

    def selected(self):
        """Up to MAX_REPORTED violations, taken round-robin over the kinds
        found so that a flood of one kind cannot hide another; in check order."""
        by_name = defaultdict(list)
        for violation in self.violations:
            by_name[violation.name].append(violation)
        chosen, depth = set(), 0
        while len(chosen) < min(MAX_REPORTED, len(self.violations)):
            for group in by_name.values():
                if depth < len(group) and len(chosen) < MAX_REPORTED:
                    chosen.add(id(group[depth]))
            depth += 1
        return [v for v in self.violations if id(v) in chosen]

    def counts(self):
        outcomes = defaultdict(int)
        for op in self.ops:
            outcomes[op.outcome] += 1
        members = self.meta.get("members")
        return {"ops": len(self.ops), "ok": outcomes["ok"], "fail": outcomes["fail"],
                "unknown": outcomes["unknown"], "resolved": self.resolved,
                "inferred": self.inferred, "keys": len({op.key for op in self.ops}),
                "faults": len(self.faults),
                "members": len(members) if isinstance(members, list) else len(self.finals),
                "finals": len(self.finals)}

    def print_report(self, path, as_json):
        c = self.counts()
        stats = "%s (%d ok, %d fail, %d unknown; %d unknown writes resolved, %d inferred), " \
            "%s, %s, %s" % (
                plural(c["ops"], "op"), c["ok"], c["fail"], c["unknown"], c["resolved"],
                c["inferred"], plural(c["keys"], "key"), plural(c["faults"], "fault event"),
                plural(c["members"], "member"))
        seed = self.meta.get("seed")
        shown = self.selected()
        if not self.violations:
            print("zkv-check: %s: linearizable, %s" % (stats, "no acknowledged write lost, "
                  "members equal" if self.finals else "no final records (final state not "
                  "checked)"))
        for violation in shown:
            print("zkv-check: VIOLATION %s%s: %s" % (
                violation.name, ", key %s" % violation.key if violation.key else "",
                violation.message))
            for item in violation.items:
                print("    " + self.describe(item, violation.key))
            around = self.faults_around(violation.items)
            for at, what in around[:MAX_FAULT_LINES]:
                print("    fault at %s ms: %s" % (self.ms(at), what))
            if len(around) > MAX_FAULT_LINES:
                print("    (%d more faults in that window)" % (len(around) - MAX_FAULT_LINES))
        total = defaultdict(int)
        for violation in self.violations:
            total[violation.name] += 1
        if self.violations:
            print("zkv-check: %s (%s)%s in %s: %s; seed %s: rerun with --seed %s" % (
                plural(len(self.violations), "violation"),
                ", ".join("%s %d" % item for item in total.items()),
                ", %d not shown" % (len(self.violations) - len(shown))
                if len(shown) < len(self.violations) else "", path, stats, seed, seed))
        if as_json:
            c.update({"file": path, "seed": seed, "violations_total": len(self.violations),
                      "by_name": dict(total), "violations": [{
                          "name": v.name, "key": v.key, "message": v.message,
                          "ops": [item.index for item in v.items if isinstance(item, Op)],
                          "finals": [item.member for item in v.items
                                     if isinstance(item, Final)]} for v in shown]})
            print(json.dumps(c))


def plural(count, noun):
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("history", help="the history, JSON Lines")
    parser.add_argument("--json", action="store_true",
                        help="also print one JSON object (counts, violations) as the last line")
    args = parser.parse_args()
    try:
        checker = Checker(*load(args.history))
        checker.run()
    except InputError as error:
        print("zkv-check: %s: %s" % (args.history, error), file=sys.stderr)
        if args.json:
            print(json.dumps({"file": args.history, "error": str(error)}))
        return 2
    checker.print_report(args.history, args.json)
    return 1 if checker.violations else 0


if __name__ == "__main__":
    sys.exit(main())
