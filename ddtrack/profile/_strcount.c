/*
 * Exact distinct-value counts of an Arrow string column, read in Arrow's own buffers.
 *
 * Why: Arrow's hash kernels (value_counts, Acero's group-by) cost 7-12 ms of CPU per
 * million short strings, twice what pandas needs to count object cells by identity.
 * Most string columns in data pipelines are short (codes, labels, ids), and a string of
 * at most 16 bytes is fully determined by its length and two overlapping word loads, so
 * it is keyed and compared by those words without touching its bytes again.  Longer
 * strings are hashed and compared with memcmp against their first occurrence.  Every
 * count is exact.
 *
 * The GIL is released while counting, so several columns count on several cores.
 * Layouts: string / large_string (32- or 64-bit offsets) and string_view.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t a, b;     /* short: the key words; long: hash of all bytes, first word */
    uint32_t len;      /* byte length */
    uint32_t group;    /* index of the group + 1; 0 marks an empty slot */
    int64_t count;     /* kept in the slot: a hit touches one cache line */
} Slot;

typedef struct {
    Slot *slots;
    int bits;          /* log2(number of slots) */
    int64_t *first;    /* row of each group's first occurrence */
    size_t groups, groups_cap;
} Table;

#define SHORT 16       /* strings up to this many bytes are keyed by their words */

static inline uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static inline uint64_t fmix64(uint64_t k) {
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

/* Multiply-accumulate over the words, one final mix (quality only affects speed:
 * equal hashes are confirmed with memcmp). */
static inline uint64_t long_hash(const uint8_t *p, uint32_t len) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) h = (h ^ load64(p + i)) * 0xff51afd7ed558ccdULL;
    if (i < len) h = (h ^ load64(p + len - 8)) * 0xc4ceb9fe1a85ec53ULL;
    return fmix64(h);
}

/* The key of a string: for at most SHORT bytes, words that (with the length) determine it. */
static inline void key_of(const uint8_t *p, uint32_t len, uint64_t *a, uint64_t *b) {
    if (len >= 8 && len <= SHORT) {
        *a = load64(p); *b = load64(p + len - 8);
    } else if (len > SHORT) {
        *a = long_hash(p, len); *b = load64(p);
    } else if (len >= 4) {
        *a = load32(p); *b = load32(p + len - 4);
    } else if (len > 0) {
        *a = (uint64_t)p[0] | ((uint64_t)p[len / 2] << 8) | ((uint64_t)p[len - 1] << 16); *b = 0;
    } else {
        *a = 0; *b = 0;
    }
}

/* Slot of a key: one multiply, the top bits (Fibonacci hashing); collisions only cost a probe. */
static inline size_t slot_of(uint64_t a, uint64_t b, uint32_t len, int bits) {
    uint64_t h = a ^ ((b << 31) | (b >> 33)) ^ ((uint64_t)len << 58);
    return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> (64 - bits));
}

static int table_init(Table *t) {
    t->bits = 8;
    t->slots = calloc((size_t)1 << t->bits, sizeof(Slot));
    t->groups = 0;
    t->groups_cap = 256;
    t->first = malloc(t->groups_cap * sizeof(int64_t));
    return t->slots && t->first ? 0 : -1;
}

static void table_free(Table *t) { free(t->slots); free(t->first); }

/* Double the slots; keys are re-placed from the stored words, not the strings. */
static int table_grow(Table *t) {
    int bits = t->bits + 1;
    size_t old = (size_t)1 << t->bits, mask = ((size_t)1 << bits) - 1;
    Slot *slots = calloc(mask + 1, sizeof(Slot));
    if (!slots) return -1;
    for (size_t i = 0; i < old; i++) {
        Slot s = t->slots[i];
        if (!s.group) continue;
        size_t j = slot_of(s.a, s.b, s.len, bits);
        while (slots[j].group) j = (j + 1) & mask;
        slots[j] = s;
    }
    free(t->slots);
    t->slots = slots;
    t->bits = bits;
    return 0;
}

/* A new group in the empty slot `s` (the slow path: not inlined into the loops). */
static int __attribute__((noinline)) insert(Table *t, Slot *s, uint64_t a, uint64_t b, uint32_t len, int64_t row) {
    if (t->groups == t->groups_cap) {
        size_t cap = t->groups_cap * 2;
        int64_t *first = realloc(t->first, cap * sizeof(int64_t));
        if (!first) return -1;
        t->first = first;
        t->groups_cap = cap;
    }
    t->first[t->groups++] = row;
    s->a = a; s->b = b; s->len = len; s->group = (uint32_t)t->groups; s->count = 1;
    if (t->groups * 2 > ((size_t)1 << t->bits)) return table_grow(t);
    return 0;
}

static inline int is_valid(const uint8_t *validity, int64_t i) {
    return (validity[i >> 3] >> (i & 7)) & 1;
}

/*
 * The counting loop, shared by the layouts through two inline accessors: LOCATE(row, &len)
 * gives a row's bytes (NULL when its buffers are inconsistent), and the same call on a
 * group's first row gives the bytes a long string is compared with.  The table's fields
 * live in locals so that the hot path keeps them in registers.
 * Returns 0, -1 (out of memory) or -2 (inconsistent buffers).
 */
#define COUNT_ROWS(t, validity, offset, length, nulls, LOCATE)                           \
    do {                                                                                 \
        Slot *slots_ = (t)->slots;                                                       \
        int bits_ = (t)->bits;                                                           \
        size_t mask_ = ((size_t)1 << bits_) - 1;                                         \
        for (int64_t row = (offset); row < (offset) + (length); row++) {                 \
            if ((validity) && !is_valid((validity), row)) { (*(nulls))++; continue; }    \
            uint32_t len;                                                                \
            const uint8_t *p = LOCATE(row, &len);                                        \
            if (!p) return -2;                                                           \
            uint64_t a, b;                                                               \
            key_of(p, len, &a, &b);                                                      \
            size_t j = slot_of(a, b, len, bits_);                                        \
            Slot *s;                                                                     \
            for (;; j = (j + 1) & mask_) {                                               \
                s = &slots_[j];                                                          \
                if (!s->group) break;                                                    \
                if (s->a == a && s->b == b && s->len == len) {                           \
                    if (len <= SHORT) break;                                             \
                    uint32_t other_len;                                                  \
                    const uint8_t *other = LOCATE((t)->first[s->group - 1], &other_len); \
                    if (memcmp(other, p, len) == 0) break;                               \
                }                                                                        \
            }                                                                            \
            if (s->group) { s->count++; continue; }                                      \
            if (insert((t), s, a, b, len, row) < 0) return -1;                           \
            slots_ = (t)->slots; bits_ = (t)->bits; mask_ = ((size_t)1 << bits_) - 1;    \
        }                                                                                \
        return 0;                                                                        \
    } while (0)

/* ---------------------------------------------------------------- offsets layouts */
static inline int64_t offset_at(const uint8_t *offsets, int64_t i, int wide) {
    if (wide) { int64_t o; memcpy(&o, offsets + 8 * i, 8); return o; }
    int32_t o; memcpy(&o, offsets + 4 * i, 4); return o;
}

static inline const uint8_t *offsets_bytes(const uint8_t *offsets, const uint8_t *data, Py_ssize_t data_len,
                                           int wide, int64_t row, uint32_t *len) {
    int64_t lo = offset_at(offsets, row, wide), hi = offset_at(offsets, row + 1, wide);
    if (lo < 0 || hi < lo || hi > data_len || hi - lo > (int64_t)UINT32_MAX) return NULL;
    *len = (uint32_t)(hi - lo);
    return data + lo;
}

/* One specialised copy per (offset width, validity present): the flags are constants. */
static inline __attribute__((always_inline)) int offsets_rows(
        Table *t, const uint8_t *offsets, const uint8_t *data, Py_ssize_t data_len, int wide,
        const uint8_t *validity, int64_t offset, int64_t length, int64_t *nulls) {
#define LOCATE_OFFSETS(row, len) offsets_bytes(offsets, data, data_len, wide, (row), (len))
    COUNT_ROWS(t, validity, offset, length, nulls, LOCATE_OFFSETS);
#undef LOCATE_OFFSETS
}

/* ---------------------------------------------------------------- string_view layout */
static inline const uint8_t *view_bytes(const uint8_t *views, const uint8_t *const *buffers,
                                        const Py_ssize_t *sizes, Py_ssize_t n_buffers,
                                        int64_t row, uint32_t *len) {
    const uint8_t *v = views + 16 * row;
    int32_t l; memcpy(&l, v, 4);
    if (l < 0) return NULL;
    *len = (uint32_t)l;
    if (l <= 12) return v + 4;  /* inline */
    int32_t buf, off; memcpy(&buf, v + 8, 4); memcpy(&off, v + 12, 4);
    if (buf < 0 || buf >= n_buffers || off < 0 || (int64_t)off + l > sizes[buf]) return NULL;
    return buffers[buf] + off;
}

static inline __attribute__((always_inline)) int views_rows(
        Table *t, const uint8_t *views, const uint8_t *const *buffers, const Py_ssize_t *sizes,
        Py_ssize_t n_buffers, const uint8_t *validity, int64_t offset, int64_t length, int64_t *nulls) {
#define LOCATE_VIEWS(row, len) view_bytes(views, buffers, sizes, n_buffers, (row), (len))
    COUNT_ROWS(t, validity, offset, length, nulls, LOCATE_VIEWS);
#undef LOCATE_VIEWS
}

/* ---------------------------------------------------------------- Python entry points */
/* Where a group's string lies (found again from its first row after counting). */
typedef struct { const uint8_t *p; uint32_t len; } Span;

/* (value offsets, value data, counts, nulls): the distinct strings as the buffers of an
 * Arrow large_string array, in order of first occurrence, and their counts. */
static PyObject *result(Table *t, const Span *spans, int64_t nulls) {
    size_t n = t->groups, total = 0;
    for (size_t g = 0; g < n; g++) total += spans[g].len;
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (n + 1) * sizeof(int64_t));
    PyObject *data = PyBytes_FromStringAndSize(NULL, total);
    PyObject *count = PyBytes_FromStringAndSize(NULL, n * sizeof(int64_t));
    PyObject *out = NULL;
    if (offsets && data && count) {
        int64_t *o = (int64_t *)PyBytes_AS_STRING(offsets), *c = (int64_t *)PyBytes_AS_STRING(count);
        char *d = PyBytes_AS_STRING(data);
        o[0] = 0;
        for (size_t g = 0; g < n; g++) {
            if (spans[g].len) memcpy(d + o[g], spans[g].p, spans[g].len);
            o[g + 1] = o[g] + spans[g].len;
        }
        for (size_t i = 0; i < ((size_t)1 << t->bits); i++)
            if (t->slots[i].group) c[t->slots[i].group - 1] = t->slots[i].count;
        out = Py_BuildValue("(OOOL)", offsets, data, count, (long long)nulls);
    }
    Py_XDECREF(offsets); Py_XDECREF(data); Py_XDECREF(count);
    return out;
}

/* Raise the Python error for a counting loop's failure; the result otherwise. */
static PyObject *finish(Table *t, const Span *spans, int failed, int64_t nulls, const char *bad) {
    if (failed == -2) { PyErr_SetString(PyExc_ValueError, bad); return NULL; }
    if (failed == -1 || !spans) return PyErr_NoMemory();
    return result(t, spans, nulls);
}

/* The spans of the groups' strings; NULL when out of memory.  Runs after a successful
 * count, so every first row has been located once already. */
#define GROUP_SPANS(t, spans, LOCATE)                                                   \
    do {                                                                                \
        (spans) = malloc(((t)->groups ? (t)->groups : 1) * sizeof(Span));              \
        for (size_t g = 0; (spans) && g < (t)->groups; g++)                             \
            (spans)[g].p = LOCATE((t)->first[g], &(spans)[g].len);                      \
    } while (0)

static int check_range(long long offset, long long length) {
    if (offset < 0 || offset > (1LL << 48) || length < 0 || length >= UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "offset or length out of range");
        return -1;
    }
    return 0;
}

static int get_validity(PyObject *obj, Py_buffer *view, int64_t bits_needed) {
    view->buf = NULL;
    if (obj == Py_None) return 0;
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) { view->buf = NULL; return -1; }
    if (view->len * 8 < bits_needed) {
        PyBuffer_Release(view); view->buf = NULL;
        PyErr_SetString(PyExc_ValueError, "validity bitmap too short");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(count_offsets_doc,
"count_offsets(offsets, data, validity, offset, length, wide)\n"
"    -> (value_offsets, value_data, counts, nulls)\n\n"
"Distinct strings of an Arrow string (wide=False) or large_string (wide=True) array, as\n"
"the offsets (int64) and data buffers of a large_string array in order of first\n"
"occurrence, and their counts (int64 bytes).  validity is the bitmap buffer or None.");

static PyObject *count_offsets(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *offsets_obj, *data_obj, *validity_obj, *out = NULL;
    long long offset, length;
    int wide;
    if (!PyArg_ParseTuple(args, "OOOLLp", &offsets_obj, &data_obj, &validity_obj, &offset, &length, &wide))
        return NULL;
    if (check_range(offset, length) < 0) return NULL;
    Py_buffer off_buf, data_buf, valid_buf;
    if (PyObject_GetBuffer(offsets_obj, &off_buf, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(data_obj, &data_buf, PyBUF_SIMPLE) < 0) { PyBuffer_Release(&off_buf); return NULL; }
    if (get_validity(validity_obj, &valid_buf, offset + length) < 0) goto release;
    if (off_buf.len < (offset + length + 1) * (wide ? 8 : 4)) {
        PyErr_SetString(PyExc_ValueError, "offsets buffer too short");
        goto release;
    }
    Table t;
    if (table_init(&t) < 0) { table_free(&t); PyErr_NoMemory(); goto release; }
    int failed;
    int64_t nulls = 0;
    Span *spans = NULL;
    const uint8_t *offsets = off_buf.buf, *data = data_buf.buf, *validity = valid_buf.buf;
    Py_ssize_t data_len = data_buf.len;
    Py_BEGIN_ALLOW_THREADS
    if (wide)
        failed = validity ? offsets_rows(&t, offsets, data, data_len, 1, validity, offset, length, &nulls)
                          : offsets_rows(&t, offsets, data, data_len, 1, NULL, offset, length, &nulls);
    else
        failed = validity ? offsets_rows(&t, offsets, data, data_len, 0, validity, offset, length, &nulls)
                          : offsets_rows(&t, offsets, data, data_len, 0, NULL, offset, length, &nulls);
#define LOCATE_OFFSETS(row, len) offsets_bytes(offsets, data, data_len, wide, (row), (len))
    if (!failed) GROUP_SPANS(&t, spans, LOCATE_OFFSETS);
#undef LOCATE_OFFSETS
    Py_END_ALLOW_THREADS
    out = finish(&t, spans, failed, nulls, "offsets point outside the data buffer");
    free(spans);
    table_free(&t);
release:
    PyBuffer_Release(&off_buf); PyBuffer_Release(&data_buf);
    if (valid_buf.buf) PyBuffer_Release(&valid_buf);
    return out;
}

PyDoc_STRVAR(count_views_doc,
"count_views(views, buffers, validity, offset, length)\n"
"    -> (value_offsets, value_data, counts, nulls)\n\n"
"Distinct strings of an Arrow string_view array (16-byte views, `buffers` the variadic\n"
"data buffers); same result as count_offsets.");

static PyObject *count_views(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *views_obj, *buffers_obj, *validity_obj, *out = NULL;
    long long offset, length;
    if (!PyArg_ParseTuple(args, "OOOLL", &views_obj, &buffers_obj, &validity_obj, &offset, &length))
        return NULL;
    if (check_range(offset, length) < 0) return NULL;
    PyObject *seq = PySequence_Fast(buffers_obj, "buffers must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t nb = PySequence_Fast_GET_SIZE(seq), got = 0;
    Py_buffer views_buf, valid_buf;
    Py_buffer *bufs = PyMem_Calloc(nb ? nb : 1, sizeof(Py_buffer));
    const uint8_t **ptrs = PyMem_Calloc(nb ? nb : 1, sizeof(uint8_t *));
    Py_ssize_t *sizes = PyMem_Calloc(nb ? nb : 1, sizeof(Py_ssize_t));
    views_buf.buf = NULL; valid_buf.buf = NULL;
    if (!bufs || !ptrs || !sizes) { PyErr_NoMemory(); goto release; }
    for (; got < nb; got++) {
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(seq, got), &bufs[got], PyBUF_SIMPLE) < 0) goto release;
        ptrs[got] = bufs[got].buf; sizes[got] = bufs[got].len;
    }
    if (PyObject_GetBuffer(views_obj, &views_buf, PyBUF_SIMPLE) < 0) { views_buf.buf = NULL; goto release; }
    if (views_buf.len < (offset + length) * 16) {
        PyErr_SetString(PyExc_ValueError, "views buffer too short"); goto release;
    }
    if (get_validity(validity_obj, &valid_buf, offset + length) < 0) goto release;
    Table t;
    if (table_init(&t) < 0) { table_free(&t); PyErr_NoMemory(); goto release; }
    int failed;
    int64_t nulls = 0;
    Span *spans = NULL;
    const uint8_t *views = views_buf.buf, *validity = valid_buf.buf;
    Py_BEGIN_ALLOW_THREADS
    failed = validity ? views_rows(&t, views, ptrs, sizes, nb, validity, offset, length, &nulls)
                      : views_rows(&t, views, ptrs, sizes, nb, NULL, offset, length, &nulls);
#define LOCATE_VIEWS(row, len) view_bytes(views, ptrs, sizes, nb, (row), (len))
    if (!failed) GROUP_SPANS(&t, spans, LOCATE_VIEWS);
#undef LOCATE_VIEWS
    Py_END_ALLOW_THREADS
    out = finish(&t, spans, failed, nulls, "a view points outside its data buffers");
    free(spans);
    table_free(&t);
release:
    for (Py_ssize_t k = 0; k < got; k++) PyBuffer_Release(&bufs[k]);
    if (views_buf.buf) PyBuffer_Release(&views_buf);
    if (valid_buf.buf) PyBuffer_Release(&valid_buf);
    PyMem_Free(bufs); PyMem_Free(ptrs); PyMem_Free(sizes);
    Py_DECREF(seq);
    return out;
}

static PyMethodDef methods[] = {
    {"count_offsets", count_offsets, METH_VARARGS, count_offsets_doc},
    {"count_views", count_views, METH_VARARGS, count_views_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_strcount",
    .m_doc = "Exact distinct-value counts of Arrow string columns (see _strcount.c).",
    .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__strcount(void) { return PyModule_Create(&module); }
