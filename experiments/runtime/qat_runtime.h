/* The integer runtime's C API: load a qat integer model (`qat export
 * CHECKPOINT`, layout in experiments/runtime/FORMAT.md), run it on one
 * image of float pixels, read probabilities or a mask, free it.
 *
 * Installed by `meson install` with libqat-runtime and qat-runtime.pc:
 *   cc prog.c $(pkg-config --cflags --libs qat-runtime)
 *
 * Every function returns a qat_status; on failure qat_last_error() gives a
 * one-line message naming what was wrong (the file, the argument, the size
 * found and the size expected). No function exits the program or lets a C++
 * exception out. Handles are checked: a handle that qat_model_load did not
 * return, or one already given to qat_model_free, gets QAT_ERR_MODEL. A
 * handle is a serial number that no later load reuses, not the address of
 * the model, so a freed handle stays invalid after the memory is reused, and
 * checking it never touches freed memory.
 * A model may be used from one thread at a time; different models from
 * different threads. The engine's own OpenMP threads follow OMP_NUM_THREADS. */
#ifndef QAT_RUNTIME_H
#define QAT_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qat_model qat_model;

typedef enum qat_status {
  QAT_OK = 0,
  QAT_ERR_NULL = 1,     /* a required pointer argument is NULL */
  QAT_ERR_FILE = 2,     /* model file missing, not HDF5, truncated, corrupted or not a qat model */
  QAT_ERR_MODEL = 3,    /* not a live handle from qat_model_load (e.g. already freed) */
  QAT_ERR_SIZE = 4,     /* image channels, height or width not what the model takes */
  QAT_ERR_INTERNAL = 5  /* anything else (out of memory, an engine invariant) */
} qat_status;

/* Loads the integer model at path into *model (NULL on failure). */
qat_status qat_model_load(const char* path, qat_model** model);

/* The image channels the model takes (1 for the paper's U-Net). */
qat_status qat_model_channels(const qat_model* model, int64_t* channels);

/* Runs one image: pixels (channels, height, width) float, preprocessed as
 * the model was trained (qat's packed data is already normalised); height
 * and width positive multiples of 8. Writes height*width values to each
 * non-NULL output: probabilities (sigmoid of the logits) and mask (1 where
 * the probability >= threshold, else 0). At least one output is required. */
qat_status qat_model_run(qat_model* model, const float* pixels, int64_t channels, int64_t height,
                         int64_t width, float threshold, float* probabilities, uint8_t* mask);

/* Frees the model; the handle is invalid afterwards (QAT_ERR_MODEL). */
qat_status qat_model_free(qat_model* model);

/* The message of this thread's last failed call ("" if none). */
const char* qat_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* QAT_RUNTIME_H */
