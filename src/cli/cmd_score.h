/* cmd_score.h: `headsweep score`, head scores of a model on a calibration prompt set. */
#ifndef HEADSWEEP_CLI_CMD_SCORE_H
#define HEADSWEEP_CLI_CMD_SCORE_H

/* argv[0] is "score"; returns the exit code (0 ok, 2 bad input, 1 failure). */
int hs_cmd_score(int argc, char **argv);

#endif
