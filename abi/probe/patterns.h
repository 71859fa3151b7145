/*
 * Distinctive fillings shared by the vector probes.  GEN(p, o, n) is the
 * value of pattern p for an n-byte member at absolute offset o, as an
 * integer constant expression (usable in static initialisers of
 * cross-compiled objects).  Byte i (little-endian) of the value is:
 *   zero 0; ones 0xff; one (i == 0); top-bit 0x80 in the last byte;
 *   bytes-lo (0x10 + o + i) & 0x7f; bytes-hi 0x80 | ((0x40 + o + i) & 0x7f);
 *   alt-aa 0xaa; alt-55 0x55.
 */
#ifndef XENDM_PROBE_PATTERNS_H
#define XENDM_PROBE_PATTERNS_H

#include <stdint.h>

enum pat { P_ZERO, P_ONES, P_ONE, P_TOP, P_BYTES_LO, P_BYTES_HI, P_ALT_AA, P_ALT_55, NPAT };
#define PATTERN_NAMES { "zero", "ones", "one", "top-bit", "bytes-lo", "bytes-hi", "alt-aa", "alt-55" }

#define GBYTE(p, o, n, i) ((uint64_t)( \
    (p) == P_ZERO ? 0 : \
    (p) == P_ONES ? 0xff : \
    (p) == P_ONE ? ((i) == 0) : \
    (p) == P_TOP ? ((i) == (n) - 1 ? 0x80 : 0) : \
    (p) == P_BYTES_LO ? ((0x10 + (o) + (i)) & 0x7f) : \
    (p) == P_BYTES_HI ? (0x80 | ((0x40 + (o) + (i)) & 0x7f)) : \
    (p) == P_ALT_AA ? 0xaa : 0x55))
#define GTERM(p, o, n, i) ((i) < (n) ? GBYTE(p, o, n, i) << (8 * (i)) : 0)
#define GEN(p, o, n) (GTERM(p, o, n, 0) | GTERM(p, o, n, 1) | GTERM(p, o, n, 2) | GTERM(p, o, n, 3) | \
                      GTERM(p, o, n, 4) | GTERM(p, o, n, 5) | GTERM(p, o, n, 6) | GTERM(p, o, n, 7))

#endif
