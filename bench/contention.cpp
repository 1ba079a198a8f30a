// Cache-line contention of a dense Hogwild model, without PostgreSQL: the engine's own step on
// in-memory rows, one thread against two threads sharing one model (relaxed atomics, as the
// shared-memory epochs do), with per-row updates and with batched updates (a private copy per
// thread, exchanged with the shared model by atomic adds every `batch` rows).
//
//   build/cmake/contention [rows] [dim]      (built by CMake with the unit tests)
//
// Prints nanoseconds per row for each configuration, the median of five runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "igd/engine.hpp"
#include "igd/rows.hpp"
#include "models/logistic.hpp"

using namespace bismarck;

namespace {

struct Data {
    std::vector<double> x, y;
    int64_t rows, dim;
};

template <class A>
void run_rows(const Data &d, int64_t begin, int64_t end, double *w, const double *prev,
              int64_t batch) {
    const igd::StepParams s{0.01, 1e-4, 0.0, 0.0};
    const int64_t n = d.dim + 1;
    std::vector<double> base(size_t(n), 0.0), local(size_t(n), 0.0);  // private to this thread
    igd::LinearParams<A> model{w, d.dim};
    (void)prev;  // 0.1.0 also scored every row under the epoch's starting model; 0.2.0 does not
    double scratch[2];
    if (batch > 1) igd::pull<A>(w, base.data(), local.data(), n);
    for (int64_t i = begin; i < end; ++i) {
        const igd::DenseRow<double> row{&d.x[size_t(i * d.dim)], d.dim};
        if (batch <= 1) {
            igd::linear_step<models::Logistic>(model, row, d.y[size_t(i)], s, scratch);
        } else {
            igd::linear_step<models::Logistic>(
                igd::LinearParams<igd::PlainAccess>{local.data(), d.dim}, row, d.y[size_t(i)], s,
                scratch);
            if ((i - begin + 1) % batch == 0) igd::exchange<A>(w, base.data(), local.data(), n);
        }
    }
    if (batch > 1) igd::exchange<A>(w, base.data(), local.data(), n);
}

double time_ns_per_row(const Data &d, int threads, int64_t batch, bool relaxed = false) {
    std::vector<double> times;
    for (int rep = 0; rep < 5; ++rep) {
        alignas(128) static double w[4096];
        std::vector<double> prev(d.dim + 1, 0.0);
        std::fill(w, w + d.dim + 1, 0.0);
        const auto t0 = std::chrono::steady_clock::now();
        if (threads == 1 && relaxed) {
            run_rows<igd::RelaxedAccess>(d, 0, d.rows, w, prev.data(), batch);
        } else if (threads == 1) {
            run_rows<igd::PlainAccess>(d, 0, d.rows, w, prev.data(), batch);
        } else {
            std::vector<std::thread> pool;
            for (int t = 0; t < threads; ++t)
                pool.emplace_back([&, t] {
                    run_rows<igd::RelaxedAccess>(d, d.rows * t / threads,
                                                 d.rows * (t + 1) / threads, w, prev.data(), batch);
                });
            for (auto &th : pool) th.join();
        }
        times.push_back(
            std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0)
                .count() /
            double(d.rows));
    }
    std::sort(times.begin(), times.end());
    return times[2];
}

}  // namespace

int main(int argc, char **argv) {
    Data d;
    d.rows = argc > 1 ? atoll(argv[1]) : 581012;
    d.dim = argc > 2 ? atoll(argv[2]) : 54;
    igd::SplitMix64 rng(1);
    d.x.resize(size_t(d.rows * d.dim));
    d.y.resize(size_t(d.rows));
    for (auto &v : d.x) v = rng.normal();
    for (int64_t i = 0; i < d.rows; ++i) d.y[size_t(i)] = d.x[size_t(i * d.dim)] > 0 ? 1.0 : -1.0;
    std::printf("rows %lld, dim %lld, hardware threads %u\n", (long long)d.rows, (long long)d.dim,
                std::thread::hardware_concurrency());
    std::printf("%-34s %10s %10s\n", "configuration", "ns/row", "speed-up");
    const double serial = time_ns_per_row(d, 1, 1);
    std::printf("%-34s %10.1f %10.2f\n", "1 thread, per-row updates", serial, 1.0);
    const double relaxed = time_ns_per_row(d, 1, 1, true);
    std::printf("%-34s %10.1f %10.2f\n", "1 thread, relaxed atomics", relaxed, serial / relaxed);
    for (int64_t batch : {1, 4, 16, 64, 256}) {
        const double t = time_ns_per_row(d, 2, batch);
        char name[64];
        std::snprintf(name, sizeof name, "2 threads, batch %lld", (long long)batch);
        std::printf("%-34s %10.1f %10.2f\n", name, t, serial / t);
    }
}
