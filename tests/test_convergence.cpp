// SGD with the driver's decaying step reaches, within 1e-3 of relative objective, the optimum a
// deterministic full-batch method finds for each linear model: multinomial logistic regression
// (Newton), ridge (the normal equations), the lasso (ISTA) and the Crammer-Singer SVM (Newton on
// a smoothing that brackets the optimum).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>
#include <vector>

#include "common.hpp"
#include "models/registry.hpp"

using namespace bismarck;
using namespace bismarck::testing;

namespace {

// The design matrix with a column of ones for the intercept.
Eigen::MatrixXd with_ones(const Data &data) {
    Eigen::MatrixXd A(data.n(), data.d() + 1);
    A << data.X, Eigen::VectorXd::Ones(data.n());
    return A;
}

std::vector<double> to_vector(const Eigen::VectorXd &v) {
    return std::vector<double>(v.data(), v.data() + v.size());
}

}  // namespace

TEST(Multinomial, SgdReachesTheNewtonOptimum) {
    const int k = 4;
    const Data data = make_multiclass(2000, 5, k, 21);
    const double l2 = 0.01;
    std::vector<double> opt(size_t(k * (data.d() + 1)), 0.0);
    const double newton = softmax_newton(data, k, l2, 1.0, 0.0, &opt);
    const double best = objective<models::Multinomial>(data, opt, k, l2);
    ASSERT_NEAR(newton, best, 1e-12);  // the solver's objective is the model's
    std::vector<double> losses;
    const std::vector<double> w =
        sgd<models::Multinomial>(data, k, 0.1, 0.93, 60, l2, 0.0, &losses);
    const double got = objective<models::Multinomial>(data, w, k, l2);
    EXPECT_GE(got, best - 1e-12);
    EXPECT_LT((got - best) / best, 1e-3) << "sgd " << got << " optimum " << best;
    // the last epoch's progressive loss is close to the optimum's mean loss
    const double penalty = igd::linear_penalty(opt.data(), data.d(), k, l2, 0.0);
    EXPECT_GT(penalty, 0.0);
    EXPECT_NEAR(losses.back(), best - penalty, 0.01);
}

// Ridge regression: (1/n) sum (w·x + b - y)^2 / 2 + (l2/2)||w||^2, whose optimum solves
// (A'A/n + l2 D) theta = A'y/n, D = diag(1, .., 1, 0) (the intercept is not penalised).
TEST(LinearRegression, RidgeSgdReachesTheNormalEquationsOptimum) {
    const Data data = make_regression(1000, 8, 22, 8);
    const double l2 = 0.1;
    const Eigen::MatrixXd A = with_ones(data);
    Eigen::MatrixXd G = A.transpose() * A / data.n();
    for (int j = 0; j < data.d(); ++j) G(j, j) += l2;
    const Eigen::VectorXd theta = G.ldlt().solve(A.transpose() * data.y / data.n());
    const double best = objective<models::LinearRegression>(data, to_vector(theta), 1, l2);
    const std::vector<double> w = sgd<models::LinearRegression>(data, 1, 0.02, 0.9, 80, l2);
    const double got = objective<models::LinearRegression>(data, w, 1, l2);
    EXPECT_GE(got, best - 1e-12);
    EXPECT_LT((got - best) / best, 1e-3) << "sgd " << got << " optimum " << best;
}

// The lasso: (1/n) sum (w·x + b - y)^2 / 2 + l1 ||w||_1, whose optimum full-batch proximal
// gradient (ISTA, step 1/L with L the largest eigenvalue of A'A/n) reaches linearly here (A'A/n
// is well conditioned); its optimality conditions are checked before it is used.
TEST(LinearRegression, LassoSgdReachesTheIstaOptimum) {
    const int d = 10;
    const Data data = make_regression(1000, d, 23, 4);  // 6 features have no effect
    const double l1 = 0.05;
    const Eigen::MatrixXd A = with_ones(data);
    const Eigen::MatrixXd G = A.transpose() * A / data.n();
    const Eigen::VectorXd c = A.transpose() * data.y / data.n();
    // L = the largest eigenvalue of G, by power iteration (G is symmetric positive definite)
    Eigen::VectorXd v = Eigen::VectorXd::Ones(d + 1);
    for (int it = 0; it < 500; ++it) v = (G * v).normalized();
    const double L = 1.0001 * v.dot(G * v);  // a hair above: 1/L stays a safe step
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(d + 1);
    for (int it = 0; it < 20000; ++it) {
        theta -= (G * theta - c) / L;
        for (int j = 0; j < d; ++j) theta[j] = igd::soft_threshold(theta[j], l1 / L);
    }
    // KKT: g_j = -l1 sign(w_j) where w_j != 0, |g_j| <= l1 where w_j = 0, g_b = 0
    const Eigen::VectorXd g = G * theta - c;
    int zeros = 0;
    for (int j = 0; j < d; ++j) {
        if (theta[j] != 0.0) {
            ASSERT_NEAR(g[j], -l1 * (theta[j] > 0 ? 1 : -1), 1e-12) << j;
        } else {
            ASSERT_LE(std::abs(g[j]), l1) << j;
            ++zeros;
        }
    }
    ASSERT_NEAR(g[d], 0.0, 1e-12);
    ASSERT_GE(zeros, 3);  // the lasso's point: the optimum is sparse
    const double best = objective<models::LinearRegression>(data, to_vector(theta), 1, 0.0, l1);
    const std::vector<double> w = sgd<models::LinearRegression>(data, 1, 0.02, 0.9, 80, 0.0, l1);
    const double got = objective<models::LinearRegression>(data, w, 1, 0.0, l1);
    EXPECT_GE(got, best - 1e-12);
    EXPECT_LT((got - best) / best, 1e-3) << "sgd " << got << " optimum " << best;
}

// The Crammer-Singer objective f = (1/n) sum max_c (s_ic + [c != y_i]) - s_iy + (l2/2)||W||^2
// is not smooth. Its smoothing F_mu (the max replaced by mu log sum exp(./mu)) satisfies
// f <= F_mu <= f + mu log k, so the minimiser w_mu of F_mu brackets the optimum:
//   F_mu(w_mu) - mu log k <= f* <= f(w_mu).
// F_mu is minimised by damped Newton, continued from mu = 1 down to 1e-7 (each stage warm-started
// from the last), so the bracket is narrower than 1e-5 and SGD is compared with its top.
TEST(MulticlassSvm, SgdReachesTheSmoothedNewtonOptimum) {
    const int k = 3;
    const Data data = make_multiclass(1000, 4, k, 24, 0.5);
    const double l2 = 0.01;
    std::vector<double> opt(size_t(k * (data.d() + 1)), 0.0);
    double mu = 1.0, smoothed = 0.0;
    for (; mu > 1e-7; mu *= 0.2) smoothed = softmax_newton(data, k, l2, mu, 1.0, &opt, 200);
    mu /= 0.2;
    const double upper = objective<models::MulticlassSvm>(data, opt, k, l2);
    const double lower = smoothed - mu * std::log(double(k)) - 1e-12;
    ASSERT_LE(lower, upper);
    ASSERT_LT(upper - lower, 1e-5 * upper) << "lower " << lower << " upper " << upper;
    const std::vector<double> w = sgd<models::MulticlassSvm>(data, k, 0.05, 0.97, 200, l2);
    const double got = objective<models::MulticlassSvm>(data, w, k, l2);
    EXPECT_GE(got, lower);
    EXPECT_LT((got - upper) / upper, 1e-3) << "sgd " << got << " optimum " << upper;
}
