// The list of models. Adding one: a file in this folder, a task id and a line in the list below,
// a few lines of SQL. Everything else (aggregates, driver, prediction, evaluation) is generic.
#pragma once

#include <cstdint>
#include <string_view>
#include <tuple>

#include "igd/engine.hpp"
#include "igd/state.hpp"
#include "models/linear_regression.hpp"
#include "models/lmf.hpp"
#include "models/logistic.hpp"
#include "models/multiclass_svm.hpp"
#include "models/multinomial.hpp"
#include "models/static_checks.hpp"
#include "models/svm.hpp"

namespace bismarck::models {

// The task id stored in every model state; never renumber.
enum class Task : uint8_t {
    logistic = 1,
    svm = 2,
    lmf = 3,
    linear_regression = 4,
    multinomial = 5,
    multiclass_svm = 6,
};

template <Task T, class M>
struct Entry {
    static constexpr Task task = T;
    using Model = M;
};

// The supervised linear models, one line each.
using LinearModels = std::tuple<Entry<Task::logistic, Logistic>,                   //
                                Entry<Task::svm, Svm>,                             //
                                Entry<Task::linear_regression, LinearRegression>,  //
                                Entry<Task::multinomial, Multinomial>,             //
                                Entry<Task::multiclass_svm, MulticlassSvm>>;
// The factorizations.
using FactorizationModels = std::tuple<Entry<Task::lmf, Lmf>>;

template <class List, class F>
constexpr void for_each_entry(F &&f) {
    [&]<size_t... I>(std::index_sequence<I...>) {
        (f(std::tuple_element_t<I, List>{}), ...);
    }
    (std::make_index_sequence<std::tuple_size_v<List>>{});
}

// Every model passes its static checks.
inline constexpr bool kModelsChecked = [] {
    bool ok = true;
    for_each_entry<LinearModels>(
        [&](auto e) { ok = ok && check_linear_model<typename decltype(e)::Model>(); });
    for_each_entry<FactorizationModels>(
        [&](auto e) { ok = ok && check_factorization_model<typename decltype(e)::Model>(); });
    return ok;
}();

inline bool is_linear(Task t) {
    bool found = false;
    for_each_entry<LinearModels>([&](auto e) { found = found || decltype(e)::task == t; });
    return found;
}

inline std::string_view task_name(Task t) {
    std::string_view name = "unknown";
    auto look = [&](auto e) {
        if (decltype(e)::task == t) name = decltype(e)::Model::name;
    };
    for_each_entry<LinearModels>(look);
    for_each_entry<FactorizationModels>(look);
    return name;
}

// The kind of target of a task; Target::cell for factorizations.
inline Target target_of(Task t) {
    Target target = Target::cell;
    for_each_entry<LinearModels>([&](auto e) {
        if (decltype(e)::task == t) target = decltype(e)::Model::target;
    });
    return target;
}

// The SQL function train_<trainer> of a task (logistic and multinomial: "logistic").
inline std::string_view trainer_of(Task t) {
    std::string_view name = task_name(t);
    for_each_entry<LinearModels>([&](auto e) {
        if (decltype(e)::task == t) name = decltype(e)::Model::trainer;
    });
    return name;
}

// The linear task train_<trainer> trains for a label with `classes` classes (0: a real label);
// false if there is none (e.g. train_linear_regression on classes).
inline bool linear_task_for(std::string_view trainer, int64_t classes, Task *out) {
    bool found = false;
    for_each_entry<LinearModels>([&](auto e) {
        using M = typename decltype(e)::Model;
        if (found || trainer != M::trainer) return;
        const bool fits = (M::target == Target::real && classes == 0) ||
                          (M::target == Target::binary && classes == 2) ||
                          (M::target == Target::classes && classes > 2);
        if (fits) {
            *out = decltype(e)::task;
            found = true;
        }
    });
    return found;
}

// The kind of label train_<trainer> takes: Target::real for regressions, else classes.
inline Target trainer_target(std::string_view trainer) {
    Target t = Target::binary;
    for_each_entry<LinearModels>([&](auto e) {
        using M = typename decltype(e)::Model;
        if (trainer == M::trainer && M::target == Target::real) t = Target::real;
    });
    return t;
}

// The number of parameters a task has for a shape, or -1 when the task or shape is not valid
// (igd::validate_state's shape rule).
inline int64_t params_for(uint8_t task, int32_t outputs, int64_t dim, int64_t rows, int64_t cols) {
    int64_t n = -1;
    for_each_entry<LinearModels>([&](auto e) {
        using M = typename decltype(e)::Model;
        if (uint8_t(decltype(e)::task) != task || rows != 0 || cols != 0) return;
        const bool shape_ok = M::target == Target::classes
                                  ? outputs >= 3 && outputs <= igd::kMaxClasses
                                  : outputs == 1;
        if (shape_ok) n = linear_params(outputs, dim);
    });
    for_each_entry<FactorizationModels>([&](auto e) {
        using M = typename decltype(e)::Model;
        if (uint8_t(decltype(e)::task) != task || outputs != 1 || rows < 1 || cols < 1) return;
        const double total = (double(rows) + double(cols)) * (double(dim) + 2) + 1.0;
        if (total <= double(igd::kMaxParams)) n = typename M::Shape{rows, cols, dim}.size();
    });
    return n;
}

// Calls f(Model{}) for a supervised linear task: the one place that maps an id to a type, so
// everything downstream is a template instantiated once per model.
template <class F>
decltype(auto) with_linear_model(Task t, F &&f) {
    using R = decltype(f(Logistic{}));
    if constexpr (std::is_void_v<R>) {
        bool done = false;
        for_each_entry<LinearModels>([&](auto e) {
            if (!done && decltype(e)::task == t) {
                f(typename decltype(e)::Model{});
                done = true;
            }
        });
        if (!done)
            throw igd::Error(igd::Error::Kind::invalid_parameter, "model task is not linear");
    } else {
        R result{};
        bool done = false;
        for_each_entry<LinearModels>([&](auto e) {
            if (!done && decltype(e)::task == t) {
                result = f(typename decltype(e)::Model{});
                done = true;
            }
        });
        if (!done)
            throw igd::Error(igd::Error::Kind::invalid_parameter, "model task is not linear");
        return result;
    }
}

}  // namespace bismarck::models
