/* The hour number of a "YYYY-MM-DDTHH" (or space) prefix in C, shared by the activity scanner
 * (parsers/activity/_linescan.c) and the messages' stamps (parsers/sources/_stamps.c): the twin
 * of instants.hour_start, which stays the reference (tests compare the two on every hour since
 * 2015 and on arbitrary bytes). */
#ifndef DUMPUS_CIVIL_HOUR_H
#define DUMPUS_CIVIL_HOUR_H

/* instants.MIN_SECONDS: an earlier hour is left to Python, which refuses it (a test checks the
 * two agree). */
#define MIN_SECONDS 1420070400L
#define HOUR_WIDTH 13 /* YYYY-MM-DDTHH */

static inline int
digits(const char *text, int count)
{
    for (int k = 0; k < count; k++)
        if (text[k] < '0' || text[k] > '9')
            return 0;
    return 1;
}

static inline int
two_digits(const char *text)
{
    return (text[0] - '0') * 10 + (text[1] - '0');
}

/* Hours since the epoch of a prefix that instants.hour_start accepts: ASCII digits, a real
 * Gregorian date, an hour under 24, not before MIN_SECONDS; -1 for anything else, which Python
 * then decides. Days from the civil date as in H. Hinnant's days_from_civil. Reads HOUR_WIDTH
 * bytes. */
static inline long
civil_hour(const char *p)
{
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!digits(p, 4) || p[4] != '-' || !digits(p + 5, 2) || p[7] != '-' || !digits(p + 8, 2) ||
        (p[10] != 'T' && p[10] != ' ') || !digits(p + 11, 2))
        return -1;
    long year = two_digits(p) * 100 + two_digits(p + 2);
    int month = two_digits(p + 5), day = two_digits(p + 8), hour = two_digits(p + 11);
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (month < 1 || month > 12 || day < 1 || hour > 23 ||
        day > month_days[month - 1] + (month == 2 && leap))
        return -1;
    long y = year - (month <= 2);
    long era = y / 400, of_era = y - era * 400; /* y >= 0 here */
    long of_year = (153L * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    long days = era * 146097 + of_era * 365 + of_era / 4 - of_era / 100 + of_year - 719468;
    if (days * 86400L < MIN_SECONDS)
        return -1;
    return days * 24 + hour;
}

#endif
