/* cmd_model.c: `headsweep info` and `headsweep mkmodel`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "commands.h"
#include "headsweep/fixture.h"
#include "headsweep/model.h"

static const char info_usage[] =
    "usage: headsweep info --model DIR\n"
    "Prints the model's shape, parameter count, dtype and the sha256 of its weights.\n";

int hs_cmd_info(int argc, char **argv)
{
    const char *dir = NULL;
    static const struct option opts[] = {{"model", required_argument, 0, 'm'}, {0, 0, 0, 0}};
    hs_opt p;
    int c, rc;
    hs_cli_opt_init(&p, "info", info_usage, NULL, opts);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        if (c == HS_OPT_EXIT) return rc;
        dir = optarg; /* 'm', the only option */
    }
    if (hs_opt_operands(&p, argc, 0, 0, "info takes no operands (the model is --model DIR)")) return 2;
    if (!dir) return hs_opt_error(&p, "--model DIR is required");
    hs_model m;
    hs_status st = hs_model_load(&m, dir, NULL);
    if (st) return hs_cli_fail(st);
    const hs_config *cf = &m.cfg;
    printf("model        %s\n", dir);
    printf("n_layer      %d\nn_head       %d\nn_embd       %d\nn_positions  %d\nvocab_size   %d\nn_inner      %d\n",
           cf->n_layer, cf->n_head, cf->n_embd, cf->n_positions, cf->vocab_size, cf->n_inner);
    printf("ln_eps       %g\nheads        %d\ndtype        %s\nparameters   %zu\n", cf->ln_eps,
           cf->n_layer * cf->n_head, m.dtype, m.n_params);
    printf("lm_head      %s\n", m.lm_head == m.wte ? "tied to wte" : "lm_head.weight");
    printf("sha256       %s\n", hs_model_sha256(&m));
    printf("flops/token  %.4g (at context 1, all heads)\n", hs_model_flops_per_token(cf, cf->n_layer * cf->n_head, 1));
    hs_model_free(&m);
    return 0;
}

static const char mk_usage[] =
    "usage: headsweep mkmodel --shape SHAPE --seed S --out DIR [--dtype f32|f16|bf16]\n"
    "Writes a randomly initialised GPT-2 checkpoint (normal, std 0.02) in the Hugging Face\n"
    "layout with a synthetic byte-level BPE vocabulary. SHAPE: tiny, tiny64 (2 heads of\n"
    "64, as wide as every GPT-2's), distilgpt2, gpt2, gpt2-medium, gpt2-large, gpt2-xl.\n";

int hs_cmd_mkmodel(int argc, char **argv)
{
    const char *shape = NULL, *out = NULL, *dtype = "f32";
    uint64_t seed = 0;
    static const struct option opts[] = {{"shape", required_argument, 0, 's'}, {"seed", required_argument, 0, 'S'},
                                         {"out", required_argument, 0, 'o'},   {"dtype", required_argument, 0, 'd'},
                                         {0, 0, 0, 0}};
    hs_opt p;
    int c, rc;
    hs_cli_opt_init(&p, "mkmodel", mk_usage, NULL, opts);
    while ((c = hs_opt_next(&p, argc, argv, &rc)) != HS_OPT_END) {
        switch (c) {
        case HS_OPT_EXIT: return rc;
        case 's': shape = optarg; break;
        case 'o': out = optarg; break;
        case 'd': dtype = optarg; break;
        case 'S':
            if (hs_cli_parse_u64(&p, optarg, "--seed", &seed)) return 2;
            break;
        }
    }
    if (hs_opt_operands(&p, argc, 0, 0, "mkmodel takes no operands")) return 2;
    if (!shape || !out) return hs_opt_error(&p, "--shape and --out are required");
    hs_status st = hs_model_make_random(out, shape, seed, dtype);
    if (st) return hs_cli_fail(st);
    fprintf(stderr, "headsweep: wrote %s model to %s\n", shape, out);
    return 0;
}
