/*
 * sortnet's precompiled circuit kernels: run any comparator schedule on the rows of
 * a C-contiguous array. Built at install time as the optional extension
 * sortnet.circuit._native and called through ctypes (sortnet/circuit/native.py), so
 * the first call on a new machine costs a library load, not a JIT compilation.
 *
 * Layout, as in the numba generic kernel (sortnet/circuit/generic.py): rows go in
 * blocks of BLOCK; a block is transposed into a private (n, BLOCK) buffer, each
 * comparator is then one loop over the block's rows (the compiler vectorises it into
 * packed compare-and-select instructions), and the output wires are copied back.
 *
 * Exactness: a comparator swaps its two values exactly when the second is smaller
 * (equal values, -0.0 against 0.0 included, stay where they are), so every output row
 * is a permutation of its input row's bit patterns; the argsort kernels also swap equal
 * values whose indices are out of order (a stable argsort). NaN has no consistent
 * answer: the float kernels look for it while loading a block and return the first
 * row that holds one (the caller raises); nothing is promised about the output then.
 *
 * Every exported function returns -1 on success, the (0-based) row of the first NaN,
 * or -2 when its buffer could not be allocated.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h> /* first, as Python.h asks; only the module init uses it */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 64

/* One copy of each kernel per instruction set, chosen when the library loads (GCC's
   function multi-versioning needs the GNU ifunc loader: x86-64 Linux). */
#if defined(SORTNET_NO_CLONES)
#define CLONES
#elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

#define SORTNET_ABI 2 /* 2: the byte-index argsort kernels (_argsort_bytes.c) */

int64_t sortnet_abi(void) { return SORTNET_ABI; }

/* The first row of X[0:rows] holding a NaN, or -1 (x != x only for NaN). */
#define DEFINE_FIND_NAN(SUF, T)                                                         \
    static int64_t find_nan_##SUF(const T *X, int64_t rows, int64_t n) {                \
        for (int64_t r = 0; r < rows; r++) {                                            \
            int bad = 0;                                                                \
            for (int64_t w = 0; w < n; w++) bad |= X[r * n + w] != X[r * n + w];        \
            if (bad) return r;                                                          \
        }                                                                               \
        return -1;                                                                      \
    }

/* A comparator over a block is a loop of whole 64-byte vectors, each a compare and two
   bitwise selects stored unconditionally: written as `a = swap ? y : x`, GCC turned the
   stores into a branch on "any lane swaps" per vector, mispredicted on random data
   (3-10x slower at n >= 24). */
/* Load a block of mr rows into the buffer (buf[w * BLOCK + r] = src[r * n + w]); for
   floats, first look for NaN in it: -1, or the block's first row holding one. */
#define DEFINE_LOAD(SUF, T, FLOAT)                                                      \
    static inline __attribute__((always_inline)) int64_t load_block_##SUF(              \
        const T *src, T *buf, int64_t mr, int64_t n) {                                  \
        if (FLOAT) {                                                                    \
            int bad = 0;                                                                \
            for (int64_t e = 0; e < mr * n; e++) bad |= src[e] != src[e];               \
            if (bad) return find_nan_##SUF(src, mr, n);                                 \
        }                                                                               \
        for (int64_t r = 0; r < mr; r++)                                                \
            for (int64_t w = 0; w < n; w++) buf[w * BLOCK + r] = src[r * n + w];        \
        return -1;                                                                      \
    }

#define DEFINE_VECTORS(SUF, T, BITS)                                                    \
    typedef T vec_##SUF __attribute__((vector_size(64), aligned(64)));                  \
    typedef BITS bits_##SUF __attribute__((vector_size(64), aligned(64)));

#define DEFINE_SORT(SUF, T, FLOAT)                                                      \
    static inline __attribute__((always_inline)) int64_t sort_body_##SUF(               \
        const T *X, T *Y, int64_t rows, int64_t n, const int64_t *pairs, int64_t m,     \
        const int64_t *outs, int64_t nout) {                                            \
        T *buf = aligned_alloc(64, (size_t)n * BLOCK * sizeof(T));                      \
        if (buf == NULL) return -2;                                                     \
        memset(buf, 0, (size_t)n * BLOCK * sizeof(T));                                  \
        for (int64_t r0 = 0; r0 < rows; r0 += BLOCK) {                                  \
            int64_t mr = rows - r0 < BLOCK ? rows - r0 : BLOCK;                         \
            const T *src = X + r0 * n;                                                  \
            int64_t nan = load_block_##SUF(src, buf, mr, n);                            \
            if (nan >= 0) {                                                             \
                free(buf);                                                              \
                return r0 + nan;                                                        \
            }                                                                           \
            for (int64_t c = 0; c < m; c++) {                                           \
                vec_##SUF *a = (vec_##SUF *)(buf + pairs[2 * c] * BLOCK);               \
                vec_##SUF *b = (vec_##SUF *)(buf + pairs[2 * c + 1] * BLOCK);           \
                for (size_t v = 0; v < BLOCK * sizeof(T) / 64; v++) {                   \
                    vec_##SUF x = a[v], y = b[v];                                       \
                    bits_##SUF swap = (bits_##SUF)(y < x);                              \
                    bits_##SUF xb = (bits_##SUF)x, yb = (bits_##SUF)y;                  \
                    a[v] = (vec_##SUF)((yb & swap) | (xb & ~swap));                     \
                    b[v] = (vec_##SUF)((xb & swap) | (yb & ~swap));                     \
                }                                                                       \
            }                                                                           \
            T *dst = Y + r0 * nout;                                                     \
            for (int64_t r = 0; r < mr; r++)                                            \
                for (int64_t p = 0; p < nout; p++)                                      \
                    dst[r * nout + p] = buf[outs[p] * BLOCK + r];                       \
        }                                                                               \
        free(buf);                                                                      \
        return -1;                                                                      \
    }

#define DEFINE_ARGSORT(SUF, T, FLOAT)                                                   \
    static inline __attribute__((always_inline)) int64_t argsort_body_##SUF(            \
        const T *X, int64_t *Y, int64_t rows, int64_t n, const int64_t *pairs,          \
        int64_t m, const int64_t *outs, int64_t nout) {                                 \
        T *buf = aligned_alloc(64, (size_t)n * BLOCK * sizeof(T));                      \
        int32_t *idx = aligned_alloc(64, (size_t)n * BLOCK * sizeof(int32_t));          \
        if (buf == NULL || idx == NULL) {                                               \
            free(buf);                                                                  \
            free(idx);                                                                  \
            return -2;                                                                  \
        }                                                                               \
        memset(buf, 0, (size_t)n * BLOCK * sizeof(T));                                  \
        for (int64_t r0 = 0; r0 < rows; r0 += BLOCK) {                                  \
            int64_t mr = rows - r0 < BLOCK ? rows - r0 : BLOCK;                         \
            const T *src = X + r0 * n;                                                  \
            int64_t nan = load_block_##SUF(src, buf, mr, n);                            \
            if (nan >= 0) {                                                             \
                free(buf);                                                              \
                free(idx);                                                              \
                return r0 + nan;                                                        \
            }                                                                           \
            for (int64_t w = 0; w < n; w++)                                             \
                for (int r = 0; r < BLOCK; r++) idx[w * BLOCK + r] = (int32_t)w;        \
            for (int64_t c = 0; c < m; c++) {                                           \
                T *restrict a = buf + pairs[2 * c] * BLOCK;                             \
                T *restrict b = buf + pairs[2 * c + 1] * BLOCK;                         \
                int32_t *restrict p = idx + pairs[2 * c] * BLOCK;                       \
                int32_t *restrict q = idx + pairs[2 * c + 1] * BLOCK;                   \
                for (int r = 0; r < BLOCK; r++) {                                       \
                    T x = a[r], y = b[r];                                               \
                    int32_t i = p[r], j = q[r];                                         \
                    int swap = (y < x) | ((y == x) & (j < i));                          \
                    a[r] = swap ? y : x;                                                \
                    b[r] = swap ? x : y;                                                \
                    p[r] = swap ? j : i;                                                \
                    q[r] = swap ? i : j;                                                \
                }                                                                       \
            }                                                                           \
            int64_t *dst = Y + r0 * nout;                                               \
            for (int64_t r = 0; r < mr; r++)                                            \
                for (int64_t k = 0; k < nout; k++)                                      \
                    dst[r * nout + k] = idx[outs[k] * BLOCK + r];                       \
        }                                                                               \
        free(buf);                                                                      \
        free(idx);                                                                      \
        return -1;                                                                      \
    }

/* A kernel specialised for one n: the compiler then unrolls the block transposes into
   vector shuffles (interleaved loads and stores), 1.3-2x faster at n <= 16 (measured
   on 1M float32 rows: n = 4 2.0 against 4.4 ms, n = 16 12.1 against 18.1 ms). */
#define CASE(KIND, SUF, N) \
    case N:                \
        if (nout == N) return KIND##_body_##SUF(X, Y, rows, N, pairs, m, outs, N); \
        break;
#define CASES(KIND, SUF)                                                                    \
    CASE(KIND, SUF, 2) CASE(KIND, SUF, 3) CASE(KIND, SUF, 4) CASE(KIND, SUF, 5)             \
    CASE(KIND, SUF, 6) CASE(KIND, SUF, 7) CASE(KIND, SUF, 8) CASE(KIND, SUF, 9)             \
    CASE(KIND, SUF, 10) CASE(KIND, SUF, 11) CASE(KIND, SUF, 12) CASE(KIND, SUF, 13)         \
    CASE(KIND, SUF, 14) CASE(KIND, SUF, 15) CASE(KIND, SUF, 16) CASE(KIND, SUF, 24)         \
    CASE(KIND, SUF, 32)

#define DEFINE_DISPATCH(KIND, SUF, T, OUT)                                                  \
    CLONES int64_t sortnet_##KIND##_##SUF(const T *X, OUT *Y, int64_t rows, int64_t n,      \
                                          const int64_t *pairs, int64_t m,                  \
                                          const int64_t *outs, int64_t nout) {              \
        switch (n) {                                                                        \
            CASES(KIND, SUF)                                                                \
            default:                                                                        \
                break;                                                                      \
        }                                                                                   \
        return KIND##_body_##SUF(X, Y, rows, n, pairs, m, outs, nout);                      \
    }

#define DEFINE_PLAIN(KIND, SUF, T, OUT)                                                     \
    CLONES int64_t sortnet_##KIND##_##SUF(const T *X, OUT *Y, int64_t rows, int64_t n,      \
                                          const int64_t *pairs, int64_t m,                  \
                                          const int64_t *outs, int64_t nout) {              \
        return KIND##_body_##SUF(X, Y, rows, n, pairs, m, outs, nout);                      \
    }

/* The common dtypes get the kernels specialised by n; the 8- and 16-bit integers and the
   unsigned ones get the general kernel only, which keeps the build under half a minute. */
#define DEFINE_KERNELS(SUF, T, BITS, FLOAT, DISPATCH) \
    DEFINE_VECTORS(SUF, T, BITS)                      \
    DEFINE_FIND_NAN(SUF, T)                           \
    DEFINE_LOAD(SUF, T, FLOAT)                        \
    DEFINE_SORT(SUF, T, FLOAT)                        \
    DEFINE_ARGSORT(SUF, T, FLOAT)                     \
    DISPATCH(sort, SUF, T, T)                         \
    DISPATCH(argsort, SUF, T, int64_t)

DEFINE_KERNELS(f4, float, uint32_t, 1, DEFINE_DISPATCH)
DEFINE_KERNELS(f8, double, uint64_t, 1, DEFINE_DISPATCH)
DEFINE_KERNELS(i4, int32_t, uint32_t, 0, DEFINE_DISPATCH)
DEFINE_KERNELS(i8, int64_t, uint64_t, 0, DEFINE_DISPATCH)
DEFINE_KERNELS(i1, int8_t, uint8_t, 0, DEFINE_PLAIN)
DEFINE_KERNELS(i2, int16_t, uint16_t, 0, DEFINE_PLAIN)
DEFINE_KERNELS(u1, uint8_t, uint8_t, 0, DEFINE_PLAIN)
DEFINE_KERNELS(u2, uint16_t, uint16_t, 0, DEFINE_PLAIN)
DEFINE_KERNELS(u4, uint32_t, uint32_t, 0, DEFINE_PLAIN)
DEFINE_KERNELS(u8, uint64_t, uint64_t, 0, DEFINE_PLAIN)

/* A CPython extension module must define its init function; the kernels are reached
   through ctypes, so the module itself is empty. */
static struct PyModuleDef native_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "sortnet's precompiled circuit kernels (reached through ctypes)",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&native_module); }
