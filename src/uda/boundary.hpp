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

// The wrapper every SQL-callable function goes through (see BISMARCK_FUNCTION).
template <class F>
Datum guarded(FunctionCallInfo fcinfo, F &&body) {
    // What to raise is copied into plain buffers so that nothing with a destructor is alive when
    // ereport longjmps out of this frame.
    int sqlstate = ERRCODE_INTERNAL_ERROR;
    char message[1024] = "", detail[1024] = "", hint[512] = "";
    ErrorData *pg_error = nullptr;
    try {
        return body(fcinfo);
    } catch (const PgError &e) {
        pg_error = e.data;
    } catch (const UserError &e) {
        sqlstate = e.sqlstate;
        strlcpy(message, e.message.c_str(), sizeof message);
        strlcpy(detail, e.detail.c_str(), sizeof detail);
        strlcpy(hint, e.hint.c_str(), sizeof hint);
    } catch (const igd::Error &e) {
        switch (e.kind) {
            case igd::Error::Kind::invalid_parameter:
                sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
                break;
            case igd::Error::Kind::data_exception:
                sqlstate = ERRCODE_DATA_EXCEPTION;
                break;
            case igd::Error::Kind::diverged:
                sqlstate = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
                strlcpy(hint, "Try a smaller step_size, or step_size => 'auto'.", sizeof hint);
                break;
        }
        strlcpy(message, e.what(), sizeof message);
    } catch (const std::bad_alloc &) {
        sqlstate = ERRCODE_OUT_OF_MEMORY;
        strlcpy(message, "out of memory in bismarck", sizeof message);
    } catch (const std::exception &e) {
        strlcpy(message, e.what(), sizeof message);
    } catch (...) {
        strlcpy(message, "unknown C++ exception in bismarck", sizeof message);
    }
    if (pg_error) ReThrowError(pg_error);
    ereport(ERROR, (errcode(sqlstate), errmsg("%s", message),
                    detail[0] ? errdetail("%s", detail) : 0, hint[0] ? errhint("%s", hint) : 0));
    pg_unreachable();
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
