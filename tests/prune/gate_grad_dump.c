/* gate_grad_dump.c: prints the engine's gate gradients and gradient/taylor scores for
 * the torch check (tests/reference/ref_gate_grad.py); not installed.
 *
 *   gate_grad_dump MODEL_DIR IDS_FILE [GATES_FILE]
 * IDS_FILE: one sequence a line, token ids separated by spaces. GATES_FILE: L*H gate
 * values (default all 1). Output, one record a line:
 *   seq I LOSS g(0,0) ... g(L-1,H-1)     per sequence: mean NLL and dL/dgate
 *   gradient s(0,0) ...                  hs_scores_compute_ids, strategy gradient
 *   taylor s(0,0) ...                    strategy taylor */
#include <stdio.h>
#include <stdlib.h>

#include "headsweep/grad.h"
#include "headsweep/prune.h"

#define MAX_SEQS 64

static int read_seqs(const char *path, hs_token_seq *seqs, int max_t)
{
    FILE *f = fopen(path, "r");
    if (!f) return perror(path), -1;
    int n = 0, c = 0;
    int32_t *ids = NULL;
    int len = 0;
    for (;;) {
        int v;
        c = fscanf(f, "%d", &v);
        if (c == 1) {
            if (!ids) ids = malloc((size_t)max_t * sizeof *ids), len = 0;
            if (!ids || len >= max_t) return fclose(f), -1;
            ids[len++] = v;
        }
        int ch = fgetc(f);
        while (ch == ' ') ch = fgetc(f);
        if (ch == '\n' || ch == EOF || c != 1) {
            if (ids && len && n < MAX_SEQS) seqs[n++] = (hs_token_seq){ids, len}, ids = NULL;
            if (ch == EOF || c != 1) break;
        } else ungetc(ch, f);
    }
    free(ids);
    fclose(f);
    return n;
}

static void print_row(const char *tag, const double *v, int n)
{
    printf("%s", tag);
    for (int i = 0; i < n; i++) printf(" %.9e", v[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) return fprintf(stderr, "usage: gate_grad_dump MODEL IDS [GATES]\n"), 2;
    hs_model m;
    if (hs_model_load(&m, argv[1], NULL)) return 1;
    int L = m.cfg.n_layer, H = m.cfg.n_head, LH = L * H;
    float *gates = malloc((size_t)LH * sizeof *gates);
    double *dg = malloc((size_t)LH * sizeof *dg);
    hs_token_seq seqs[MAX_SEQS];
    int n = read_seqs(argv[2], seqs, m.cfg.n_positions);
    if (!gates || !dg || n < 1) return fprintf(stderr, "gate_grad_dump: bad input\n"), 1;
    for (int i = 0; i < LH; i++) gates[i] = 1.0f;
    FILE *gf = argc > 3 ? fopen(argv[3], "r") : NULL;
    for (int i = 0; gf && i < LH; i++)
        if (fscanf(gf, "%f", &gates[i]) != 1) return fprintf(stderr, "%s: short\n", argv[3]), 1;
    if (gf) fclose(gf);
    hs_grad_ctx *g = NULL;
    if (hs_grad_init(&g, &m, m.cfg.n_positions)) return 1;
    for (int s = 0; s < n; s++) {
        double loss;
        if (hs_grad_gates(g, gates, seqs[s].ids, seqs[s].n, &loss, dg, NULL)) return 1;
        char tag[64];
        snprintf(tag, sizeof tag, "seq %d %.9e", s, loss);
        print_row(tag, dg, LH);
    }
    hs_grad_free(g);
    const hs_strategy which[2] = {HS_STRATEGY_GRADIENT, HS_STRATEGY_TAYLOR};
    for (int k = 0; k < 2; k++) {
        hs_head_scores sc;
        hs_score_opts o = {0, 0, 0, gates, HS_STRATEGY_GRADIENT, 10.0};
        if (hs_scores_compute_ids(&sc, &m, seqs, n, which[k], &o)) return 1;
        print_row(hs_strategy_name(which[k]), sc.score, LH);
        hs_scores_free(&sc);
    }
    for (int s = 0; s < n; s++) free((void *)seqs[s].ids);
    free(gates);
    free(dg);
    hs_model_free(&m);
    return 0;
}
