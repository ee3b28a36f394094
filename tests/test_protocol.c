/*  test_protocol.c — docs/PROTOCOL.md documents every message and field a
    client can meet, as zkv_msgs.def declares them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_msgs.h"

static char *
s_read (const char *path)
{
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "cannot read %s", path);
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    char *text = malloc ((size_t) size + 1);
    cr_assert_eq (fread (text, 1, (size_t) size, file), (size_t) size);
    text [size] = 0;
    fclose (file);
    return text;
}

//  Marks desc and every message reachable from its fields
static void
s_reach (const zkv_desc_t *desc, const zkv_desc_t **seen, size_t *count)
{
    for (size_t i = 0; i < *count; i++)
        if (seen [i] == desc)
            return;
    seen [(*count)++] = desc;
    for (size_t i = 0; i < desc->field_count; i++)
        if (desc->fields [i].sub)
            s_reach (desc->fields [i].sub, seen, count);
    if (desc->response)
        s_reach (desc->response, seen, count);
}

Test (protocol, every_client_message_is_documented)
{
    char *doc = s_read (ZKV_SOURCE_DIR "/docs/PROTOCOL.md");
    const zkv_desc_t *seen [128];
    size_t count = 0;
    for (const zkv_desc_t *const *desc = zkv_msg_table; *desc; desc++)
        if ((*desc)->kind == ZKV_KIND_REQUEST)
            s_reach (*desc, seen, &count);
    s_reach (&zkv_error_response_desc, seen, &count);
    cr_assert_gt (count, 10);

    for (size_t i = 0; i < count; i++) {
        char heading [96];
        snprintf (heading, sizeof heading, "\n### %s\n", seen [i]->name);
        char *section = strstr (doc, heading);
        cr_assert_not_null (section, "PROTOCOL.md has no section \"### %s\"", seen [i]->name);
        section += strlen (heading);
        char *end = strstr (section, "\n#");
        size_t length = end? (size_t) (end - section): strlen (section);
        for (size_t f = 0; f < seen [i]->field_count; f++) {
            char row [96];
            snprintf (row, sizeof row, "| `%s` |", seen [i]->fields [f].name);
            char *found = strstr (section, row);
            cr_assert (found && found < section + length,
                       "PROTOCOL.md section %s does not document field %s",
                       seen [i]->name, seen [i]->fields [f].name);
        }
    }
    free (doc);
}

//  The request map's list of operations names every request a member serves
Test (protocol, every_op_is_listed_in_the_request_map)
{
    char *doc = s_read (ZKV_SOURCE_DIR "/docs/PROTOCOL.md");
    char *section = strstr (doc, "\n## The request map\n");
    cr_assert_not_null (section, "PROTOCOL.md has no section \"## The request map\"");
    char *end = strstr (section + 1, "\n## ");
    size_t length = end? (size_t) (end - section): strlen (section);
    size_t listed = 0;
    for (const zkv_desc_t *const *desc = zkv_msg_table; *desc; desc++) {
        if ((*desc)->kind != ZKV_KIND_REQUEST)
            continue;
        char name [96];
        snprintf (name, sizeof name, "`%s`", (*desc)->name);
        char *found = strstr (section, name);
        cr_assert (found && found < section + length,
                   "PROTOCOL.md's request map does not list op %s", (*desc)->name);
        listed++;
    }
    cr_assert_eq (listed, ZKV_REQ_COUNT);
    free (doc);
}
