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
 * which it leaves to the Python twin. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "../_civil_hour.h" /* civil_hour, HOUR_WIDTH */

#define STAMP_LENGTH 19

static PyObject *timestamp_key; /* "Timestamp", interned */

static int is_digit_upto(Py_UCS4 c, char last) { return c >= '0' && c <= (Py_UCS4)last; }

/* A str of "YYYY-MM-DD HH:MM:SS"'s length, its space in place and its clock one parse_instant
 * accepts in any hour (the date and hour are judged by the hour's prefix, once per package). */
static int plain_stamp(PyObject *stamp) {
    if (!PyUnicode_CheckExact(stamp) || PyUnicode_GET_LENGTH(stamp) != STAMP_LENGTH)
        return 0;
    int kind = PyUnicode_KIND(stamp);
    const void *data = PyUnicode_DATA(stamp);
    return PyUnicode_READ(kind, data, 10) == ' ' && PyUnicode_READ(kind, data, 13) == ':' &&
           is_digit_upto(PyUnicode_READ(kind, data, 14), '5') &&
           is_digit_upto(PyUnicode_READ(kind, data, 15), '9') &&
           PyUnicode_READ(kind, data, 16) == ':' &&
           is_digit_upto(PyUnicode_READ(kind, data, 17), '5') &&
           is_digit_upto(PyUnicode_READ(kind, data, 18), '9');
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

static PyMethodDef methods[] = {
    {"plain_stamps", plain_stamps, METH_VARARGS,
     "(hour prefixes, unknown prefixes, lowest, highest stamp), or None: see the module."},
    {"number_hours", number_hours, METH_VARARGS,
     "Number the new hour prefixes C reads; the list of the others: see the module."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_stamps", NULL, -1, methods};

PyMODINIT_FUNC PyInit__stamps(void) {
    timestamp_key = PyUnicode_InternFromString("Timestamp");
    if (timestamp_key == NULL)
        return NULL;
    return PyModule_Create(&module);
}
