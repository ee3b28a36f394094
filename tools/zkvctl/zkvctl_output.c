/*  =========================================================================
    zkvctl_output.c — the printers of zkvctl (-w simple, json, fields) and
    the formatting helpers they share (UTF-8, Go quoting, base64, hex).

    simple  etcdctl's simplePrinter: `OK`, key and value lines, counts
    json    Go's encoding/json of the etcd protobuf response, as etcdctl
            prints it: one line, snake_case names, zero values omitted,
            bytes in base64, 64-bit integers as plain numbers
    fields  etcdctl's fieldsPrinter: `"Name" : value` lines
    table   etcdctl prints no KV response as a table; the commands refuse
            it before sending anything (see zkvctl_ready)
    =========================================================================
*/
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
static void
s_json_name (FILE *out, bool *first, const char *name)
{
    fprintf (out, "%s\"%s\":", *first? "": ",", name);
    *first = false;
}

static void
s_json_header (FILE *out, bool *first, const zkv_header_t *header)
{
    if (!header)
        return;
    s_json_name (out, first, "header");
    bool inner = true;
    fputc ('{', out);
    if (header->cluster_id) {
        s_json_name (out, &inner, "cluster_id");
        fprintf (out, "%" PRIu64, header->cluster_id);
    }
    if (header->member_id) {
        s_json_name (out, &inner, "member_id");
        fprintf (out, "%" PRIu64, header->member_id);
    }
    if (header->revision) {
        s_json_name (out, &inner, "revision");
        fprintf (out, "%" PRId64, header->revision);
    }
    if (header->raft_term) {
        s_json_name (out, &inner, "raft_term");
        fprintf (out, "%" PRIu64, header->raft_term);
    }
    fputc ('}', out);
}

static void
s_json_int (FILE *out, bool *first, const char *name, int64_t value)
{
    if (value) {
        s_json_name (out, first, name);
        fprintf (out, "%" PRId64, value);
    }
}

static void
s_json_bytes (FILE *out, bool *first, const char *name, zkv_bin_t value)
{
    if (value.size) {
        s_json_name (out, first, name);
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
    s_json_int (out, &first, "create_revision", kv->create_revision);
    s_json_int (out, &first, "mod_revision", kv->mod_revision);
    s_json_int (out, &first, "version", kv->version);
    s_json_bytes (out, &first, "value", kv->value);
    s_json_int (out, &first, "lease", kv->lease);
    fputc ('}', out);
}

static void
s_json_kvs (FILE *out, bool *first, const char *name, const zkv_key_value_list_t *list)
{
    if (list->count == 0)
        return;
    s_json_name (out, first, name);
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
    s_json_header (out, &first, response->header);
    if (response->prev_kv) {
        s_json_name (out, &first, "prev_kv");
        s_json_kv (out, response->prev_kv);
    }
    fputc ('}', out);
}

static void
s_json_range (FILE *out, const zkv_range_response_t *response)
{
    bool first = true;
    fputc ('{', out);
    s_json_header (out, &first, response->header);
    s_json_kvs (out, &first, "kvs", &response->kvs);
    if (response->more) {
        s_json_name (out, &first, "more");
        fprintf (out, "true");
    }
    s_json_int (out, &first, "count", response->count);
    fputc ('}', out);
}

static void
s_json_delete (FILE *out, const zkv_delete_range_response_t *response)
{
    bool first = true;
    fputc ('{', out);
    s_json_header (out, &first, response->header);
    s_json_int (out, &first, "deleted", response->deleted);
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
    s_json_header (out, &first, response->header);
    if (response->succeeded) {
        s_json_name (out, &first, "succeeded");
        fprintf (out, "true");
    }
    if (response->responses.count) {
        s_json_name (out, &first, "responses");
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

static void
s_fields_header (zkvctl_t *ctl, const zkv_header_t *header)
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
    s_fields_header (ctl, response->header);
    if (response->prev_kv)
        s_fields_kv (ctl, "Prev", response->prev_kv);
}

static void
s_fields_range (zkvctl_t *ctl, const zkv_range_response_t *response)
{
    s_fields_header (ctl, response->header);
    for (size_t i = 0; i < response->kvs.count; i++)
        s_fields_kv (ctl, "", &response->kvs.items [i]);
    printf ("\"More\" : %s\n", response->more? "true": "false");
    printf ("\"Count\" : %" PRId64 "\n", response->count);
}

static void
s_fields_delete (zkvctl_t *ctl, const zkv_delete_range_response_t *response)
{
    s_fields_header (ctl, response->header);
    printf ("\"Deleted\" : %" PRId64 "\n", response->deleted);
    for (size_t i = 0; i < response->prev_kvs.count; i++)
        s_fields_kv (ctl, "Prev", &response->prev_kvs.items [i]);
}

static void
s_fields_txn (zkvctl_t *ctl, const zkv_txn_response_t *response)
{
    s_fields_header (ctl, response->header);
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
