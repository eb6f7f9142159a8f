/* Strict UTF-8 in C, shared by the activity scanner (parsers/activity/_linescan.c) and the
 * messages' line pass (parsers/sources/_stamps.c): what Python's decoder (and orjson) accept. */
#ifndef DUMPUS_UTF8_H
#define DUMPUS_UTF8_H

#include <Python.h> /* Py_ssize_t */
#include <stdint.h>
#include <string.h>

/* No byte of the 32 at s has its high bit set (ASCII). */
static inline int
ascii32(const unsigned char *s)
{
    uint64_t a, b, c, d;
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    memcpy(&c, s + 16, 8);
    memcpy(&d, s + 24, 8);
    return ((a | b | c | d) & 0x8080808080808080ULL) == 0;
}

/* Strict UTF-8, as Python's decoder (no overlongs, surrogates or code points over U+10FFFF). */
static inline int
valid_utf8(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n) {
        while (i + 32 <= n && ascii32(s + i))
            i += 32;
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

#endif
