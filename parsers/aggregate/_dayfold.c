/* Messages per day from messages per hour, in C: the twin of the Python loops of
 * parsers/aggregate/daily.py (`daily_messages` and the per-day part of `merge_daily`), which
 * stay the reference and the fallback. A key or count that does not fit in 64 bits raises
 * OverflowError, anything but a plain int a TypeError: the caller then takes the Python loop;
 * so does a sum that would not fit in 64 bits (checked on every addition). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_LIMIT (1LL << 61) /* far beyond any calendar day; keeps differences in 64 bits */

typedef struct {
    long long day; /* first, for by_day */
    long long count;
} DayCount;

/* qsort's order of records whose first member is their day (DayCount, DayMinutes). */
static int by_day(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
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

/* [gap, value, gap, value, ...] of `count` ascending days and their values: each day's distance
 * from the day after the previous one (the first's from `origin`), then its value (a new
 * reference to values[i]). OverflowError when the days do not ascend from the origin. */
static PyObject *interleaved_gaps(const long long *days, PyObject *const *values,
                                  Py_ssize_t count, long long origin) {
    PyObject *flat = PyList_New(2 * count);
    if (flat == NULL)
        return NULL;
    long long next = origin; /* the day after the previous active day */
    for (Py_ssize_t i = 0; i < count; i++) {
        if (days[i] < next || days[i] > DAY_LIMIT || next < -DAY_LIMIT) {
            Py_DECREF(flat);
            PyErr_SetString(PyExc_OverflowError, "days not ascending from the origin");
            return NULL;
        }
        PyObject *gap = PyLong_FromLongLong(days[i] - next);
        if (gap == NULL) {
            Py_DECREF(flat);
            return NULL;
        }
        PyList_SET_ITEM(flat, 2 * i, gap);
        PyList_SET_ITEM(flat, 2 * i + 1, Py_NewRef(values[i]));
        next = days[i] + 1;
    }
    return flat;
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
    long long *days = PyMem_New(long long, n + 1);
    if (days == NULL)
        return PyErr_NoMemory();
    PyObject *flat = NULL;
    Py_ssize_t i = 0;
    while (i < n && as_long_long(PyList_GET_ITEM(active, i), &days[i]) == 0)
        i++;
    if (i == n) /* plain ints only: nothing of Python's ran, so `values` is as it was */
        flat = interleaved_gaps(days, PySequence_Fast_ITEMS(values), n, origin);
    PyMem_Free(days);
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

/* totals_since(days, counts, starts) -> [messages from each start day on]: days ascending, a
 * start of None (a period of no days) totals 0. One pass from the newest day back. */
static PyObject *totals_since(PyObject *self, PyObject *args) {
    PyObject *days, *counts, *starts;
    if (!PyArg_ParseTuple(args, "O!O!O!:totals_since", &PyList_Type, &days, &PyList_Type, &counts,
                          &PyList_Type, &starts))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(days), m = PyList_GET_SIZE(starts);
    if (PyList_GET_SIZE(counts) != n || m > 16) {
        PyErr_SetString(PyExc_TypeError, "as many counts as days, and at most 16 starts");
        return NULL;
    }
    long long first[16], totals[16] = {0};
    int open[16]; /* 0: a start of None */
    for (Py_ssize_t j = 0; j < m; j++) {
        PyObject *start = PyList_GET_ITEM(starts, j);
        open[j] = start != Py_None;
        if (open[j] && as_long_long(start, &first[j]) < 0)
            return NULL;
    }
    long long running = 0, later = LLONG_MAX;
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        long long day, count;
        if (as_long_long(PyList_GET_ITEM(days, i), &day) < 0 ||
            as_long_long(PyList_GET_ITEM(counts, i), &count) < 0)
            return NULL;
        if (day >= later) {
            PyErr_SetString(PyExc_OverflowError, "days not ascending");
            return NULL;
        }
        later = day;
        if (__builtin_add_overflow(running, count, &running)) {
            PyErr_SetString(PyExc_OverflowError, "a sum over 64 bits");
            return NULL;
        }
        for (Py_ssize_t j = 0; j < m; j++)
            if (open[j] && day >= first[j])
                totals[j] = running;
    }
    return int_list(totals, m);
}

/* ---- message_blocks: the messages block of each period, periods.python_message_blocks' twin ---- */

static PyObject *key_total, *key_per_day, *key_per_hour, *key_per_weekday, *key_active_days,
    *key_average, *key_days, *key_zero, *key_gaps, *key_start, *key_end, *zero_int;

/* An entity's active days as C arrays: days ascending, counts, and the sum of the counts from
 * each day on (index n: 0). The counts' own objects go into the series. */
typedef struct {
    Py_ssize_t n;
    long long *days, *sums;
    PyObject *counts;
} ActiveDays;

static int read_active(PyObject *days, PyObject *counts, ActiveDays *out) {
    Py_ssize_t n = PyList_GET_SIZE(days);
    if (PyList_GET_SIZE(counts) != n) {
        PyErr_SetString(PyExc_TypeError, "as many counts as days");
        return -1;
    }
    out->n = n, out->counts = counts;
    out->days = PyMem_New(long long, n + 1);
    out->sums = PyMem_New(long long, n + 1);
    if (out->days == NULL || out->sums == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (as_long_long(PyList_GET_ITEM(days, i), &out->days[i]) < 0 ||
            as_long_long(PyList_GET_ITEM(counts, i), &out->sums[i]) < 0)
            return -1;
        if (out->days[i] > DAY_LIMIT || out->days[i] < -DAY_LIMIT ||
            (i > 0 && out->days[i] <= out->days[i - 1])) {
            PyErr_SetString(PyExc_OverflowError, "days not ascending within the calendar's reach");
            return -1;
        }
    }
    out->sums[n] = 0;
    for (Py_ssize_t i = n - 1; i >= 0; i--)
        if (__builtin_add_overflow(out->sums[i], out->sums[i + 1], &out->sums[i])) {
            PyErr_SetString(PyExc_OverflowError, "a sum over 64 bits");
            return -1;
        }
    return 0;
}

/* bisect_left over the days. */
static Py_ssize_t first_from(const ActiveDays *active, long long day) {
    Py_ssize_t lo = 0, hi = active->n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (active->days[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The zero-filled series of `length` days from `origin`, the active days from `first` set. */
static PyObject *dense_series(const ActiveDays *active, Py_ssize_t first, long long origin,
                              long long length, PyObject *zero) {
    PyObject *series = PyList_New((Py_ssize_t)length);
    if (series == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < (Py_ssize_t)length; i++)
        PyList_SET_ITEM(series, i, Py_NewRef(zero));
    for (Py_ssize_t i = first; i < active->n; i++) {
        long long at = active->days[i] - origin;
        if (at < 0 || at >= length) {
            Py_DECREF(series);
            PyErr_SetString(PyExc_OverflowError, "an active day outside the period");
            return NULL;
        }
        PyList_SetItem(series, (Py_ssize_t)at, Py_NewRef(PyList_GET_ITEM(active->counts, i)));
    }
    return series;
}

/* {"days": length, "zero": zero, "gaps": [gap, value, ...]} of the active days from `first`. */
static PyObject *sparse_series(const ActiveDays *active, Py_ssize_t first, long long origin,
                               long long length, PyObject *zero) {
    PyObject *flat = interleaved_gaps(active->days + first,
                                      PySequence_Fast_ITEMS(active->counts) + first,
                                      active->n - first, origin);
    if (flat == NULL)
        return NULL;
    PyObject *days = PyLong_FromLongLong(length);
    PyObject *stored = days == NULL ? NULL : PyDict_New();
    if (stored == NULL || PyDict_SetItem(stored, key_days, days) < 0 ||
        PyDict_SetItem(stored, key_zero, zero) < 0 ||
        PyDict_SetItem(stored, key_gaps, flat) < 0)
        Py_CLEAR(stored);
    Py_XDECREF(days);
    Py_DECREF(flat);
    return stored;
}

/* series.stored_series' choice for `count` active days in a period of `length` days: 1 for the
 * zero-filled list, 0 for the sparse form, -1 with OverflowError set. */
static int zero_filled(long long count, long long length, long long sparse_below, int sparse) {
    long long weight;
    if (count == 0 && sparse && length)
        return 0;
    if (__builtin_mul_overflow(count, sparse_below, &weight)) {
        PyErr_SetString(PyExc_OverflowError, "too many active days");
        return -1;
    }
    return !sparse || weight >= length;
}

/* series.stored_series(start, length, zero, active days from `first`, their values, sparse). */
static PyObject *stored_days(const ActiveDays *active, Py_ssize_t first, long long origin,
                             long long length, long long sparse_below, int sparse,
                             PyObject *zero) {
    int dense = zero_filled(active->n - first, length, sparse_below, sparse);
    if (dense < 0)
        return NULL;
    return dense ? dense_series(active, first, origin, length, zero)
                 : sparse_series(active, first, origin, length, zero);
}

/* round(total / count, 2), as Python divides two ints (correctly rounded: both exact doubles). */
static PyObject *average(long long total, long long count) {
    if (count == 0)
        return Py_NewRef(zero_int);
    if (total > (1LL << 53) || total < -(1LL << 53) || count > (1LL << 53)) {
        PyErr_SetString(PyExc_OverflowError, "a total over 2**53");
        return NULL;
    }
    PyObject *quotient = PyFloat_FromDouble((double)total / (double)count);
    if (quotient == NULL)
        return NULL;
    PyObject *rounded = PyObject_CallMethod(quotient, "__round__", "i", 2);
    Py_DECREF(quotient);
    return rounded;
}

/* The {total, per_day, per_hour, per_weekday, active_days, average_per_active_day} dict. */
static PyObject *block_of(PyObject *total, PyObject *per_day, PyObject *per_hour,
                          PyObject *per_weekday, PyObject *active_days, PyObject *mean) {
    PyObject *block = NULL;
    if (total != NULL && per_day != NULL && per_hour != NULL && per_weekday != NULL &&
        active_days != NULL && mean != NULL && (block = PyDict_New()) != NULL &&
        (PyDict_SetItem(block, key_total, total) < 0 ||
         PyDict_SetItem(block, key_per_day, per_day) < 0 ||
         PyDict_SetItem(block, key_per_hour, per_hour) < 0 ||
         PyDict_SetItem(block, key_per_weekday, per_weekday) < 0 ||
         PyDict_SetItem(block, key_active_days, active_days) < 0 ||
         PyDict_SetItem(block, key_average, mean) < 0))
        Py_CLEAR(block);
    Py_XDECREF(total);
    Py_XDECREF(per_day);
    Py_XDECREF(per_hour);
    Py_XDECREF(per_weekday);
    Py_XDECREF(active_days);
    Py_XDECREF(mean);
    return block;
}

static PyObject *zeros(Py_ssize_t n) {
    PyObject *list = PyList_New(n);
    for (Py_ssize_t i = 0; list != NULL && i < n; i++)
        PyList_SET_ITEM(list, i, Py_NewRef(zero_int));
    return list;
}

/* The block of a period without days (its start None). */
static PyObject *empty_block(void) {
    return block_of(Py_NewRef(zero_int), PyList_New(0), zeros(24), zeros(7), Py_NewRef(zero_int),
                    Py_NewRef(zero_int));
}

/* How many band rows a period of `length` days sums (daily.DailyMessages.hours_and_weekdays):
 * a band age's own count, else every band, which must hold every active day. -1: ValueError. */
static Py_ssize_t bands_of(const ActiveDays *active, long long length, long long start,
                           PyObject *band_ages) {
    Py_ssize_t count = PyTuple_GET_SIZE(band_ages);
    for (Py_ssize_t k = 0; k < count; k++) {
        long long age;
        if (as_long_long(PyTuple_GET_ITEM(band_ages, k), &age) < 0)
            return -1;
        if (age == length)
            return k + 1;
    }
    if (active->n > 0 && active->days[0] < start) {
        PyErr_SetString(PyExc_ValueError,
                        "a period of another length than the bands' must hold every day");
        return -1;
    }
    return count + 1;
}

/* Where a period lies among an entity's active days: its first day and length (Period.days),
 * the first active day in it and how many band rows its hours sum. */
typedef struct {
    int no_start; /* a period without days (its start None): the empty block */
    long long start, length;
    Py_ssize_t first, bands;
} Span;

/* A period's first day and length (Period.days), Python's rules read through its attributes;
 * *no_start set (and nothing else) for a period without days. */
static int bounds_of(PyObject *period, int *no_start_out, long long *start_out,
                     long long *length_out) {
    PyObject *start_obj = PyObject_GetAttr(period, key_start);
    PyObject *end_obj = start_obj == NULL ? NULL : PyObject_GetAttr(period, key_end);
    long long start = 0, end = 0;
    int failed = end_obj == NULL ||
                 (start_obj != Py_None && as_long_long(start_obj, &start) < 0) ||
                 (end_obj != Py_None && as_long_long(end_obj, &end) < 0);
    int no_start = !failed && start_obj == Py_None, no_end = !failed && end_obj == Py_None;
    Py_XDECREF(start_obj);
    Py_XDECREF(end_obj);
    if (failed)
        return -1;
    *no_start_out = no_start;
    if (no_start)
        return 0;
    if (start < -DAY_LIMIT || start > DAY_LIMIT || end < -DAY_LIMIT || end > DAY_LIMIT) {
        PyErr_SetString(PyExc_OverflowError, "a period beyond the calendar's reach");
        return -1;
    }
    *start_out = start;
    *length_out = no_end ? 0 : end - start + 1; /* Period.days */
    if (*length_out < 0) { /* never made so: Python decides what such a period holds */
        PyErr_SetString(PyExc_OverflowError, "a period that ends before it starts");
        return -1;
    }
    return 0;
}

static int span_of(const ActiveDays *active, PyObject *period, PyObject *band_ages, Span *out) {
    if (bounds_of(period, &out->no_start, &out->start, &out->length) < 0)
        return -1;
    if (out->no_start)
        return 0;
    out->first = first_from(active, out->start);
    out->bands = bands_of(active, out->length, out->start, band_ages);
    return out->bands < 0 ? -1 : 0;
}

static PyObject *period_block(const ActiveDays *active, PyObject *period, PyObject *hours,
                              PyObject *weekdays, PyObject *band_ages, long long sparse_below,
                              int sparse) {
    Span span;
    if (span_of(active, period, band_ages, &span) < 0)
        return NULL;
    if (span.no_start)
        return empty_block();
    Py_ssize_t first = span.first, bands = span.bands;
    long long count = active->n - first;
    return block_of(PyLong_FromLongLong(active->sums[first]),
                    stored_days(active, first, span.start, span.length, sparse_below, sparse,
                                zero_int),
                    PyList_GetSlice(hours, (bands - 1) * 24, bands * 24),
                    PyList_GetSlice(weekdays, (bands - 1) * 7, bands * 7),
                    PyLong_FromLongLong(count), average(active->sums[first], count));
}

/* {name: make(period, context)} for each of `periods` ({name: Period}), in their order; NULL
 * with an exception set. */
typedef PyObject *(*PeriodBlock)(PyObject *period, void *context);

static PyObject *blocks_by_period(PyObject *periods, PeriodBlock make, void *context) {
    PyObject *blocks = PyDict_New(), *name, *period;
    Py_ssize_t at = 0;
    while (blocks != NULL && PyDict_Next(periods, &at, &name, &period)) {
        Py_INCREF(name);
        Py_INCREF(period); /* its attributes are read by Python's rules */
        PyObject *block = make(period, context);
        if (block == NULL || PyDict_SetItem(blocks, name, block) < 0)
            Py_CLEAR(blocks);
        Py_XDECREF(block);
        Py_DECREF(period);
        Py_DECREF(name);
    }
    return blocks;
}

typedef struct {
    const ActiveDays *active;
    PyObject *hours, *weekdays, *band_ages;
    long long sparse_below;
    int sparse;
} MessageArgs;

static PyObject *message_block(PyObject *period, void *context) {
    const MessageArgs *args = context;
    return period_block(args->active, period, args->hours, args->weekdays, args->band_ages,
                        args->sparse_below, args->sparse);
}

/* message_blocks(days, counts, hours_to_band, weekdays_to_band, periods, band_ages, sparse_below,
 * sparse) -> {period name: messages block}, for `periods` ({name: Period}) in their order. */
static PyObject *message_blocks(PyObject *self, PyObject *args) {
    PyObject *days, *counts, *hours, *weekdays, *periods, *band_ages;
    long long sparse_below;
    int sparse;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!Lp:message_blocks", &PyList_Type, &days,
                          &PyList_Type, &counts, &PyList_Type, &hours, &PyList_Type, &weekdays,
                          &PyDict_Type, &periods, &PyTuple_Type, &band_ages, &sparse_below,
                          &sparse))
        return NULL;
    ActiveDays active = {0, NULL, NULL, NULL};
    PyObject *blocks = NULL;
    if (read_active(days, counts, &active) == 0) {
        MessageArgs context = {&active, hours, weekdays, band_ages, sparse_below, sparse};
        blocks = blocks_by_period(periods, message_block, &context);
    }
    PyMem_Free(active.days);
    PyMem_Free(active.sums);
    return blocks;
}

/* ---- voice_blocks: the voice block of each period, periods.python_voice_blocks' twin ---- */

static PyObject *key_minutes, *zero_float, *builtin_sum;

#define ROUNDED_BELOW 1e14 /* ten times it stays under 2**50: a step of 1/8 or finer */

/* round(x, 1) as CPython rounds a float: the decimal digits correctly rounded from x's exact
 * value, ties to even (dtoa's mode 3), then the double nearest them (strtod), so k / 10 for
 * the nearest integer k to 10x. 10x is exact as p + err (fma gives the product's rounding
 * error); p's fraction is a multiple of p's step, so it decides alone unless it is exactly
 * one half, where err's sign (or a true tie) does. Worked on |x|: rounding is symmetric, and
 * dtoa writes the sign apart (round(-0.04, 1) is -0.0). OverflowError from ROUNDED_BELOW on. */
static int round_tenths(double x, double *out) {
    double size = fabs(x);
    if (!(size < ROUNDED_BELOW)) {
        PyErr_SetString(PyExc_OverflowError, "a value beyond the exact rounding's reach");
        return -1;
    }
    double tenths = size * 10.0, err = fma(size, 10.0, -tenths);
    double whole = floor(tenths), fraction = tenths - whole;
    if (fraction > 0.5 ||
        (fraction == 0.5 && (err > 0.0 || (err == 0.0 && fmod(whole, 2.0) != 0.0))))
        whole += 1.0;
    *out = copysign(whole / 10.0, x);
    return 0;
}

typedef struct {
    long long day; /* first, for by_day */
    PyObject *value; /* borrowed from the minutes */
} DayMinutes;

/* The days of `minutes` ({day: float}) with a value other than zero from `start` to `end`,
 * ascending, into `active` (its `counts`: the values rounded, a new list) and `values` (the
 * values themselves). Plain ints and finite floats only: else TypeError or OverflowError. */
static int voice_days(PyObject *minutes, int open, long long start, long long end,
                      ActiveDays *active, PyObject **values) {
    DayMinutes *found = PyMem_New(DayMinutes, PyDict_GET_SIZE(minutes) + 1);
    if (found == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t at = 0, n = 0;
    PyObject *key, *value;
    int failed = 0;
    while (!failed && PyDict_Next(minutes, &at, &key, &value)) {
        long long day;
        if (as_long_long(key, &day) < 0 || !PyFloat_CheckExact(value) ||
            !isfinite(PyFloat_AS_DOUBLE(value))) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "minutes are finite floats");
            failed = 1;
        } else if (open && PyFloat_AS_DOUBLE(value) != 0.0 && start <= day && day <= end) {
            found[n].day = day;
            found[n++].value = value;
        }
    }
    if (!failed) {
        qsort(found, (size_t)n, sizeof(DayMinutes), by_day);
        active->n = n;
        active->days = PyMem_New(long long, n + 1);
        active->counts = PyList_New(n);
        *values = PyList_New(n);
        failed = active->days == NULL || active->counts == NULL || *values == NULL;
        if (active->days == NULL)
            PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; !failed && i < n; i++) {
        double rounded;
        PyObject *item = NULL;
        failed = round_tenths(PyFloat_AS_DOUBLE(found[i].value), &rounded) < 0 ||
                 (item = PyFloat_FromDouble(rounded)) == NULL;
        if (!failed) {
            active->days[i] = found[i].day;
            PyList_SET_ITEM(active->counts, i, item);
            PyList_SET_ITEM(*values, i, Py_NewRef(found[i].value));
        }
    }
    PyMem_Free(found);
    return failed ? -1 : 0;
}

/* round(float(sum(values[first:])), 1): Python's own sum (its summation differs between
 * versions), then the rounding above. */
static PyObject *rounded_sum(PyObject *values, Py_ssize_t first) {
    PyObject *tail = PyList_GetSlice(values, first, PyList_GET_SIZE(values));
    PyObject *total = tail == NULL ? NULL : PyObject_CallOneArg(builtin_sum, tail);
    Py_XDECREF(tail);
    if (total == NULL)
        return NULL;
    double sum = PyFloat_AsDouble(total), rounded;
    Py_DECREF(total);
    if ((sum == -1.0 && PyErr_Occurred()) || round_tenths(sum, &rounded) < 0)
        return NULL;
    return PyFloat_FromDouble(rounded);
}

typedef struct {
    const ActiveDays *active;
    PyObject *values;
    long long sparse_below;
    int sparse;
} VoiceArgs;

/* {"minutes": ..., "per_day": ...} of one period. */
static PyObject *voice_block(PyObject *period, void *context) {
    const VoiceArgs *args = context;
    int no_start = 0;
    long long start = 0, length = 0; /* both stay 0 for a period without days */
    if (bounds_of(period, &no_start, &start, &length) < 0)
        return NULL;
    Py_ssize_t first = no_start ? 0 : first_from(args->active, start);
    PyObject *total = rounded_sum(args->values, first);
    PyObject *per_day = total == NULL ? NULL
                                      : stored_days(args->active, first, start, length,
                                                    args->sparse_below, args->sparse, zero_float);
    PyObject *block = per_day == NULL ? NULL : PyDict_New();
    if (block != NULL && (PyDict_SetItem(block, key_minutes, total) < 0 ||
                          PyDict_SetItem(block, key_per_day, per_day) < 0))
        Py_CLEAR(block);
    Py_XDECREF(total);
    Py_XDECREF(per_day);
    return block;
}

/* The period of most days (the first such, as max() keeps it): 1 and its bounds, or 0 when it
 * has no days to read (no start or no end); -1 with an exception set. */
static int longest_of(PyObject *periods, long long *start, long long *end) {
    Py_ssize_t at = 0;
    PyObject *name, *period;
    long long most = -1;
    int found = 0;
    while (PyDict_Next(periods, &at, &name, &period)) {
        int no_start = 0;
        long long first = 0, length = 0;
        Py_INCREF(period); /* its attributes are read by Python's rules */
        int failed = bounds_of(period, &no_start, &first, &length) < 0;
        Py_DECREF(period);
        if (failed)
            return -1;
        long long days = no_start ? 0 : length;
        if (days > most) {
            most = days;
            found = !no_start && length > 0;
            *start = first, *end = first + length - 1;
        }
    }
    if (most < 0) {
        PyErr_SetString(PyExc_TypeError, "no period");
        return -1;
    }
    return found;
}

/* voice_blocks(minutes, periods, sparse_below, sparse) -> {period name: voice block}: minutes
 * {day: float}, periods {name: Period} ending on the same day, in their order. */
static PyObject *voice_blocks(PyObject *self, PyObject *args) {
    PyObject *minutes, *periods, *values = NULL, *blocks = NULL;
    long long sparse_below, start = 0, end = 0;
    int sparse;
    if (!PyArg_ParseTuple(args, "O!O!Lp:voice_blocks", &PyDict_Type, &minutes, &PyDict_Type,
                          &periods, &sparse_below, &sparse))
        return NULL;
    ActiveDays active = {0, NULL, NULL, NULL};
    int open = longest_of(periods, &start, &end);
    if (open >= 0 && voice_days(minutes, open, start, end, &active, &values) == 0) {
        VoiceArgs context = {&active, values, sparse_below, sparse};
        blocks = blocks_by_period(periods, voice_block, &context);
    }
    PyMem_Free(active.days);
    Py_XDECREF(active.counts);
    Py_XDECREF(values);
    return blocks;
}

/* ---- periods_json: an entity's `periods` object written as JSON, per_entity's dicts' twin ---- */

/* A growing buffer of JSON text: `room` reserves, then the writers below fill it through a
 * pointer (each returns where it stopped, NULL with an exception set). */
typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Text;

#define INT_ROOM 21 /* a long long's digits and sign, and a comma */

static char *room(Text *text, Py_ssize_t more) {
    if (text->len + more > text->cap) {
        Py_ssize_t cap = text->cap ? text->cap : 4096;
        while (cap < text->len + more)
            cap *= 2;
        char *data = PyMem_Realloc(text->data, (size_t)cap);
        if (data == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        text->data = data, text->cap = cap;
    }
    return text->data + text->len;
}

static char *write_bytes(char *at, const char *bytes, size_t n) {
    memcpy(at, bytes, n);
    return at + n;
}

#define WRITE(at, literal) write_bytes((at), (literal), sizeof(literal) - 1)

static char *write_int(char *at, long long value) {
    if (value >= 0 && value < 10) {
        *at = (char)('0' + value);
        return at + 1;
    }
    char digits[24];
    int start = 24;
    unsigned long long left = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        digits[--start] = (char)('0' + left % 10);
        left /= 10;
    } while (left);
    if (value < 0)
        digits[--start] = '-';
    return write_bytes(at, digits + start, (size_t)(24 - start));
}

/* list[lo:hi] of plain ints as a JSON array (the bounds clamped as a slice's are); room for
 * 2 + INT_ROOM * (hi - lo). */
static char *write_ints(char *at, PyObject *list, Py_ssize_t lo, Py_ssize_t hi) {
    Py_ssize_t size = PyList_GET_SIZE(list);
    lo = lo > size ? size : lo;
    hi = hi > size ? size : hi;
    *at++ = '[';
    for (Py_ssize_t i = lo; i < hi; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        long long value = 0;
        if (item != zero_int && as_long_long(item, &value) < 0) /* 0: one object, most hours */
            return NULL;
        if (i > lo)
            *at++ = ',';
        at = write_int(at, value);
    }
    *at++ = ']';
    return at;
}

static long long count_at(const ActiveDays *active, Py_ssize_t i) {
    return active->sums[i] - active->sums[i + 1]; /* the i-th count, as read */
}

/* dense_series written: `length` days from `origin`, zero but the active days from `first`;
 * room for 2 + 2 * length + INT_ROOM * the active days. */
static char *write_dense(char *at, const ActiveDays *active, Py_ssize_t first, long long origin,
                         long long length) {
    for (Py_ssize_t i = first; i < active->n; i++)
        if (active->days[i] - origin < 0 || active->days[i] - origin >= length) {
            PyErr_SetString(PyExc_OverflowError, "an active day outside the period");
            return NULL;
        }
    *at++ = '[';
    Py_ssize_t next = first;
    for (long long day = 0; day < length; day++) {
        if (day > 0)
            *at++ = ',';
        if (next < active->n && active->days[next] - origin == day)
            at = write_int(at, count_at(active, next++));
        else
            *at++ = '0';
    }
    *at++ = ']';
    return at;
}

/* sparse_series written: {"days": length, "zero": 0, "gaps": [gap, value, ...]}; room for
 * 40 + INT_ROOM * (1 + 2 * the active days). */
static char *write_sparse(char *at, const ActiveDays *active, Py_ssize_t first, long long origin,
                          long long length) {
    at = write_int(WRITE(at, "{\"days\":"), length);
    at = WRITE(at, ",\"zero\":0,\"gaps\":[");
    long long next = origin; /* the day after the previous active day */
    for (Py_ssize_t i = first; i < active->n; i++) {
        long long day = active->days[i];
        if (day < next || next < -DAY_LIMIT) {
            PyErr_SetString(PyExc_OverflowError, "days not ascending from the origin");
            return NULL;
        }
        if (i > first)
            *at++ = ',';
        at = write_int(at, day - next);
        *at++ = ',';
        at = write_int(at, count_at(active, i));
        next = day + 1;
    }
    return WRITE(at, "]}");
}

/* average() written as orjson writes a float (Python's repr: the shortest text that reads
 * back as it). A whole quotient is written at once; any other is rounded as `round` rounds it
 * (the double's exact value to 2 decimals, ties to even) and, having at most 15 significant
 * digits, its repr is that text without its trailing zeros. Room for 40. */
static char *write_average(char *at, long long total, long long count) {
    if (count == 0)
        return WRITE(at, "0");
    if (total > (1LL << 53) || total < -(1LL << 53) || count > (1LL << 53)) {
        PyErr_SetString(PyExc_OverflowError, "a total over 2**53");
        return NULL;
    }
    if (total % count == 0)
        return WRITE(write_int(at, total / count), ".0");
    double quotient = (double)total / (double)count;
    if (!(quotient > -1e13 && quotient < 1e13)) {
        PyErr_SetString(PyExc_OverflowError, "an average of more than 15 digits");
        return NULL;
    }
    char *fixed = PyOS_double_to_string(quotient, 'f', 2, 0, NULL);
    if (fixed == NULL)
        return NULL;
    size_t length = strlen(fixed);
    while (length > 2 && fixed[length - 1] == '0' && fixed[length - 2] != '.')
        length--;
    at = write_bytes(at, fixed, length);
    PyMem_Free(fixed);
    return at;
}

static const char EMPTY_BLOCK[] =
    "{\"total\":0,\"per_day\":[],\"per_hour\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
    "\"per_weekday\":[0,0,0,0,0,0,0],\"active_days\":0,\"average_per_active_day\":0}";

/* period_block written. */
static int put_block(Text *text, const ActiveDays *active, const Span *span, PyObject *hours,
                     PyObject *weekdays, long long sparse_below, int sparse) {
    if (span->no_start) {
        char *at = room(text, sizeof(EMPTY_BLOCK));
        if (at == NULL)
            return -1;
        text->len = WRITE(at, EMPTY_BLOCK) - text->data;
        return 0;
    }
    Py_ssize_t first = span->first, bands = span->bands;
    long long total = active->sums[first], count = active->n - first;
    int dense = zero_filled(count, span->length, sparse_below, sparse);
    if (dense < 0)
        return -1;
    if (dense && span->length > PY_SSIZE_T_MAX / 4) {
        PyErr_SetString(PyExc_OverflowError, "a period too long to write");
        return -1;
    }
    Py_ssize_t series = dense ? 2 + 2 * (Py_ssize_t)span->length : 40 + INT_ROOM;
    char *at = room(text, 300 + INT_ROOM * (34 + 2 * (Py_ssize_t)count) + series);
    if (at == NULL)
        return -1;
    at = write_int(WRITE(at, "{\"total\":"), total);
    at = WRITE(at, ",\"per_day\":");
    at = dense ? write_dense(at, active, first, span->start, span->length)
               : write_sparse(at, active, first, span->start, span->length);
    if (at != NULL)
        at = write_ints(WRITE(at, ",\"per_hour\":"), hours, (bands - 1) * 24, bands * 24);
    if (at != NULL)
        at = write_ints(WRITE(at, ",\"per_weekday\":"), weekdays, (bands - 1) * 7, bands * 7);
    if (at != NULL) {
        at = write_int(WRITE(at, ",\"active_days\":"), count);
        at = write_average(WRITE(at, ",\"average_per_active_day\":"), total, count);
    }
    if (at == NULL)
        return -1;
    text->len = WRITE(at, "}") - text->data;
    return 0;
}

static int put(Text *text, const char *bytes, Py_ssize_t n) {
    char *at = room(text, n);
    if (at == NULL)
        return -1;
    text->len = write_bytes(at, bytes, (size_t)n) - text->data;
    return 0;
}

#define PUT(text, literal) put((text), (literal), (Py_ssize_t)(sizeof(literal) - 1))

/* Each period's messages block between its opening and its closing, the periods in order. */
static int put_periods(Text *text, const ActiveDays *active, PyObject *periods, PyObject *hours,
                       PyObject *weekdays, PyObject *band_ages, long long sparse_below,
                       int sparse, PyObject *openings, PyObject *closings) {
    if (PyList_GET_SIZE(openings) != PyDict_GET_SIZE(periods) ||
        PyList_GET_SIZE(closings) != PyDict_GET_SIZE(periods)) {
        PyErr_SetString(PyExc_TypeError, "an opening and a closing per period");
        return -1;
    }
    if (PUT(text, "{") < 0)
        return -1;
    Py_ssize_t at = 0, index = 0;
    PyObject *name, *period;
    while (PyDict_Next(periods, &at, &name, &period)) {
        PyObject *opening = PyList_GET_ITEM(openings, index);
        PyObject *closing = PyList_GET_ITEM(closings, index);
        if (!PyBytes_CheckExact(opening) || !PyBytes_CheckExact(closing)) {
            PyErr_SetString(PyExc_TypeError, "openings and closings are bytes");
            return -1;
        }
        Span span;
        Py_INCREF(period); /* its attributes are read by Python's rules */
        int failed = span_of(active, period, band_ages, &span) < 0;
        Py_DECREF(period);
        if (failed || (index > 0 && PUT(text, ",") < 0) ||
            put(text, PyBytes_AS_STRING(opening), PyBytes_GET_SIZE(opening)) < 0 ||
            put_block(text, active, &span, hours, weekdays, sparse_below, sparse) < 0 ||
            put(text, PyBytes_AS_STRING(closing), PyBytes_GET_SIZE(closing)) < 0)
            return -1;
        index++;
    }
    return PUT(text, "}");
}

/* periods_json(days, counts, hours_to_band, weekdays_to_band, periods, band_ages, sparse_below,
 * sparse, openings, closings) -> bytes: `{`, then for each of `periods` in order (commas
 * between) its opening (its key and header, up to `"messages":`), its messages block as
 * message_blocks makes it, written as orjson writes it, and its closing (its voice block and
 * `}`); then `}`. */
static PyObject *periods_json(PyObject *self, PyObject *args) {
    PyObject *days, *counts, *hours, *weekdays, *periods, *band_ages, *openings, *closings;
    long long sparse_below;
    int sparse;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!LpO!O!:periods_json", &PyList_Type, &days,
                          &PyList_Type, &counts, &PyList_Type, &hours, &PyList_Type, &weekdays,
                          &PyDict_Type, &periods, &PyTuple_Type, &band_ages, &sparse_below,
                          &sparse, &PyList_Type, &openings, &PyList_Type, &closings))
        return NULL;
    ActiveDays active = {0, NULL, NULL, NULL};
    Text text = {NULL, 0, 0};
    PyObject *written = NULL;
    if (read_active(days, counts, &active) == 0 &&
        put_periods(&text, &active, periods, hours, weekdays, band_ages, sparse_below, sparse,
                    openings, closings) == 0)
        written = PyBytes_FromStringAndSize(text.data, text.len);
    PyMem_Free(text.data);
    PyMem_Free(active.days);
    PyMem_Free(active.sums);
    return written;
}

static PyMethodDef methods[] = {
    {"column_sums", column_sums, METH_O, "The sum of each column of equal-length rows of ints."},
    {"sparse_gaps", sparse_gaps, METH_VARARGS, "A sparse series' gaps and values, interleaved."},
    {"fold_hours", fold_hours, METH_VARARGS, "Messages per day and per age band from per hour."},
    {"merge_days", merge_days, METH_O, "The per-day sum of several (days, counts) pairs."},
    {"totals_since", totals_since, METH_VARARGS, "Messages from each of several start days on."},
    {"message_blocks", message_blocks, METH_VARARGS, "The messages block of each period."},
    {"voice_blocks", voice_blocks, METH_VARARGS, "The voice block of each period."},
    {"periods_json", periods_json, METH_VARARGS, "An entity's periods object as JSON text."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_dayfold", NULL, -1, methods};

static int intern(PyObject **key, const char *text) {
    *key = PyUnicode_InternFromString(text);
    return *key == NULL ? -1 : 0;
}

PyMODINIT_FUNC PyInit__dayfold(void) {
    if (intern(&key_total, "total") < 0 || intern(&key_per_day, "per_day") < 0 ||
        intern(&key_per_hour, "per_hour") < 0 || intern(&key_per_weekday, "per_weekday") < 0 ||
        intern(&key_active_days, "active_days") < 0 ||
        intern(&key_average, "average_per_active_day") < 0 || intern(&key_days, "days") < 0 ||
        intern(&key_zero, "zero") < 0 || intern(&key_gaps, "gaps") < 0 ||
        intern(&key_start, "start") < 0 || intern(&key_end, "end") < 0 ||
        intern(&key_minutes, "minutes") < 0 || (zero_int = PyLong_FromLong(0)) == NULL ||
        (zero_float = PyFloat_FromDouble(0.0)) == NULL)
        return NULL;
    PyObject *builtins = PyImport_ImportModule("builtins");
    builtin_sum = builtins == NULL ? NULL : PyObject_GetAttrString(builtins, "sum");
    Py_XDECREF(builtins);
    if (builtin_sum == NULL)
        return NULL;
    return PyModule_Create(&module);
}
