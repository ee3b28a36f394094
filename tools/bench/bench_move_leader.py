"""tools/bench/bench_move_leader.py — MoveLeader, zkv beside etcd 3.4, on this machine.
Run it through tools/bench/bench-move-leader, which installs and builds what it needs.

Starts a 3-member zkv cluster and a 3-member etcd cluster (bench_cluster.py:
loopback, data in a temporary directory, heartbeat 100 ms and election
timeout 1000 ms on both) and moves the leadership of each to another member,
--moves times, interleaved so that machine noise falls on both. What is
timed is what an operator waits for: the wall time of one CLI run,
`zkvctl --endpoints <all three> move-leader <hex id>` and
`etcdctl --endpoints <all three> move-leader <hex id>`, process start
included (etcdctl asks every endpoint for its Status first, to find the
leader; zkvctl sends its request to the first member, which forwards it).
For zkv it also prints the member's own count, from the request's arrival
to the moment it saw the target lead (took_usecs of the reply). Between two
moves, untimed, the script waits until every member follows the new leader.

usage: tools/bench/bench-move-leader [--moves N] [--keep]
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cluster import BUILD, log, median, settled, side_by_side, wait_for  # noqa: E402

NAMES = ("n1", "n2", "n3")


def move(system, target):
    """One CLI run moving the leadership of system to target: (wall ms, server ms or None)."""
    endpoints = ",".join(system.endpoint(name) for name in NAMES)
    hex_id = "%x" % system.id_of(target)
    if system.name == "zkv":
        argv = [os.path.join(BUILD, "zkvctl"), "--endpoints", endpoints, "-w", "json",
                "move-leader", hex_id]
        env = None
    else:
        argv = ["etcdctl", "--endpoints", endpoints, "move-leader", hex_id]
        env = dict(os.environ, ETCDCTL_API="3")
    start = time.monotonic()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env)
    wall = (time.monotonic() - start) * 1000
    if done.returncode != 0:
        raise SystemExit("bench-move-leader: %s failed: %s" % (" ".join(argv), done.stderr))
    server = None
    if system.name == "zkv":
        server = json.loads(done.stdout)["took_usecs"] / 1000
    return wall, server


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=20, help="moves per system")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    options = parser.parse_args()

    with side_by_side("zkv-bench-move-", options.keep) as (systems, _):
        walls = {s.name: [] for s in systems}
        servers = []
        for m in range(options.moves):
            for system in systems:
                wait_for(lambda: settled(system), 30000, "%s settles" % system.name, system)
                leader = settled(system)
                target = NAMES[(NAMES.index(leader) + 1 + m % 2) % 3]
                wall, server = move(system, target)
                walls[system.name].append(wall)
                if server is not None:
                    servers.append(server)
                wait_for(lambda: settled(system) == target, 30000,
                         "%s follows %s" % (system.name, target), system)
                log("%-4s move %2d %s -> %s: %.1f ms%s" % (
                    system.name, m + 1, leader, target, wall,
                    " (member: %.2f ms)" % server if server is not None else ""))
        log("\nsummary (median of %d moves; max)" % options.moves)
        log("%-44s %12s %12s" % ("", "zkv", "etcd"))
        log("%-44s %12.1f %12.1f" % ("move-leader, CLI wall time (ms)",
                                     median(walls["zkv"]), median(walls["etcd"])))
        log("%-44s %12.1f %12.1f" % ("move-leader, CLI wall time, max (ms)",
                                     max(walls["zkv"]), max(walls["etcd"])))
        log("%-44s %12.2f %12s" % ("move-leader, in the member (ms)", median(servers), "-"))
        log("%-44s %12.2f" % ("zkv / etcd", median(walls["zkv"]) / median(walls["etcd"])))


if __name__ == "__main__":
    main()
