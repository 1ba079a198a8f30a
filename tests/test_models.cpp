// Unit tests of the core: gradients against finite differences, SGD against known optima,
// factorization recovery, L1 sparsity, the engine's helpers. No PostgreSQL involved.
// (More in test_gradients.cpp, test_convergence.cpp, test_registry.cpp, test_state.cpp,
// test_averaging.cpp; shared helpers in common.hpp.)
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "common.hpp"
#include "igd/engine.hpp"
#include "igd/rows.hpp"
#include "models/registry.hpp"

using namespace bismarck;
using namespace bismarck::testing;
using igd::DenseRow;
using igd::LinearParams;
using igd::PlainAccess;
using igd::StepParams;

namespace {

// d loss / d score by central differences of Model::loss, for a one-output model.
template <class Model>
double loss_slope(double s, double y, double h = 1e-6) {
    const double a = s + h, b = s - h;
    return (Model::loss(&a, 1, y) - Model::loss(&b, 1, y)) / (2 * h);
}

template <class Model>
double gradient_at(double s, double y) {
    double g = NAN;
    Model::loss_and_gradient(&s, 1, y, &g);
    return g;
}

}  // namespace

TEST(Logistic, GradientMatchesFiniteDifference) {
    for (double y : {-1.0, 1.0})
        for (double z : {-30.0, -2.0, -0.1, 0.0, 0.7, 3.0, 40.0})
            EXPECT_NEAR(gradient_at<models::Logistic>(z, y), loss_slope<models::Logistic>(z, y),
                        1e-6)
                << "z=" << z << " y=" << y;
}

TEST(Logistic, LossIsStableForHugeMargins) {
    const double lo = -800.0, hi = 800.0;
    EXPECT_NEAR(models::Logistic::loss(&lo, 1, 1.0), 800.0, 1e-9);
    EXPECT_NEAR(models::Logistic::loss(&hi, 1, -1.0), 800.0, 1e-9);
    EXPECT_EQ(models::Logistic::loss(&hi, 1, 1.0), 0.0);
    EXPECT_NEAR(gradient_at<models::Logistic>(-800.0, 1.0), -1.0, 1e-12);
    EXPECT_EQ(gradient_at<models::Logistic>(800.0, 1.0), 0.0);
    double p[2];
    models::Logistic::probabilities(&lo, 1, p);
    EXPECT_EQ(p[1], 0.0);
    EXPECT_EQ(p[0], 1.0);
}

TEST(Svm, SubgradientMatchesFiniteDifferenceAwayFromTheKink) {
    for (double y : {-1.0, 1.0})
        for (double z : {-3.0, -0.4, 0.3, 2.5}) {
            if (std::abs(y * z - 1.0) < 1e-3) continue;
            EXPECT_NEAR(gradient_at<models::Svm>(z, y), loss_slope<models::Svm>(z, y), 1e-6);
        }
}

TEST(Lmf, StepFollowsTheGradientOfTheCellLoss) {
    models::Lmf::Shape s{3, 4, 2};
    std::vector<double> p(s.size());
    models::Lmf::initialise(p.data(), s, 3.5, 7);
    for (int64_t i = 0; i < s.rows; ++i) p[s.row_seen(i)] = 1;
    for (int64_t j = 0; j < s.cols; ++j) p[s.col_seen(j)] = 1;
    const int64_t i = 1, j = 2;
    const double v = 4.0;
    auto cell_loss = [&](const std::vector<double> &q) {
        return models::Lmf::loss(models::Lmf::predict<PlainAccess>(q.data(), s, i, j) - v);
    };
    // A small step must change the loss by -alpha |grad|^2 to first order.
    std::vector<double> q = p;
    const double alpha = 1e-6;
    models::Lmf::step<PlainAccess>(q.data(), s, i, j, v, StepParams{alpha, 0.0, 0.0, 0.0});
    double g2 = 0.0;
    for (size_t k = 0; k < p.size(); ++k) {
        std::vector<double> a = p, b = p;
        a[k] += 1e-6;
        b[k] -= 1e-6;
        if (k >= size_t(s.row_seen(0))) continue;  // the seen flags are not parameters
        const double g = (cell_loss(a) - cell_loss(b)) / 2e-6;
        if (k == 0) continue;  // the global mean is fixed
        g2 += g * g;
        EXPECT_NEAR((q[k] - p[k]) / alpha, -g, 1e-4) << "parameter " << k;
    }
    EXPECT_GT(g2, 0.0);
}

namespace {

// The exact optimum of L2-regularised logistic regression (intercept not penalised), by Newton.
std::vector<double> logistic_optimum(const Data &data, double l2) {
    const int n = int(data.X.rows()), d = int(data.X.cols());
    Eigen::MatrixXd A(n, d + 1);
    A << data.X, Eigen::VectorXd::Ones(n);
    Eigen::VectorXd w = Eigen::VectorXd::Zero(d + 1);
    for (int it = 0; it < 50; ++it) {
        Eigen::VectorXd g = Eigen::VectorXd::Zero(d + 1);
        Eigen::MatrixXd H = Eigen::MatrixXd::Zero(d + 1, d + 1);
        for (int i = 0; i < n; ++i) {
            const double m = data.y[i] * A.row(i).dot(w);
            const double s = 1.0 / (1.0 + std::exp(m));
            g -= data.y[i] * s * A.row(i).transpose() / n;
            H += s * (1 - s) * A.row(i).transpose() * A.row(i) / n;
        }
        for (int j = 0; j < d; ++j) {
            g[j] += l2 * w[j];
            H(j, j) += l2;
        }
        w -= H.ldlt().solve(g);
    }
    return std::vector<double>(w.data(), w.data() + d + 1);
}

}  // namespace

TEST(Logistic, SgdReachesTheNewtonOptimum) {
    const Data data = make_classification(400, 5, 1);
    const double l2 = 0.01;
    const double best = objective<models::Logistic>(data, logistic_optimum(data, l2), 1, l2);
    const std::vector<double> w = sgd<models::Logistic>(data, 1, 0.1, 0.97, 200, l2);
    const double got = objective<models::Logistic>(data, w, 1, l2);
    EXPECT_GE(got, best - 1e-12);
    EXPECT_LT((got - best) / best, 1e-3) << "sgd " << got << " optimum " << best;
}

namespace {

// The optimum of the L2-regularised hinge loss with a free intercept: for a fixed intercept b the
// problem in w is solved exactly by dual coordinate descent (Hsieh et al., liblinear's method);
// the optimal value is convex in b, so a ternary search over b finds the joint optimum.
double svm_optimum(const Data &data, double l2) {
    const int n = int(data.X.rows());
    const double C = 1.0 / (l2 * n);  // (l2/2)|w|^2 + mean hinge == l2 (|w|^2/2 + C sum hinge)
    auto solve = [&](double b) {
        Eigen::VectorXd alpha = Eigen::VectorXd::Zero(n), w = Eigen::VectorXd::Zero(data.X.cols());
        for (int sweep = 0; sweep < 3000; ++sweep) {
            double change = 0.0;
            for (int i = 0; i < n; ++i) {
                const double qii = data.X.row(i).squaredNorm();
                const double g = data.y[i] * (data.X.row(i).dot(w) + b) - 1.0;
                const double a = std::clamp(alpha[i] - g / qii, 0.0, C);
                const double da = a - alpha[i];
                if (da != 0.0) {
                    w += da * data.y[i] * data.X.row(i).transpose();
                    alpha[i] = a;
                    change = std::max(change, std::abs(da));
                }
            }
            if (change < 1e-12) break;
        }
        std::vector<double> full(w.data(), w.data() + w.size());
        full.push_back(b);
        return objective<models::Svm>(data, full, 1, l2);
    };
    double lo = -3, hi = 3;
    for (int it = 0; it < 80; ++it) {
        const double m1 = lo + (hi - lo) / 3, m2 = hi - (hi - lo) / 3;
        if (solve(m1) < solve(m2))
            hi = m2;
        else
            lo = m1;
    }
    return solve(0.5 * (lo + hi));
}

}  // namespace

TEST(Svm, SgdReachesTheDualCoordinateDescentOptimum) {
    const Data data = make_classification(300, 4, 2);
    const double l2 = 0.01;
    const double best = svm_optimum(data, l2);
    const std::vector<double> w = sgd<models::Svm>(data, 1, 0.05, 0.985, 400, l2);
    const double got = objective<models::Svm>(data, w, 1, l2);
    EXPECT_GE(got, best - 1e-9);
    EXPECT_LT((got - best) / best, 1e-3) << "sgd " << got << " optimum " << best;
}

TEST(Logistic, L1MakesExactZeros) {
    Data data = make_classification(300, 10, 3);
    // Five of the ten features are pure noise: a strong L1 must zero most of them exactly.
    igd::SplitMix64 rng(9);
    for (int i = 0; i < 300; ++i)
        for (int j = 5; j < 10; ++j) data.X(i, j) = 0.01 * rng.normal();
    const std::vector<double> w = sgd<models::Logistic>(data, 1, 0.1, 0.95, 60, 0.0, 0.05);
    int zeros = 0;
    for (int j = 0; j < 10; ++j) zeros += w[j] == 0.0;
    EXPECT_GE(zeros, 5);
    EXPECT_LT(zeros, 10);
}

TEST(Lmf, RecoversALowRankMatrixToNoiseLevel) {
    const int64_t rows = 60, cols = 50, rank = 3;
    igd::SplitMix64 rng(11);
    Eigen::MatrixXd U(rows, rank), V(cols, rank);
    for (int64_t k = 0; k < U.size(); ++k) U.data()[k] = rng.normal();
    for (int64_t k = 0; k < V.size(); ++k) V.data()[k] = rng.normal();
    const Eigen::MatrixXd M = (U * V.transpose()).array() + 3.0;
    const double noise = 0.1;
    struct Cell {
        int64_t i, j;
        double v;
    };
    std::vector<Cell> train, test;
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            (rng.uniform() < 0.6 ? train : test).push_back({i, j, M(i, j) + noise * rng.normal()});
    // shuffle once
    for (size_t k = train.size() - 1; k > 0; --k) std::swap(train[k], train[rng.next() % (k + 1)]);
    models::Lmf::Shape s{rows, cols, rank};
    std::vector<double> p(s.size());
    models::Lmf::initialise(p.data(), s, 3.0, 5);
    for (int e = 0; e < 300; ++e) {
        StepParams st{igd::step_size_at(0.03, 0.99, e), 1e-4, 0.0, 10.0};
        for (const Cell &c : train) models::Lmf::step<PlainAccess>(p.data(), s, c.i, c.j, c.v, st);
    }
    double se = 0.0;
    for (const Cell &c : test) {
        const double e = models::Lmf::predict<PlainAccess>(p.data(), s, c.i, c.j) - M(c.i, c.j);
        se += e * e;
    }
    const double rmse = std::sqrt(se / double(test.size()));
    EXPECT_LT(rmse, 2.0 * noise) << "held-out RMSE against the noiseless matrix";
}

TEST(Lmf, UnseenRowsArePredictedFromTheMeanAndKnownBias) {
    models::Lmf::Shape s{4, 4, 2};
    std::vector<double> p(s.size());
    models::Lmf::initialise(p.data(), s, 3.0, 1);
    models::Lmf::step<PlainAccess>(p.data(), s, 0, 1, 5.0, StepParams{0.5, 0.0, 0.0, 0.0});
    const double col_bias = p[s.col_bias(1)];
    EXPECT_NE(col_bias, 0.0);
    EXPECT_DOUBLE_EQ(models::Lmf::predict<PlainAccess>(p.data(), s, 3, 1), 3.0 + col_bias);
    EXPECT_DOUBLE_EQ(models::Lmf::predict<PlainAccess>(p.data(), s, 3, 2), 3.0);
    EXPECT_DOUBLE_EQ(models::Lmf::predict<PlainAccess>(p.data(), s, 99, -1), 3.0);
}

TEST(Engine, ConvergenceIsRelativeChange) {
    EXPECT_TRUE(igd::converged(1.0, 0.99999, 1e-4));
    EXPECT_FALSE(igd::converged(1.0, 0.9, 1e-4));
    EXPECT_FALSE(igd::converged(NAN, 0.9, 1e-4));
    EXPECT_FALSE(igd::converged(1.0, 1.0, 0.0));
}

TEST(Engine, SplitMixIsDeterministic) {
    igd::SplitMix64 a(42), b(42);
    for (int k = 0; k < 100; ++k) EXPECT_EQ(a.next(), b.next());
}

// The AVX2 build of the dense kernels rounds every result as the baseline build does (no FMA,
// the same operations in the same order): bit for bit, at every length and alignment.
TEST(Engine, Avx2KernelsAreBitIdenticalToTheBaseline) {
    if (!igd::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
    igd::SplitMix64 rng(11);
    for (int n = 0; n <= 70; ++n)
        for (int offset = 0; offset < 3; ++offset) {
            const size_t m = size_t(n + offset) + 1;
            std::vector<double> w(m), x(m), acc(m), mean(m), inv(m);
            std::vector<float> xf(m);
            for (size_t j = 0; j < m; ++j) {
                w[j] = rng.normal(), x[j] = rng.normal() * 100.0, acc[j] = rng.normal();
                mean[j] = rng.normal(), inv[j] = 1.0 / (0.1 + std::abs(rng.normal()));
                xf[j] = float(x[j]);
            }
            const double *xo = x.data() + offset;
            EXPECT_EQ(igd::dense_dot<PlainAccess>(w.data(), xo, n, true),
                      igd::dense_dot<PlainAccess>(w.data(), xo, n, false))
                << n;
            std::vector<double> a(m), b(m), s(m), t(m);
            igd::standardize(xo, mean.data(), inv.data(), n, a.data(), true);
            igd::standardize(xo, mean.data(), inv.data(), n, b.data(), false);
            EXPECT_EQ(a, b) << n;
            igd::standardize(xf.data() + offset, mean.data(), inv.data(), n, a.data(), true);
            igd::standardize(xf.data() + offset, mean.data(), inv.data(), n, b.data(), false);
            EXPECT_EQ(a, b) << n;
            a = w, b = w;
            igd::dense_update(a.data(), xo, n, 0.999, -0.3, true);
            igd::dense_update(b.data(), xo, n, 0.999, -0.3, false);
            EXPECT_EQ(a, b) << n;
            a = w, b = w, s = acc, t = acc;
            igd::dense_update_averaged(a.data(), s.data(), xo, n, 0.999, -0.3, 1234.0, true);
            igd::dense_update_averaged(b.data(), t.data(), xo, n, 0.999, -0.3, 1234.0, false);
            EXPECT_EQ(a, b) << n;
            EXPECT_EQ(s, t) << n;
        }
}

TEST(Engine, DenseDotMatchesTheNaiveSum) {
    igd::SplitMix64 rng(5);
    for (int n = 0; n <= 13; ++n) {
        std::vector<double> w(size_t(n) + 1), v(size_t(n) + 1), x(size_t(n) + 1);
        std::vector<float> xf(size_t(n) + 1);
        double wx = 0.0, vx = 0.0, wxf = 0.0;
        for (int j = 0; j < n; ++j) {
            w[j] = rng.normal(), v[j] = rng.normal(), x[j] = rng.normal();
            xf[j] = float(x[j]);
            wx += w[j] * x[j], vx += v[j] * x[j], wxf += w[j] * double(xf[j]);
        }
        EXPECT_NEAR(igd::dense_dot<PlainAccess>(w.data(), x.data(), n), wx, 1e-12) << n;
        EXPECT_NEAR(igd::dense_dot<igd::RelaxedAccess>(w.data(), xf.data(), n), wxf, 1e-12) << n;
        // the dense overload of score agrees with the naive sum and with the generic row walk
        // (a sparse row holding every index); scores walks the outputs
        std::vector<double> wv(w.begin(), w.end());
        wv.insert(wv.end(), v.begin(), v.end());  // two outputs: [w, b_w], [v, b_v]
        const LinearParams<PlainAccess> lp{wv.data(), n, 2};
        const DenseRow<double> row{x.data(), n};
        std::vector<int32_t> idx(size_t(n) + 1);
        for (int j = 0; j < n; ++j) idx[size_t(j)] = j;
        const igd::SparseRow sparse{idx.data(), x.data(), n, n};
        EXPECT_NEAR(lp.score(0, row), wx + w[n], 1e-12) << n;
        EXPECT_NEAR(lp.score(1, row), vx + v[n], 1e-12) << n;
        EXPECT_NEAR(lp.score(1, sparse), vx + v[n], 1e-12) << n;
        double s[2] = {NAN, NAN};
        lp.scores(row, s);
        EXPECT_NEAR(s[0], wx + w[n], 1e-12) << n;
        EXPECT_NEAR(s[1], vx + v[n], 1e-12) << n;
    }
}

// Batched Hogwild's exchange adds each process's delta with an atomic add: however the two
// threads interleave, no update is lost (integers in doubles, so the sums are exact).
TEST(Engine, ExchangeLosesNoUpdate) {
    constexpr int64_t n = 20;
    constexpr int rounds = 200000;
    alignas(128) static double shared[n];
    std::fill(shared, shared + n, 0.0);
    std::atomic<int> ready{0};
    auto work = [&](double step) {
        ready++;
        while (ready.load() < 2) {
        }  // both threads exchange at the same time
        std::vector<double> base(n), local(n);
        igd::pull<igd::RelaxedAccess>(shared, base.data(), local.data(), n);
        for (int r = 0; r < rounds; ++r) {
            for (int64_t k = 0; k < n; ++k) local[size_t(k)] += step;
            if (r % 3 == 2) igd::exchange<igd::RelaxedAccess>(shared, base.data(), local.data(), n);
        }
        igd::exchange<igd::RelaxedAccess>(shared, base.data(), local.data(), n);
    };
    std::thread a(work, 1.0), b(work, 2.0);
    a.join();
    b.join();
    for (int64_t k = 0; k < n; ++k) EXPECT_EQ(shared[k], 3.0 * rounds) << k;
}

// Two threads training one model by batched exchanges (the shared-memory mode's default for dense
// rows) reach the same optimum as serial SGD.
TEST(Logistic, BatchedSharedSgdReachesTheNewtonOptimum) {
    const Data data = make_classification(2000, 5, 4);
    const double l2 = 0.01;
    const double best = objective<models::Logistic>(data, logistic_optimum(data, l2), 1, l2);
    const int d = data.d();
    alignas(128) static double shared[16];
    std::fill(shared, shared + 16, 0.0);
    for (int e = 0; e < 60; ++e) {
        const StepParams s{igd::step_size_at(0.1, 0.93, e), l2, 0.0, 0.0};
        auto half = [&](int begin, int end) {
            std::vector<double> base(size_t(d) + 1), local(size_t(d) + 1), scratch(2);
            igd::pull<igd::RelaxedAccess>(shared, base.data(), local.data(), d + 1);
            for (int i = begin; i < end; ++i) {
                igd::linear_step<models::Logistic>(LinearParams<PlainAccess>{local.data(), d, 1},
                                                   DenseRow<double>{data.X.row(i).data(), d},
                                                   data.y[i], s, scratch.data());
                if ((i - begin + 1) % 32 == 0)
                    igd::exchange<igd::RelaxedAccess>(shared, base.data(), local.data(), d + 1);
            }
            igd::exchange<igd::RelaxedAccess>(shared, base.data(), local.data(), d + 1);
        };
        std::thread a(half, 0, 1000), b(half, 1000, 2000);
        a.join();
        b.join();
    }
    const std::vector<double> w(shared, shared + d + 1);
    const double got = objective<models::Logistic>(data, w, 1, l2);
    EXPECT_LT((got - best) / best, 1e-3) << "batched " << got << " optimum " << best;
}
