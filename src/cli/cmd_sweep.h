/* cmd_sweep.h: `headsweep sweep` and `headsweep merge` (src/sweep). Same contract as the
 * commands in commands.h: argv[0] is the subcommand, the return value the exit code. */
#ifndef HEADSWEEP_CLI_CMD_SWEEP_H
#define HEADSWEEP_CLI_CMD_SWEEP_H

/* mpirun -n N headsweep sweep JOB.ini [--set s.k=v ...] [--out FILE] [--cells K/N]
 * Exit 0 done, 2 bad input, 3 stopped by a signal with the finished cells saved, 4 the
 * results file is held by another live sweep. */
int hs_cmd_sweep(int argc, char **argv);
/* headsweep merge OUT.h5 IN.h5... */
int hs_cmd_merge(int argc, char **argv);
/* headsweep status FILE.h5 [--json]: exit 0, or 4 while a live sweep holds the file. */
int hs_cmd_status(int argc, char **argv);

#endif
