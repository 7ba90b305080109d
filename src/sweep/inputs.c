/* inputs.c: the checks of a study's inputs that need more than the job file (the tokenizer,
 * config.json, the prompts used, the calibration set), shared by the sweep (sweep.c) and its
 * dry run (dryrun.c), so that `sweep --dry-run`, which slurm/hs-submit trusts before queueing
 * a job array, refuses exactly what the sweep refuses, with the same message (exit 2).
 * None of them needs the weights: the dry run calls them with config.json and the tokenizer
 * alone (vocab.json and merges.txt load in milliseconds on the bundled model). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "headsweep/prompts.h"
#include "headsweep/tokenizer.h"
#include "sweep_impl.h"

hs_status hs_sweep_check_vocab(const hs_job *job, const hs_tokenizer *tok, const hs_config *cfg)
{
    if (hs_tokenizer_vocab_size(tok) <= cfg->vocab_size) return HS_OK;
    return hs_err(HS_EINPUT, "%s: the tokenizer has %d tokens, the model only %d", job->model_dir,
                  hs_tokenizer_vocab_size(tok), cfg->vocab_size);
}

hs_status hs_sweep_text_bytes(const hs_job *job, const hs_tokenizer *tok, int *text_bytes)
{
    /* /prompts/generated's strings hold any text of max_new tokens (hs_tokenizer_text_bound) */
    size_t bytes = (size_t)job->sample.max_new * hs_tokenizer_text_bound(tok) + 1;
    if (bytes > HS_RESULTS_TEXT_MAX)
        return hs_err(HS_EINPUT, "%s: max_new_tokens = %d: the generated texts could take %zu bytes each, more than "
                                 "the %d a results file stores", hs_job_where(job, "generation", "max_new_tokens"),
                      job->sample.max_new, bytes, HS_RESULTS_TEXT_MAX);
    *text_bytes = (int)bytes;
    return HS_OK;
}

static hs_status count_tokens(const hs_tokenizer *tok, const char *text, int *n)
{
    int32_t *ids = NULL;
    size_t len = 0;
    hs_status st = hs_tokenizer_encode(tok, text, strlen(text), 0, &ids, &len);
    free(ids);
    *n = (int)len;
    return st;
}

hs_status hs_sweep_context(const hs_job *job, const hs_tokenizer *tok, const hs_prompt_set *prompts, int n_positions,
                           int *max_t)
{
    int worst = 0, max_new = job->sample.max_new;
    for (size_t i = 0; i < prompts->n; i++) {
        const hs_prompt *p = &prompts->items[i];
        int np, nr = 0;
        hs_status st = count_tokens(tok, p->prompt, &np);
        if (!st && p->reference) st = count_tokens(tok, p->reference, &nr);
        if (st) return hs_err_wrap(st, "%s:%d: prompt %s", job->prompts_path, p->line, p->id);
        int by_ref = nr > max_new, need = np + (by_ref ? nr : max_new);
        if (need > n_positions)
            return hs_err(HS_EINPUT, "%s:%d: prompt %s needs %d tokens (%d prompt + %d %s), over the model's context "
                                     "of %d; shorten %s",
                          job->prompts_path, p->line, p->id, need, np, need - np, by_ref ? "reference" : "generated",
                          n_positions, by_ref ? "the prompt or its reference" : "it or lower max_new_tokens");
        if (need > worst) worst = need;
    }
    *max_t = worst;
    return HS_OK;
}

hs_status hs_sweep_load_calib(const hs_job *job, hs_prompt_set *calib)
{
    memset(calib, 0, sizeof *calib);
    return job->calib_path ? hs_prompts_load(calib, job->calib_path) : HS_OK;
}

hs_status hs_sweep_check_output(const char *out)
{
    struct stat ls, ts;
    hs_status st = hs_lock_check_path(out);
    if (st) return st;
    if (lstat(out, &ls) != 0 || !S_ISLNK(ls.st_mode) || stat(out, &ts) == 0) return HS_OK;
    return hs_err(HS_EINPUT, "%s is a symbolic link to a file that does not exist: give the results file's own path "
                             "(or remove the link)", out);
}
