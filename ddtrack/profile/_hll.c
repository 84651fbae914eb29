/*
 * HyperLogLog registers of a numeric column in one pass, the GIL released.
 *
 * Why: numpy builds the registers in about eight passes over each block of values (the
 * float64 copy, splitmix64's six steps, the rank) and a scatter (np.maximum.at).  On a
 * whole column it can skip the scatter for all but the few high-rank hashes; on the
 * small chunks of a streamed profile (files, Spark partitions, SQL batches) it cannot,
 * and the registers were 40 % of such a profile's CPU.  Here each value is hashed and
 * scattered in registers, about 1 ns a value.
 *
 * The hashes and registers are exactly those of ddtrack/profile/_sketch.py's numpy path
 * (tests/unit/test_hll_kernel.py checks them against each other):
 *   numbers: the bits of the float64 value + 0.0 (so 1 and 1.0 agree, -0.0 is 0.0);
 *   int64 words times a scale (datetime ticks to nanoseconds), wrapping on overflow;
 * then the splitmix64 finaliser; register = low 12 bits, rank = leading zeros of the
 * high 52 bits + 1 (53 when they are all zero).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define P 12
#define M (1u << P)

enum { FLOAT64 = 0, INT64_AS_NUMBER = 1, INT64_SCALED = 2 };

static inline uint64_t splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline int leading_zeros64(uint64_t x) {  /* x != 0 */
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_clzll(x);
#else
    int n = 0;
    while (!(x & 0x8000000000000000ULL)) { x <<= 1; n++; }
    return n;
#endif
}

static inline void add_hash(uint8_t *reg, uint64_t h) {
    uint64_t high = h >> P;
    uint8_t rank = high ? (uint8_t)(leading_zeros64(high) - P + 1) : (uint8_t)(64 - P + 1);
    uint8_t *r = reg + (h & (M - 1));
    if (rank > *r) *r = rank;
}

static inline uint64_t bits_of(double d) {
    uint64_t u;
    d += 0.0;  /* -0.0 + 0.0 == +0.0 */
    memcpy(&u, &d, 8);
    return u;
}

static void add_values(uint8_t *reg, const void *data, Py_ssize_t n, int kind, int64_t scale) {
    if (kind == FLOAT64) {
        const double *v = (const double *)data;
        for (Py_ssize_t i = 0; i < n; i++) add_hash(reg, splitmix64(bits_of(v[i])));
    } else if (kind == INT64_AS_NUMBER) {
        const int64_t *v = (const int64_t *)data;
        for (Py_ssize_t i = 0; i < n; i++) add_hash(reg, splitmix64(bits_of((double)v[i])));
    } else {
        const uint64_t *v = (const uint64_t *)data;  /* unsigned: the product wraps as numpy's */
        const uint64_t s = (uint64_t)scale;
        for (Py_ssize_t i = 0; i < n; i++) add_hash(reg, splitmix64(v[i] * s));
    }
}

PyDoc_STRVAR(update_doc,
"update(values, kind, scale, registers)\n\n"
"Add the hashes of ``values`` (a contiguous buffer of 8-byte words) to ``registers`` (a\n"
"writable buffer of 4096 bytes), keeping each register's maximum rank.  ``kind``: 0 for\n"
"float64 values, 1 for int64 values hashed as numbers, 2 for int64 words times ``scale``.");

static PyObject *update(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer values, registers;
    int kind;
    long long scale;
    if (!PyArg_ParseTuple(args, "y*iLw*", &values, &kind, &scale, &registers)) return NULL;
    PyObject *out = NULL;
    if (kind < FLOAT64 || kind > INT64_SCALED) {
        PyErr_SetString(PyExc_ValueError, "kind must be 0, 1 or 2");
    } else if (values.len % 8) {
        PyErr_SetString(PyExc_ValueError, "values must be 8-byte words");
    } else if (registers.len != M) {
        PyErr_SetString(PyExc_ValueError, "registers must be 4096 bytes");
    } else {
        Py_BEGIN_ALLOW_THREADS
        add_values((uint8_t *)registers.buf, values.buf, values.len / 8, kind, (int64_t)scale);
        Py_END_ALLOW_THREADS
        out = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&values);
    PyBuffer_Release(&registers);
    return out;
}

static PyMethodDef methods[] = {
    {"update", update, METH_VARARGS, update_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_hll",
    .m_doc = "HyperLogLog registers of numeric columns (see _hll.c).",
    .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__hll(void) { return PyModule_Create(&module); }
