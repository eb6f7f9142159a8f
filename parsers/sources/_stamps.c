/* The hour prefixes of a chunk of decoded messages, in one C pass: the twin of
 * `messages.plain_stamps_py`, which stays the reference and the fallback.
 *
 * plain_stamps(messages, hour_numbers) takes a list of decoded messages. When every one is a
 * dict whose "Timestamp" is a str of 19 characters with a space at index 10 and a clock ":MM:SS"
 * that parse_instant accepts (minutes and seconds 00-59, ASCII digits), it returns (prefixes,
 * fresh, low, high): each stamp's "YYYY-MM-DD HH" in order, the set of those not in
 * hour_numbers, and the smallest and largest stamp. Otherwise (and for anything but a non-empty
 * list) it returns None, and the caller counts the messages one by one. Nothing is changed;
 * nothing of Python's runs but dict lookups of str keys.
 *
 * number_hours(fresh, hour_numbers, max_numbers, hour_starts, max_starts) numbers the new hour
 * prefixes a chunk brought, as `messages.number_hours_py` (its reference and fallback) does with
 * instants.hour_start: each "YYYY-MM-DD HH" of ASCII digits naming a real hour, not before
 * MIN_SECONDS, gets its start remembered in hour_starts (instants.HOUR_STARTS, emptied first
 * when it holds max_starts; a start found there is the same) and its hour number in
 * hour_numbers (while it holds fewer than max_numbers). It returns the list of the others,
 * which it leaves to the Python twin.
 *
 * line_stamps(buffer, stop, counts, hour_keys, max_keys) counts the lines of buffer[:stop] from
 * its start, without decoding them, while each is a message of the usual shape (see
 * `message_stamp`) whose stamp is plain and of an hour C reads (civil_hour), and returns (taken,
 * records, low, high): where the first line it did not take starts (stop when it took them
 * all), how many messages it counted, and the smallest and largest stamp (None without any).
 * Each message adds one to counts[its hour number] (MessageSink.counts), as MessageSink.add
 * counts it: the hour's number is its prefix's, which needs no table. The int objects of those
 * numbers are shared through hour_keys (instants.HOUR_KEYS, at most max_keys of them), so that
 * the package's channels' counters hold one per hour. The caller decodes the lines it did not
 * take, as before: so the pass only ever counts what decoding would have, and takes nothing it
 * doubts. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "../_civil_hour.h" /* civil_hour, HOUR_WIDTH */
#include "../_utf8.h"       /* valid_utf8 */

#define STAMP_LENGTH 19

static PyObject *timestamp_key; /* "Timestamp", interned */

static int is_digit_upto(Py_UCS4 c, char last) { return c >= '0' && c <= (Py_UCS4)last; }

/* The STAMP_LENGTH characters of `kind` at data (a str's, or bytes as PyUnicode_1BYTE_KIND) have
 * their space in place and a clock parse_instant accepts in any hour (the date and hour are
 * judged by the hour's prefix, once per package). */
static int plain_clock(int kind, const void *data) {
    return PyUnicode_READ(kind, data, 10) == ' ' && PyUnicode_READ(kind, data, 13) == ':' &&
           is_digit_upto(PyUnicode_READ(kind, data, 14), '5') &&
           is_digit_upto(PyUnicode_READ(kind, data, 15), '9') &&
           PyUnicode_READ(kind, data, 16) == ':' &&
           is_digit_upto(PyUnicode_READ(kind, data, 17), '5') &&
           is_digit_upto(PyUnicode_READ(kind, data, 18), '9');
}

/* A str of "YYYY-MM-DD HH:MM:SS"'s length with a plain clock. */
static int plain_stamp(PyObject *stamp) {
    return PyUnicode_CheckExact(stamp) && PyUnicode_GET_LENGTH(stamp) == STAMP_LENGTH &&
           plain_clock(PyUnicode_KIND(stamp), PyUnicode_DATA(stamp));
}

/* The stamp of a message, a new reference; NULL without an error when it is not a dict with a
 * plain stamp, NULL with one when the lookup raised. */
static PyObject *stamp_of(PyObject *message) {
    if (!PyDict_Check(message))
        return NULL;
    Py_INCREF(message); /* a lookup can run a key's __eq__, which could drop it from the list */
    PyObject *stamp = PyDict_GetItemWithError(message, timestamp_key);
    stamp = (stamp != NULL && plain_stamp(stamp)) ? Py_NewRef(stamp) : NULL;
    Py_DECREF(message);
    return stamp;
}

/* Two plain stamps of the same hour: their first HOUR_WIDTH characters alike (equal prefixes of
 * stamps whose clocks are ASCII are of one kind). */
static int same_hour(PyObject *stamp, PyObject *other) {
    int kind = PyUnicode_KIND(stamp);
    return kind == PyUnicode_KIND(other) &&
           memcmp(PyUnicode_DATA(stamp), PyUnicode_DATA(other), (size_t)HOUR_WIDTH * kind) == 0;
}

/* Keeps the smallest and largest stamp. */
static void widen(PyObject *stamp, PyObject **low, PyObject **high) {
    if (*low == NULL || PyUnicode_Compare(stamp, *low) < 0)
        Py_XSETREF(*low, Py_NewRef(stamp));
    if (*high == NULL || PyUnicode_Compare(stamp, *high) > 0)
        Py_XSETREF(*high, Py_NewRef(stamp));
}

/* 1 when every message has a plain stamp (all taken), 0 when one has not, -1 on an error. Each
 * stamp's prefix goes to `prefixes`, and to `fresh` when hour_numbers lacks it. Messages come
 * in order: while the hour stays the same, the previous message's prefix is taken again, so that
 * an hour's messages make one prefix and one lookup. */
static int scan(PyObject *messages, PyObject *hour_numbers, PyObject *prefixes, PyObject *fresh,
                PyObject **low, PyObject **high) {
    PyObject *previous = NULL, *prefix = NULL; /* the last stamp taken and its prefix */
    int result = 1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(messages) && result == 1; i++) {
        PyObject *stamp = stamp_of(PyList_GET_ITEM(messages, i));
        if (stamp == NULL) {
            result = PyErr_Occurred() ? -1 : 0;
            break;
        }
        if (previous == NULL || !same_hour(stamp, previous)) {
            Py_XSETREF(prefix, PyUnicode_Substring(stamp, 0, HOUR_WIDTH));
            int known = prefix == NULL ? -1 : PyDict_Contains(hour_numbers, prefix);
            if (known < 0 || (!known && PySet_Add(fresh, prefix) < 0))
                result = -1;
        }
        if (result == 1 && PyList_Append(prefixes, prefix) < 0)
            result = -1;
        if (result == 1)
            widen(stamp, low, high);
        Py_XSETREF(previous, stamp);
    }
    Py_XDECREF(previous);
    Py_XDECREF(prefix);
    return result;
}

static PyObject *plain_stamps(PyObject *self, PyObject *args) {
    PyObject *messages, *hour_numbers;
    if (!PyArg_ParseTuple(args, "OO!", &messages, &PyDict_Type, &hour_numbers))
        return NULL;
    if (!PyList_CheckExact(messages) || PyList_GET_SIZE(messages) == 0)
        Py_RETURN_NONE; /* counted one by one: the same counts */
    PyObject *prefixes = PyList_New(0), *fresh = PySet_New(NULL), *low = NULL, *high = NULL;
    PyObject *result = NULL;
    if (prefixes != NULL && fresh != NULL) {
        int plain = scan(messages, hour_numbers, prefixes, fresh, &low, &high);
        if (plain > 0)
            result = PyTuple_Pack(4, prefixes, fresh, low, high);
        else if (plain == 0)
            result = Py_NewRef(Py_None);
    }
    Py_XDECREF(prefixes);
    Py_XDECREF(fresh);
    Py_XDECREF(low);
    Py_XDECREF(high);
    return result;
}

/* The hour number of a str prefix C reads ("YYYY-MM-DD HH" in ASCII), else -1. */
static long prefix_hour(PyObject *prefix) {
    if (!PyUnicode_CheckExact(prefix) || !PyUnicode_IS_ASCII(prefix) ||
        PyUnicode_GET_LENGTH(prefix) != HOUR_WIDTH)
        return -1;
    const char *text = (const char *)PyUnicode_1BYTE_DATA(prefix);
    return text[10] == ' ' ? civil_hour(text) : -1;
}

/* Remembers hour_starts[prefix] (unless there already: hour_start's cache hit) and
 * hour_numbers[prefix] as number_hours_py does. */
static int remember(PyObject *prefix, long hours, PyObject *hour_numbers, Py_ssize_t max_numbers,
                    PyObject *hour_starts, Py_ssize_t max_starts) {
    int cached = PyDict_Contains(hour_starts, prefix), failed = cached < 0;
    if (cached == 0) {
        if (PyDict_GET_SIZE(hour_starts) >= max_starts)
            PyDict_Clear(hour_starts);
        PyObject *start = PyLong_FromLong(hours * 3600);
        failed = start == NULL || PyDict_SetItem(hour_starts, prefix, start) < 0;
        Py_XDECREF(start);
    }
    if (failed || PyDict_GET_SIZE(hour_numbers) >= max_numbers)
        return failed ? -1 : 0;
    PyObject *number = PyLong_FromLong(hours);
    failed = number == NULL || PyDict_SetItem(hour_numbers, prefix, number) < 0;
    Py_XDECREF(number);
    return failed ? -1 : 0;
}

static PyObject *number_hours(PyObject *self, PyObject *args) {
    PyObject *fresh, *hour_numbers, *hour_starts;
    Py_ssize_t max_numbers, max_starts;
    if (!PyArg_ParseTuple(args, "O!O!nO!n", &PySet_Type, &fresh, &PyDict_Type, &hour_numbers,
                          &max_numbers, &PyDict_Type, &hour_starts, &max_starts))
        return NULL;
    PyObject *left = PyList_New(0), *iterator = PyObject_GetIter(fresh), *prefix;
    if (left == NULL || iterator == NULL)
        goto failed;
    while ((prefix = PyIter_Next(iterator)) != NULL) {
        long hours = prefix_hour(prefix);
        int failed = hours < 0 ? PyList_Append(left, prefix)
                               : remember(prefix, hours, hour_numbers, max_numbers, hour_starts,
                                          max_starts);
        Py_DECREF(prefix);
        if (failed < 0)
            goto failed;
    }
    if (PyErr_Occurred())
        goto failed;
    Py_DECREF(iterator);
    return left;
failed:
    Py_XDECREF(iterator);
    Py_XDECREF(left);
    return NULL;
}

/* ---- The line pass (line_stamps): messages.json lines counted without decoding them. ---- */

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static const char *skip_space(const char *p, const char *end) {
    while (p < end && is_space(*p))
        p++;
    return p;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code unit of the \u escape at p (its backslash), or -1: four hex digits. */
static int escaped_unit(const char *p, const char *end) {
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
        return -1;
    int code = 0;
    for (int k = 2; k < 6; k++) {
        int digit = hex_value(p[k]);
        if (digit < 0)
            return -1;
        code = code * 16 + digit;
    }
    return code;
}

/* The end of the \u escape at p (its backslash), or NULL: a code unit outside the surrogates,
 * or a high surrogate escaped with its low one after it (an astral character, as an ASCII-only
 * serializer writes an emoji). A lone surrogate is left to the decoder (orjson refuses it). */
static const char *unicode_escape_end(const char *p, const char *end) {
    int code = escaped_unit(p, end);
    if (code < 0xD800 || code > 0xDFFF)
        return code < 0 ? NULL : p + 6;
    int low = code <= 0xDBFF ? escaped_unit(p + 6, end) : -1;
    return low >= 0xDC00 && low <= 0xDFFF ? p + 12 : NULL;
}

/* Eight bytes at p hold a quote, a backslash or a control byte (the bytes a string's scan stops
 * at), as bit tricks on one word: a zero byte of word ^ byte, a byte under 0x20. */
static int has_special(const char *p) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t word, quote, backslash;
    memcpy(&word, p, 8);
    quote = word ^ (ones * '"');
    backslash = word ^ (ones * '\\');
    return ((((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) |
             ((word - ones * 0x20) & ~word)) &
            highs) != 0;
}

/* The end (past its closing quote) of the JSON string whose opening quote is at p, or NULL when
 * it is not one every decoder takes: a raw control byte, an unknown or surrogate escape, no
 * closing quote. *escaped tells whether it holds an escape. Its bytes are valid UTF-8 (the
 * caller checked the line). */
static const char *string_end(const char *p, const char *end, int *escaped) {
    *escaped = 0;
    for (p++; p < end;) {
        while (end - p >= 8 && !has_special(p))
            p += 8;
        if (p >= end)
            break;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c != '\\') {
            p++;
            continue;
        }
        *escaped = 1;
        if (p + 1 >= end)
            return NULL;
        if (p[1] == 'u')
            p = unicode_escape_end(p, end);
        else if (p[1] != '\0' && strchr("\"\\/bfnrt", p[1]) != NULL)
            p += 2;
        else
            return NULL;
        if (p == NULL)
            return NULL;
    }
    return NULL;
}

/* The end of a JSON integer at p (the decoders read one of any length: orjson as an int, or as a
 * float past 64 bits), or NULL: a fraction or an exponent is left to the decoder, and a leading
 * zero is not JSON. */
static const char *integer_end(const char *p, const char *end) {
    if (p < end && *p == '-')
        p++;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    if (p == digits || (p - digits > 1 && *digits == '0'))
        return NULL;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
        return NULL;
    return p;
}

static const char *literal_end(const char *p, const char *end) {
    static const char *const words[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t length = strlen(words[k]);
        if ((size_t)(end - p) >= length && memcmp(p, words[k], length) == 0)
            return p + length;
    }
    return NULL;
}

/* The end of the value at p (a string, an integer, true, false or null), or NULL: a nested
 * object or array, a float, anything doubtful. *plain_string: a string without escapes. */
static const char *value_end(const char *p, const char *end, int *plain_string) {
    *plain_string = 0;
    if (*p == '"') {
        int escaped;
        const char *after = string_end(p, end, &escaped);
        *plain_string = after != NULL && !escaped;
        return after;
    }
    if (*p == '-' || (*p >= '0' && *p <= '9'))
        return integer_end(p, end);
    return literal_end(p, end);
}

#define TIMESTAMP_KEY "\"Timestamp\""

/* The first byte of the Timestamp of a line's body [p, end), `{` first and `}` last, valid
 * UTF-8: when the body is one flat JSON object (strings, integers, literals; any key order,
 * JSON's whitespace between tokens) with a single "Timestamp" key spelled without escapes whose
 * value is a string of 19 bytes without escapes; else NULL (the line is decoded instead: a key
 * with escapes, for one, may spell "Timestamp"). */
static const char *message_stamp(const char *p, const char *end) {
    const char *stamp = NULL;
    p = skip_space(p + 1, end);
    while (p < end && *p == '"') {
        int escaped, plain;
        const char *key = p;
        p = string_end(p, end, &escaped);
        if (p == NULL || escaped)
            return NULL;
        int is_stamp = p - key == (Py_ssize_t)strlen(TIMESTAMP_KEY) &&
                       memcmp(key, TIMESTAMP_KEY, strlen(TIMESTAMP_KEY)) == 0;
        p = skip_space(p, end);
        if (p >= end || *p != ':')
            return NULL;
        p = skip_space(p + 1, end);
        const char *value = p;
        p = p < end ? value_end(p, end, &plain) : NULL;
        if (p == NULL)
            return NULL;
        if (is_stamp) {
            if (stamp != NULL || !plain || p - value != STAMP_LENGTH + 2)
                return NULL;
            stamp = value + 1;
        }
        p = skip_space(p, end);
        if (p < end && *p == ',')
            p = skip_space(p + 1, end);
        else
            return p + 1 == end && *p == '}' ? stamp : NULL;
    }
    return NULL; /* `{}`, a trailing comma, a key that is not a string */
}

/* A stamp of STAMP_LENGTH ASCII bytes with a plain clock (plain_stamp, on bytes). */
static int plain_stamp_bytes(const char *s) {
    for (int k = 0; k < STAMP_LENGTH; k++)
        if ((unsigned char)s[k] >= 0x80)
            return 0;
    return plain_clock(PyUnicode_1BYTE_KIND, s);
}

static int is_separator(char c) { return is_space(c) || c == ',' || c == '[' || c == ']'; }

/* What a line pass counts into, and where it is. */
typedef struct {
    PyObject *counts;    /* hour number -> messages (MessageSink.counts) */
    PyObject *hour_keys; /* hour number -> the int object counts are keyed by (instants.HOUR_KEYS) */
    Py_ssize_t max_keys;
    long hour;          /* the current hour's number */
    const char *stamp;  /* a stamp of that hour */
    Py_ssize_t run;     /* messages of that hour not yet added to counts */
    Py_ssize_t records; /* messages taken */
    char low[STAMP_LENGTH], high[STAMP_LENGTH];
} LinePass;

/* The int object counts are keyed by for this hour (a new reference): the one in hour_keys,
 * which takes this one while it holds fewer than max_keys. NULL with an error set. */
static PyObject *hour_key(LinePass *pass) {
    PyObject *hour = PyLong_FromLong(pass->hour);
    if (hour == NULL)
        return NULL;
    PyObject *shared = PyDict_GetItemWithError(pass->hour_keys, hour);
    if (shared != NULL) {
        Py_DECREF(hour);
        return Py_NewRef(shared);
    }
    if (PyErr_Occurred() || (PyDict_GET_SIZE(pass->hour_keys) < pass->max_keys &&
                             PyDict_SetItem(pass->hour_keys, hour, hour) < 0))
        Py_CLEAR(hour);
    return hour;
}

/* counts[hour] += run. 0, or -1 with an error set. */
static int flush_run(LinePass *pass) {
    if (pass->run == 0)
        return 0;
    PyObject *hour = hour_key(pass), *total = NULL;
    PyObject *old = hour == NULL ? NULL : PyDict_GetItemWithError(pass->counts, hour);
    Py_ssize_t count = old == NULL ? 0 : PyLong_AsSsize_t(old);
    if (hour != NULL && !PyErr_Occurred())
        total = PyLong_FromSsize_t(count + pass->run);
    int failed = total == NULL || PyDict_SetItem(pass->counts, hour, total) < 0;
    Py_XDECREF(hour);
    Py_XDECREF(total);
    pass->run = 0;
    return failed ? -1 : 0;
}

/* Count one message by its plain stamp: 1, 0 when C does not read its hour (the line is not
 * taken), -1 on an error. A stamp's hour number is what hour_start gives its prefix (civil_hour,
 * its twin), as parse_instant // 3600 would count it: no table is needed. */
static int count_stamp(LinePass *pass, const char *stamp) {
    if (pass->run == 0 || memcmp(stamp, pass->stamp, HOUR_WIDTH) != 0) {
        long hour = civil_hour(stamp);
        if (hour < 0)
            return 0;
        if (flush_run(pass) < 0)
            return -1;
        pass->hour = hour;
    }
    pass->stamp = stamp;
    pass->run++;
    if (pass->records == 0 || memcmp(stamp, pass->low, STAMP_LENGTH) < 0)
        memcpy(pass->low, stamp, STAMP_LENGTH);
    if (pass->records == 0 || memcmp(stamp, pass->high, STAMP_LENGTH) > 0)
        memcpy(pass->high, stamp, STAMP_LENGTH);
    pass->records++;
    return 1;
}

/* The plain stamp of the line [p, end) when it is a message of the usual shape; NULL when its
 * body is empty (*blank set) or it is not one. */
static const char *line_stamp(const char *p, const char *end, int *blank) {
    while (p < end && is_separator(*p))
        p++;
    while (end > p && is_separator(end[-1]))
        end--;
    *blank = p == end;
    if (*blank || *p != '{' || end[-1] != '}' ||
        !valid_utf8((const unsigned char *)p, end - p))
        return NULL;
    const char *stamp = message_stamp(p, end);
    return stamp != NULL && plain_stamp_bytes(stamp) ? stamp : NULL;
}

/* Walk the lines of [buf, buf + stop) while each is taken; where the first not taken starts,
 * or -1 with an error set. */
static Py_ssize_t walk_lines(LinePass *pass, const char *buf, Py_ssize_t stop) {
    Py_ssize_t pos = 0;
    while (pos < stop) {
        const char *line = buf + pos, *newline = memchr(line, '\n', stop - pos);
        const char *end = newline == NULL ? buf + stop : newline;
        int blank;
        const char *stamp = line_stamp(line, end, &blank);
        if (stamp == NULL && !blank)
            break;
        if (stamp != NULL) {
            int counted = count_stamp(pass, stamp);
            if (counted < 0)
                return -1;
            if (counted == 0)
                break;
        }
        pos = newline == NULL ? stop : newline - buf + 1;
    }
    return flush_run(pass) < 0 ? -1 : pos;
}

static PyObject *stamp_text(LinePass *pass, const char *stamp) {
    return pass->records == 0 ? Py_NewRef(Py_None)
                              : PyUnicode_FromStringAndSize(stamp, STAMP_LENGTH);
}

static PyObject *line_stamps(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t stop;
    LinePass pass = {0};
    if (!PyArg_ParseTuple(args, "y*nO!O!n", &view, &stop, &PyDict_Type, &pass.counts,
                          &PyDict_Type, &pass.hour_keys, &pass.max_keys))
        return NULL;
    PyObject *result = NULL;
    if (stop < 0 || stop > view.len)
        PyErr_SetString(PyExc_ValueError, "stop is outside the buffer");
    else {
        Py_ssize_t taken = walk_lines(&pass, view.buf, stop);
        if (taken >= 0)
            result = Py_BuildValue("nnNN", taken, pass.records, stamp_text(&pass, pass.low),
                                   stamp_text(&pass, pass.high));
    }
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"plain_stamps", plain_stamps, METH_VARARGS,
     "(hour prefixes, unknown prefixes, lowest, highest stamp), or None: see the module."},
    {"number_hours", number_hours, METH_VARARGS,
     "Number the new hour prefixes C reads; the list of the others: see the module."},
    {"line_stamps", line_stamps, METH_VARARGS,
     "(taken, records, lowest, highest stamp) of the leading usual lines: see the module."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_stamps", NULL, -1, methods};

PyMODINIT_FUNC PyInit__stamps(void) {
    timestamp_key = PyUnicode_InternFromString("Timestamp");
    if (timestamp_key == NULL)
        return NULL;
    return PyModule_Create(&module);
}
