/* pnr.h - Swedish personal identity numbers (personnummer) and
 * co-ordination numbers (samordningsnummer) in free text: found, counted
 * and masked to YYMMDD-XXXX. Pure: no allocation beyond the caller's
 * buffer, so every format's text goes through the same rules
 * (docs/FORMATS.md, "Personal identity numbers"). */
#ifndef BEVIS_PNR_H
#define BEVIS_PNR_H

#include <stddef.h>

#include "buf.h"
#include "event.h"

#define PNR_MASKED_LEN	11	/* "YYMMDD-XXXX" */

/* Is there a number at s[i]? prev_ok says the byte before it may precede
 * one (pnr_count and pnr_mask work it out). On a match returns 1, sets
 * *end past it and writes the masked form (11 bytes, no NUL). */
int pnr_match_at(const unsigned char *s, size_t n, size_t i, int prev_ok,
    size_t *end, char masked[PNR_MASKED_LEN]);
/* How many numbers s[0..n) holds. */
size_t pnr_count(const char *s, size_t n);
/* Appends s with every number masked to out; returns how many. */
size_t pnr_mask(const char *s, size_t n, struct buf *out);
/* Appends the JSON text s (an attrs object) with every number inside a
 * string masked, and every number that is a whole JSON number replaced by
 * the masked string; returns how many. out NULL: only counts. */
size_t pnr_mask_json(const char *s, size_t n, struct buf *out);

/* Scans every text field of ev (and its attrs). When it finds numbers, the
 * text fields and attrs are rewritten into *scratch (masked), attrs gets
 * "pnr_count", and personal_data is set. The id is counted but kept as
 * sent: masking it could make two events one. Returns the count. ev's
 * strings then point into scratch, which the caller keeps until it has
 * used them. */
size_t pnr_event_mask(struct sec_event *ev, struct buf *scratch);

#endif
