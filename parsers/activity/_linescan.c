/* Native loop of the activity fast path (parsers/activity/scan.py, parsers/activity/day_counts.py).
 *
 * scan() walks the lines of a buffer as ActivityScanner.take does in Python and counts the
 * counted lines of the usual shape with the plans derived from the rules table
 * (day_counts.native_plans): into the DayCounts structures it is given (counts, bounds, and
 * pending for the lines of a per-event rule, in file order). It returns at the first line it
 * does not take (no event_type key of the usual spelling, a new name, a rule without a plan, a
 * field kind it cannot read, any doubt), so the Python loop takes that line and calls again
 * from the next one: the C loop only ever does what the Python loop would, never more.
 *
 * Every read stays inside [pos, end) of the line being looked at; the buffer is never written.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "../_civil_hour.h" /* civil_hour, MIN_SECONDS, HOUR_WIDTH */
#include "../_utf8.h"      /* valid_utf8 */

#define EVENT_KEY "\"event_type\""
#define EVENT_KEY_LEN 12
#define STAMP_KEY "\"timestamp\":"
#define STAMP_KEY_LEN 12
#define STAMP_WIDTH 24 /* YYYY-MM-DDTHH:MM:SS.fffZ */
#define MAX_FIELDS 8   /* a rule with more is left to Python */

/* Field kinds, as rules.Kind.native numbers them. */
enum kind { KIND_TEXT = 0, KIND_INSTANT = 1 };

typedef struct {
    const char *buf;
    Py_ssize_t pos, end; /* the line, without its newline */
} Line;

/* First occurrence of needle in the line, or -1 (Horspool). */
static Py_ssize_t
find_in(const Line *line, const char *needle, Py_ssize_t size)
{
    unsigned char skip[256];
    if (size < 1 || size > 255)
        return -1;
    memset(skip, (int)size, sizeof skip);
    for (Py_ssize_t k = 0; k < size - 1; k++)
        skip[(unsigned char)needle[k]] = (unsigned char)(size - 1 - k);
    Py_ssize_t at = line->pos;
    while (at + size <= line->end) {
        unsigned char last = (unsigned char)line->buf[at + size - 1];
        if (last == (unsigned char)needle[size - 1] && memcmp(line->buf + at, needle, size) == 0)
            return at;
        at += skip[last];
    }
    return -1;
}

static int
has_byte(const Line *line, Py_ssize_t from, Py_ssize_t to, char byte)
{
    return from < to && memchr(line->buf + from, byte, to - from) != NULL;
}

/* One flat object of compact JSON: `{` first, `}` last and nowhere else (a brace inside a
 * string is rare, outside one it is invalid JSON), no tab or CR (whitespace that could sit
 * before a colon); a final CR (a CRLF line end) is dropped from the line first. */
static int
usual_line(Line *line)
{
    if (line->end > line->pos && line->buf[line->end - 1] == '\r')
        line->end--;
    Py_ssize_t pos = line->pos, end = line->end;
    return end - pos >= 2 && line->buf[pos] == '{' && line->buf[end - 1] == '}' &&
           !has_byte(line, pos + 1, end, '{') && !has_byte(line, pos, end - 1, '}') &&
           !has_byte(line, pos, end, '\t') && !has_byte(line, pos, end, '\r');
}

/* The keys a counted line is read for, each a `"name":` pattern: the timestamp's first, then
 * the plan's fields'. */
typedef struct {
    const char *pattern[MAX_FIELDS + 1];
    Py_ssize_t size[MAX_FIELDS + 1];
    Py_ssize_t last[MAX_FIELDS + 1]; /* where the key's last occurrence starts, or -1 */
    Py_ssize_t count;
} Keys;

/* A `"name":` pattern of 3 to 255 bytes (its name may hold anything but what ends it). */
static int
key_shaped(const char *pattern, Py_ssize_t size)
{
    return size >= 3 && size <= 255 && pattern[0] == '"' && pattern[size - 2] == '"' &&
           pattern[size - 1] == ':';
}

/* Where each key's last occurrence in the line starts, in one pass over it. Every occurrence
 * of a `"name":` pattern ends with a quote and a colon, so the pass goes from colon to colon
 * (memchr) and compares only the keys whose name ends with the byte before that quote: a
 * search per key from the line's end took a few hundred steps each on lines of a kilobyte. */
static void
find_keys(const Line *line, Keys *keys)
{
    uint16_t ending_with[256] = {0}; /* the final byte of a name -> a bit per key */
    for (Py_ssize_t k = 0; k < keys->count; k++) {
        keys->last[k] = -1;
        ending_with[(unsigned char)keys->pattern[k][keys->size[k] - 3]] |= (uint16_t)(1u << k);
    }
    const char *buf = line->buf;
    Py_ssize_t at = line->pos + 2; /* the first colon that can end a key */
    while (at < line->end) {
        const char *colon = memchr(buf + at, ':', line->end - at);
        if (colon == NULL)
            break;
        Py_ssize_t end = colon - buf + 1; /* just after the colon */
        if (colon[-1] == '"') {
            unsigned bits = ending_with[(unsigned char)colon[-2]];
            for (Py_ssize_t k = 0; bits != 0; k++, bits >>= 1) {
                Py_ssize_t start = end - keys->size[k];
                if ((bits & 1) && start >= line->pos &&
                    memcmp(buf + start, keys->pattern[k], keys->size[k] - 2) == 0)
                    keys->last[k] = start;
            }
        }
        at = end;
    }
}

/* Where the value of key k starts: -1 when absent, -2 when it may not be a top-level key (the
 * line is flat: after a comma, or first after the brace, it is one). */
static Py_ssize_t
value_start(const Line *line, const Keys *keys, Py_ssize_t k)
{
    Py_ssize_t at = keys->last[k];
    if (at < 0)
        return -1;
    if (at <= line->pos || (line->buf[at - 1] != ',' && at - 1 != line->pos))
        return -2;
    return at + keys->size[k];
}

/* The 24 bytes of a `"\"YYYY-MM-DDTHH:MM:SS.fffZ\""` value starting at start, or NULL. */
static const char *
stamp_at(const Line *line, Py_ssize_t start)
{
    static const char shape[] = "0000-00-00T00:00:00.000Z";
    if (start < line->pos || start + 3 + STAMP_WIDTH + 3 > line->end)
        return NULL;
    const char *text = line->buf + start + 3;
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

/* A TEXT value at start: the raw text of a string without escapes (new bytes), Py_None for
 * null (new reference), or NULL with no error set when unsure. */
static PyObject *
text_at(const Line *line, Py_ssize_t start)
{
    const char *buf = line->buf;
    if (start >= line->end)
        return NULL;
    if (buf[start] == '"') {
        const char *close = memchr(buf + start + 1, '"', line->end - start - 1);
        if (close == NULL || memchr(buf + start + 1, '\\', close - (buf + start + 1)) != NULL)
            return NULL;
        return PyBytes_FromStringAndSize(buf + start + 1, close - (buf + start + 1));
    }
    if (start + 5 <= line->end && memcmp(buf + start, "null", 4) == 0 &&
        (buf[start + 4] == ',' || buf[start + 4] == '}'))
        Py_RETURN_NONE;
    return NULL; /* numbers, booleans, arrays: rare, orjson decides */
}

/* raw_fields.stamp_seconds in C: the instant of a stamp in its hour (`hours` since the epoch),
 * with Python's arithmetic (an exact integer sum, then the milliseconds as a float). */
static double
stamp_seconds(const char *text, long hours)
{
    long whole = hours * 3600 + two_digits(text + 14) * 60 + two_digits(text + 17);
    int millis = (text[20] - '0') * 100 + (text[21] - '0') * 10 + (text[22] - '0');
    return (double)whole + (double)millis / 1000.0;
}

/* An INSTANT value at start: a quoted stamp's instant (a float) when its hour is one C reads,
 * its 24 bytes when Python must read the hour, else as a TEXT value. */
static PyObject *
instant_at(const Line *line, Py_ssize_t start)
{
    if (start + 3 <= line->end && memcmp(line->buf + start, "\"\\\"", 3) == 0) {
        const char *text = stamp_at(line, start);
        if (text == NULL)
            return NULL;
        long hours = civil_hour(text);
        if (hours < 0)
            return PyBytes_FromStringAndSize(text, STAMP_WIDTH);
        return PyFloat_FromDouble(stamp_seconds(text, hours));
    }
    return text_at(line, start);
}

/* The pattern and kind code of one planned field (bytes, int): 1, or 0 when its pattern is not
 * `"name":`-shaped (the line is left to Python), -1 on a Python error. */
static int
field_plan(PyObject *planned, Keys *keys, long *code)
{
    if (!PyTuple_CheckExact(planned) || PyTuple_GET_SIZE(planned) != 2 ||
        !PyBytes_CheckExact(PyTuple_GET_ITEM(planned, 0))) {
        PyErr_SetString(PyExc_TypeError, "a field plan is (bytes, kind code)");
        return -1;
    }
    PyObject *pattern = PyTuple_GET_ITEM(planned, 0);
    *code = PyLong_AsLong(PyTuple_GET_ITEM(planned, 1));
    if (*code == -1 && PyErr_Occurred())
        return -1;
    if (!key_shaped(PyBytes_AS_STRING(pattern), PyBytes_GET_SIZE(pattern)))
        return 0;
    keys->pattern[keys->count] = PyBytes_AS_STRING(pattern);
    keys->size[keys->count++] = PyBytes_GET_SIZE(pattern);
    return 1;
}

/* The raw value of a field of this kind whose value starts at start (value_start): new bytes,
 * Py_None when absent or null, or NULL with no error set when unsure or of a kind this loop
 * cannot read. */
static PyObject *
field_value(const Line *line, long code, Py_ssize_t start)
{
    if (start == -2)
        return NULL;
    if (start == -1)
        Py_RETURN_NONE;
    if (code == KIND_TEXT)
        return text_at(line, start);
    if (code == KIND_INSTANT)
        return instant_at(line, start);
    return NULL;
}

/* The names dict (event name bytes -> event type, "" when not counted) as an open-addressing
 * table (name_table(); the scanner adds each name it learns with name_table_add): a line's
 * name is found without making a bytes object and hashing it. It holds its own references to
 * its keys and values; it grows when half full, so adding every name costs linear time. */
typedef struct {
    PyObject **keys, **values; /* slots; NULL key: empty */
    size_t mask;               /* slots - 1, a power of two at least twice the names */
    size_t count;              /* names held */
} NameTable;

static uint64_t
fnv1a(const char *bytes, Py_ssize_t size)
{
    uint64_t hash = 14695981039346656037ULL;
    for (Py_ssize_t k = 0; k < size; k++)
        hash = (hash ^ (unsigned char)bytes[k]) * 1099511628211ULL;
    return hash;
}

/* Release the slots' references and arrays (either may be missing after a failed allocation). */
static void
names_clear(PyObject **keys, PyObject **values, size_t slots)
{
    for (size_t slot = 0; slot < slots; slot++) {
        if (keys != NULL)
            Py_XDECREF(keys[slot]);
        if (values != NULL)
            Py_XDECREF(values[slot]);
    }
    PyMem_Free(keys);
    PyMem_Free(values);
}

static void
names_free(NameTable *table)
{
    names_clear(table->keys, table->values, table->keys == NULL ? 0 : table->mask + 1);
    PyMem_Free(table);
}

#define NAME_TABLE "_linescan.NameTable"

static void
names_release(PyObject *capsule)
{
    names_free(PyCapsule_GetPointer(capsule, NAME_TABLE));
}

/* The slot of key, or the empty slot where it goes. */
static size_t
names_slot(PyObject *const *keys, size_t mask, const char *name, Py_ssize_t size)
{
    size_t slot = fnv1a(name, size) & mask;
    for (PyObject *key; (key = keys[slot]) != NULL; slot = (slot + 1) & mask)
        if (PyBytes_GET_SIZE(key) == size && memcmp(PyBytes_AS_STRING(key), name, size) == 0)
            break;
    return slot;
}

/* Make room for one more name: `slots` empty slots when the table has none yet, else twice
 * as many when it would be over half full (the names moved over). 0, or -1 (MemoryError). */
static int
names_room(NameTable *table, size_t slots)
{
    if (table->keys != NULL) {
        if (2 * (table->count + 1) <= table->mask + 1)
            return 0;
        slots = 2 * (table->mask + 1);
    }
    PyObject **keys = PyMem_Calloc(slots, sizeof(PyObject *));
    PyObject **values = PyMem_Calloc(slots, sizeof(PyObject *));
    if (keys == NULL || values == NULL) {
        PyMem_Free(keys);
        PyMem_Free(values);
        PyErr_NoMemory();
        return -1;
    }
    if (table->keys != NULL) {
        for (size_t old = 0; old <= table->mask; old++) {
            PyObject *key = table->keys[old];
            if (key == NULL)
                continue;
            size_t slot = names_slot(keys, slots - 1, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key));
            keys[slot] = key; /* the references move over */
            values[slot] = table->values[old];
        }
        PyMem_Free(table->keys);
        PyMem_Free(table->values);
    }
    table->keys = keys;
    table->values = values;
    table->mask = slots - 1;
    return 0;
}

/* names[key] = value in the table. 0, or -1 with an error set. */
static int
names_put(NameTable *table, PyObject *key, PyObject *value)
{
    if (!PyBytes_CheckExact(key)) {
        PyErr_SetString(PyExc_TypeError, "names maps bytes to event types");
        return -1;
    }
    if (names_room(table, 16) < 0)
        return -1;
    size_t slot = names_slot(table->keys, table->mask, PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key));
    if (table->keys[slot] == NULL) {
        table->keys[slot] = Py_NewRef(key);
        table->count++;
    }
    Py_XSETREF(table->values[slot], Py_NewRef(value));
    return 0;
}

/* name_table(names) -> the capsule scan() takes: the names dict as it is now. */
static PyObject *
name_table(PyObject *module, PyObject *names)
{
    if (!PyDict_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "names is a dict");
        return NULL;
    }
    NameTable *table = PyMem_Calloc(1, sizeof(NameTable));
    if (table == NULL)
        return PyErr_NoMemory();
    size_t slots = 16;
    while (slots < 2 * (size_t)PyDict_GET_SIZE(names) + 2)
        slots *= 2;
    Py_ssize_t at = 0;
    PyObject *key, *value;
    if (names_room(table, slots) < 0)
        goto fail;
    while (PyDict_Next(names, &at, &key, &value))
        if (names_put(table, key, value) < 0)
            goto fail;
    PyObject *capsule = PyCapsule_New(table, NAME_TABLE, names_release);
    if (capsule == NULL)
        goto fail;
    return capsule;
fail:
    names_free(table);
    return NULL;
}

/* name_table_add(table, name, event type): one more name, as the scanner learns it. */
static PyObject *
name_table_add(PyObject *module, PyObject *args)
{
    PyObject *capsule, *key, *value;
    if (!PyArg_ParseTuple(args, "OO!O:name_table_add", &capsule, &PyBytes_Type, &key, &value))
        return NULL;
    NameTable *table = PyCapsule_GetPointer(capsule, NAME_TABLE);
    if (table == NULL || names_put(table, key, value) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The event type of a name (borrowed), or NULL when the names do not hold it. */
static PyObject *
names_get(const NameTable *table, const char *name, Py_ssize_t size)
{
    size_t slot = names_slot(table->keys, table->mask, name, size);
    return table->keys[slot] == NULL ? NULL : table->values[slot];
}

typedef struct {
    PyObject *plans;     /* event type -> (per event, ((b'"key":', kind code), ...)) */
    PyObject *hours;     /* hour prefix bytes -> hour number or None */
    Py_ssize_t max_hours; /* hours holds at most this many (DayCounts' cap) */
    PyObject *hour_of;   /* callable(prefix) -> hour number or None, fills hours: the hours C
                          * does not decide */
    PyObject *counts;    /* (event type, day, *raw fields) -> count */
    PyObject *bounds;    /* event type -> [lowest stamp, highest stamp] */
    PyObject *pending;   /* list of (event type, hour, instant, *raw fields): per-event lines */
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
    else if (!PyErr_Occurred()) {
        long hours = civil_hour(stamp);
        if (hours < 0)
            hour = PyObject_CallOneArg(sinks->hour_of, prefix); /* Python decides */
        else if ((hour = PyLong_FromLong(hours)) != NULL &&
                 PyDict_GET_SIZE(sinks->hours) < sinks->max_hours &&
                 PyDict_SetItem(sinks->hours, prefix, hour) < 0)
            Py_CLEAR(hour);
    }
    Py_DECREF(prefix);
    if (hour != NULL) {
        Py_XSETREF(sinks->last_hour, Py_NewRef(hour));
        memcpy(sinks->last_prefix, stamp, HOUR_WIDTH);
    }
    return hour;
}

/* A count's key hashed once for the lookup and the store (CPython's own calls up to 3.12, whose
 * headers have them; the public ones, hashing twice, after). */
#if PY_VERSION_HEX < 0x030D0000
#define COUNT_GET(counts, key, hash) _PyDict_GetItem_KnownHash(counts, key, hash)
#define COUNT_SET(counts, key, value, hash) _PyDict_SetItem_KnownHash(counts, key, value, hash)
#else
#define COUNT_GET(counts, key, hash) PyDict_GetItemWithError(counts, key)
#define COUNT_SET(counts, key, value, hash) PyDict_SetItem(counts, key, value)
#endif

static int
add_count(PyObject *counts, PyObject *key)
{
    Py_hash_t hash = PyObject_Hash(key);
    if (hash == -1)
        return -1;
    (void)hash; /* unused where COUNT_GET hashes again */
    PyObject *count = COUNT_GET(counts, key, hash);
    if (count == NULL && PyErr_Occurred())
        return -1;
    long now = count == NULL ? 0 : PyLong_AsLong(count);
    if (now == -1 && PyErr_Occurred())
        return -1;
    PyObject *next = PyLong_FromLong(now + 1);
    if (next == NULL)
        return -1;
    int failed = COUNT_SET(counts, key, next, hash);
    Py_DECREF(next);
    return failed;
}

/* The new key (event type, day, *raw fields) of a counted rule's line, or the new pending
 * entry (event type, hour, its instant, *raw fields) of a per-event rule's line; NULL on error. */
static PyObject *
line_item(PyObject *kind, long hours, const char *stamp, PyObject **fields, Py_ssize_t n_fields)
{
    Py_ssize_t head = stamp == NULL ? 2 : 3;
    PyObject *item = PyTuple_New(head + n_fields);
    if (item == NULL)
        return NULL;
    PyTuple_SET_ITEM(item, 0, Py_NewRef(kind));
    PyObject *number = PyLong_FromLong(stamp != NULL ? hours : hours >= 0 ? hours / 24 : -((-hours + 23) / 24));
    if (number == NULL) {
        Py_DECREF(item);
        return NULL;
    }
    PyTuple_SET_ITEM(item, 1, number);
    if (stamp != NULL) {
        PyObject *instant = PyFloat_FromDouble(stamp_seconds(stamp, hours));
        if (instant == NULL) {
            Py_DECREF(item);
            return NULL;
        }
        PyTuple_SET_ITEM(item, 2, instant);
    }
    for (Py_ssize_t k = 0; k < n_fields; k++)
        PyTuple_SET_ITEM(item, head + k, Py_NewRef(fields[k]));
    return item;
}

/* Count one line of a counted event type (the line's final CR already dropped): 1 when
 * counted, 0 when the Python loop must take it, -1 on a Python error. */
static int
count_line(Sinks *sinks, const Line *line, PyObject *kind)
{
    PyObject *plan = PyDict_GetItemWithError(sinks->plans, kind);
    if (plan == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!PyTuple_CheckExact(plan) || PyTuple_GET_SIZE(plan) != 2 ||
        !PyTuple_CheckExact(PyTuple_GET_ITEM(plan, 1))) {
        PyErr_SetString(PyExc_TypeError, "a plan is (per event, tuple of field plans)");
        return -1;
    }
    int per_event = PyObject_IsTrue(PyTuple_GET_ITEM(plan, 0));
    PyObject *planned = PyTuple_GET_ITEM(plan, 1);
    Py_ssize_t n_fields = PyTuple_GET_SIZE(planned);
    if (per_event < 0)
        return -1;
    if (n_fields > MAX_FIELDS)
        return 0;
    Keys keys = {.pattern = {STAMP_KEY}, .size = {STAMP_KEY_LEN}, .count = 1};
    long codes[MAX_FIELDS];
    for (Py_ssize_t k = 0; k < n_fields; k++) {
        int planned_ok = field_plan(PyTuple_GET_ITEM(planned, k), &keys, &codes[k]);
        if (planned_ok <= 0)
            return planned_ok;
    }
    find_keys(line, &keys);
    Py_ssize_t start = value_start(line, &keys, 0);
    const char *text = start < 0 ? NULL : stamp_at(line, start);
    if (text == NULL || !valid_utf8((const unsigned char *)line->buf + line->pos, line->end - line->pos))
        return 0;
    PyObject *fields[MAX_FIELDS] = {NULL};
    PyObject *hour = NULL, *key = NULL;
    int result = -1;
    for (Py_ssize_t k = 0; k < n_fields; k++) {
        fields[k] = field_value(line, codes[k], value_start(line, &keys, k + 1));
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
    key = line_item(kind, hours, per_event ? text : NULL, fields, n_fields);
    if (key == NULL || (per_event ? PyList_Append(sinks->pending, key) : add_count(sinks->counts, key)) < 0)
        goto done;
    if (widen(sinks->bounds, kind, text) < 0)
        goto done;
    result = 1;
done:
    for (Py_ssize_t k = 0; k < n_fields; k++)
        Py_XDECREF(fields[k]);
    Py_XDECREF(hour);
    Py_XDECREF(key);
    return result;
}

/* Take one line as ActivityScanner.take would: 1 taken, 0 left to Python, -1 on error. */
static int
take_line(Sinks *sinks, const NameTable *names, Line line)
{
    const char *buf = line.buf;
    Py_ssize_t at = find_in(&line, EVENT_KEY, EVENT_KEY_LEN); /* the exact reader's first match */
    if (at < 0 || at + EVENT_KEY_LEN + 2 > line.end || memcmp(buf + at + EVENT_KEY_LEN, ":\"", 2) != 0)
        return 0;
    Py_ssize_t from = at + EVENT_KEY_LEN + 2;
    const char *quote = memchr(buf + from, '"', line.end - from);
    if (quote == NULL)
        return 0;
    PyObject *kind = names_get(names, buf + from, quote - (buf + from));
    if (kind == NULL)
        return 0; /* a new name: Python learns it or reads the line */
    if (!PyUnicode_Check(kind) || PyUnicode_GET_LENGTH(kind) == 0)
        return 1; /* a name that is not counted */
    /* the table holds a reference to kind while the line is counted (callbacks may change
     * the names dict itself) */
    return usual_line(&line) ? count_line(sinks, &line, kind) : 0;
}

static PyObject *
scan(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, stop, max_line;
    PyObject *names;
    Sinks sinks;
    if (!PyArg_ParseTuple(args, "y*nnnOO!O!nOO!O!O!:scan", &view, &pos, &stop, &max_line,
                          &names, &PyDict_Type, &sinks.plans, &PyDict_Type,
                          &sinks.hours, &sinks.max_hours, &sinks.hour_of, &PyDict_Type,
                          &sinks.counts, &PyDict_Type, &sinks.bounds, &PyList_Type,
                          &sinks.pending))
        return NULL;
    sinks.last_hour = NULL;
    const char *buf = view.buf;
    Py_ssize_t lines = 0, too_long = 0;
    if (pos < 0 || stop > view.len || pos > stop) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "pos and stop must lie inside the buffer");
        return NULL;
    }
    const NameTable *table = PyCapsule_GetPointer(names, NAME_TABLE);
    if (table == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_INCREF(names); /* the table lives at least as long as this call */
    while (pos < stop) {
        const char *newline = memchr(buf + pos, '\n', stop - pos);
        Line line = {buf, pos, newline == NULL ? stop : newline - buf};
        if (line.end - pos > max_line) {
            too_long++;
        }
        else {
            int taken = take_line(&sinks, table, line);
            if (taken < 0)
                goto error;
            if (taken == 0)
                break;
        }
        lines++;
        pos = line.end + 1;
    }
    Py_DECREF(names);
    PyBuffer_Release(&view);
    Py_XDECREF(sinks.last_hour);
    return Py_BuildValue("(nnn)", pos < stop ? pos : stop, lines, too_long);
error:
    Py_DECREF(names);
    PyBuffer_Release(&view);
    Py_XDECREF(sinks.last_hour);
    return NULL;
}

/* civil_hour of a 13-byte prefix, for the tests: the hour number, or None (Python decides). */
static PyObject *
hour_number_of(PyObject *module, PyObject *arg)
{
    char prefix[HOUR_WIDTH];
    if (!PyBytes_Check(arg) || PyBytes_GET_SIZE(arg) != HOUR_WIDTH) {
        PyErr_SetString(PyExc_ValueError, "an hour prefix is 13 bytes");
        return NULL;
    }
    memcpy(prefix, PyBytes_AS_STRING(arg), HOUR_WIDTH);
    long hours = civil_hour(prefix);
    if (hours < 0)
        Py_RETURN_NONE;
    return PyLong_FromLong(hours);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(buffer, pos, stop, max_line, name_table, plans, hours, max_hours, hour_of, counts, "
     "bounds, pending) -> (next_pos, lines, too_long): next_pos < stop is a line left to Python"},
    {"name_table", name_table, METH_O,
     "name_table(names) -> the names dict (bytes -> event type) as scan() takes it"},
    {"name_table_add", name_table_add, METH_VARARGS,
     "name_table_add(table, name, event type): one more name in the table"},
    {"hour_number", hour_number_of, METH_O,
     "hour_number(prefix) -> the hours since the epoch C gives the prefix, None: Python decides"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_linescan",
                                    "Native loop of the activity fast path.", -1, methods};

PyMODINIT_FUNC
PyInit__linescan(void)
{
    PyObject *made = PyModule_Create(&module);
    if (made != NULL && PyModule_AddIntConstant(made, "MIN_SECONDS", MIN_SECONDS) < 0)
        Py_CLEAR(made);
    return made;
}
