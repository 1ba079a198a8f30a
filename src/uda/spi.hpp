// Small helpers for running SQL from C++ through SPI. Every call that can raise goes through
// pg_call, so a failing query unwinds the C++ frames before the error is re-raised.
#pragma once

#include "uda/boundary.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/builtins.h"
}

#include <string>
#include <vector>

namespace bismarck::uda::spi {

// A quoted identifier and a quoted, schema-qualified relation name.
std::string ident(const std::string &name);
std::string relation(Oid relid);
// A SQL string literal.
std::string literal(const std::string &s);

inline void connect() {
    pg_call([] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    });
}
inline void finish() {
    pg_call([] { SPI_finish(); });
}

struct Arg {
    Oid type;
    Datum value;
    bool null = false;
};

// Runs `sql` with $1.. bound to args; returns the number of rows processed. Results stay in
// SPI_tuptable until the next call.
uint64_t exec(const std::string &sql, const std::vector<Arg> &args = {}, bool read_only = false);

// Value of column `col` (1-based) of result row `row`, copied into `context`; null-aware.
Datum value(uint64_t row, int col, bool *isnull, MemoryContext context = nullptr);
double float8_value(uint64_t row, int col, double if_null = 0.0);
int64_t int64_value(uint64_t row, int col, int64_t if_null = 0);
std::string text_value(uint64_t row, int col, const std::string &if_null = "");

// Settings changed for one piece of work. close() puts them back; on an error the transaction's
// abort does (there is no destructor: nothing may call into PostgreSQL while C++ unwinds).
class GucScope {
  public:
    GucScope();
    void set(const char *name, const std::string &value);
    void close();

  private:
    int nest_ = 0;
};

// Seeds random() so that a following ORDER BY random() on a serial scan is the same for a seed.
void set_random_seed(int64_t seed);

// A prepared statement kept for the duration of the call. One-shot: planned anew at every
// execution with the arguments' values at hand (SPI_execute_with_args), for a distributed
// table, which Citus cannot plan with a generic $1.
struct Plan {
    SPIPlanPtr plan = nullptr;
    bool one_shot = false;
    std::string sql;
    std::vector<Oid> types;
    void prepare(const std::string &sql, const std::vector<Oid> &types, bool one_shot = false);
    uint64_t exec(const std::vector<Arg> &args, bool read_only = false) const;
};

}  // namespace bismarck::uda::spi
