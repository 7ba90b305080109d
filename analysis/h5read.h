/* h5read.h: reads one results file (docs/results-format.md) into an hs_study, through the
 * results stage's read-only access (include/headsweep/results.h); no HDF5 here.
 *
 * Every problem with the file (missing, not HDF5, not a headsweep file, other schema
 * version, missing or misshapen datasets, unreadable values) is HS_EINPUT with a message
 * naming the file and the object. */
#ifndef HS_REPORT_H5READ_H
#define HS_REPORT_H5READ_H

#include "study.h"

/* Fills *out (zeroed first; free with hs_study_free, also after a failure). */
hs_status hs_h5_read_study(const char *path, hs_study *out);
/* The same from size bytes at image (an in-memory file; name for messages): the fuzz target. */
hs_status hs_h5_read_study_image(const char *name, const void *image, size_t size, hs_study *out);

#endif
