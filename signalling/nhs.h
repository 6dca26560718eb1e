/* NHS numbers: validation with the Modulus 11 check digit, normalisation to the canonical
 * 10-digit form, and the redacted form that is the only one allowed in logs.
 *
 * The accepted input forms are deliberately narrow (plain digits, or 3-3-4 groups with one
 * separator style) so that two spellings of one number always normalise to one string and
 * anything odd is refused rather than guessed at. */
#ifndef PL_NHS_H
#define PL_NHS_H

#include <stdbool.h>

/* Length of a canonical NHS number, without the NUL. */
#define PL_NHS_LEN 10

/* Validates the NHS number in and writes its canonical form (10 digits plus NUL) to out.
 * Accepts exactly "9434765919", "943 476 5919" or "943-476-5919": no other separators, no
 * mixed separators, no surrounding whitespace. The check digit is Modulus 11 over the first
 * nine digits with weights 10..2; a computed check of 10 makes the number invalid.
 * Returns 0 or -PL_EINVAL (in or out NULL, bad shape, bad check digit); on error out is set to
 * the empty string when out is not NULL. */
int pl_nhs_normalise(const char *in, char out[PL_NHS_LEN + 1]);

/* True if pl_nhs_normalise would accept in. */
bool pl_nhs_valid(const char *in);

/* Writes the log form of an NHS number to out: ten '*' and a NUL, whatever the number. It takes
 * no input on purpose: nothing about the number, not even a last group or its original
 * spelling, may reach a log. */
void pl_nhs_redact(char out[PL_NHS_LEN + 1]);

#endif
