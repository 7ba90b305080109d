/* jobplan.c: a job file's pruning settings as the pruning plan's input (hs_plan_spec,
 * src/prune/plan.c), and the job as the study runs it once the plan is resolved. The
 * parsed job is never changed: what the plan resolves (a head list's level and canonical
 * spelling, a scores file's strategy and seed) is seen through a view for the study text
 * and the results file, which gets it as plain data (hs_job_results_view). */
#include <stdlib.h>
#include <string.h>

#include "sweep_impl.h"

/* hs_job_where, NULL when the key was not set. */
static const char *where_set(const hs_job *job, const char *section, const char *key)
{
    const char *w = hs_job_where(job, section, key);
    return strcmp(w, "defaults") ? w : NULL;
}

static void variant_spec(const hs_job *job, const hs_variant *var, hs_plan_variant *out)
{
    char section[HS_VARIANT_NAME_MAX + 16];
    snprintf(section, sizeof section, "variant.%s", var->name);
    int own = var->scores_path != job->scores_path; /* its section names its own file */
    const char *sec = own ? section : "pruning";
    const char *ablation_where = where_set(job, section, "ablation");
    *out = (hs_plan_variant){var->name, var->strategy, where_set(job, sec, "strategy"), var->scores_path,
                             hs_job_where(job, sec, "scores"), var->scores_path && !own, var->select,
                             var->ablation, ablation_where ? ablation_where : where_set(job, "pruning", "ablation")};
}

hs_status hs_job_plan_spec(const hs_job *job, hs_plan_spec *spec)
{
    hs_plan_variant *vars = hs_calloc((size_t)job->n_variants, sizeof *vars, "variant pruning");
    if (!vars) return HS_ENOMEM;
    for (int v = 0; v < job->n_variants; v++) variant_spec(job, &job->variants[v], &vars[v]);
    *spec = (hs_plan_spec){vars, job->n_variants, job->levels, job->n_levels, job->path, job->heads_off,
                           job->heads_off ? hs_job_where(job, "pruning", "heads_off") : NULL, job->each_head,
                           job->strategy, job->score};
    return HS_OK;
}

void hs_job_plan_spec_free(hs_plan_spec *spec)
{
    if (!spec) return;
    free((void *)spec->variants);
    memset(spec, 0, sizeof *spec);
}

hs_status hs_job_as_run(const hs_job *job, const hs_prune_plan *p, hs_job *view)
{
    *view = *job;
    view->variants = hs_malloc((size_t)job->n_variants * sizeof *view->variants, "variants");
    if (!view->variants) return HS_ENOMEM;
    memcpy(view->variants, job->variants, (size_t)job->n_variants * sizeof *view->variants);
    for (int v = 0; v < job->n_variants; v++) view->variants[v].strategy = p->vstrategy[v];
    view->levels = p->levels;
    view->n_levels = p->n_levels;
    view->level_head = p->n_single ? p->level_head : NULL;
    view->heads_off = p->heads_off;
    view->strategy = p->strategy;
    view->score = p->score;
    return HS_OK;
}

void hs_job_as_run_free(hs_job *view)
{
    if (view) free(view->variants);
}

hs_status hs_job_results_view(const hs_job *job, hs_results_job *out)
{
    hs_results_variant *vars = hs_calloc((size_t)job->n_variants, sizeof *vars, "variants");
    if (!vars) return HS_ENOMEM;
    for (int v = 0; v < job->n_variants; v++) {
        const hs_variant *var = &job->variants[v];
        vars[v] = (hs_results_variant){var->name, var->gating, var->agency_on, var->select, var->ablation};
    }
    *out = (hs_results_job){job->name, job->path, job->text, job->model_dir, job->prompts_path, job->calib_path,
                            job->scores_path, job->heads_off, job->max_prompts, vars, job->levels, job->strategy,
                            job->score.seed, job->select, job->sample, job->shards, job->measure_unpruned_ppl,
                            job->level_head};
    return HS_OK;
}

void hs_job_results_view_free(hs_results_job *out)
{
    if (!out) return;
    free((void *)out->variants);
    memset(out, 0, sizeof *out);
}
