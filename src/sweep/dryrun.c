/* dryrun.c: what a sweep would compute, without computing it (`headsweep sweep --dry-run`):
 * the job after every --set, the evaluation prompts used (the rows of the prompt file a
 * max_prompts sample takes, which the results file records), and the cells of the grid and
 * of a --cells slice. The counts are the sweep's own (hs_grid_cells, hs_slice_has), so a
 * script that sizes a job array from them (slurm/hs-submit) cannot disagree with it. */
#include <stdlib.h>
#include <string.h>

#include "headsweep/prompts.h"
#include "sweep_impl.h"

/* The pruning plan's levels, as the sweep sizes it once the model is loaded (here with
 * config.json's shape alone): a heads_off list is the study's one level. */
static hs_status plan_levels(hs_sweep_plan *p)
{
    char *path = hs_path_join(p->job.model_dir, "config.json");
    if (!path) return HS_ENOMEM;
    hs_config cfg;
    hs_status st = hs_config_load(&cfg, path);
    free(path);
    if (st) return hs_err_wrap(st, "%s: model = %s", hs_job_where(&p->job, "job", "model"), p->job.model_dir);
    hs_plan_spec spec;
    st = hs_job_plan_spec(&p->job, &spec);
    if (!st) st = hs_prune_plan_init(&p->prune, &spec, cfg.n_layer, cfg.n_head);
    p->have_prune = !st;
    hs_job_plan_spec_free(&spec);
    return st;
}

/* Evaluation prompts used: the sweep's choice (hs_prompts_choose: all, the first max_prompts
 * or the seeded sample), kept with their rows of the file; at least one a shard. */
static hs_status choose_prompts(hs_sweep_plan *p)
{
    const hs_job *j = &p->job;
    hs_status st = hs_prompts_load(&p->prompts, j->prompts_path);
    if (st) return st;
    size_t k = 0;
    p->n_file = (int)p->prompts.n;
    p->file_index = hs_malloc((p->prompts.n ? p->prompts.n : 1) * sizeof *p->file_index, "prompt sample");
    if (!p->file_index) return HS_ENOMEM;
    st = hs_prompts_choose(&p->prompts, j->max_prompts, j->prompt_head, j->prompt_seed, p->file_index, &k);
    if (st) return hs_err_wrap(st, "%s", hs_job_where(j, "job", "max_prompts"));
    hs_prompts_keep(&p->prompts, p->file_index, k);
    p->n_prompts = (int)k;
    return hs_job_check_prompts(j, p->n_prompts);
}

hs_status hs_sweep_plan_make(hs_sweep_plan *p, const hs_sweep_opts *o)
{
    memset(p, 0, sizeof *p);
    hs_status st = hs_job_load(&p->job, o->job_path, o->sets, o->n_sets);
    if (st) return st;
    if (o->output) {
        free(p->job.output);
        if (!(p->job.output = hs_strdup(o->output))) st = HS_ENOMEM;
    }
    if (!st) st = plan_levels(p);
    if (!st) st = choose_prompts(p);
    if (st) {
        hs_sweep_plan_free(p);
        return st;
    }
    const hs_job *j = &p->job;
    p->grid = (hs_grid){j->n_variants, p->prune.n_levels, j->shards, p->n_prompts, p->prune.L, p->prune.H,
                        j->sample.max_new, 0, 0}; /* head_dim, text_bytes: no file is made */
    p->cells = hs_grid_cells(&p->grid);
    for (int64_t i = 0; i < p->cells; i++)
        p->cells_slice += hs_slice_has(&o->slice, hs_grid_slice_key(&p->grid, i, !j->sequential));
    return HS_OK;
}

void hs_sweep_plan_free(hs_sweep_plan *p)
{
    if (!p) return;
    if (p->have_prune) hs_prune_plan_free(&p->prune);
    hs_prompts_free(&p->prompts);
    free(p->file_index);
    if (p->job.path) hs_job_free(&p->job);
    memset(p, 0, sizeof *p);
}
