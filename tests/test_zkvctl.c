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

#include "eventually.h"
#include "zkv_client.h"
#include "zkv_testnode.h"
#include "zkv_version.h"

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

//  ---------------------------------------------------------------------
//  member list against the test node

typedef struct {
    char wanted [256];          //  the line's end that names the endpoint
    char *out;                  //  the output that had it
} s_listing_t;

//  True once member list shows what is wanted
static bool
s_member_listed (void *args)
{
    s_listing_t *self = (s_listing_t *) args;
    zkv_run_t run = s_zkvctl (NULL, "member", "list", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_str_eq (run.err, "");
    if (strstr (run.out, self->wanted))
        self->out = strdup (run.out);
    zkv_run_free (&run);
    return self->out != NULL;
}

//  Runs member list until the node shows its client endpoint: it publishes
//  it through raft shortly after it starts (retrying every 2 s until it
//  leads, so allow a few tries on a loaded machine). Returns the simple
//  output.
static char *
s_member_list_published (void)
{
    const char *endpoint = zkv_testnode_endpoint (s_node_get ());
    s_listing_t listing = { .out = NULL };
    snprintf (listing.wanted, sizeof listing.wanted, ", %s, false\n", endpoint);
    cr_assert (eventually (s_member_listed, &listing, 10000), "the node never published %s",
               endpoint);
    return listing.out;
}

//  The text after "name":[" in json, up to the next quote, as a fresh string
static char *
s_json_first_string (const char *json, const char *name)
{
    char pattern [64];
    snprintf (pattern, sizeof pattern, "\"%s\":[\"", name);
    const char *at = strstr (json, pattern);
    cr_assert_not_null (at, "no %s in %s", name, json);
    at += strlen (pattern);
    const char *end = strchr (at, '"');
    cr_assert_not_null (end);
    return strndup (at, (size_t) (end - at));
}

//  The table etcdctl prints for one member (no cell over 30 columns, so
//  nothing wraps): headers centred, cells pushed to the right
static char *
s_one_member_table (const char *const *cells)
{
    static const char *headers [] = {
        "ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"
    };
    size_t widths [6];
    char rule [512] = "+", head [512] = "|", row [512] = "|";
    for (int i = 0; i < 6; i++) {
        widths [i] = strlen (headers [i]) > strlen (cells [i])? strlen (headers [i])
                                                              : strlen (cells [i]);
        cr_assert_leq (widths [i], 30);
        for (size_t j = 0; j < widths [i] + 2; j++)
            strcat (rule, "-");
        strcat (rule, "+");
        size_t gap = widths [i] - strlen (headers [i]);
        snprintf (head + strlen (head), sizeof head - strlen (head), " %*s%s%*s |",
                  (int) (gap / 2), "", headers [i], (int) (gap - gap / 2), "");
        snprintf (row + strlen (row), sizeof row - strlen (row), " %*s |",
                  (int) widths [i], cells [i]);
    }
    return zsys_sprintf ("%s\n%s\n%s\n%s\n%s\n", rule, head, rule, row, rule);
}

Test (zkvctl, member_list)
{
    const char *endpoint = zkv_testnode_endpoint (s_node_get ());
    char *simple = s_member_list_published ();

    //  json: the member's id, name and URLs, and who answered
    zkv_run_t run = s_zkvctl (NULL, "member", "list", "-w", "json", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (s_json_ok (run.out), "not JSON: %s", run.out);
    cr_assert_eq (strchr (run.out, '\n'), run.out + strlen (run.out) - 1, "not one line");
    cr_assert (strncmp (run.out, "{\"header\":{\"cluster_id\":", 24) == 0, "%s", run.out);
    cr_assert_gt (s_json_number (run.out, "cluster_id"), 0, "%s", run.out);
    long long id = s_json_number (run.out, "ID");
    cr_assert_gt (id, 0, "%s", run.out);
    cr_assert_eq (s_json_number (run.out, "member_id"), id, "%s", run.out);
    char *peer = s_json_first_string (run.out, "peerURLs");
    char *json = zsys_sprintf ("\"members\":[{\"ID\":%lld,\"name\":\"zkvctl\","
                               "\"peerURLs\":[\"%s\"],\"clientURLs\":[\"%s\"]}]}\n",
                               id, peer, endpoint);
    cr_assert (strstr (run.out, json), "%s\nexpected %s", run.out, json);
    zkv_run_free (&run);
    free (json);

    //  simple: one line, etcdctl's columns
    char hex [32];
    snprintf (hex, sizeof hex, "%llx", id);
    char *line = zsys_sprintf ("%s, started, zkvctl, %s, %s, false\n", hex, peer, endpoint);
    cr_assert_str_eq (simple, line);
    //  serializable, and by a prefix of each command name
    S_EXPECT (s_zkvctl (NULL, "mem", "l", "--consistency", "s", NULL), 0, line, "");

    //  table
    const char *cells [] = { hex, "started", "zkvctl", peer, endpoint, "false" };
    char *table = s_one_member_table (cells);
    S_EXPECT (s_zkvctl (NULL, "member", "list", "-w", "table", NULL), 0, table, "");

    //  fields, with --hex
    run = s_zkvctl (NULL, "member", "list", "-w", "fields", "--hex", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    char *fields = zsys_sprintf ("\"MemberID\" : %s\n", hex);
    cr_assert (strstr (run.out, fields), "%s", run.out);
    free (fields);
    fields = zsys_sprintf ("\"ID\" : %s\n\"Name\" : \"zkvctl\"\n\"PeerURL\" : \"%s\"\n"
                           "\"ClientURL\" : \"%s\"\n\"IsLearner\" : false\n\n", hex, peer,
                           endpoint);
    cr_assert (strstr (run.out, fields), "%s", run.out);
    zkv_run_free (&run);
    free (fields);
    free (table);
    free (line);
    free (peer);
    free (simple);
}

Test (zkvctl, member_bad_arguments)
{
    S_EXPECT (s_zkvctl_bare (NULL, "member", "list", "--consistency", "x", NULL), 128, "",
              "Error: unknown consistency flag \"x\"\n");
    S_EXPECT (s_zkvctl_bare (NULL, "member", "list", "-w", "protobuf", NULL), 128, "",
              "Error: unsupported output format\n");
    S_EXPECT (s_zkvctl_bare (NULL, "member", "list", "--bogus", NULL), 128, "",
              "Error: unknown flag: --bogus\n");
    S_EXPECT (s_zkvctl_bare (NULL, "member", "frob", NULL), 128, "",
              "Error: unknown command \"frob\" for \"zkvctl member\"\n"
              "Run 'zkvctl member --help' for usage.\n");
    //  member alone prints its usage, as cobra does
    zkv_run_t run = s_zkvctl_bare (NULL, "member", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (strstr (run.out, "COMMANDS:\n\tadd         Adds a member into the cluster\n"
                                "\tlist        Lists all members in the cluster\n"),
               "%s", run.out);
    zkv_run_free (&run);
    run = s_zkvctl_bare (NULL, "help", "member", "list", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (strstr (run.out, "zkvctl member list [options]"), "%s", run.out);
    cr_assert (strstr (run.out, "--consistency=\"l\""), "%s", run.out);
    zkv_run_free (&run);
}

//  ---------------------------------------------------------------------
//  member list printers, against a fake node with a made-up member table

//  Answers every member_list request with three members: a started one,
//  one that has not published its client endpoint, and one whose name
//  needs JSON escaping and wraps in a table. The header's revision tells
//  how the request was made: 1 linearizable, 0 (left out) serializable.
static void
s_fake_node (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zsock_send (pipe, "s", router? zsock_endpoint (router): "");
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (router) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break;                      //  $TERM or interrupted
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *identity = zmsg_pop (msg);
        zframe_t *frame = zmsg_pop (msg);
        zkv_limits_t limits = zkv_limits_trusted ();
        zkv_result_t status = { ZKV_ERR_OK, "" };
        zkv_msg_t *request = frame? zkv_msg_decode (zframe_data (frame), zframe_size (frame),
                                                    ZKV_KIND_REQUEST, &limits, &status)
                                  : NULL;
        if (request && request->desc == &zkv_member_list_desc) {
            const zkv_member_list_t *list = (const zkv_member_list_t *) request->body;
            zkv_header_t header = {
                0x71542586ef100417, 0x5712a4179abd4a9a, list->linearizable? 1: 0, 7
            };
            const char *long_name = "a \"quoted\" <name> & more words here";
            zkv_cluster_member_t members [] = {
                { 0x5712a4179abd4a9a, zkv_bin ("n1", 2), zkv_bin ("tcp://127.0.0.1:40002", 21),
                  zkv_bin ("tcp://127.0.0.1:40001", 21), zkv_bin (NULL, 0), false, false },
                { 0xabc, zkv_bin ("n2", 2), zkv_bin ("tcp://127.0.0.1:40004", 21),
                  zkv_bin (NULL, 0), zkv_bin (NULL, 0), false, false },
                { 0x10, zkv_bin (long_name, strlen (long_name)),
                  zkv_bin ("tcp://127.0.0.1:40006", 21), zkv_bin ("tcp://127.0.0.1:40005", 21),
                  zkv_bin (NULL, 0), false, false }
            };
            zkv_member_list_response_t response = { &header, { members, 3 } };
            size_t body_size, size;
            uint8_t *body = zkv_msg_encode_body (&zkv_member_list_response_desc, &response,
                                                 &body_size);
            uint8_t *reply = zkv_msg_wrap_reply (request->id, request->has_id, "member_list",
                                                 strlen ("member_list"), body, body_size, &size);
            zframe_send (&identity, router, ZFRAME_MORE);
            zframe_t *answer = zframe_new (reply, size);
            zframe_send (&answer, router, 0);
            free (reply);
            free (body);
        }
        zkv_msg_destroy (&request);
        zframe_destroy (&frame);
        zframe_destroy (&identity);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

Test (zkvctl, member_list_printers)
{
    zactor_t *fake = zactor_new (s_fake_node, NULL);
    char *endpoint = zstr_recv (fake);
    cr_assert (endpoint && *endpoint, "the fake node could not bind");
    #define S_FAKE(...) s_zkvctl_bare (NULL, "--endpoints", endpoint, __VA_ARGS__, NULL)

    S_EXPECT (S_FAKE ("member", "list"), 0,
              "5712a4179abd4a9a, started, n1, tcp://127.0.0.1:40002, tcp://127.0.0.1:40001, "
              "false\n"
              "abc, unstarted, , tcp://127.0.0.1:40004, , false\n"
              "10, started, a \"quoted\" <name> & more words here, tcp://127.0.0.1:40006, "
              "tcp://127.0.0.1:40005, false\n", "");

    //  The long name wraps at 30 columns, as tablewriter wraps it
    S_EXPECT (S_FAKE ("member", "list", "-w", "table"), 0,
              "+------------------+-----------+--------------------------------+-----------------------+-----------------------+------------+\n"
              "|        ID        |  STATUS   |              NAME              |      PEER ADDRS       |     CLIENT ADDRS      | IS LEARNER |\n"
              "+------------------+-----------+--------------------------------+-----------------------+-----------------------+------------+\n"
              "| 5712a4179abd4a9a |   started |                             n1 | tcp://127.0.0.1:40002 | tcp://127.0.0.1:40001 |      false |\n"
              "|              abc | unstarted |                                | tcp://127.0.0.1:40004 |                       |      false |\n"
              "|               10 |   started | a \"quoted\" <name> & more words | tcp://127.0.0.1:40006 | tcp://127.0.0.1:40005 |      false |\n"
              "|                  |           |                           here |                       |                       |            |\n"
              "+------------------+-----------+--------------------------------+-----------------------+-----------------------+------------+\n",
              "");

    //  Go's encoding/json: zero values and empty lists left out, HTML
    //  characters escaped
    S_EXPECT (S_FAKE ("member", "list", "-w", "json"), 0,
              "{\"header\":{\"cluster_id\":8166193285796201495,\"member_id\":6274257652167821978,"
              "\"revision\":1,\"raft_term\":7},\"members\":["
              "{\"ID\":6274257652167821978,\"name\":\"n1\",\"peerURLs\":[\"tcp://127.0.0.1:40002\"],"
              "\"clientURLs\":[\"tcp://127.0.0.1:40001\"]},"
              "{\"ID\":2748,\"name\":\"n2\",\"peerURLs\":[\"tcp://127.0.0.1:40004\"]},"
              "{\"ID\":16,\"name\":\"a \\\"quoted\\\" \\u003cname\\u003e \\u0026 more words here\","
              "\"peerURLs\":[\"tcp://127.0.0.1:40006\"],\"clientURLs\":[\"tcp://127.0.0.1:40005\"]}]}\n",
              "");
    //  --consistency s: a serializable request (the fake node then sends
    //  no revision); --hex: etcdctl's hand-made JSON, ids in hex
    S_EXPECT (S_FAKE ("member", "list", "-w", "json", "--hex", "--consistency=s"), 0,
              "{\"header\":{\"cluster_id\":\"71542586ef100417\",\"member_id\":\"5712a4179abd4a9a\","
              "\"raft_term\":7},\"members\":["
              "{\"ID\":\"5712a4179abd4a9a\",\"name\":\"n1\",\"peerURLs\":[\"tcp://127.0.0.1:40002\"],"
              "\"clientURLs\":[\"tcp://127.0.0.1:40001\"]},"
              "{\"ID\":\"abc\",\"name\":\"n2\",\"peerURLs\":[\"tcp://127.0.0.1:40004\"],"
              "\"clientURLs\":null},"
              "{\"ID\":\"10\",\"name\":\"a \\\"quoted\\\" \\u003cname\\u003e \\u0026 more words here\","
              "\"peerURLs\":[\"tcp://127.0.0.1:40006\"],\"clientURLs\":[\"tcp://127.0.0.1:40005\"]}]}\n",
              "");
    S_EXPECT (S_FAKE ("member", "list", "-w", "fields", "--consistency", "s"), 0,
              "\"ClusterID\" : 8166193285796201495\n"
              "\"MemberID\" : 6274257652167821978\n"
              "\"RaftTerm\" : 7\n"
              "\"ID\" : 6274257652167821978\n"
              "\"Name\" : \"n1\"\n"
              "\"PeerURL\" : \"tcp://127.0.0.1:40002\"\n"
              "\"ClientURL\" : \"tcp://127.0.0.1:40001\"\n"
              "\"IsLearner\" : false\n\n"
              "\"ID\" : 2748\n"
              "\"Name\" : \"n2\"\n"
              "\"PeerURL\" : \"tcp://127.0.0.1:40004\"\n"
              "\"IsLearner\" : false\n\n"
              "\"ID\" : 16\n"
              "\"Name\" : \"a \\\"quoted\\\" <name> & more words here\"\n"
              "\"PeerURL\" : \"tcp://127.0.0.1:40006\"\n"
              "\"ClientURL\" : \"tcp://127.0.0.1:40005\"\n"
              "\"IsLearner\" : false\n\n", "");
    #undef S_FAKE
    zstr_free (&endpoint);
    zactor_destroy (&fake);
}

//  ---------------------------------------------------------------------
//  --cluster-file

//  A fresh directory for cluster files
static char *
s_temp_dir (void)
{
    char *dir = strdup ("/tmp/zkvctl-test-XXXXXX");
    cr_assert_not_null (mkdtemp (dir));
    return dir;
}

//  Writes text into dir/name; returns the path
static char *
s_write_file (const char *dir, const char *name, const char *text)
{
    char *path = zsys_sprintf ("%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file, "cannot write %s", path);
    fputs (text, file);
    fclose (file);
    return path;
}

Test (zkvctl, cluster_file)
{
    const char *live = zkv_testnode_endpoint (s_node_get ());
    char dead [128];
    int fd = zkv_dead_endpoint (dead, sizeof dead);
    cr_assert_geq (fd, 0);
    char *dir = s_temp_dir ();
    //  As zkv-cluster writes it: a dead member first, the live one second
    char *text = zsys_sprintf (
        "#   zkv cluster file\n"
        "cluster\n"
        "    id = 71542586ef100417\n"
        "    member\n"
        "        name = n1\n"
        "        id = 5712a4179abd4a9a\n"
        "        client = \"%s\"\n"
        "        peer = \"tcp://127.0.0.1:1\"\n"
        "        pid = 0\n"
        "    member\n"
        "        name = n2\n"
        "        id = 78ef5a5edc46c747\n"
        "        client = \"%s\"\n"
        "        peer = \"tcp://127.0.0.1:2\"\n", dead, live);
    char *both = s_write_file (dir, "cluster.zpl", text);
    free (text);
    text = zsys_sprintf ("cluster\n    member\n        client = %s\n", dead);
    char *dead_only = s_write_file (dir, "dead.zpl", text);
    free (text);

    //  The live member serves, whichever command
    S_EXPECT (s_zkvctl_bare (NULL, "--cluster-file", both, "put", "k", "v", NULL), 0, "OK\n", "");
    S_EXPECT (s_zkvctl_bare (NULL, "get", "k", "--cluster-file", both, NULL), 0, "k\nv\n", "");
    S_EXPECT (s_zkvctl_bare ("\nput k2 v2\n\n\n", "txn", "--cluster-file", both, NULL), 0,
              "SUCCESS\n\nOK\n", "");
    //  Only the file's endpoints are used
    S_EXPECT (s_zkvctl_bare (NULL, "--cluster-file", dead_only, "--command-timeout", "300ms",
                             "get", "k", NULL), 1, "", "Error: context deadline exceeded\n");
    //  --endpoints wins over --cluster-file, both ways
    S_EXPECT (s_zkvctl_bare (NULL, "--cluster-file", dead_only, "--endpoints", live,
                             "get", "k", NULL), 0, "k\nv\n", "");
    S_EXPECT (s_zkvctl_bare (NULL, "--endpoints", dead, "--cluster-file", both,
                             "--command-timeout", "300ms", "get", "k", NULL),
              1, "", "Error: context deadline exceeded\n");
    char *missing = zsys_sprintf ("%s/missing.zpl", dir);
    S_EXPECT (s_zkvctl_bare (NULL, "--cluster-file", missing, "--endpoints", live,
                             "get", "k2", NULL), 0, "k2\nv2\n", "");

    unlink (both);
    unlink (dead_only);
    rmdir (dir);
    free (missing);
    free (both);
    free (dead_only);
    free (dir);
    close (fd);
}

Test (zkvctl, cluster_file_bad)
{
    char *dir = s_temp_dir ();
    char *missing = zsys_sprintf ("%s/missing.zpl", dir);
    char *bad = s_write_file (dir, "bad.zpl", "cluster\n  member\n");
    char *quote = s_write_file (dir, "quote.zpl",
                                "cluster\n    member\n        client = \"tcp://x\n");
    char *none = s_write_file (dir, "none.zpl",
                               "cluster\n    id = 1\n    member\n        name = n1\n"
                               "        client = \"\"\n");
    char *empty = s_write_file (dir, "empty.zpl", "");
    char *expected;

    //  Found before anything is sent (else, without a node at the default
    //  endpoint, each would time out and exit 1)
    expected = zsys_sprintf ("Error: cannot read cluster file %s: no such file or directory\n",
                             missing);
    S_EXPECT (s_zkvctl_bare (NULL, "--cluster-file", missing, "put", "k", "v", NULL),
              128, "", expected);
    free (expected);
    expected = zsys_sprintf ("Error: cannot read cluster file %s: is a directory\n", dir);
    S_EXPECT (s_zkvctl_bare (NULL, "get", "k", "--cluster-file", dir, NULL), 128, "", expected);
    free (expected);
    //  zconfig's complaint ends up in the message, not on stdout
    expected = zsys_sprintf ("Error: cannot parse cluster file %s: line 2: "
                             "indent 4 spaces at once\n", bad);
    S_EXPECT (s_zkvctl_bare (NULL, "--cluster-file", bad, "member", "list", NULL), 128, "",
              expected);
    free (expected);
    expected = zsys_sprintf ("Error: cannot parse cluster file %s: line 3: missing \"\n", quote);
    S_EXPECT (s_zkvctl_bare ("\n\n\n", "--cluster-file", quote, "txn", NULL), 128, "",
              expected);
    free (expected);
    expected = zsys_sprintf ("Error: cluster file %s lists no member client endpoint\n", none);
    S_EXPECT (s_zkvctl_bare (NULL, "--cluster-file", none, "get", "k", NULL), 128, "", expected);
    free (expected);
    expected = zsys_sprintf ("Error: cluster file %s lists no member client endpoint\n", empty);
    S_EXPECT (s_zkvctl_bare (NULL, "--cluster-file", empty, "compaction", "1", NULL), 128, "",
              expected);
    free (expected);

    unlink (bad);
    unlink (quote);
    unlink (none);
    unlink (empty);
    rmdir (dir);
    free (bad);
    free (quote);
    free (none);
    free (empty);
    free (missing);
    free (dir);
}

Test (zkvctl, an_oversized_request_gets_the_clear_error_at_once)
{
    //  9 MiB: past what a member's ZeroMQ reads at all (it would drop it
    //  and the command wait out its timeout), so zkvctl refuses it itself
    size_t size = 9 << 20;
    char *value = malloc (size + 1);
    memset (value, 'x', size);
    value [size] = 0;
    zkv_run_t run = s_zkvctl (value, "--command-timeout", "60s", "put", "big", NULL);
    cr_assert_eq (run.code, 1);
    cr_assert (strncmp (run.err, "Error: etcdserver: request is too large: ", 41) == 0,
               "%s", run.err);
    zkv_run_free (&run);
    //  2 MiB: the member's own refusal, the same text
    value [2 << 20] = 0;
    run = s_zkvctl (value, "--command-timeout", "60s", "put", "big", NULL);
    cr_assert_eq (run.code, 1);
    cr_assert_str_eq (run.err, "Error: etcdserver: request is too large\n");
    zkv_run_free (&run);
    free (value);
}

//  ---------------------------------------------------------------------
//  ZKVCTL_<FLAG> environment variables

//  Runs zkvctl args (NULL-terminated, no endpoint added) with the
//  variables vars ("NAME=value", NULL-terminated) set
static zkv_run_t
s_zkvctl_env (const char *const *vars, const char *const *args)
{
    const char *argv [64];
    int argc = 0;
    argv [argc++] = "/usr/bin/env";
    for (int i = 0; vars [i] && argc < 30; i++)
        argv [argc++] = vars [i];
    argv [argc++] = ZKVCTL_BIN;
    for (int i = 0; args [i] && argc < 63; i++)
        argv [argc++] = args [i];
    argv [argc] = NULL;
    return zkv_run (NULL, argv);
}

Test (zkvctl, environment_variables_set_global_flags)
{
    char *endpoints = zsys_sprintf ("ZKVCTL_ENDPOINTS=%s", zkv_testnode_endpoint (s_node_get ()));
    const char *put [] = { "put", "k", "v", NULL };
    const char *get [] = { "get", "k", NULL };
    const char *with_endpoints [] = { endpoints, NULL };
    S_EXPECT (s_zkvctl_env (with_endpoints, put), 0, "OK\n", "");
    //  -w, --hex, --command-timeout (none left: fails before sending)
    const char *json [] = { endpoints, "ZKVCTL_WRITE_OUT=json", NULL };
    zkv_run_t run = s_zkvctl_env (json, get);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (s_json_ok (run.out) && strstr (run.out, "\"kvs\":[{\"key\":\"aw==\""),
               "%s", run.out);
    zkv_run_free (&run);
    const char *hex [] = { endpoints, "ZKVCTL_HEX=true", NULL };
    S_EXPECT (s_zkvctl_env (hex, get), 0, "\\x6b\n\\x76\n", "");
    const char *no_time [] = { endpoints, "ZKVCTL_COMMAND_TIMEOUT=0s", NULL };
    S_EXPECT (s_zkvctl_env (no_time, get), 1, "", "Error: context deadline exceeded\n");
    //  An unsupported format is the same bad argument as the flag's
    const char *bogus [] = { endpoints, "ZKVCTL_WRITE_OUT=bogus", NULL };
    S_EXPECT (s_zkvctl_env (bogus, get), 128, "", "Error: unsupported output format\n");

    //  The command line wins over the variable (etcdctl 3.4 refuses the
    //  two together): the variable names an endpoint nobody serves
    const char *both [] = { "--endpoints", zkv_testnode_endpoint (s_node), "get", "k", NULL };
    const char *elsewhere [] = { "ZKVCTL_ENDPOINTS=127.0.0.1:1", NULL };
    S_EXPECT (s_zkvctl_env (elsewhere, both), 0, "k\nv\n", "");
    S_EXPECT (s_zkvctl_env (elsewhere, get), 1, "", "Error: context deadline exceeded\n");
    //  ... and an empty variable is no variable
    const char *empty [] = { "ZKVCTL_ENDPOINTS=", NULL };
    S_EXPECT (s_zkvctl_env (empty, both), 0, "k\nv\n", "");
    //  A value its flag cannot take is ignored (etcdctl: silently), and a
    //  variable that names no flag is warned about
    const char *bad [] = { endpoints, "ZKVCTL_COMMAND_TIMEOUT=abc", "ZKVCTL_NO_SUCH=1", NULL };
    S_EXPECT (s_zkvctl_env (bad, get), 0, "k\nv\n",
              "Warning: ignored invalid value \"abc\" for ZKVCTL_COMMAND_TIMEOUT: time: invalid "
              "duration \"abc\"\nWarning: unrecognized environment variable ZKVCTL_NO_SUCH=1\n");
    const char *bad_bool [] = { endpoints, "ZKVCTL_HEX=maybe", NULL };
    run = s_zkvctl_env (bad_bool, get);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_str_eq (run.out, "k\nv\n");
    cr_assert_not_null (strstr (run.err, "Warning: ignored invalid value \"maybe\" for "
                                         "ZKVCTL_HEX: "), "%s", run.err);
    zkv_run_free (&run);

    //  A --cluster-file on the command line wins over ZKVCTL_ENDPOINTS
    //  (the flag wins over the variable); ZKVCTL_CLUSTER_FILE is read
    char dead [128];
    int fd = zkv_dead_endpoint (dead, sizeof dead);
    cr_assert_geq (fd, 0);
    char *dir = s_temp_dir ();
    char *text = zsys_sprintf ("cluster\n    member\n        client = \"%s\"\n",
                               zkv_testnode_endpoint (s_node));
    char *file = s_write_file (dir, "cluster.zpl", text);
    char *dead_endpoints = zsys_sprintf ("ZKVCTL_ENDPOINTS=%s", dead);
    const char *dead_env [] = { dead_endpoints, NULL };
    const char *with_file [] = { "--cluster-file", file, "get", "k", NULL };
    S_EXPECT (s_zkvctl_env (dead_env, with_file), 0, "k\nv\n", "");
    char *file_var = zsys_sprintf ("ZKVCTL_CLUSTER_FILE=%s", file);
    const char *file_env [] = { file_var, NULL };
    S_EXPECT (s_zkvctl_env (file_env, get), 0, "k\nv\n", "");
    unlink (file);
    rmdir (dir);
    free (file_var);
    free (dead_endpoints);
    free (file);
    free (text);
    free (dir);
    free (endpoints);
    close (fd);
}

//  ---------------------------------------------------------------------
//  Malformed endpoints: bad arguments, at once

Test (zkvctl, malformed_endpoints_are_bad_arguments)
{
    const char *cases [][2] = {
        { "localhost", "missing port" },
        { "localhost:", "missing port" },
        { "http://localhost", "missing port" },
        { ":2379", "missing host" },
        { "localhost:abc", "invalid port" },
        { "localhost:99999", "invalid port" },
        { "localhost:0", "invalid port" },
        { "127.0.0.1:2379/", "invalid port" },
        { "host/x:2379", "invalid host" },
        { "https://127.0.0.1:2379", "unsupported scheme" },
        { "inproc://zkv", "unsupported scheme" },
        { "ipc://", "missing path" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *expected = zsys_sprintf ("Error: invalid endpoint \"%s\": %s (expected host:port, "
                                       "tcp://host:port or ipc://path)\n", cases [i][0],
                                       cases [i][1]);
        S_EXPECT (s_zkvctl_bare (NULL, "--endpoints", cases [i][0], "get", "k", NULL), 128, "",
                  expected);
        free (expected);
    }
    //  In a list, or from a cluster file, for any command
    S_EXPECT (s_zkvctl_bare (NULL, "--endpoints", "127.0.0.1:2379,localhost", "endpoint",
                             "status", NULL), 128, "",
              "Error: invalid endpoint \"localhost\": missing port (expected host:port, "
              "tcp://host:port or ipc://path)\n");
    char *dir = s_temp_dir ();
    char *file = s_write_file (dir, "cluster.zpl", "cluster\n    member\n        client = x\n");
    S_EXPECT (s_zkvctl_bare (NULL, "--cluster-file", file, "defrag", NULL), 128, "",
              "Error: invalid endpoint \"x\": missing port (expected host:port, "
              "tcp://host:port or ipc://path)\n");
    unlink (file);
    rmdir (dir);
    free (file);
    free (dir);
}

//  ---------------------------------------------------------------------
//  --dial-timeout: a member that does not connect fails every command
//  within it, whatever the command's own timeout

Test (zkvctl, dead_endpoint_fails_within_the_dial_timeout)
{
    char endpoint [128];
    int fd = zkv_dead_endpoint (endpoint, sizeof endpoint);
    cr_assert_geq (fd, 0);
    //  Waiting for an hour (or a minute) would be beyond the suite's timeout
    const char *hour [][4] = {
        { "get", "k", NULL },
        { "member", "list", NULL },
        { "alarm", "list", NULL },
        { "endpoint", "status", NULL },
    };
    for (size_t i = 0; i < sizeof hour / sizeof hour [0]; i++) {
        const char *argv [] = { ZKVCTL_BIN, "--endpoints", endpoint, "--command-timeout", "1h",
                                hour [i][0], hour [i][1], hour [i][2], NULL };
        zkv_run_t run = zkv_run (NULL, argv);
        cr_assert_eq (run.code, 1, "%s: %s", hour [i][0], run.err);
        cr_assert_not_null (strstr (run.err, "context deadline exceeded"), "%s", run.err);
        zkv_run_free (&run);
    }
    //  The long waits of their own: snapshot save (a minute of silence),
    //  move-leader (a minute), defrag (an hour)
    char *dir = s_temp_dir ();
    char *file = zsys_sprintf ("%s/saved.db", dir);
    const char *save [] = { ZKVCTL_BIN, "--endpoints", endpoint, "snapshot", "save", file, NULL };
    S_EXPECT (zkv_run (NULL, save), 1, "", "Error: context deadline exceeded\n");
    cr_assert (access (file, F_OK) != 0);
    rmdir (dir);
    free (file);
    free (dir);
    const char *move [] = { ZKVCTL_BIN, "--endpoints", endpoint, "move-leader", "n2", NULL };
    S_EXPECT (zkv_run (NULL, move), 1, "", "Error: context deadline exceeded\n");
    const char *defrag [] = { ZKVCTL_BIN, "--endpoints", endpoint, "defrag", NULL };
    zkv_run_t run = zkv_run (NULL, defrag);
    cr_assert_eq (run.code, 1, "%s", run.err);
    cr_assert_str_empty (run.out);
    char *failed = zsys_sprintf ("Failed to defragment etcd member[%s]. took ", endpoint);
    cr_assert_eq (strncmp (run.err, failed, strlen (failed)), 0, "%s", run.err);
    cr_assert_not_null (strstr (run.err, ". (context deadline exceeded)\n"), "%s", run.err);
    free (failed);
    zkv_run_free (&run);
    //  Given, as a flag or a variable
    const char *given [] = { ZKVCTL_BIN, "--dial-timeout", "100ms", "--command-timeout", "1h",
                             "--endpoints", endpoint, "get", "k", NULL };
    S_EXPECT (zkv_run (NULL, given), 1, "", "Error: context deadline exceeded\n");
    char *variable = zsys_sprintf ("ZKVCTL_ENDPOINTS=%s", endpoint);
    const char *vars [] = { variable, "ZKVCTL_DIAL_TIMEOUT=100ms", NULL };
    const char *defrag_env [] = { "defrag", NULL };
    run = s_zkvctl_env (vars, defrag_env);
    cr_assert_eq (run.code, 1, "%s", run.err);
    cr_assert_not_null (strstr (run.err, ". (context deadline exceeded)\n"), "%s", run.err);
    zkv_run_free (&run);
    free (variable);
    //  A live endpoint after a dead one still serves
    char *two = zsys_sprintf ("%s,%s", endpoint, zkv_testnode_endpoint (s_node_get ()));
    const char *failover [] = { ZKVCTL_BIN, "--endpoints", two, "put", "k", "v", NULL };
    S_EXPECT (zkv_run (NULL, failover), 0, "OK\n", "");
    free (two);
    close (fd);
}
