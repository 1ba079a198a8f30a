// bismarck.step_size: a step size that is either a positive number or 'auto', so that a training
// call accepts both step_size => 0.05 and step_size => 'auto'. Stored as a float8; 0 means auto.
#include "uda/boundary.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/float.h"
}

#include <cmath>
#include <cstring>
#include <string>

using bismarck::uda::fail;

static Datum check_step(double v, const std::string &shown) {
    if (!std::isfinite(v) || v <= 0.0)
        fail(ERRCODE_INVALID_PARAMETER_VALUE, "step_size must be positive and finite, not " + shown,
             {}, "Give a number such as 0.1, or 'auto' to calibrate it on a sample.");
    return Float8GetDatum(v);
}

BISMARCK_FUNCTION(bismarck_step_size_in) {
    const char *s = PG_GETARG_CSTRING(0);
    if (pg_strcasecmp(s, "auto") == 0) return Float8GetDatum(0.0);
    char *end = nullptr;
    errno = 0;
    const double v = strtod(s, &end);
    if (end == s || errno == ERANGE) {
        fail(ERRCODE_INVALID_TEXT_REPRESENTATION, std::string("invalid step_size \"") + s + "\"",
             {}, "Give a positive number such as 0.1, or 'auto'.");
    }
    while (*end == ' ') ++end;
    if (*end != '\0')
        fail(ERRCODE_INVALID_TEXT_REPRESENTATION, std::string("invalid step_size \"") + s + "\"",
             {}, "Give a positive number such as 0.1, or 'auto'.");
    return check_step(v, s);
}

BISMARCK_FUNCTION(bismarck_step_size_out) {
    const double v = PG_GETARG_FLOAT8(0);
    if (v == 0.0) PG_RETURN_CSTRING(pstrdup("auto"));
    PG_RETURN_CSTRING(float8out_internal(v));
}

BISMARCK_FUNCTION(bismarck_step_size_from_float8) {
    const double v = PG_GETARG_FLOAT8(0);
    char buf[64];
    snprintf(buf, sizeof buf, "%g", v);
    return check_step(v, buf);
}
