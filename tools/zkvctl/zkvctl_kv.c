/*  =========================================================================
    zkvctl_kv.c — put, get, del and compaction.

    Each command checks its arguments as etcdctl's getPutOp, getGetOp,
    getDelOp and compactionCommandFunc do (same order, same messages), then
    the output format and endpoints, and only then sends its request. The
    argument parsers also serve the request lines of txn.
    =========================================================================
*/
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkvctl.h"

//  Every option of put, get and del
typedef struct {
    const char *lease;                  //  put
    bool prev_kv;                       //  put, del
    bool ignore_value;                  //  put
    bool ignore_lease;                  //  put
    const char *consistency;            //  get
    int64_t limit;                      //  get
    int64_t rev;                        //  get
    bool prefix;                        //  get, del
    bool from_key;                      //  get, del
    bool keys_only;                     //  get
    bool count_only;                    //  get
    bool value_only;                    //  get
    const char *order;                  //  get
    const char *sort_by;                //  get
    bool range;                         //  del
} s_options_t;

//  etcd's range end meaning "every key from key on"
static const uint8_t s_all [1] = { 0 };

static const char *s_args_get =
    "get command needs one argument as key and an optional argument as range_end";
static const char *s_args_del =
    "del command needs one argument as key and an optional argument as range_end";
static const char *s_args_put =
    "put command needs 1 argument and input from stdin or 2 arguments";
static const char *s_prefix_and_from_key =
    "`--prefix` and `--from-key` cannot be set at the same time, choose one";
static const char *s_too_many =
    "too many arguments, only accept one argument when `--prefix` or `--from-key` is set";

//  clientv3.GetPrefixRangeEnd: the key after every key that starts with
//  key; "\x00" (all keys from key on) when there is none
static zkv_bin_t
s_prefix_end (zkv_bin_t key, msgpack_zone *zone)
{
    uint8_t *end = (uint8_t *) msgpack_zone_malloc (zone, key.size + 1);
    memcpy (end, key.data, key.size);
    for (size_t i = key.size; i-- > 0;)
        if (end [i] < 0xff) {
            end [i]++;
            return zkv_bin (end, i + 1);
        }
    return zkv_bin (s_all, 1);
}

//  strings.ToUpper (text) == upper, for ASCII: etcdctl takes --order and
//  --sort-by in any case
static bool
s_upper_eq (const char *text, const char *upper)
{
    for (; *text && *upper; text++, upper++)
        if (toupper ((unsigned char) *text) != *upper)
            return false;
    return *text == *upper;
}

//  etcdctl's --order and --sort-by, then clientv3.WithSort: KEY ASCEND
//  is sent as no order at all (the keys come in key order anyway)
static int
s_get_sort (zkvctl_t *ctl, const s_options_t *options, zkv_range_t *range)
{
    static const char *orders [] = { "ASCEND", "DESCEND", NULL };
    static const char *targets [] = { "CREATE", "KEY", "MODIFY", "VALUE", "VERSION", NULL };
    //  etcd's names of the targets, as the protocol has them
    static const char *target_names [] = { "CREATE", "KEY", "MOD", "VALUE", "VERSION" };
    const char *order = NULL, *target = "KEY";
    //  DEVIATION: etcdctl exits 4 for a bad sort order or target
    if (*options->order) {
        for (int i = 0; orders [i] && !order; i++)
            if (s_upper_eq (options->order, orders [i]))
                order = orders [i];
        if (!order)
            return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "bad sort order %s", options->order);
    }
    if (*options->sort_by) {
        target = NULL;
        for (int i = 0; targets [i] && !target; i++)
            if (s_upper_eq (options->sort_by, targets [i]))
                target = target_names [i];
        if (!target)
            return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "bad sort target %s",
                                options->sort_by);
    }
    if (order && streq (target, "KEY") && streq (order, "ASCEND"))
        order = NULL;
    if (order)
        range->sort_order = zkv_bin (order, strlen (order));
    if (!streq (target, "KEY"))
        range->sort_target = zkv_bin (target, strlen (target));
    return 0;
}

void
zkvctl_prefix_range (zkv_bin_t *key, zkv_bin_t *range_end, msgpack_zone *zone)
{
    if (key->size == 0) {
        *key = zkv_bin (s_all, 1);
        *range_end = zkv_bin (s_all, 1);
    }
    else
        *range_end = s_prefix_end (*key, zone);
}

//  --prefix and --from-key, as etcdctl applies them to get and del
static void
s_apply_range (const s_options_t *options, zkv_bin_t *key, zkv_bin_t *range_end,
               msgpack_zone *zone)
{
    if (options->prefix)
        zkvctl_prefix_range (key, range_end, zone);
    else
    if (options->from_key) {
        if (key->size == 0)
            *key = zkv_bin (s_all, 1);
        *range_end = zkv_bin (s_all, 1);
    }
}

//  All of stdin, as Go's io.ReadAll; NULL on a read error
static uint8_t *
s_read_stdin (size_t *size, msgpack_zone *zone)
{
    size_t room = 4096, used = 0;
    uint8_t *buffer = (uint8_t *) malloc (room);
    while (true) {
        if (used == room)
            buffer = (uint8_t *) realloc (buffer, room *= 2);
        ssize_t n = read (STDIN_FILENO, buffer + used, room - used);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR && !zsys_interrupted)
                continue;
            free (buffer);
            return NULL;
        }
        used += (size_t) n;
    }
    uint8_t *data = (uint8_t *) msgpack_zone_malloc (zone, used + 1);
    memcpy (data, buffer, used);
    free (buffer);
    *size = used;
    return data;
}

static int
s_put_op (zkvctl_t *ctl, const s_options_t *options, bool with_stdin,
          zkv_bin_t *args, int count, msgpack_zone *zone, zkv_put_t *put)
{
    if (count == 0)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", s_args_put);
    if (options->ignore_value && count > 1)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS,
                            "put command needs only 1 argument when 'ignore-value' is set");
    put->key = args [0];
    if (!options->ignore_value) {
        //  The value is the second argument, or else all of stdin (in a
        //  txn line, where etcdctl's stdin is already consumed, none)
        if (count > 1)
            put->value = args [1];
        else {
            size_t size = 0;
            uint8_t *data = with_stdin? s_read_stdin (&size, zone): NULL;
            if (!data && zsys_interrupted)
                return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "interrupted");
            if (!data || size == 0)
                return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", s_args_put);
            put->value = zkv_bin (data, size);
        }
    }
    char why [256];
    if (zkvctl_parse_int (options->lease, 16, &put->lease, why, sizeof why))
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "bad lease ID (%s), expecting ID in Hex",
                            why);
    put->prev_kv = options->prev_kv;
    put->ignore_value = options->ignore_value;
    put->ignore_lease = options->ignore_lease;
    return 0;
}

static int
s_get_op (zkvctl_t *ctl, const s_options_t *options, zkv_bin_t *args, int count,
          msgpack_zone *zone, zkv_range_t *range)
{
    if (count == 0)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", s_args_get);
    if (options->prefix && options->from_key)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", s_prefix_and_from_key);
    if (options->keys_only && options->count_only)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS,
                            "`--keys-only` and `--count-only` cannot be set at the same time, "
                            "choose one");
    //  DEVIATION: etcdctl exits 4 for a bad --consistency
    if (streq (options->consistency, "s"))
        range->serializable = true;
    else
    if (!streq (options->consistency, "l")) {
        char *quoted = zkvctl_quote (options->consistency, strlen (options->consistency));
        zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "unknown consistency flag %s", quoted);
        free (quoted);
        return -1;
    }
    range->key = args [0];
    //  More than two arguments are ignored, as by etcdctl
    if (count > 1) {
        if (options->prefix || options->from_key)
            return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", s_too_many);
        range->range_end = args [1];
    }
    range->limit = options->limit;
    if (options->rev > 0)
        range->revision = options->rev;
    if (s_get_sort (ctl, options, range))
        return -1;
    s_apply_range (options, &range->key, &range->range_end, zone);
    range->keys_only = options->keys_only;
    range->count_only = options->count_only;
    return 0;
}

static int
s_del_op (zkvctl_t *ctl, const s_options_t *options, zkv_bin_t *args, int count,
          msgpack_zone *zone, zkv_delete_range_t *delete_range)
{
    if (count == 0 || count > 2)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", s_args_del);
    if (options->prefix && options->from_key)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", s_prefix_and_from_key);
    delete_range->key = args [0];
    //  DEVIATION: etcdctl 3.6 warns on stderr and waits 2 s before it
    //  deletes an explicit range without --range; zkvctl just deletes it
    if (count > 1) {
        if (options->prefix || options->from_key)
            return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", s_too_many);
        delete_range->range_end = args [1];
    }
    s_apply_range (options, &delete_range->key, &delete_range->range_end, zone);
    delete_range->prev_kv = options->prev_kv;
    return 0;
}

int
zkvctl_op_parse (zkvctl_t *ctl, zkvctl_op_kind_t kind, bool with_globals,
                 int argc, char **args, const size_t *sizes,
                 msgpack_zone *zone, zkvctl_op_t *op)
{
    s_options_t options;
    memset (&options, 0, sizeof options);
    options.lease = "0";
    options.consistency = "l";
    options.order = "";
    options.sort_by = "";
    zkvctl_flag_t put_flags [] = {
        { "ignore-lease", 0, ZKVCTL_FLAG_BOOL, &options.ignore_lease, "false",
          "updates the key using its current lease", false },
        { "ignore-value", 0, ZKVCTL_FLAG_BOOL, &options.ignore_value, "false",
          "updates the key using its current value", false },
        { "lease", 0, ZKVCTL_FLAG_STRING, &options.lease, "\"0\"",
          "lease ID (in hexadecimal) to attach to the key", false },
        { "prev-kv", 0, ZKVCTL_FLAG_BOOL, &options.prev_kv, "false",
          "return the previous key-value pair before modification", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkvctl_flag_t get_flags [] = {
        { "consistency", 0, ZKVCTL_FLAG_STRING, &options.consistency, "\"l\"",
          "Linearizable(l) or Serializable(s)", false },
        { "count-only", 0, ZKVCTL_FLAG_BOOL, &options.count_only, "false",
          "Get only the count", false },
        { "from-key", 0, ZKVCTL_FLAG_BOOL, &options.from_key, "false",
          "Get keys that are greater than or equal to the given key using byte compare", false },
        { "keys-only", 0, ZKVCTL_FLAG_BOOL, &options.keys_only, "false",
          "Get only the keys", false },
        { "limit", 0, ZKVCTL_FLAG_INT64, &options.limit, "0",
          "Maximum number of results", false },
        { "order", 0, ZKVCTL_FLAG_STRING, &options.order, "\"\"",
          "Order of results; ASCEND or DESCEND (ASCEND by default)", false },
        { "prefix", 0, ZKVCTL_FLAG_BOOL, &options.prefix, "false",
          "Get keys with matching prefix", false },
        { "print-value-only", 0, ZKVCTL_FLAG_BOOL, &options.value_only, "false",
          "Only write values when using the \"simple\" output format", false },
        { "rev", 0, ZKVCTL_FLAG_INT64, &options.rev, "0",
          "Specify the kv revision", false },
        { "sort-by", 0, ZKVCTL_FLAG_STRING, &options.sort_by, "\"\"",
          "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkvctl_flag_t del_flags [] = {
        { "from-key", 0, ZKVCTL_FLAG_BOOL, &options.from_key, "false",
          "delete keys that are greater than or equal to the given key using byte compare",
          false },
        { "prefix", 0, ZKVCTL_FLAG_BOOL, &options.prefix, "false",
          "delete keys with matching prefix", false },
        { "prev-kv", 0, ZKVCTL_FLAG_BOOL, &options.prev_kv, "false",
          "return deleted key-value pairs", false },
        { "range", 0, ZKVCTL_FLAG_BOOL, &options.range, "false",
          "delete range of keys (accepted for etcdctl compatibility)", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkvctl_flag_t *flags = kind == ZKVCTL_OP_PUT? put_flags
                         : kind == ZKVCTL_OP_GET? get_flags: del_flags;
    const zkvctl_command_t *command = kind == ZKVCTL_OP_PUT? &zkvctl_put_command
                                    : kind == ZKVCTL_OP_GET? &zkvctl_get_command
                                    : &zkvctl_del_command;
    zkv_bin_t positional [argc + 1];
    int count;
    int rc = zkvctl_flags_parse (ctl, with_globals? command: NULL, flags, with_globals,
                                 argc, args, sizes, positional, &count);
    if (rc)
        return rc;

    memset (op, 0, sizeof *op);
    op->kind = kind;
    op->view.value_only = options.value_only;
    op->view.count_only = options.count_only;
    if (kind == ZKVCTL_OP_PUT)
        return s_put_op (ctl, &options, with_globals, positional, count, zone, &op->put);
    if (kind == ZKVCTL_OP_GET)
        return s_get_op (ctl, &options, positional, count, zone, &op->range);
    return s_del_op (ctl, &options, positional, count, zone, &op->delete_range);
}

//  ---------------------------------------------------------------------
//  The commands

static int
s_kv_execute (zkvctl_t *ctl, const zkvctl_op_t *op)
{
    if (zkvctl_ready (ctl, false))
        return -1;
    if (op->view.value_only && ctl->format != ZKVCTL_FORMAT_SIMPLE)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS,
                            "print-value-only is only for `--write-out=simple`");
    const zkv_desc_t *desc = op->kind == ZKVCTL_OP_PUT? &zkv_put_desc
                           : op->kind == ZKVCTL_OP_GET? &zkv_range_desc
                           : &zkv_delete_range_desc;
    const void *request = op->kind == ZKVCTL_OP_PUT? (const void *) &op->put
                        : op->kind == ZKVCTL_OP_GET? (const void *) &op->range
                        : (const void *) &op->delete_range;
    zkv_msg_t *reply = zkvctl_call (ctl, desc, request);
    if (!reply)
        return -1;
    if (op->kind == ZKVCTL_OP_PUT)
        zkvctl_print_put (ctl, (const zkv_put_response_t *) reply->body);
    else
    if (op->kind == ZKVCTL_OP_GET)
        zkvctl_print_range (ctl, (const zkv_range_response_t *) reply->body, &op->view);
    else
        zkvctl_print_delete (ctl, (const zkv_delete_range_response_t *) reply->body);
    zkv_msg_destroy (&reply);
    return 0;
}

static int
s_kv_run (zkvctl_t *ctl, zkvctl_op_kind_t kind, int argc, char **argv)
{
    msgpack_zone *zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE);
    zkvctl_op_t op;
    int rc = zkvctl_op_parse (ctl, kind, true, argc - 1, argv + 1, NULL, zone, &op);
    if (rc == 0)
        rc = s_kv_execute (ctl, &op);
    msgpack_zone_free (zone);
    return rc == ZKVCTL_HELP? 0: rc < 0? -1: 0;
}

static int
s_put_run (zkvctl_t *ctl, int argc, char **argv)
{
    return s_kv_run (ctl, ZKVCTL_OP_PUT, argc, argv);
}

static int
s_get_run (zkvctl_t *ctl, int argc, char **argv)
{
    return s_kv_run (ctl, ZKVCTL_OP_GET, argc, argv);
}

static int
s_del_run (zkvctl_t *ctl, int argc, char **argv)
{
    return s_kv_run (ctl, ZKVCTL_OP_DEL, argc, argv);
}

//  compaction ignores -w and --hex, as etcdctl does (but checks -w)
static int
s_compaction_run (zkvctl_t *ctl, int argc, char **argv)
{
    bool physical = false;
    zkvctl_flag_t flags [] = {
        { "physical", 0, ZKVCTL_FLAG_BOOL, &physical, "false",
          "'true' to wait for compaction to physically remove all old revisions", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &zkvctl_compaction_command, flags, true,
                                 argc - 1, argv + 1, NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (count != 1)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "compaction command needs 1 argument");
    //  DEVIATION: etcdctl exits 1 for a revision that is not a number
    zkv_compact_t compact = { 0, physical };
    char why [256];
    if (zkvctl_parse_int ((const char *) positional [0].data, 10, &compact.revision,
                          why, sizeof why))
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", why);
    if (zkvctl_ready (ctl, true))
        return -1;
    zkv_msg_t *reply = zkvctl_call (ctl, &zkv_compact_desc, &compact);
    if (!reply)
        return -1;
    zkv_msg_destroy (&reply);
    printf ("compacted revision %" PRId64 "\n", compact.revision);
    return 0;
}

const zkvctl_command_t zkvctl_put_command = {
    "put", "put [options] <key> <value> (<value> can also be given from stdin)",
    "Puts the given key into the store", s_put_run, NULL, NULL
};
const zkvctl_command_t zkvctl_get_command = {
    "get", "get [options] <key> [range_end]",
    "Gets the key or a range of keys", s_get_run, NULL, NULL
};
const zkvctl_command_t zkvctl_del_command = {
    "del", "del [options] <key> [range_end]",
    "Removes the specified key or range of keys [key, range_end)", s_del_run, NULL, NULL
};
const zkvctl_command_t zkvctl_compaction_command = {
    "compaction", "compaction [options] <revision>",
    "Compacts the event history in zkv", s_compaction_run, NULL, NULL
};
