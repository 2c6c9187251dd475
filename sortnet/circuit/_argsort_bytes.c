/*
 * The byte-index argsort kernels: a stable argsort of 4-byte keys (float32, int32,
 * uint32) on at most 256 wires, for CPUs with AVX-512BW. Part of the extension
 * sortnet.circuit._native (sortnet/circuit/native.py chooses them over the general
 * argsort kernels of _native.c when sortnet_bytes_supported() says the CPU can run
 * them).
 *
 * Why a second argsort kernel: in the general one each comparator carries a 32-bit
 * index beside each key and selects keys and indices lane by lane (four selects per
 * key vector). Here a block of 64 rows keeps one byte of index per row and wire (one
 * 64-byte vector per wire) and the keys take min and max, which needs no select:
 *
 *   keys:    a = min(x, y), b = max(x, y)           (4 vectors of 16 keys each)
 *   indices: swap = y < x or (y == x and j < i)     (64 lanes, one mask)
 *            p = swap ? j : i, q = swap ? i : j     (one byte blend each)
 *
 * The keys are only compared, never returned, so min/max is exact for them: when
 * y == x (-0.0 against 0.0 included) either key compares the same from then on. The
 * indices follow the same rule as the general kernel, so both give the same output.
 * Measured on 1M float32 rows x 16 (best network, one thread, existing output): 24.8
 * against 37.4 ms, and 12.8 against 20.5 ms for everything but writing the output.
 *
 * Output: each group of 16 outputs is a 16 x 64 byte transpose (four rounds of
 * unpacks, in registers) and each row's 16 bytes are widened to int64 on the store.
 *
 * Returns as the kernels of _native.c: -1 on success, the first row holding a NaN,
 * -2 when a buffer could not be allocated; -3 when built without these kernels.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 64

#if defined(__x86_64__) && defined(__GNUC__) && !defined(SORTNET_NO_CLONES)
#define HAVE_BYTES 1
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f,avx512bw")))
#define INLINE static inline __attribute__((always_inline))
#else
#define HAVE_BYTES 0
#endif

int64_t sortnet_bytes_supported(void) {
#if HAVE_BYTES
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#else
    return 0;
#endif
}

#if HAVE_BYTES

/* Four 16-lane masks as one 64-lane mask (lane = row of the block), in mask registers. */
AVX512 INLINE __mmask64 join_masks(const __mmask16 m[4]) {
    __mmask32 low = _mm512_kunpackw(m[1], m[0]), high = _mm512_kunpackw(m[3], m[2]);
    return _mm512_kunpackd(high, low);
}

/* Rows r0 + 0..mr-1 of the output, columns k0..k0+count-1, from the wires outs[k0..]:
   a 16 x 64 byte transpose in four rounds of unpacks (each round interleaves pairs of
   vectors within their 128-bit lanes), after which lane L of vector u holds row
   16 L + u, its 16 bytes in output order. */
AVX512 INLINE void write_group(const uint8_t *idx, const int64_t *outs, int64_t count,
                               int64_t *dst, int64_t nout, int64_t mr) {
    __m512i w[16], s[16], t[16];
    for (int k = 0; k < 16; k++)
        w[k] = k < count ? _mm512_load_si512(idx + outs[k] * BLOCK) : _mm512_setzero_si512();
    for (int k = 0; k < 8; k++) { /* bytes: row pairs of wires (2k, 2k+1) */
        s[2 * k] = _mm512_unpacklo_epi8(w[2 * k], w[2 * k + 1]);
        s[2 * k + 1] = _mm512_unpackhi_epi8(w[2 * k], w[2 * k + 1]);
    }
    for (int g = 0; g < 4; g++) /* 16-bit words: wires 4g..4g+3 */
        for (int h = 0; h < 2; h++) {
            t[4 * g + 2 * h] = _mm512_unpacklo_epi16(s[4 * g + h], s[4 * g + 2 + h]);
            t[4 * g + 2 * h + 1] = _mm512_unpackhi_epi16(s[4 * g + h], s[4 * g + 2 + h]);
        }
    for (int g = 0; g < 2; g++) /* 32-bit words: wires 8g..8g+7 */
        for (int e = 0; e < 4; e++) {
            s[8 * g + 2 * e] = _mm512_unpacklo_epi32(t[8 * g + e], t[8 * g + 4 + e]);
            s[8 * g + 2 * e + 1] = _mm512_unpackhi_epi32(t[8 * g + e], t[8 * g + 4 + e]);
        }
    for (int e = 0; e < 8; e++) { /* 64-bit words: all 16 wires */
        t[2 * e] = _mm512_unpacklo_epi64(s[e], s[8 + e]);
        t[2 * e + 1] = _mm512_unpackhi_epi64(s[e], s[8 + e]);
    }
    uint8_t rows[16 * BLOCK] __attribute__((aligned(64)));
    for (int u = 0; u < 16; u++) _mm512_store_si512(rows + 64 * u, t[u]);
    __mmask8 low = (__mmask8)(count >= 8 ? 0xff : (1u << count) - 1);
    __mmask8 high = (__mmask8)(count >= 16 ? 0xff : count > 8 ? (1u << (count - 8)) - 1 : 0);
    for (int64_t r = 0; r < mr; r++) {
        const uint8_t *row = rows + 64 * (r % 16) + 16 * (r / 16);
        int64_t *out = dst + r * nout;
        __m512i lo = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)row));
        __m512i hi = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)(row + 8)));
        if (count == 16) {
            _mm512_storeu_si512(out, lo);
            _mm512_storeu_si512(out + 8, hi);
        } else {
            _mm512_mask_storeu_epi64(out, low, lo);
            _mm512_mask_storeu_epi64(out + 8, high, hi);
        }
    }
}

/* The kernel body for one key type; KEY_LT/KEY_EQ return 16-lane masks. */
#define DEFINE_BYTES(SUF, T, VEC, LOAD, STORE, KEY_LT, KEY_EQ, KEY_MIN, KEY_MAX, FLOAT)       \
    AVX512 INLINE int64_t bytes_body_##SUF(const T *X, int64_t *Y, int64_t rows, int64_t n,  \
                                           const int64_t *pairs, int64_t m,                  \
                                           const int64_t *outs, int64_t nout) {              \
        T *keys = aligned_alloc(64, (size_t)n * BLOCK * sizeof(T));                          \
        uint8_t *idx = aligned_alloc(64, (size_t)n * BLOCK);                                 \
        if (keys == NULL || idx == NULL) {                                                   \
            free(keys);                                                                      \
            free(idx);                                                                       \
            return -2;                                                                       \
        }                                                                                    \
        memset(keys, 0, (size_t)n * BLOCK * sizeof(T));                                      \
        for (int64_t r0 = 0; r0 < rows; r0 += BLOCK) {                                       \
            int64_t mr = rows - r0 < BLOCK ? rows - r0 : BLOCK;                              \
            const T *src = X + r0 * n;                                                       \
            if (FLOAT) { /* x != x only for NaN */                                           \
                int bad = 0;                                                                 \
                for (int64_t e = 0; e < mr * n; e++) bad |= src[e] != src[e];                \
                if (bad)                                                                     \
                    for (int64_t r = 0; r < mr; r++)                                         \
                        for (int64_t w = 0; w < n; w++)                                      \
                            if (src[r * n + w] != src[r * n + w]) {                          \
                                free(keys);                                                  \
                                free(idx);                                                   \
                                return r0 + r;                                               \
                            }                                                                \
            }                                                                                \
            for (int64_t r = 0; r < mr; r++)                                                 \
                for (int64_t w = 0; w < n; w++) keys[w * BLOCK + r] = src[r * n + w];        \
            for (int64_t w = 0; w < n; w++)                                                  \
                _mm512_store_si512(idx + w * BLOCK, _mm512_set1_epi8((char)w));              \
            for (int64_t c = 0; c < m; c++) {                                                \
                T *a = keys + pairs[2 * c] * BLOCK, *b = keys + pairs[2 * c + 1] * BLOCK;    \
                uint8_t *p = idx + pairs[2 * c] * BLOCK, *q = idx + pairs[2 * c + 1] * BLOCK; \
                __mmask16 lt[4], eq[4];                                                      \
                for (int v = 0; v < 4; v++) {                                                \
                    VEC x = LOAD(a + 16 * v), y = LOAD(b + 16 * v);                          \
                    lt[v] = KEY_LT(y, x);                                                    \
                    eq[v] = KEY_EQ(y, x);                                                    \
                    STORE(a + 16 * v, KEY_MIN(x, y));                                        \
                    STORE(b + 16 * v, KEY_MAX(x, y));                                        \
                }                                                                            \
                __m512i i = _mm512_load_si512(p), j = _mm512_load_si512(q);                  \
                __mmask64 later = _mm512_cmplt_epu8_mask(j, i);                              \
                __mmask64 swap =                                                             \
                    _kor_mask64(join_masks(lt), _kand_mask64(join_masks(eq), later));        \
                _mm512_store_si512(p, _mm512_mask_blend_epi8(swap, i, j));                   \
                _mm512_store_si512(q, _mm512_mask_blend_epi8(swap, j, i));                   \
            }                                                                                \
            for (int64_t k0 = 0; k0 < nout; k0 += 16)                                        \
                write_group(idx, outs + k0, nout - k0 < 16 ? nout - k0 : 16, Y + r0 * nout + k0, \
                            nout, mr);                                                       \
        }                                                                                    \
        free(keys);                                                                          \
        free(idx);                                                                           \
        return -1;                                                                           \
    }

#define F4_LT(y, x) _mm512_cmp_ps_mask(y, x, _CMP_LT_OQ)
#define F4_EQ(y, x) _mm512_cmp_ps_mask(y, x, _CMP_EQ_OQ)
DEFINE_BYTES(f4, float, __m512, _mm512_load_ps, _mm512_store_ps, F4_LT, F4_EQ, _mm512_min_ps,
             _mm512_max_ps, 1)
DEFINE_BYTES(i4, int32_t, __m512i, _mm512_load_si512, _mm512_store_si512,
             _mm512_cmplt_epi32_mask, _mm512_cmpeq_epi32_mask, _mm512_min_epi32,
             _mm512_max_epi32, 0)
DEFINE_BYTES(u4, uint32_t, __m512i, _mm512_load_si512, _mm512_store_si512,
             _mm512_cmplt_epu32_mask, _mm512_cmpeq_epu32_mask, _mm512_min_epu32,
             _mm512_max_epu32, 0)

/* As in _native.c, copies specialised for common n: the block load then becomes
   vector shuffles. */
#define BYTES_CASE(SUF, N) \
    case N:                \
        return bytes_body_##SUF(X, Y, rows, N, pairs, m, outs, nout);
#define DEFINE_BYTES_EXPORT(SUF, T)                                                           \
    AVX512 int64_t sortnet_argsort_bytes_##SUF(const T *X, int64_t *Y, int64_t rows,          \
                                               int64_t n, const int64_t *pairs, int64_t m,    \
                                               const int64_t *outs, int64_t nout) {           \
        if (n < 1 || n > 256) return -3;                                                      \
        switch (n) {                                                                          \
            BYTES_CASE(SUF, 4) BYTES_CASE(SUF, 8) BYTES_CASE(SUF, 16) BYTES_CASE(SUF, 24)     \
            BYTES_CASE(SUF, 32) BYTES_CASE(SUF, 48) BYTES_CASE(SUF, 64)     \
            default:                                                                          \
                return bytes_body_##SUF(X, Y, rows, n, pairs, m, outs, nout);                 \
        }                                                                                     \
    }

#else /* no AVX-512 path in this build: sortnet_bytes_supported() is 0 */

#define DEFINE_BYTES_EXPORT(SUF, T)                                                           \
    int64_t sortnet_argsort_bytes_##SUF(const T *X, int64_t *Y, int64_t rows, int64_t n,      \
                                        const int64_t *pairs, int64_t m, const int64_t *outs, \
                                        int64_t nout) {                                       \
        (void)X, (void)Y, (void)rows, (void)n, (void)pairs, (void)m, (void)outs, (void)nout;  \
        return -3;                                                                            \
    }

#endif

DEFINE_BYTES_EXPORT(f4, float)
DEFINE_BYTES_EXPORT(i4, int32_t)
DEFINE_BYTES_EXPORT(u4, uint32_t)
