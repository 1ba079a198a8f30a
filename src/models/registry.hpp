// The list of models. Adding one: a file in this folder, a line here, a few lines of SQL.
#pragma once

#include <cstdint>
#include <string_view>

#include "igd/engine.hpp"
#include "models/lmf.hpp"
#include "models/logistic.hpp"
#include "models/svm.hpp"

namespace bismarck::models {

// The task id stored in every model state; never renumber.
enum class Task : uint8_t { logistic = 1, svm = 2, lmf = 3 };

// Supervised linear models take (features, label); factorizations take (row, column, value).
inline bool is_linear(Task t) {
    return t == Task::logistic || t == Task::svm;
}

inline std::string_view task_name(Task t) {
    switch (t) {
        case Task::logistic:
            return Logistic::name;
        case Task::svm:
            return Svm::name;
        case Task::lmf:
            return Lmf::name;
    }
    return "unknown";
}

// Calls f(Model{}) for a supervised linear task: the one place that maps an id to a type, so
// everything downstream is a template instantiated once per model.
template <class F>
decltype(auto) with_linear_model(Task t, F &&f) {
    switch (t) {
        case Task::logistic:
            return f(Logistic{});
        case Task::svm:
            return f(Svm{});
        default:
            throw igd::Error(igd::Error::Kind::invalid_parameter,
                             "model task is not a linear classifier");
    }
}

}  // namespace bismarck::models
