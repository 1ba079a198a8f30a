// Averaged SGD (Polyak-Ruppert): the accumulator gradient_step keeps gives back the mean of the
// iterates.
#include <gtest/gtest.h>

#include <vector>

#include "common.hpp"
#include "igd/engine.hpp"
#include "models/registry.hpp"

using namespace bismarck;
using namespace bismarck::testing;

// Steps t = 0 .. T-1 (averaged as steps 1 .. T): averaged() is the mean of w_1 .. w_T, for dense
// and sparse rows, with both regularisers (a soft-thresholded coordinate changes too).
TEST(Averaging, AveragedIsTheMeanOfTheIterates) {
    const Data data = make_multiclass(200, 4, 3, 31);
    const int d = 4, k = 3;
    const int32_t idx[2] = {0, 2};
    for (bool sparse : {false, true}) {
        Weights w(d, k);
        std::vector<double> avg(w.w.size(), 0.0), sum(w.w.size(), 0.0), scratch(2 * k);
        const igd::StepParams s{0.1, 0.01, 0.02, 0.0};
        const int T = data.n();
        for (int t = 0; t < T; ++t) {
            const double *x = data.X.row(t).data();
            const double val[2] = {x[0], x[2]};
            if (sparse)
                igd::linear_step<models::Multinomial>(w.params(), igd::SparseRow{idx, val, 2, d},
                                                      data.y[t], s, scratch.data(), avg.data(),
                                                      double(t));
            else
                igd::linear_step<models::Multinomial>(w.params(), igd::DenseRow<double>{x, d},
                                                      data.y[t], s, scratch.data(), avg.data(),
                                                      double(t));
            for (size_t p = 0; p < sum.size(); ++p) sum[p] += w.w[p];
        }
        std::vector<double> mean(w.w.size());
        igd::averaged(w.w.data(), avg.data(), int64_t(w.w.size()), double(T), mean.data());
        for (size_t p = 0; p < sum.size(); ++p)
            EXPECT_NEAR(mean[p], sum[p] / T, 1e-12) << (sparse ? "sparse " : "dense ") << p;
    }
    // no steps: the average is the model
    const double w1[2] = {1.5, -2.0}, a1[2] = {3.0, 4.0};
    double out[2];
    igd::averaged(w1, a1, 2, 0.0, out);
    EXPECT_EQ(out[0], 1.5);
    EXPECT_EQ(out[1], -2.0);
}

// Averaging leaves the iterates themselves, and the progressive loss, as without it.
TEST(Averaging, AveragingDoesNotChangeTheSteps) {
    const Data data = make_multiclass(100, 4, 3, 32);
    Weights plain(4, 3), averaged(4, 3);
    std::vector<double> avg(plain.w.size(), 0.0), scratch(6);
    const igd::StepParams s{0.1, 0.01, 0.0, 0.0};
    for (int t = 0; t < data.n(); ++t) {
        const igd::DenseRow<double> row{data.X.row(t).data(), 4};
        const double a = igd::linear_step<models::Multinomial>(plain.params(), row, data.y[t], s,
                                                               scratch.data());
        const double b = igd::linear_step<models::Multinomial>(
            averaged.params(), row, data.y[t], s, scratch.data(), avg.data(), double(t));
        EXPECT_EQ(a, b);
    }
    EXPECT_EQ(plain.w, averaged.w);
}

// The per-row steps computed a block at a time are step_size_per_row's, bit for bit, whatever
// the rows asked for (in order, skipping, going back, another schedule).
TEST(Averaging, PerRowStepsAreTheFormulasBits) {
    igd::PerRowSteps steps;
    for (double alpha : {0.3, 0.01})
        for (double l2 : {0.0, 1e-5, 1.0 / 581012})
            for (double t : {0.0, 1.0, 255.0, 256.0, 1000.0, 3.0, 1e9 + 7, 2.0 * 581012 + 5})
                EXPECT_EQ(steps.at(alpha, l2, t), igd::step_size_per_row(alpha, l2, t))
                    << alpha << " " << l2 << " " << t;
    for (int64_t t = 0; t < 3000; ++t)
        ASSERT_EQ(steps.at(0.1, 1e-4, double(t)), igd::step_size_per_row(0.1, 1e-4, double(t)))
            << t;
}

// The logistic loss left as a factor: the returned value plus log(factor) is the loss, the
// gradient the same.
TEST(Averaging, FactoredLogisticLossIsTheLoss) {
    for (double s : {-40.0, -3.0, -0.5, 0.0, 0.25, 2.0, 37.0})
        for (double y : {-1.0, 1.0}) {
            double g1, g2, factor = 1.0;
            const double loss = models::Logistic::loss_and_gradient(&s, 1, y, &g1);
            const double part =
                models::Logistic::loss_and_gradient_factored(&s, 1, y, &g2, &factor);
            EXPECT_EQ(g1, g2);
            EXPECT_NEAR(part + std::log(factor), loss, 1e-15 * std::max(1.0, loss))
                << s << " " << y;
        }
    // a product of many rows' factors, folded before it overflows
    igd::EpochInfo e{};
    double direct = 0.0;
    for (int i = 0; i < 5000; ++i) {
        igd::add_loss_factor(e, 1.9);
        direct += std::log(1.9);
    }
    EXPECT_LE(e.loss_product, 0x1p901);
    EXPECT_NEAR(igd::epoch_loss_sum(e), direct, 1e-9 * direct);
}
