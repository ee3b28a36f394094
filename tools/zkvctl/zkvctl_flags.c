/*  =========================================================================
    zkvctl_flags.c — zkvctl's command-line flags, parsed as etcdctl's
    cobra + pflag parse them: long and short forms, `--flag=value` and
    `--flag value`, flags and arguments mixed, `--` ending the flags, and
    flag values read as Go's strconv and time.ParseDuration read them.
    =========================================================================
*/
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkvctl.h"

//  ---------------------------------------------------------------------
//  Values of flags, parsed as Go parses them

//  Go's strconv underscoreOK: underscores only between digits
static bool
s_underscore_ok (const char *s)
{
    char saw = '^';
    size_t i = 0, size = strlen (s);
    if (size >= 1 && (s [0] == '-' || s [0] == '+')) {
        s++;
        size--;
    }
    bool hex = false;
    if (size >= 2 && s [0] == '0'
    && (tolower (s [1]) == 'b' || tolower (s [1]) == 'o' || tolower (s [1]) == 'x')) {
        i = 2;
        saw = '0';
        hex = tolower (s [1]) == 'x';
    }
    for (; i < size; i++) {
        if (isdigit ((unsigned char) s [i]) || (hex && isxdigit ((unsigned char) s [i]))) {
            saw = '0';
            continue;
        }
        if (s [i] == '_') {
            if (saw != '0')
                return false;
            saw = '_';
            continue;
        }
        if (saw == '_')
            return false;
        saw = '!';
    }
    return saw != '_';
}

static int
s_number_error (const char *function, const char *text, const char *why,
                char *error, size_t size)
{
    char *quoted = zkvctl_quote (text, strlen (text));
    snprintf (error, size, "strconv.%s: parsing %s: %s", function, quoted, why);
    free (quoted);
    return -1;
}

int
zkvctl_parse_int (const char *text, int base, int64_t *value, char *error, size_t size)
{
    const char *s = text;
    bool negative = false;
    if (*s == '+' || *s == '-') {
        negative = *s == '-';
        s++;
    }
    if (!*s)
        return s_number_error ("ParseInt", text, "invalid syntax", error, size);
    const char *digits = s;
    bool base0 = base == 0;
    if (base0) {
        base = 10;
        if (s [0] == '0') {
            size_t length = strlen (s);
            int prefix = tolower (s [1]);
            if (length >= 3 && (prefix == 'b' || prefix == 'o' || prefix == 'x')) {
                base = prefix == 'b'? 2: prefix == 'o'? 8: 16;
                s += 2;
            }
            else {
                base = 8;
                s += 1;
            }
        }
    }
    uint64_t cutoff = UINT64_MAX / (uint64_t) base + 1;
    uint64_t number = 0;
    bool underscores = false;
    for (; *s; s++) {
        int digit;
        if (*s == '_' && base0) {
            underscores = true;
            continue;
        }
        else
        if (isdigit ((unsigned char) *s))
            digit = *s - '0';
        else
        if (isalpha ((unsigned char) *s))
            digit = tolower (*s) - 'a' + 10;
        else
            return s_number_error ("ParseInt", text, "invalid syntax", error, size);
        if (digit >= base)
            return s_number_error ("ParseInt", text, "invalid syntax", error, size);
        if (number >= cutoff)
            return s_number_error ("ParseInt", text, "value out of range", error, size);
        number *= (uint64_t) base;
        if (number + (uint64_t) digit < number)
            return s_number_error ("ParseInt", text, "value out of range", error, size);
        number += (uint64_t) digit;
    }
    if (underscores && !s_underscore_ok (digits))
        return s_number_error ("ParseInt", text, "invalid syntax", error, size);
    if (negative) {
        if (number > (uint64_t) INT64_MAX + 1)
            return s_number_error ("ParseInt", text, "value out of range", error, size);
        *value = number == (uint64_t) INT64_MAX + 1? INT64_MIN: -(int64_t) number;
    }
    else {
        if (number > (uint64_t) INT64_MAX)
            return s_number_error ("ParseInt", text, "value out of range", error, size);
        *value = (int64_t) number;
    }
    return 0;
}

//  Go's strconv.ParseBool
static int
s_parse_bool (const char *text, bool *value, char *error, size_t size)
{
    static const char *truths [] = { "1", "t", "T", "TRUE", "true", "True", NULL };
    static const char *lies [] = { "0", "f", "F", "FALSE", "false", "False", NULL };
    for (int i = 0; truths [i]; i++)
        if (streq (text, truths [i])) {
            *value = true;
            return 0;
        }
    for (int i = 0; lies [i]; i++)
        if (streq (text, lies [i])) {
            *value = false;
            return 0;
        }
    return s_number_error ("ParseBool", text, "invalid syntax", error, size);
}

static int
s_duration_error (const char *format, const char *text, const char *unit,
                  char *error, size_t size)
{
    char *quoted = zkvctl_quote (text, strlen (text));
    if (unit) {
        char *quoted_unit = zkvctl_quote (unit, strlen (unit));
        snprintf (error, size, format, quoted_unit, quoted);
        free (quoted_unit);
    }
    else
        snprintf (error, size, format, quoted);
    free (quoted);
    return -1;
}

//  Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ into nanoseconds
static int
s_parse_duration (const char *text, int64_t *value, char *error, size_t size)
{
    static const struct {
        const char *name;
        uint64_t nsecs;
    } units [] = {
        { "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "\xce\xbcs", 1000 },
        { "ms", 1000000 }, { "s", 1000000000 }, { "m", 60000000000ULL },
        { "h", 3600000000000ULL }
    };
    const uint64_t limit = (uint64_t) 1 << 63;
    const char *invalid = "time: invalid duration %s";
    const char *s = text;
    bool negative = false;
    if (*s == '-' || *s == '+') {
        negative = *s == '-';
        s++;
    }
    if (streq (s, "0")) {
        *value = 0;
        return 0;
    }
    if (!*s)
        return s_duration_error (invalid, text, NULL, error, size);
    uint64_t total = 0;
    while (*s) {
        if (!(*s == '.' || isdigit ((unsigned char) *s)))
            return s_duration_error (invalid, text, NULL, error, size);
        //  Whole part
        const char *start = s;
        uint64_t whole = 0;
        for (; isdigit ((unsigned char) *s); s++) {
            if (whole > limit / 10)
                return s_duration_error (invalid, text, NULL, error, size);
            whole = whole * 10 + (uint64_t) (*s - '0');
            if (whole > limit)
                return s_duration_error (invalid, text, NULL, error, size);
        }
        bool pre = s != start;
        //  Fraction: digits past what fits are dropped, as in Go
        uint64_t fraction = 0;
        double scale = 1;
        bool post = false;
        if (*s == '.') {
            s++;
            start = s;
            bool overflow = false;
            for (; isdigit ((unsigned char) *s); s++) {
                if (overflow)
                    continue;
                if (fraction > (limit - 1) / 10) {
                    overflow = true;
                    continue;
                }
                uint64_t next = fraction * 10 + (uint64_t) (*s - '0');
                if (next > limit) {
                    overflow = true;
                    continue;
                }
                fraction = next;
                scale *= 10;
            }
            post = s != start;
        }
        if (!pre && !post)
            return s_duration_error (invalid, text, NULL, error, size);
        //  Unit
        start = s;
        while (*s && *s != '.' && !isdigit ((unsigned char) *s))
            s++;
        if (s == start)
            return s_duration_error ("time: missing unit in duration %s", text, NULL, error, size);
        size_t length = (size_t) (s - start);
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof units / sizeof units [0]; i++)
            if (strlen (units [i].name) == length && memcmp (units [i].name, start, length) == 0)
                unit = units [i].nsecs;
        if (!unit) {
            char name [64];
            snprintf (name, sizeof name, "%.*s", (int) length, start);
            return s_duration_error ("time: unknown unit %s in duration %s", text, name,
                                     error, size);
        }
        if (whole > limit / unit)
            return s_duration_error (invalid, text, NULL, error, size);
        whole *= unit;
        if (fraction > 0) {
            whole += (uint64_t) ((double) fraction * ((double) unit / scale));
            if (whole > limit)
                return s_duration_error (invalid, text, NULL, error, size);
        }
        total += whole;
        if (total > limit)
            return s_duration_error (invalid, text, NULL, error, size);
    }
    if (negative)
        *value = total == limit? INT64_MIN: -(int64_t) total;
    else {
        if (total > (uint64_t) INT64_MAX)
            return s_duration_error (invalid, text, NULL, error, size);
        *value = (int64_t) total;
    }
    return 0;
}

//  Appends the items of a comma list to list (owned), or replaces it the
//  first time, as pflag's stringSlice does; items are trimmed
static void
s_list_set (char **list, bool first, const char *text)
{
    size_t room = (first? 0: strlen (*list)) + strlen (text) + 2;
    char *joined = (char *) zmalloc (room);
    if (!first)
        strcpy (joined, *list);
    char *copy = strdup (text);
    char *saved = NULL;
    for (char *item = strtok_r (copy, ",", &saved); item; item = strtok_r (NULL, ",", &saved)) {
        while (isspace ((unsigned char) *item))
            item++;
        size_t length = strlen (item);
        while (length && isspace ((unsigned char) item [length - 1]))
            length--;
        if (length == 0)
            continue;
        if (*joined)
            strcat (joined, ",");
        strncat (joined, item, length);
    }
    free (copy);
    free (*list);
    *list = joined;
}

//  ---------------------------------------------------------------------
//  Flags, with pflag's syntax and messages

//  How pflag names a flag in messages: "--limit" or "-w, --write-out"
static const char *
s_flag_label (const zkvctl_flag_t *flag, char *buf, size_t size)
{
    if (flag->shorthand)
        snprintf (buf, size, "-%c, --%s", flag->shorthand, flag->name);
    else
        snprintf (buf, size, "--%s", flag->name);
    return buf;
}

static zkvctl_flag_t *
s_flag_find (zkvctl_flag_t *flags, zkvctl_flag_t *globals, const char *name, size_t length,
             char shorthand)
{
    zkvctl_flag_t *tables [] = { flags, globals };
    for (int t = 0; t < 2; t++)
        for (zkvctl_flag_t *flag = tables [t]; flag && flag->name; flag++)
            if (shorthand? flag->shorthand == shorthand
                         : strlen (flag->name) == length && memcmp (flag->name, name, length) == 0)
                return flag;
    return NULL;
}

//  Sets flag from text, as Go parses its type; -1 with Go's reason in why
static int
s_value_set (zkvctl_flag_t *flag, const char *text, char *why, size_t size)
{
    switch (flag->type) {
        case ZKVCTL_FLAG_BOOL:
            return s_parse_bool (text, (bool *) flag->value, why, size);
        case ZKVCTL_FLAG_STRING:
            *(const char **) flag->value = text;
            return 0;
        case ZKVCTL_FLAG_INT64:
            return zkvctl_parse_int (text, 0, (int64_t *) flag->value, why, size);
        case ZKVCTL_FLAG_DURATION:
            return s_parse_duration (text, (int64_t *) flag->value, why, size);
        case ZKVCTL_FLAG_LIST:
            s_list_set ((char **) flag->value, !flag->changed, text);
            return 0;
    }
    return 0;
}

static int
s_flag_set (zkvctl_t *ctl, zkvctl_flag_t *flag, const char *text)
{
    char why [512] = "";
    if (s_value_set (flag, text, why, sizeof why)) {
        char label [128];
        char *quoted = zkvctl_quote (text, strlen (text));
        zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "invalid argument %s for \"%s\" flag: %s",
                     quoted, s_flag_label (flag, label, sizeof label), why);
        free (quoted);
        return ZKVCTL_BAD_FLAG;
    }
    flag->changed = true;
    return 0;
}

//  ---------------------------------------------------------------------
//  The environment: ZKVCTL_<FLAG>, as etcdctl's ETCDCTL_<FLAG>
//  (pkg/flags SetPflagsFromEnv), read once the command line is parsed

//  The variable of a flag: "ZKVCTL_" and its name upper-cased, dashes as
//  underscores (--write-out: ZKVCTL_WRITE_OUT)
static void
s_env_name (const char *flag, char *name, size_t size)
{
    snprintf (name, size, "ZKVCTL_%s", flag);
    for (char *at = name; *at; at++)
        *at = *at == '-'? '_': (char) toupper ((unsigned char) *at);
}

//  Every global flag not given on the command line takes the value of its
//  variable when that is set and not empty: the command line wins (etcdctl
//  3.4 refuses the two together, which makes a variable exported for a
//  shell useless for one command to another member). As etcdctl: a
//  variable whose value its flag cannot take is ignored (etcdctl says
//  nothing; zkvctl warns); a ZKVCTL_ variable that names no global flag is
//  warned about.
static int
s_env_apply (zkvctl_t *ctl)
{
    char name [128];
    int index = 0;
    for (zkvctl_flag_t *flag = ctl->globals; flag->name; flag++, index++) {
        s_env_name (flag->name, name, sizeof name);
        const char *value = getenv (name);
        if (!value || !*value)
            continue;
        if (flag->changed)
            continue;                   //  given on the command line
        char why [512] = "";
        if (s_value_set (flag, value, why, sizeof why)) {
            char *quoted = zkvctl_quote (value, strlen (value));
            fprintf (stderr, "Warning: ignored invalid value %s for %s: %s\n", quoted, name, why);
            free (quoted);
            continue;
        }
        flag->changed = true;
        if (index < 32)
            ctl->from_env |= 1u << index;
    }
    for (char **variable = environ; *variable; variable++) {
        if (strncmp (*variable, "ZKVCTL_", 7) != 0)
            continue;
        bool known = false;
        for (zkvctl_flag_t *flag = ctl->globals; flag->name && !known; flag++) {
            s_env_name (flag->name, name, sizeof name);
            size_t length = strlen (name);
            known = strncmp (*variable, name, length) == 0 && (*variable) [length] == '=';
        }
        if (!known)
            fprintf (stderr, "Warning: unrecognized environment variable %s\n", *variable);
    }
    return 0;
}

bool
zkvctl_flag_from_env (const zkvctl_t *ctl, const char *name)
{
    int index = 0;
    for (const zkvctl_flag_t *flag = ctl->globals; flag->name; flag++, index++)
        if (streq (flag->name, name))
            return index < 32 && (ctl->from_env & (1u << index)) != 0;
    return false;
}

bool
zkvctl_flag_changed (const zkvctl_flag_t *flags, const char *name)
{
    for (const zkvctl_flag_t *flag = flags; flag && flag->name; flag++)
        if (streq (flag->name, name))
            return flag->changed;
    return false;
}

//  Records a flag error; returns ZKVCTL_BAD_FLAG
static int
s_bad_flag (zkvctl_t *ctl, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char text [sizeof ctl->error];
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", text);
    return ZKVCTL_BAD_FLAG;
}

static int
s_help (zkvctl_t *ctl, const zkvctl_command_t *command, zkvctl_flag_t *flags, const char *arg)
{
    if (!command) {
        zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "unknown flag: %s", arg);
        return ZKVCTL_BAD_FLAG;
    }
    zkvctl_usage (ctl, command, flags);
    return ZKVCTL_HELP;
}

int
zkvctl_flags_parse (zkvctl_t *ctl, const zkvctl_command_t *command, zkvctl_flag_t *flags,
                    bool with_globals, int argc, char **args, const size_t *sizes,
                    zkv_bin_t *positional, int *count)
{
    zkvctl_flag_t *globals = with_globals? ctl->globals: NULL;
    bool dashdash = false;
    *count = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = args [i];
        size_t size = sizes? sizes [i]: strlen (arg);
        if (dashdash || size < 2 || arg [0] != '-') {
            positional [(*count)++] = zkv_bin (arg, size);
            continue;
        }
        if (streq (arg, "--")) {
            dashdash = true;
            continue;
        }
        if (arg [1] == '-') {
            //  --name, --name=value, --name value
            const char *name = arg + 2;
            if (*name == '-' || *name == '=')
                return s_bad_flag (ctl, "bad flag syntax: %s", arg);
            const char *equals = strchr (name, '=');
            size_t length = equals? (size_t) (equals - name): strlen (name);
            zkvctl_flag_t *flag = s_flag_find (flags, globals, name, length, 0);
            if (!flag) {
                if (length == 4 && memcmp (name, "help", 4) == 0)
                    return s_help (ctl, command, flags, arg);
                return s_bad_flag (ctl, "unknown flag: --%.*s", (int) length, name);
            }
            const char *value = equals? equals + 1: NULL;
            if (!value) {
                if (flag->type == ZKVCTL_FLAG_BOOL)
                    value = "true";
                else
                if (i + 1 < argc)
                    value = args [++i];
                else
                    return s_bad_flag (ctl, "flag needs an argument: %s", arg);
            }
            if (s_flag_set (ctl, flag, value))
                return ZKVCTL_BAD_FLAG;
            continue;
        }
        //  -abc: shorthands; one that takes a value takes the rest of the
        //  arg (after an optional '='), or else the next arg
        const char *shorthands = arg + 1;
        for (const char *at = shorthands; *at; at++) {
            zkvctl_flag_t *flag = s_flag_find (flags, globals, NULL, 0, *at);
            if (!flag) {
                if (*at == 'h')
                    return s_help (ctl, command, flags, arg);
                return s_bad_flag (ctl, "unknown shorthand flag: '%c' in -%s", *at, shorthands);
            }
            const char *value = "true";
            bool took_rest = true;
            if (at [1] == '=')
                value = at + 2;
            else
            if (flag->type != ZKVCTL_FLAG_BOOL && at [1])
                value = at + 1;
            else
            if (flag->type != ZKVCTL_FLAG_BOOL && i + 1 < argc)
                value = args [++i];
            else
            if (flag->type != ZKVCTL_FLAG_BOOL)
                return s_bad_flag (ctl, "flag needs an argument: '%c' in -%s", *at, shorthands);
            else
                took_rest = false;
            if (s_flag_set (ctl, flag, value))
                return ZKVCTL_BAD_FLAG;
            if (took_rest)
                break;
        }
    }
    if (with_globals && !ctl->env_read) {
        ctl->env_read = true;
        if (s_env_apply (ctl))
            return ZKVCTL_BAD_FLAG;
    }
    return 0;
}
