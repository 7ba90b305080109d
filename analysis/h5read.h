/* h5read.h: reads one results file (docs/results-format.md, schema version 1) into an
 * hs_study. The only HDF5 code of the report tool: serial API, H5P_DEFAULT everywhere.
 *
 * Every problem with the file (missing, not HDF5, not a headsweep file, other schema
 * version, missing or misshapen datasets, unreadable values) is HS_EINPUT with a message
 * naming the file and the object. */
#ifndef HS_REPORT_H5READ_H
#define HS_REPORT_H5READ_H

#include "study.h"

/* Fills *out (zeroed first; free with hs_study_free, also after a failure). */
hs_status hs_h5_read_study(const char *path, hs_study *out);

/* Version of the HDF5 library the tool runs with, e.g. "1.10.8". */
const char *hs_h5_library_version(void);

#endif
