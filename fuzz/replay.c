/* The regression runner for the fuzz targets: the same LLVMFuzzerTestOneInput, without
 * libFuzzer, over every file of the directories (or files) named on the command line. make test
 * runs each target over its seed corpus (fuzz/corpora/<target>/) and every saved reproducer
 * (fuzz/crashes/<target>/), so an input that once crashed a parser is tried on every change.
 * A crash or a sanitizer report fails the run; otherwise it prints how many inputs it ran. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as in libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0) n = 0;
    /* A copy of exactly the input's size, so that reading past its end is caught as libFuzzer
     * would catch it. */
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    long ran = 0;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) continue; /* no reproducers saved for this target yet */
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]) < 0;
            ran++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            bad |= run_file(p) < 0;
            ran++;
        }
        if (d) closedir(d);
    }
    printf("replay: %ld inputs\n", ran);
    if (ran == 0) {
        fprintf(stderr, "replay: no inputs (the seed corpus is missing)\n");
        return 1;
    }
    return bad ? 1 : 0;
}
