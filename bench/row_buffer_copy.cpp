// What the CorgiPile row buffer adds to an epoch: copying every row into the buffer and handing
// the rows out in shuffled order, measured outside PostgreSQL on rows shaped like the
// 581,012 x 54 float8[] table (the array parsing and the scan, identical with or without the
// buffer, are not in it).
//
// For each step kind (a dot product: the least a step reads; a full logistic SGD step with the
// previous-model loss, as the epoch aggregate runs it) it times, median of 5:
//   direct    rows visited in place, in storage order
//   buffered  rows pushed into a RowBuffer of B pages' worth (18 rows a page), flushed in
//             random order when full and at the end
//
//   build/cmake/row_buffer_copy [rows] [dim]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "igd/engine.hpp"
#include "models/logistic.hpp"
#include "shuffle/row_buffer.hpp"

using namespace bismarck;
using igd::DenseRow;
using igd::LinearParams;
using igd::PlainAccess;
using shuffle::RowBuffer;

namespace {

template <class F>
double median_seconds(F &&f) {
    std::vector<double> t;
    f();  // warm-up
    for (int k = 0; k < 5; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[2];
}

volatile double sink;

}  // namespace

int main(int argc, char **argv) {
    const int64_t n = argc > 1 ? std::atoll(argv[1]) : 581012;
    const int64_t d = argc > 2 ? std::atoll(argv[2]) : 54;
    std::vector<double> X(static_cast<size_t>(n * d)), y(static_cast<size_t>(n));
    igd::SplitMix64 rng(1);
    for (auto &v : X) v = rng.normal();
    for (auto &v : y) v = rng.uniform() < 0.5 ? -1.0 : 1.0;
    std::vector<double> w(size_t(d + 1), 0.01), prev(size_t(d + 1), 0.01);
    const igd::StepParams sp{0.001, 1e-4, 0.0, 0.0};

    auto dot = [&](const auto &row, double label) {
        double s = 0;
        row.for_each([&](int64_t j, double v) { s += w[size_t(j)] * v; });
        sink = sink + s * label;
    };
    auto sgd = [&](const auto &row, double label) {
        sink = sink + igd::supervised_step<models::Logistic>(
                          LinearParams<PlainAccess>{w.data(), d},
                          LinearParams<PlainAccess>{prev.data(), d}, row, label, sp);
    };

    std::printf("# %lld rows x %lld doubles (%.0f MB), median of 5\n", (long long)n, (long long)d,
                double(n * d * 8) / 1e6);
    std::printf("%-10s %-26s %10s %10s %12s\n", "step", "order", "seconds", "x direct",
                "ns per row");
    auto run = [&](const char *step_name, auto step) {
        const double direct = median_seconds([&] {
            for (int64_t i = 0; i < n; ++i)
                step(DenseRow<double>{&X[size_t(i * d)], d}, y[size_t(i)]);
        });
        std::printf("%-10s %-26s %10.4f %10.2f %12.1f\n", step_name, "direct", direct, 1.0,
                    direct / double(n) * 1e9);
        for (int pages : {10, 100, 1000, 10000}) {
            const int64_t cap = int64_t(pages) * 18;
            std::vector<uint64_t> mem(
                RowBuffer::bytes_for(cap, size_t(cap) * RowBuffer::dense_bytes(d)) / 8 + 1);
            RowBuffer buf = RowBuffer::create(mem.data(), mem.size() * 8, cap, 7);
            const double t = median_seconds([&] {
                for (int64_t i = 0; i < n; ++i)
                    buf.add_dense(&X[size_t(i * d)], d, y[size_t(i)], step);
                buf.flush(step);
            });
            char name[64];
            std::snprintf(name, sizeof name, "buffered, %d pages (%.1f MB)", pages,
                          double(mem.size() * 8) / 1e6);
            std::printf("%-10s %-26s %10.4f %10.2f %12.1f\n", step_name, name, t, t / direct,
                        t / double(n) * 1e9);
        }
    };
    run("dot", dot);
    run("sgd", sgd);
}
