// Seeded random permutations, PostgreSQL-free: used by the block-order TABLESAMPLE method (which
// pages a scan visits, and when) and by the row buffer (in which order buffered rows reach SGD).
// Both draw from igd::SplitMix64, so a seed gives the same order on every platform.
#pragma once

#include <cstdint>
#include <utility>

#include "igd/engine.hpp"

namespace bismarck::shuffle {

// A uniform integer in [0, n), n >= 1, without modulo bias (Lemire's multiply-and-reject).
inline uint64_t uniform_below(igd::SplitMix64 &rng, uint64_t n) noexcept {
    __uint128_t m = __uint128_t(rng.next()) * n;
    uint64_t low = uint64_t(m);
    if (low < n) {
        const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
        while (low < threshold) {
            m = __uint128_t(rng.next()) * n;
            low = uint64_t(m);
        }
    }
    return uint64_t(m >> 64);
}

// Fisher-Yates (Durstenfeld): every one of the n! orders of a[0..n) equally likely.
template <class T>
void fisher_yates(T *a, uint64_t n, igd::SplitMix64 &rng) noexcept {
    for (uint64_t i = n; i > 1; --i) {
        const uint64_t j = uniform_below(rng, i);
        std::swap(a[i - 1], a[j]);
    }
}

// The generator of one scan or one buffer: the user's seed and a stream number (the epoch, say)
// mixed so that nearby seeds and streams give unrelated sequences.
inline igd::SplitMix64 seeded(uint64_t seed, uint64_t stream = 0) noexcept {
    igd::SplitMix64 mix(seed);
    const uint64_t a = mix.next();
    igd::SplitMix64 mix2(a ^ (stream * 0xD1B54A32D192ED03ull));
    return igd::SplitMix64(mix2.next());
}

}  // namespace bismarck::shuffle
