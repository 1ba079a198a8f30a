// Unit tests of the CorgiPile row buffer (src/shuffle/row_buffer.hpp) and of the permutations it
// and the block-order scan use (src/shuffle/permute.hpp). No PostgreSQL involved.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "shuffle/permute.hpp"
#include "shuffle/row_buffer.hpp"

using bismarck::igd::DenseRow;
using bismarck::igd::SparseRow;
using bismarck::igd::SplitMix64;
using bismarck::shuffle::RowBuffer;

namespace {

// A region of memory for a buffer, 8-byte aligned.
struct Region {
    std::vector<uint64_t> words;
    explicit Region(size_t bytes) : words((bytes + 7) / 8) {}
    void *data() { return words.data(); }
    size_t bytes() const { return words.size() * 8; }
};

// Records what a flush hands out: the label identifies the row; the values are checked too.
struct Collector {
    std::vector<double> labels;
    bool values_ok = true;
    void operator()(const DenseRow<double> &r, double y) {
        labels.push_back(y);
        for (int64_t j = 0; j < r.dim; ++j) values_ok = values_ok && r.x[j] == y * 10 + double(j);
    }
    template <class T>
    void operator()(const DenseRow<T> &r, double y) {  // a row too large to buffer
        labels.push_back(y);
    }
    void operator()(const SparseRow &r, double y) {
        labels.push_back(y);
        for (int32_t k = 0; k < r.nnz; ++k)
            values_ok = values_ok && r.index[k] == 2 * k + 1 && r.value[k] == y + 0.5 * k;
    }
};

std::vector<double> dense_row(double id, int dim) {
    std::vector<double> x(dim);
    for (int j = 0; j < dim; ++j) x[j] = id * 10 + j;
    return x;
}

// Runs `n` dense rows (labels 0..n-1) through a buffer of `cap` rows; returns the order out.
std::vector<double> run_dense(int n, int cap, int dim, uint64_t seed, RowBuffer *out = nullptr,
                              Region *keep = nullptr) {
    Region local(RowBuffer::bytes_for(cap, cap * RowBuffer::dense_bytes(dim)));
    Region &mem = keep ? *keep : local;
    RowBuffer buf = RowBuffer::create(mem.data(), mem.bytes(), cap, seed);
    EXPECT_TRUE(buf.valid());
    Collector c;
    for (int i = 0; i < n; ++i) {
        auto x = dense_row(i, dim);
        buf.add_dense(x.data(), dim, double(i), c);
    }
    buf.flush(c);
    EXPECT_TRUE(buf.empty());
    EXPECT_TRUE(c.values_ok);
    if (out) *out = buf;
    return c.labels;
}

}  // namespace

TEST(Permute, UniformBelowStaysInRange) {
    SplitMix64 rng(3);
    for (uint64_t n : {1ull, 2ull, 3ull, 7ull, 1000ull, (1ull << 63) + 5})
        for (int k = 0; k < 1000; ++k) EXPECT_LT(bismarck::shuffle::uniform_below(rng, n), n);
}

TEST(Permute, FisherYatesIsAPermutationAndSeeded) {
    std::vector<uint32_t> a(1000), b;
    std::iota(a.begin(), a.end(), 0u);
    b = a;
    SplitMix64 r1 = bismarck::shuffle::seeded(42), r2 = bismarck::shuffle::seeded(42);
    bismarck::shuffle::fisher_yates(a.data(), a.size(), r1);
    bismarck::shuffle::fisher_yates(b.data(), b.size(), r2);
    EXPECT_EQ(a, b);
    std::vector<uint32_t> s = a;
    std::sort(s.begin(), s.end());
    for (uint32_t i = 0; i < 1000; ++i) EXPECT_EQ(s[i], i);
    SplitMix64 r3 = bismarck::shuffle::seeded(42, 1);
    std::vector<uint32_t> c(1000);
    std::iota(c.begin(), c.end(), 0u);
    bismarck::shuffle::fisher_yates(c.data(), c.size(), r3);
    EXPECT_NE(a, c);  // another stream (epoch) gives another order
}

TEST(RowBuffer, EveryRowExactlyOnceWhateverTheCapacity) {
    for (int cap : {1, 2, 7, 64, 1000})
        for (int n : {0, 1, 6, 7, 8, 500, 1001}) {
            auto out = run_dense(n, cap, 5, 9);
            ASSERT_EQ(int(out.size()), n) << "cap " << cap;
            std::sort(out.begin(), out.end());
            for (int i = 0; i < n; ++i) ASSERT_EQ(out[i], double(i));
        }
}

TEST(RowBuffer, RowsLeaveOnlyAfterTheirBufferFills) {
    // With capacity 10, rows 0..9 leave (shuffled) before row 10 enters: a flush is a window.
    auto out = run_dense(100, 10, 3, 5);
    for (int w = 0; w < 10; ++w) {
        std::vector<double> win(out.begin() + 10 * w, out.begin() + 10 * w + 10);
        std::sort(win.begin(), win.end());
        for (int k = 0; k < 10; ++k) EXPECT_EQ(win[k], double(10 * w + k));
    }
}

TEST(RowBuffer, DeterministicForASeed) {
    EXPECT_EQ(run_dense(3000, 256, 4, 77), run_dense(3000, 256, 4, 77));
    EXPECT_NE(run_dense(3000, 256, 4, 77), run_dense(3000, 256, 4, 78));
    // The order is not the identity.
    auto out = run_dense(256, 256, 4, 77);
    std::vector<double> id(256);
    std::iota(id.begin(), id.end(), 0.0);
    EXPECT_NE(out, id);
}

// Position of each of n rows over many flushes of one buffer: each row should be at each
// position 1/n of the time (chi-square with (n-1)^2 degrees of freedom), and each of the n!
// orders 1/n! of the time (n! - 1 degrees of freedom).
TEST(RowBuffer, OrderIsUniform) {
    const int n = 5, trials = 60000;
    Region mem(RowBuffer::bytes_for(n, n * RowBuffer::dense_bytes(1)));
    RowBuffer buf = RowBuffer::create(mem.data(), mem.bytes(), n, 12345);
    std::vector<std::vector<int>> at(n, std::vector<int>(n, 0));
    std::map<std::vector<int>, int> perms;
    for (int t = 0; t < trials; ++t) {
        std::vector<int> order;
        for (int i = 0; i < n; ++i) {
            double x = double(i);
            ASSERT_TRUE(buf.push_dense(&x, 1, double(i)));
        }
        buf.flush([&](const auto &, double y) { order.push_back(int(y)); });
        for (int p = 0; p < n; ++p) ++at[order[p]][p];
        ++perms[order];
    }
    double chi_pos = 0.0;
    const double e_pos = double(trials) / n;
    for (auto &row : at)
        for (int c : row) chi_pos += (c - e_pos) * (c - e_pos) / e_pos;
    EXPECT_LT(chi_pos, 39.25);  // chi-square 16 df, p = 0.001
    ASSERT_EQ(perms.size(), 120u);
    double chi_perm = 0.0;
    const double e_perm = double(trials) / 120;
    for (auto &[p, c] : perms) chi_perm += (c - e_perm) * (c - e_perm) / e_perm;
    EXPECT_LT(chi_perm, 173.6);  // chi-square 119 df, p = 0.001
    EXPECT_GT(chi_perm, 75.0);   // and not suspiciously regular (p = 0.9995 lower tail)
}

TEST(RowBuffer, SparseAndDenseRowsMix) {
    const int cap = 16;
    Region mem(RowBuffer::bytes_for(cap, 4096));
    RowBuffer buf = RowBuffer::create(mem.data(), mem.bytes(), cap, 1);
    Collector c;
    int dense = 0, sparse = 0;
    for (int i = 0; i < 200; ++i) {
        if (i % 3 == 0) {
            auto x = dense_row(i, 6);
            buf.add_dense(x.data(), 6, double(i), c);
            ++dense;
        } else {
            const int32_t nnz = i % 5;
            std::vector<int32_t> idx(nnz);
            std::vector<double> val(nnz);
            for (int k = 0; k < nnz; ++k) {
                idx[k] = 2 * k + 1;
                val[k] = i + 0.5 * k;
            }
            buf.add_sparse(idx.data(), val.data(), nnz, 100, double(i), c);
            ++sparse;
        }
    }
    buf.flush(c);
    EXPECT_TRUE(c.values_ok);
    std::vector<double> out = c.labels;
    std::sort(out.begin(), out.end());
    ASSERT_EQ(out.size(), 200u);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(out[i], double(i));
    EXPECT_EQ(buf.header().rows_out, 200);
}

TEST(RowBuffer, PayloadLimitFlushesEarlyAndHugeRowsPassThrough) {
    // Room for 100 rows but only ~3 rows of dim 50 of payload: flushes come from the payload.
    Region mem(RowBuffer::bytes_for(100, 3 * RowBuffer::dense_bytes(50)));
    RowBuffer buf = RowBuffer::create(mem.data(), mem.bytes(), 100, 2);
    Collector c;
    for (int i = 0; i < 30; ++i) {
        auto x = dense_row(i, 50);
        buf.add_dense(x.data(), 50, double(i), c);
        EXPECT_LE(buf.size(), 3);
    }
    auto big = dense_row(1000, 500);  // larger than the whole payload
    buf.add_dense(big.data(), 500, 1000.0, c);
    buf.flush(c);
    ASSERT_EQ(c.labels.size(), 31u);
    EXPECT_EQ(c.labels.back(), 1000.0);  // after every row before it
    std::vector<double> s(c.labels.begin(), c.labels.end() - 1);
    std::sort(s.begin(), s.end());
    for (int i = 0; i < 30; ++i) EXPECT_EQ(s[i], double(i));
}

TEST(RowBuffer, ArenaIsReusedNotGrown) {
    // The buffer never writes outside its region, and the region is all it uses: fill it many
    // times and check a guard word after the region and the payload high-water mark.
    const int cap = 32, dim = 8;
    const size_t bytes = RowBuffer::bytes_for(cap, cap * RowBuffer::dense_bytes(dim));
    Region mem(bytes + 8);
    mem.words.back() = 0xDEADBEEFCAFEF00Dull;
    RowBuffer buf = RowBuffer::create(mem.data(), bytes, cap, 4);
    int64_t max_used = 0;
    Collector c;
    for (int i = 0; i < 10000; ++i) {
        auto x = dense_row(i % 97, dim);
        buf.add_dense(x.data(), dim, double(i % 97), c);
        max_used = std::max(max_used, buf.header().used);
    }
    buf.flush(c);
    EXPECT_EQ(mem.words.back(), 0xDEADBEEFCAFEF00Dull);
    EXPECT_LE(size_t(max_used), buf.payload_capacity());
    EXPECT_EQ(buf.header().flushes, 10000 / cap + 1);
    EXPECT_TRUE(c.values_ok);
}

TEST(RowBuffer, RegionIsRelocatableAndValidated) {
    // Half-fill, copy the bytes elsewhere (as a partial aggregate state travels), attach, flush:
    // the same rows come out, in the order the original would have given.
    const int cap = 64, dim = 3;
    const size_t bytes = RowBuffer::bytes_for(cap, cap * RowBuffer::dense_bytes(dim));
    Region a(bytes), b(bytes);
    RowBuffer buf = RowBuffer::create(a.data(), a.bytes(), cap, 99);
    for (int i = 0; i < 40; ++i) {
        auto x = dense_row(i, dim);
        ASSERT_TRUE(buf.push_dense(x.data(), dim, double(i)));
    }
    std::memcpy(b.data(), a.data(), bytes);
    EXPECT_EQ(RowBuffer::validate(b.data(), b.bytes()), "");
    Collector ca, cb;
    RowBuffer::attach(b.data()).flush(cb);
    buf.flush(ca);
    EXPECT_EQ(ca.labels, cb.labels);
    EXPECT_TRUE(cb.values_ok);
    // Corruptions are caught.
    std::memcpy(b.data(), a.data(), bytes);
    for (int i = 0; i < 3; ++i) {
        auto x = dense_row(i, dim);
        RowBuffer::attach(b.data()).push_dense(x.data(), dim, 1.0);
    }
    EXPECT_EQ(RowBuffer::validate(b.data(), b.bytes()), "");
    auto *offsets =
        reinterpret_cast<int64_t *>(static_cast<char *>(b.data()) + sizeof(RowBuffer::Header));
    offsets[1] = 1 << 20;
    EXPECT_NE(RowBuffer::validate(b.data(), b.bytes()), "");
    EXPECT_NE(RowBuffer::validate(b.data(), 16), "");
    EXPECT_FALSE(RowBuffer::create(a.data(), 10, cap, 1).valid());
}

TEST(RowBuffer, ThrowingStepLeavesAnEmptyUsableBuffer) {
    Region mem(RowBuffer::bytes_for(8, 8 * RowBuffer::dense_bytes(2)));
    RowBuffer buf = RowBuffer::create(mem.data(), mem.bytes(), 8, 1);
    for (int i = 0; i < 5; ++i) {
        double x[2] = {1, 2};
        buf.push_dense(x, 2, 1.0);
    }
    int calls = 0;
    EXPECT_THROW(buf.flush([&](const auto &, double) {
        if (++calls == 2) throw std::runtime_error("interrupted");
    }),
                 std::runtime_error);
    EXPECT_TRUE(buf.empty());
    double x[2] = {1, 2};
    EXPECT_TRUE(buf.push_dense(x, 2, 1.0));
}
