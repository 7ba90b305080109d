/* dryrun.c: what a sweep would compute, without computing it (`headsweep sweep --dry-run`):
 * the job after every --set, the evaluation prompts used (the rows of the prompt file a
 * max_prompts sample takes, which the results file records), and the cells of the grid and
 * of a --cells slice. The counts are the sweep's own (hs_grid_cells, hs_slice_has), so a
 * script that sizes a job array from them (slurm/hs-submit) cannot disagree with it; and so
 * are its checks of the inputs (prompts over the model's context, generated texts too long
 * for a results file, levels keep_one_per_layer cannot meet, scores files, the calibration
 * set: inputs.c, src/prune/plan.c), so a job it accepts is not refused on the node. What it
 * cannot know without the weights (a damaged model.safetensors) the sweep still refuses. */
#include <stdlib.h>
#include <string.h>

#include "headsweep/prompts.h"
#include "headsweep/tokenizer.h"
#include "sweep_impl.h"

/* The scores files, read and checked against the model as the sweep does, with the SHA-256
 * of model.safetensors instead of its mapping (hs_model_load_identity: some 0.1 s on the
 * bundled model, paid only by a job with a scores file). */
static hs_status read_scores_files(hs_sweep_plan *p)
{
    hs_plan_spec spec;
    hs_status st = hs_job_plan_spec(&p->job, &spec);
    int files = 0;
    for (int v = 0; !st && v < spec.n_variants; v++) files |= spec.variants[v].scores_path != NULL;
    hs_model id;
    memset(&id, 0, sizeof id);
    if (!st && files && !spec.heads_off) {
        st = hs_model_load_identity(&id, p->job.model_dir);
        if (st) st = hs_err_wrap(st, "%s: model = %s", hs_job_where(&p->job, "job", "model"), p->job.model_dir);
        else st = hs_prune_plan_read_files(&p->prune, &spec, &id);
    }
    hs_model_free(&id);
    hs_job_plan_spec_free(&spec);
    return st;
}

/* The pruning plan's levels, as the sweep sizes it once the model is loaded (here with
 * config.json's shape alone): a heads_off list is the study's one level; levels that
 * keep_one_per_layer cannot meet are refused (hs_prune_plan_init). */
static hs_status plan_levels(hs_sweep_plan *p, hs_config *cfg)
{
    char *path = hs_path_join(p->job.model_dir, "config.json");
    if (!path) return HS_ENOMEM;
    hs_status st = hs_config_load(cfg, path);
    free(path);
    if (st) return hs_err_wrap(st, "%s: model = %s", hs_job_where(&p->job, "job", "model"), p->job.model_dir);
    hs_plan_spec spec;
    st = hs_job_plan_spec(&p->job, &spec);
    if (!st) st = hs_prune_plan_init(&p->prune, &spec, cfg->n_layer, cfg->n_head);
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

/* The sweep's checks that need the tokenizer (vocab.json and merges.txt, not the weights),
 * the scores files and the calibration set, in the sweep's order: the same functions
 * (inputs.c, src/prune/plan.c), so the same messages. */
static hs_status check_inputs(hs_sweep_plan *p, const hs_config *cfg)
{
    const hs_job *j = &p->job;
    hs_tokenizer *tok = NULL;
    int text_bytes = 0, max_t = 0;
    hs_status st = hs_tokenizer_load(&tok, j->model_dir);
    if (st) st = hs_err_wrap(st, "%s: model = %s", hs_job_where(j, "job", "model"), j->model_dir);
    if (!st) st = hs_sweep_check_vocab(j, tok, cfg);
    if (!st) st = hs_sweep_text_bytes(j, tok, &text_bytes);
    if (!st) st = hs_sweep_context(j, tok, &p->prompts, cfg->n_positions, &max_t);
    hs_tokenizer_free(tok);
    if (!st) st = read_scores_files(p);
    hs_prompt_set calib;
    if (!st) st = hs_sweep_load_calib(j, &calib);
    if (!st) hs_prompts_free(&calib);
    return st;
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
    hs_config cfg;
    if (!st) st = plan_levels(p, &cfg);
    if (!st) st = choose_prompts(p);
    if (!st) st = check_inputs(p, &cfg);
    if (!st) st = hs_sweep_check_output(p->job.output); /* hs-submit's array writes beside it */
    if (st) {
        hs_sweep_plan_free(p);
        return st;
    }
    const hs_job *j = &p->job;
    p->grid = (hs_grid){j->n_variants, p->prune.n_levels, j->shards, p->n_prompts, p->prune.L, p->prune.H,
                        j->sample.max_new, 0, 0}; /* head_dim, text_bytes: no file is made */
    if ((st = hs_slice_check(&o->slice, &p->grid, !j->sequential))) {
        hs_sweep_plan_free(p);
        return st;
    }
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
