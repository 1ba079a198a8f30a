// How a model's parameters are read and written: plainly (one process owns them) or through
// relaxed atomics (Hogwild: several processes update one model in shared memory without locks).
#pragma once

#include <atomic>

namespace bismarck::igd {

// One process owns the parameters: plain loads and stores, free to vectorise.
struct PlainAccess {
    static double load(const double *p) { return *p; }
    static void store(double *p, double v) { *p = v; }
    static double add(double *p, double d) { return *p += d; }
};

// Several processes update the same parameters concurrently. Relaxed atomic loads and stores
// cost the same as plain ones on x86-64 but guarantee that no value is ever torn; an update that
// races with another may be lost, which Hogwild's analysis tolerates for sparse-ish updates.
struct RelaxedAccess {
    static double load(const double *p) {
        return std::atomic_ref<double>(*const_cast<double *>(p)).load(std::memory_order_relaxed);
    }
    static void store(double *p, double v) {
        std::atomic_ref<double>(*p).store(v, std::memory_order_relaxed);
    }
    // p += d as one atomic read-modify-write (no concurrent add is lost); returns the new value.
    static double add(double *p, double d) {
        return std::atomic_ref<double>(*p).fetch_add(d, std::memory_order_relaxed) + d;
    }
};

}  // namespace bismarck::igd
