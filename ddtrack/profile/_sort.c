/*
 * Sorting a numeric column by its bits, into a new buffer or in place: a least-significant-
 * digit radix sort of 8-byte words, the GIL released.
 *
 * Why: the profile's exact path (quantiles, histogram, distinct count from one sorted
 * copy) and the exact checks (``unique``) sort whole columns, and numpy's sort is fast only
 * where its SIMD sort is dispatched: on an AMD Zen 4 numpy 2.4 sorts 1M int64 in about 52 ms,
 * where this sorts them in 8-17 ms (2 to 7 passes of 10 bits; a pass is skipped when every
 * value has the same digit there, so ids and small integers take 2-3 passes).
 *
 * The order is numpy's: integers as numbers; floats as numbers with -inf first, +inf then
 * NaN last (NaNs keep their payload, their sign is dropped so that all of them sort last),
 * -0.0 before +0.0 (numpy holds them equal, so either order is sorted to it).
 * tests/unit/test_sort_kernel.py checks the result against np.sort.  _native.py uses it only
 * where it measures faster than numpy's sort (once per process).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DIGIT_BITS 10
#define BUCKETS (1u << DIGIT_BITS)
#define PASSES 7 /* 7 x 10 bits cover 64 (11-bit digits ran twice as slow at 1M rows: 2,048 write streams thrash the TLB) */

enum { FLOAT64 = 0, INT64 = 1 };

static const uint64_t SIGN = 0x8000000000000000ULL;
static const uint64_t EXPONENT = 0x7FF0000000000000ULL;
static const uint64_t MANTISSA = 0x000FFFFFFFFFFFFFULL;

/* Bits of a float64 that order as unsigned integers as the floats do (NaN after +inf). */
static inline uint64_t float_key(uint64_t u) {
    if ((u & EXPONENT) == EXPONENT && (u & MANTISSA)) u &= ~SIGN; /* NaN: sorts last */
    return (u & SIGN) ? ~u : (u | SIGN);
}

static inline uint64_t float_from_key(uint64_t k) { return (k & SIGN) ? (k & ~SIGN) : ~k; }

static inline uint64_t key_of(uint64_t u, int kind) { return kind == FLOAT64 ? float_key(u) : u ^ SIGN; }

static inline uint64_t value_of(uint64_t k, int kind) { return kind == FLOAT64 ? float_from_key(k) : k ^ SIGN; }

static inline unsigned digit_of(uint64_t k, int pass) { return (unsigned)(k >> (pass * DIGIT_BITS)) & (BUCKETS - 1); }

/* Sort the n words of ``in`` into ``out`` (which may be ``in``); ``tmp``: n words of scratch,
 * ``counts``: PASSES x BUCKETS zeroed counters.
 *
 * One pass counts every digit of every key; then each digit that is not the same for all
 * keys is one scatter pass.  The first scatter reads the values and makes their keys on the
 * fly, the last writes values back from keys, and the buffers alternate so that the last
 * pass lands in ``out``: no pass of its own for making keys, undoing them or copying. */
static void radix_sort(const uint64_t *in, uint64_t *out, uint64_t *tmp, Py_ssize_t n, int kind,
                       size_t (*counts)[BUCKETS]) {
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t k = key_of(in[i], kind);
        for (int p = 0; p < PASSES; p++) counts[p][digit_of(k, p)]++;
    }
    int passes[PASSES], m = 0;
    const uint64_t first_key = key_of(in[0], kind);
    for (int p = 0; p < PASSES; p++)
        if (counts[p][digit_of(first_key, p)] != (size_t)n) passes[m++] = p; /* else nothing moves */
    if (m == 0) { /* every key equal: the values as they are (a NaN's sign dropped) */
        for (Py_ssize_t i = 0; i < n; i++) out[i] = value_of(key_of(in[i], kind), kind);
        return;
    }
    /* Destinations alternate A, B, A, ...: the last one (the m-th) must be ``out``.  The first
     * pass may not write where it reads, so sorting in place with m odd ends in ``tmp``. */
    const int in_place = in == out;
    uint64_t *a = (m % 2 == 1 && !in_place) ? out : tmp;
    uint64_t *b = a == out ? tmp : out;
    const uint64_t *src = in;
    for (int j = 0; j < m; j++) {
        const int p = passes[j], first = j == 0, last = j == m - 1;
        uint64_t *dst = (j % 2 == 0) ? a : b;
        size_t *c = counts[p], at = 0;
        for (unsigned d = 0; d < BUCKETS; d++) {
            size_t here = c[d];
            c[d] = at;
            at += here;
        }
        if (first && last) {
            for (Py_ssize_t i = 0; i < n; i++) {
                uint64_t k = key_of(src[i], kind);
                dst[c[digit_of(k, p)]++] = value_of(k, kind);
            }
        } else if (first) {
            for (Py_ssize_t i = 0; i < n; i++) {
                uint64_t k = key_of(src[i], kind);
                dst[c[digit_of(k, p)]++] = k;
            }
        } else if (last) {
            for (Py_ssize_t i = 0; i < n; i++) {
                uint64_t k = src[i];
                dst[c[digit_of(k, p)]++] = value_of(k, kind);
            }
        } else {
            for (Py_ssize_t i = 0; i < n; i++) {
                uint64_t k = src[i];
                dst[c[digit_of(k, p)]++] = k;
            }
        }
        src = dst;
    }
    if (src != out) memcpy(out, src, (size_t)n * sizeof *out);
}

PyDoc_STRVAR(sort_doc,
"sort(values, out, kind)\n\n"
"Write ``values`` (a contiguous buffer of 8-byte words) sorted in numpy's order into ``out``\n"
"(a writable buffer of the same size; it may be ``values`` itself, to sort in place):\n"
"``kind`` 0 for float64 (NaN last), 1 for int64.");

static PyObject *sort(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer values, out;
    int kind;
    if (!PyArg_ParseTuple(args, "y*w*i", &values, &out, &kind)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = values.len / 8;
    uint64_t *tmp = NULL;
    size_t (*counts)[BUCKETS] = NULL;
    if (kind != FLOAT64 && kind != INT64) {
        PyErr_SetString(PyExc_ValueError, "kind must be 0 (float64) or 1 (int64)");
    } else if (values.len % 8) {
        PyErr_SetString(PyExc_ValueError, "values must be 8-byte words");
    } else if (out.len != values.len) {
        PyErr_SetString(PyExc_ValueError, "out must be as long as values");
    } else if (n == 0) {
        result = Py_NewRef(Py_None);
    } else if ((tmp = malloc((size_t)n * sizeof *tmp)) == NULL
               || (counts = calloc(PASSES, sizeof *counts)) == NULL) {
        PyErr_NoMemory();
    } else {
        const uint64_t *in = (const uint64_t *)values.buf;
        uint64_t *dst = (uint64_t *)out.buf;
        Py_BEGIN_ALLOW_THREADS
        radix_sort(in, dst, tmp, n, kind, counts);
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
    free(tmp);
    free(counts);
    PyBuffer_Release(&values);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"sort", sort, METH_VARARGS, sort_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_sort",
    .m_doc = "Radix sort of numeric columns in numpy's order (see _sort.c).",
    .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__sort(void) { return PyModule_Create(&module); }
