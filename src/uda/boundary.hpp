// The C++/PostgreSQL error boundary. Two rules keep the server alive:
//   1. A C++ exception never crosses into PostgreSQL: every SQL-callable function is defined with
//      BISMARCK_FUNCTION, whose wrapper catches everything, lets the C++ stack unwind, and only
//      then raises a PostgreSQL ERROR with a proper SQLSTATE.
//   2. A PostgreSQL error (a longjmp) never crosses a C++ frame that owns a destructor: calls into
//      PostgreSQL that can raise, made while C++ objects are alive, go through pg_call(), which
//      catches the error, turns it into a C++ exception (PgError), and lets rule 1 re-raise it.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/elog.h"
}

#include <exception>
#include <new>
#include <string>
#include <utility>

#include "igd/engine.hpp"

namespace bismarck::uda {

// An error the user caused, with everything ereport needs. Thrown by the PostgreSQL-side code.
struct UserError : std::exception {
    int sqlstate;
    std::string message, detail, hint;
    UserError(int code, std::string msg, std::string det = {}, std::string hnt = {})
        : sqlstate(code), message(std::move(msg)), detail(std::move(det)), hint(std::move(hnt)) {}
    const char *what() const noexcept override { return message.c_str(); }
};

[[noreturn]] inline void fail(int sqlstate, std::string msg, std::string detail = {},
                              std::string hint = {}) {
    throw UserError(sqlstate, std::move(msg), std::move(detail), std::move(hint));
}

// A PostgreSQL error caught by pg_call, carried across C++ frames as an exception.
struct PgError : std::exception {
    ErrorData *data;
    explicit PgError(ErrorData *d) : data(d) {}
    const char *what() const noexcept override { return data->message ? data->message : "error"; }
};

// Runs f, which calls into PostgreSQL, converting a PostgreSQL error into PgError. A C++
// exception thrown by f is carried past PG_END_TRY (so PostgreSQL's exception stack is restored)
// and rethrown after it.
template <class F>
void pg_call(F &&f) {
    MemoryContext context = CurrentMemoryContext;
    ErrorData *volatile error = nullptr;
    std::exception_ptr cxx_error;
    PG_TRY();
    {
        try {
            f();
        } catch (...) {
            cxx_error = std::current_exception();
        }
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(context);
        error = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    if (error) throw PgError(error);
    if (cxx_error) std::rethrow_exception(cxx_error);
}

// CHECK_FOR_INTERRUPTS from C++ code: a cancel becomes a PgError that unwinds the C++ stack.
inline void check_for_interrupts() {
    pg_call([] { CHECK_FOR_INTERRUPTS(); });
}

// What guarded() raises, copied out of the exception into plain buffers so that nothing with a
// destructor is alive when ereport longjmps.
struct ErrorReport {
    int sqlstate;
    ErrorData *pg_error;
    char message[1024], detail[1024], hint[512];
};

// Fills `r` from the exception being handled. Called only from a catch block; kept out of line
// so that the wrapper's fast path (every row of an epoch goes through it) stays small.
[[gnu::cold, gnu::noinline]] inline void capture_exception(ErrorReport &r) noexcept {
    r.sqlstate = ERRCODE_INTERNAL_ERROR;
    r.pg_error = nullptr;
    r.message[0] = r.detail[0] = r.hint[0] = '\0';
    try {
        throw;
    } catch (const PgError &e) {
        r.pg_error = e.data;
    } catch (const UserError &e) {
        r.sqlstate = e.sqlstate;
        strlcpy(r.message, e.message.c_str(), sizeof r.message);
        strlcpy(r.detail, e.detail.c_str(), sizeof r.detail);
        strlcpy(r.hint, e.hint.c_str(), sizeof r.hint);
    } catch (const igd::Error &e) {
        switch (e.kind) {
            case igd::Error::Kind::invalid_parameter:
                r.sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
                break;
            case igd::Error::Kind::data_exception:
                r.sqlstate = ERRCODE_DATA_EXCEPTION;
                break;
            case igd::Error::Kind::diverged:
                r.sqlstate = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
                strlcpy(r.hint,
                        "Try a smaller step_size (step_size => 'auto' calibrates one on a sample), "
                        "or scale the features.",
                        sizeof r.hint);
                break;
        }
        strlcpy(r.message, e.what(), sizeof r.message);
    } catch (const std::bad_alloc &) {
        r.sqlstate = ERRCODE_OUT_OF_MEMORY;
        strlcpy(r.message, "out of memory in bismarck", sizeof r.message);
    } catch (const std::exception &e) {
        strlcpy(r.message, e.what(), sizeof r.message);
    } catch (...) {
        strlcpy(r.message, "unknown C++ exception in bismarck", sizeof r.message);
    }
}

// Raises what capture_exception() recorded. Called after the catch block has ended, when the
// C++ runtime no longer holds the exception.
[[noreturn, gnu::cold, gnu::noinline]] inline void raise_report(const ErrorReport &r) {
    if (r.pg_error) ReThrowError(r.pg_error);
    ereport(ERROR,
            (errcode(r.sqlstate), errmsg("%s", r.message),
             r.detail[0] ? errdetail("%s", r.detail) : 0, r.hint[0] ? errhint("%s", r.hint) : 0));
    pg_unreachable();
}

// The wrapper every SQL-callable function goes through (see BISMARCK_FUNCTION).
template <class F>
Datum guarded(FunctionCallInfo fcinfo, F &&body) {
    ErrorReport report;  // not initialised here: filled only when something was thrown
    try {
        return body(fcinfo);
    } catch (...) {
        capture_exception(report);
    }
    raise_report(report);
}

}  // namespace bismarck::uda

// Defines a SQL-callable function `name` whose body runs inside the error boundary:
//   BISMARCK_FUNCTION(bismarck_version) { return CStringGetTextDatum("0.1.0"); }
#define BISMARCK_FUNCTION(name)                               \
    static Datum name##_body(FunctionCallInfo fcinfo);        \
    extern "C" {                                              \
    PG_FUNCTION_INFO_V1(name);                                \
    Datum name(PG_FUNCTION_ARGS) {                            \
        return ::bismarck::uda::guarded(fcinfo, name##_body); \
    }                                                         \
    }                                                         \
    static Datum name##_body(FunctionCallInfo fcinfo)
