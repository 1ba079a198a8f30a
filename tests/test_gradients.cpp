// Each linear model's loss_and_gradient against central finite differences of its loss, the
// numerical stability of the softmax, and the engine's step: what it returns (the progressive
// loss) and where it moves the parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "common.hpp"
#include "igd/engine.hpp"
#include "models/registry.hpp"

using namespace bismarck;
using namespace bismarck::testing;
using igd::PlainAccess;
using igd::StepParams;

namespace {

// Checks Model::loss_and_gradient at scores `s` and label `y` against central differences of
// Model::loss, and that both return the same loss.
template <class Model>
void expect_gradient_matches(const std::vector<double> &s, double y, double tol = 1e-6) {
    const int32_t k = int32_t(s.size());
    std::vector<double> g(s.size(), NAN);
    const double loss = Model::loss_and_gradient(s.data(), k, y, g.data());
    EXPECT_DOUBLE_EQ(loss, Model::loss(s.data(), k, y));
    const double h = 1e-6;
    for (int32_t c = 0; c < k; ++c) {
        std::vector<double> a = s, b = s;
        a[size_t(c)] += h;
        b[size_t(c)] -= h;
        const double fd = (Model::loss(a.data(), k, y) - Model::loss(b.data(), k, y)) / (2 * h);
        EXPECT_NEAR(g[size_t(c)], fd, tol) << "output " << c << " label " << y;
    }
}

std::vector<double> random_scores(igd::SplitMix64 &rng, int k, double scale) {
    std::vector<double> s(static_cast<size_t>(k));
    for (double &v : s) v = scale * rng.normal();
    return s;
}

// The Crammer-Singer loss is smooth away from two kinks: the hinge (1 + s_r - s_y = 0) and a
// tie between the best wrong classes.
bool near_a_kink(const std::vector<double> &s, int y, double eps) {
    double first = -INFINITY, second = -INFINITY;
    for (int c = 0; c < int(s.size()); ++c) {
        if (c == y) continue;
        if (s[size_t(c)] > first)
            second = first, first = s[size_t(c)];
        else if (s[size_t(c)] > second)
            second = s[size_t(c)];
    }
    return std::abs(1.0 + first - s[size_t(y)]) < eps || first - second < eps;
}

}  // namespace

TEST(Logistic, LossAndGradientMatchFiniteDifferencesForRandomScores) {
    igd::SplitMix64 rng(1);
    for (int t = 0; t < 50; ++t)
        for (double y : {-1.0, 1.0})
            expect_gradient_matches<models::Logistic>(random_scores(rng, 1, 5), y);
}

TEST(Svm, LossAndGradientMatchFiniteDifferencesAwayFromTheKink) {
    igd::SplitMix64 rng(2);
    int checked = 0;
    for (int t = 0; t < 50; ++t)
        for (double y : {-1.0, 1.0}) {
            const std::vector<double> s = random_scores(rng, 1, 3);
            if (std::abs(y * s[0] - 1.0) < 1e-3) continue;
            expect_gradient_matches<models::Svm>(s, y);
            ++checked;
        }
    EXPECT_GT(checked, 90);
}

TEST(LinearRegression, LossAndGradientMatchFiniteDifferences) {
    igd::SplitMix64 rng(3);
    for (int t = 0; t < 50; ++t)
        expect_gradient_matches<models::LinearRegression>(random_scores(rng, 1, 10),
                                                          5 * rng.normal(), 1e-5);
}

TEST(Multinomial, LossAndGradientMatchFiniteDifferencesWithThreeAndSevenClasses) {
    igd::SplitMix64 rng(4);
    for (int k : {3, 7})
        for (int t = 0; t < 20; ++t)
            for (int y = 0; y < k; ++y)
                expect_gradient_matches<models::Multinomial>(random_scores(rng, k, 3), y);
}

TEST(Multinomial, GradientSumsToZeroAcrossClasses) {
    igd::SplitMix64 rng(5);
    for (int k : {3, 7})
        for (int y = 0; y < k; ++y) {
            const std::vector<double> s = random_scores(rng, k, 3);
            std::vector<double> g(static_cast<size_t>(k));
            models::Multinomial::loss_and_gradient(s.data(), k, y, g.data());
            EXPECT_NEAR(std::accumulate(g.begin(), g.end(), 0.0), 0.0, 1e-12);
            EXPECT_LT(g[size_t(y)], 0.0);
        }
}

TEST(MulticlassSvm, LossAndGradientMatchFiniteDifferencesAwayFromTheKinks) {
    igd::SplitMix64 rng(6);
    int checked = 0, positive = 0;
    for (int k : {3, 5})
        for (int t = 0; t < 40; ++t)
            for (int y = 0; y < k; ++y) {
                const std::vector<double> s = random_scores(rng, k, 1.5);
                if (near_a_kink(s, y, 1e-3)) continue;
                expect_gradient_matches<models::MulticlassSvm>(s, y);
                ++checked;
                positive += models::MulticlassSvm::loss(s.data(), k, y) > 0.0;
            }
    EXPECT_GT(checked, 250);
    EXPECT_GT(positive, 50);            // inside the margin: a gradient on two classes
    EXPECT_GT(checked - positive, 20);  // outside: no gradient
}

TEST(MulticlassSvm, GradientTouchesOnlyTheTrueClassAndTheBestRival) {
    const double s[4] = {0.5, 3.0, 1.8, -1.0};
    double g[4];
    EXPECT_DOUBLE_EQ(models::MulticlassSvm::loss_and_gradient(s, 4, 2, g), 2.2);
    EXPECT_EQ(g[0], 0.0);
    EXPECT_EQ(g[1], 1.0);
    EXPECT_EQ(g[2], -1.0);
    EXPECT_EQ(g[3], 0.0);
    EXPECT_EQ(models::MulticlassSvm::loss_and_gradient(s, 4, 1, g), 0.0);  // margin 1.2 > 1
    EXPECT_EQ(models::MulticlassSvm::loss(s, 4, 1), 0.0);
    for (double v : g) EXPECT_EQ(v, 0.0);
    EXPECT_EQ(models::MulticlassSvm::rival(s, 4, 0), 1);
    EXPECT_EQ(models::MulticlassSvm::rival(s, 4, 1), 2);
}

TEST(Multinomial, ProbabilitiesSumToOne) {
    igd::SplitMix64 rng(7);
    for (int k : {3, 7})
        for (double scale : {0.1, 3.0, 50.0}) {
            const std::vector<double> s = random_scores(rng, k, scale);
            std::vector<double> p(static_cast<size_t>(k));
            models::Multinomial::probabilities(s.data(), k, p.data());
            EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-12);
            for (double v : p) EXPECT_TRUE(v >= 0.0 && v <= 1.0);
            // the most probable class is the predicted one
            EXPECT_EQ(std::max_element(p.begin(), p.end()) - p.begin(),
                      models::predicted_class(models::Target::classes, s.data(), k));
        }
}

TEST(Multinomial, ProbabilitiesAreStableForScoresOfPlusMinusAThousand) {
    const std::vector<std::vector<double>> cases = {
        {1000, -1000, 999}, {-1000, -1000, -1000}, {1000, 1000, 1000, 1000}, {-1000, 1000, -999}};
    for (const auto &s : cases) {
        const int k = int(s.size());
        std::vector<double> p(static_cast<size_t>(k));
        models::Multinomial::probabilities(s.data(), k, p.data());
        double sum = 0.0;
        for (double v : p) {
            EXPECT_TRUE(std::isfinite(v));
            sum += v;
        }
        EXPECT_NEAR(sum, 1.0, 1e-12);
    }
    double p[3];
    models::Multinomial::probabilities(cases[0].data(), 3, p);
    EXPECT_NEAR(p[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-12);
    EXPECT_EQ(p[1], 0.0);
    EXPECT_NEAR(p[2], 1.0 / (1.0 + std::exp(1.0)), 1e-12);
    models::Multinomial::probabilities(cases[1].data(), 3, p);
    for (double v : p) EXPECT_NEAR(v, 1.0 / 3.0, 1e-12);
}

TEST(Multinomial, LossIsStableForScoresOfPlusMinusAThousand) {
    const double s[3] = {1000, -1000, 999};
    const double log1pe = std::log1p(std::exp(-1.0));  // log(1 + e^-1)
    EXPECT_NEAR(models::Multinomial::loss(s, 3, 0), log1pe, 1e-12);
    EXPECT_NEAR(models::Multinomial::loss(s, 3, 1), 2000.0 + log1pe, 1e-9);
    EXPECT_NEAR(models::Multinomial::loss(s, 3, 2), 1.0 + log1pe, 1e-12);
    const double same[3] = {-1000, -1000, -1000};
    EXPECT_NEAR(models::Multinomial::loss(same, 3, 1), std::log(3.0), 1e-12);
    double g[3];
    const double l = models::Multinomial::loss_and_gradient(s, 3, 1, g);
    EXPECT_NEAR(l, 2000.0 + log1pe, 1e-9);
    for (double v : g) EXPECT_TRUE(std::isfinite(v));
    EXPECT_NEAR(g[1], -1.0, 1e-12);
    EXPECT_NEAR(g[0] + g[2], 1.0, 1e-12);
}

// What an epoch reports is the progressive loss: each row's loss under the model just before
// that row's step (not the loss of the model the epoch started from).
TEST(Engine, LinearStepReturnsTheLossBeforeItsStep) {
    const Data data = make_multiclass(50, 4, 3, 8);
    Weights w(4, 3);
    std::vector<double> scratch(6);
    const StepParams s{0.05, 0.0, 0.0, 0.0};  // small enough that a step lowers the row's loss
    double progressive = 0.0, before_epoch = 0.0;
    for (int i = 0; i < data.n(); ++i)
        before_epoch += igd::linear_loss<models::Multinomial>(
            w.params(), igd::DenseRow<double>{data.X.row(i).data(), 4}, data.y[i], scratch.data());
    for (int i = 0; i < data.n(); ++i) {
        const igd::DenseRow<double> row{data.X.row(i).data(), 4};
        const double expected =
            igd::linear_loss<models::Multinomial>(w.params(), row, data.y[i], scratch.data());
        const double got =
            igd::linear_step<models::Multinomial>(w.params(), row, data.y[i], s, scratch.data());
        EXPECT_EQ(got, expected) << i;
        progressive += got;
        // the step lowered this row's loss
        EXPECT_LT(igd::linear_loss<models::Multinomial>(w.params(), row, data.y[i], scratch.data()),
                  expected);
    }
    // at the zero model every row loses log 3; the progressive loss sees a model in training
    EXPECT_NEAR(before_epoch / data.n(), std::log(3.0), 1e-12);
    EXPECT_LT(progressive / data.n(), std::log(3.0));
    // the helper the convergence tests use reports the same number
    std::vector<double> losses;
    sgd<models::Multinomial>(data, 3, 0.05, 1.0, 1, 0.0, 0.0, &losses);
    ASSERT_EQ(losses.size(), 1u);
    EXPECT_DOUBLE_EQ(losses[0], progressive / data.n());
}

// One dense step moves every parameter by -alpha times the gradient of the row's objective
// loss_i + (l2/2)||W||^2 (intercepts unregularised), checked by finite differences in parameter
// space: the model's gradient in the scores and the engine's chain rule agree.
TEST(Engine, LinearStepFollowsTheParameterGradientOfTheRowObjective) {
    igd::SplitMix64 rng(9);
    const int d = 5, k = 4;
    const double l2 = 0.3, alpha = 1e-3, y = 2;
    std::vector<double> x(d);
    for (double &v : x) v = rng.normal();
    Weights w(d, k);
    for (double &v : w.w) v = 0.5 * rng.normal();
    std::vector<double> scratch(2 * k);
    const igd::DenseRow<double> row{x.data(), d};
    auto row_objective = [&](std::vector<double> p) {
        const igd::LinearParams<PlainAccess> lp{p.data(), d, k};
        double sq = 0.0;
        for (int c = 0; c < k; ++c)
            for (int j = 0; j < d; ++j)
                sq += p[size_t(c * (d + 1) + j)] * p[size_t(c * (d + 1) + j)];
        return igd::linear_loss<models::Multinomial>(lp, row, y, scratch.data()) + 0.5 * l2 * sq;
    };
    Weights stepped = w;
    igd::linear_step<models::Multinomial>(stepped.params(), row, y, StepParams{alpha, l2, 0, 0},
                                          scratch.data());
    for (size_t p = 0; p < w.w.size(); ++p) {
        std::vector<double> a = w.w, b = w.w;
        a[p] += 1e-6;
        b[p] -= 1e-6;
        const double g = (row_objective(a) - row_objective(b)) / 2e-6;
        EXPECT_NEAR((stepped.w[p] - w.w[p]) / alpha, -g, 1e-6) << "parameter " << p;
    }
}

// A sparse row's step touches only its non-zero coordinates and every output's intercept (the
// lazy regularisation of sparse SGD), and matches the dense step on those coordinates.
TEST(Engine, SparseStepTouchesOnlyTheRowsNonZerosAndMatchesTheDenseStep) {
    igd::SplitMix64 rng(10);
    const int d = 8, k = 3;
    Weights dense(d, k);
    for (double &v : dense.w) v = rng.normal();
    Weights sparse = dense;
    const int32_t idx[3] = {1, 4, 6};
    const double val[3] = {0.7, -1.3, 2.0};
    std::vector<double> x(d, 0.0);
    for (int t = 0; t < 3; ++t) x[size_t(idx[t])] = val[t];
    const StepParams s{0.1, 0.2, 0.05, 0.0};
    std::vector<double> scratch(2 * k);
    const double ld = igd::linear_step<models::Multinomial>(
        dense.params(), igd::DenseRow<double>{x.data(), d}, 1, s, scratch.data());
    const Weights before = sparse;
    const double ls = igd::linear_step<models::Multinomial>(
        sparse.params(), igd::SparseRow{idx, val, 3, d}, 1, s, scratch.data());
    EXPECT_DOUBLE_EQ(ld, ls);
    for (int c = 0; c < k; ++c)
        for (int j = 0; j <= d; ++j) {
            const size_t p = size_t(c * (d + 1) + j);
            const bool touched = j == d || j == 1 || j == 4 || j == 6;
            if (touched)
                EXPECT_NEAR(sparse.w[p], dense.w[p], 1e-14) << c << " " << j;
            else
                EXPECT_EQ(sparse.w[p], before.w[p]) << c << " " << j;
        }
}
