/*
 * regex_bound.c - judges an extended regular expression before glibc's
 * regcomp builds it, because regcomp's cost is not the text's:
 *
 * - it copies a subexpression once per count of an interval and once
 *   more for a '+', and nested copies multiply, so "(a{999}){999}", or
 *   "a" and fifty '+', take minutes and gigabytes;
 * - a '*', '+' or {m,} around something that can match nothing ("(a*)+",
 *   "a**") makes a loop of empty transitions, and the closures regcomp
 *   computes over such loops grow faster than quadratically with their
 *   copies: "((((((((a*)+)+)+)+)+)+)+)+" is some 30 bytes and 80 ms
 *   (0.8 s under ASan).  Such a repetition never changes what the pattern
 *   matches ("(a*)+" is "a*"), and POSIX leaves stacked repetitions
 *   ("a**") undefined, so it is refused outright.
 *
 * The walk is lenient where regcomp is strict: what it misreads, regcomp
 * refuses afterwards with its own reason.
 */
#include "config.h"

#include "input/regex_bound.h"

#define MAX_GROUP_DEPTH 100

typedef struct {
    const char *p;          /* the next byte to read */
    const char *empty_loop; /* the first repetition operator around a
                             * part that can match nothing, or NULL */
} scan;

static unsigned long capped(unsigned long v)
{
    return v > JX__REGEX_MAX_PARTS ? JX__REGEX_MAX_PARTS + 1 : v;
}

/* Skips a bracket expression at s->p ('['), classes and a leading ']'
 * included. */
static void skip_bracket(scan *s)
{
    const char *q = s->p + 1;

    if (*q == '^')
        q++;
    if (*q == ']')
        q++;
    while (*q != '\0' && *q != ']') {
        if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
            const char *end = q + 2;

            while (*end != '\0' && *end != q[1])
                end++;
            q = *end != '\0' && end[1] == ']' ? end + 2 : q + 1;
        } else {
            q++;
        }
    }
    s->p = *q == ']' ? q + 1 : q;
}

/* A repetition operator at s->p, if there is one: the copies regcomp
 * makes of its operand, the least count, and whether it has no upper
 * bound.  s->p moves past it.  0 when there is none ('{' not opening an
 * interval is a literal). */
static unsigned long repetition(scan *s, unsigned long *least,
                                int *unbounded)
{
    const char *q = s->p + 1;
    unsigned long m = 0, n = 0;
    int comma = 0, n_digits = 0;

    switch (*s->p) {
    case '*':
    case '?':
        s->p++;
        *least = 0;
        *unbounded = q[-1] == '*';
        return 1;
    case '+':
        s->p++;
        *least = 1;
        *unbounded = 1;
        return 2;
    case '{':
        break;
    default:
        return 0;
    }
    for (; *q >= '0' && *q <= '9'; q++)
        m = capped(m * 10 + (unsigned long)(*q - '0'));
    if (*q == ',') {
        comma = 1;
        for (q++; *q >= '0' && *q <= '9'; q++, n_digits++)
            n = capped(n * 10 + (unsigned long)(*q - '0'));
    }
    if (*q != '}' || q == s->p + 1)
        return 0;
    s->p = q + 1;
    *least = m;
    *unbounded = comma && n_digits == 0;
    if (!comma)
        return m > 0 ? m : 1;
    return n > 0 ? n : m + 1;
}

static unsigned long alternation(scan *s, int depth, int *nullable);

/* One atom and its repetitions: the parts regcomp makes of them; sets
 * *nullable when they can match nothing. */
static unsigned long repeated_atom(scan *s, int depth, int *nullable)
{
    unsigned long parts = 1;

    *nullable = 0;
    switch (*s->p) {
    case '(':
        s->p++;
        if (depth < MAX_GROUP_DEPTH) {
            parts = alternation(s, depth + 1, nullable);
        } else {
            parts = JX__REGEX_MAX_PARTS + 1;
            while (*s->p != '\0' && *s->p != ')')
                s->p++;
        }
        if (*s->p == ')')
            s->p++;
        break;
    case '[':
        skip_bracket(s);
        break;
    case '^':
    case '$':
        *nullable = 1;
        s->p++;
        break;
    case '\\':
        if (s->p[1] == '\0') {
            s->p++;
            break;
        }
        /* glibc's anchors: word boundaries, buffer start and end. */
        *nullable = s->p[1] == 'b' || s->p[1] == 'B' || s->p[1] == '<' ||
                    s->p[1] == '>' || s->p[1] == '`' || s->p[1] == '\'';
        s->p += 2;
        break;
    default:
        s->p++;
        break;
    }
    for (;;) {
        const char *op = s->p;
        unsigned long least = 0, copies;
        int unbounded = 0;

        if ((copies = repetition(s, &least, &unbounded)) == 0)
            break;
        if (unbounded && *nullable && s->empty_loop == NULL)
            s->empty_loop = op;
        if (least == 0)
            *nullable = 1;
        parts = capped(parts * copies);
    }
    return parts;
}

/* Branches separated by '|', up to the end or the ')' closing the group
 * at depth: the parts regcomp makes of them, roughly and never fewer,
 * capped just past JX__REGEX_MAX_PARTS. */
static unsigned long alternation(scan *s, int depth, int *nullable)
{
    unsigned long total = 0;
    int branch_nullable = 1;

    *nullable = 0;
    while (*s->p != '\0' && !(*s->p == ')' && depth > 0)) {
        int atom_nullable;

        if (*s->p == '|') {
            s->p++;
            *nullable |= branch_nullable;
            branch_nullable = 1;
            continue;
        }
        total = capped(total + repeated_atom(s, depth, &atom_nullable) + 1);
        branch_nullable &= atom_nullable;
    }
    *nullable |= branch_nullable;
    return total;
}

jx__regex_verdict jx__regex_bound(const char *pattern, size_t len,
                                  size_t *offset)
{
    scan s = {pattern, NULL};
    int nullable;

    if (len > JX__REGEX_MAX_BYTES)
        return JX__REGEX_TOO_LARGE;
    if (alternation(&s, 0, &nullable) > JX__REGEX_MAX_PARTS)
        return JX__REGEX_TOO_LARGE;
    if (s.empty_loop != NULL) {
        *offset = (size_t)(s.empty_loop - pattern);
        return JX__REGEX_EMPTY_LOOP;
    }
    return JX__REGEX_BOUNDED;
}
