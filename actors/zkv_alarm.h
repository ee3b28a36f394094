/*  =========================================================================
    zkv_alarm.h — the alarm actor: the monitors that raise alarms on their
    own (the quota is checked by front and storage, on every write).

    - Free disk (beyond etcd): every 100 ms it looks at the room of the
      data directory's disk (zkv_space.h: free space less what the member
      owes it); under --min-free-disk-bytes it releases the reserve file
      and proposes this member's NOSPACE, so that writes stop before
      RocksDB meets ENOSPC. Front and storage look too, before each write
      they propose and each batch they apply, and tell it (disk_short)
      when they find the room short. It alone makes and releases the
      reserve file: made at START, and whenever this member's NOSPACE is
      not raised and the room allows it, but not for 5 s after the disk
      ran short unless that NOSPACE came and went meanwhile.
    - Corruption, on the leader, every --corrupt-check-time (5 minutes
      by default), in up to four phases: (1) it asks its own hasher for HashKV at the current
      revision R; (2) every member (itself included) for HashKV (R) over
      the peer transport, and, when a compaction to C was not checked
      yet, every member for HashKV (C), which each answers from its
      compaction-hash cache; (3) when some
      members answered that R is a future revision for them (they lag,
      or stopped applying for good: a member that took a forged entry
      can never match the others' log again), each of them for HashKV
      at its own revision; (4) every member for HashKV at the lowest of
      those revisions (R at most: the others have it), a hash already
      there counting as an answer. Each set of answers gets the verdict
      of store/zkv_corrupt.h (etcd 3.6's majority rule, used for every
      set: beyond etcd, whose periodic check blames a follower even when
      the leader is the one that differs, and leaves out a follower
      behind the leader); CORRUPT is proposed for each member to blame
      (member 0 without a majority). A member that answers nothing
      cannot be judged.
    - The initial check (pipe CHECK, before the member serves): HashKV at
      its own revision, compared with every peer's at the same revision;
      it fails, naming the peers that differ, when this member is not in a
      majority of equal hashes. Peers that do not answer in time, or have
      compacted differently, are only logged, as in etcd.

    Pipe commands:
      START       binds its inbox, connects to raft; replies "OK" or an error
      CHECK       the initial check; replies "OK", or the failure's text
      $TERM       stops
    Inbox (PULL): raft_state (is this member the leader?) and hash_answer
    from raft; disk_short from front and storage. Asks and alarms go to raft.
    =========================================================================
*/
#ifndef ZKV_ALARM_H_INCLUDED
#define ZKV_ALARM_H_INCLUDED

#include <czmq.h>

#include "zkv_wiring.h"

#define ZKV_ALARM_MAX_MEMBERS 64        //  a check holds the answers of so many

typedef struct {
    ZKV_WIRING;                         //  binds alarm; raft
    int corrupt_check_msecs;            //  --corrupt-check-time (0: off)
    int answer_msecs;                   //  how long a check waits for answers
} zkv_alarm_args_t;

void
    zkv_alarm_actor (zsock_t *pipe, void *args);

#endif
