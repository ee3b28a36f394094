/*  fuzz_raft.c — libFuzzer target: the raft core of member 1 (of 1, 2, 3)
    driven by a sequence read from the input: ticks, proposals, read index
    requests, transfers, and raft messages as other members (or strangers)
    could send them, with arbitrary types, terms, indexes and entries; each
    ready is taken as done. A message from outside the process must never
    crash the core, whatever it says. */
#include <string.h>

#include "zkv_rc.h"

typedef struct {
    const uint8_t *data;
    size_t size;
} s_input_t;

static uint8_t
s_byte (s_input_t *input)
{
    if (input->size == 0)
        return 0;
    input->size--;
    return *input->data++;
}

//  A raft message from the input
static void
s_message (s_input_t *input, zkv_raft_message_t *message, zkv_entry_t *entries,
           uint8_t payload [8])
{
    memset (message, 0, sizeof *message);
    message->type = s_byte (input) % (ZKV_RC_MSG_TYPES + 1);
    message->from = s_byte (input) % 5;         //  0 and 4 are no members
    message->to = s_byte (input) % 8? 1: s_byte (input) % 5;
    message->term = s_byte (input) % 8;
    message->log_term = s_byte (input) % 8;
    message->index = s_byte (input) % 16;
    message->commit = s_byte (input) % 16;
    message->reject = s_byte (input) & 1;
    message->reject_hint = s_byte (input) % 16;
    message->context = s_byte (input) % 4;
    size_t count = s_byte (input) % 4;
    for (size_t i = 0; i < count; i++) {
        entries [i].index = s_byte (input) % 16;
        entries [i].term = s_byte (input) % 8;
        entries [i].data = zkv_bin (payload, s_byte (input) % 9);
    }
    message->entries.items = entries;
    message->entries.count = count;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_input_t input = { data, size };
    uint64_t voters [] = { 1, 2, 3 };
    zkv_rc_config_t config = {
        .id = 1, .voters = voters, .voter_count = 3, .election_ticks = 10,
        .heartbeat_ticks = 1, .pre_vote = s_byte (&input) & 1, .check_quorum = true,
        .max_msg_bytes = 1 << 20, .max_inflight = 16, .max_uncommitted_bytes = 1 << 16,
        .seed = 1
    };
    zkv_rc_restore_t restore;
    memset (&restore, 0, sizeof restore);
    zkv_rc_t *core = zkv_rc_new (&config, &restore);
    uint8_t payload [8] = { 'f', 'u', 'z', 'z', 'e', 'd', '!', '!' };
    while (input.size) {
        uint8_t op = s_byte (&input) % 8;
        if (op == 0)
            zkv_rc_tick (core);
        else
        if (op == 1) {
            zkv_bin_t proposal = zkv_bin (payload, s_byte (&input) % 9);
            zkv_rc_propose (core, &proposal, 1);
        }
        else
        if (op == 2)
            zkv_rc_read_index (core, s_byte (&input));
        else
        if (op == 3)
            zkv_rc_transfer (core, s_byte (&input) % 5);
        else
        if (op == 4)
            zkv_rc_campaign (core);
        else {
            zkv_raft_message_t message;
            zkv_entry_t entries [4];
            s_message (&input, &message, entries, payload);
            zkv_rc_step (core, &message);
        }
        while (zkv_rc_has_ready (core)) {
            zkv_rc_ready_t ready;
            zkv_rc_ready (core, &ready);
            zkv_rc_advance (core);
        }
    }
    zkv_rc_destroy (&core);
    return 0;
}
