/* sample.c: seeded token sampling (greedy, temperature, top-k, top-p).
 *
 * The random number of step s for a prompt is a pure function of (seed, prompt id, s),
 * a counter-based scheme in the spirit of Salmon et al. 2011 (Random123): no generator
 * state travels between prompts, so results never depend on which rank ran what. */
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "headsweep/eval.h"
#include "headsweep/tokenizer.h" /* hs_tokenizer_vocab_size */

void hs_sample_params_default(hs_sample_params *p)
{
    p->max_new = 32;
    p->temperature = 0.0f;
    p->top_k = 0;
    p->top_p = 1.0f;
    p->seed = 1234;
}

hs_status hs_sample_params_check(const hs_sample_params *p)
{
    if (p->max_new < 1) return hs_err(HS_EINPUT, "max_new_tokens %d: must be at least 1", p->max_new);
    if (!(p->temperature >= 0.0f) || p->temperature > 100.0f)
        return hs_err(HS_EINPUT, "temperature %g: must be in [0, 100]", p->temperature);
    if (p->top_k < 0) return hs_err(HS_EINPUT, "top_k %d: must be >= 0", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f)) return hs_err(HS_EINPUT, "top_p %g: must be in (0, 1]", p->top_p);
    return HS_OK;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double hs_rng_uniform(uint64_t seed, const char *prompt_id, int step)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a of the prompt id */
    for (const char *s = prompt_id ? prompt_id : ""; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    uint64_t z = mix64(seed + 0x9e3779b97f4a7c15ull);
    z = mix64(z ^ h);
    z = mix64(z ^ ((uint64_t)(uint32_t)step * 0x9e3779b97f4a7c15ull));
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

hs_status hs_sampler_init(hs_sampler *s, int vocab)
{
    s->V = vocab;
    s->prob = hs_malloc((size_t)vocab * sizeof(float), "sampler");
    s->idx = hs_malloc((size_t)vocab * sizeof(int32_t), "sampler");
    if (!s->prob || !s->idx) {
        hs_sampler_free(s);
        return HS_ENOMEM;
    }
    return HS_OK;
}

void hs_sampler_free(hs_sampler *s)
{
    if (!s) return;
    free(s->prob);
    free(s->idx);
    s->prob = NULL;
    s->idx = NULL;
}

#ifdef __AVX2__
/* argmax's index by vectors, -1 when x holds a NaN (argmax's scalar loop decides then):
 * the largest value 8 lanes at a time (exact in any order), then the first index that
 * equals it, which is the first maximum the scalar loop keeps (+0 and -0 compare equal
 * there too). The scalar loop's compare chain was a cycle-bound step per vocabulary
 * entry of every decode row. */
static int32_t argmax8(const float *x, int n)
{
    __m256 m = _mm256_loadu_ps(x), nan = _mm256_cmp_ps(m, m, _CMP_UNORD_Q);
    int i = 8;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        m = _mm256_max_ps(m, v);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    if (_mm256_movemask_ps(nan)) return -1;
    float lane[8], mx;
    _mm256_storeu_ps(lane, m);
    mx = lane[0];
    for (int j = 1; j < 8; j++) mx = lane[j] > mx ? lane[j] : mx;
    for (int j = i; j < n; j++) {
        if (x[j] != x[j]) return -1;
        mx = x[j] > mx ? x[j] : mx;
    }
    __m256 want = _mm256_set1_ps(mx);
    for (i = 0; i + 8 <= n; i += 8) {
        int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), want, _CMP_EQ_OQ));
        if (hit) return i + __builtin_ctz((unsigned)hit);
    }
    for (; i < n; i++)
        if (x[i] == mx) return i;
    return -1;
}
#endif

int32_t hs_argmax(const float *x, int n)
{
#ifdef __AVX2__
    int32_t at = n >= 16 ? argmax8(x, n) : -1;
    if (at >= 0) return at;
#endif
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i; /* first maximum wins: ties are deterministic */
    return best;
}

/* Sorts candidate indices by probability, descending; ties by index for determinism. */
static const float *sort_prob;
static int by_prob_desc(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (sort_prob[x] != sort_prob[y]) return sort_prob[x] > sort_prob[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* 1 when index a ranks before b: higher probability first, lower index on ties. */
static int ranks_before(const float *prob, int32_t a, int32_t b)
{
    return prob[a] > prob[b] || (prob[a] == prob[b] && a < b);
}

/* Moves the k best-ranked indices of idx[0 .. n) to the front (Hoare's quickselect with
 * a middle pivot: expected O(n), where a full sort of a 50k vocabulary would cost
 * milliseconds every decode step). */
static void select_top(const float *prob, int32_t *idx, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int32_t pivot = idx[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (ranks_before(prob, idx[i], pivot)) i++;
            while (ranks_before(prob, pivot, idx[j])) j--;
            if (i <= j) {
                int32_t t = idx[i];
                idx[i++] = idx[j];
                idx[j--] = t;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

/* Leaves the k most probable indices (all when k == 0) sorted at the front of s->idx;
 * returns their count. */
static int top_candidates(hs_sampler *s, int k)
{
    int V = s->V, n = (k > 0 && k < V) ? k : V;
    for (int i = 0; i < V; i++) s->idx[i] = i;
    if (n < V) select_top(s->prob, s->idx, V, n);
    sort_prob = s->prob;
    qsort(s->idx, (size_t)n, sizeof(int32_t), by_prob_desc);
    return n;
}

int hs_sample_vocab(const hs_model *m, const hs_tokenizer *tok)
{
    int v = m->cfg.vocab_size, t = tok ? hs_tokenizer_vocab_size(tok) : v;
    return t < v ? t : v; /* equal in every Hugging Face GPT-2: the same ids as before */
}

int32_t hs_sample(hs_sampler *s, const float *logits, const hs_sample_params *p, double u)
{
    int V = s->V;
    if (p->temperature == 0.0f || p->top_k == 1) return hs_argmax(logits, V);
    float mx = logits[hs_argmax(logits, V)];
    double sum = 0;
    for (int i = 0; i < V; i++) {
        s->prob[i] = expf((logits[i] - mx) / p->temperature);
        sum += s->prob[i];
    }
    for (int i = 0; i < V; i++) s->prob[i] = (float)(s->prob[i] / sum);
    int n = top_candidates(s, p->top_k);
    double mass = 0;
    int keep = 0;
    for (; keep < n; keep++) { /* nucleus: smallest prefix whose mass reaches top_p */
        mass += s->prob[s->idx[keep]];
        if (mass >= p->top_p) {
            keep++;
            break;
        }
    }
    if (keep > n) keep = n;
    double total = 0;
    for (int i = 0; i < keep; i++) total += s->prob[s->idx[i]];
    double target = u * total, acc = 0;
    for (int i = 0; i < keep; i++) {
        acc += s->prob[s->idx[i]];
        if (acc > target) return s->idx[i];
    }
    return s->idx[keep - 1];
}
