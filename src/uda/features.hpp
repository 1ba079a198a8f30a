// Features from the columns of an ordinary table (issue 11): which columns `features => ...`
// names and what each one becomes (see igd/transform.hpp), the statistics that fix the transform
// (vocabularies, means), and the SQL the training driver runs to turn a row into its float8[].
//
// Training and prediction encode a row with the same code (encode_value), so a model sees the
// same x for the same row whether it is being trained or asked for a prediction.
#pragma once

#include "igd/transform.hpp"
#include "uda/boundary.hpp"

extern "C" {
#include "access/htup.h"
#include "access/tupdesc.h"
}

#include <string>
#include <vector>

namespace bismarck::uda::features {

// One column of the source used as (part of) the features.
struct Input {
    std::string name, sql;  // its name and its quoted identifier
    Oid type = InvalidOid;  // its type, and the base type of a domain
    Oid base = InvalidOid;
    igd::FeatureColumn::Kind kind = igd::FeatureColumn::Kind::number;
};

// What `features => ...` names.
struct Spec {
    // One column holding the whole vector: a numeric array (with on_null other than 'impute') or
    // a bismarck.sparsevec. Training reads it as it is (no transform runs per row).
    bool vector_column = false;
    bool sparse = false;
    std::vector<Input> inputs;
};

// A `source` given as text that is a query (it starts with SELECT, WITH, VALUES or TABLE): the
// query checked to be one SELECT that writes nothing (no data-modifying WITH, no SELECT INTO, no
// FOR UPDATE), as a FROM item "(query) AS bismarck_source"; "" if the text is not a query (then
// it names a relation). The query runs as part of the training's own queries, with the caller's
// privileges.
std::string query_source(const std::string &text);

// The index of a source column by name, or -1.
int find_column(TupleDesc desc, const std::string &name);

// The columns of a source (a relation or a parenthesised query with an alias): its row type.
TupleDesc source_columns(const std::string &source_sql);

// Resolves `features` (one column, a comma list of SQL identifiers, or '*' minus `exclude`)
// against the source's columns; errors name any column that is missing, is the label, or has a
// type that cannot be a feature.
Spec resolve(TupleDesc desc, const std::string &source_sql, const std::string &features,
             const std::string &exclude, const std::string &label, Oid sparse_type);

// SQL true for a row whose features are usable as they are: every input non-NULL, no NULL
// array element (on_null => 'skip' or 'error'); with impute, always true. Without `elements`,
// arrays are not searched for NULL elements (the epochs' steps skip such rows themselves: see
// igd::kSkipNullElements).
std::string not_null(const Spec &spec, bool impute, bool elements = true);

// Learns the transform from the rows of `source_sql` satisfying `where`: array lengths,
// training means (the values imputed), and each text column's categories, the `max_categories`
// most frequent ones (a NOTICE says when a column had more).
igd::Transform learn(const Spec &spec, const std::string &source_sql, const std::string &where,
                     bool impute, int max_categories);

// The SQL expression of a row's feature vector (float8[]): bismarck.encode_features(...).
std::string encode_sql(const igd::Transform &t, const Spec &spec);

// The type kinds a feature column may have.
bool is_number(Oid base);
bool is_numeric_array(Oid type);
bool is_category(Oid base);

// Writes the features of one input column into x (width() doubles). `type` is the value's
// type (a domain's base type); `out` the output function for a category of a type that is not
// text-like (may be null otherwise). Returns false when the value (or an array element) is NULL
// and the transform does not impute.
bool encode_value(const igd::FeatureColumn &c, bool impute, Oid type, Datum v, bool isnull,
                  FmgrInfo *out, double *x);

// A model's transform bound to the row type of a prediction's argument: which attribute feeds
// which input column is found by name once per row type (once per query), not once per row.
// Created by row_encoder() in a memory context, and deleted when that context is reset.
struct RowEncoder {
    igd::Transform t;
    std::vector<double> x;  // the features of the last row encoded
    // the binding: the row type, its descriptor, and per input column its attribute, type and
    // output function
    Oid row_type = InvalidOid;
    int32 row_typmod = -1;
    TupleDesc desc = nullptr;
    std::vector<AttrNumber> attno;
    std::vector<Oid> types;
    std::vector<FmgrInfo> out;
    MemoryContext mcxt = nullptr;

    // Replaces the transform (a call site that meets another model).
    void set(igd::Transform transform);
    // Encodes `row` into x; false when a NULL makes it unusable (the model skips NULLs). `who`
    // names the model in errors: a missing column or one of the wrong type.
    bool encode(HeapTupleHeader row, const std::string &who);
};
RowEncoder *row_encoder(MemoryContext mcxt);

}  // namespace bismarck::uda::features
