// Features from the columns of an ordinary table (see features.hpp), and the SQL functions that
// go with them: bismarck.encode_features (a row's feature vector, run by training),
// bismarck.weights and bismarck.feature_names (a model's weights with the names of its features).
#include "uda/features.hpp"

#include "uda/catalog.hpp"
#include "uda/spi.hpp"
#include "uda/state.hpp"

extern "C" {
#include "access/htup_details.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"
#include "utils/varlena.h"
}

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

namespace bismarck::uda::features {

using Kind = igd::FeatureColumn::Kind;

namespace {

std::string type_name(Oid t) {
    char *n = nullptr;
    pg_call([&] { n = format_type_be(t); });
    return n;
}

// A comma list of SQL identifiers (quoted ones keep their case), as SplitIdentifierString reads
// it; `what` names the argument in the error.
std::vector<std::string> identifiers(const std::string &s, const char *what) {
    std::vector<std::string> out;
    bool ok = false;
    pg_call([&] {
        char *copy = pstrdup(s.c_str());
        List *names = NIL;
        ok = SplitIdentifierString(copy, ',', &names);
        ListCell *lc;
        if (ok)
            foreach (lc, names) out.emplace_back(static_cast<const char *>(lfirst(lc)));
    });
    if (!ok || out.empty())
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             std::string(what) +
                 " must be a column name, a comma-separated list of column names "
                 "or '*', not '" +
                 s + "'",
             {}, "Write names as in SQL: features => 'age, income, \"Home State\"'.");
    return out;
}

Kind kind_of(const Input &in, Oid sparse_type, const std::string &source_sql, bool listed) {
    if (is_number(in.base)) return Kind::number;
    if (is_numeric_array(in.base)) return Kind::array;
    if (is_category(in.base)) return Kind::category;
    const std::string t = type_name(in.type);
    fail(ERRCODE_DATATYPE_MISMATCH, "features column \"" + in.name + "\" has type " + t, {},
         std::string("A feature column must be a number or a boolean, a text-like or enum column "
                     "(one-hot categories), a numeric array, or a single bismarck.sparsevec.") +
             (listed ? "" : " Leave it out with exclude => '" + in.name + "'."));
}

// Appends to x: the features of a numeric array value (one per element).
bool encode_array(const igd::FeatureColumn &c, bool impute, ArrayType *a, double *x) {
    const int64_t n = int64_t(c.means.size());
    const int ndim = ARR_NDIM(a);
    const int64_t len = ndim == 0 ? 0 : ARR_DIMS(a)[0];
    if (ndim > 1 || len != n)
        fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
             "column \"" + c.name + "\" holds an array of " +
                 (ndim > 1 ? std::to_string(ndim) + " dimensions"
                           : std::to_string(len) + " elements") +
                 " where the model has " + std::to_string(n),
             {}, "Every row's array must have the length the training rows had.");
    const Oid elem = ARR_ELEMTYPE(a);
    if (!ARR_HASNULL(a) && elem != NUMERICOID) {
        const void *data = ARR_DATA_PTR(a);
        auto copy = [&](auto *v) {
            for (int64_t j = 0; j < n; ++j) x[j] = double(v[j]);
        };
        switch (elem) {
            case FLOAT8OID:
                copy(static_cast<const double *>(data));
                return true;
            case FLOAT4OID:
                copy(static_cast<const float *>(data));
                return true;
            case INT2OID:
                copy(static_cast<const int16 *>(data));
                return true;
            case INT4OID:
                copy(static_cast<const int32 *>(data));
                return true;
            case INT8OID:
                copy(static_cast<const int64 *>(data));
                return true;
        }
    }
    Datum *elems = nullptr;
    bool *nulls = nullptr;
    int count = 0;
    pg_call([&] {
        int16 typlen;
        bool byval;
        char align;
        get_typlenbyvalalign(elem, &typlen, &byval, &align);
        deconstruct_array(a, elem, typlen, byval, align, &elems, &nulls, &count);
    });
    for (int j = 0; j < count; ++j) {
        if (nulls[j]) {
            if (!impute) return false;
            x[j] = c.means[size_t(j)];
            continue;
        }
        switch (elem) {
            case FLOAT8OID:
                x[j] = DatumGetFloat8(elems[j]);
                break;
            case FLOAT4OID:
                x[j] = DatumGetFloat4(elems[j]);
                break;
            case INT2OID:
                x[j] = DatumGetInt16(elems[j]);
                break;
            case INT4OID:
                x[j] = DatumGetInt32(elems[j]);
                break;
            case INT8OID:
                x[j] = double(DatumGetInt64(elems[j]));
                break;
            case NUMERICOID:
                pg_call(
                    [&] { x[j] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, elems[j])); });
                break;
            default:
                fail(ERRCODE_DATATYPE_MISMATCH,
                     "column \"" + c.name + "\" is an array of " + type_name(elem));
        }
    }
    return true;
}

// The text form of a category value, as `value::text` gives it in SQL (how the vocabulary was
// collected): the bytes of text and varchar, char(n) without its trailing spaces, the output
// function of anything else.
std::string_view category_text(Oid type, Datum v, FmgrInfo *out) {
    if (type == TEXTOID || type == VARCHAROID || type == BPCHAROID) {
        struct varlena *t = nullptr;
        pg_call([&] { t = PG_DETOAST_DATUM_PACKED(v); });
        const char *s = VARDATA_ANY(t);
        size_t len = VARSIZE_ANY_EXHDR(t);
        if (type == BPCHAROID)
            while (len > 0 && s[len - 1] == ' ') --len;
        return {s, len};
    }
    char *s = nullptr;
    pg_call([&] { s = OutputFunctionCall(out, v); });
    return {s, strlen(s)};
}

}  // namespace

bool is_number(Oid base) {
    return base == INT2OID || base == INT4OID || base == INT8OID || base == FLOAT4OID ||
           base == FLOAT8OID || base == NUMERICOID || base == BOOLOID;
}

bool is_numeric_array(Oid type) {
    return type == FLOAT8ARRAYOID || type == FLOAT4ARRAYOID || type == INT2ARRAYOID ||
           type == INT4ARRAYOID || type == INT8ARRAYOID || type == NUMERICARRAYOID;
}

// Strings (text, varchar, char(n), name, citext, ...) and enums: what a one-hot category is
// made of. Dates, network addresses, uuids, jsonb, geometric types, bytea and arrays of those
// are not: they need a decision (a number, a bucket, a part) only the user can make.
bool is_category(Oid base) {
    char category = 0;
    bool preferred;
    pg_call([&] {
        if (type_is_array(base)) return;
        get_type_category_preferred(base, &category, &preferred);
    });
    return category == TYPCATEGORY_STRING || category == TYPCATEGORY_ENUM;
}

std::string query_source(const std::string &text) {
    size_t at = 0;
    while (at < text.size() && (isspace(static_cast<unsigned char>(text[at])) || text[at] == '('))
        ++at;
    size_t end = at;
    while (end < text.size() && isalpha(static_cast<unsigned char>(text[end]))) ++end;
    std::string word = text.substr(at, end - at);
    for (char &ch : word) ch = char(tolower(static_cast<unsigned char>(ch)));
    if (word != "select" && word != "with" && word != "values" && word != "table") {
        // Another statement (DELETE FROM t, CREATE TABLE ...) is not a relation's name either.
        static const char *const statements[] = {
            "insert",  "update",  "delete", "merge", "create", "drop",   "alter",   "truncate",
            "copy",    "call",    "do",     "grant", "revoke", "lock",   "explain", "vacuum",
            "analyze", "refresh", "set",    "reset", "begin",  "commit", "rollback"};
        const bool more = text.find_first_not_of(" \t\r\n", end) != std::string::npos;
        for (const char *st : statements)
            if (more && word == st)
                fail(ERRCODE_INVALID_PARAMETER_VALUE, "source query is refused: it is not a SELECT",
                     "Source: " + text, "A source query must be one SELECT that only reads.");
        return "";
    }
    std::string q = text;
    while (!q.empty() && (isspace(static_cast<unsigned char>(q.back())) || q.back() == ';'))
        q.pop_back();
    const char *why = nullptr;
    pg_call([&] {
        List *stmts = raw_parser(q.c_str(), RAW_PARSE_DEFAULT);
        if (list_length(stmts) != 1) {
            why = "it holds several statements";
            return;
        }
        Node *n = linitial_node(RawStmt, stmts)->stmt;
        if (!IsA(n, SelectStmt)) {
            why = "it is not a SELECT";
            return;
        }
        auto *sel = castNode(SelectStmt, n);
        if (sel->intoClause) why = "SELECT INTO creates a table";
        if (sel->lockingClause) why = "it locks rows (FOR UPDATE / FOR SHARE)";
        if (sel->withClause) {
            ListCell *lc;
            foreach (lc, sel->withClause->ctes) {
                auto *cte = lfirst_node(CommonTableExpr, lc);
                if (!IsA(cte->ctequery, SelectStmt)) why = "its WITH clause modifies data";
            }
        }
    });
    if (why)
        fail(ERRCODE_INVALID_PARAMETER_VALUE, std::string("source query is refused: ") + why,
             "Source: " + text, "A source query must be one SELECT that only reads.");
    return "(" + q + "\n) AS bismarck_source";
}

int find_column(TupleDesc desc, const std::string &name) {
    for (int i = 0; i < desc->natts; ++i) {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (!a->attisdropped && name == NameStr(a->attname)) return i;
    }
    return -1;
}

TupleDesc source_columns(const std::string &source_sql) {
    spi::exec("SELECT * FROM " + source_sql + " LIMIT 0", {}, true);
    TupleDesc d = nullptr;
    pg_call([&] { d = CreateTupleDescCopy(SPI_tuptable->tupdesc); });
    return d;
}

Spec resolve(TupleDesc desc, const std::string &source_sql, const std::string &features,
             const std::string &exclude, const std::string &label, Oid sparse_type) {
    auto find = [&](const std::string &name) { return find_column(desc, name); };
    std::vector<std::string> excluded;
    if (!exclude.empty()) {
        excluded = identifiers(exclude, "exclude");
        for (const std::string &e : excluded)
            if (find(e) < 0)
                fail(ERRCODE_UNDEFINED_COLUMN,
                     "exclude names column \"" + e + "\", which " + source_sql + " does not have");
    }
    std::vector<std::string> names;
    const bool star = features == "*";
    if (star) {
        for (int i = 0; i < desc->natts; ++i) {
            Form_pg_attribute a = TupleDescAttr(desc, i);
            const std::string n = NameStr(a->attname);
            if (!a->attisdropped && n != label &&
                std::find(excluded.begin(), excluded.end(), n) == excluded.end())
                names.push_back(n);
        }
        if (names.empty())
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "features => '*' leaves no column of " + source_sql + " but the label");
    } else if (find(features) >= 0) {
        names = {features};  // one column, named exactly (as bismarck 0.1.0 took it)
    } else {
        for (const std::string &n : identifiers(features, "features"))
            if (std::find(excluded.begin(), excluded.end(), n) == excluded.end())
                names.push_back(n);
    }
    Spec spec;
    std::set<std::string> seen;
    for (const std::string &n : names) {
        if (!seen.insert(n).second)
            fail(ERRCODE_DUPLICATE_COLUMN, "features names column \"" + n + "\" twice");
        if (n == label)
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "column \"" + n + "\" cannot be both the features and the label");
        const int i = find(n);
        if (i < 0)
            fail(ERRCODE_UNDEFINED_COLUMN,
                 "features column \"" + n + "\" of relation " + source_sql + " does not exist");
        Input in;
        in.name = n;
        in.sql = spi::ident(n);
        in.type = TupleDescAttr(desc, i)->atttypid;
        pg_call([&] { in.base = getBaseType(in.type); });
        if (in.base == sparse_type && OidIsValid(sparse_type)) {
            if (names.size() != 1)
                fail(ERRCODE_DATATYPE_MISMATCH,
                     "features column \"" + n + "\" is a bismarck.sparsevec among other columns",
                     {}, "A sparsevec column must be the only features column.");
            spec.sparse = spec.vector_column = true;
            in.kind = Kind::array;
        } else {
            in.kind = kind_of(in, sparse_type, source_sql, !star);
        }
        spec.inputs.push_back(std::move(in));
    }
    if (spec.inputs.size() == 1 && spec.inputs[0].kind == Kind::array) spec.vector_column = true;
    return spec;
}

std::string not_null(const Spec &spec, bool impute, bool elements) {
    if (impute) return "true";
    std::string sql;
    for (const Input &in : spec.inputs) {
        sql += (sql.empty() ? "" : " AND ") + in.sql + " IS NOT NULL";
        if (elements && in.kind == Kind::array && !spec.sparse)
            sql += " AND CASE WHEN pg_catalog.array_ndims(" + in.sql +
                   ") OPERATOR(pg_catalog.=) 1 THEN pg_catalog.array_position(" + in.sql +
                   ", NULL) IS NULL ELSE true END";
    }
    return sql;
}

igd::Transform learn(const Spec &spec, const std::string &source_sql, const std::string &where,
                     bool impute, int max_categories) {
    igd::Transform t;
    t.impute = impute;
    for (const Input &in : spec.inputs) {
        igd::FeatureColumn c;
        c.kind = in.kind;
        c.name = in.name;
        c.type = type_name(in.type);
        t.columns.push_back(std::move(c));
    }
    // One scan: the mean of every number, the lengths of every array.
    std::string cols;
    for (const Input &in : spec.inputs) {
        if (in.kind == Kind::number)
            cols += std::string(cols.empty() ? "" : ", ") + "pg_catalog.avg((" + in.sql + ")" +
                    (in.base == BOOLOID ? "::pg_catalog.int4" : "") + "::pg_catalog.float8)";
        else if (in.kind == Kind::array)
            cols += std::string(cols.empty() ? "" : ", ") +
                    "pg_catalog.min(pg_catalog.cardinality(" + in.sql +
                    ")), pg_catalog.max(pg_catalog.cardinality(" + in.sql +
                    ")), pg_catalog.max(pg_catalog.array_ndims(" + in.sql + "))";
    }
    if (!cols.empty()) {
        spi::exec("SELECT " + cols + " FROM " + source_sql + " WHERE " + where, {}, true);
        int at = 1;
        for (size_t i = 0; i < spec.inputs.size(); ++i) {
            const Input &in = spec.inputs[i];
            igd::FeatureColumn &c = t.columns[i];
            if (in.kind == Kind::number) {
                const double m = spi::float8_value(0, at++, 0.0);
                c.means = {std::isfinite(m) ? m : 0.0};
            } else if (in.kind == Kind::array) {
                const int64_t lo = spi::int64_value(0, at, -1),
                              hi = spi::int64_value(0, at + 1, -1);
                const int64_t ndim = spi::int64_value(0, at + 2, 1);
                at += 3;
                if (ndim > 1)
                    fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "features column \"" + in.name +
                                                            "\" holds arrays of " +
                                                            std::to_string(ndim) + " dimensions");
                if (lo != hi)
                    fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
                         "features column \"" + in.name + "\" holds arrays of " +
                             std::to_string(lo) + " and of " + std::to_string(hi) + " elements",
                         {}, "Every row's array must have the same length.");
                if (hi < 1)
                    fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
                         "features column \"" + in.name + "\" holds empty arrays");
                if (hi > igd::kMaxParams)
                    fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                         "features column \"" + in.name + "\" holds arrays that are too long");
                c.means.assign(size_t(hi), 0.0);
            }
        }
    }
    for (size_t i = 0; i < spec.inputs.size(); ++i) {
        const Input &in = spec.inputs[i];
        igd::FeatureColumn &c = t.columns[i];
        if (in.kind == Kind::array && impute) {
            // the mean of each element, over the non-NULL ones
            spi::exec("SELECT u.i, pg_catalog.avg(u.v::pg_catalog.float8) FROM (SELECT " + in.sql +
                          " AS a FROM " + source_sql + " WHERE " + where +
                          ") AS s, pg_catalog.unnest(s.a) WITH ORDINALITY AS u(v, i) GROUP BY 1",
                      {}, true);
            for (uint64_t r = 0; r < SPI_processed; ++r) {
                const int64_t j = spi::int64_value(r, 1) - 1;
                const double m = spi::float8_value(r, 2, 0.0);
                if (j >= 0 && j < int64_t(c.means.size())) c.means[size_t(j)] = m;
            }
        } else if (in.kind == Kind::category) {
            // The most frequent categories, at most max_categories of them: the GROUP BY runs
            // where the data is and spills to disk if it must, and only the kept ones come back.
            const std::string v = impute ? "COALESCE((" + in.sql + ")::pg_catalog.text, " +
                                               spi::literal(igd::kMissingCategory) +
                                               "::pg_catalog.text)"
                                         : "(" + in.sql + ")::pg_catalog.text";
            spi::exec(
                "SELECT v, d FROM (SELECT v, pg_catalog.count(*) OVER () AS d, "
                "pg_catalog.row_number() OVER (ORDER BY n DESC, v) AS r FROM (SELECT " +
                    v + " AS v, pg_catalog.count(*) AS n FROM " + source_sql + " WHERE " + where +
                    " GROUP BY 1) AS g WHERE v IS NOT NULL) AS w WHERE r <= " +
                    std::to_string(max_categories) + " ORDER BY v",
                {}, true);
            int64_t distinct = 0;
            for (uint64_t r = 0; r < SPI_processed; ++r) {
                c.categories.push_back(spi::text_value(r, 1));
                distinct = spi::int64_value(r, 2);
            }
            if (c.categories.empty())
                fail(ERRCODE_NO_DATA_FOUND,
                     "features column \"" + in.name + "\" has no values in the training rows");
            if (distinct > max_categories) {
                const std::string msg =
                    "column \"" + in.name + "\" has " + std::to_string(distinct) +
                    " distinct values: the " + std::to_string(max_categories) +
                    " most frequent are one-hot features, the others are all zeros";
                pg_call([&] {
                    ereport(NOTICE,
                            (errmsg("%s", msg.c_str()),
                             errhint("max_categories => N keeps more; exclude => '%s' leaves the "
                                     "column out.",
                                     in.name.c_str())));
                });
            }
            c.build_index();
        }
    }
    return t;
}

std::string encode_sql(const igd::Transform &t, const Spec &spec) {
    const std::string bytes = igd::meta::encode({t.section()});
    static const char digits[] = "0123456789abcdef";
    std::string hex = "\\x";
    hex.reserve(2 + 2 * bytes.size());
    for (unsigned char b : bytes) {
        hex += digits[b >> 4];
        hex += digits[b & 15];
    }
    std::string sql = "bismarck.encode_features(" + spi::literal(hex) + "::pg_catalog.bytea";
    for (const Input &in : spec.inputs) sql += ", " + in.sql;
    return sql + ")";
}

bool encode_value(const igd::FeatureColumn &c, bool impute, Oid type, Datum v, bool isnull,
                  FmgrInfo *out, double *x) {
    switch (c.kind) {
        case Kind::number:
            if (isnull) {
                if (!impute) return false;
                x[0] = c.means[0];
                return true;
            }
            switch (type) {
                case INT2OID:
                    x[0] = DatumGetInt16(v);
                    break;
                case INT4OID:
                    x[0] = DatumGetInt32(v);
                    break;
                case INT8OID:
                    x[0] = double(DatumGetInt64(v));
                    break;
                case FLOAT4OID:
                    x[0] = DatumGetFloat4(v);
                    break;
                case FLOAT8OID:
                    x[0] = DatumGetFloat8(v);
                    break;
                case BOOLOID:
                    x[0] = DatumGetBool(v) ? 1.0 : 0.0;
                    break;
                case NUMERICOID:
                    pg_call([&] { x[0] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, v)); });
                    break;
                default:
                    fail(ERRCODE_DATATYPE_MISMATCH, "column \"" + c.name + "\" has type " +
                                                        type_name(type) + ", not a number");
            }
            return true;
        case Kind::array: {
            if (isnull) {
                if (!impute) return false;
                std::copy(c.means.begin(), c.means.end(), x);
                return true;
            }
            ArrayType *a = nullptr;
            pg_call([&] { a = DatumGetArrayTypeP(v); });
            return encode_array(c, impute, a, x);
        }
        case Kind::category: {
            std::fill(x, x + c.categories.size(), 0.0);
            int32_t k;
            if (isnull) {
                if (!impute) return false;
                k = c.category_index(igd::kMissingCategory, strlen(igd::kMissingCategory));
            } else {
                const std::string_view s = category_text(type, v, out);
                k = c.category_index(s.data(), s.size());
            }
            if (k >= 0) x[k] = 1.0;
            return true;
        }
    }
    return true;
}

// ---- a row of any table, encoded for prediction -------------------------------------------

namespace {
void delete_row_encoder(void *arg) {
    delete static_cast<RowEncoder *>(arg);
}

bool same_kind(Kind k, Oid base) {
    switch (k) {
        case Kind::number:
            return is_number(base);
        case Kind::array:
            return is_numeric_array(base);
        case Kind::category:
            return is_category(base);
    }
    return false;
}
}  // namespace

RowEncoder *row_encoder(MemoryContext mcxt) {
    auto *e = new RowEncoder;
    e->mcxt = mcxt;
    try {
        pg_call([&] {
            auto *cb = static_cast<MemoryContextCallback *>(
                MemoryContextAlloc(mcxt, sizeof(MemoryContextCallback)));
            cb->func = delete_row_encoder;
            cb->arg = e;
            MemoryContextRegisterResetCallback(mcxt, cb);
        });
    } catch (...) {
        delete e;
        throw;
    }
    return e;
}

void RowEncoder::set(igd::Transform transform) {
    t = std::move(transform);
    x.assign(size_t(t.dim()), 0.0);
    row_type = InvalidOid;
    row_typmod = -1;
}

bool RowEncoder::encode(HeapTupleHeader row, const std::string &who) {
    const Oid type = HeapTupleHeaderGetTypeId(row);
    const int32 typmod = HeapTupleHeaderGetTypMod(row);
    if (type != row_type || typmod != row_typmod) {
        // Bind: every input column of the model, by name, with a type of the same kind.
        row_type = InvalidOid;
        pg_call([&] {
            TupleDesc d = lookup_rowtype_tupdesc(type, typmod);
            MemoryContext old = MemoryContextSwitchTo(mcxt);
            if (desc) FreeTupleDesc(desc);
            desc = CreateTupleDescCopy(d);
            MemoryContextSwitchTo(old);
            ReleaseTupleDesc(d);
        });
        attno.assign(t.columns.size(), InvalidAttrNumber);
        types.assign(t.columns.size(), InvalidOid);
        out.assign(t.columns.size(), FmgrInfo{});
        for (size_t i = 0; i < t.columns.size(); ++i) {
            const igd::FeatureColumn &c = t.columns[i];
            for (int a = 0; a < desc->natts; ++a) {
                Form_pg_attribute att = TupleDescAttr(desc, a);
                if (!att->attisdropped && c.name == NameStr(att->attname)) {
                    attno[i] = AttrNumber(a + 1);
                    pg_call([&] { types[i] = getBaseType(att->atttypid); });
                    break;
                }
            }
            if (attno[i] == InvalidAttrNumber)
                fail(ERRCODE_UNDEFINED_COLUMN,
                     "the row has no column \"" + c.name + "\", which " + who + " needs", {},
                     "Predicting from a row matches the model's feature columns by name.");
            if (!same_kind(c.kind, types[i]))
                fail(ERRCODE_DATATYPE_MISMATCH,
                     "column \"" + c.name + "\" of the row has type " + type_name(types[i]) +
                         " but " + who + " was trained on it as " + c.type,
                     {},
                     c.kind == Kind::number  ? "The column must be a number or a boolean."
                     : c.kind == Kind::array ? "The column must be an array of numbers."
                                             : "The column must be text-like or an enum.");
            if (c.kind == Kind::category && types[i] != TEXTOID && types[i] != VARCHAROID &&
                types[i] != BPCHAROID)
                pg_call([&] {
                    Oid fn;
                    bool varlena;
                    getTypeOutputInfo(types[i], &fn, &varlena);
                    fmgr_info_cxt(fn, &out[i], mcxt);
                });
        }
        row_type = type;
        row_typmod = typmod;
    }
    HeapTupleData tuple;
    tuple.t_len = HeapTupleHeaderGetDatumLength(row);
    ItemPointerSetInvalid(&tuple.t_self);
    tuple.t_tableOid = InvalidOid;
    tuple.t_data = row;
    double *p = x.data();
    for (size_t i = 0; i < t.columns.size(); ++i) {
        bool isnull;
        const Datum v = heap_getattr(&tuple, attno[i], desc, &isnull);
        if (!encode_value(t.columns[i], t.impute, types[i], v, isnull, &out[i], p)) return false;
        p += t.columns[i].width();
    }
    return true;
}

}  // namespace bismarck::uda::features

using namespace bismarck::uda;
namespace igd = bismarck::igd;

// encode_features(transform bytea, VARIADIC "any") -> float8[]: the feature vector of the
// values given, one per input column of the transform (a meta block holding a transform
// section, as the training driver writes it); NULL when a NULL makes the row unusable.
namespace {
struct EncodeSite {
    std::string key;  // the transform's bytes
    igd::Transform t;
    std::vector<Oid> types;
    std::vector<FmgrInfo> out;
};
void delete_encode_site(void *arg) {
    delete static_cast<EncodeSite *>(arg);
}
}  // namespace

BISMARCK_FUNCTION(bismarck_encode_features) {
    if (PG_ARGISNULL(0)) fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "transform must not be NULL");
    bytea *b = PG_GETARG_BYTEA_PP(0);
    const std::string_view bytes(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
    auto *site = static_cast<EncodeSite *>(fcinfo->flinfo->fn_extra);
    if (site == nullptr) {
        site = new EncodeSite;
        try {
            pg_call([&] {
                auto *cb = static_cast<MemoryContextCallback *>(
                    MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(MemoryContextCallback)));
                cb->func = delete_encode_site;
                cb->arg = site;
                MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, cb);
            });
        } catch (...) {
            delete site;
            throw;
        }
        fcinfo->flinfo->fn_extra = site;
    }
    if (site->t.columns.empty() || bytes != site->key) {
        std::vector<igd::meta::Section> sections;
        if (!igd::meta::decode(bytes.data(), bytes.size(), &sections) ||
            !igd::Transform::from_meta(sections, &site->t))
            fail(ERRCODE_INVALID_PARAMETER_VALUE, "not a bismarck feature transform");
        site->key = std::string(bytes);
        const int n = fcinfo->nargs - 1;
        bool variadic = false;
        pg_call([&] { variadic = get_fn_expr_variadic(fcinfo->flinfo); });
        if (variadic || n != int(site->t.columns.size()))
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "the transform has " + std::to_string(site->t.columns.size()) + " columns but " +
                     std::to_string(n) + " values were given");
        site->types.assign(size_t(n), InvalidOid);
        site->out.assign(size_t(n), FmgrInfo{});
        for (int i = 0; i < n; ++i) {
            const igd::FeatureColumn &c = site->t.columns[size_t(i)];
            pg_call([&] {
                site->types[i] = getBaseType(get_fn_expr_argtype(fcinfo->flinfo, i + 1));
                if (c.kind == igd::FeatureColumn::Kind::category) {
                    Oid fn;
                    bool varlena;
                    getTypeOutputInfo(site->types[i], &fn, &varlena);
                    fmgr_info_cxt(fn, &site->out[i], fcinfo->flinfo->fn_mcxt);
                }
            });
        }
    }
    const int64_t dim = site->t.dim();
    const Size size = ARR_OVERHEAD_NONULLS(1) + sizeof(double) * size_t(dim);
    ArrayType *a = static_cast<ArrayType *>(palloc0(size));
    SET_VARSIZE(a, size);
    a->ndim = 1;
    a->dataoffset = 0;
    a->elemtype = FLOAT8OID;
    ARR_DIMS(a)[0] = int(dim);
    ARR_LBOUND(a)[0] = 1;
    double *x = reinterpret_cast<double *>(ARR_DATA_PTR(a));
    for (size_t i = 0; i < site->t.columns.size(); ++i) {
        const igd::FeatureColumn &c = site->t.columns[i];
        const int arg = int(i) + 1;
        if (!features::encode_value(c, site->t.impute, site->types[i], PG_GETARG_DATUM(arg),
                                    PG_ARGISNULL(arg), &site->out[i], x))
            PG_RETURN_NULL();
        x += c.width();
    }
    PG_RETURN_ARRAYTYPE_P(a);
}

// The names of a model's features (one per weight), or NULL if it has none recorded.
namespace {
std::vector<std::string> names_of(const StateHeader *h) {
    const auto meta = meta_of(h);
    if (const auto *names = igd::meta::find(meta, igd::meta::features)) return *names;
    return {};
}
}  // namespace

BISMARCK_FUNCTION(bismarck_feature_names) {
    const StateHeader *h = read_state(PG_GETARG_DATUM(0));
    const std::vector<std::string> names = names_of(h);
    if (names.empty()) PG_RETURN_NULL();
    ArrayType *a = nullptr;
    pg_call([&] {
        Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * names.size()));
        for (size_t i = 0; i < names.size(); ++i)
            elems[i] =
                PointerGetDatum(cstring_to_text_with_len(names[i].data(), int(names[i].size())));
        a = construct_array(elems, int(names.size()), TEXTOID, -1, false, TYPALIGN_INT);
    });
    PG_RETURN_ARRAYTYPE_P(a);
}

// weights(model) -> (feature, category, class, weight): every weight of a linear model in the
// units of the raw features (the scaler folded in, as bismarck.coefficients gives them), with
// the name of its feature, the category of a one-hot feature, and the class of a multiclass
// model's row; then the intercept of each output, as the feature '(intercept)'.
BISMARCK_FUNCTION(bismarck_weights) {
    if (PG_ARGISNULL(0)) fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "model must not be NULL");
    const StateHeader *h;
    if (get_fn_expr_argtype(fcinfo->flinfo, 0) == TEXTOID) {
        text *t = PG_GETARG_TEXT_PP(0);
        h = catalog::load(std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)), CurrentMemoryContext)
                .state;
    } else {
        h = read_state(PG_GETARG_DATUM(0));
    }
    if (!bismarck::models::is_linear(task_of(h)) || (h->epoch.flags & igd::kShared))
        fail(ERRCODE_WRONG_OBJECT_TYPE, "bismarck.weights needs a linear model", {},
             "A factorization's parameters are its factor matrices: bismarck.models.state.");
    const int64_t d = h->model.dim;
    const int32_t k = h->model.outputs;
    std::vector<double> w(size_t(h->model.n_params));
    bismarck::models::fold_scaler(igd::state_params(h), k, d, igd::state_scaler(h), w.data(),
                                  h->model.target_mean, h->model.target_scale);
    const auto meta = meta_of(h);
    // feature and category of each weight: from the transform, else the recorded names
    std::vector<std::string> feature(static_cast<size_t>(d)), category(static_cast<size_t>(d));
    std::vector<char> has_category(size_t(d), 0);
    igd::Transform t;
    if (igd::Transform::from_meta(meta, &t) && t.dim() == d) {
        size_t j = 0;
        for (const igd::FeatureColumn &c : t.columns) {
            if (c.kind == igd::FeatureColumn::Kind::category) {
                for (const std::string &v : c.categories) {
                    feature[j] = c.name;
                    category[j] = v;
                    has_category[j++] = 1;
                }
            } else if (c.kind == igd::FeatureColumn::Kind::array) {
                for (size_t e = 0; e < c.means.size(); ++e)
                    feature[j++] = c.name + "[" + std::to_string(e + 1) + "]";
            } else {
                feature[j++] = c.name;
            }
        }
    } else {
        const std::vector<std::string> names = names_of(h);
        for (int64_t j = 0; j < d; ++j)
            feature[size_t(j)] =
                size_t(d) == names.size() ? names[size_t(j)] : "[" + std::to_string(j + 1) + "]";
    }
    const auto *classes = igd::meta::find(meta, igd::meta::classes);
    const bool per_class = k > 1 && classes && classes->size() == size_t(k);
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    pg_call([&] {
        InitMaterializedSRF(fcinfo, 0);
        for (int32_t c = 0; c < k; ++c) {
            for (int64_t j = 0; j <= d; ++j) {
                const std::string &f = j < d ? feature[size_t(j)] : std::string("(intercept)");
                Datum v[4];
                bool n[4] = {false, j == d || !has_category[size_t(j)], !per_class, false};
                v[0] = PointerGetDatum(cstring_to_text_with_len(f.data(), int(f.size())));
                if (!n[1])
                    v[1] = PointerGetDatum(cstring_to_text_with_len(
                        category[size_t(j)].data(), int(category[size_t(j)].size())));
                if (!n[2])
                    v[2] = PointerGetDatum(cstring_to_text_with_len(
                        (*classes)[size_t(c)].data(), int((*classes)[size_t(c)].size())));
                v[3] = Float8GetDatum(w[size_t(c) * size_t(d + 1) + size_t(j)]);
                tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
            }
        }
    });
    return (Datum)0;
}
