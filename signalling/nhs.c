/* NHS number validation and normalisation (see nhs.h). Pure functions, no allocation. */
#include "signalling/nhs.h"

#include <stddef.h>
#include <string.h>

#include "core/err.h"

/* True if the ten digits in d carry a correct Modulus 11 check digit. */
static bool check_digit_ok(const char d[PL_NHS_LEN])
{
    int sum = 0;

    for (int i = 0; i < 9; i++)
        sum += (d[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11) check = 0;
    /* A check of 10 cannot be written as one digit: no number is issued with it. */
    if (check == 10) return false;
    return d[9] - '0' == check;
}

int pl_nhs_normalise(const char *in, char out[PL_NHS_LEN + 1])
{
    char d[PL_NHS_LEN];
    size_t n = 0;

    if (out != NULL) out[0] = '\0';
    if (in == NULL || out == NULL) return -PL_EINVAL;

    size_t len = strlen(in);
    char sep = 0;
    if (len == 12) {
        /* 3-3-4 groups: separators at offsets 3 and 7, and both the same. */
        sep = in[3];
        if ((sep != ' ' && sep != '-') || in[7] != sep) return -PL_EINVAL;
    } else if (len != PL_NHS_LEN) {
        return -PL_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (sep != 0 && (i == 3 || i == 7)) continue;
        if (in[i] < '0' || in[i] > '9') return -PL_EINVAL;
        d[n++] = in[i];
    }
    if (!check_digit_ok(d)) return -PL_EINVAL;

    memcpy(out, d, PL_NHS_LEN);
    out[PL_NHS_LEN] = '\0';
    return 0;
}

bool pl_nhs_valid(const char *in)
{
    char out[PL_NHS_LEN + 1];

    return pl_nhs_normalise(in, out) == 0;
}

void pl_nhs_redact(char out[PL_NHS_LEN + 1])
{
    memset(out, '*', PL_NHS_LEN);
    out[PL_NHS_LEN] = '\0';
}
