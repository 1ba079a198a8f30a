// bismarck.version(): the version of the loaded library (which should match the extension's).
#include "uda/boundary.hpp"

extern "C" {
#include "utils/builtins.h"
PG_MODULE_MAGIC;
}

#define BISMARCK_VERSION "0.2.0"

BISMARCK_FUNCTION(bismarck_version) {
    return CStringGetTextDatum(BISMARCK_VERSION);
}
