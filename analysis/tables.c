/* tables.c: markdown and CSV tables of the report (see tables.h). */
#include "tables.h"

#include <math.h>
#include <string.h>

#include "outfile.h"

/* ---- markdown ---- */

static void md_header_variants(FILE *f, const hs_study *s, const char *first)
{
    fprintf(f, "| %s |", first);
    for (int v = 0; v < s->nv; v++) {
        fputc(' ', f);
        hs_out_md_cell(f, s->variant[v]);
        fputs(" |", f);
    }
    fputs("\n|---:|", f);
    for (int v = 0; v < s->nv; v++) fputs("---|", f);
    fputc('\n', f);
}

void hs_md_coverage(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    fprintf(f, "Prompts done per variant and level (of %d prompts; **bold** = incomplete).\n\n", s->np);
    md_header_variants(f, s, "level %");
    for (int l = 0; l < s->nl; l++) {
        fprintf(f, "| %g |", s->level[l]);
        for (int v = 0; v < s->nv; v++) {
            int k = hs_study_done_count(s, v, l);
            fprintf(f, k < s->np ? " **%d/%d** |" : " %d/%d |", k, s->np);
        }
        fputc('\n', f);
    }
    fputc('\n', f);
}

/* 1 when table t is NaN for every done prompt of every cell that has one: a metric the
 * study did not measure (e.g. measure_unpruned_ppl = off), said once, not per cell. */
static int never_measured(const hs_report *r, int t)
{
    const hs_study *s = r->st;
    int cells = 0;
    for (int v = 0; v < s->nv; v++)
        for (int l = 0; l < s->nl; l++) {
            int done = hs_study_done_count(s, v, l);
            if (done == 0) continue;
            if (r->tab[t].n_bad[hs_vl(s, v, l)] != done) return 0;
            cells++;
        }
    return cells > 0;
}

static int md_bad_values(FILE *f, const hs_report *r, int v, int l)
{
    const hs_study *s = r->st;
    int k = 0;
    for (int t = 0; t < r->ntab; t++) {
        int bad = r->tab[t].n_bad[hs_vl(s, v, l)];
        if (bad == 0 || never_measured(r, t)) continue;
        fprintf(f, "- level %g, %s: %s is missing (NaN) for %d of %d done prompts; left out\n",
                s->level[l], s->variant[v], r->tab[t].label, bad, hs_study_done_count(s, v, l));
        k++;
    }
    return k;
}

int hs_md_missing(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    int k = 0;
    for (int t = 0; t < r->ntab; t++)
        if (never_measured(r, t)) {
            fprintf(f, "- %s: not measured in this study (NaN in every cell, e.g. switched off in the job)\n",
                    r->tab[t].label);
            k++;
        }
    for (int l = 0; l < s->nl; l++)
        for (int v = 0; v < s->nv; v++) {
            int done = hs_study_done_count(s, v, l);
            if (done < s->np) {
                fprintf(f, "- level %g, %s: %d of %d prompts done%s\n", s->level[l], s->variant[v],
                        done, s->np, done == 0 ? " (no data)" : "");
                k++;
            }
            k += md_bad_values(f, r, v, l);
        }
    if (k == 0) fputs("No missing data: every cell is done and every value is finite.\n", f);
    fputc('\n', f);
    return k;
}

static void md_ci_cell(FILE *f, const hs_ci *c, int n_prompts)
{
    char a[32], b[32], m[32];
    if (c->n == 0) {
        fputs(" missing |", f);
        return;
    }
    fprintf(f, " %s", hs_fmt(m, sizeof m, c->mean));
    if (c->n >= 2) fprintf(f, " [%s, %s]", hs_fmt(a, sizeof a, c->lo), hs_fmt(b, sizeof b, c->hi));
    else fputs(" (no CI)", f);
    if (c->n < n_prompts) fprintf(f, " n=%d", c->n);
    fputs(" |", f);
}

void hs_md_metric_table(FILE *f, const hs_report *r, const hs_table *t)
{
    const hs_study *s = r->st;
    fprintf(f, "### %s", t->label);
    if (t->units[0]) fputs(" (", f), hs_out_md_cell(f, t->units), fputc(')', f);
    fprintf(f, "\n\n`%s`%s%s", t->src[0], t->src[1] ? " + `" : "", t->src[1] ? t->src[1] : "");
    fprintf(f, "%s: ", t->src[1] ? "`" : "");
    hs_out_md_cell(f, t->description[0] ? t->description : "(no description in the file)");
    if (t->weight)
        fprintf(f, ". Corpus perplexity: exp(sum of n_i ln ppl_i / sum of n_i) with n_i = `%s`, i.e. the "
                   "perplexity of all prompts' tokens together (not the mean of per-prompt perplexities) "
                   "[%g%% bootstrap CI, prompts resampled]; n = prompts counted when fewer than %d.\n\n",
                t->weight, 100 * r->opt.conf, s->np);
    else
        fprintf(f, ". Mean over prompts [%g%% bootstrap CI]; n = prompts counted when fewer than %d.\n\n",
                100 * r->opt.conf, s->np);
    md_header_variants(f, s, "level %");
    for (int l = 0; l < s->nl; l++) {
        fprintf(f, "| %g |", s->level[l]);
        for (int v = 0; v < s->nv; v++) md_ci_cell(f, &t->cell[hs_vl(s, v, l)], s->np);
        fputc('\n', f);
    }
    fputc('\n', f);
}

/* Which variant a pair lacks, and how to pick another reference when it is that one. */
static void md_unavailable(FILE *f, const hs_report *r, const hs_pair *pr)
{
    const char *missing = pr->a < 0 ? pr->a_name : pr->b_name;
    fprintf(f, "the file has no variant named `%s`", missing);
    if (!strcmp(missing, r->opt.reference)) fputs("; choose the reference with --reference VARIANT", f);
}

void hs_md_cmp_phrase(FILE *f, const hs_report *r, int p, int m, int l)
{
    const hs_cmp_cell *c = hs_report_cmp(r, p, m, l);
    const hs_pair *pr = &r->pair[p];
    if (!c->available) {
        fputs("unavailable (", f);
        md_unavailable(f, r, pr);
        fputc(')', f);
        return;
    }
    if (c->ci.n == 0) {
        fprintf(f, "not measured: no prompt is done in both (0 of %d)", c->n_prompts);
        return;
    }
    if (c->ci.n < 2) {
        fprintf(f, "too few paired prompts (%d of %d)", c->ci.n, c->n_prompts);
        return;
    }
    char a[32], b[32], d[32], w[160], pv[96];
    fprintf(f, "%s%% (95%% CI %s .. %s, %d of %d prompts paired, %s): %s", hs_fmt_pct(d, sizeof d, c->ci.mean),
            hs_fmt_pct(a, sizeof a, c->ci.lo), hs_fmt_pct(b, sizeof b, c->ci.hi), c->ci.n, c->n_prompts,
            hs_fmt_p(r, c, pv, sizeof pv), hs_report_verdict(r, m, c, w, sizeof w));
    if (r->cm[m].timing && c->n_cross > 0)
        fprintf(f, " (caution: %d of these pairs ran on different hosts or in different sweep runs)", c->n_cross);
}

static int listed(const char *key, const char *const *metrics)
{
    if (!metrics) return 1;
    for (; *metrics; metrics++)
        if (!strcmp(*metrics, key)) return 1;
    return 0;
}

/* The per-token NLL difference D in nats (the log-ratio of the two corpus perplexities) and
 * its interval, for the token-weighted metric: its percentages are 100 (exp(D) - 1) of them,
 * a monotone map, so D's interval is the percentage interval mapped back. */
static double nll_of_pct(double pct) { return log1p(pct / 100); }

static void md_cmp_row(FILE *f, const hs_report *r, int p, int m, int l)
{
    const hs_cmp_cell *c = hs_report_cmp(r, p, m, l);
    fprintf(f, "| %g | %s | %d/%d | %d |", r->st->level[l], r->cm[m].label, c->ci.n, c->n_prompts,
            c->perm.n_nonzero);
    char a[32], b[32], d[32], w[160], pv[96];
    if (c->ci.n >= 1 && r->cm[m].weight) /* the primary quality effect: the per-token NLL difference too */
        fprintf(f, " %s%% (D = %+.3g nats/token) | %s .. %s |", hs_fmt_pct(d, sizeof d, c->ci.mean),
                nll_of_pct(c->ci.mean), hs_fmt_pct(a, sizeof a, c->ci.lo), hs_fmt_pct(b, sizeof b, c->ci.hi));
    else if (c->ci.n >= 1)
        fprintf(f, " %s%% | %s .. %s |", hs_fmt_pct(d, sizeof d, c->ci.mean), hs_fmt_pct(a, sizeof a, c->ci.lo),
                hs_fmt_pct(b, sizeof b, c->ci.hi));
    else
        fputs(" n/a | n/a |", f);
    fprintf(f, " %s | %s", hs_fmt_p(r, c, pv, sizeof pv),
            hs_report_verdict(r, m, c, w, sizeof w));
    if (r->cm[m].timing && c->n_cross > 0) fprintf(f, " (%d pairs across hosts/runs)", c->n_cross);
    fputs(" |\n", f);
}

void hs_md_comparison(FILE *f, const hs_report *r, int p, const char *const *metrics)
{
    const hs_pair *pr = &r->pair[p];
    fprintf(f, "### %s\n\n", pr->title);
    if (pr->a < 0 || pr->b < 0) {
        fputs("Unavailable: ", f);
        md_unavailable(f, r, pr);
        fputs(".\n\n", f);
        return;
    }
    if (pr->b_level < 0) {
        fprintf(f, "Per prompt: ln(%s / %s) at the same level; every percentage is 100 (exp(mean) - 1) of these "
                "log ratios over the prompts done in both (the geometric mean ratio's change: swapping the two "
                "variants flips its sign), except corpus reference perplexity's, the ratio "
                "of the two corpus perplexities minus 1 (from the per-token NLL difference); with a paired "
                "bootstrap 95%% CI and a sign-flip p-value; no verdict from fewer than %d pairs or differing pairs.",
                pr->a_name, pr->b_name, r->opt.min_pairs);
        /* Both variants compute every head at 0%: that row is the control for the others. */
        if (r->st->level[0] == 0)
            fputs(" The 0% rows are the control: nothing is pruned there, so a speed difference at 0% is "
                  "noise, machine load or gating/agency overhead, not pruning.", f);
        fputs("\n\n", f);
    } else
        fprintf(f, "Per prompt: ln(level L / level %g) within %s; 100 (exp(mean) - 1) of these log ratios, "
                "except corpus reference perplexity's, the ratio of the two corpus perplexities minus 1.\n\n",
                r->st->level[pr->b_level], pr->a_name);
    fputs("| level % | metric | pairs | differ | mean difference | 95% CI (%) | p (sign-flip) | verdict |\n"
          "|---:|---|---:|---:|---:|---:|---|---|\n", f);
    for (int l = 0; l < r->st->nl; l++)
        for (int m = 0; m < r->ncm; m++)
            if (l != pr->b_level && listed(r->cm[m].key, metrics)) md_cmp_row(f, r, p, m, l);
    fputc('\n', f);
}

static void write_tables_md(FILE *f, const hs_report *r)
{
    fprintf(f, "# Tables\n\nBootstrap: %d resamples, seed %llu, percentile intervals (see docs/report.md).\n\n",
            r->opt.bootstrap, (unsigned long long)r->opt.seed);
    fputs("## Coverage\n\n", f);
    hs_md_coverage(f, r);
    hs_md_missing(f, r);
    fputs("## Metrics\n\n", f);
    for (int t = 0; t < r->n_promised; t++) hs_md_metric_table(f, r, &r->tab[t]);
    fputs("## Comparisons between variants\n\n", f);
    for (int p = 0; p < r->n_variant_pairs; p++) hs_md_comparison(f, r, p, NULL);
    fputs("## Each variant against its own lowest level\n\n", f);
    for (int p = r->n_variant_pairs; p < r->npair; p++) hs_md_comparison(f, r, p, NULL);
    if (r->ntab > r->n_promised) fputs("## Other metrics in the file\n\n", f);
    for (int t = r->n_promised; t < r->ntab; t++) hs_md_metric_table(f, r, &r->tab[t]);
}

/* ---- CSV ---- */

static void csv_num(FILE *f, double x)
{
    if (isnan(x)) fputs(",", f);
    else fprintf(f, ",%.9g", x);
}

static void write_table_csv(FILE *f, const hs_report *r, const hs_table *t)
{
    const hs_study *s = r->st;
    fputs("metric,units,variant,level,n,n_done,n_prompts,n_nan,mean,sd,ci_low,ci_high,seed_key\n", f);
    for (int v = 0; v < s->nv; v++)
        for (int l = 0; l < s->nl; l++) {
            const hs_ci *c = &t->cell[hs_vl(s, v, l)];
            char key[512];
            hs_out_csv_cell(f, t->key);
            fputc(',', f);
            hs_out_csv_cell(f, t->units);
            fputc(',', f);
            hs_out_csv_cell(f, s->variant[v]);
            fprintf(f, ",%g,%d,%d,%d,%d", s->level[l], c->n, hs_study_done_count(s, v, l), s->np,
                    t->n_bad[hs_vl(s, v, l)]);
            csv_num(f, c->mean), csv_num(f, c->sd), csv_num(f, c->lo), csv_num(f, c->hi);
            hs_report_table_key(r, t, v, l, key, sizeof key);
            fputc(',', f);
            hs_out_csv_cell(f, key);
            fputc('\n', f);
        }
}

/* D and its interval in comparisons.csv (nll_of_pct), empty for the other metrics. */
static void cmp_nll_csv(FILE *f, const hs_report *r, int m, const hs_cmp_cell *c)
{
    int w = r->cm[m].weight != NULL && c->ci.n >= 1;
    csv_num(f, w ? nll_of_pct(c->ci.mean) : NAN);
    csv_num(f, w ? nll_of_pct(c->ci.lo) : NAN);
    csv_num(f, w ? nll_of_pct(c->ci.hi) : NAN);
}

static void write_cmp_csv(FILE *f, const hs_report *r)
{
    fputs("comparison,a,b,b_level,metric,level,available,n_pairs,n_prompts,n_zero,n_cross_host_or_run,mean_pct,"
          "sd_pct,ci_low_pct,ci_high_pct,verdict,seed_key,n_nonzero,p_value,p_method,p_holm,margin_pct,n_interleaved,"
          "n_not_interleaved,nll_nats,nll_ci_low_nats,nll_ci_high_nats,n_copies_mixed,n_copies_unknown\n", f);
    for (int p = 0; p < r->npair; p++)
        for (int m = 0; m < r->ncm; m++)
            for (int l = 0; l < r->st->nl; l++) {
                const hs_pair *pr = &r->pair[p];
                const hs_cmp_cell *c = hs_report_cmp(r, p, m, l);
                if (l == pr->b_level) continue;
                char key[700], w[160];
                hs_out_csv_cell(f, pr->key), fputc(',', f);
                hs_out_csv_cell(f, pr->a_name), fputc(',', f);
                hs_out_csv_cell(f, pr->b_name);
                if (pr->b_level >= 0) fprintf(f, ",%g", r->st->level[pr->b_level]);
                else fputs(",", f);
                fprintf(f, ",%s,%g,%d,%d,%d,%d,%d", r->cm[m].key, r->st->level[l], c->available,
                        c->ci.n, c->n_prompts, c->n_zero, c->n_cross);
                csv_num(f, c->ci.mean), csv_num(f, c->ci.sd), csv_num(f, c->ci.lo), csv_num(f, c->ci.hi);
                fputc(',', f);
                hs_out_csv_cell(f, hs_report_verdict(r, m, c, w, sizeof w));
                hs_report_cmp_key(r, p, m, l, key, sizeof key);
                fputc(',', f);
                hs_out_csv_cell(f, key);
                fprintf(f, ",%d", c->perm.n_nonzero);
                csv_num(f, c->ci.n >= 2 ? c->perm.p : NAN);
                fputs(c->ci.n < 2 ? "," : c->perm.exact ? ",exact" : ",monte-carlo", f);
                csv_num(f, c->p_holm);
                csv_num(f, c->margin);
                fprintf(f, ",%d,%d", c->n_interleaved, c->n_not_interleaved);
                cmp_nll_csv(f, r, m, c);
                fprintf(f, ",%d,%d\n", c->n_copies_mixed, c->n_copies_unknown);
            }
}

static void write_coverage_csv(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    fputs("variant,level,prompts_done,prompts\n", f);
    for (int v = 0; v < s->nv; v++)
        for (int l = 0; l < s->nl; l++) {
            hs_out_csv_cell(f, s->variant[v]);
            fprintf(f, ",%g,%d,%d\n", s->level[l], hs_study_done_count(s, v, l), s->np);
        }
}

/* The prompts and where each is in the prompt file: the book the sample stratified by and
 * the rows /prompts/file_index and /prompts/line record (empty when the file predates them). */
static void write_prompts_csv(FILE *f, const hs_report *r)
{
    const hs_study *s = r->st;
    fputs("prompt,book,file_index,line\n", f);
    for (int p = 0; p < s->np; p++) {
        hs_out_csv_cell(f, s->prompt[p]);
        fputc(',', f);
        hs_out_csv_cell(f, r->book_name[r->book[p]]);
        for (int k = 0; k < 2; k++)
            if (s->row && s->row[2 * p + k] >= 0) fprintf(f, ",%d", (int)s->row[2 * p + k]);
            else fputc(',', f);
        fputc('\n', f);
    }
}

/* Opens dir/name, lets fn write it, closes with checks. */
static hs_status write_file(const hs_report *r, const char *name, const hs_table *t,
                            void (*fn)(FILE *, const hs_report *, const hs_table *))
{
    hs_out o;
    hs_status st = hs_out_open(&o, r->opt.out, name);
    if (st) return st;
    fn(o.f, r, t);
    return hs_out_close(&o);
}

static void tables_md_fn(FILE *f, const hs_report *r, const hs_table *t) { write_tables_md(f, r); }
static void cmp_csv_fn(FILE *f, const hs_report *r, const hs_table *t) { write_cmp_csv(f, r); }
static void coverage_csv_fn(FILE *f, const hs_report *r, const hs_table *t) { write_coverage_csv(f, r); }
static void prompts_csv_fn(FILE *f, const hs_report *r, const hs_table *t) { write_prompts_csv(f, r); }

hs_status hs_tables_write(const hs_report *r)
{
    hs_status st = write_file(r, "tables.md", NULL, tables_md_fn);
    if (!st) st = write_file(r, "comparisons.csv", NULL, cmp_csv_fn);
    if (!st) st = write_file(r, "coverage.csv", NULL, coverage_csv_fn);
    if (!st) st = write_file(r, "prompts.csv", NULL, prompts_csv_fn);
    for (int t = 0; !st && t < r->ntab; t++) {
        char name[300];
        char safe[256];
        hs_out_safe_name(r->tab[t].key, safe, sizeof safe);
        snprintf(name, sizeof name, "table_%s.csv", safe);
        st = write_file(r, name, &r->tab[t], write_table_csv);
    }
    return st;
}
