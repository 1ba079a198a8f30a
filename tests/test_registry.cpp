// The registry: which model a trainer uses for a label, and the shape rule of each task.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "models/registry.hpp"

using namespace bismarck;
using models::Task;

namespace {

std::optional<Task> task_for(const char *trainer, int64_t classes) {
    Task t{};
    if (!models::linear_task_for(trainer, classes, &t)) return std::nullopt;
    return t;
}

}  // namespace

TEST(Registry, LogisticOnTwoClassesIsBinaryLogistic) {
    EXPECT_EQ(task_for("logistic", 2), Task::logistic);
}

TEST(Registry, LogisticOnThreeOrMoreClassesIsMultinomial) {
    EXPECT_EQ(task_for("logistic", 3), Task::multinomial);
    EXPECT_EQ(task_for("logistic", igd::kMaxClasses), Task::multinomial);
}

TEST(Registry, SvmOnTwoClassesIsBinarySvmAndOnMoreIsCrammerSinger) {
    EXPECT_EQ(task_for("svm", 2), Task::svm);
    EXPECT_EQ(task_for("svm", 5), Task::multiclass_svm);
}

TEST(Registry, LinearRegressionTakesOnlyARealLabel) {
    EXPECT_EQ(task_for("linear_regression", 0), Task::linear_regression);
    EXPECT_EQ(task_for("linear_regression", 2), std::nullopt);
    EXPECT_EQ(task_for("linear_regression", 3), std::nullopt);
}

TEST(Registry, ClassifiersNeedTwoClassesAndUnknownTrainersHaveNoTask) {
    EXPECT_EQ(task_for("logistic", 0), std::nullopt);
    EXPECT_EQ(task_for("logistic", 1), std::nullopt);
    EXPECT_EQ(task_for("svm", 1), std::nullopt);
    EXPECT_EQ(task_for("lmf", 0), std::nullopt);
    EXPECT_EQ(task_for("multinomial", 3), std::nullopt);  // a model name, not a trainer
    EXPECT_EQ(task_for("", 2), std::nullopt);
}

TEST(Registry, NamesTargetsAndTrainersOfEachTask) {
    EXPECT_EQ(models::task_name(Task::multinomial), "multinomial");
    EXPECT_EQ(models::task_name(Task::lmf), "lmf");
    EXPECT_EQ(models::task_name(Task(99)), "unknown");
    EXPECT_EQ(models::trainer_of(Task::multinomial), "logistic");
    EXPECT_EQ(models::trainer_of(Task::multiclass_svm), "svm");
    EXPECT_EQ(models::trainer_of(Task::lmf), "lmf");
    EXPECT_EQ(models::target_of(Task::logistic), models::Target::binary);
    EXPECT_EQ(models::target_of(Task::multiclass_svm), models::Target::classes);
    EXPECT_EQ(models::target_of(Task::linear_regression), models::Target::real);
    EXPECT_EQ(models::target_of(Task::lmf), models::Target::cell);
    EXPECT_EQ(models::trainer_target("linear_regression"), models::Target::real);
    EXPECT_NE(models::trainer_target("logistic"), models::Target::real);
    EXPECT_TRUE(models::is_linear(Task::multinomial));
    EXPECT_FALSE(models::is_linear(Task::lmf));
    const auto outputs = [](auto m) { return decltype(m)::outputs(6); };
    EXPECT_EQ(models::with_linear_model(Task::multiclass_svm, outputs), 6);
    EXPECT_THROW(models::with_linear_model(Task::lmf, [](auto) { return 0; }), igd::Error);
}

TEST(Registry, ParamsForCountsEachRowOfEachOutput) {
    EXPECT_EQ(models::params_for(uint8_t(Task::logistic), 1, 10, 0, 0), 11);
    EXPECT_EQ(models::params_for(uint8_t(Task::linear_regression), 1, 10, 0, 0), 11);
    EXPECT_EQ(models::params_for(uint8_t(Task::multinomial), 4, 10, 0, 0), 44);
    EXPECT_EQ(models::params_for(uint8_t(Task::multiclass_svm), 3, 2, 0, 0), 9);
    EXPECT_EQ(models::params_for(uint8_t(Task::lmf), 1, 2, 3, 4),
              (models::Lmf::Shape{3, 4, 2}.size()));
}

TEST(Registry, ParamsForRejectsAMulticlassTaskWithTooFewOrTooManyOutputs) {
    for (Task t : {Task::multinomial, Task::multiclass_svm}) {
        for (int32_t k : {-1, 0, 1, 2})
            EXPECT_EQ(models::params_for(uint8_t(t), k, 5, 0, 0), -1) << int(t) << " " << k;
        EXPECT_EQ(models::params_for(uint8_t(t), int32_t(igd::kMaxClasses) + 1, 5, 0, 0), -1);
        EXPECT_EQ(models::params_for(uint8_t(t), int32_t(igd::kMaxClasses), 5, 0, 0),
                  igd::kMaxClasses * 6);
    }
}

TEST(Registry, ParamsForRejectsABinaryOrRealTaskWithOutputsOtherThanOne) {
    for (Task t : {Task::logistic, Task::svm, Task::linear_regression})
        for (int32_t k : {0, 2, 3, 7})
            EXPECT_EQ(models::params_for(uint8_t(t), k, 5, 0, 0), -1) << int(t) << " " << k;
}

TEST(Registry, ParamsForRejectsAnUnknownTaskAndMismatchedShapes) {
    for (uint8_t t : {0, 7, 8, 255}) EXPECT_EQ(models::params_for(t, 1, 5, 0, 0), -1) << int(t);
    // a linear task with a matrix shape, a factorization without one or with several outputs
    EXPECT_EQ(models::params_for(uint8_t(Task::logistic), 1, 5, 3, 4), -1);
    EXPECT_EQ(models::params_for(uint8_t(Task::lmf), 1, 2, 0, 4), -1);
    EXPECT_EQ(models::params_for(uint8_t(Task::lmf), 2, 2, 3, 4), -1);
    // a factorization past the parameter limit
    EXPECT_EQ(models::params_for(uint8_t(Task::lmf), 1, 1000, 100000, 100000), -1);
}

// lmf_init and train_lmf accept any shape with (rows + cols)(rank + 2) + 1 <= kMaxParams (the
// model's size); the shape rule must accept every state they make.
TEST(Registry, ParamsForAcceptsTheLargestFactorizationLmfInitMakes) {
    const int64_t rank = 47, rows = 500'000, cols = 500'000;
    const int64_t size = models::Lmf::Shape{rows, cols, rank}.size();
    ASSERT_EQ(size, (rows + cols) * (rank + 2) + 1);
    ASSERT_LE(size, igd::kMaxParams);
    EXPECT_EQ(models::params_for(uint8_t(Task::lmf), 1, rank, rows, cols), size);
    EXPECT_EQ(models::params_for(uint8_t(Task::lmf), 1, rank + 1, rows, cols), -1);
}
