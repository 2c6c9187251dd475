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
 * and one packed add per vector (or one fused multiply-add, below), with no load or
 * store of the accumulators; bias, activation and one store per vector follow. A
 * unit flagged NEGATED_NEXT and the next unit, which has the same terms with every
 * weight negated (relu(z), relu(-z)), are computed in one pass over the terms (see
 * NEGATE_SUM); such a pair of relu units without bias, most of a relu model, takes a
 * loop of its own with no branch (RELU_PAIR), every other unit a function call. There
 * is one copy of the kernel per instruction set (AVX-512, AVX2, baseline), chosen at
 * each call from the CPU's features, and the block transposes have copies for common
 * constant widths (the outputs are consecutive buffer rows in every program, so the
 * output transpose is a plain one).
 *
 * Exactness: the arithmetic is the numba generic kernel's, value for value: the
 * products of a unit's terms added left to right in term order, the bias last, and
 * activations with the same comparisons (relu keeps -0.0 as numba's max(z, 0) does;
 * on x86 it is the max instruction, which computes exactly that). The file must be
 * compiled with -ffp-contract=off and without -ffast-math, so that the compiler fuses
 * nothing by itself. Where the CPU has FMA, a block may run the "fused" copy of the
 * units, which adds each product with one fused multiply-add; the executor allows it
 * only on blocks where every product of the model is exact (see BLOCKS), and there a
 * fused multiply-add rounds exactly as the multiply and the add do. identity, abs,
 * relu, step and indicator are therefore bit-identical to the numba kernel; softplus
 * calls the C library's expf/exp and log1pf/log1p.
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

/* Rows per block. Measured (relu, best, 500,000 float32 rows, one thread): 64 rows
   65-68 ms at n = 32 against 71-72 ms for 128 and 81-83 ms for 32; with two buffer
   regions (sortnet/nn/program.py) a 64-row block of n = 32 is 32 KB, in L1. */
#define BLOCK 64

#define SORTNET_ABI 2

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
#define DEFINE_MODEL(SUF, ISA, ATTR, VBYTES, T, VI, MAG, FABS, EXPF, LOG1PF, MAX0, FMADD, ANY) \
    typedef T V_##SUF##_##ISA __attribute__((vector_size(VBYTES)));                       \
    typedef VI VI_##SUF##_##ISA __attribute__((vector_size(VBYTES)));                     \
    DEFINE_UNITS(units_##SUF##_##ISA, SUF, ISA, ATTR, VBYTES, T, MAG, FABS, EXPF, LOG1PF, \
                 MAX0, MULADD, ANY)                                                       \
    DEFINE_UNITS(fused_##SUF##_##ISA, SUF, ISA, ATTR, VBYTES, T, MAG, FABS, EXPF, LOG1PF, \
                 MAX0, FMADD, ANY)                                                        \
    ATTR static int64_t model_##SUF##_##ISA(MODEL_PARAMS(T)) {                            \
        T *S = aligned_alloc(64, (size_t)width * BLOCK * sizeof(T));                      \
        if (S == NULL) return -2;                                                         \
        int64_t count = 0; /* the terms, and the byte offset in S of the row each reads */ \
        for (int64_t u = 0; u < nunits; u++)                                              \
            if (units[4 * u + 2] > count) count = units[4 * u + 2];                       \
        int64_t *offsets = malloc((size_t)(count > 0 ? count : 1) * sizeof(int64_t));     \
        if (offsets == NULL) {                                                            \
            free(S);                                                                      \
            return -2;                                                                    \
        }                                                                                 \
        for (int64_t t = 0; t < count; t++)                                               \
            offsets[t] = terms[t] * BLOCK * (int64_t)sizeof(T);                           \
        memset(S, 0, (size_t)width * BLOCK * sizeof(T));                                  \
        int64_t bad = -1;                                                                 \
        switch (n == nout ? n : 0) { /* constant widths: the transposes vectorise */      \
            WIDTHS(SUF, ISA)                                                              \
            default:                                                                      \
                BLOCKS(SUF, ISA, n, nout);                                                \
        }                                                                                 \
        free(offsets);                                                                    \
        free(S);                                                                          \
        return bad;                                                                       \
    }

/* ACC[k] = the strip's sum of the unit's terms, with every weight times SIGN (1 or -1,
   exact), left to right from the first term, each product added with MAC (in NAME of
   DEFINE_UNITS). SIGN -1 gives the numba kernel's sum for the negated unit. */
#define SUM(ACC, SIGN, MAC)                                                               \
    do {                                                                                  \
        const V *row = (const V *)((const char *)Sv + offsets[first]) + s;                \
        const __typeof__(weights[0]) weight = (SIGN) * weights[first];                    \
        for (int k = 0; k < NS; k++) ACC[k] = row[k] * weight;                            \
        for (int64_t t = first + 1; t < stop; t++) {                                      \
            const V *other = (const V *)((const char *)Sv + offsets[t]) + s;              \
            const __typeof__(weights[0]) w = (SIGN) * weights[t];                         \
            for (int k = 0; k < NS; k++) ACC[k] = MAC(other[k], w, ACC[k]);               \
        }                                                                                 \
    } while (0)

/* NEG = the paired unit's sum, from the first unit's sum ACC. Round to nearest is
   symmetric, so the negated terms, added in the same order, sum to exactly -ACC,
   except for the sign of a zero: a sum is -0.0 only when every term is -0.0, so
   where ACC is +0.0 (cancelling terms, or all +0.0) the negated sum may be +0.0 or
   -0.0. When any lane of the strip is +0.0, the negated sum is added up term by
   term instead (one extra pass, on ties and zeros only). */
#define NEGATE_SUM(ACC, NEG, MAC, ANY)                                                    \
    do {                                                                                  \
        if (ANY(ACC))                                                                     \
            SUM(NEG, -1, MAC);                                                            \
        else                                                                              \
            for (int k = 0; k < NS; k++) NEG[k] = -ACC[k];                                \
    } while (0)

/* The units of one block, as the function NAME: each term's product added to its
   sum with MULADD(x, w, acc), a multiply then an add (MULADD) or one fused multiply-add
   (the instruction set's FMADD). The two are equal whenever x * w is exact, which is
   what the executor checks before a block runs the fused copy (see BLOCKS). */
#define DEFINE_UNITS(NAME, SUF, ISA, ATTR, VBYTES, T, MAG, FABS, EXPF, LOG1PF, MAX0, MAC, ANY) \
    /* Any unit, or a unit and its negation; the index of the last one computed. Kept     \
       out of NAME's loop, whose registers then all serve the common case. */             \
    ATTR static __attribute__((noinline)) int64_t NAME##_unit(                            \
        T *restrict S, const int64_t *restrict units, int64_t u,                          \
        const uint8_t *restrict biased, const T *restrict bias,                           \
        const int64_t *restrict offsets, const T *restrict weights) {                     \
        UNITS_TYPES(SUF, ISA, T, VBYTES, MAG);                                            \
        const int64_t target = units[4 * u], first = units[4 * u + 1];                    \
        const int64_t stop = units[4 * u + 2], code = units[4 * u + 3] & 7;               \
        const int pair = (units[4 * u + 3] & NEGATED_NEXT) != 0;                          \
        for (int s = 0; s < NV; s += NS) {                                                \
            V acc[NS], neg[NS];                                                           \
            if (first == stop) {                                                          \
                for (int k = 0; k < NS; k++) acc[k] = neg[k] = zero;                      \
            } else {                                                                      \
                SUM(acc, 1, MAC);                                                         \
                if (pair) /* unit u + 1 is unit u negated */                              \
                    NEGATE_SUM(acc, neg, MAC, ANY);                                       \
            }                                                                             \
            FINISH(acc, u, code, target, MAX0, FABS, EXPF, LOG1PF);                       \
            if (pair)                                                                     \
                FINISH(neg, u + 1, units[4 * u + 7] & 7, units[4 * u + 4], MAX0, FABS,    \
                       EXPF, LOG1PF);                                                     \
        }                                                                                 \
        return u + pair;                                                                  \
    }                                                                                     \
    ATTR static __attribute__((noinline)) void NAME(                                      \
        T *restrict S, const int64_t *restrict units, int64_t nunits,                     \
        const uint8_t *restrict biased, const T *restrict bias,                           \
        const int64_t *restrict offsets, const T *restrict weights) {                     \
        UNITS_TYPES(SUF, ISA, T, VBYTES, MAG);                                            \
        for (int64_t u = 0; u < nunits; u++) {                                            \
            if (!(units[4 * u + 3] & RELU_PAIR)) {                                        \
                u = NAME##_unit(S, units, u, biased, bias, offsets, weights);             \
                continue;                                                                 \
            }                                                                             \
            /* the common case, without branches: relu(z) and relu(-z), no bias */        \
            const int64_t target = units[4 * u], first = units[4 * u + 1];                \
            const int64_t stop = units[4 * u + 2], other = units[4 * u + 4];              \
            for (int s = 0; s < NV; s += NS) {                                            \
                V acc[NS], neg[NS];                                                       \
                SUM(acc, 1, MAC);                                                         \
                NEGATE_SUM(acc, neg, MAC, ANY);                                           \
                V *out = Sv + target * NV + s, *out_neg = Sv + other * NV + s;            \
                for (int k = 0; k < NS; k++) {                                            \
                    out[k] = MAX0(zero, acc[k]);                                          \
                    out_neg[k] = MAX0(zero, neg[k]);                                      \
                }                                                                         \
            }                                                                             \
            u++;                                                                          \
        }                                                                                 \
    }

/* The vector types and constants of a units function (in DEFINE_UNITS). */
#define UNITS_TYPES(SUF, ISA, T, VBYTES, MAG)                                             \
    typedef V_##SUF##_##ISA V;                                                            \
    typedef VI_##SUF##_##ISA VJ;                                                          \
    enum { NV = BLOCK * (int)sizeof(T) / VBYTES, NS = NV < 8 ? NV : 8 };                  \
    const V zero = {0}, one = zero + 1;                                                   \
    const VJ mag = (VJ){0} + MAG;                                                         \
    V *Sv = (V *)S;                                                                       \
    (void)one, (void)mag, (void)biased, (void)bias

/* A product added to a sum: multiply, then add (the file is compiled with
   -ffp-contract=off, so this is never fused). */
#define MULADD(X, W, ACC) ((X) * (W) + (ACC))

/* Every block of X through the units, with input and output widths N and NOUT. A
   block runs the fused copy of the units when TINY > 0 and no input of the block is
   non-zero and smaller than TINY in magnitude: the executor passes the TINY below which
   some product of the model might be inexact (sortnet/nn/native.py fused_threshold),
   so that both copies compute the same values, bit for bit. */
#define BLOCKS(SUF, ISA, N, NOUT)                                                         \
    for (int64_t r0 = 0; r0 < rows; r0 += BLOCK) {                                        \
        int64_t mr = rows - r0 < BLOCK ? rows - r0 : BLOCK;                               \
        if (outside_##SUF(X + r0 * (N), mr * (N), limit)) {                               \
            bad = r0 + first_outside_##SUF(X + r0 * (N), mr, N, limit);                   \
            break;                                                                        \
        }                                                                                 \
        load_##SUF(S, X + r0 * (N), mr, N);                                               \
        if (tiny > 0 && !below_##SUF(X + r0 * (N), mr * (N), tiny))                       \
            fused_##SUF##_##ISA(S, units, nunits, biased, bias, offsets, weights);        \
        else                                                                              \
            units_##SUF##_##ISA(S, units, nunits, biased, bias, offsets, weights);        \
        store_rows_##SUF(Y + r0 * (NOUT), S + outputs[0] * BLOCK, mr, NOUT);              \
    }
#define WIDTH(SUF, ISA, N)                                                                \
    case N:                                                                               \
        BLOCKS(SUF, ISA, N, N);                                                           \
        break;
#define WIDTHS(SUF, ISA)                                                                  \
    WIDTH(SUF, ISA, 2) WIDTH(SUF, ISA, 3) WIDTH(SUF, ISA, 4) WIDTH(SUF, ISA, 5)           \
    WIDTH(SUF, ISA, 6) WIDTH(SUF, ISA, 7) WIDTH(SUF, ISA, 8) WIDTH(SUF, ISA, 9)           \
    WIDTH(SUF, ISA, 10) WIDTH(SUF, ISA, 11) WIDTH(SUF, ISA, 12) WIDTH(SUF, ISA, 13)       \
    WIDTH(SUF, ISA, 14) WIDTH(SUF, ISA, 15) WIDTH(SUF, ISA, 16) WIDTH(SUF, ISA, 24)       \
    WIDTH(SUF, ISA, 32)

/* Bias, activation and store of unit U's strip of accumulators ACC (in units_*). */
#define FINISH(ACC, U, CODE, TARGET, MAX0, FABS, EXPF, LOG1PF)                            \
    do {                                                                                  \
        if (biased[U]) {                                                                  \
            const __typeof__(+bias[0]) b = bias[U];                                       \
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
                __typeof__(+bias[0]) *z = (__typeof__(+bias[0]) *)out;                    \
                for (int r = 0; r < NS * (int)(sizeof(V) / sizeof(z[0])); r++) {          \
                    __typeof__(+bias[0]) x = z[r], m = 0 > x ? 0 : x;                     \
                    z[r] = m + LOG1PF(EXPF(-FABS(x)));                                    \
                }                                                                         \
                break;                                                                    \
            }                                                                             \
            default:                                                                      \
                for (int k = 0; k < NS; k++) out[k] = ACC[k];                             \
                break;                                                                    \
        }                                                                                 \
    } while (0)

/* Flag in a unit's code: it is NEGATED_NEXT, has terms, and both it and the next unit
   are relu units without bias (set by sortnet/nn/native.py; most units of a relu model). */
#define RELU_PAIR 32

/* Flag in a unit's code: the next unit has the same terms with every weight negated
   (relu(z) and relu(-z) units); both are computed in one pass over the terms. */
#define NEGATED_NEXT 16

#define MODEL_PARAMS(T)                                                                   \
    const T *X, T *Y, int64_t rows, int64_t n, int64_t width, const int64_t *units,       \
        int64_t nunits, const uint8_t *biased, const T *bias, const int64_t *terms,       \
        const T *weights, const int64_t *outputs, int64_t nout, T limit, T tiny
#define MODEL_ARGS                                                                        \
    X, Y, rows, n, width, units, nunits, biased, bias, terms, weights, outputs, nout, limit, \
        tiny

/* The block transposes (input rows into buffer rows 0..n-1, output rows back: the
   outputs are consecutive buffer rows, from outputs[0], in every program). */
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
    INLINE void store_rows_##SUF(T *restrict dst, const T *restrict S, int64_t mr,        \
                                 int64_t nout) {                                          \
        if (mr == BLOCK) {                                                                \
            for (int64_t r = 0; r < BLOCK; r++)                                           \
                for (int64_t p = 0; p < nout; p++) dst[r * nout + p] = S[p * BLOCK + r];  \
        } else {                                                                          \
            for (int64_t r = 0; r < mr; r++)                                              \
                for (int64_t p = 0; p < nout; p++) dst[r * nout + p] = S[p * BLOCK + r];  \
        }                                                                                 \
    }

/* Whether any of the count values at X is NaN or outside [-limit, limit] (the
   executor's check: min >= -limit and max <= limit), and the first row holding one. */
#define DEFINE_CHECKS(SUF, T)                                                             \
    INLINE int outside_##SUF(const T *restrict X, int64_t count, T limit) {               \
        int bad = 0;                                                                      \
        for (int64_t e = 0; e < count; e++) bad |= !(X[e] >= -limit) | !(X[e] <= limit);  \
        return bad;                                                                       \
    }                                                                                     \
    /* Whether any of the count values at X is non-zero and below TINY in magnitude. */   \
    INLINE int below_##SUF(const T *restrict X, int64_t count, T tiny) {                  \
        int small = 0;                                                                    \
        for (int64_t e = 0; e < count; e++)                                               \
            small |= (X[e] != 0) & (X[e] < tiny) & (X[e] > -tiny);                        \
        return small;                                                                     \
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

#define DEFINE_ISA(ISA, ATTR, VBYTES, MAX4, MAX8, FMA4, FMA8, ANY4, ANY8)                 \
    DEFINE_MODEL(f4, ISA, ATTR, VBYTES, float, int32_t, INT32_MAX, fabsf, expf, log1pf, MAX4, \
                 FMA4, ANY4)                                                              \
    DEFINE_MODEL(f8, ISA, ATTR, VBYTES, double, int64_t, INT64_MAX, fabs, exp, log1p, MAX8, \
                 FMA8, ANY8)

/* Whether any lane of the strip ACC[0..NS-1] is +0.0 (in NEGATE_SUM): its lanes whose
   bits are all zero, and that test lane by lane (the portable copy). */
#define PLUS_ZERO_LANES(ACC)                                                              \
    ({                                                                                    \
        VJ zeros = (VJ){0};                                                               \
        for (int k = 0; k < NS; k++) zeros |= (VJ)ACC[k] == 0;                            \
        zeros;                                                                            \
    })
#define ANY_LANE(ACC)                                                                     \
    ({                                                                                    \
        VJ zeros = PLUS_ZERO_LANES(ACC);                                                  \
        int any_lane = 0;                                                                 \
        for (int l = 0; l < (int)(sizeof(VJ) / sizeof(zeros[0])); l++)                    \
            any_lane |= zeros[l] != 0;                                                    \
        any_lane;                                                                         \
    })

/* relu as np.maximum(a, 0): a when a > 0, else z = +0.0 (either zero gives +0.0, so the
   sign of a zero never depends on how a sum was formed), in bit operations, or as x86's
   max instruction with z second (src1 > src2 ? src1 : src2, and src2 for two zeros). */
#define MAX0_BITS(z, a) ((V)((VJ)(a) & (VJ)((a) > (z))))

/* One copy per instruction set, each with vectors of its register width, chosen at
   each call (a chunk of rows) from the CPU's features. */
#if defined(SORTNET_NO_CLONES) || !(defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__))
DEFINE_ISA(base, , 16, MAX0_BITS, MAX0_BITS, MULADD, MULADD, ANY_LANE, ANY_LANE)
#define DISPATCH(SUF) return model_##SUF##_base(MODEL_ARGS)
#define HAS_FMA() 0
#else
#include <immintrin.h>
#define MAX0_PS(z, a) ((V)_mm_max_ps((__m128)(a), (__m128)(z)))
#define MAX0_PD(z, a) ((V)_mm_max_pd((__m128d)(a), (__m128d)(z)))
#define MAX0_PS256(z, a) ((V)_mm256_max_ps((__m256)(a), (__m256)(z)))
#define MAX0_PD256(z, a) ((V)_mm256_max_pd((__m256d)(a), (__m256d)(z)))
#define MAX0_PS512(z, a) ((V)_mm512_max_ps((__m512)(a), (__m512)(z)))
#define MAX0_PD512(z, a) ((V)_mm512_max_pd((__m512d)(a), (__m512d)(z)))
/* The same test with the instruction set's sign-bit masks, or (AVX-512) mask registers. */
#define ANY_PS(ACC) (_mm_movemask_ps((__m128)PLUS_ZERO_LANES(ACC)) != 0)
#define ANY_PD(ACC) (_mm_movemask_pd((__m128d)PLUS_ZERO_LANES(ACC)) != 0)
#define ANY_PS256(ACC) (_mm256_movemask_ps((__m256)PLUS_ZERO_LANES(ACC)) != 0)
#define ANY_PD256(ACC) (_mm256_movemask_pd((__m256d)PLUS_ZERO_LANES(ACC)) != 0)
#define ANY_32X16(ACC)                                                                    \
    ({                                                                                    \
        __mmask16 zeros = 0;                                                              \
        for (int k = 0; k < NS; k++)                                                      \
            zeros |= _mm512_testn_epi32_mask((__m512i)ACC[k], (__m512i)ACC[k]);           \
        zeros != 0;                                                                       \
    })
#define ANY_64X8(ACC)                                                                     \
    ({                                                                                    \
        __mmask8 zeros = 0;                                                               \
        for (int k = 0; k < NS; k++)                                                      \
            zeros |= _mm512_testn_epi64_mask((__m512i)ACC[k], (__m512i)ACC[k]);           \
        zeros != 0;                                                                       \
    })
/* x * w + acc with one rounding (the fused copies of the units). */
#define FMA_PS256(x, w, acc) ((V)_mm256_fmadd_ps((__m256)(x), _mm256_set1_ps(w), (__m256)(acc)))
#define FMA_PD256(x, w, acc) ((V)_mm256_fmadd_pd((__m256d)(x), _mm256_set1_pd(w), (__m256d)(acc)))
#define FMA_PS512(x, w, acc) ((V)_mm512_fmadd_ps((__m512)(x), _mm512_set1_ps(w), (__m512)(acc)))
#define FMA_PD512(x, w, acc) ((V)_mm512_fmadd_pd((__m512d)(x), _mm512_set1_pd(w), (__m512d)(acc)))
DEFINE_ISA(base, , 16, MAX0_PS, MAX0_PD, MULADD, MULADD, ANY_PS, ANY_PD) /* SSE2 has no FMA */
DEFINE_ISA(v3, __attribute__((target("arch=x86-64-v3"))), 32, MAX0_PS256, MAX0_PD256, FMA_PS256,
           FMA_PD256, ANY_PS256, ANY_PD256)
DEFINE_ISA(v4, __attribute__((target("arch=x86-64-v4"))), 64, MAX0_PS512, MAX0_PD512, FMA_PS512,
           FMA_PD512, ANY_32X16, ANY_64X8)
#define HAS_FMA() (__builtin_cpu_supports("x86-64-v3") != 0)
#define DISPATCH(SUF)                                                                     \
    if (__builtin_cpu_supports("x86-64-v4")) return model_##SUF##_v4(MODEL_ARGS);         \
    if (__builtin_cpu_supports("x86-64-v3")) return model_##SUF##_v3(MODEL_ARGS);         \
    return model_##SUF##_base(MODEL_ARGS)
#endif

/* Whether the copy chosen on this CPU has fused multiply-adds (else both copies of the
   units multiply, then add). */
int64_t sortnet_model_fma(void) { return HAS_FMA(); }

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
