/* A C program using the installed integer runtime (qat/qat_runtime.h),
 * built by tests/c_api/build_installed.sh with
 *   cc use_runtime.c $(pkg-config --cflags --libs qat-runtime)
 *
 *   use_runtime MODEL.int.h5 IMAGE.f32 HEIGHT WIDTH PROB_OUT CORRUPT.h5
 *
 * Runs the model on the image (float32, 1 x HEIGHT x WIDTH), writes the
 * probabilities (float32 a pixel) to PROB_OUT, and checks that misuse gets
 * its error code and a message: NULL pointers, a wrong image size, a freed
 * model, a corrupted model file. Exit 0 when every check held. */
#include <qat_runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

static void expect(qat_status got, qat_status want, const char* what) {
  const char* msg = qat_last_error();
  if (got != want || (want != QAT_OK && msg[0] == '\0')) {
    fprintf(stderr, "use_runtime: %s: status %d, expected %d (message: '%s')\n", what, (int)got,
            (int)want, msg);
    ++failures;
  } else if (want != QAT_OK) {
    printf("%s -> %d: %s\n", what, (int)got, msg);
  }
}

static float* read_image(const char* path, long n) {
  FILE* f = fopen(path, "rb");
  float* px = malloc((size_t)n * sizeof(float));
  if (!f || !px || fread(px, sizeof(float), (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "use_runtime: %s: could not read %ld float32 pixels\n", path, n);
    exit(2);
  }
  fclose(f);
  return px;
}

int main(int argc, char** argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: use_runtime MODEL IMAGE.f32 HEIGHT WIDTH PROB_OUT CORRUPT.h5\n");
    return 2;
  }
  const long h = atol(argv[3]), w = atol(argv[4]);
  float* pixels = read_image(argv[2], h * w);
  unsigned char* mask = malloc((size_t)(h * w));
  float* prob = malloc((size_t)(h * w) * sizeof(float));
  qat_model* m = NULL;

  expect(qat_model_load(argv[1], &m), QAT_OK, "load");
  if (!m) return 1;
  int64_t channels = 0;
  expect(qat_model_channels(m, &channels), QAT_OK, "channels");
  expect(qat_model_run(m, pixels, channels, h, w, 0.5f, prob, mask), QAT_OK, "run");
  long ones = 0;
  for (long p = 0; p < h * w; ++p) ones += mask[p] != 0 && (prob[p] >= 0.5f);
  printf("mask: %ld of %ld pixels\n", ones, h * w);
  FILE* out = fopen(argv[5], "wb");
  if (!out || fwrite(prob, sizeof(float), (size_t)(h * w), out) != (size_t)(h * w)) return 2;
  fclose(out);
  expect(qat_model_free(m), QAT_OK, "free");

  expect(qat_model_load(NULL, &m), QAT_ERR_NULL, "load(NULL path)");
  expect(qat_model_load(argv[6], &m), QAT_ERR_FILE, "load(corrupted file)");
  expect(qat_model_load("/nonexistent/model.int.h5", &m), QAT_ERR_FILE, "load(missing file)");
  expect(qat_model_load(argv[1], &m), QAT_OK, "load again");
  expect(qat_model_run(m, NULL, 1, h, w, 0.5f, prob, mask), QAT_ERR_NULL, "run(NULL pixels)");
  expect(qat_model_run(m, pixels, 1, h, w, 0.5f, NULL, NULL), QAT_ERR_NULL, "run(no output)");
  expect(qat_model_run(m, pixels, 1, h - 1, w, 0.5f, prob, mask), QAT_ERR_SIZE, "run(height-1)");
  expect(qat_model_run(m, pixels, 3, h, w, 0.5f, prob, mask), QAT_ERR_SIZE, "run(3 channels)");
  expect(qat_model_run(m, pixels, 1, 0, w, 0.5f, prob, mask), QAT_ERR_SIZE, "run(height 0)");
  expect(qat_model_free(m), QAT_OK, "free");
  expect(qat_model_run(m, pixels, 1, h, w, 0.5f, prob, mask), QAT_ERR_MODEL, "run(freed model)");
  expect(qat_model_free(m), QAT_ERR_MODEL, "free(freed model)");
  /* a new model where the freed one was: the freed handle is still refused */
  qat_model* again = NULL;
  expect(qat_model_load(argv[1], &again), QAT_OK, "load a third time");
  if (again == m) {
    fprintf(stderr, "use_runtime: a new model got the freed model's handle\n");
    ++failures;
  }
  expect(qat_model_run(m, pixels, 1, h, w, 0.5f, prob, mask), QAT_ERR_MODEL,
         "run(freed model, after a new load)");
  expect(qat_model_run(again, pixels, 1, h, w, 0.5f, prob, mask), QAT_OK, "run(new model)");
  expect(qat_model_free(again), QAT_OK, "free(new model)");
  expect(qat_model_free(NULL), QAT_ERR_NULL, "free(NULL)");

  free(pixels), free(mask), free(prob);
  return failures ? 1 : 0;
}
