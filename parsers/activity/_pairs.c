/* Voice stays and sessions paired in C: the twin of `_pair_voice` and `_pair_sessions` in
 * parsers/activity/pick.py, which stay the reference and the fallback.
 *
 * Each function first checks every event (a tuple of the expected size, a finite float instant,
 * a bool, str keys) and raises TypeError before touching anything when one differs: the caller
 * then takes the Python loop. It then does what the Python loop does, in the same order and
 * with the same arithmetic (CPython's float floor division and additions, the cap an int where
 * `min` would return it), so the totals are the same to the last bit and in the same key order. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>

typedef struct {
    double at;
    int start; /* 0 for an end, 1 for a start: ends sort first at equal instants */
} Moment;

typedef struct {
    PyObject *key; /* borrowed from the events list, which the caller keeps */
    Moment *items;
    Py_ssize_t size, room;
} Group;

typedef struct {
    Group *all;
    Py_ssize_t size, room;
    PyObject *index; /* key -> group number */
} Groups;

static int by_moment(const void *a, const void *b) {
    const Moment *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->start - y->start;
}

/* float.__floordiv__ of CPython (floatobject.c, _float_div_mod) for finite x and y > 0. */
static double floor_div(double x, double y) {
    double mod = fmod(x, y);
    double div = (x - mod) / y;
    if (mod && ((y < 0) != (mod < 0)))
        div -= 1.0;
    if (!div)
        return copysign(0.0, x / y);
    double floored = floor(div);
    return div - floored > 0.5 ? floored + 1.0 : floored;
}

static void groups_free(Groups *groups) {
    for (Py_ssize_t k = 0; k < groups->size; k++)
        PyMem_Free(groups->all[k].items);
    PyMem_Free(groups->all);
    Py_XDECREF(groups->index);
}

/* Room for one more item in an array of `size` items of `width` bytes that has room for
 * `*room` (doubled when full, `first` when empty). 0, or -1 (MemoryError). */
static int make_room(void **items, Py_ssize_t size, Py_ssize_t *room, size_t width,
                     Py_ssize_t first) {
    if (size < *room)
        return 0;
    Py_ssize_t more = *room ? 2 * *room : first;
    void *grown = PyMem_Realloc(*items, (size_t)more * width);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *items = grown;
    *room = more;
    return 0;
}

/* Append a moment to the group of key (made at its first moment). 0, or -1 with an error. */
static int groups_add(Groups *groups, PyObject *key, double at, int start) {
    PyObject *number = PyDict_GetItemWithError(groups->index, key);
    Py_ssize_t k;
    if (number != NULL)
        k = PyLong_AsSsize_t(number);
    else if (PyErr_Occurred())
        return -1;
    else {
        if (make_room((void **)&groups->all, groups->size, &groups->room, sizeof(Group), 16) < 0)
            return -1;
        k = groups->size;
        PyObject *made = PyLong_FromSsize_t(k);
        if (made == NULL)
            return -1;
        int failed = PyDict_SetItem(groups->index, key, made);
        Py_DECREF(made);
        if (failed)
            return -1;
        groups->all[k] = (Group){key, NULL, 0, 0};
        groups->size++;
    }
    Group *group = &groups->all[k];
    if (make_room((void **)&group->items, group->size, &group->room, sizeof(Moment), 8) < 0)
        return -1;
    group->items[group->size++] = (Moment){at, start};
    return 0;
}

/* The events list checked: each a tuple of `size` items, a finite float, a bool, then str keys
 * at `keys` (a bitmask of positions), optional (None too) at `optional`. 0, or -1 (TypeError). */
static int check_events(PyObject *events, Py_ssize_t size, unsigned keys, unsigned optional) {
    if (!PyList_CheckExact(events)) {
        PyErr_SetString(PyExc_TypeError, "events must be a list");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(events); i++) {
        PyObject *event = PyList_GET_ITEM(events, i);
        if (!PyTuple_CheckExact(event) || PyTuple_GET_SIZE(event) != size)
            goto odd;
        PyObject *at = PyTuple_GET_ITEM(event, 0), *flag = PyTuple_GET_ITEM(event, 1);
        if (!PyFloat_CheckExact(at) || !isfinite(PyFloat_AS_DOUBLE(at)) || !PyBool_Check(flag))
            goto odd;
        for (Py_ssize_t k = 2; k < size; k++) {
            PyObject *item = PyTuple_GET_ITEM(event, k);
            int may_be_none = (optional >> k) & 1;
            if (((keys >> k) & 1) && !PyUnicode_CheckExact(item) && !(may_be_none && item == Py_None))
                goto odd;
        }
    }
    return 0;
odd:
    PyErr_SetString(PyExc_TypeError, "an event of another shape: the Python loop reads them");
    return -1;
}

/* counter[key] += value, as a Counter does (an absent key counts 0). 0, or -1. */
static int counter_add(PyObject *counter, PyObject *key, PyObject *value) {
    PyObject *now = PyDict_GetItemWithError(counter, key);
    if (now == NULL && PyErr_Occurred())
        return -1;
    PyObject *zero = NULL;
    if (now == NULL) {
        if ((zero = PyLong_FromLong(0)) == NULL)
            return -1;
        now = zero;
    }
    PyObject *sum = PyNumber_Add(now, value);
    Py_XDECREF(zero);
    if (sum == NULL)
        return -1;
    int failed = PyDict_SetItem(counter, key, sum);
    Py_DECREF(sum);
    return failed;
}

/* The day number of an instant, as `int(seconds // 86400)`. */
static PyObject *day_of(double at) {
    return PyLong_FromDouble(floor_div(at, 86400.0));
}

/* One pair, as the Python loop takes it: calls `take(state, key, start, end, seconds, minutes)`
 * with new references to the seconds counted (the float difference, or `cap` itself when it is
 * smaller) and their minutes. */
typedef int (*TakePair)(void *state, PyObject *key, double start, double end, PyObject *seconds,
                        PyObject *minutes);

/* Sort and pair the moments of each group, in the groups' order. 0, or -1. */
static int pair_groups(Groups *groups, PyObject *cap, TakePair take, void *state) {
    double most = PyLong_AsDouble(cap);
    if (most == -1.0 && PyErr_Occurred())
        return -1;
    for (Py_ssize_t k = 0; k < groups->size; k++) {
        Group *group = &groups->all[k];
        qsort(group->items, (size_t)group->size, sizeof(Moment), by_moment);
        int opened = 0;
        double since = 0.0;
        for (Py_ssize_t i = 0; i < group->size; i++) {
            Moment moment = group->items[i];
            if (moment.start) {
                opened = 1;
                since = moment.at;
                continue;
            }
            if (!opened)
                continue;
            opened = 0;
            double lasted = moment.at - since;
            int capped = most < lasted; /* min(lasted, cap) returns cap only then */
            PyObject *seconds = capped ? Py_NewRef(cap) : PyFloat_FromDouble(lasted);
            PyObject *minutes = seconds == NULL ? NULL : PyFloat_FromDouble((capped ? most : lasted) / 60.0);
            int failed = minutes == NULL || take(state, group->key, since, moment.at, seconds, minutes) < 0;
            Py_XDECREF(seconds);
            Py_XDECREF(minutes);
            if (failed)
                return -1;
        }
        if (take(state, group->key, 0.0, 0.0, NULL, NULL) < 0) /* the group's end */
            return -1;
    }
    return 0;
}

/* A (key, start, end, seconds) or (start, end, seconds, key) tuple for the spans list. */
static PyObject *span(PyObject *key, double start, double end, PyObject *seconds, int key_first) {
    PyObject *from = PyFloat_FromDouble(start), *to = PyFloat_FromDouble(end);
    PyObject *made = NULL;
    if (from != NULL && to != NULL)
        made = key_first ? PyTuple_Pack(4, key, from, to, seconds)
                         : PyTuple_Pack(4, from, to, seconds, key);
    Py_XDECREF(from);
    Py_XDECREF(to);
    return made;
}

/* counter[key] += minutes, then keep the pair's span in its list; `key` and `kept` are new
 * references, released here (`kept` NULL after a failure, its error set). 0, or -1. */
static int count_and_keep(PyObject *counter, PyObject *key, PyObject *minutes, PyObject *list,
                          PyObject *kept) {
    int failed = kept == NULL || counter_add(counter, key, minutes) < 0 ||
                 PyList_Append(list, kept) < 0;
    Py_DECREF(key);
    Py_XDECREF(kept);
    return failed ? -1 : 0;
}

/* The (day, key) pair of an instant, as `(int(seconds // 86400), key)`; NULL on error. */
static PyObject *day_and(double at, PyObject *key) {
    PyObject *day = day_of(at);
    PyObject *pair = day == NULL ? NULL : PyTuple_Pack(2, day, key);
    Py_XDECREF(day);
    return pair;
}

typedef struct {
    PyObject *voice, *stays, *counter_type;
    PyObject *minutes; /* the current channel's Counter of minutes per day, NULL before a pair */
} VoiceState;

static int take_stay(void *opaque, PyObject *channel, double start, double end, PyObject *seconds,
                     PyObject *minutes) {
    VoiceState *state = opaque;
    if (seconds == NULL) { /* the channel's end: its minutes kept when it has any */
        PyObject *done = state->minutes;
        state->minutes = NULL;
        if (done == NULL)
            return 0;
        int failed = PyDict_SetItem(state->voice, channel, done);
        Py_DECREF(done);
        return failed;
    }
    if (state->minutes == NULL && (state->minutes = PyObject_CallNoArgs(state->counter_type)) == NULL)
        return -1;
    PyObject *day = day_of(start);
    if (day == NULL)
        return -1;
    return count_and_keep(state->minutes, day, minutes, state->stays,
                          span(channel, start, end, seconds, 1));
}

/* pair_voice(events, cap, voice_guild, voice, stays, counter_type): `_pair_voice`. */
static PyObject *pair_voice(PyObject *module, PyObject *args) {
    PyObject *events, *cap, *guilds, *voice, *stays, *counter_type;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O:pair_voice", &PyList_Type, &events, &PyLong_Type,
                          &cap, &PyDict_Type, &guilds, &PyDict_Type, &voice, &PyList_Type,
                          &stays, &counter_type))
        return NULL;
    if (check_events(events, 4, 0xC, 0x8) < 0)
        return NULL;
    Groups groups = {NULL, 0, 0, PyDict_New()};
    VoiceState state = {voice, stays, counter_type, NULL};
    if (groups.index == NULL)
        return NULL;
    Py_INCREF(events); /* the groups borrow its keys */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(events); i++) {
        PyObject *event = PyList_GET_ITEM(events, i);
        PyObject *channel = PyTuple_GET_ITEM(event, 2), *guild = PyTuple_GET_ITEM(event, 3);
        int joined = PyTuple_GET_ITEM(event, 1) == Py_True;
        if (groups_add(&groups, channel, PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(event, 0)), joined) < 0)
            goto fail;
        int known = guild == Py_None ? PyDict_Contains(guilds, channel) : 0;
        if (known < 0 || (!known && PyDict_SetItem(guilds, channel, guild) < 0))
            goto fail;
    }
    if (pair_groups(&groups, cap, take_stay, &state) < 0)
        goto fail;
    groups_free(&groups);
    Py_DECREF(events);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(state.minutes);
    groups_free(&groups);
    Py_DECREF(events);
    return NULL;
}

typedef struct {
    PyObject *minutes, *spans;
} SessionState;

static int take_session(void *opaque, PyObject *os_name, double start, double end,
                        PyObject *seconds, PyObject *minutes) {
    SessionState *state = opaque;
    if (seconds == NULL)
        return 0;
    PyObject *key = day_and(start, os_name);
    if (key == NULL)
        return -1;
    return count_and_keep(state->minutes, key, minutes, state->spans,
                          span(os_name, start, end, seconds, 0));
}

/* pair_sessions(events, cap, starts, minutes, spans): `_pair_sessions`. */
static PyObject *pair_sessions(PyObject *module, PyObject *args) {
    PyObject *events, *cap, *starts, *minutes, *spans;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!:pair_sessions", &PyList_Type, &events, &PyLong_Type,
                          &cap, &PyDict_Type, &starts, &PyDict_Type, &minutes, &PyList_Type,
                          &spans))
        return NULL;
    if (check_events(events, 3, 0x4, 0) < 0)
        return NULL;
    PyObject *one = PyLong_FromLong(1);
    Groups groups = {NULL, 0, 0, PyDict_New()};
    SessionState state = {minutes, spans};
    if (one == NULL || groups.index == NULL) {
        Py_XDECREF(one);
        groups_free(&groups);
        return NULL;
    }
    Py_INCREF(events);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(events); i++) {
        PyObject *event = PyList_GET_ITEM(events, i);
        double at = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(event, 0));
        PyObject *os_name = PyTuple_GET_ITEM(event, 2);
        int started = PyTuple_GET_ITEM(event, 1) == Py_True;
        if (groups_add(&groups, os_name, at, started) < 0)
            goto fail;
        if (started) {
            PyObject *key = day_and(at, os_name);
            int failed = key == NULL || counter_add(starts, key, one) < 0;
            Py_XDECREF(key);
            if (failed)
                goto fail;
        }
    }
    if (pair_groups(&groups, cap, take_session, &state) < 0)
        goto fail;
    groups_free(&groups);
    Py_DECREF(events);
    Py_DECREF(one);
    Py_RETURN_NONE;
fail:
    groups_free(&groups);
    Py_DECREF(events);
    Py_DECREF(one);
    return NULL;
}

static PyMethodDef methods[] = {
    {"pair_voice", pair_voice, METH_VARARGS,
     "pair_voice(events, cap, voice_guild, voice, stays, counter_type): pick._pair_voice"},
    {"pair_sessions", pair_sessions, METH_VARARGS,
     "pair_sessions(events, cap, starts, minutes, spans): pick._pair_sessions"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pairs",
                                    "Voice stays and sessions paired in C.", -1, methods};

PyMODINIT_FUNC PyInit__pairs(void) {
    return PyModule_Create(&module);
}
