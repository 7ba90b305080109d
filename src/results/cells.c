/* cells.c: the grid of cells a results file is shaped by (variant x level x prompt
 * shard, numbered in the row-major order of /cells/done) and the buffers of one cell's
 * data, as the file's cell I/O, the sweep and merge exchange them. */
#include <stdlib.h>
#include <string.h>

#include "headsweep/agency.h"
#include "headsweep/eval.h"
#include "headsweep/prompts.h"
#include "headsweep/results.h"

int64_t hs_grid_cells(const hs_grid *g)
{
    return (int64_t)g->n_variants * g->n_levels * g->n_shards;
}

hs_cell hs_grid_cell(const hs_grid *g, int64_t index)
{
    hs_cell c;
    c.shard = (int)(index % g->n_shards);
    index /= g->n_shards;
    c.level = (int)(index % g->n_levels);
    c.variant = (int)(index / g->n_levels);
    return c;
}

int hs_grid_shard_size(const hs_grid *g, int shard)
{
    return (int)hs_shard_size((size_t)g->n_prompts, g->n_shards, shard);
}

void hs_grid_shard_prompts(const hs_grid *g, int shard, int32_t *idx)
{
    int n = hs_grid_shard_size(g, shard);
    for (int j = 0; j < n; j++) idx[j] = (int32_t)hs_shard_prompt(shard, (size_t)j, g->n_shards);
}

/* ---- a cell's buffers ---- */

/* 8-byte arrays first so every array stays aligned: metrics, occupancy, transitions,
 * gen_ids, prompt, text. */
size_t hs_cell_result_bytes(const hs_grid *g, int n)
{
    size_t LH = (size_t)g->n_layers * g->n_heads;
    return (size_t)n * HS_M_COUNT * sizeof(double) + LH * (HS_AG_NSTATES + 1) * sizeof(int64_t) +
           (size_t)n * g->max_new * sizeof(int32_t) + (size_t)n * sizeof(int32_t) + (size_t)n * g->text_bytes;
}

hs_status hs_cell_result_init(hs_cell_result *c, const hs_grid *g, int n)
{
    memset(c, 0, sizeof *c);
    size_t bytes = hs_cell_result_bytes(g, n);
    char *block = hs_calloc(1, bytes ? bytes : 1, "cell result");
    if (!block) return HS_ENOMEM;
    c->metrics = (double *)block;
    c->occupancy = (int64_t *)(c->metrics + (size_t)n * HS_M_COUNT);
    c->transitions = c->occupancy + (size_t)g->n_layers * g->n_heads * HS_AG_NSTATES;
    c->gen_ids = (int32_t *)(c->transitions + (size_t)g->n_layers * g->n_heads);
    c->prompt = c->gen_ids + (size_t)n * g->max_new;
    c->text = g->text_bytes ? (char *)(c->prompt + n) : NULL;
    c->text_bytes = g->text_bytes;
    c->n = n;
    c->rank = -1;
    c->copies_requested = c->copies_used = HS_RESULTS_COPIES_UNKNOWN;
    return HS_OK;
}

void hs_cell_result_free(hs_cell_result *c)
{
    if (!c) return;
    free(c->metrics);
    memset(c, 0, sizeof *c);
}
