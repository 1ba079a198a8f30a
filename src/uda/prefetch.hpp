// Prefetching the next row of a sequential scan.
#pragma once

extern "C" {
#include "postgres.h"
}

namespace bismarck::uda {

// A heap page fills from its end and a scan visits its line pointers in order, so the next row
// of a sequential scan is most often stored just below the current one in the same page: asking
// for the cache lines below a row's in-page value (`datum`, not detoasted) while the row is
// being worked on overlaps their trip from memory with that work. A prefetch never faults; where
// the guess is wrong (a copied or detoasted value, another page layout) it costs a few loads.
inline void prefetch_next_row(const void *datum) {
    const char *below = static_cast<const char *>(datum);
    const Size bytes = VARSIZE_ANY(datum) + 64;
    for (Size off = 64; off <= bytes; off += 64) __builtin_prefetch(below - off);
}

}  // namespace bismarck::uda
