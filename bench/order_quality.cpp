// Data order and SGD quality on label-sorted data: shuffle-once vs CorgiPile-style block
// shuffling (random page order each epoch + a shuffled buffer of B pages) vs no shuffle.
//
// A synthetic logistic problem (n x d, seeded), its rows SORTED BY LABEL and cut into "pages" of
// 18 rows (a 54-float8 row is ~456 bytes: 18 fit in an 8 kB PostgreSQL page). Each order runs
// `epochs` epochs of plain SGD with the engine's own step (igd::supervised_step, Logistic), and
// reports the final objective (mean log-loss + l2/2 |w|^2 over all rows) and training accuracy,
// averaged over seeds, next to a reference optimum (many epochs, fully reshuffled, decaying).
//
//   build/cmake/order_quality [n] [d] [epochs] [seeds]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "igd/engine.hpp"
#include "models/logistic.hpp"
#include "shuffle/permute.hpp"
#include "shuffle/row_buffer.hpp"

using namespace bismarck;
using igd::DenseRow;
using igd::LinearParams;
using igd::PlainAccess;
using igd::SplitMix64;
using shuffle::RowBuffer;

namespace {

constexpr int kRowsPerPage = 18;

struct Data {
    int n, d;
    std::vector<double> X;  // row-major
    std::vector<double> y;  // +-1
    const double *row(int i) const { return X.data() + size_t(i) * d; }
};

// Like tests/test_models.cpp's make_classification: a hidden linear model plus noise.
Data make_data(int n, int d, uint64_t seed) {
    SplitMix64 rng(seed);
    std::vector<double> truth(d);
    for (auto &t : truth) t = rng.normal();
    Data data{n, d, std::vector<double>(size_t(n) * d), std::vector<double>(n)};
    for (int i = 0; i < n; ++i) {
        double z = 0.5;
        for (int j = 0; j < d; ++j) {
            const double v = rng.normal();
            data.X[size_t(i) * d + j] = v;
            z += v * truth[j];
        }
        data.y[i] = z + 2.0 * rng.normal() > 0 ? 1.0 : -1.0;
    }
    // Sort by label (stable: -1 first, then +1), as a table loaded class by class would be.
    std::vector<int> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return data.y[a] < data.y[b]; });
    Data sorted{n, d, std::vector<double>(size_t(n) * d), std::vector<double>(n)};
    for (int i = 0; i < n; ++i) {
        std::copy(data.row(idx[i]), data.row(idx[i]) + d, sorted.X.begin() + size_t(i) * d);
        sorted.y[i] = data.y[idx[i]];
    }
    return sorted;
}

struct Result {
    double objective, accuracy;
};

Result evaluate(const Data &data, const std::vector<double> &w, double l2) {
    double loss = 0.0;
    int correct = 0;
    for (int i = 0; i < data.n; ++i) {
        double z = w[data.d];
        for (int j = 0; j < data.d; ++j) z += w[j] * data.row(i)[j];
        loss += models::Logistic::loss(data.y[i] * z);
        correct += (z > 0) == (data.y[i] > 0);
    }
    return {loss / data.n + igd::linear_penalty(w.data(), data.d, l2, 0.0),
            double(correct) / data.n};
}

// An epoch's row order, as a callback that feeds every row (index) once to `visit`.
using Order = std::function<void(int epoch, const std::function<void(int)> &visit)>;

struct Schedule {
    double alpha0, decay, l2;
};

Result train(const Data &data, const Order &order, int epochs, const Schedule &s) {
    std::vector<double> w(data.d + 1, 0.0), prev(data.d + 1);
    for (int e = 0; e < epochs; ++e) {
        prev = w;
        const igd::StepParams p{igd::step_size_at(s.alpha0, s.decay, e), s.l2, 0.0, 0.0};
        order(e, [&](int i) {
            igd::supervised_step<models::Logistic>(LinearParams<PlainAccess>{w.data(), data.d},
                                                   LinearParams<PlainAccess>{prev.data(), data.d},
                                                   DenseRow<double>{data.row(i), data.d}, data.y[i],
                                                   p);
        });
    }
    return evaluate(data, w, s.l2);
}

// (a) one random permutation of the rows, reused by every epoch (shuffle-once's copy).
Order shuffle_once(int n, uint64_t seed) {
    auto perm = std::make_shared<std::vector<int>>(n);
    std::iota(perm->begin(), perm->end(), 0);
    SplitMix64 rng = shuffle::seeded(seed);
    shuffle::fisher_yates(perm->data(), perm->size(), rng);
    return [perm](int, const std::function<void(int)> &visit) {
        for (int i : *perm) visit(i);
    };
}

// A fresh permutation every epoch (the ideal that CorgiPile approximates).
Order shuffle_always(int n, uint64_t seed) {
    return [n, seed](int e, const std::function<void(int)> &visit) {
        std::vector<int> perm(n);
        std::iota(perm.begin(), perm.end(), 0);
        SplitMix64 rng = shuffle::seeded(seed, uint64_t(e) + 1);
        shuffle::fisher_yates(perm.data(), perm.size(), rng);
        for (int i : perm) visit(i);
    };
}

// (c) the stored order.
Order no_shuffle(int n) {
    return [n](int, const std::function<void(int)> &visit) {
        for (int i = 0; i < n; ++i) visit(i);
    };
}

// (b) the block_shuffle scan (runs of `run` pages in a random order, new each epoch; pages of a
// run in order, rows of a page in order) feeding a RowBuffer of `buffer_pages` pages' worth of
// rows. stride = true: tsm_system_rows' order instead (random start, random stride coprime to
// the number of pages), for comparison.
Order corgipile(int n, int d, uint64_t seed, int buffer_pages, int run, bool stride = false) {
    return [=](int e, const std::function<void(int)> &visit) {
        const int pages = (n + kRowsPerPage - 1) / kRowsPerPage;
        const int runs = (pages + run - 1) / run;
        std::vector<uint32_t> order(runs);
        SplitMix64 rng = shuffle::seeded(seed, uint64_t(e) + 1);
        if (stride) {
            const uint32_t start = uint32_t(shuffle::uniform_below(rng, uint64_t(runs)));
            uint32_t step;
            do step = uint32_t(shuffle::uniform_below(rng, uint64_t(runs)));
            while (step == 0 || std::gcd(step, uint32_t(runs)) != 1);
            for (int k = 0; k < runs; ++k) order[k] = uint32_t((start + uint64_t(k) * step) % runs);
        } else {
            std::iota(order.begin(), order.end(), 0u);
            shuffle::fisher_yates(order.data(), order.size(), rng);
        }
        // The buffer holds row ids as one-element "rows": the order is all that matters here.
        const int cap = buffer_pages * kRowsPerPage;
        std::vector<uint64_t> mem(
            RowBuffer::bytes_for(cap, size_t(cap) * RowBuffer::dense_bytes(1)) / 8);
        RowBuffer buf = RowBuffer::create(mem.data(), mem.size() * 8, cap, seed, uint64_t(e) + 7);
        auto step = [&](const auto &row, double) {
            row.for_each([&](int64_t, double id) { visit(int(id)); });
        };
        for (uint32_t r : order)
            for (int p = int(r) * run; p < std::min(pages, int(r + 1) * run); ++p)
                for (int i = p * kRowsPerPage; i < std::min(n, (p + 1) * kRowsPerPage); ++i) {
                    const double id = i;
                    buf.add_dense(&id, 1, 0.0, step);
                }
        buf.flush(step);
    };
}

}  // namespace

int main(int argc, char **argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 100000;
    const int d = argc > 2 ? std::atoi(argv[2]) : 20;
    const int epochs = argc > 3 ? std::atoi(argv[3]) : 10;
    const int seeds = argc > 4 ? std::atoi(argv[4]) : 3;
    const Data data = make_data(n, d, 2024);
    int positives = 0;
    for (double y : data.y) positives += y > 0;
    std::printf(
        "# %d rows x %d features, sorted by label (%d negatives first, then %d positives), "
        "%d rows per page = %d pages; %d epochs of SGD, mean of %d seeds\n",
        n, d, n - positives, positives, kRowsPerPage, (n + kRowsPerPage - 1) / kRowsPerPage, epochs,
        seeds);

    for (const Schedule s : {Schedule{0.1, 0.9, 1e-4}, Schedule{0.01, 1.0, 1e-4}}) {
        // Reference: 100 epochs, reshuffled every epoch, decaying from the same step.
        const Result ref = train(data, shuffle_always(n, 999), 100, Schedule{s.alpha0, 0.95, s.l2});
        std::printf(
            "\n## step %.3g x %.3g^epoch, l2 %.0e   reference optimum (100 epochs, "
            "reshuffled, decay 0.95): objective %.5f, accuracy %.4f\n",
            s.alpha0, s.decay, s.l2, ref.objective, ref.accuracy);
        std::printf("%-52s %10s %10s %10s %10s %8s\n", "order", "objective", "min", "max", "gap",
                    "acc");
        auto row = [&](const std::string &name, const std::function<Order(uint64_t)> &make) {
            double sum = 0, lo = 1e300, hi = -1e300, acc = 0;
            const auto t0 = std::chrono::steady_clock::now();
            for (int k = 0; k < seeds; ++k) {
                const Result r = train(data, make(uint64_t(k) + 1), epochs, s);
                sum += r.objective;
                lo = std::min(lo, r.objective);
                hi = std::max(hi, r.objective);
                acc += r.accuracy;
            }
            const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::printf("%-52s %10.5f %10.5f %10.5f %+10.5f %8.4f   (%.2fs)\n", name.c_str(),
                        sum / seeds, lo, hi, sum / seeds - ref.objective, acc / seeds, secs);
            std::fflush(stdout);
        };
        row("(a) shuffle once", [&](uint64_t k) { return shuffle_once(n, k); });
        row("(a') full reshuffle every epoch", [&](uint64_t k) { return shuffle_always(n, k); });
        for (int b : {1, 10, 100, 1000})
            row("(b) page order + buffer of " + std::to_string(b) + " pages",
                [&](uint64_t k) { return corgipile(n, d, k, b, 1); });
        for (int b : {100, 1000})
            row("(b) runs of 4 pages + buffer of " + std::to_string(b) + " pages",
                [&](uint64_t k) { return corgipile(n, d, k, b, 4); });
        for (int b : {10, 100, 1000})
            row("(b) runs of 16 pages + buffer of " + std::to_string(b) + " pages",
                [&](uint64_t k) { return corgipile(n, d, k, b, 16); });
        for (int b : {100})
            row("(b) runs of 64 pages + buffer of " + std::to_string(b) + " pages",
                [&](uint64_t k) { return corgipile(n, d, k, b, 64); });
        for (int b : {1, 100})
            row("(b') stride page order + buffer of " + std::to_string(b) + " pages",
                [&](uint64_t k) { return corgipile(n, d, k, b, 1, true); });
        row("(c) no shuffle (sorted by label)", [&](uint64_t) { return no_shuffle(n); });
    }
}
