/*  =========================================================================
    zkvctl_output.c — the printers of zkvctl (-w simple, json, fields) and
    the formatting helpers they share (UTF-8, Go quoting, base64, hex).

    simple  etcdctl's simplePrinter: `OK`, key and value lines, counts
    json    Go's encoding/json of the etcd protobuf response, as etcdctl
            prints it: one line, snake_case names, zero values omitted,
            bytes in base64, 64-bit integers as plain numbers
    fields  etcdctl's fieldsPrinter: `"Name" : value` lines
    table   etcdctl's tablePrinter (olekukonko/tablewriter v0.0.5), for
            member list only; etcdctl prints no KV response as a table, and
            the KV commands refuse it before sending anything (see
            zkvctl_ready)
    =========================================================================
*/
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"

int
zkvctl_output_parse (zkvctl_t *ctl)
{
    static const struct {
        const char *name;
        zkvctl_format_t format;
    } formats [] = {
        { "simple", ZKVCTL_FORMAT_SIMPLE }, { "json", ZKVCTL_FORMAT_JSON },
        { "fields", ZKVCTL_FORMAT_FIELDS }, { "table", ZKVCTL_FORMAT_TABLE }
    };
    //  DEVIATION: no "protobuf" output, zkv does not speak protobuf
    for (size_t i = 0; i < sizeof formats / sizeof formats [0]; i++)
        if (streq (ctl->write_out, formats [i].name)) {
            ctl->format = formats [i].format;
            return 0;
        }
    return -1;
}

//  ---------------------------------------------------------------------
//  UTF-8 and Go quoting

size_t
zkvctl_utf8_decode (const uint8_t *data, size_t size, uint32_t *rune)
{
    if (size == 0)
        return 0;
    uint8_t first = data [0];
    if (first < 0x80) {
        *rune = first;
        return 1;
    }
    size_t length;
    uint32_t value, min;
    if (first >= 0xc2 && first <= 0xdf) {
        length = 2;
        value = first & 0x1f;
        min = 0x80;
    }
    else
    if (first >= 0xe0 && first <= 0xef) {
        length = 3;
        value = first & 0x0f;
        min = 0x800;
    }
    else
    if (first >= 0xf0 && first <= 0xf4) {
        length = 4;
        value = first & 0x07;
        min = 0x10000;
    }
    else
        return 0;
    if (size < length)
        return 0;
    for (size_t i = 1; i < length; i++) {
        if ((data [i] & 0xc0) != 0x80)
            return 0;
        value = (value << 6) | (data [i] & 0x3f);
    }
    //  Overlong forms, surrogates and beyond U+10FFFF are not UTF-8
    if (value < min || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
        return 0;
    *rune = value;
    return length;
}

size_t
zkvctl_utf8_encode (uint32_t rune, uint8_t *out)
{
    if (rune < 0x80) {
        out [0] = (uint8_t) rune;
        return 1;
    }
    if (rune < 0x800) {
        out [0] = (uint8_t) (0xc0 | (rune >> 6));
        out [1] = (uint8_t) (0x80 | (rune & 0x3f));
        return 2;
    }
    if (rune < 0x10000) {
        out [0] = (uint8_t) (0xe0 | (rune >> 12));
        out [1] = (uint8_t) (0x80 | ((rune >> 6) & 0x3f));
        out [2] = (uint8_t) (0x80 | (rune & 0x3f));
        return 3;
    }
    out [0] = (uint8_t) (0xf0 | (rune >> 18));
    out [1] = (uint8_t) (0x80 | ((rune >> 12) & 0x3f));
    out [2] = (uint8_t) (0x80 | ((rune >> 6) & 0x3f));
    out [3] = (uint8_t) (0x80 | (rune & 0x3f));
    return 4;
}

//  Go's unicode.IsPrint for a non-ASCII rune. An approximation: it knows
//  the controls, spaces, format characters, private use areas and
//  noncharacters, and takes every other (even unassigned) rune as
//  printable.
static bool
s_rune_printable (uint32_t rune)
{
    static const uint32_t unprintable [][2] = {
        { 0x80, 0xa0 }, { 0xad, 0xad }, { 0x600, 0x605 }, { 0x61c, 0x61c },
        { 0x6dd, 0x6dd }, { 0x70f, 0x70f }, { 0x1680, 0x1680 }, { 0x180e, 0x180e },
        { 0x2000, 0x200f }, { 0x2028, 0x202f }, { 0x205f, 0x206f }, { 0x3000, 0x3000 },
        { 0xe000, 0xf8ff }, { 0xfdd0, 0xfdef }, { 0xfeff, 0xfeff }, { 0xfff9, 0xfffb },
        { 0x110bd, 0x110bd }, { 0x1d173, 0x1d17a }, { 0xe0001, 0xe0001 },
        { 0xe0020, 0xe007f }, { 0xf0000, 0x10ffff }
    };
    if ((rune & 0xfffe) == 0xfffe)
        return false;
    for (size_t i = 0; i < sizeof unprintable / sizeof unprintable [0]; i++)
        if (rune >= unprintable [i][0] && rune <= unprintable [i][1])
            return false;
    return true;
}

char *
zkvctl_quote (const void *data, size_t size)
{
    static const char hex [] = "0123456789abcdef";
    const uint8_t *bytes = (const uint8_t *) data;
    //  The worst case is \UXXXXXXXX (10 bytes) for 4 bytes, \xNN for 1
    char *quoted = (char *) zmalloc (size * 4 + 3);
    char *out = quoted;
    *out++ = '"';
    size_t width;
    for (size_t at = 0; at < size; at += width) {
        uint32_t rune;
        width = zkvctl_utf8_decode (bytes + at, size - at, &rune);
        if (width == 0) {
            width = 1;
            out += sprintf (out, "\\x%c%c", hex [bytes [at] >> 4], hex [bytes [at] & 15]);
            continue;
        }
        if (rune == '"' || rune == '\\') {
            *out++ = '\\';
            *out++ = (char) rune;
        }
        else
        if (rune >= 0x20 && rune < 0x7f) {
            *out++ = (char) rune;
        }
        else
        if (rune >= 0x80 && s_rune_printable (rune)) {
            memcpy (out, bytes + at, width);
            out += width;
        }
        else {
            const char *escape = NULL;
            switch (rune) {
                case '\a': escape = "\\a"; break;
                case '\b': escape = "\\b"; break;
                case '\f': escape = "\\f"; break;
                case '\n': escape = "\\n"; break;
                case '\r': escape = "\\r"; break;
                case '\t': escape = "\\t"; break;
                case '\v': escape = "\\v"; break;
            }
            if (escape)
                out += sprintf (out, "%s", escape);
            else
            if (rune < 0x20 || rune == 0x7f)
                out += sprintf (out, "\\x%c%c", hex [rune >> 4], hex [rune & 15]);
            else
            if (rune < 0x10000)
                out += sprintf (out, "\\u%04" PRIx32, rune);
            else
                out += sprintf (out, "\\U%08" PRIx32, rune);
        }
    }
    *out++ = '"';
    *out = 0;
    return quoted;
}

//  ---------------------------------------------------------------------
//  Bytes as base64 (Go's base64.StdEncoding, padded) and as \xNN

static void
s_base64 (FILE *out, zkv_bin_t bin)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *data = bin.data;
    size_t at = 0;
    for (; at + 3 <= bin.size; at += 3) {
        uint32_t triple = (uint32_t) data [at] << 16 | (uint32_t) data [at + 1] << 8 | data [at + 2];
        fputc (alphabet [triple >> 18], out);
        fputc (alphabet [(triple >> 12) & 63], out);
        fputc (alphabet [(triple >> 6) & 63], out);
        fputc (alphabet [triple & 63], out);
    }
    if (bin.size - at == 1) {
        uint32_t triple = (uint32_t) data [at] << 16;
        fprintf (out, "%c%c==", alphabet [triple >> 18], alphabet [(triple >> 12) & 63]);
    }
    else
    if (bin.size - at == 2) {
        uint32_t triple = (uint32_t) data [at] << 16 | (uint32_t) data [at + 1] << 8;
        fprintf (out, "%c%c%c=", alphabet [triple >> 18], alphabet [(triple >> 12) & 63],
                 alphabet [(triple >> 6) & 63]);
    }
}

//  etcdctl --hex: every byte as a literal \x and two lowercase hex digits
static void
s_hex (FILE *out, zkv_bin_t bin)
{
    for (size_t i = 0; i < bin.size; i++)
        fprintf (out, "\\x%02x", bin.data [i]);
}

//  ---------------------------------------------------------------------
//  simple

//  Bytes as they are, or with --hex as \xNN each
static void
s_simple_bytes (zkvctl_t *ctl, zkv_bin_t bin)
{
    if (ctl->hex)
        s_hex (stdout, bin);
    else
    if (bin.size)                       //  an empty bin may have no data
        fwrite (bin.data, 1, bin.size, stdout);
    fputc ('\n', stdout);
}

//  etcdctl's printKV: the key line (unless value_only), the value line
static void
s_simple_kv (zkvctl_t *ctl, const zkv_key_value_t *kv, bool value_only)
{
    if (!value_only)
        s_simple_bytes (ctl, kv->key);
    s_simple_bytes (ctl, kv->value);
}

static void
s_simple_put (zkvctl_t *ctl, const zkv_put_response_t *response)
{
    printf ("OK\n");
    if (response->prev_kv)
        s_simple_kv (ctl, response->prev_kv, false);
}

static void
s_simple_range (zkvctl_t *ctl, const zkv_range_response_t *response, const zkvctl_view_t *view)
{
    //  DEVIATION: etcdctl refuses --count-only unless -w fields; zkvctl
    //  prints the count alone
    if (view && view->count_only) {
        printf ("%" PRId64 "\n", response->count);
        return;
    }
    for (size_t i = 0; i < response->kvs.count; i++)
        s_simple_kv (ctl, &response->kvs.items [i], view && view->value_only);
}

static void
s_simple_delete (zkvctl_t *ctl, const zkv_delete_range_response_t *response)
{
    printf ("%" PRId64 "\n", response->deleted);
    for (size_t i = 0; i < response->prev_kvs.count; i++)
        s_simple_kv (ctl, &response->prev_kvs.items [i], false);
}

static void
s_simple_txn (zkvctl_t *ctl, const zkv_txn_response_t *response,
              const zkvctl_view_t *views, size_t view_count)
{
    printf ("%s\n", response->succeeded? "SUCCESS": "FAILURE");
    for (size_t i = 0; i < response->responses.count; i++) {
        const zkv_response_op_t *op = &response->responses.items [i];
        printf ("\n");
        if (op->response_delete_range)
            s_simple_delete (ctl, op->response_delete_range);
        else
        if (op->response_put)
            s_simple_put (ctl, op->response_put);
        else
        if (op->response_range)
            s_simple_range (ctl, op->response_range, i < view_count? &views [i]: NULL);
        else
        if (op->response_txn)
            s_simple_txn (ctl, op->response_txn, NULL, 0);
        else
            printf ("unexpected response {}\n");
    }
}

//  ---------------------------------------------------------------------
//  json

//  The name of the next member of an object
void
zkvctl_json_name (FILE *out, bool *first, const char *name)
{
    fprintf (out, "%s\"%s\":", *first? "": ",", name);
    *first = false;
}

void
zkvctl_json_header (FILE *out, bool *first, const zkv_header_t *header)
{
    if (!header)
        return;
    zkvctl_json_name (out, first, "header");
    bool inner = true;
    fputc ('{', out);
    if (header->cluster_id) {
        zkvctl_json_name (out, &inner, "cluster_id");
        fprintf (out, "%" PRIu64, header->cluster_id);
    }
    if (header->member_id) {
        zkvctl_json_name (out, &inner, "member_id");
        fprintf (out, "%" PRIu64, header->member_id);
    }
    if (header->revision) {
        zkvctl_json_name (out, &inner, "revision");
        fprintf (out, "%" PRId64, header->revision);
    }
    if (header->raft_term) {
        zkvctl_json_name (out, &inner, "raft_term");
        fprintf (out, "%" PRIu64, header->raft_term);
    }
    fputc ('}', out);
}

void
zkvctl_json_int (FILE *out, bool *first, const char *name, int64_t value)
{
    if (value) {
        zkvctl_json_name (out, first, name);
        fprintf (out, "%" PRId64, value);
    }
}

static void
s_json_bytes (FILE *out, bool *first, const char *name, zkv_bin_t value)
{
    if (value.size) {
        zkvctl_json_name (out, first, name);
        fputc ('"', out);
        s_base64 (out, value);
        fputc ('"', out);
    }
}

static void
s_json_kv (FILE *out, const zkv_key_value_t *kv)
{
    bool first = true;
    fputc ('{', out);
    s_json_bytes (out, &first, "key", kv->key);
    zkvctl_json_int (out, &first, "create_revision", kv->create_revision);
    zkvctl_json_int (out, &first, "mod_revision", kv->mod_revision);
    zkvctl_json_int (out, &first, "version", kv->version);
    s_json_bytes (out, &first, "value", kv->value);
    zkvctl_json_int (out, &first, "lease", kv->lease);
    fputc ('}', out);
}

static void
s_json_kvs (FILE *out, bool *first, const char *name, const zkv_key_value_list_t *list)
{
    if (list->count == 0)
        return;
    zkvctl_json_name (out, first, name);
    fputc ('[', out);
    for (size_t i = 0; i < list->count; i++) {
        if (i)
            fputc (',', out);
        s_json_kv (out, &list->items [i]);
    }
    fputc (']', out);
}

static void
s_json_put (FILE *out, const zkv_put_response_t *response)
{
    bool first = true;
    fputc ('{', out);
    zkvctl_json_header (out, &first, response->header);
    if (response->prev_kv) {
        zkvctl_json_name (out, &first, "prev_kv");
        s_json_kv (out, response->prev_kv);
    }
    fputc ('}', out);
}

static void
s_json_range (FILE *out, const zkv_range_response_t *response)
{
    bool first = true;
    fputc ('{', out);
    zkvctl_json_header (out, &first, response->header);
    s_json_kvs (out, &first, "kvs", &response->kvs);
    if (response->more) {
        zkvctl_json_name (out, &first, "more");
        fprintf (out, "true");
    }
    zkvctl_json_int (out, &first, "count", response->count);
    fputc ('}', out);
}

static void
s_json_delete (FILE *out, const zkv_delete_range_response_t *response)
{
    bool first = true;
    fputc ('{', out);
    zkvctl_json_header (out, &first, response->header);
    zkvctl_json_int (out, &first, "deleted", response->deleted);
    s_json_kvs (out, &first, "prev_kvs", &response->prev_kvs);
    fputc ('}', out);
}

//  A ResponseOp's oneof is an untagged Go interface field: its JSON key is
//  "Response", holding an object with the one response_* member
static void
s_json_txn (FILE *out, const zkv_txn_response_t *response)
{
    bool first = true;
    fputc ('{', out);
    zkvctl_json_header (out, &first, response->header);
    if (response->succeeded) {
        zkvctl_json_name (out, &first, "succeeded");
        fprintf (out, "true");
    }
    if (response->responses.count) {
        zkvctl_json_name (out, &first, "responses");
        fputc ('[', out);
        for (size_t i = 0; i < response->responses.count; i++) {
            const zkv_response_op_t *op = &response->responses.items [i];
            fprintf (out, "%s{\"Response\":", i? ",": "");
            if (op->response_range) {
                fprintf (out, "{\"response_range\":");
                s_json_range (out, op->response_range);
                fputc ('}', out);
            }
            else
            if (op->response_put) {
                fprintf (out, "{\"response_put\":");
                s_json_put (out, op->response_put);
                fputc ('}', out);
            }
            else
            if (op->response_delete_range) {
                fprintf (out, "{\"response_delete_range\":");
                s_json_delete (out, op->response_delete_range);
                fputc ('}', out);
            }
            else
            if (op->response_txn) {
                fprintf (out, "{\"response_txn\":");
                s_json_txn (out, op->response_txn);
                fputc ('}', out);
            }
            else
                fprintf (out, "null");
            fputc ('}', out);
        }
        fputc (']', out);
    }
    fputc ('}', out);
}

//  ---------------------------------------------------------------------
//  fields

void
zkvctl_fields_header (zkvctl_t *ctl, const zkv_header_t *header)
{
    zkv_header_t none = { 0, 0, 0, 0 };
    if (!header)
        header = &none;
    if (ctl->hex) {
        printf ("\"ClusterID\" : %" PRIx64 "\n", header->cluster_id);
        printf ("\"MemberID\" : %" PRIx64 "\n", header->member_id);
    }
    else {
        printf ("\"ClusterID\" : %" PRIu64 "\n", header->cluster_id);
        printf ("\"MemberID\" : %" PRIu64 "\n", header->member_id);
    }
    if (header->revision > 0)
        printf ("\"Revision\" : %" PRId64 "\n", header->revision);
    printf ("\"RaftTerm\" : %" PRIu64 "\n", header->raft_term);
}

static void
s_fields_kv (zkvctl_t *ctl, const char *prefix, const zkv_key_value_t *kv)
{
    char *key = zkvctl_quote (kv->key.data, kv->key.size);
    char *value = zkvctl_quote (kv->value.data, kv->value.size);
    printf ("\"%sKey\" : %s\n", prefix, key);
    printf ("\"%sCreateRevision\" : %" PRId64 "\n", prefix, kv->create_revision);
    printf ("\"%sModRevision\" : %" PRId64 "\n", prefix, kv->mod_revision);
    printf ("\"%sVersion\" : %" PRId64 "\n", prefix, kv->version);
    printf ("\"%sValue\" : %s\n", prefix, value);
    if (ctl->hex)
        printf ("\"%sLease\" : %016" PRIx64 "\n", prefix, (uint64_t) kv->lease);
    else
        printf ("\"%sLease\" : %" PRId64 "\n", prefix, kv->lease);
    free (key);
    free (value);
}

static void
s_fields_put (zkvctl_t *ctl, const zkv_put_response_t *response)
{
    zkvctl_fields_header (ctl, response->header);
    if (response->prev_kv)
        s_fields_kv (ctl, "Prev", response->prev_kv);
}

static void
s_fields_range (zkvctl_t *ctl, const zkv_range_response_t *response)
{
    zkvctl_fields_header (ctl, response->header);
    for (size_t i = 0; i < response->kvs.count; i++)
        s_fields_kv (ctl, "", &response->kvs.items [i]);
    printf ("\"More\" : %s\n", response->more? "true": "false");
    printf ("\"Count\" : %" PRId64 "\n", response->count);
}

static void
s_fields_delete (zkvctl_t *ctl, const zkv_delete_range_response_t *response)
{
    zkvctl_fields_header (ctl, response->header);
    printf ("\"Deleted\" : %" PRId64 "\n", response->deleted);
    for (size_t i = 0; i < response->prev_kvs.count; i++)
        s_fields_kv (ctl, "Prev", &response->prev_kvs.items [i]);
}

static void
s_fields_txn (zkvctl_t *ctl, const zkv_txn_response_t *response)
{
    zkvctl_fields_header (ctl, response->header);
    printf ("\"Succeeded\" : %s\n", response->succeeded? "true": "false");
    for (size_t i = 0; i < response->responses.count; i++) {
        const zkv_response_op_t *op = &response->responses.items [i];
        if (op->response_delete_range)
            s_fields_delete (ctl, op->response_delete_range);
        else
        if (op->response_put)
            s_fields_put (ctl, op->response_put);
        else
        if (op->response_range)
            s_fields_range (ctl, op->response_range);
        else
        if (op->response_txn)
            s_fields_txn (ctl, op->response_txn);
        else
            printf ("\"Unknown\" : \"<nil>\"\n");
    }
}

//  ---------------------------------------------------------------------
//  member list (etcdctl's printers of a MemberListResponse)
//
//  A zkv member has one peer and one client endpoint, where etcd has lists
//  of URLs: each is printed as a list of one, or none when empty.

//  etcdctl prints a member without a name as "unstarted": it has not
//  published its attributes yet. A zkv member knows its name from the
//  start and publishes its client endpoint: without one it has not
//  started, and its row shows no name, as etcdctl's would.
static bool
s_member_started (const zkv_cluster_member_t *member)
{
    return member->name.size && member->client_endpoint.size;
}

//  The bytes of bin for a "%.*s" (an empty bin may have no data)
static const char *
s_chars (zkv_bin_t bin)
{
    return bin.data? (const char *) bin.data: "";
}

//  Go's encoding/json of a string: UTF-8 kept, invalid bytes as \ufffd,
//  <, > and & escaped for HTML, U+2028 and U+2029 escaped
void
zkvctl_json_string (FILE *out, zkv_bin_t bin)
{
    static const char hex [] = "0123456789abcdef";
    fputc ('"', out);
    size_t width;
    for (size_t at = 0; at < bin.size; at += width) {
        uint32_t rune;
        width = zkvctl_utf8_decode (bin.data + at, bin.size - at, &rune);
        if (width == 0) {
            width = 1;
            fprintf (out, "\\ufffd");
        }
        else
        if (rune == '"' || rune == '\\')
            fprintf (out, "\\%c", (char) rune);
        else
        if (rune == '\n')
            fprintf (out, "\\n");
        else
        if (rune == '\r')
            fprintf (out, "\\r");
        else
        if (rune == '\t')
            fprintf (out, "\\t");
        else
        if (rune == '\b')
            fprintf (out, "\\b");
        else
        if (rune == '\f')
            fprintf (out, "\\f");
        else
        if (rune < 0x20 || rune == '<' || rune == '>' || rune == '&')
            fprintf (out, "\\u00%c%c", hex [rune >> 4], hex [rune & 15]);
        else
        if (rune == 0x2028 || rune == 0x2029)
            fprintf (out, "\\u%04" PRIx32, rune);
        else
            fwrite (bin.data + at, 1, width, out);
    }
    fputc ('"', out);
}

//  A list of one URL, or Go's nil slice
static void
s_json_urls (FILE *out, zkv_bin_t url)
{
    if (url.size) {
        fputc ('[', out);
        zkvctl_json_string (out, url);
        fputc (']', out);
    }
    else
        fprintf (out, "null");
}

static void
s_simple_member_list (const zkv_member_list_response_t *response)
{
    for (size_t i = 0; i < response->members.count; i++) {
        const zkv_cluster_member_t *member = &response->members.items [i];
        bool started = s_member_started (member);
        printf ("%" PRIx64 ", %s, %.*s, %.*s, %.*s, %s\n", member->member_id,
                started? "started": "unstarted",
                started? (int) member->name.size: 0, s_chars (member->name),
                (int) member->peer_endpoint.size, s_chars (member->peer_endpoint),
                (int) member->client_endpoint.size, s_chars (member->client_endpoint),
                member->is_learner? "true": "false");
    }
}

//  Go's encoding/json of an etcdserverpb.Member: omitempty everywhere, ID
//  a number, isLearner only when true
void
zkvctl_json_member (FILE *out, const zkv_cluster_member_t *member)
{
    bool inner = true;
    fputc ('{', out);
    if (member->member_id) {
        zkvctl_json_name (out, &inner, "ID");
        fprintf (out, "%" PRIu64, member->member_id);
    }
    if (member->name.size) {
        zkvctl_json_name (out, &inner, "name");
        zkvctl_json_string (out, member->name);
    }
    if (member->peer_endpoint.size) {
        zkvctl_json_name (out, &inner, "peerURLs");
        s_json_urls (out, member->peer_endpoint);
    }
    if (member->client_endpoint.size) {
        zkvctl_json_name (out, &inner, "clientURLs");
        s_json_urls (out, member->client_endpoint);
    }
    if (member->is_learner) {
        zkvctl_json_name (out, &inner, "isLearner");
        fprintf (out, "true");
    }
    fputc ('}', out);
}

void
zkvctl_json_members (FILE *out, const zkv_header_t *header, const zkv_cluster_member_t *member,
                     const zkv_cluster_member_list_t *members)
{
    bool first = true;
    fputc ('{', out);
    zkvctl_json_header (out, &first, header);
    if (member) {
        zkvctl_json_name (out, &first, "member");
        zkvctl_json_member (out, member);
    }
    if (members->count) {
        zkvctl_json_name (out, &first, "members");
        fputc ('[', out);
        for (size_t i = 0; i < members->count; i++) {
            if (i)
                fputc (',', out);
            zkvctl_json_member (out, &members->items [i]);
        }
        fputc (']', out);
    }
    fputc ('}', out);
}

//  -w json --hex: etcdctl's printMemberListWithHexJSON, written by hand:
//  ids as hex strings, raft_term, name and both URL lists always there
//  (a list Go has none of is null), no revision; isLearner only when true,
//  as in the JSON without --hex.
//  DEVIATION: etcdctl writes the name unescaped; zkvctl escapes it
static void
s_json_hex_member_list (FILE *out, const zkv_member_list_response_t *response)
{
    zkv_header_t none = { 0, 0, 0, 0 };
    const zkv_header_t *header = response->header? response->header: &none;
    fprintf (out, "{\"header\":{\"cluster_id\":\"%" PRIx64 "\",\"member_id\":\"%" PRIx64
             "\",\"raft_term\":%" PRIu64 "}", header->cluster_id, header->member_id,
             header->raft_term);
    for (size_t i = 0; i < response->members.count; i++) {
        const zkv_cluster_member_t *member = &response->members.items [i];
        fprintf (out, "%s{\"ID\":\"%" PRIx64 "\",\"name\":", i? ",": ",\"members\":[",
                 member->member_id);
        zkvctl_json_string (out, member->name);
        fprintf (out, ",\"peerURLs\":");
        s_json_urls (out, member->peer_endpoint);
        fprintf (out, ",\"clientURLs\":");
        s_json_urls (out, member->client_endpoint);
        if (member->is_learner)
            fprintf (out, ",\"isLearner\":true");
        fputc ('}', out);
        if (i + 1 == response->members.count)
            fputc (']', out);
    }
    fputc ('}', out);
}

static void
s_fields_member_list (zkvctl_t *ctl, const zkv_member_list_response_t *response)
{
    zkvctl_fields_header (ctl, response->header);
    for (size_t i = 0; i < response->members.count; i++) {
        const zkv_cluster_member_t *member = &response->members.items [i];
        if (ctl->hex)
            printf ("\"ID\" : %" PRIx64 "\n", member->member_id);
        else
            printf ("\"ID\" : %" PRIu64 "\n", member->member_id);
        char *name = zkvctl_quote (member->name.data, member->name.size);
        printf ("\"Name\" : %s\n", name);
        free (name);
        if (member->peer_endpoint.size) {
            char *url = zkvctl_quote (member->peer_endpoint.data, member->peer_endpoint.size);
            printf ("\"PeerURL\" : %s\n", url);
            free (url);
        }
        if (member->client_endpoint.size) {
            char *url = zkvctl_quote (member->client_endpoint.data,
                                      member->client_endpoint.size);
            printf ("\"ClientURL\" : %s\n", url);
            free (url);
        }
        printf ("\"IsLearner\" : %s\n\n", member->is_learner? "true": "false");
    }
}

//  ---------------------------------------------------------------------
//  table: olekukonko/tablewriter v0.0.5 as etcdctl sets it up (borders,
//  header auto-formatted and centred, cells right-aligned, wrapping on)

#define S_TABLE_WRAP    30              //  tablewriter's MAX_ROW_WIDTH

//  The columns a string takes on a terminal.
//  DEVIATION: go-runewidth counts East Asian wide runes as 2 and
//  combining marks as 0; zkvctl counts every rune (or invalid byte) as 1
static size_t
s_text_width (const char *text, size_t size)
{
    size_t width = 0, length;
    for (size_t at = 0; at < size; at += length) {
        uint32_t rune;
        length = zkvctl_utf8_decode ((const uint8_t *) text + at, size - at, &rune);
        if (length == 0)
            length = 1;
        width++;
    }
    return width;
}

//  One cell, broken into the lines tablewriter prints it on
typedef struct {
    char **lines;
    size_t count;
} s_cell_t;

static void
s_cell_add (s_cell_t *cell, const char *text, size_t size)
{
    cell->lines = (char **) realloc (cell->lines, (cell->count + 1) * sizeof (char *));
    char *line = (char *) malloc (size + 1);
    memcpy (line, text, size);
    line [size] = 0;
    cell->lines [cell->count++] = line;
}

//  tablewriter's parseDimension with autoWrap and reflowText on: the
//  lines of text joined by spaces, then WrapString (least raggedness over
//  words split at single spaces, no line longer than the limit unless one
//  word is) with the width of the widest line, at most S_TABLE_WRAP, as
//  limit. Returns the width of the column this cell needs.
static size_t
s_cell_parse (s_cell_t *cell, const char *text)
{
    size_t limit = 0;
    for (const char *line = text; ; ) {
        const char *end = strchr (line, '\n');
        size_t size = end? (size_t) (end - line): strlen (line);
        size_t width = s_text_width (line, size);
        if (width > limit)
            limit = width;
        if (!end)
            break;
        line = end + 1;
    }
    if (limit > S_TABLE_WRAP)
        limit = S_TABLE_WRAP;
    size_t needed = limit;

    //  The words, split at every space (newlines are spaces now)
    char *joined = strdup (text);
    size_t count = 1;
    for (char *at = joined; *at; at++) {
        if (*at == '\n')
            *at = ' ';
        count += *at == ' ';
    }
    const char **words = (const char **) malloc (count * sizeof (char *));
    size_t *sizes = (size_t *) malloc (count * sizeof (size_t));
    size_t *widths = (size_t *) malloc (count * sizeof (size_t));
    int64_t *cost = (int64_t *) malloc (count * sizeof (int64_t));
    size_t *next = (size_t *) malloc (count * sizeof (size_t));
    size_t n = 0;
    const char *start = joined;
    for (const char *at = joined; ; at++)
        if (*at == ' ' || *at == 0) {
            words [n] = start;
            sizes [n] = (size_t) (at - start);
            widths [n] = s_text_width (start, sizes [n]);
            if (widths [n] > limit)
                limit = widths [n];
            n++;
            if (*at == 0)
                break;
            start = at + 1;
        }
    //  WrapWords (words, 1, limit, 1e5): cost [i] is the least raggedness
    //  of the words from i on, whose first line ends before next [i]
    for (size_t i = n; i-- > 0;) {
        size_t length = widths [i];
        for (size_t j = i + 1; j < n; j++)
            length += 1 + widths [j];
        cost [i] = INT32_MAX;
        next [i] = i + 1;
        if (length <= limit) {
            cost [i] = 0;
            next [i] = n;
            continue;
        }
        length = widths [i];            //  of words i .. j - 1
        for (size_t j = i + 1; j < n; j++) {
            int64_t gap = (int64_t) limit - (int64_t) length;
            int64_t total = gap * gap + cost [j];
            if (length > limit)
                total += 100000;
            if (total < cost [i]) {
                cost [i] = total;
                next [i] = j;
            }
            length += 1 + widths [j];
        }
    }
    for (size_t i = 0; i < n; i = next [i]) {
        const char *end = words [next [i] - 1] + sizes [next [i] - 1];
        s_cell_add (cell, words [i], (size_t) (end - words [i]));
        size_t width = s_text_width (words [i], (size_t) (end - words [i]));
        if (width > needed)
            needed = width;
    }
    free (words);
    free (sizes);
    free (widths);
    free (cost);
    free (next);
    free (joined);
    return needed;
}

static void
s_cell_free (s_cell_t *cell)
{
    for (size_t i = 0; i < cell->count; i++)
        free (cell->lines [i]);
    free (cell->lines);
}

//  tablewriter's Title: '_' as a space, trimmed, upper case. Dots are left
//  alone: no header of zkvctl has one.
static char *
s_table_title (const char *text)
{
    while (*text == ' ' || *text == '_')
        text++;
    char *title = strdup (text);
    size_t length = strlen (title);
    for (size_t i = 0; i < length; i++)
        title [i] = title [i] == '_'? ' ': (char) toupper ((unsigned char) title [i]);
    while (length && title [length - 1] == ' ')
        title [--length] = 0;
    return title;
}

//  Prints text in width columns: centred (the left gap the smaller) or
//  pushed to the right; text wider than that as it is
static void
s_table_pad (const char *text, size_t width, bool centre)
{
    size_t size = strlen (text);
    size_t used = s_text_width (text, size);
    size_t gap = used < width? width - used: 0;
    size_t left = centre? gap / 2: gap;
    printf ("%*s%s%*s", (int) left, "", text, (int) (gap - left), "");
}

static void
s_table_line (const size_t *widths, size_t columns)
{
    printf ("+");
    for (size_t i = 0; i < columns; i++) {
        for (size_t j = 0; j < widths [i] + 2; j++)
            putchar ('-');
        printf ("+");
    }
    printf ("\n");
}

//  A table of rows (row_count x columns cells) under header
void
zkvctl_table_print (const char *const *header, size_t columns, const char *const *cells,
               size_t row_count)
{
    if (columns == 0)
        return;
    size_t widths [columns];
    s_cell_t titles [columns];
    s_cell_t *rows = (s_cell_t *) calloc (row_count * columns + 1, sizeof (s_cell_t));
    memset (titles, 0, sizeof titles);
    for (size_t i = 0; i < columns; i++)
        widths [i] = s_cell_parse (&titles [i], header [i]);
    for (size_t r = 0; r < row_count; r++)
        for (size_t i = 0; i < columns; i++) {
            size_t width = s_cell_parse (&rows [r * columns + i], cells [r * columns + i]);
            if (width > widths [i])
                widths [i] = width;
        }
    s_table_line (widths, columns);
    size_t height = 0;
    for (size_t i = 0; i < columns; i++)
        if (titles [i].count > height)
            height = titles [i].count;
    for (size_t line = 0; line < height; line++) {
        printf ("|");
        for (size_t i = 0; i < columns; i++) {
            char *title = s_table_title (line < titles [i].count? titles [i].lines [line]: "");
            printf (" ");
            s_table_pad (title, widths [i], true);
            printf (" |");
            free (title);
        }
        printf ("\n");
    }
    s_table_line (widths, columns);
    for (size_t r = 0; r < row_count; r++) {
        s_cell_t *row = &rows [r * columns];
        height = 0;
        for (size_t i = 0; i < columns; i++)
            if (row [i].count > height)
                height = row [i].count;
        for (size_t line = 0; line < height; line++) {
            for (size_t i = 0; i < columns; i++) {
                //  A cell out of lines is filled with two spaces, as
                //  tablewriter fills it
                printf ("| ");
                s_table_pad (line < row [i].count? row [i].lines [line]: "  ", widths [i], false);
                printf (" ");
            }
            printf ("|\n");
        }
    }
    s_table_line (widths, columns);
    for (size_t i = 0; i < columns; i++)
        s_cell_free (&titles [i]);
    for (size_t i = 0; i < row_count * columns; i++)
        s_cell_free (&rows [i]);
    free (rows);
}

//  etcdctl's makeMemberListTable
static void
s_table_member_list (const zkv_member_list_response_t *response)
{
    static const char *header [] = {
        "ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"
    };
    size_t count = response->members.count;
    char **cells = (char **) calloc (count * 6 + 1, sizeof (char *));
    for (size_t i = 0; i < count; i++) {
        const zkv_cluster_member_t *member = &response->members.items [i];
        bool started = s_member_started (member);
        char **row = cells + i * 6;
        row [0] = zsys_sprintf ("%" PRIx64, member->member_id);
        row [1] = strdup (started? "started": "unstarted");
        row [2] = zsys_sprintf ("%.*s", started? (int) member->name.size: 0,
                                s_chars (member->name));
        row [3] = zsys_sprintf ("%.*s", (int) member->peer_endpoint.size,
                                s_chars (member->peer_endpoint));
        row [4] = zsys_sprintf ("%.*s", (int) member->client_endpoint.size,
                                s_chars (member->client_endpoint));
        row [5] = strdup (member->is_learner? "true": "false");
    }
    zkvctl_table_print (header, 6, (const char *const *) cells, count);
    for (size_t i = 0; i < count * 6; i++)
        free (cells [i]);
    free (cells);
}

//  ---------------------------------------------------------------------
//  The printers, by output format

void
zkvctl_print_put (zkvctl_t *ctl, const zkv_put_response_t *response)
{
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        s_json_put (stdout, response);
        printf ("\n");
    }
    else
    if (ctl->format == ZKVCTL_FORMAT_FIELDS)
        s_fields_put (ctl, response);
    else
        s_simple_put (ctl, response);
}

void
zkvctl_print_range (zkvctl_t *ctl, const zkv_range_response_t *response,
                    const zkvctl_view_t *view)
{
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        s_json_range (stdout, response);
        printf ("\n");
    }
    else
    if (ctl->format == ZKVCTL_FORMAT_FIELDS)
        s_fields_range (ctl, response);
    else
        s_simple_range (ctl, response, view);
}

void
zkvctl_print_delete (zkvctl_t *ctl, const zkv_delete_range_response_t *response)
{
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        s_json_delete (stdout, response);
        printf ("\n");
    }
    else
    if (ctl->format == ZKVCTL_FORMAT_FIELDS)
        s_fields_delete (ctl, response);
    else
        s_simple_delete (ctl, response);
}

void
zkvctl_print_txn (zkvctl_t *ctl, const zkv_txn_response_t *response,
                  const zkvctl_view_t *views, size_t view_count)
{
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        s_json_txn (stdout, response);
        printf ("\n");
    }
    else
    if (ctl->format == ZKVCTL_FORMAT_FIELDS)
        s_fields_txn (ctl, response);
    else
        s_simple_txn (ctl, response, views, view_count);
}

void
zkvctl_print_member_list (zkvctl_t *ctl, const zkv_member_list_response_t *response)
{
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        if (ctl->hex)
            s_json_hex_member_list (stdout, response);
        else
            zkvctl_json_members (stdout, response->header, NULL, &response->members);
        printf ("\n");
    }
    else
    if (ctl->format == ZKVCTL_FORMAT_FIELDS)
        s_fields_member_list (ctl, response);
    else
    if (ctl->format == ZKVCTL_FORMAT_TABLE)
        s_table_member_list (response);
    else
        s_simple_member_list (response);
}
