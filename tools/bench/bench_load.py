"""tools/bench/bench_load.py — one Python load generator for zkv and etcd 3.4.

Drives either system with the same client technology, process model and
concurrency, so that a comparison measures the servers, not the clients:
zkv through pyzmq + msgpack (docs/PROTOCOL.md), etcd through python3-etcd3
(gRPC). Run it with /usr/bin/python3 (Debian's, which has those packages).

Process model, the same for both systems: --processes P worker processes
(forked), each running its share of the --clients N client threads (N / P,
the first N % P workers one more). Every client thread has its own
connection: zkv, a DEALER socket of the worker's zmq.Context; etcd, its own
etcd3.client, i.e. its own gRPC channel with a subchannel of its own (gRPC
would otherwise share one TCP connection between the channels of a process).
The default P is min(N, cores): CPython runs one thread of a process at a
time, so the client threads are spread over one process per core to use every
core; twice as many processes were no faster on a 2-core machine (zkv about
10 % slower, etcd within the noise), only more context switches next to the
servers. python3-etcd3 is imported in the workers, after the fork: gRPC must
not be initialised before it.

Closed loop: each client sends one request, waits for its reply, records the
latency, and repeats. A latency is time.perf_counter_ns() from just before the
client library is called (request encoding included) to just after it
returns the decoded reply, so it includes each client library's own cost.
The clients connect (one Status request each), then start together; requests
begun in the first --warmup seconds are not counted. The run stops after
--total counted requests (split evenly over the clients) or after --seconds
(no request begins after the deadline). Throughput is the counted requests
over the measured window: from the first counted request's start to the last
one's end, over all clients. "client_cpu_us" in the report is the CPU time of
the worker processes per request: what each system's client costs, to read
ratios by (on a small machine the client competes with the servers).

Workloads (keys: 16 bytes, the --key-prefix then the key number zero-padded,
as zkv-bench and etcd-load write them; values: --val-size pseudo-random bytes,
the same for both systems):
  put               puts, keys cycling over --key-space (default: fresh keys)
  load              puts every key of --key-space once (a preload), as fast
                    as the clients go; --total and --seconds do not apply
  get               linearizable gets of keys drawn uniformly from --key-space
  get-serializable  the same, serializable
  cas               txn: if value(key) == the value this client last saw, put
                    a new value, else get the key (so the next compare holds);
                    a missing key is compared as version == 0. Each client
                    cycles over its own slice of --key-space, read before the
                    start (untimed, one get per key), so compares fail only if
                    something else writes those keys; succeeded and failed
                    compares are both completed requests, counted apart
  mixed             90 % linearizable gets, 10 % puts, keys uniform over
                    --key-space
get, get-serializable and mixed read keys the caller loaded first (with
`--workload load`, or zkv-bench / etcd-load put): reads that find no key are
counted as "missing".

A failed request (an error reply, an exception, no reply within --timeout) is
counted in "errors", not in the latencies, and the client goes on. Output:
one human line, or with --json one JSON object. --latencies FILE writes every
counted latency in ms, one per line, sorted ascending (line i of n is the
i/n quantile: a CDF for gnuplot). Exit status 0 whenever the run completed,
errors or not; 2 on bad usage, 1 when a worker could not start.

usage: /usr/bin/python3 tools/bench/bench_load.py --system zkv|etcd --endpoints E1[,E2...]
           --workload put|load|get|get-serializable|cas|mixed --clients N
           [--processes P] (--total M | --seconds S) [--val-size 256]
           [--key-space K] [--key-prefix P] [--warmup S] [--timeout S]
           [--spread] [--json] [--latencies FILE]
"""
import argparse
import array
import json
import multiprocessing
import os
import queue
import random
import threading
import time

import msgpack
import zmq

KEY_SIZE = 16
WORKLOADS = ("put", "load", "get", "get-serializable", "cas", "mixed")
STAMP = 16          # bytes of a cas value that make it unique (client, sequence)


class RequestError(Exception):
    """The server answered with an error."""


# ---------------------------------------------------------------------------
# The two clients: one connection each, the same three operations. Each
# raises on a failed request; get returns the value or None when the key is
# missing; cas returns (succeeded, the key's value now, None if missing).

class ZkvClient:
    """A DEALER socket to one member, one request in flight."""

    def __init__(self, context, endpoint, timeout):
        self.context, self.endpoint, self.timeout_ms = context, endpoint, int(timeout * 1000)
        self.next_id = 0
        self.connect()

    def connect(self):
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        self.socket.connect(self.endpoint)

    def call(self, request):
        self.next_id += 1
        request["id"] = self.next_id
        self.socket.send(msgpack.packb(request))
        try:
            reply = msgpack.unpackb(self.socket.recv())
        except zmq.Again:
            # A late reply must not be taken for the next request's: start over.
            self.socket.close()
            self.connect()
            raise TimeoutError("no reply within %d ms" % self.timeout_ms) from None
        if reply.get("id") != self.next_id:
            raise RequestError("reply to request %s, expected %d" % (reply.get("id"),
                                                                     self.next_id))
        if "error" in reply:
            raise RequestError("%s: %s" % (reply["error"].get("code"),
                                           reply["error"].get("message")))
        return reply

    def ready(self):
        self.call({"op": "status"})

    def put(self, key, value):
        self.call({"op": "put", "key": key, "value": value})

    def get(self, key, serializable):
        request = {"op": "range", "key": key}
        if serializable:
            request["serializable"] = True
        kvs = self.call(request).get("kvs")
        return kvs[0].get("value", b"") if kvs else None

    def cas(self, key, expected, value):
        if expected is None:
            compare = {"key": key, "target": "VERSION", "result": "EQUAL", "version": 0}
        else:
            compare = {"key": key, "target": "VALUE", "result": "EQUAL", "value": expected}
        reply = self.call({"op": "txn", "compare": [compare],
                           "success": [{"request_put": {"key": key, "value": value}}],
                           "failure": [{"request_range": {"key": key}}]})
        if reply.get("succeeded"):
            return True, value
        kvs = reply["responses"][0]["response_range"].get("kvs")
        return False, kvs[0].get("value", b"") if kvs else None

    def close(self):
        self.socket.close()


class EtcdClient:
    """An etcd3.client of its own: its own gRPC channel and TCP connection."""

    def __init__(self, endpoint, timeout):
        import etcd3                    # only after the fork: see the module docstring
        self.status_request = etcd3.etcdrpc.StatusRequest()
        host, port = endpoint.rsplit(":", 1)
        self.client = etcd3.client(host=host, port=int(port), timeout=timeout,
                                   grpc_options=[("grpc.use_local_subchannel_pool", 1)])

    def ready(self):
        self.client.maintenancestub.Status(self.status_request, self.client.timeout)

    def put(self, key, value):
        self.client.put(key, value)

    def get(self, key, serializable):
        return self.client.get(key, serializable=serializable)[0]

    def cas(self, key, expected, value):
        t = self.client.transactions
        compare = t.version(key) == 0 if expected is None else t.value(key) == expected
        succeeded, responses = self.client.transaction(
            compare=[compare], success=[t.put(key, value)], failure=[t.get(key)])
        if succeeded:
            return True, value
        return False, responses[0][0][0] if responses[0] else None

    def close(self):
        self.client.close()


# ---------------------------------------------------------------------------
# Workloads: one step per request, for client `index` of `clients`

def make_key(prefix, n):
    return prefix + b"%0*d" % (KEY_SIZE - len(prefix), n)


def make_step(options, client, index, payload):
    """A function that makes one request of the workload and returns its
    outcome: None, "missing" (a read found no key) or "failed_compare"."""
    clients, space, prefix = options.clients, options.key_space, options.key_prefix
    rng = random.Random(index)

    if options.workload in ("put", "load"):
        sequence = iter(range(index, 1 << 62, clients))

        def step():
            client.put(make_key(prefix, next(sequence) % space), payload)
        return step

    if options.workload in ("get", "get-serializable"):
        serializable = options.workload == "get-serializable"

        def step():
            if client.get(make_key(prefix, rng.randrange(space)), serializable) is None:
                return "missing"
        return step

    if options.workload == "mixed":
        def step():
            key = make_key(prefix, rng.randrange(space))
            if rng.random() < 0.1:
                client.put(key, payload)
            elif client.get(key, False) is None:
                return "missing"
        return step

    # cas: this client's slice of the key space, and the value it last saw of
    # each key (None: missing), read now, before the run, so that compares
    # fail only when another writer changed a key.
    keys = [make_key(prefix, n) for n in range(index * space // clients,
                                               (index + 1) * space // clients)]
    seen = {key: client.get(key, False) for key in keys}
    counter = iter(range(1 << 62))
    tail = payload[STAMP:]

    def step():
        n = next(counter)
        key = keys[n % len(keys)]
        value = b"%08x%08x" % (index, n & 0xffffffff) + tail
        succeeded, seen[key] = client.cas(key, seen[key], value)
        if not succeeded:
            return "failed_compare"
    return step


# ---------------------------------------------------------------------------
# Workers

def describe(error):
    """One line for a failed request; a gRPC error by its status code and
    details, also when python3-etcd3 re-raised it as one of its own."""
    for cause in (error, error.__context__):
        if callable(getattr(cause, "code", None)) and callable(getattr(cause, "details", None)):
            return "%s: %s" % (cause.code().name, cause.details())
    return "%s: %s" % (type(error).__name__, error)


def new_counts():
    """What the clients count, summed over clients and workers by merge()."""
    return {"requests": 0, "errors": 0, "missing": 0, "failed_compare": 0, "attempts": 0,
            "cpu_ns": 0, "first": None, "last": None, "error_messages": []}


def merge(into, counts):
    for name, value in counts.items():
        if name in ("first", "last"):
            known = [v for v in (into[name], value) if v is not None]
            into[name] = (min if name == "first" else max)(known) if known else None
        elif name == "error_messages":
            into[name] = sorted(set(into[name]) | set(value))
        else:
            into[name] += value


class ClientThread(threading.Thread):
    """One closed-loop client: its counts and latencies (ns) once joined.
    first and last: when its first counted request began, its last ended."""

    def __init__(self, options, client, index, payload, go, start_ns):
        super().__init__(daemon=True)
        self.options, self.client, self.go, self.start_ns = options, client, go, start_ns
        self.share = share_of(options.total or 0, options.clients, index)
        self.step = make_step(options, client, index, payload)
        self.counts, self.latencies = new_counts(), array.array("q")

    def run(self):
        self.go.wait()
        measure_from = self.start_ns.value + int(self.options.warmup * 1e9)
        stop_at = (measure_from + int(self.options.seconds * 1e9)
                   if self.options.seconds else None)
        counts, latencies, step = self.counts, self.latencies, self.step
        counted = 0
        while True:
            begin = time.perf_counter_ns()
            if (begin >= stop_at) if stop_at is not None else (counted >= self.share):
                break
            try:
                outcome, failed = step(), False
            except Exception as error:              # noqa: BLE001 — every failure is counted
                outcome, failed = None, True
                message = describe(error)
                if len(counts["error_messages"]) < 3 and message not in counts["error_messages"]:
                    counts["error_messages"].append(message)
            end = time.perf_counter_ns()
            counts["attempts"] += 1
            if begin < measure_from:
                continue
            counted += 1
            if counts["first"] is None:
                counts["first"] = begin
            counts["last"] = end
            if failed:
                counts["errors"] += 1
            else:
                counts["requests"] += 1
                if outcome:
                    counts[outcome] += 1
                latencies.append(end - begin)


def payload_of(options):
    """--val-size pseudo-random bytes, the same on every run and system (and
    incompressible, so that no storage engine gains by compressing them)."""
    return random.Random(options.val_size).randbytes(options.val_size)


def share_of(total, parts, index):
    """Part index's share of total, the first total % parts one more."""
    return total // parts + (1 if index < total % parts else 0)


def worker(options, first, count, ready, go, start_ns, results):
    """Runs clients first..first+count-1, then puts (counts, latencies as
    bytes) on results; or (None, why) when a client could not start."""
    try:
        if options.system == "zkv":
            context = zmq.Context()
            connect = lambda endpoint: ZkvClient(context, endpoint, options.timeout)
        else:
            connect = lambda endpoint: EtcdClient(endpoint, options.timeout)
        endpoints = options.endpoints if options.spread else options.endpoints[:1]
        payload, threads = payload_of(options), []
        for index in range(first, first + count):
            client = connect(endpoints[index % len(endpoints)])
            client.ready()
            threads.append(ClientThread(options, client, index, payload, go, start_ns))
        for thread in threads:
            thread.start()
        ready.wait()
    except threading.BrokenBarrierError:
        return                                      # another worker failed and says why
    except Exception as error:                      # noqa: BLE001 — reported by the parent
        ready.abort()
        results.put((None, describe(error)))
        return
    go.wait()
    cpu = time.process_time_ns()                    # every thread of this process
    for thread in threads:
        thread.join()
    counts, latencies = new_counts(), array.array("q")
    counts["cpu_ns"] = time.process_time_ns() - cpu
    for thread in threads:
        merge(counts, thread.counts)
        latencies.extend(thread.latencies)
        thread.client.close()
    results.put((counts, latencies.tobytes()))


# ---------------------------------------------------------------------------
# The run

def run(options):
    """Forks the workers, starts their clients together, merges what they
    measured: (counts, sorted latencies in ns)."""
    fork = multiprocessing.get_context("fork")
    ready = fork.Barrier(options.processes + 1)
    go, start_ns, results = fork.Event(), fork.Value("q", 0), fork.Queue()
    processes, first = [], 0
    for p in range(options.processes):
        count = share_of(options.clients, options.processes, p)
        processes.append(fork.Process(target=worker, daemon=True,
                                      args=(options, first, count, ready, go, start_ns,
                                            results)))
        first += count
    for process in processes:
        process.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        raise SystemExit("bench_load: a client could not start: %s"
                         % results.get(timeout=10)[1]) from None
    start_ns.value = time.perf_counter_ns()
    go.set()

    total, latencies = new_counts(), array.array("q")
    for _ in processes:
        # Taken before joining: a worker exits only once its result is read.
        while True:
            try:
                counts, data = results.get(timeout=1)
                break
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in processes):
                    raise SystemExit("bench_load: a worker died") from None
        merge(total, counts)
        latencies.frombytes(data)
    for process in processes:
        process.join()
    return total, sorted(latencies)


def report(options, total, latencies):
    """The result as a dict (the JSON object's fields)."""
    seconds = (total["last"] - total["first"]) / 1e9 if total["first"] is not None else 0.0
    n = len(latencies)

    def rank(p):                                    # nearest rank, in ms
        return round(latencies[max(0, -(-p * n // 100) - 1)] / 1e6, 3) if n else None

    result = {"system": options.system, "workload": options.workload,
              "clients": options.clients, "processes": options.processes,
              "requests": total["requests"], "errors": total["errors"],
              "seconds": round(seconds, 3),
              "throughput": round(total["requests"] / seconds, 1) if seconds else 0.0,
              "p50_ms": rank(50), "p90_ms": rank(90), "p99_ms": rank(99),
              "max_ms": round(latencies[-1] / 1e6, 3) if n else None,
              "mean_ms": round(sum(latencies) / n / 1e6, 3) if n else None,
              "val_size": options.val_size, "key_space": options.key_space,
              # Client CPU (every worker process, warmup and errors included)
              # per request: what the Python client costs, to read ratios by.
              "client_cpu_us": round(total["cpu_ns"] / max(1, total["attempts"]) / 1e3, 1)}
    if options.workload == "cas":
        result["succeeded"] = total["requests"] - total["failed_compare"]
        result["failed_compare"] = total["failed_compare"]
    if options.workload in ("get", "get-serializable", "mixed"):
        result["missing"] = total["missing"]
    if total["error_messages"]:
        result["error_messages"] = total["error_messages"]
    return result


def human(result):
    line = ("%(system)s %(workload)s: %(clients)d clients in %(processes)d processes, "
            "%(requests)d requests (%(errors)d errors) in %(seconds).3f s: "
            "%(throughput).0f/s" % result)
    if result["p50_ms"] is not None:
        line += (", p50 %(p50_ms).3f p90 %(p90_ms).3f p99 %(p99_ms).3f max %(max_ms).3f "
                 "mean %(mean_ms).3f ms" % result)
    for name in ("succeeded", "failed_compare", "missing"):
        if name in result:
            line += ", %s %d" % (name, result[name])
    line += ", client CPU %.1f us/request" % result["client_cpu_us"]
    for message in result.get("error_messages", []):
        line += "\n  error: %s" % message
    return line


def parse(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="See the module docstring for the process model and what is timed.")
    parser.add_argument("--system", choices=("zkv", "etcd"), required=True)
    parser.add_argument("--endpoints", required=True,
                        help="comma separated; zkv: tcp://HOST:PORT, etcd: HOST:PORT; "
                             "requests go to the first unless --spread")
    parser.add_argument("--spread", action="store_true",
                        help="spread the clients round-robin over every endpoint")
    parser.add_argument("--workload", choices=WORKLOADS, required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--processes", type=int,
                        help="worker processes (default: min(clients, cores))")
    parser.add_argument("--total", type=int, help="counted requests in all")
    parser.add_argument("--seconds", type=float, help="measured seconds")
    parser.add_argument("--val-size", type=int, default=256, help="bytes per value")
    parser.add_argument("--key-space", type=int,
                        help="distinct keys (put: default --total, or unbounded with "
                             "--seconds; required by the other workloads)")
    parser.add_argument("--key-prefix", default="",
                        help="first bytes of every key (keys stay %d bytes)" % KEY_SIZE)
    parser.add_argument("--warmup", type=float, default=0.0,
                        help="seconds of requests not counted, before the measure")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--latencies", metavar="FILE",
                        help="write every latency (ms), sorted, one per line")
    options = parser.parse_args(argv)

    fail = parser.error
    options.endpoints = options.endpoints.split(",")
    options.key_prefix = options.key_prefix.encode()
    digits = KEY_SIZE - len(options.key_prefix)
    if digits < 1:
        fail("--key-prefix must be shorter than %d bytes" % KEY_SIZE)
    if options.clients < 1:
        fail("--clients must be at least 1")
    if options.processes is None:
        options.processes = min(options.clients, os.cpu_count() or 1)
    if not 1 <= options.processes <= options.clients:
        fail("--processes must be between 1 and --clients")
    if options.workload == "load":
        if options.total or options.seconds or options.warmup:
            fail("--workload load takes neither --total, --seconds nor --warmup")
        if not options.key_space:
            fail("--workload load needs --key-space")
        options.total = options.key_space
    elif (options.total is None) == (options.seconds is None):
        fail("give one of --total and --seconds")
    if options.total is not None and options.total < 1:
        fail("--total must be at least 1")
    if options.seconds is not None and options.seconds <= 0:
        fail("--seconds must be positive")
    if options.key_space is None:
        if options.workload != "put":
            fail("--workload %s needs --key-space (the keys loaded)" % options.workload)
        options.key_space = options.total or 10 ** digits
    if not 1 <= options.key_space <= 10 ** digits:
        fail("--key-space must be between 1 and %d with that prefix" % 10 ** digits)
    if options.workload == "cas":
        if options.key_space < options.clients:
            fail("--workload cas needs a --key-space of at least --clients keys")
        if options.val_size < STAMP:
            fail("--workload cas needs a --val-size of at least %d" % STAMP)
    if options.val_size < 0 or options.timeout <= 0 or options.warmup < 0:
        fail("--val-size, --timeout and --warmup must not be negative (--timeout not 0)")
    return options


def main(argv=None):
    options = parse(argv)
    total, latencies = run(options)
    result = report(options, total, latencies)
    if options.latencies:
        with open(options.latencies, "w") as f:
            f.writelines("%.3f\n" % (ns / 1e6) for ns in latencies)
    print(json.dumps(result) if options.json else human(result), flush=True)


if __name__ == "__main__":
    main()
