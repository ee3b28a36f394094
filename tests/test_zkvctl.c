/*  test_zkvctl.c — the real zkvctl binary against a real zkv-node: exact
    stdout, stderr and exit codes, as etcdctl would give them (with
    zkvctl's documented deviations). Each test has its own node, started
    on first use and stopped by the fixture. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkv_testnode.h"

static zkv_testnode_t *s_node;

//  The node of this test, started on first use
static zkv_testnode_t *
s_node_get (void)
{
    if (!s_node) {
        s_node = zkv_testnode_start ("zkvctl", NULL);
        cr_assert_not_null (s_node, "zkv-node did not start");
    }
    return s_node;
}

static void
s_teardown (void)
{
    zkv_testnode_destroy (&s_node);
}

TestSuite (zkvctl, .fini = s_teardown, .timeout = 60);

//  Runs zkvctl with args (NULL-terminated), with input on stdin; against
//  the test node when with_node, else with no endpoint given at all
static zkv_run_t
s_zkvctl_va (bool with_node, const char *input, const char *first, va_list args)
{
    const char *argv [64];
    int argc = 0;
    argv [argc++] = ZKVCTL_BIN;
    if (with_node) {
        argv [argc++] = "--endpoints";
        argv [argc++] = zkv_testnode_endpoint (s_node_get ());
    }
    for (const char *arg = first; arg && argc < 63; arg = va_arg (args, const char *))
        argv [argc++] = arg;
    argv [argc] = NULL;
    return zkv_run (input, argv);
}

static zkv_run_t
s_zkvctl (const char *input, const char *first, ...)
{
    va_list args;
    va_start (args, first);
    zkv_run_t run = s_zkvctl_va (true, input, first, args);
    va_end (args);
    return run;
}

static zkv_run_t
s_zkvctl_bare (const char *input, const char *first, ...)
{
    va_list args;
    va_start (args, first);
    zkv_run_t run = s_zkvctl_va (false, input, first, args);
    va_end (args);
    return run;
}

//  Checks a run: exit code, and stdout / stderr exactly (NULL: any)
#define S_EXPECT(run_expr, code_, out_, err_) do { \
    zkv_run_t run_ = (run_expr); \
    cr_assert_eq (run_.code, (code_), "exit code %d, expected %d\nstdout: %s\nstderr: %s", \
                  run_.code, (code_), run_.out, run_.err); \
    if ((out_) != NULL) \
        cr_assert_str_eq (run_.out, (const char *) (out_), "stderr: %s", run_.err); \
    if ((err_) != NULL) \
        cr_assert_str_eq (run_.err, (const char *) (err_)); \
    zkv_run_free (&run_); \
} while (0)

//  Puts key = value, which must succeed
static void
s_put (const char *key, const char *value)
{
    S_EXPECT (s_zkvctl (NULL, "put", key, value, NULL), 0, "OK\n", "");
}

//  ---------------------------------------------------------------------
//  A small JSON checker: is text exactly one well-formed JSON value?

static bool s_json_value (const char **at);

static void
s_json_space (const char **at)
{
    while (**at == ' ' || **at == '\t' || **at == '\n' || **at == '\r')
        (*at)++;
}

static bool
s_json_string (const char **at)
{
    if (**at != '"')
        return false;
    for ((*at)++; **at != '"'; (*at)++) {
        if (**at == 0 || (unsigned char) **at < 0x20)
            return false;
        if (**at == '\\' && *++*at == 0)
            return false;
    }
    (*at)++;
    return true;
}

static bool
s_json_sequence (const char **at, char close, bool members)
{
    (*at)++;
    s_json_space (at);
    if (**at == close) {
        (*at)++;
        return true;
    }
    while (true) {
        s_json_space (at);
        if (members) {
            if (!s_json_string (at))
                return false;
            s_json_space (at);
            if (*(*at)++ != ':')
                return false;
        }
        if (!s_json_value (at))
            return false;
        s_json_space (at);
        if (**at == close) {
            (*at)++;
            return true;
        }
        if (*(*at)++ != ',')
            return false;
    }
}

static bool
s_json_value (const char **at)
{
    s_json_space (at);
    if (**at == '{')
        return s_json_sequence (at, '}', true);
    if (**at == '[')
        return s_json_sequence (at, ']', false);
    if (**at == '"')
        return s_json_string (at);
    const char *words [] = { "true", "false", "null" };
    for (int i = 0; i < 3; i++)
        if (strncmp (*at, words [i], strlen (words [i])) == 0) {
            *at += strlen (words [i]);
            return true;
        }
    const char *start = *at;
    if (**at == '-')
        (*at)++;
    while (isdigit ((unsigned char) **at) || **at == '.' || **at == 'e' || **at == 'E'
       ||  **at == '+' || **at == '-')
        (*at)++;
    return *at > start && isdigit ((unsigned char) (*at) [-1]);
}

static bool
s_json_ok (const char *text)
{
    const char *at = text;
    if (!s_json_value (&at))
        return false;
    s_json_space (&at);
    return *at == 0;
}

//  The unsigned number after "name": in text, or -1 if there is none
static long long
s_json_number (const char *text, const char *name)
{
    char pattern [64];
    snprintf (pattern, sizeof pattern, "\"%s\":", name);
    const char *at = strstr (text, pattern);
    if (!at || !isdigit ((unsigned char) at [strlen (pattern)]))
        return -1;
    return strtoll (at + strlen (pattern), NULL, 10);
}

Test (zkvctl, json_checker_works)
{
    cr_assert (s_json_ok ("{\"a\":[1,{\"b\":\"x\\\"y\"}],\"c\":true}\n"));
    cr_assert_not (s_json_ok ("{\"a\":1,}"));
    cr_assert_not (s_json_ok ("{\"a\":1} x"));
    cr_assert_eq (s_json_number ("{\"header\":{\"revision\":42}}", "revision"), 42);
}

//  ---------------------------------------------------------------------
//  put and get

Test (zkvctl, put_and_get)
{
    S_EXPECT (s_zkvctl (NULL, "put", "foo", "bar", NULL), 0, "OK\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "foo", NULL), 0, "foo\nbar\n", "");
    //  A key that does not exist prints nothing at all
    S_EXPECT (s_zkvctl (NULL, "get", "nothing", NULL), 0, "", "");
    //  Global flags anywhere, command by a unique prefix
    S_EXPECT (s_zkvctl (NULL, "--command-timeout", "2s", "g", "foo", "-w", "simple", NULL),
              0, "foo\nbar\n", "");
}

Test (zkvctl, put_value_from_stdin_and_prev_kv)
{
    //  The value is all of stdin, verbatim, when it is not an argument
    S_EXPECT (s_zkvctl ("line one\nline two\n", "put", "k", NULL), 0, "OK\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "k", "--print-value-only", NULL), 0,
              "line one\nline two\n\n", "");
    S_EXPECT (s_zkvctl (NULL, "put", "k", "v2", "--prev-kv", NULL), 0,
              "OK\nk\nline one\nline two\n\n", "");
    //  --ignore-value keeps the value
    S_EXPECT (s_zkvctl (NULL, "put", "--ignore-value", "k", "--prev-kv", NULL), 0,
              "OK\nk\nv2\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "k", NULL), 0, "k\nv2\n", "");
    //  A value that looks like a flag, after --
    S_EXPECT (s_zkvctl (NULL, "put", "--", "dash", "-v", NULL), 0, "OK\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "dash", NULL), 0, "dash\n-v\n", "");
}

Test (zkvctl, get_ranges)
{
    s_put ("a", "0");
    s_put ("a1", "1");
    s_put ("a2", "2");
    s_put ("b1", "3");
    s_put ("\xff", "4");
    S_EXPECT (s_zkvctl (NULL, "get", "a", "--prefix", NULL), 0, "a\n0\na1\n1\na2\n2\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "a1", "b1", NULL), 0, "a1\n1\na2\n2\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "a2", "--from-key", NULL), 0,
              "a2\n2\nb1\n3\n\xff\n4\n", "");
    //  The empty key with --prefix or --from-key means every key
    S_EXPECT (s_zkvctl (NULL, "get", "", "--prefix", "--keys-only", NULL), 0,
              "a\n\na1\n\na2\n\nb1\n\n\xff\n\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "", "--from-key", "--count-only", NULL), 0, "5\n", "");
    //  A prefix of 0xff bytes only has no end: every key from it on
    S_EXPECT (s_zkvctl (NULL, "get", "\xff", "--prefix", NULL), 0, "\xff\n4\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "a", "--prefix", "--limit", "2", NULL), 0,
              "a\n0\na1\n1\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "a", "--prefix", "--print-value-only", NULL), 0,
              "0\n1\n2\n", "");
    //  DEVIATION: --count-only prints the count in simple mode
    S_EXPECT (s_zkvctl (NULL, "get", "a", "--prefix", "--count-only", NULL), 0, "3\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "a", "--prefix", "--count-only", "--consistency=s", NULL),
              0, "3\n", "");
}

Test (zkvctl, get_at_revision)
{
    //  A fresh node: the first write is revision 2
    s_put ("k", "v1");
    s_put ("k", "v2");
    S_EXPECT (s_zkvctl (NULL, "get", "k", "--rev", "2", NULL), 0, "k\nv1\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "k", "--rev=3", NULL), 0, "k\nv2\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "k", "--rev", "100", NULL), 1, "",
              "Error: etcdserver: mvcc: required revision is a future revision\n");
}

Test (zkvctl, hex_and_fields)
{
    s_put ("foo", "bar");
    S_EXPECT (s_zkvctl (NULL, "get", "foo", "--hex", NULL), 0,
              "\\x66\\x6f\\x6f\n\\x62\\x61\\x72\n", "");
    zkv_run_t run = s_zkvctl (NULL, "get", "foo", "-w", "fields", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (strstr (run.out, "\"Revision\" : 2\n"), "%s", run.out);
    cr_assert (strstr (run.out, "\"Key\" : \"foo\"\n\"CreateRevision\" : 2\n"
                                "\"ModRevision\" : 2\n\"Version\" : 1\n\"Value\" : \"bar\"\n"
                                "\"Lease\" : 0\n\"More\" : false\n\"Count\" : 1\n"), "%s", run.out);
    zkv_run_free (&run);
}

//  ---------------------------------------------------------------------
//  del and compaction

Test (zkvctl, del)
{
    s_put ("a1", "1");
    s_put ("a2", "2");
    s_put ("b", "3");
    S_EXPECT (s_zkvctl (NULL, "del", "nothing", NULL), 0, "0\n", "");
    S_EXPECT (s_zkvctl (NULL, "del", "a", "--prefix", "--prev-kv", NULL), 0,
              "2\na1\n1\na2\n2\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "", "--prefix", NULL), 0, "b\n3\n", "");
    S_EXPECT (s_zkvctl (NULL, "del", "b", NULL), 0, "1\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "b", NULL), 0, "", "");
}

Test (zkvctl, compaction)
{
    s_put ("k", "v1");                  //  revision 2
    s_put ("k", "v2");                  //  3
    s_put ("k", "v3");                  //  4
    S_EXPECT (s_zkvctl (NULL, "compaction", "3", NULL), 0, "compacted revision 3\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "k", "--rev", "2", NULL), 1, "",
              "Error: etcdserver: mvcc: required revision has been compacted\n");
    S_EXPECT (s_zkvctl (NULL, "get", "k", "--rev", "3", NULL), 0, "k\nv2\n", "");
    //  `compact` is a prefix of compaction; compacting again fails
    S_EXPECT (s_zkvctl (NULL, "compact", "3", "--physical", NULL), 1, "",
              "Error: etcdserver: mvcc: required revision has been compacted\n");
}

//  ---------------------------------------------------------------------
//  txn

Test (zkvctl, txn_success)
{
    s_put ("k1", "v1");
    const char *input =
        "value(\"k1\") = \"v1\"\n"
        "mod(\"k1\") > \"0\"\n"
        "\n"
        "put k2 \"hello world\"\n"
        "get k1\n"
        "del nothing\n"
        "\n"
        "put k3 failed\n"
        "\n";
    S_EXPECT (s_zkvctl (input, "txn", NULL), 0,
              "SUCCESS\n\nOK\n\nk1\nv1\n\n0\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "k2", NULL), 0, "k2\nhello world\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "k3", NULL), 0, "", "");
}

Test (zkvctl, txn_failure)
{
    s_put ("k1", "v1");
    const char *input =
        "value(\"k1\") != \"v1\"\n"
        "\n"
        "put k2 yes\n"
        "\n"
        "put k3 no --prev-kv\n"
        "put 'k 4' \"a\\tb\"\n"
        "get k --prefix --count-only\n"
        "\n";
    S_EXPECT (s_zkvctl (input, "txn", NULL), 0,
              "FAILURE\n\nOK\n\nOK\n\n3\n", "");
    S_EXPECT (s_zkvctl (NULL, "get", "k", "--prefix", NULL), 0,
              "k 4\na\tb\nk1\nv1\nk3\nno\n", "");
}

Test (zkvctl, txn_interactive)
{
    //  The prompts go to stdout, before the outcome
    S_EXPECT (s_zkvctl ("version(\"x\") = \"0\"\n\nput x 1\n\n\n", "txn", "-i", NULL), 0,
              "compares:\nsuccess requests (get, put, del):\n"
              "failure requests (get, put, del):\nSUCCESS\n\nOK\n", "");
    S_EXPECT (s_zkvctl ("create(\"x\") > \"1\"\n\n\nget x\n\n", "txn", "--interactive", NULL), 0,
              "compares:\nsuccess requests (get, put, del):\n"
              "failure requests (get, put, del):\nSUCCESS\n", "");
}

Test (zkvctl, txn_lease_compare)
{
    s_put ("k", "v");
    //  A key without a lease has lease 0
    S_EXPECT (s_zkvctl ("lease(\"k\") = \"0\"\n\nget k\n\n\n", "txn", NULL), 0,
              "SUCCESS\n\nk\nv\n", "");
    S_EXPECT (s_zkvctl ("lease(\"k\") > \"0\"\n\n\n\n", "txn", NULL), 0, "FAILURE\n", "");
}

Test (zkvctl, txn_bad_input)
{
    //  Input is three sections each ended by an empty line
    S_EXPECT (s_zkvctl ("mod(\"k\") > \"0\"\n\nput k v\n\n", "txn", NULL), 3, "",
              "Error: EOF\n");
    S_EXPECT (s_zkvctl ("create(\"k\") \"1\"\n\n\n\n", "txn", NULL), 3, "",
              "Error: malformed comparison: create(\"k\") \"1\"; got create(\"k\") \"1\" \"\"\n");
    S_EXPECT (s_zkvctl ("mod(\"k\") <= \"1\"\n\n\n\n", "txn", NULL), 3, "",
              "Error: malformed comparison: mod(\"k\") <= \"1\" (unknown operator <=)\n");
    S_EXPECT (s_zkvctl ("size(\"k\") = \"1\"\n\n\n\n", "txn", NULL), 3, "",
              "Error: malformed comparison: size(\"k\") = \"1\" (unknown target size)\n");
    S_EXPECT (s_zkvctl ("ver(\"k\") = \"one\"\n\n\n\n", "txn", NULL), 3, "",
              "Error: invalid txn compare request: ver(\"k\") = \"one\"\n");
    S_EXPECT (s_zkvctl ("\ndelete k\n\n\n", "txn", NULL), 3, "",
              "Error: invalid txn request: delete k\n");
    S_EXPECT (s_zkvctl ("\nput k v --bogus\n\n\n", "txn", NULL), 3, "",
              "Error: invalid txn request: put k v --bogus\n");
    S_EXPECT (s_zkvctl ("\nput \"k\\q\" v\n\n\n", "txn", NULL), 3, "",
              "Error: invalid syntax\n");
    //  The command's own argument checks keep their exit code
    S_EXPECT (s_zkvctl ("\ndel a b c\n\n\n", "txn", NULL), 128, "",
              "Error: del command needs one argument as key and an optional argument "
              "as range_end\n");
    //  Nothing was written by any of these
    S_EXPECT (s_zkvctl (NULL, "get", "k", NULL), 0, "", "");
}

//  ---------------------------------------------------------------------
//  JSON output

Test (zkvctl, json_output)
{
    s_put ("foo", "bar");
    zkv_run_t run = s_zkvctl (NULL, "get", "foo", "-w", "json", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (s_json_ok (run.out), "not JSON: %s", run.out);
    cr_assert_eq (run.out [strlen (run.out) - 1], '\n');
    cr_assert_eq (strchr (run.out, '\n'), run.out + strlen (run.out) - 1, "not one line");
    cr_assert (strncmp (run.out, "{\"header\":{\"cluster_id\":", 24) == 0, "%s", run.out);
    cr_assert_gt (s_json_number (run.out, "cluster_id"), 0, "%s", run.out);
    cr_assert_gt (s_json_number (run.out, "member_id"), 0, "%s", run.out);
    cr_assert_eq (s_json_number (run.out, "revision"), 2, "%s", run.out);
    cr_assert (strstr (run.out, "\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":2,"
                                "\"mod_revision\":2,\"version\":1,\"value\":\"YmFy\"}],"
                                "\"count\":1}\n"), "%s", run.out);
    zkv_run_free (&run);

    //  put --prev-kv, del and txn replies as etcdctl prints them
    run = s_zkvctl (NULL, "put", "foo", "baz", "--prev-kv", "-w", "json", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (s_json_ok (run.out), "not JSON: %s", run.out);
    cr_assert (strstr (run.out, "\"revision\":3"), "%s", run.out);
    cr_assert (strstr (run.out, "},\"prev_kv\":{\"key\":\"Zm9v\",\"create_revision\":2,"
                                "\"mod_revision\":2,\"version\":1,\"value\":\"YmFy\"}}\n"),
               "%s", run.out);
    zkv_run_free (&run);

    run = s_zkvctl ("\nput a b\nget foo --keys-only\n\n\n", "-w", "json", "txn", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (s_json_ok (run.out), "not JSON: %s", run.out);
    cr_assert (strstr (run.out, "\"succeeded\":true,\"responses\":[{\"Response\":"
                                "{\"response_put\":{\"header\":{"), "%s", run.out);
    cr_assert (strstr (run.out, "{\"Response\":{\"response_range\":{\"header\":{"), "%s", run.out);
    cr_assert (strstr (run.out, "\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":2,"
                                "\"mod_revision\":3,\"version\":2}],\"count\":1}}}]}\n"),
               "%s", run.out);
    zkv_run_free (&run);

    run = s_zkvctl (NULL, "del", "foo", "-w", "json", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (s_json_ok (run.out), "not JSON: %s", run.out);
    cr_assert (strstr (run.out, "},\"deleted\":1}\n"), "%s", run.out);
    zkv_run_free (&run);

    //  Base64 with its padding
    s_put ("f", "fo");
    run = s_zkvctl (NULL, "get", "f", "-w", "json", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (strstr (run.out, "\"kvs\":[{\"key\":\"Zg==\",\"create_revision\":6,"
                                "\"mod_revision\":6,\"version\":1,\"value\":\"Zm8=\"}]"),
               "%s", run.out);
    zkv_run_free (&run);
    S_EXPECT (s_zkvctl (NULL, "del", "f", NULL), 0, "1\n", "");

    //  DEVIATION: --count-only works with -w json
    run = s_zkvctl (NULL, "get", "", "--prefix", "--count-only", "-w", "json", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (s_json_ok (run.out), "not JSON: %s", run.out);
    cr_assert (strstr (run.out, "},\"count\":1}\n") && !strstr (run.out, "kvs"), "%s", run.out);
    zkv_run_free (&run);
}

//  ---------------------------------------------------------------------
//  Bad arguments: exit 128 with `Error: ...`, before anything is sent

Test (zkvctl, bad_arguments)
{
    S_EXPECT (s_zkvctl_bare (NULL, "put", NULL), 128, "",
              "Error: put command needs 1 argument and input from stdin or 2 arguments\n");
    S_EXPECT (s_zkvctl_bare (NULL, "get", "k", "--bogus", NULL), 128, "",
              "Error: unknown flag: --bogus\n");
    S_EXPECT (s_zkvctl_bare (NULL, "get", "-x", "k", NULL), 128, "",
              "Error: unknown shorthand flag: 'x' in -x\n");
    S_EXPECT (s_zkvctl_bare (NULL, "-w", "bogus", "get", "k", NULL), 128, "",
              "Error: unsupported output format\n");
    S_EXPECT (s_zkvctl_bare (NULL, "get", "k", "-w", "table", NULL), 128, "",
              "Error: table not supported as output format\n");
    S_EXPECT (s_zkvctl_bare (NULL, "get", "k", "--limit", "ten", NULL), 128, "",
              "Error: invalid argument \"ten\" for \"--limit\" flag: strconv.ParseInt: "
              "parsing \"ten\": invalid syntax\n");
    S_EXPECT (s_zkvctl_bare (NULL, "get", "k", "--limit", NULL), 128, "",
              "Error: flag needs an argument: --limit\n");
    S_EXPECT (s_zkvctl_bare (NULL, "get", "k", "--prefix", "--from-key", NULL), 128, "",
              "Error: `--prefix` and `--from-key` cannot be set at the same time, choose one\n");
    S_EXPECT (s_zkvctl_bare (NULL, "get", "k", "--consistency", "x", NULL), 128, "",
              "Error: unknown consistency flag \"x\"\n");
    S_EXPECT (s_zkvctl_bare (NULL, "get", "k", "--print-value-only", "-w", "json", NULL), 128,
              "", "Error: print-value-only is only for `--write-out=simple`\n");
    S_EXPECT (s_zkvctl_bare (NULL, "del", NULL), 128, "",
              "Error: del command needs one argument as key and an optional argument "
              "as range_end\n");
    S_EXPECT (s_zkvctl_bare (NULL, "compaction", "abc", NULL), 128, "",
              "Error: strconv.ParseInt: parsing \"abc\": invalid syntax\n");
    S_EXPECT (s_zkvctl_bare (NULL, "put", "k", "v", "--lease", "zz", NULL), 128, "",
              "Error: bad lease ID (strconv.ParseInt: parsing \"zz\": invalid syntax), "
              "expecting ID in Hex\n");
    S_EXPECT (s_zkvctl_bare (NULL, "txn", "extra", NULL), 128, "",
              "Error: txn command does not accept argument\n");
    S_EXPECT (s_zkvctl_bare (NULL, "--command-timeout", "5", "get", "k", NULL), 128, "",
              "Error: invalid argument \"5\" for \"--command-timeout\" flag: "
              "time: missing unit in duration \"5\"\n");
    S_EXPECT (s_zkvctl_bare (NULL, "frobnicate", NULL), 128, "",
              "Error: unknown command \"frobnicate\" for \"zkvctl\"\n"
              "Run 'zkvctl --help' for usage.\n");
    S_EXPECT (s_zkvctl_bare (NULL, "--endpoints", "", "get", "k", NULL), 128, "",
              "Error: etcdclient: no available endpoints\n");
}

Test (zkvctl, refused_write_is_not_sent)
{
    //  Unlike etcdctl, put -w table refuses before it writes
    S_EXPECT (s_zkvctl (NULL, "put", "k", "v", "-w", "table", NULL), 128, "",
              "Error: table not supported as output format\n");
    S_EXPECT (s_zkvctl (NULL, "-w", "table", "txn", NULL), 128, "",
              "Error: table not supported as output format\n");
    S_EXPECT (s_zkvctl (NULL, "get", "k", NULL), 0, "", "");
}

Test (zkvctl, help_and_version)
{
    zkv_run_t run = s_zkvctl_bare (NULL, "get", "--help", NULL);
    cr_assert_eq (run.code, 0);
    cr_assert (strstr (run.out, "zkvctl get [options] <key> [range_end]"), "%s", run.out);
    cr_assert (strstr (run.out, "--prefix"), "%s", run.out);
    zkv_run_free (&run);
    run = s_zkvctl_bare (NULL, "-h", NULL);
    cr_assert_eq (run.code, 0);
    cr_assert (strstr (run.out, "COMMANDS:"), "%s", run.out);
    zkv_run_free (&run);
    S_EXPECT (s_zkvctl_bare (NULL, "--version", NULL), 0, "zkvctl version: " ZKV_VERSION "\n", "");
}

//  ---------------------------------------------------------------------
//  A node that is down

Test (zkvctl, node_down)
{
    //  An endpoint nothing listens on, and that no parallel test can take
    //  meanwhile (a stopped node's port could be given to another node)
    char endpoint [128];
    int fd = zkv_dead_endpoint (endpoint, sizeof endpoint);
    cr_assert_geq (fd, 0);
    const char *argv [] = {
        ZKVCTL_BIN, "--endpoints", endpoint, "--command-timeout", "300ms", "get", "k", NULL
    };
    S_EXPECT (zkv_run (NULL, argv), 1, "", "Error: context deadline exceeded\n");
    const char *put_argv [] = {
        ZKVCTL_BIN, "--command-timeout=300ms", "put", "k", "v", "--endpoints", endpoint, NULL
    };
    S_EXPECT (zkv_run (NULL, put_argv), 1, "", "Error: context deadline exceeded\n");
    const char *txn_argv [] = {
        ZKVCTL_BIN, "--command-timeout=300ms", "txn", "--endpoints", endpoint, NULL
    };
    S_EXPECT (zkv_run ("\nput k v\n\n\n", txn_argv), 1, "", "Error: context deadline exceeded\n");
    close (fd);
}
