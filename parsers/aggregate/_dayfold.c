/* Messages per day from messages per hour, in C: the twin of the Python loops of
 * parsers/aggregate/daily.py (`daily_messages` and the per-day part of `merge_daily`), which
 * stay the reference and the fallback. A key or count that does not fit in 64 bits raises
 * OverflowError, anything but a plain int a TypeError: the caller then takes the Python loop;
 * so does a sum that would not fit in 64 bits (checked on every addition). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <stdlib.h>

#define DAY_LIMIT (1LL << 61) /* far beyond any calendar day; keeps differences in 64 bits */

typedef struct {
    long long day;
    long long count;
} DayCount;

static int by_day(const void *a, const void *b) {
    long long x = ((const DayCount *)a)->day, y = ((const DayCount *)b)->day;
    return (x > y) - (x < y);
}

static long long floor_div(long long a, long long b) {
    long long q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* A plain int only: a subclass's __index__ could run Python code (and change the container
 * being read); anything else is a TypeError, and the caller takes the Python loop. */
static int as_long_long(PyObject *value, long long *out) {
    if (!PyLong_CheckExact(value)) {
        PyErr_SetString(PyExc_TypeError, "not a plain int");
        return -1;
    }
    int overflow = 0;
    *out = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow) {
        PyErr_SetString(PyExc_OverflowError, "a value over 64 bits");
        return -1;
    }
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* Sort by day and add up each day's counts in place; returns the number of distinct days, or
 * -1 with OverflowError set when a day's sum does not fit in 64 bits. */
static Py_ssize_t merge_runs(DayCount *pairs, Py_ssize_t n) {
    if (n == 0)
        return 0;
    qsort(pairs, (size_t)n, sizeof(DayCount), by_day);
    Py_ssize_t out = 0;
    for (Py_ssize_t i = 1; i < n; i++) {
        if (pairs[i].day != pairs[out].day)
            pairs[++out] = pairs[i];
        else if (__builtin_add_overflow(pairs[out].count, pairs[i].count, &pairs[out].count)) {
            PyErr_SetString(PyExc_OverflowError, "a sum over 64 bits");
            return -1;
        }
    }
    return out + 1;
}

static PyObject *int_list(const long long *values, Py_ssize_t n) {
    PyObject *list = PyList_New(n);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyLong_FromLongLong(values[i]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

/* (days, counts) of the merged pairs, zero-count days left out as `_from_days` does. */
static PyObject *days_and_counts(const DayCount *pairs, Py_ssize_t n) {
    PyObject *days = PyList_New(0), *counts = PyList_New(0);
    if (days == NULL || counts == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (pairs[i].count == 0)
            continue;
        PyObject *day = PyLong_FromLongLong(pairs[i].day);
        PyObject *count = PyLong_FromLongLong(pairs[i].count);
        int failed = day == NULL || count == NULL || PyList_Append(days, day) < 0 ||
                     PyList_Append(counts, count) < 0;
        Py_XDECREF(day);
        Py_XDECREF(count);
        if (failed)
            goto fail;
    }
    return Py_BuildValue("(NN)", days, counts);
fail:
    Py_XDECREF(days);
    Py_XDECREF(counts);
    return NULL;
}

/* Each row of `width` becomes the sum of the rows up to it; -1 with OverflowError set. */
static int cumulate(long long *rows, Py_ssize_t width, Py_ssize_t count) {
    for (Py_ssize_t i = width; i < width * count; i++)
        if (__builtin_add_overflow(rows[i], rows[i - width], &rows[i])) {
            PyErr_SetString(PyExc_OverflowError, "a sum over 64 bits");
            return -1;
        }
    return 0;
}

/* fold_hours(hours, end, band_of_age, bands) -> (days, counts, hours_to_band, weekdays_to_band)
 * hours: {hour number: count}; keys after the end day's last hour are left out. band_of_age:
 * one byte per age in days below the oldest band (older: the last band). */
static PyObject *fold_hours(PyObject *self, PyObject *args) {
    PyObject *hours;
    long long end;
    Py_buffer table;
    Py_ssize_t bands;
    if (!PyArg_ParseTuple(args, "O!Ly*n:fold_hours", &PyDict_Type, &hours, &end, &table, &bands))
        return NULL;
    if (bands < 1 || end > LLONG_MAX / 24 - 1 || end < LLONG_MIN / 24 + 1) {
        PyBuffer_Release(&table);
        PyErr_SetString(PyExc_OverflowError, "no bands, or an end day out of range");
        return NULL;
    }
    const unsigned char *band_of_age = table.buf;
    Py_ssize_t oldest = table.len;
    long long *hour_sums = calloc((size_t)(24 * bands), sizeof(long long));
    long long *weekday_sums = calloc((size_t)(7 * bands), sizeof(long long));
    DayCount *pairs = PyMem_Malloc(sizeof(DayCount) * (size_t)(PyDict_GET_SIZE(hours) + 1));
    PyObject *result = NULL, *key, *value;
    Py_ssize_t at = 0, n = 0;
    if (hour_sums == NULL || weekday_sums == NULL || pairs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    long long high = end * 24 + 23;
    while (PyDict_Next(hours, &at, &key, &value)) {
        long long hour, count;
        if (as_long_long(key, &hour) < 0 || as_long_long(value, &count) < 0)
            goto done;
        if (hour > high)
            continue;
        long long day = floor_div(hour, 24), age = end - day;
        Py_ssize_t band = age < oldest ? band_of_age[age] : bands - 1;
        if (__builtin_add_overflow(hour_sums[band * 24 + (hour - day * 24)], count,
                                   &hour_sums[band * 24 + (hour - day * 24)]))
            goto overflow;
        pairs[n].day = day;
        pairs[n++].count = count;
    }
    n = merge_runs(pairs, n);
    if (n < 0)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        long long age = end - pairs[i].day;
        Py_ssize_t band = age < oldest ? band_of_age[age] : bands - 1;
        /* day 0, 1970-01-01, was a Thursday */
        long long *slot = &weekday_sums[band * 7 + (pairs[i].day + 3 - floor_div(pairs[i].day + 3, 7) * 7)];
        if (__builtin_add_overflow(*slot, pairs[i].count, slot))
            goto overflow;
    }
    /* each band's row becomes the sum of the bands up to it (newest first) */
    if (cumulate(hour_sums, 24, bands) < 0 || cumulate(weekday_sums, 7, bands) < 0)
        goto done;
    PyObject *series = days_and_counts(pairs, n);
    PyObject *by_hour = int_list(hour_sums, 24 * bands);
    PyObject *by_weekday = int_list(weekday_sums, 7 * bands);
    if (series != NULL && by_hour != NULL && by_weekday != NULL)
        result = PyTuple_Pack(4, PyTuple_GET_ITEM(series, 0), PyTuple_GET_ITEM(series, 1),
                              by_hour, by_weekday);
    Py_XDECREF(series);
    Py_XDECREF(by_hour);
    Py_XDECREF(by_weekday);
    goto done;
overflow:
    PyErr_SetString(PyExc_OverflowError, "a sum over 64 bits");
done:
    free(hour_sums);
    free(weekday_sums);
    PyMem_Free(pairs);
    PyBuffer_Release(&table);
    return result;
}

/* merge_days(series) -> (days, counts): the per-day sum of several (days, counts) pairs. */
static PyObject *merge_days(PyObject *self, PyObject *series) {
    PyObject *all = PySequence_Fast(series, "merge_days takes a sequence of (days, counts)");
    if (all == NULL)
        return NULL;
    Py_ssize_t total = 0, groups = PySequence_Fast_GET_SIZE(all);
    for (Py_ssize_t g = 0; g < groups; g++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(all, g);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyList_Check(PyTuple_GET_ITEM(pair, 0)) || !PyList_Check(PyTuple_GET_ITEM(pair, 1)) ||
            PyList_GET_SIZE(PyTuple_GET_ITEM(pair, 0)) != PyList_GET_SIZE(PyTuple_GET_ITEM(pair, 1))) {
            Py_DECREF(all);
            PyErr_SetString(PyExc_TypeError, "each item is a (days, counts) pair of equal lists");
            return NULL;
        }
        total += PyList_GET_SIZE(PyTuple_GET_ITEM(pair, 0));
    }
    DayCount *pairs = PyMem_Malloc(sizeof(DayCount) * (size_t)(total + 1));
    PyObject *result = NULL;
    if (pairs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t g = 0; g < groups; g++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(all, g);
        PyObject *days = PyTuple_GET_ITEM(pair, 0), *counts = PyTuple_GET_ITEM(pair, 1);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(days); i++, n++) {
            if (as_long_long(PyList_GET_ITEM(days, i), &pairs[n].day) < 0 ||
                as_long_long(PyList_GET_ITEM(counts, i), &pairs[n].count) < 0)
                goto done;
        }
    }
    n = merge_runs(pairs, n);
    if (n >= 0)
        result = days_and_counts(pairs, n);
done:
    PyMem_Free(pairs);
    Py_DECREF(all);
    return result;
}

/* sparse_gaps(active, values, origin) -> [gap, value, gap, value, ...]: each active day's
 * distance from the day after the previous one (the first's from `origin`), then its value. */
static PyObject *sparse_gaps(PyObject *self, PyObject *args) {
    PyObject *active, *values;
    long long origin;
    if (!PyArg_ParseTuple(args, "O!O!L:sparse_gaps", &PyList_Type, &active, &PyList_Type, &values,
                          &origin))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(active);
    if (PyList_GET_SIZE(values) != n) {
        PyErr_SetString(PyExc_ValueError, "as many values as active days");
        return NULL;
    }
    PyObject *flat = PyList_New(2 * n);
    if (flat == NULL)
        return NULL;
    long long next = origin; /* the day after the previous active day */
    for (Py_ssize_t i = 0; i < n; i++) {
        long long day;
        PyObject *gap = NULL;
        if (as_long_long(PyList_GET_ITEM(active, i), &day) == 0) {
            if (day < next || day > DAY_LIMIT || next < -DAY_LIMIT)
                PyErr_SetString(PyExc_OverflowError, "days not ascending from the origin");
            else
                gap = PyLong_FromLongLong(day - next);
        }
        if (gap == NULL) {
            Py_DECREF(flat);
            return NULL;
        }
        PyList_SET_ITEM(flat, 2 * i, gap);
        PyObject *value = PyList_GET_ITEM(values, i);
        Py_INCREF(value);
        PyList_SET_ITEM(flat, 2 * i + 1, value);
        next = day + 1;
    }
    return flat;
}

/* column_sums(rows) -> [sum of each column]: rows are lists of plain ints, all as long. */
static PyObject *column_sums(PyObject *self, PyObject *rows_arg) {
    PyObject *rows = PySequence_Fast(rows_arg, "column_sums takes a sequence of lists");
    if (rows == NULL)
        return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(rows), width = 0;
    if (count > 0 && PyList_Check(PySequence_Fast_GET_ITEM(rows, 0)))
        width = PyList_GET_SIZE(PySequence_Fast_GET_ITEM(rows, 0));
    long long *sums = calloc((size_t)width + 1, sizeof(long long));
    PyObject *result = NULL;
    if (sums == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t r = 0; r < count; r++) {
        PyObject *row = PySequence_Fast_GET_ITEM(rows, r);
        if (!PyList_Check(row) || PyList_GET_SIZE(row) != width) {
            PyErr_SetString(PyExc_TypeError, "each row is a list, all of the same length");
            goto done;
        }
        for (Py_ssize_t i = 0; i < width; i++) {
            long long value;
            if (as_long_long(PyList_GET_ITEM(row, i), &value) < 0)
                goto done;
            if (__builtin_add_overflow(sums[i], value, &sums[i])) {
                PyErr_SetString(PyExc_OverflowError, "a sum over 64 bits");
                goto done;
            }
        }
    }
    result = int_list(sums, width);
done:
    free(sums);
    Py_DECREF(rows);
    return result;
}

static PyMethodDef methods[] = {
    {"column_sums", column_sums, METH_O, "The sum of each column of equal-length rows of ints."},
    {"sparse_gaps", sparse_gaps, METH_VARARGS, "A sparse series' gaps and values, interleaved."},
    {"fold_hours", fold_hours, METH_VARARGS, "Messages per day and per age band from per hour."},
    {"merge_days", merge_days, METH_O, "The per-day sum of several (days, counts) pairs."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_dayfold", NULL, -1, methods};

PyMODINIT_FUNC PyInit__dayfold(void) { return PyModule_Create(&module); }
