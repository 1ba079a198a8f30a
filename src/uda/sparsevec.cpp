// bismarck.sparsevec: text and binary I/O, the constructor, the casts to and from float8[], and
// dims()/nnz(). Every way of building a value validates it completely (dimension in range,
// indices in range and strictly increasing, values finite), because the training kernels index
// model arrays with these indices without checking them: a bad value here would be a crash there.
//
// No function below keeps a C++ object with a destructor alive across a call into PostgreSQL
// that may raise (strings are only built on the way to a throw), except where pg_call says so.
#include "uda/sparsevec.hpp"

#include "uda/boundary.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
}

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

namespace bismarck::uda {
namespace {

std::string str(int64 v) {
    return std::to_string(v);
}

[[noreturn]] void dimension_error(const std::string &got, std::string detail = {}) {
    fail(ERRCODE_INVALID_PARAMETER_VALUE,
         "sparsevec dimension must be between 1 and " + str(SPARSEVEC_MAX_DIM) + ", got " + got,
         std::move(detail));
}

void check_dimension(int64 dim) {
    if (dim < 1 || dim > SPARSEVEC_MAX_DIM) dimension_error(str(dim));
}

// palloc0 a value with room for `nnz` elements; only the size limit is checked here (callers
// check the dimension, and may over-allocate before they know how many zeros they will drop).
SparseVec *allocate(int32 dim, int64 nnz) {
    if (nnz > SPARSEVEC_MAX_NNZ)
        fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
             "sparsevec cannot have more than " + str(SPARSEVEC_MAX_NNZ) + " non-zero elements",
             "A value is limited to 1 GB.");
    const size_t size = sparsevec_size(nnz);
    void *memory = nullptr;
    pg_call([&] { memory = palloc0(size); });
    auto *v = static_cast<SparseVec *>(memory);
    SET_VARSIZE(v, size);
    v->dim = dim;
    v->nnz = int32(nnz);
    return v;
}

// A value allocated for `capacity` elements of which the first `nnz` were kept: moves the values
// next to the shorter index array and fixes the size. The padding is zeroed so that equal
// vectors are equal byte for byte (hashing and DISTINCT on the datum rely on it).
void shrink(SparseVec *v, int32 capacity, int32 nnz) {
    char *base = reinterpret_cast<char *>(v);
    if (nnz != capacity)
        memmove(base + sparsevec_values_offset(nnz), base + sparsevec_values_offset(capacity),
                size_t(nnz) * sizeof(double));
    const size_t index_end = sizeof(SparseVec) + size_t(nnz) * sizeof(int32);
    memset(base + index_end, 0, sparsevec_values_offset(nnz) - index_end);
    v->nnz = nnz;
    SET_VARSIZE(v, sparsevec_size(nnz));
}

// The element-by-element rules shared by every input path. Indices are 1-based here, as users
// write them. Trivially destructible on purpose: it is alive while PostgreSQL is called.
class ElementChecker {
  public:
    ElementChecker(int32 dim, bool binary) : dim_(dim), binary_(binary) {}

    // `written`, when given, is how the user wrote the index (for numbers too long to hold).
    void index(int64 index, const std::string *written = nullptr) {
        if (index < 1 || index > dim_) {
            const std::string shown = written ? *written : str(index);
            std::string detail =
                binary_ ? "The binary format stores 0-based indices: this one is " +
                              (written ? *written : str(index - 1)) + ", valid ones are 0 to " +
                              str(dim_ - 1) + "."
                        : "Indices are 1-based: valid ones are 1 to " + str(dim_) + ".";
            fail(ERRCODE_DATA_EXCEPTION,
                 "sparsevec index " + shown + " is out of range for dimension " + str(dim_),
                 std::move(detail));
        }
        if (index == previous_)
            fail(ERRCODE_DATA_EXCEPTION,
                 "sparsevec index " + str(index) + " appears more than once",
                 "Indices must be strictly increasing.", "Merge the duplicate elements.");
        if (index < previous_)
            fail(ERRCODE_DATA_EXCEPTION, "sparsevec index " + str(index) + " is out of order",
                 "Index " + str(index) + " follows index " + str(previous_) +
                     "; indices must be strictly increasing.",
                 "List the elements in increasing order of index.");
        previous_ = index;
    }

    static void value(int64 index, double v) {
        if (std::isfinite(v)) return;
        fail(ERRCODE_DATA_EXCEPTION, "sparsevec value at index " + str(index) +
                                         " must be finite, not " +
                                         (std::isnan(v) ? "NaN"
                                          : v > 0       ? "Infinity"
                                                        : "-Infinity"));
    }

  private:
    int32 dim_;
    bool binary_;
    int64 previous_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Text input: {i:v,i:v,...}/dim
// ---------------------------------------------------------------------------------------------

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
const char *skip_space(const char *p) {
    while (is_space(*p)) ++p;
    return p;
}

// An integer as written: [+-]?[0-9]+. Its value saturates (and `overflow` is set) far beyond any
// valid index or dimension, so an absurdly long number is rejected by the range checks and
// printed as written instead of wrapping around into a valid one.
struct IntToken {
    const char *begin = nullptr, *end = nullptr;
    int64 value = 0;
    bool overflow = false;
};

bool scan_int(const char *p, IntToken &t) {
    t = IntToken{};
    t.begin = p;
    const bool negative = *p == '-';
    if (*p == '+' || *p == '-') ++p;
    if (*p < '0' || *p > '9') return false;
    int64 v = 0;
    for (; *p >= '0' && *p <= '9'; ++p) {
        if (v < INT64CONST(100000000000000000))
            v = v * 10 + (*p - '0');
        else
            t.overflow = true;
    }
    t.value = negative ? -v : v;
    t.end = p;
    return true;
}

// At most `limit` bytes of [begin, end), cut at a character boundary, "..." when cut. Only
// called on the way to an error, on input PostgreSQL has verified to be in the server encoding.
std::string excerpt(const char *begin, size_t length, int limit) {
    int len = 0;
    const int bounded = int(std::min<size_t>(length, size_t(limit) + 8));
    pg_call([&] { len = pg_mbcliplen(begin, bounded, limit); });
    std::string s(begin, size_t(len));
    if (size_t(len) < length) s += "...";
    return s;
}

std::string written(const IntToken &t) {
    return t.overflow ? excerpt(t.begin, size_t(t.end - t.begin), 40) : str(t.value);
}

[[noreturn]] void syntax_error(const char *input, const char *at, const char *expected) {
    int position = 0, char_bytes = 0;
    pg_call([&] {
        position = pg_mbstrlen_with_len(input, int(at - input)) + 1;
        if (*at) char_bytes = std::min<int>(pg_mblen(at), int(strnlen(at, 4)));
    });
    const std::string found =
        *at ? "\"" + std::string(at, size_t(char_bytes)) + "\"" : std::string("end of input");
    fail(ERRCODE_INVALID_TEXT_REPRESENTATION,
         "invalid input syntax for type sparsevec: \"" + excerpt(input, strlen(input), 100) + "\"",
         "Expected " + std::string(expected) + " at character " + str(position) + ", found " +
             found + ".",
         "The format is {index:value,...}/dimension with 1-based indices, e.g. {1:0.5,3:2}/5.");
}

// Where parsed elements go. Null during a syntax-only walk.
struct TextSink {
    ElementChecker checker;
    int32_t *index;
    double *values;
    int32 capacity;
    int32 count = 0;
};

// Walks the whole input left to right, from its "{" at `p`. With a sink, checks every element as
// soon as it is read (so the first error in reading order is the one reported) and stores the
// non-zero ones; without one, only looks for the first syntax error.
void walk(const char *input, const char *p, TextSink *sink) {
    p = skip_space(p + 1);
    if (*p != '}') {
        for (;;) {
            IntToken index;
            p = skip_space(p);
            if (!scan_int(p, index)) syntax_error(input, p, "an index");
            if (sink) {
                if (index.overflow) {
                    const std::string w = written(index);
                    sink->checker.index(index.value, &w);
                } else {
                    sink->checker.index(index.value);
                }
            }
            p = skip_space(index.end);
            if (*p != ':') syntax_error(input, p, "\":\" after the index");
            p = skip_space(p + 1);
            char *end = nullptr;
            errno = 0;
            const double v = strtod(p, &end);
            if (end == p) syntax_error(input, p, "a value");
            if (sink) {
                // What float8in rejects: overflow, and underflow all the way to zero.
                if (errno == ERANGE && (v == 0.0 || std::isinf(v)))
                    fail(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                         "sparsevec value \"" + excerpt(p, size_t(end - p), 40) + "\" at index " +
                             str(index.value) + " is out of range for type double precision");
                ElementChecker::value(index.value, v);
                if (v != 0.0) {  // explicit zeros are dropped
                    if (sink->count == sink->capacity)
                        fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                             "sparsevec cannot have more than " + str(SPARSEVEC_MAX_NNZ) +
                                 " non-zero elements",
                             "A value is limited to 1 GB.");
                    sink->index[sink->count] = int32_t(index.value - 1);
                    sink->values[sink->count] = v;
                    ++sink->count;
                }
            }
            p = skip_space(end);
            if (*p == ',') {
                ++p;
                continue;
            }
            if (*p == '}') break;
            syntax_error(input, p, "\",\" or \"}\"");
        }
    }
    p = skip_space(p + 1);
    if (*p != '/') syntax_error(input, p, "\"/\" followed by the dimension");
    p = skip_space(p + 1);
    IntToken dim;
    if (!scan_int(p, dim)) syntax_error(input, p, "the dimension");
    p = skip_space(dim.end);
    if (*p) syntax_error(input, p, "end of input");
}

// The dimension after the last "/", if what follows it is exactly "<space>int<space>".
bool scan_tail(const char *slash, IntToken &dim) {
    const char *p = skip_space(slash + 1);
    if (!scan_int(p, dim)) return false;
    return *skip_space(dim.end) == '\0';
}

// ---------------------------------------------------------------------------------------------
// Arrays
// ---------------------------------------------------------------------------------------------

// The number of elements of a 0- or 1-dimensional array ('{}' has no dimension at all).
int array_length(ArrayType *a, const char *must_be_1d) {
    const int ndim = ARR_NDIM(a);
    if (ndim == 0) return 0;
    if (ndim != 1)
        fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR, must_be_1d, "It has " + str(ndim) + " dimensions.");
    return ARR_DIMS(a)[0];
}

// 1-based position of the first NULL element, 0 when there is none.
int first_null(ArrayType *a, int n) {
    const bits8 *bitmap = ARR_NULLBITMAP(a);
    if (!bitmap) return 0;
    for (int i = 0; i < n; ++i)
        if (!(bitmap[i / 8] & (1 << (i % 8)))) return i + 1;
    return 0;
}

void check_element_type(ArrayType *a, Oid expected) {
    if (ARR_ELEMTYPE(a) != expected)
        fail(ERRCODE_DATATYPE_MISMATCH, "unexpected array element type " + str(ARR_ELEMTYPE(a)));
}

// The header fields of a sparsevec datum (dim, nnz) without detoasting the whole value: a
// compressed or out-of-line value is only read as far as its header.
void read_header(Datum d, int32 &dim, int32 &nnz) {
    constexpr int32 fields = 2 * sizeof(int32);
    struct varlena *slice = PG_DETOAST_DATUM_SLICE(d, 0, fields);
    if (VARSIZE_ANY_EXHDR(slice) < size_t(fields))
        fail(ERRCODE_DATA_CORRUPTED, "sparsevec value is too short to hold its header");
    const char *data = VARDATA_ANY(slice);
    memcpy(&dim, data, sizeof(int32));
    memcpy(&nnz, data + sizeof(int32), sizeof(int32));
}

}  // namespace

SparseVec *sparsevec_palloc(int32 dim, int32 nnz) {
    check_dimension(dim);
    if (nnz < 0 || nnz > dim)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "sparsevec cannot have " + str(nnz) + " elements in dimension " + str(dim));
    return allocate(dim, nnz);
}

}  // namespace bismarck::uda

using namespace bismarck::uda;

// sparsevec_in(cstring, oid, int4): '{1:1.5,3:2}/5'.
BISMARCK_FUNCTION(bismarck_sparsevec_in) {
    const char *input = PG_GETARG_CSTRING(0);
    const char *open = skip_space(input);
    if (*open != '{') syntax_error(input, open, "\"{\"");

    // The dimension comes last but is needed first, to check each index as it is read. No element
    // can contain "/", so in a well-formed input the dimension follows the last "/". When that
    // tail is not well-formed the input has a syntax error somewhere, and a syntax-only walk
    // finds the first one.
    const char *slash = strrchr(open, '/');
    IntToken dim;
    if (!slash || !scan_tail(slash, dim)) {
        walk(input, open, nullptr);
        syntax_error(input, input + strlen(input), "the dimension");  // not reached
    }
    if (dim.overflow) dimension_error(written(dim));
    check_dimension(dim.value);

    // Each element has a ":", so their count bounds the allocation, whatever the input's size.
    int64 colons = 0;
    for (const char *p = open; (p = static_cast<const char *>(memchr(p, ':', size_t(slash - p))));
         ++p)
        ++colons;
    const auto capacity = int32(std::min<int64>({colons, dim.value, SPARSEVEC_MAX_NNZ}));

    SparseVec *v = allocate(int32(dim.value), capacity);
    TextSink sink{ElementChecker(int32(dim.value), false), sparsevec_index(v), sparsevec_values(v),
                  capacity};
    walk(input, open, &sink);
    shrink(v, capacity, sink.count);
    PG_RETURN_POINTER(v);
}

// sparsevec_out(sparsevec): the text form, values printed exactly (shortest round-trip digits,
// whatever extra_float_digits says: a dump must restore the same training data).
BISMARCK_FUNCTION(bismarck_sparsevec_out) {
    const SparseVec *v = sparsevec_from_datum(PG_GETARG_DATUM(0));
    const int32_t *index = sparsevec_index(v);
    const double *values = sparsevec_values(v);
    // Per element at most 9 digits of index (dim <= 10^8), ":", the value, ",".
    const size_t bound = size_t(v->nnz) * (10 + 1 + DOUBLE_SHORTEST_DECIMAL_LEN + 1) + 16;
    char *out = nullptr;
    pg_call([&] {
        out =
            static_cast<char *>(palloc_extended(bound, bound > MaxAllocSize ? MCXT_ALLOC_HUGE : 0));
    });
    char *p = out;
    *p++ = '{';
    for (int32 k = 0; k < v->nnz; ++k) {
        if (k) *p++ = ',';
        p += pg_ultoa_n(uint32(index[k]) + 1, p);
        *p++ = ':';
        p += double_to_shortest_decimal_bufn(values[k], p);
    }
    *p++ = '}';
    *p++ = '/';
    p += pg_ultoa_n(uint32(v->dim), p);
    *p = '\0';
    PG_RETURN_CSTRING(out);
}

// Binary format (network byte order): int32 dim, int32 nnz, int32 0, int32 index[nnz] (0-based),
// float8 value[nnz]. The same as pgvector's sparsevec but with float8 values.
BISMARCK_FUNCTION(bismarck_sparsevec_send) {
    const SparseVec *v = sparsevec_from_datum(PG_GETARG_DATUM(0));
    const int32_t *index = sparsevec_index(v);
    const double *values = sparsevec_values(v);
    StringInfoData buf;
    pg_call([&] {
        pq_begintypsend(&buf);
        enlargeStringInfo(
            &buf, int(3 * sizeof(int32) + size_t(v->nnz) * (sizeof(int32) + sizeof(double))));
        pq_sendint32(&buf, uint32(v->dim));
        pq_sendint32(&buf, uint32(v->nnz));
        pq_sendint32(&buf, 0);
        for (int32 k = 0; k < v->nnz; ++k) pq_sendint32(&buf, uint32(index[k]));
        for (int32 k = 0; k < v->nnz; ++k) pq_sendfloat8(&buf, values[k]);
    });
    PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

// sparsevec_recv(internal, oid, int4): validates exactly as the text input does; the message is
// untrusted, so every length is checked before anything is read or allocated.
BISMARCK_FUNCTION(bismarck_sparsevec_recv) {
    StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
    constexpr int header = 3 * sizeof(int32);
    if (buf->len - buf->cursor < header)
        fail(ERRCODE_INVALID_BINARY_REPRESENTATION, "invalid binary sparsevec: the header needs " +
                                                        str(header) + " bytes, got " +
                                                        str(buf->len - buf->cursor));
    const auto dim = int32(pq_getmsgint(buf, 4));
    const auto nnz = int32(pq_getmsgint(buf, 4));
    const auto unused = int32(pq_getmsgint(buf, 4));
    check_dimension(dim);
    if (unused != 0)
        fail(ERRCODE_INVALID_BINARY_REPRESENTATION,
             "invalid binary sparsevec: reserved field is " + str(unused) + ", not 0");
    if (nnz < 0 || nnz > dim)
        fail(ERRCODE_INVALID_BINARY_REPRESENTATION,
             "invalid binary sparsevec: " + str(nnz) + " elements in dimension " + str(dim),
             "The number of elements must be between 0 and the dimension.");
    const int64 needed = int64(nnz) * int64(sizeof(int32) + sizeof(double));
    const int64 left = buf->len - buf->cursor;
    if (left < needed)
        fail(ERRCODE_INVALID_BINARY_REPRESENTATION,
             "invalid binary sparsevec: " + str(nnz) + " elements need " + str(needed) +
                 " bytes, but only " + str(left) + " remain");

    SparseVec *v = allocate(dim, nnz);
    int32_t *index = sparsevec_index(v);
    double *values = sparsevec_values(v);
    ElementChecker checker(dim, true);
    for (int32 k = 0; k < nnz; ++k) {
        index[k] = int32_t(pq_getmsgint(buf, 4));
        checker.index(int64(index[k]) + 1);
    }
    for (int32 k = 0; k < nnz; ++k) {
        values[k] = pq_getmsgfloat8(buf);
        ElementChecker::value(int64(index[k]) + 1, values[k]);
    }
    int32 kept = 0;  // explicit zeros are dropped, as in text
    for (int32 k = 0; k < nnz; ++k) {
        if (values[k] == 0.0) continue;
        index[kept] = index[k];
        values[kept] = values[k];
        ++kept;
    }
    shrink(v, nnz, kept);
    PG_RETURN_POINTER(v);
}

// sparsevec(indices int4[], vals float8[], dim int4): 1-based indices, as in the text form.
BISMARCK_FUNCTION(bismarck_sparsevec_construct) {
    ArrayType *indices = PG_GETARG_ARRAYTYPE_P(0);
    ArrayType *vals = PG_GETARG_ARRAYTYPE_P(1);
    const int32 dim = PG_GETARG_INT32(2);
    check_element_type(indices, INT4OID);
    check_element_type(vals, FLOAT8OID);
    check_dimension(dim);
    const int n = array_length(indices, "sparsevec indices array must be one-dimensional");
    const int m = array_length(vals, "sparsevec values array must be one-dimensional");
    if (n != m)
        fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
             "sparsevec indices and values arrays must have the same length",
             "indices has " + str(n) + " elements, values has " + str(m) + ".");
    if (int at = first_null(indices, n))
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "sparsevec indices array must not contain NULLs",
             "Element " + str(at) + " of indices is NULL.");
    if (int at = first_null(vals, m))
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "sparsevec values array must not contain NULLs",
             "Element " + str(at) + " of values is NULL.");

    const auto *in_index = reinterpret_cast<const int32 *>(ARR_DATA_PTR(indices));
    const auto *in_values = reinterpret_cast<const double *>(ARR_DATA_PTR(vals));
    ElementChecker checker(dim, false);
    int32 nonzero = 0;
    for (int k = 0; k < n; ++k) {
        checker.index(in_index[k]);
        ElementChecker::value(in_index[k], in_values[k]);
        if (in_values[k] != 0.0) ++nonzero;
    }
    SparseVec *v = allocate(dim, nonzero);
    int32_t *index = sparsevec_index(v);
    double *values = sparsevec_values(v);
    int32 kept = 0;
    for (int k = 0; k < n; ++k) {
        if (in_values[k] == 0.0) continue;
        index[kept] = in_index[k] - 1;
        values[kept] = in_values[k];
        ++kept;
    }
    PG_RETURN_POINTER(v);
}

// float8[] -> sparsevec: position k of the array is index k (whatever the array's lower bound),
// zeros are dropped, the dimension is the array's length.
BISMARCK_FUNCTION(bismarck_array_to_sparsevec) {
    ArrayType *a = PG_GETARG_ARRAYTYPE_P(0);
    check_element_type(a, FLOAT8OID);
    const int n = array_length(a, "array must be one-dimensional to convert to sparsevec");
    if (n < 1 || n > SPARSEVEC_MAX_DIM)
        dimension_error(str(n), "The dimension is the length of the array.");
    if (int at = first_null(a, n))
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED,
             "cannot convert an array containing NULLs to sparsevec",
             "Element " + str(at) + " is NULL.");
    const auto *x = reinterpret_cast<const double *>(ARR_DATA_PTR(a));
    int32 nonzero = 0;
    for (int k = 0; k < n; ++k) {
        ElementChecker::value(k + 1, x[k]);
        if (x[k] != 0.0) ++nonzero;
    }
    SparseVec *v = allocate(n, nonzero);
    int32_t *index = sparsevec_index(v);
    double *values = sparsevec_values(v);
    int32 kept = 0;
    for (int k = 0; k < n; ++k) {
        if (x[k] == 0.0) continue;
        index[kept] = k;
        values[kept] = x[k];
        ++kept;
    }
    PG_RETURN_POINTER(v);
}

// sparsevec -> float8[]: the dense vector (at most 800 MB for the largest dimension).
BISMARCK_FUNCTION(bismarck_sparsevec_to_array) {
    const SparseVec *v = sparsevec_from_datum(PG_GETARG_DATUM(0));
    const size_t size = ARR_OVERHEAD_NONULLS(1) + size_t(v->dim) * sizeof(double);
    void *memory = nullptr;
    pg_call([&] { memory = palloc0(size); });
    auto *a = static_cast<ArrayType *>(memory);
    SET_VARSIZE(a, size);
    a->ndim = 1;
    a->dataoffset = 0;
    a->elemtype = FLOAT8OID;
    ARR_DIMS(a)[0] = v->dim;
    ARR_LBOUND(a)[0] = 1;
    auto *dense = reinterpret_cast<double *>(ARR_DATA_PTR(a));
    const int32_t *index = sparsevec_index(v);
    const double *values = sparsevec_values(v);
    for (int32 k = 0; k < v->nnz; ++k) dense[index[k]] = values[k];
    PG_RETURN_ARRAYTYPE_P(a);
}

BISMARCK_FUNCTION(bismarck_sparsevec_dims) {
    int32 dim = 0, nnz = 0;
    read_header(PG_GETARG_DATUM(0), dim, nnz);
    PG_RETURN_INT32(dim);
}

BISMARCK_FUNCTION(bismarck_sparsevec_nnz) {
    int32 dim = 0, nnz = 0;
    read_header(PG_GETARG_DATUM(0), dim, nnz);
    PG_RETURN_INT32(nnz);
}
