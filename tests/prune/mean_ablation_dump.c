/* mean_ablation_dump.c: the engine's mean-ablation numbers for the numpy check
 * (tests/reference/ref_mean_ablation.py); not installed.
 *
 *   mean_ablation_dump MODEL CALIB_IDS EVAL_IDS HEADS_OFF
 * CALIB_IDS: calibration sequences, one a line; EVAL_IDS: one sequence; HEADS_OFF:
 * "L.H,...". Output lines: "means" and L*H*D values (hs_head_means); "mask" and "skip"
 * with the last position's logits under mean ablation of the listed heads; "zero"
 * with those of zero ablation (mask mode). */
#include <stdio.h>
#include <stdlib.h>

#include "headsweep/prune.h"

#define MAX_SEQS 64

static int read_seqs(const char *path, hs_token_seq *seqs, int max_t)
{
    FILE *f = fopen(path, "r");
    if (!f) return perror(path), -1;
    char line[1 << 16];
    int n = 0;
    while (n < MAX_SEQS && fgets(line, sizeof line, f)) {
        int32_t *ids = malloc((size_t)max_t * sizeof *ids);
        int len = 0, off = 0, used;
        while (ids && len < max_t && sscanf(line + off, "%d%n", &ids[len], &used) == 1) len++, off += used;
        if (len) seqs[n++] = (hs_token_seq){ids, len};
        else free(ids);
    }
    fclose(f);
    return n;
}

static int logits_row(const hs_model *m, hs_gating mode, const float *g, const float *means, const hs_token_seq *s,
                      float *out, const char *tag)
{
    hs_ctx *ctx = NULL;
    if (hs_ctx_init(&ctx, m, s->n, mode) || hs_ctx_set_head_means(ctx, means) || hs_ctx_set_gates(ctx, g) ||
        hs_ctx_forward(ctx, s->ids, s->n, out, 0))
        return fprintf(stderr, "%s: %s\n", tag, hs_err_msg()), 1;
    hs_ctx_free(ctx);
    printf("%s", tag);
    for (int v = 0; v < m->cfg.vocab_size; v++) printf(" %.9e", out[v]);
    printf("\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) return fprintf(stderr, "usage: mean_ablation_dump MODEL CALIB EVAL HEADS_OFF\n"), 2;
    hs_model m;
    if (hs_model_load(&m, argv[1], NULL)) return 1;
    int L = m.cfg.n_layer, H = m.cfg.n_head, D = m.cfg.n_embd / H;
    hs_token_seq calib[MAX_SEQS], eval[1];
    int nc = read_seqs(argv[2], calib, m.cfg.n_positions), ne = read_seqs(argv[3], eval, m.cfg.n_positions);
    float *means = malloc((size_t)L * H * D * sizeof *means), *g = malloc((size_t)L * H * sizeof *g);
    float *lg = malloc((size_t)m.cfg.vocab_size * sizeof *lg);
    if (nc < 1 || ne != 1 || !means || !g || !lg) return fprintf(stderr, "mean_ablation_dump: bad input\n"), 1;
    if (hs_head_means(&m, calib, nc, means)) return fprintf(stderr, "%s\n", hs_err_msg()), 1;
    printf("means");
    for (int i = 0; i < L * H * D; i++) printf(" %.9e", means[i]);
    printf("\n");
    for (int i = 0; i < L * H; i++) g[i] = 1.0f;
    if (hs_heads_parse(argv[4], L, H, g)) return fprintf(stderr, "%s\n", hs_err_msg()), 1;
    int rc = logits_row(&m, HS_GATING_MASK, g, means, &eval[0], lg, "mask") ||
             logits_row(&m, HS_GATING_SKIP, g, means, &eval[0], lg, "skip") ||
             logits_row(&m, HS_GATING_MASK, g, NULL, &eval[0], lg, "zero");
    for (int i = 0; i < nc; i++) free((void *)calib[i].ids);
    free((void *)eval[0].ids);
    free(means);
    free(g);
    free(lg);
    hs_model_free(&m);
    return rc;
}
