"""tools/bench/bench_metrics.py — what scraping /metrics every second costs a
zkv cluster's writes (issue 18: within 2 % of the same run without). Run it
through tools/bench/bench-metrics, which builds what it needs.

One 3-member cluster (zkv-cluster up: every member serves /metrics), loaded
by zkv-bench with 64 clients putting 256-byte values through the leader.
Runs alternate between "scraped" (a scraper GETs /metrics of the three
members once a second, as Prometheus does at a 1 s interval) and "not
scraped", --runs of each, the order flipped every other pair so that the
machine's drift falls on both alike. Each run reports the throughput and
the CPU time (utime + stime, /proc) the three members spent per put, the
scrapes they served included; the medians of each mode are compared. Since
the difference drowns in the machine's noise, the CPU one scrape costs is
measured directly too (500 scrapes of the idle leader), and set against
what a second of puts costs.

usage: tools/bench/bench-metrics [--runs 5] [--total 30000]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cluster import BUILD, cpu_seconds, log, read_cluster_file, run  # noqa: E402
from bench_scale import bench  # noqa: E402

CLUSTER = os.path.join(BUILD, "zkv-cluster")


class Scraper(threading.Thread):
    """GETs every url once a second until stopped; counts the scrapes"""

    def __init__(self, urls):
        super().__init__(daemon=True)
        self.urls, self.stop, self.scrapes, self.bytes = urls, threading.Event(), 0, 0

    def run(self):
        while not self.stop.is_set():
            for url in self.urls:
                with urllib.request.urlopen(url + "/metrics", timeout=5) as answer:
                    self.bytes += len(answer.read())
                self.scrapes += 1
            self.stop.wait(1.0)


def scrape_cost(pid, url, scrapes=500):
    """The CPU one scrape of /metrics costs the member, idle (microseconds)"""
    before = cpu_seconds([pid])
    for _ in range(scrapes):
        with urllib.request.urlopen(url + "/metrics", timeout=5) as answer:
            answer.read()
    spent = (cpu_seconds([pid]) - before) * 1e6 / scrapes
    log("one scrape of the leader's /metrics: %.0f us of its CPU (%d scrapes, idle)" % (
        spent, scrapes))
    return spent


def one_run(endpoint, pids, urls, scraped, total):
    scraper = Scraper(urls) if scraped else None
    if scraper:
        scraper.start()
    before = cpu_seconds(pids)
    result = bench(endpoint, "put", 64, total)
    spent = cpu_seconds(pids) - before
    if scraper:
        scraper.stop.set()
        scraper.join()
    row = {"scraped": scraped, "throughput": result["throughput"],
           "cpu_us": spent * 1e6 / total, "errors": result["errors"],
           "scrapes": scraper.scrapes if scraper else 0}
    log("%-12s %8.0f puts/s  %6.1f us CPU per put (3 members)%s" % (
        "scraped" if scraped else "not scraped", row["throughput"], row["cpu_us"],
        "  (%d scrapes, %d bytes)" % (scraper.scrapes, scraper.bytes) if scraper else ""))
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each mode (default 5)")
    parser.add_argument("--total", type=int, default=30000,
                        help="puts per run (default 30000)")
    args = parser.parse_args()
    log("machine: %s, %d cores; zkv at %s" % (
        open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].split("\n")[0].strip(),
        os.cpu_count(), run(["git", "rev-parse", "--short", "HEAD"]).strip()))
    directory = tempfile.mkdtemp(prefix="zkv-bench-metrics-")
    try:
        run([CLUSTER, "up", "-n", "3", "--dir", directory])
        leader = run([CLUSTER, "wait-leader", "--dir", directory]).strip()
        members = read_cluster_file(os.path.join(directory, "cluster.zpl"))
        endpoint = members[leader]["client"]
        pids = [m["pid"] for m in members.values()]
        urls = [m["metrics"] for m in members.values()]
        bench(endpoint, "put", 64, args.total)          # warm up, not counted
        scrape_us = scrape_cost(members[leader]["pid"], members[leader]["metrics"])
        rows = []
        for i in range(args.runs):
            order = [False, True] if i % 2 == 0 else [True, False]
            for scraped in order:
                rows.append(one_run(endpoint, pids, urls, scraped, args.total))
    finally:
        subprocess.run([CLUSTER, "down", "--dir", directory], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(directory, ignore_errors=True)
    median = {}
    for scraped in (False, True):
        mine = [r for r in rows if r["scraped"] == scraped]
        median[scraped] = (statistics.median(r["throughput"] for r in mine),
                           statistics.median(r["cpu_us"] for r in mine))
    print()
    print("| 64 clients, %s puts a run | puts/s (median of %d) | CPU per put, 3 members |"
          % (format(args.total, ","), args.runs))
    print("|---|---|---|")
    for scraped in (False, True):
        print("| %s | %s | %.1f µs |" % (
            "/metrics scraped every second" if scraped else "not scraped",
            format(round(median[scraped][0]), ","), median[scraped][1]))
    print("| scraped / not scraped | %.3f | %.3f |" % (
        median[True][0] / median[False][0], median[True][1] / median[False][1]))
    #  What scraping costs, from the scrape's own CPU: three members
    #  scraped once a second, against what the puts of one second cost
    puts_cpu = median[False][0] * median[False][1]            # us of CPU per second
    print()
    print("One scrape costs a member %.0f µs of CPU: three scraped once a second cost %.0f µs a "
          "second, %.3f %% of the CPU the 64 clients' puts cost the members (%.0f ms a second)."
          % (scrape_us, 3 * scrape_us, 100 * 3 * scrape_us / puts_cpu, puts_cpu / 1000))
    if any(r["errors"] for r in rows):
        sys.exit("some puts failed")


if __name__ == "__main__":
    main()
