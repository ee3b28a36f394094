/*  =========================================================================
    zkvctl_txn.c — txn: reads a transaction as etcdctl does, runs it, and
    prints its outcome.

    The input is three sections, each ended by an empty line: compares,
    success requests, failure requests. With -i/--interactive each section
    is announced by etcdctl's prompt on stdout. Every line ends with a
    newline; input that ends before the third empty line is `Error: EOF`.

    Compares:  <target>("<key>") <op> "<value>"
               target ver|version, c|create, m|mod (decimal numbers),
               val|value (bytes), lease (a decimal lease ID); op = != > <;
               key and value are Go string literals ("..." or `...`)
    Requests:  put/get/del command lines with their flags (not the global
               ones), split and unquoted as etcdctl's Argify does: "..." Go
               string literals, '...' literal text, or bare words

    Bad input exits 3 (etcdctl's ExitInvalidInput); a request line whose
    arguments the command itself refuses exits 128, as in etcdctl.

    DEVIATIONS from etcdctl:
    - `lease("k") = "5"` compares the key's lease with 5 (etcdctl panics);
      an unknown operator is `malformed comparison: ... (unknown operator
      ...)` (etcdctl panics), both exit 3.
    - The request is bounded by --command-timeout (etcdctl waits forever).
    - A get line's --count-only and --print-value-only shape its output in
      simple mode as they do for the get command (etcdctl ignores them).
    - `put k` without a value reads no stdin (it is the txn's input): it
      is refused with put's usual message.
    =========================================================================
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"
#include "zkv_grow.h"

//  A txn as it is read
typedef struct {
    msgpack_zone *zone;                 //  every byte of compares and ops
    zkv_compare_t *compares;
    size_t compare_count;
    zkvctl_op_t *ops [2];               //  success, failure
    size_t op_count [2];
} s_txn_t;

//  Go's fmt and strings.TrimSpace spaces (the ASCII ones)
static bool
s_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

//  Bytes as a NUL-terminated copy in zone
static char *
s_copy (msgpack_zone *zone, const void *data, size_t size)
{
    char *copy = (char *) msgpack_zone_malloc (zone, size + 1);
    memcpy (copy, data, size);
    copy [size] = 0;
    return copy;
}

static int
s_hex_digits (const uint8_t *s, const uint8_t *end, int count, uint32_t *value)
{
    *value = 0;
    if (end - s < count)
        return -1;
    for (int i = 0; i < count; i++) {
        int c = s [i];
        int digit = c >= '0' && c <= '9'? c - '0'
                  : c >= 'a' && c <= 'f'? c - 'a' + 10
                  : c >= 'A' && c <= 'F'? c - 'A' + 10: -1;
        if (digit < 0)
            return -1;
        *value = *value * 16 + (uint32_t) digit;
    }
    return 0;
}

//  Go's strconv.Unquote of the body of a double-quoted literal (what lies
//  between the quotes). Returns 0, or -1 (Go's "invalid syntax").
static int
s_unquote (const char *body, size_t size, msgpack_zone *zone, zkv_bin_t *value)
{
    //  An invalid byte becomes U+FFFD (3 bytes); escapes only shrink
    uint8_t *out = (uint8_t *) msgpack_zone_malloc (zone, size * 3 + 1);
    size_t used = 0;
    const uint8_t *s = (const uint8_t *) body, *end = s + size;
    while (s < end) {
        if (*s == '\n')
            return -1;
        if (*s != '\\') {
            uint32_t rune;
            size_t width = zkvctl_utf8_decode (s, (size_t) (end - s), &rune);
            if (width == 0) {
                used += zkvctl_utf8_encode (0xfffd, out + used);
                s++;
            }
            else {
                memcpy (out + used, s, width);
                used += width;
                s += width;
            }
            continue;
        }
        if (++s == end)
            return -1;
        uint8_t c = *s++;
        uint32_t rune;
        switch (c) {
            case 'a':  out [used++] = '\a'; break;
            case 'b':  out [used++] = '\b'; break;
            case 'f':  out [used++] = '\f'; break;
            case 'n':  out [used++] = '\n'; break;
            case 'r':  out [used++] = '\r'; break;
            case 't':  out [used++] = '\t'; break;
            case 'v':  out [used++] = '\v'; break;
            case '\\': out [used++] = '\\'; break;
            case '"':  out [used++] = '"'; break;
            case 'x':
                if (s_hex_digits (s, end, 2, &rune))
                    return -1;
                s += 2;
                out [used++] = (uint8_t) rune;
                break;
            case 'u':
            case 'U': {
                int digits = c == 'u'? 4: 8;
                if (s_hex_digits (s, end, digits, &rune)
                ||  rune > 0x10ffff || (rune >= 0xd800 && rune <= 0xdfff))
                    return -1;
                s += digits;
                used += zkvctl_utf8_encode (rune, out + used);
                break;
            }
            case '0': case '1': case '2': case '3':
            case '4': case '5': case '6': case '7':
                rune = c - '0';
                for (int i = 0; i < 2; i++, s++) {
                    if (s == end || *s < '0' || *s > '7')
                        return -1;
                    rune = rune * 8 + (uint32_t) (*s - '0');
                }
                if (rune > 255)
                    return -1;
                out [used++] = (uint8_t) rune;
                break;
            default:
                return -1;              //  \' too: not in a "..." literal
        }
    }
    out [used] = 0;
    *value = zkv_bin (out, used);
    return 0;
}

//  ---------------------------------------------------------------------
//  Compares: fmt.Sscanf (rest, "%q) %s %q", &key, &op, &value)

typedef struct {
    const char *at;
    const char *end;
} s_scan_t;

static void
s_scan_skip (s_scan_t *scan)
{
    while (scan->at < scan->end && s_space (*scan->at))
        scan->at++;
}

//  %q: a double-quoted (escapes) or back-quoted (raw) Go string
static int
s_scan_quoted (s_scan_t *scan, msgpack_zone *zone, zkv_bin_t *value)
{
    s_scan_skip (scan);
    if (scan->at == scan->end)
        return -1;
    char quote = *scan->at++;
    const char *start = scan->at;
    if (quote == '`') {
        while (scan->at < scan->end && *scan->at != '`')
            scan->at++;
        if (scan->at == scan->end)
            return -1;
        *value = zkv_bin (s_copy (zone, start, (size_t) (scan->at - start)),
                          (size_t) (scan->at - start));
        scan->at++;
        return 0;
    }
    if (quote != '"')
        return -1;
    while (scan->at < scan->end && *scan->at != '"') {
        if (*scan->at == '\\' && ++scan->at == scan->end)
            return -1;
        scan->at++;
    }
    if (scan->at == scan->end)
        return -1;
    size_t size = (size_t) (scan->at - start);
    scan->at++;
    return s_unquote (start, size, zone, value);
}

//  A space in the format: one or more spaces, or the end of the input
static int
s_scan_space (s_scan_t *scan)
{
    if (scan->at < scan->end && !s_space (*scan->at))
        return -1;
    s_scan_skip (scan);
    return 0;
}

//  %s: a run of non-spaces
static int
s_scan_word (s_scan_t *scan, zkv_bin_t *word)
{
    s_scan_skip (scan);
    const char *start = scan->at;
    while (scan->at < scan->end && !s_space (*scan->at))
        scan->at++;
    if (scan->at == start)
        return -1;
    *word = zkv_bin (start, (size_t) (scan->at - start));
    return 0;
}

//  A compare value as a decimal int64 (strconv.ParseInt (value, 10, 64))
static int
s_compare_int (zkv_bin_t value, int64_t *number)
{
    char text [64], why [256];
    if (value.size >= sizeof text || memchr (value.data, 0, value.size))
        return -1;
    memcpy (text, value.data, value.size);
    text [value.size] = 0;
    return zkvctl_parse_int (text, 10, number, why, sizeof why);
}

static int
s_compare_parse (zkvctl_t *ctl, const char *line, size_t size, msgpack_zone *zone,
                 zkv_compare_t *compare)
{
    const int code = ZKVCTL_EXIT_INVALID_INPUT;
    const char *paren = (const char *) memchr (line, '(', size);
    if (!paren)
        return zkvctl_fail (ctl, code, "malformed comparison: %.*s", (int) size, line);
    zkv_bin_t target = zkv_bin (line, (size_t) (paren - line));
    s_scan_t scan = { paren + 1, line + size };
    zkv_bin_t key = { NULL, 0 }, op = { NULL, 0 }, value = { NULL, 0 };
    int scanned = 0;
    if (s_scan_quoted (&scan, zone, &key) == 0) {
        scanned = 1;
        if (scan.at < scan.end && *scan.at == ')') {
            scan.at++;
            if (s_scan_space (&scan) == 0 && s_scan_word (&scan, &op) == 0) {
                scanned = 2;
                if (s_scan_space (&scan) == 0 && s_scan_quoted (&scan, zone, &value) == 0)
                    scanned = 3;
            }
        }
    }
    if (scanned != 3) {
        char *quoted_key = zkvctl_quote (key.data, key.size);
        char *quoted_value = zkvctl_quote (value.data, value.size);
        zkvctl_fail (ctl, code, "malformed comparison: %.*s; got %.*s(%s) %.*s %s",
                     (int) size, line, (int) target.size, (const char *) target.data,
                     quoted_key, (int) op.size, (const char *) op.data, quoted_value);
        free (quoted_key);
        free (quoted_value);
        return -1;
    }
    memset (compare, 0, sizeof *compare);
    compare->key = key;
    int rc = 0;
    const char *name;
    if (zkv_bin_eq (target, "ver") || zkv_bin_eq (target, "version")) {
        name = "VERSION";
        rc = s_compare_int (value, &compare->version);
    }
    else
    if (zkv_bin_eq (target, "c") || zkv_bin_eq (target, "create")) {
        name = "CREATE";
        rc = s_compare_int (value, &compare->create_revision);
    }
    else
    if (zkv_bin_eq (target, "m") || zkv_bin_eq (target, "mod")) {
        name = "MOD";
        rc = s_compare_int (value, &compare->mod_revision);
    }
    else
    if (zkv_bin_eq (target, "val") || zkv_bin_eq (target, "value")) {
        name = "VALUE";
        compare->value = value;
    }
    else
    if (zkv_bin_eq (target, "lease")) {
        name = "LEASE";
        rc = s_compare_int (value, &compare->lease);
    }
    else
        return zkvctl_fail (ctl, code, "malformed comparison: %.*s (unknown target %.*s)",
                            (int) size, line, (int) target.size, (const char *) target.data);
    if (rc)
        return zkvctl_fail (ctl, code, "invalid txn compare request: %.*s", (int) size, line);
    compare->target = zkv_bin (name, strlen (name));

    const char *result = zkv_bin_eq (op, "=")? "EQUAL"
                       : zkv_bin_eq (op, "!=")? "NOT_EQUAL"
                       : zkv_bin_eq (op, ">")? "GREATER"
                       : zkv_bin_eq (op, "<")? "LESS": NULL;
    if (!result)
        return zkvctl_fail (ctl, code, "malformed comparison: %.*s (unknown operator %.*s)",
                            (int) size, line, (int) op.size, (const char *) op.data);
    compare->result = zkv_bin (result, strlen (result));
    return 0;
}

//  ---------------------------------------------------------------------
//  Request lines

//  etcdctl's Argify: the matches of
//      "(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?
//  from left to right; "..." unquoted as Go strings, '...' stripped. A
//  quote that opens nothing is skipped. Returns the number of args, or -1
//  (`invalid syntax`).
static int
s_argify (const char *line, size_t size, msgpack_zone *zone, char **args, size_t *sizes)
{
    int count = 0;
    const char *at = line, *end = line + size;
    while (at < end) {
        if (*at == ' ' || *at == '\t' || *at == '\n' || *at == '\f' || *at == '\r') {
            at++;
            continue;
        }
        const char *close = NULL;
        if (*at == '"') {
            const char *scan = at + 1;
            while (scan < end && *scan != '"') {
                if (*scan == '\\' && (scan + 1 == end || scan [1] == '\n'))
                    break;
                scan += *scan == '\\'? 2: 1;
            }
            if (scan < end && *scan == '"')
                close = scan;
            if (close) {
                zkv_bin_t value;
                if (s_unquote (at + 1, (size_t) (close - at - 1), zone, &value))
                    return -1;
                args [count] = (char *) value.data;
                sizes [count++] = value.size;
                at = close + 1;
            }
            else
                at++;
            continue;
        }
        if (*at == '\'') {
            close = (const char *) memchr (at + 1, '\'', (size_t) (end - at - 1));
            if (close) {
                args [count] = s_copy (zone, at + 1, (size_t) (close - at - 1));
                sizes [count++] = (size_t) (close - at - 1);
                at = close + 1;
            }
            else
                at++;
            continue;
        }
        const char *start = at;
        while (at < end && !(*at == ' ' || *at == '\t' || *at == '\n' || *at == '\f' || *at == '\r'))
            at++;
        args [count] = s_copy (zone, start, (size_t) (at - start));
        sizes [count++] = (size_t) (at - start);
    }
    return count;
}

static int
s_request_parse (zkvctl_t *ctl, const char *line, size_t size, msgpack_zone *zone,
                 zkvctl_op_t *op)
{
    const int code = ZKVCTL_EXIT_INVALID_INPUT;
    //  No more args than bytes
    char **args = (char **) msgpack_zone_malloc (zone, (size + 1) * sizeof (char *));
    size_t *sizes = (size_t *) msgpack_zone_malloc (zone, (size + 1) * sizeof (size_t));
    int count = s_argify (line, size, zone, args, sizes);
    if (count < 0)
        return zkvctl_fail (ctl, code, "invalid syntax");
    if (count < 2)
        return zkvctl_fail (ctl, code, "invalid txn compare request: %.*s", (int) size, line);
    //  The command, by its name or a unique prefix of it
    static const char *names [] = { "put", "get", "del" };
    static const zkvctl_op_kind_t kinds [] = { ZKVCTL_OP_PUT, ZKVCTL_OP_GET, ZKVCTL_OP_DEL };
    int matches = 0;
    zkvctl_op_kind_t kind = ZKVCTL_OP_PUT;
    for (int i = 0; i < 3; i++)
        if (sizes [0] > 0 && sizes [0] <= 3 && memcmp (names [i], args [0], sizes [0]) == 0) {
            kind = kinds [i];
            matches++;
        }
    if (matches != 1)
        return zkvctl_fail (ctl, code, "invalid txn request: %.*s", (int) size, line);
    int rc = zkvctl_op_parse (ctl, kind, false, count - 1, args + 1, sizes + 1, zone, op);
    if (rc == ZKVCTL_BAD_FLAG)
        return zkvctl_fail (ctl, code, "invalid txn request: %.*s", (int) size, line);
    return rc? -1: 0;
}

//  ---------------------------------------------------------------------
//  Reading the input

//  Reads one line as bufio's ReadString ('\n') then strings.TrimSpace.
//  Returns 0, or -1: `EOF` at the end of the input (even after a last
//  line without a newline), `interrupted` on a signal.
static int
s_read_line (zkvctl_t *ctl, char **buffer, size_t *room, const char **line, size_t *size)
{
    errno = 0;
    ssize_t length = getline (buffer, room, stdin);
    if (length <= 0 || (*buffer) [length - 1] != '\n') {
        if (zsys_interrupted)
            return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "interrupted");
        if (length < 0 && ferror (stdin) && errno)
            return zkvctl_fail (ctl, ZKVCTL_EXIT_INVALID_INPUT, "%s", strerror (errno));
        return zkvctl_fail (ctl, ZKVCTL_EXIT_INVALID_INPUT, "EOF");
    }
    const char *start = *buffer, *end = *buffer + length;
    while (start < end && s_space (*start))
        start++;
    while (end > start && s_space (end [-1]))
        end--;
    *line = start;
    *size = (size_t) (end - start);
    return 0;
}

//  Reads the three sections of a txn into self
static int
s_txn_read (zkvctl_t *ctl, bool interactive, s_txn_t *self)
{
    static const char *prompts [] = {
        "compares:", "success requests (get, put, del):", "failure requests (get, put, del):"
    };
    char *buffer = NULL;
    size_t room = 0;
    int rc = 0;
    for (int section = 0; section < 3 && rc == 0; section++) {
        if (interactive) {
            printf ("%s\n", prompts [section]);
            fflush (stdout);
        }
        size_t capacity = 0;
        while (rc == 0) {
            const char *line = NULL;
            size_t size = 0;
            rc = s_read_line (ctl, &buffer, &room, &line, &size);
            if (rc || size == 0)
                break;
            if (section == 0) {
                if (zkv_grow ((void **) &self->compares, &capacity, self->compare_count + 1,
                              sizeof (zkv_compare_t))) {
                    rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "out of memory");
                    break;
                }
                rc = s_compare_parse (ctl, line, size, self->zone,
                                      &self->compares [self->compare_count]);
                if (rc == 0)
                    self->compare_count++;
            }
            else {
                int branch = section - 1;
                if (zkv_grow ((void **) &self->ops [branch], &capacity,
                              self->op_count [branch] + 1, sizeof (zkvctl_op_t))) {
                    rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "out of memory");
                    break;
                }
                rc = s_request_parse (ctl, line, size, self->zone,
                                      &self->ops [branch][self->op_count [branch]]);
                if (rc == 0)
                    self->op_count [branch]++;
            }
        }
    }
    free (buffer);
    return rc;
}

//  ---------------------------------------------------------------------
//  Running it

//  The request_op list of ops (pointing into them), from zone
static zkv_request_op_list_t
s_request_ops (const zkvctl_op_t *ops, size_t count, msgpack_zone *zone)
{
    zkv_request_op_list_t list = { NULL, count };
    if (count == 0)
        return list;
    list.items = (zkv_request_op_t *) msgpack_zone_malloc (zone, count * sizeof (zkv_request_op_t));
    memset (list.items, 0, count * sizeof (zkv_request_op_t));
    for (size_t i = 0; i < count; i++) {
        zkvctl_op_t *op = (zkvctl_op_t *) &ops [i];
        if (op->kind == ZKVCTL_OP_PUT)
            list.items [i].request_put = &op->put;
        else
        if (op->kind == ZKVCTL_OP_GET)
            list.items [i].request_range = &op->range;
        else
            list.items [i].request_delete_range = &op->delete_range;
    }
    return list;
}

static int
s_txn_execute (zkvctl_t *ctl, s_txn_t *self)
{
    zkv_txn_t txn;
    memset (&txn, 0, sizeof txn);
    txn.compare.items = self->compares;
    txn.compare.count = self->compare_count;
    txn.success = s_request_ops (self->ops [0], self->op_count [0], self->zone);
    txn.failure = s_request_ops (self->ops [1], self->op_count [1], self->zone);
    zkv_msg_t *reply = zkvctl_call (ctl, &zkv_txn_desc, &txn);
    if (!reply)
        return -1;
    const zkv_txn_response_t *response = (const zkv_txn_response_t *) reply->body;
    int branch = response->succeeded? 0: 1;
    size_t count = self->op_count [branch];
    zkvctl_view_t views [count + 1];
    for (size_t i = 0; i < count; i++)
        views [i] = self->ops [branch][i].view;
    zkvctl_print_txn (ctl, response, views, count);
    zkv_msg_destroy (&reply);
    return 0;
}

static int
s_txn_run (zkvctl_t *ctl, int argc, char **argv)
{
    bool interactive = false;
    zkvctl_flag_t flags [] = {
        { "interactive", 'i', ZKVCTL_FLAG_BOOL, &interactive, "false",
          "Input transaction in interactive mode", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &zkvctl_txn_command, flags, true, argc - 1, argv + 1,
                                 NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (count > 0)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "txn command does not accept argument");
    if (zkvctl_ready (ctl, false))
        return -1;

    s_txn_t self;
    memset (&self, 0, sizeof self);
    self.zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE);
    rc = s_txn_read (ctl, interactive, &self);
    if (rc == 0)
        rc = s_txn_execute (ctl, &self);
    free (self.compares);
    free (self.ops [0]);
    free (self.ops [1]);
    msgpack_zone_free (self.zone);
    return rc;
}

const zkvctl_command_t zkvctl_txn_command = {
    "txn", "txn [options]",
    "Txn processes all the requests in one transaction", s_txn_run, NULL, NULL
};
