// C symbols that only bismarck 0.1.0's SQL definitions name. Between installing this library and
// running ALTER EXTENSION bismarck UPDATE, a database still has those definitions: calling one
// says what to do instead of "could not find function". (A fresh install also runs the 0.1.0
// script before the update script, and CREATE FUNCTION checks that the symbol exists.)
#include "uda/boundary.hpp"

namespace {

[[noreturn]] void outdated() {
    bismarck::uda::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "this function's SQL definition belongs to bismarck 0.1.0",
                        "The installed library is bismarck 0.2.0.",
                        "Run ALTER EXTENSION bismarck UPDATE.");
}

}  // namespace

BISMARCK_FUNCTION(bismarck_linear_init) {
    outdated();
}
BISMARCK_FUNCTION(bismarck_linear_step) {
    outdated();
}
BISMARCK_FUNCTION(bismarck_train_linear) {
    outdated();
}
BISMARCK_FUNCTION(bismarck_predict_class) {
    outdated();
}
