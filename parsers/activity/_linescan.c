/* Native loop of the activity fast path (parsers/activity/scan.py, parsers/activity/day_counts.py).
 *
 * scan() walks the lines of a buffer exactly as ActivityScanner.scan does in Python and counts
 * the lines of the usual shape into the DayCounts structures it is given (counts, bounds,
 * sessions) and voice lines through a callback, in file order. It returns at the first line it
 * leaves to Python (an unknown name, a line without the usual prefix, a counted line of another
 * shape), so Python handles that line and calls again from the next one: every decision about
 * such lines stays in Python, and the order of everything appended stays the file's.
 *
 * Every read stays inside [pos, end) of the line being looked at; the buffer is never written.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define PREFIX "{\"event_type\":\""
#define PREFIX_LEN 15
#define STAMP_KEY "\"timestamp\":"
#define STAMP_KEY_LEN 12
#define TRACK_KEY "\"client_track_timestamp\":"
#define TRACK_KEY_LEN 25
#define STAMP_WIDTH 24 /* YYYY-MM-DDTHH:MM:SS.fffZ */
#define HOUR_WIDTH 13  /* YYYY-MM-DDTHH */

enum role { ROLE_COUNTED = 0, ROLE_SESSION_START = 1, ROLE_SESSION_END = 2, ROLE_VOICE = 3 };
enum code { DONE = -1, READ_LINE = 0, ODD_NAME = 1, EXACT = 2 };

typedef struct {
    const char *buf;
    Py_ssize_t pos, end; /* the line, without its newline */
} Line;

/* Last occurrence of needle in the line, or -1 (Horspool, from the end: JSON keys share many
 * bytes, so a byte-by-byte loop spends its time on false starts at every quote). */
static Py_ssize_t
rfind_in(const Line *line, const char *needle, Py_ssize_t size)
{
    Py_ssize_t skip[256];
    for (int k = 0; k < 256; k++)
        skip[k] = size;
    for (Py_ssize_t k = size - 1; k > 0; k--)
        skip[(unsigned char)needle[k]] = k;
    Py_ssize_t at = line->end - size;
    while (at >= line->pos) {
        if (line->buf[at] == needle[0] && memcmp(line->buf + at, needle, size) == 0)
            return at;
        at -= skip[(unsigned char)line->buf[at]];
    }
    return -1;
}

static int
has_byte(const Line *line, Py_ssize_t from, char byte)
{
    return from < line->end && memchr(line->buf + from, byte, line->end - from) != NULL;
}

/* Strict UTF-8, as Python's decoder (no overlongs, surrogates or code points over U+10FFFF). */
static int
valid_utf8(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if ((word & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        Py_ssize_t need;
        unsigned char low = 0x80, high = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                low = 0xA0;
            else if (c == 0xED)
                high = 0x9F;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                low = 0x90;
            else if (c == 0xF4)
                high = 0x8F;
        }
        else
            return 0;
        if (i + need >= n)
            return 0;
        if (s[i + 1] < low || s[i + 1] > high)
            return 0;
        for (Py_ssize_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 0;
        i += need + 1;
    }
    return 1;
}

/* The 24-byte stamp of `"key":"\"YYYY-MM-DDTHH:MM:SS.fffZ\""` when the key's last occurrence
 * is preceded by a comma and holds exactly that shape; NULL otherwise. */
static const char *
stamp_of(const Line *line, const char *key, Py_ssize_t key_len)
{
    static const char shape[] = "0000-00-00T00:00:00.000Z";
    Py_ssize_t at = rfind_in(line, key, key_len);
    if (at <= line->pos || line->buf[at - 1] != ',')
        return NULL;
    Py_ssize_t start = at + key_len + 3;
    if (start + STAMP_WIDTH + 3 > line->end)
        return NULL;
    const char *text = line->buf + start;
    if (memcmp(text - 3, "\"\\\"", 3) != 0 || memcmp(text + STAMP_WIDTH, "\\\"\"", 3) != 0)
        return NULL;
    for (int k = 0; k < STAMP_WIDTH; k++) {
        if (shape[k] == '0' ? (text[k] < '0' || text[k] > '9') : text[k] != shape[k])
            return NULL;
    }
    if (text[14] > '5' || text[17] > '5') /* minutes or seconds over 59 (a leap second may end the day) */
        return NULL;
    return text;
}

/* The raw text of a top-level string field: a new bytes object, Py_None (absent or null, new
 * reference) or NULL with no error set when unsure (the line takes the exact path). */
static PyObject *
field_of(const Line *line, PyObject *pattern)
{
    const char *key = PyBytes_AS_STRING(pattern);
    Py_ssize_t key_len = PyBytes_GET_SIZE(pattern);
    Py_ssize_t at = rfind_in(line, key, key_len);
    if (at < 0)
        Py_RETURN_NONE;
    Py_ssize_t start = at + key_len;
    if (at <= line->pos || line->buf[at - 1] != ',' || start >= line->end)
        return NULL;
    const char *buf = line->buf;
    if (buf[start] == '"') {
        const char *close = memchr(buf + start + 1, '"', line->end - start - 1);
        if (close == NULL || memchr(buf + start + 1, '\\', close - (buf + start + 1)) != NULL)
            return NULL;
        return PyBytes_FromStringAndSize(buf + start + 1, close - (buf + start + 1));
    }
    if (start + 5 <= line->end && memcmp(buf + start, "null", 4) == 0 &&
        (buf[start + 4] == ',' || buf[start + 4] == '}'))
        Py_RETURN_NONE;
    return NULL;
}

typedef struct {
    PyObject *plans;    /* event type -> (role, tuple of b'"key":') */
    PyObject *hours;    /* hour prefix bytes -> hour number or None */
    PyObject *hour_of;  /* callable(prefix) -> hour number or None, fills hours */
    PyObject *counts;   /* (event type, day, *raw fields) -> count */
    PyObject *bounds;   /* event type -> [lowest stamp, highest stamp] */
    PyObject *sessions; /* list of (stamp, started, raw os) */
    PyObject *on_voice; /* callable(event type, stamp, track stamp, channel, guild) */
    char last_prefix[HOUR_WIDTH]; /* the hour of the previous counted line (lines come in time */
    PyObject *last_hour;          /* order, so most lines share it); NULL before the first */
} Sinks;

/* Stretch [low, high] of the event type to the stamp; bytes are made only when they change. */
static int
widen(PyObject *bounds, PyObject *kind, const char *text)
{
    PyObject *pair = PyDict_GetItemWithError(bounds, kind);
    if (pair == NULL && PyErr_Occurred())
        return -1;
    if (pair != NULL && (!PyList_CheckExact(pair) || PyList_GET_SIZE(pair) != 2)) {
        PyErr_SetString(PyExc_TypeError, "bounds must hold [low, high] lists");
        return -1;
    }
    int side = -1;
    if (pair != NULL) {
        if (memcmp(text, PyBytes_AS_STRING(PyList_GET_ITEM(pair, 0)), STAMP_WIDTH) < 0)
            side = 0;
        else if (memcmp(text, PyBytes_AS_STRING(PyList_GET_ITEM(pair, 1)), STAMP_WIDTH) > 0)
            side = 1;
        else
            return 0;
    }
    PyObject *stamp = PyBytes_FromStringAndSize(text, STAMP_WIDTH);
    if (stamp == NULL)
        return -1;
    if (pair != NULL)
        return PyList_SetItem(pair, side, stamp); /* steals stamp */
    pair = Py_BuildValue("[OO]", stamp, stamp);
    Py_DECREF(stamp);
    if (pair == NULL)
        return -1;
    int failed = PyDict_SetItem(bounds, kind, pair);
    Py_DECREF(pair);
    return failed;
}

/* The hour number of a stamp (new reference), Py_None when unusable, NULL on error. */
static PyObject *
hour_number(Sinks *sinks, const char *stamp)
{
    if (sinks->last_hour != NULL && memcmp(sinks->last_prefix, stamp, HOUR_WIDTH) == 0) {
        Py_INCREF(sinks->last_hour);
        return sinks->last_hour;
    }
    PyObject *prefix = PyBytes_FromStringAndSize(stamp, HOUR_WIDTH);
    if (prefix == NULL)
        return NULL;
    PyObject *hour = PyDict_GetItemWithError(sinks->hours, prefix);
    if (hour != NULL)
        Py_INCREF(hour);
    else if (!PyErr_Occurred())
        hour = PyObject_CallOneArg(sinks->hour_of, prefix);
    Py_DECREF(prefix);
    if (hour != NULL) {
        Py_XSETREF(sinks->last_hour, Py_NewRef(hour));
        memcpy(sinks->last_prefix, stamp, HOUR_WIDTH);
    }
    return hour;
}

static int
add_count(PyObject *counts, PyObject *key)
{
    PyObject *count = PyDict_GetItemWithError(counts, key);
    if (count == NULL && PyErr_Occurred())
        return -1;
    long now = count == NULL ? 0 : PyLong_AsLong(count);
    if (now == -1 && PyErr_Occurred())
        return -1;
    PyObject *next = PyLong_FromLong(now + 1);
    if (next == NULL)
        return -1;
    int failed = PyDict_SetItem(counts, key, next);
    Py_DECREF(next);
    return failed;
}

/* Count one counted line of the usual shape: 1 when counted, 0 when the exact path must take
 * it, -1 on a Python error. */
static int
count_line(Sinks *sinks, const Line *line, PyObject *kind)
{
    PyObject *plan = PyDict_GetItemWithError(sinks->plans, kind);
    if (plan == NULL)
        return PyErr_Occurred() ? -1 : 0;
    long role = PyLong_AsLong(PyTuple_GET_ITEM(plan, 0));
    PyObject *patterns = PyTuple_GET_ITEM(plan, 1);
    const char *buf = line->buf;
    Line inner = {buf, line->pos, line->end - 1};
    if (line->end - line->pos < 2 || buf[line->end - 1] != '}' || has_byte(line, line->pos + 1, '{') ||
        has_byte(&inner, line->pos, '}') ||
        has_byte(line, line->pos, '\t') || has_byte(line, line->pos, '\r'))
        return 0;
    const char *text = stamp_of(line, STAMP_KEY, STAMP_KEY_LEN);
    const char *track = role == ROLE_VOICE ? stamp_of(line, TRACK_KEY, TRACK_KEY_LEN) : text;
    if (text == NULL || track == NULL ||
        !valid_utf8((const unsigned char *)buf + line->pos, line->end - line->pos))
        return 0;
    Py_ssize_t n_fields = PyTuple_GET_SIZE(patterns);
    PyObject *fields[4] = {NULL, NULL, NULL, NULL};
    int result = -1;
    PyObject *hour = NULL, *key = NULL, *item = NULL;
    if (n_fields > 4) {
        PyErr_SetString(PyExc_ValueError, "at most 4 fields per event type");
        return -1;
    }
    for (Py_ssize_t k = 0; k < n_fields; k++) {
        fields[k] = field_of(line, PyTuple_GET_ITEM(patterns, k));
        if (fields[k] == NULL) {
            result = PyErr_Occurred() ? -1 : 0;
            goto done;
        }
    }
    hour = hour_number(sinks, text);
    if (hour == NULL)
        goto done;
    if (hour == Py_None) {
        result = 0;
        goto done;
    }
    long hours = PyLong_AsLong(hour);
    if (hours == -1 && PyErr_Occurred())
        goto done;
    Py_ssize_t in_key = role == ROLE_VOICE ? 0 : n_fields;
    key = PyTuple_New(2 + in_key);
    if (key == NULL)
        goto done;
    Py_INCREF(kind);
    PyTuple_SET_ITEM(key, 0, kind);
    PyObject *day = PyLong_FromLong(hours >= 0 ? hours / 24 : -((-hours + 23) / 24));
    if (day == NULL)
        goto done;
    PyTuple_SET_ITEM(key, 1, day);
    for (Py_ssize_t k = 0; k < in_key; k++) {
        Py_INCREF(fields[k]);
        PyTuple_SET_ITEM(key, 2 + k, fields[k]);
    }
    if (add_count(sinks->counts, key) < 0)
        goto done;
    if (role == ROLE_SESSION_START || role == ROLE_SESSION_END) {
        item = Py_BuildValue("(y#OO)", text, (Py_ssize_t)STAMP_WIDTH, role == ROLE_SESSION_START ? Py_True : Py_False,
                             n_fields ? fields[0] : Py_None);
        if (item == NULL || PyList_Append(sinks->sessions, item) < 0)
            goto done;
    }
    else if (role == ROLE_VOICE) {
        item = PyObject_CallFunction(sinks->on_voice, "Oy#y#OO", kind, text, (Py_ssize_t)STAMP_WIDTH,
                                     track, (Py_ssize_t)STAMP_WIDTH,
                                     n_fields > 0 ? fields[0] : Py_None,
                                     n_fields > 1 ? fields[1] : Py_None);
        if (item == NULL)
            goto done;
    }
    if (widen(sinks->bounds, kind, text) < 0)
        goto done;
    result = 1;
done:
    for (Py_ssize_t k = 0; k < n_fields; k++)
        Py_XDECREF(fields[k]);
    Py_XDECREF(hour);
    Py_XDECREF(key);
    Py_XDECREF(item);
    return result;
}

static PyObject *
scan(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, stop, max_line;
    PyObject *names;
    Sinks sinks;
    if (!PyArg_ParseTuple(args, "y*nnnO!O!O!OO!O!O!O:scan", &view, &pos, &stop, &max_line,
                          &PyDict_Type, &names, &PyDict_Type, &sinks.plans, &PyDict_Type,
                          &sinks.hours, &sinks.hour_of, &PyDict_Type, &sinks.counts,
                          &PyDict_Type, &sinks.bounds, &PyList_Type, &sinks.sessions,
                          &sinks.on_voice))
        return NULL;
    sinks.last_hour = NULL;
    const char *buf = view.buf;
    Py_ssize_t lines = 0, too_long = 0;
    int code = DONE;
    PyObject *detail = NULL;
    if (pos < 0 || stop > view.len || pos > stop) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "pos and stop must lie inside the buffer");
        return NULL;
    }
    while (pos < stop) {
        const char *newline = memchr(buf + pos, '\n', stop - pos);
        Line line = {buf, pos, newline == NULL ? stop : newline - buf};
        if (line.end - pos > max_line) {
            too_long++;
        }
        else if (line.end - pos >= PREFIX_LEN && memcmp(buf + pos, PREFIX, PREFIX_LEN) == 0) {
            const char *quote = memchr(buf + pos + PREFIX_LEN, '"', line.end - pos - PREFIX_LEN);
            PyObject *name =
                quote == NULL ? PyBytes_FromString("-")
                              : PyBytes_FromStringAndSize(buf + pos + PREFIX_LEN,
                                                          quote - (buf + pos + PREFIX_LEN));
            if (name == NULL)
                goto error;
            PyObject *kind = PyDict_GetItemWithError(names, name);
            if (kind == NULL) {
                if (PyErr_Occurred()) {
                    Py_DECREF(name);
                    goto error;
                }
                code = ODD_NAME;
                detail = name;
                break;
            }
            Py_DECREF(name);
            if (PyUnicode_Check(kind) && PyUnicode_GET_LENGTH(kind) > 0) {
                int counted = count_line(&sinks, &line, kind);
                if (counted < 0)
                    goto error;
                if (counted == 0) {
                    code = EXACT;
                    Py_INCREF(kind);
                    detail = kind;
                    break;
                }
            }
        }
        else {
            code = READ_LINE;
            break;
        }
        lines++;
        pos = line.end + 1;
    }
    PyBuffer_Release(&view);
    Py_XDECREF(sinks.last_hour);
    if (detail == NULL) {
        detail = Py_None;
        Py_INCREF(detail);
    }
    return Py_BuildValue("(nnniN)", code == DONE ? stop : pos, lines, too_long, code, detail);
error:
    PyBuffer_Release(&view);
    Py_XDECREF(sinks.last_hour);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(buffer, pos, stop, max_line, names, plans, hours, hour_of, counts, bounds, sessions, "
     "on_voice) -> (next_pos, lines, too_long, code, detail)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_linescan",
                                    "Native loop of the activity fast path.", -1, methods};

PyMODINIT_FUNC
PyInit__linescan(void)
{
    return PyModule_Create(&module);
}
