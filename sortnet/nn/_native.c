/*
 * sortnet's precompiled model kernel: run any compiled model, given as the sparse
 * program of sortnet/nn/program.py, on the rows of a C-contiguous array. Built at
 * install time as the optional extension sortnet.nn._native and called through ctypes
 * (sortnet/nn/native.py), so no model and no dtype costs a JIT compilation.
 *
 * Layout, as in the numba generic kernel (sortnet/nn/generic.py): rows go in blocks of
 * BLOCK; a block is transposed into a private (width, BLOCK) buffer S (the model's
 * inputs are rows 0..n-1), every unit is then computed for the whole block, and the
 * output rows are copied back. A unit's BLOCK accumulators are GCC vector values
 * (vectors of the instruction set's width, in strips of at most 8 vectors, kept in
 * registers while the unit's terms are added), so each term is one packed multiply
 * and one packed add per vector, with no load or store of the accumulators; bias,
 * activation and one store per vector follow. A unit flagged NEGATED_NEXT and the
 * next unit, which has the same terms with every weight negated (relu(z), relu(-z)),
 * are computed in one pass: one product per term, added to one sum and subtracted
 * from the other. There is one copy of the kernel per
 * instruction set (AVX-512, AVX2, baseline), chosen at each call from the CPU's
 * features, and the block transposes have copies for common constant widths.
 *
 * Exactness: the arithmetic is the numba generic kernel's, operation for operation
 * (the paired unit's x * -w is -(x * w) and a + -b is a - b, both exactly):
 * the products of a unit's terms added left to right in term order, the bias last,
 * no fused multiply-add (the file must be compiled with -ffp-contract=off, and
 * without -ffast-math), and activations with the same comparisons (relu keeps -0.0
 * as numba's max(z, 0) does; on x86 it is the max instruction, which computes exactly
 * that). identity, abs, relu, step and indicator are therefore
 * bit-identical to it; softplus calls the C library's expf/exp and log1pf/log1p.
 *
 * Input check, fused into the block loads: a value that is NaN or outside
 * [-limit, limit] (the executor's limit: the model's bound or the overflow margin)
 * stops the kernel before its block runs. Every exported function returns -1 on
 * success, the (0-based) row of the first such value (the caller raises), or -2
 * when its buffer could not be allocated.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h> /* first, as Python.h asks; only the module init uses it */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__GNUC__)
#error "sortnet/nn/_native.c needs GCC or clang vector extensions"
#endif

/* Rows per block. */
#define BLOCK 64

#define SORTNET_ABI 1

int64_t sortnet_abi(void) { return SORTNET_ABI; }

/* Activation codes (sortnet/nn/program.py CODES). */
enum { IDENTITY, ABS, RELU, STEP, INDICATOR, SOFTPLUS };

#define INLINE static inline __attribute__((always_inline))

/* The kernel for element type T and VBYTES-byte vectors (the instruction set's width,
   so each vector operation is one instruction), as the function model_SUF_ISA. VI is
   the integer type of T's width, MAG its magnitude mask. A block row is NV vectors;
   a unit is computed in strips of NS vectors (at most 8, so a strip's accumulators
   and the loaded row fit in the 16 registers of AVX2), each strip's accumulators in
   registers while the unit's terms are added. */
#define DEFINE_MODEL(SUF, ISA, ATTR, VBYTES, T, VI, MAG, FABS, EXPF, LOG1PF, MAX0)          \
    typedef T V_##SUF##_##ISA __attribute__((vector_size(VBYTES)));                       \
    typedef VI VI_##SUF##_##ISA __attribute__((vector_size(VBYTES)));                     \
    ATTR static __attribute__((noinline)) void units_##SUF##_##ISA(                       \
        T *restrict S, const int64_t *restrict units, int64_t nunits,                     \
        const uint8_t *restrict biased, const T *restrict bias,                           \
        const int64_t *restrict terms, const T *restrict weights) {                       \
        typedef V_##SUF##_##ISA V;                                                        \
        typedef VI_##SUF##_##ISA VJ;                                                      \
        enum { NV = BLOCK * (int)sizeof(T) / VBYTES, NS = NV < 8 ? NV : 8 };              \
        const V zero = {0}, one = zero + 1;                                               \
        const VJ mag = (VJ){0} + MAG;                                                     \
        V *Sv = (V *)S;                                                                   \
        for (int64_t u = 0; u < nunits; u++) {                                            \
            const int64_t target = units[4 * u], first = units[4 * u + 1];                \
            const int64_t stop = units[4 * u + 2], code = units[4 * u + 3] & 7;           \
            const int pair = (units[4 * u + 3] & NEGATED_NEXT) != 0;                      \
            for (int s = 0; s < NV; s += NS) {                                            \
                V acc[NS], neg[NS];                                                       \
                if (first == stop) {                                                      \
                    for (int k = 0; k < NS; k++) acc[k] = neg[k] = zero;                  \
                } else if (pair) { /* unit u + 1 = unit u negated: -(x * w) == x * -w */  \
                    const V *row = Sv + terms[first] * NV + s;                            \
                    const T weight = weights[first];                                      \
                    for (int k = 0; k < NS; k++) {                                        \
                        acc[k] = row[k] * weight;                                         \
                        neg[k] = -acc[k];                                                 \
                    }                                                                     \
                    for (int64_t t = first + 1; t < stop; t++) {                          \
                        const V *other = Sv + terms[t] * NV + s;                          \
                        const T w = weights[t];                                           \
                        for (int k = 0; k < NS; k++) {                                    \
                            V product = other[k] * w;                                     \
                            acc[k] = acc[k] + product;                                    \
                            neg[k] = neg[k] - product; /* a - b is a + -b, exactly */     \
                        }                                                                 \
                    }                                                                     \
                } else {                                                                  \
                    const V *row = Sv + terms[first] * NV + s;                            \
                    const T weight = weights[first];                                      \
                    for (int k = 0; k < NS; k++) acc[k] = row[k] * weight;                \
                    for (int64_t t = first + 1; t < stop; t++) {                          \
                        const V *other = Sv + terms[t] * NV + s;                          \
                        const T w = weights[t];                                           \
                        for (int k = 0; k < NS; k++) acc[k] = acc[k] + other[k] * w;      \
                    }                                                                     \
                }                                                                         \
                FINISH(acc, u, code, target, MAX0, FABS, EXPF, LOG1PF);                   \
                if (pair)                                                                 \
                    FINISH(neg, u + 1, units[4 * u + 7] & 7, units[4 * u + 4], MAX0, FABS, \
                           EXPF, LOG1PF);                                                 \
            }                                                                             \
            u += pair;                                                                    \
        }                                                                                 \
    }                                                                                     \
    ATTR static int64_t model_##SUF##_##ISA(MODEL_PARAMS(T)) {                            \
        T *S = aligned_alloc(64, (size_t)width * BLOCK * sizeof(T));                      \
        if (S == NULL) return -2;                                                         \
        memset(S, 0, (size_t)width * BLOCK * sizeof(T));                                  \
        int64_t bad = -1;                                                                 \
        switch (n == nout ? n : 0) { /* constant widths: the transposes vectorise */      \
            WIDTHS(SUF, ISA)                                                              \
            default:                                                                      \
                BLOCKS(SUF, ISA, n, nout);                                                \
        }                                                                                 \
        free(S);                                                                          \
        return bad;                                                                       \
    }

/* Every block of X through the units, with input and output widths N and NOUT. */
#define BLOCKS(SUF, ISA, N, NOUT)                                                         \
    for (int64_t r0 = 0; r0 < rows; r0 += BLOCK) {                                        \
        int64_t mr = rows - r0 < BLOCK ? rows - r0 : BLOCK;                               \
        if (outside_##SUF(X + r0 * (N), mr * (N), limit)) {                               \
            bad = r0 + first_outside_##SUF(X + r0 * (N), mr, N, limit);                   \
            break;                                                                        \
        }                                                                                 \
        load_##SUF(S, X + r0 * (N), mr, N);                                               \
        units_##SUF##_##ISA(S, units, nunits, biased, bias, terms, weights);              \
        store_##SUF(Y + r0 * (NOUT), S, outputs, mr, NOUT);                               \
    }
#define WIDTH(SUF, ISA, N)   \
    case N:                  \
        BLOCKS(SUF, ISA, N, N); \
        break;
#define WIDTHS(SUF, ISA)                                                                  \
    WIDTH(SUF, ISA, 2) WIDTH(SUF, ISA, 3) WIDTH(SUF, ISA, 4) WIDTH(SUF, ISA, 5)            \
    WIDTH(SUF, ISA, 6) WIDTH(SUF, ISA, 7) WIDTH(SUF, ISA, 8) WIDTH(SUF, ISA, 9)            \
    WIDTH(SUF, ISA, 10) WIDTH(SUF, ISA, 11) WIDTH(SUF, ISA, 12) WIDTH(SUF, ISA, 13)        \
    WIDTH(SUF, ISA, 14) WIDTH(SUF, ISA, 15) WIDTH(SUF, ISA, 16) WIDTH(SUF, ISA, 24)        \
    WIDTH(SUF, ISA, 32)

/* Bias, activation and store of unit U's strip of accumulators ACC (in units_*). */
#define FINISH(ACC, U, CODE, TARGET, MAX0, FABS, EXPF, LOG1PF)                            \
    do {                                                                                  \
        if (biased[U]) {                                                                  \
            const __typeof__(+bias[0]) b = bias[U];                                        \
            for (int k = 0; k < NS; k++) ACC[k] = ACC[k] + b;                             \
        }                                                                                 \
        V *out = Sv + (TARGET) * NV + s;                                                  \
        switch (CODE) {                                                                   \
            case ABS:                                                                     \
                for (int k = 0; k < NS; k++) out[k] = (V)((VJ)ACC[k] & mag);              \
                break;                                                                    \
            case RELU: /* numba's max(z, 0): 0 when 0 > z, else z (-0.0 stays) */         \
                for (int k = 0; k < NS; k++) out[k] = MAX0(zero, ACC[k]);                 \
                break;                                                                    \
            case STEP:                                                                    \
                for (int k = 0; k < NS; k++) out[k] = (V)((VJ)(ACC[k] >= zero) & (VJ)one); \
                break;                                                                    \
            case INDICATOR:                                                               \
                for (int k = 0; k < NS; k++) {                                            \
                    V a = (V)((VJ)ACC[k] & mag);                                          \
                    out[k] = (V)((VJ)(a <= one) & (VJ)one);                               \
                }                                                                         \
                break;                                                                    \
            case SOFTPLUS: {                                                              \
                for (int k = 0; k < NS; k++) out[k] = ACC[k];                             \
                __typeof__(+bias[0]) *z = (__typeof__(+bias[0]) *)out;                      \
                for (int r = 0; r < NS * (int)(sizeof(V) / sizeof(z[0])); r++) {          \
                    __typeof__(+bias[0]) x = z[r], m = 0 > x ? 0 : x;                      \
                    z[r] = m + LOG1PF(EXPF(-FABS(x)));                                    \
                }                                                                         \
                break;                                                                    \
            }                                                                             \
            default:                                                                      \
                for (int k = 0; k < NS; k++) out[k] = ACC[k];                             \
                break;                                                                    \
        }                                                                                 \
    } while (0)

/* Flag in a unit's code: the next unit has the same terms with every weight negated
   (relu(z) and relu(-z) units); both are computed in one pass over the terms. */
#define NEGATED_NEXT 16

#define MODEL_PARAMS(T)                                                                   \
    const T *X, T *Y, int64_t rows, int64_t n, int64_t width, const int64_t *units,       \
        int64_t nunits, const uint8_t *biased, const T *bias, const int64_t *terms,       \
        const T *weights, const int64_t *outputs, int64_t nout, T limit
#define MODEL_ARGS \
    X, Y, rows, n, width, units, nunits, biased, bias, terms, weights, outputs, nout, limit

/* The block transposes (input rows into buffer rows 0..n-1, output rows back). */
#define DEFINE_TRANSPOSES(SUF, T)                                                         \
    INLINE void load_##SUF(T *restrict S, const T *restrict src, int64_t mr, int64_t n) { \
        if (mr == BLOCK) {                                                                \
            for (int64_t r = 0; r < BLOCK; r++)                                           \
                for (int64_t w = 0; w < n; w++) S[w * BLOCK + r] = src[r * n + w];        \
        } else {                                                                          \
            for (int64_t r = 0; r < mr; r++)                                              \
                for (int64_t w = 0; w < n; w++) S[w * BLOCK + r] = src[r * n + w];        \
        }                                                                                 \
    }                                                                                     \
    INLINE void store_##SUF(T *restrict dst, const T *restrict S,                         \
                            const int64_t *restrict outputs, int64_t mr, int64_t nout) {  \
        for (int64_t r = 0; r < mr; r++)                                                  \
            for (int64_t p = 0; p < nout; p++) dst[r * nout + p] = S[outputs[p] * BLOCK + r]; \
    }

/* Whether any of the count values at X is NaN or outside [-limit, limit] (the
   executor's check: min >= -limit and max <= limit), and the first row holding one. */
#define DEFINE_CHECKS(SUF, T)                                                             \
    INLINE int outside_##SUF(const T *restrict X, int64_t count, T limit) {               \
        int bad = 0;                                                                      \
        for (int64_t e = 0; e < count; e++) bad |= !(X[e] >= -limit) | !(X[e] <= limit);  \
        return bad;                                                                       \
    }                                                                                     \
    static int64_t first_outside_##SUF(const T *X, int64_t rows, int64_t n, T limit) {    \
        for (int64_t r = 0; r < rows; r++)                                                \
            if (outside_##SUF(X + r * n, n, limit)) return r;                             \
        return rows; /* not reached: a block was found to hold one */                     \
    }

DEFINE_CHECKS(f4, float)
DEFINE_CHECKS(f8, double)
DEFINE_TRANSPOSES(f4, float)
DEFINE_TRANSPOSES(f8, double)

#define DEFINE_ISA(ISA, ATTR, VBYTES, MAX4, MAX8)                                          \
    DEFINE_MODEL(f4, ISA, ATTR, VBYTES, float, int32_t, INT32_MAX, fabsf, expf, log1pf, MAX4) \
    DEFINE_MODEL(f8, ISA, ATTR, VBYTES, double, int64_t, INT64_MAX, fabs, exp, log1p, MAX8)

/* numba's max(a, z) for z = 0: z when z > a, else a (so -0.0 stays), in bit operations,
   or as x86's max instruction, which computes exactly that (src1 > src2 ? src1 : src2). */
#define MAX0_BITS(z, a) ((V)((VJ)(a) & ~(VJ)((z) > (a))))

/* One copy per instruction set, each with vectors of its register width, chosen at
   each call (a chunk of rows) from the CPU's features. */
#if defined(SORTNET_NO_CLONES) || !(defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__))
DEFINE_ISA(base, , 16, MAX0_BITS, MAX0_BITS)
#define DISPATCH(SUF) return model_##SUF##_base(MODEL_ARGS)
#else
#include <immintrin.h>
#define MAX0_PS(z, a) ((V)_mm_max_ps((__m128)(z), (__m128)(a)))
#define MAX0_PD(z, a) ((V)_mm_max_pd((__m128d)(z), (__m128d)(a)))
#define MAX0_PS256(z, a) ((V)_mm256_max_ps((__m256)(z), (__m256)(a)))
#define MAX0_PD256(z, a) ((V)_mm256_max_pd((__m256d)(z), (__m256d)(a)))
#define MAX0_PS512(z, a) ((V)_mm512_max_ps((__m512)(z), (__m512)(a)))
#define MAX0_PD512(z, a) ((V)_mm512_max_pd((__m512d)(z), (__m512d)(a)))
DEFINE_ISA(base, , 16, MAX0_PS, MAX0_PD)
DEFINE_ISA(v3, __attribute__((target("arch=x86-64-v3"))), 32, MAX0_PS256, MAX0_PD256)
DEFINE_ISA(v4, __attribute__((target("arch=x86-64-v4"))), 64, MAX0_PS512, MAX0_PD512)
#define DISPATCH(SUF)                                                                      \
    if (__builtin_cpu_supports("x86-64-v4")) return model_##SUF##_v4(MODEL_ARGS);          \
    if (__builtin_cpu_supports("x86-64-v3")) return model_##SUF##_v3(MODEL_ARGS);          \
    return model_##SUF##_base(MODEL_ARGS)
#endif

int64_t sortnet_model_f4(MODEL_PARAMS(float)) { DISPATCH(f4); }
int64_t sortnet_model_f8(MODEL_PARAMS(double)) { DISPATCH(f8); }

/* A CPython extension module must define its init function; the kernels are reached
   through ctypes, so the module itself is empty. */
static struct PyModuleDef native_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "sortnet's precompiled model kernel (reached through ctypes)",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&native_module); }
