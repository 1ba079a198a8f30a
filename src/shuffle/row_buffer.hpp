// The in-memory row buffer of CorgiPile-style shuffling (Xu et al., SIGMOD 2022), PostgreSQL-free.
//
// A scan that visits blocks of pages in a random order (the block_shuffle TABLESAMPLE method)
// still hands over the rows of a page together, in their stored order. The buffer breaks that up:
// rows are copied into it as they arrive; when it is full (and once more at the end of the scan)
// they are handed to SGD in a uniformly random order (Fisher-Yates with igd::SplitMix64), and the
// buffer empties.
//
// The buffer is a VIEW over one flat, caller-provided region of memory: a header, an array of
// row offsets, then the rows themselves (label, shape, values as double, sparse indices). Nothing
// in the region is a pointer, so it can be copied or shipped as bytes: it can live in a palloc'd
// block keyed from fn_extra, or INSIDE the aggregate's flat varlena state, where it travels with
// a partial state through a parallel combine or a Citus partial aggregate and is flushed by
// whoever finalises. Once the region is formatted nothing is allocated, ever: a row is one
// memcpy into the region.
//
//   std::vector<std::byte> mem(RowBuffer::bytes_for(max_rows, payload_bytes));
//   RowBuffer buf = RowBuffer::create(mem.data(), mem.size(), max_rows, seed);
//   for each row:  buf.add_dense(x, dim, y, step);     // step(row, y) for each row, once full
//   at the end:    buf.flush(step);                    // the last, partial buffer
// where step is a generic callable taking (const igd::DenseRow<double>&, double) and
// (const igd::SparseRow&, double), e.g. [&](const auto &row, double y) { ... }.
//
// Integration into the epoch aggregate (the transition function cannot tell the last row; the
// rows still buffered then must be stepped by whoever sees the state next):
//   - Region inside the state (recommended): begin_epoch allocates the state with
//     RowBuffer::bytes_for(...) more bytes after `prev` and create()s the buffer there, seeded
//     with (state seed, epoch). Transition: checks (NULL, label) first, then add_dense/
//     add_sparse with the existing per-row step as `step`. A FINALFUNC (FINALFUNC_MODIFY =
//     READ_WRITE) flushes and returns the state without the region. The combine function
//     flushes each partial state's pending rows into that state's own model before averaging
//     (shared memory: into the shared model). Partial states (parallel workers, Citus shards)
//     then carry their pending rows to whoever combines them; validate() checks a region that
//     came from outside before it is attached.
//   - Region beside the state (serial only): palloc'd in the aggregate context and found from
//     the state pointer (the transition and final functions have different FmgrInfos, so one
//     function's fn_extra is not visible to the other); a partial aggregate (aggsplit !=
//     AGGSPLIT_SIMPLE) would lose its worker's last rows and must be refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "igd/rows.hpp"
#include "shuffle/permute.hpp"

namespace bismarck::shuffle {

class RowBuffer {
  public:
    // The region's header. Counters are int64 and everything is 8-byte aligned, so the layout is
    // the same in every process of a machine (and the region can sit inside a model state).
    struct Header {
        uint32_t magic;
        uint32_t version;
        uint64_t rng;          // SplitMix64 state: the order of the next flush
        int64_t region_bytes;  // size of the whole region
        int64_t max_rows;      // capacity in rows (length of the offsets array)
        int64_t count;         // rows held now
        int64_t used;          // payload bytes held now
        int64_t rows_out;      // rows handed out since create() (statistics)
        int64_t flushes;       // times the buffer was emptied with rows in it (statistics)
    };
    // One row in the payload, followed by its values (double) and, if sparse, its indices.
    struct Record {
        double label;
        int64_t dim;
        int32_t nnz;  // sparse: number of entries; dense: -1
        int32_t pad;
    };
    static constexpr uint32_t kMagic = 0x46425752;  // "RWBF"
    static constexpr uint32_t kVersion = 1;

    // Payload bytes of one row.
    static constexpr size_t dense_bytes(int64_t dim) {
        return sizeof(Record) + sizeof(double) * size_t(dim);
    }
    static constexpr size_t sparse_bytes(int64_t nnz) {
        return sizeof(Record) + round8((sizeof(double) + sizeof(int32_t)) * size_t(nnz));
    }
    // Size of a region holding up to `max_rows` rows in `payload_bytes` bytes of rows.
    static constexpr size_t bytes_for(int64_t max_rows, size_t payload_bytes) {
        return sizeof(Header) + sizeof(int64_t) * size_t(max_rows) + round8(payload_bytes);
    }

    // Formats `region` (8-byte aligned, `bytes` long) as an empty buffer of `max_rows` rows whose
    // payload is what is left after the header and offsets. Returns an invalid view (valid() is
    // false) if the region is too small or misaligned.
    static RowBuffer create(void *region, size_t bytes, int64_t max_rows, uint64_t seed,
                            uint64_t stream = 0) noexcept {
        if (region == nullptr || reinterpret_cast<uintptr_t>(region) % 8 != 0 || max_rows < 1 ||
            bytes < bytes_for(max_rows, 0))
            return RowBuffer(nullptr);
        auto *h = static_cast<Header *>(region);
        *h = Header{kMagic,
                    kVersion,
                    seeded(seed, stream).state,
                    int64_t(bytes & ~size_t(7)),
                    max_rows,
                    0,
                    0,
                    0,
                    0};
        return RowBuffer(h);
    }

    // A view of a region formatted by create() in this process (or copied from one that
    // validate() accepted). No check: use validate() for anything that came from outside.
    static RowBuffer attach(void *region) noexcept {
        return RowBuffer(static_cast<Header *>(region));
    }

    // Checks a region that arrived from elsewhere (a user-supplied state, a partial state from
    // another node) before it is attached: empty string when well-formed, else what is wrong.
    static std::string validate(const void *region, size_t bytes) {
        if (region == nullptr || reinterpret_cast<uintptr_t>(region) % 8 != 0)
            return "row buffer is misaligned";
        if (bytes < sizeof(Header)) return "row buffer is truncated";
        Header h;
        std::memcpy(&h, region, sizeof h);
        if (h.magic != kMagic || h.version != kVersion) return "not a row buffer";
        if (h.region_bytes < 0 || size_t(h.region_bytes) > bytes || h.region_bytes % 8 != 0)
            return "row buffer's size does not match";
        if (h.max_rows < 1 || h.max_rows > (h.region_bytes - int64_t(sizeof(Header))) / 8)
            return "row buffer has an invalid capacity";
        const int64_t payload = h.region_bytes - int64_t(sizeof(Header)) - 8 * h.max_rows;
        if (h.count < 0 || h.count > h.max_rows || h.used < 0 || h.used > payload ||
            h.used % 8 != 0)
            return "row buffer has invalid counters";
        const auto *base = static_cast<const std::byte *>(region);
        const auto *offsets = reinterpret_cast<const int64_t *>(base + sizeof(Header));
        const std::byte *rows = base + sizeof(Header) + 8 * h.max_rows;
        for (int64_t i = 0; i < h.count; ++i) {
            const int64_t off = offsets[i];
            if (off < 0 || off % 8 != 0 || off + int64_t(sizeof(Record)) > h.used)
                return "row buffer has a row out of bounds";
            Record r;
            std::memcpy(&r, rows + off, sizeof r);
            if (r.dim < 1 || r.nnz < -1 || r.nnz > r.dim) return "row buffer has an invalid row";
            const size_t len = r.nnz < 0 ? dense_bytes(r.dim) : sparse_bytes(r.nnz);
            if (uint64_t(off) + len > uint64_t(h.used)) return "row buffer has a row out of bounds";
            if (r.nnz > 0) {
                const auto *idx = reinterpret_cast<const int32_t *>(rows + off + sizeof(Record) +
                                                                    sizeof(double) * size_t(r.nnz));
                for (int32_t k = 0; k < r.nnz; ++k)
                    if (idx[k] < 0 || idx[k] >= r.dim || (k > 0 && idx[k] <= idx[k - 1]))
                        return "row buffer has a sparse row with invalid indices";
            }
        }
        return {};
    }

    bool valid() const noexcept { return h_ != nullptr; }
    int64_t size() const noexcept { return h_->count; }
    bool empty() const noexcept { return h_->count == 0; }
    int64_t max_rows() const noexcept { return h_->max_rows; }
    size_t payload_capacity() const noexcept { return size_t(payload_end() - payload()); }
    const Header &header() const noexcept { return *h_; }

    // Would a row of this many payload bytes fit now / ever (in an empty buffer)?
    bool fits(size_t row_bytes) const noexcept {
        return h_->count < h_->max_rows && size_t(h_->used) + row_bytes <= payload_capacity();
    }
    bool fits_empty(size_t row_bytes) const noexcept { return row_bytes <= payload_capacity(); }

    // Reserves room for a dense row and returns where its `dim` values go (the caller writes
    // them: a copy, a conversion from float4, or standardised values), or nullptr if the buffer
    // has no room for it now (flush first).
    double *reserve_dense(int64_t dim, double label) noexcept {
        const size_t len = dense_bytes(dim);
        if (dim < 1 || !fits(len)) return nullptr;
        Record *r = append(len, label, dim, -1);
        return reinterpret_cast<double *>(r + 1);
    }
    // Reserves room for a sparse row: its values, then its (0-based, increasing) indices.
    bool reserve_sparse(int32_t nnz, int64_t dim, double label, double **values,
                        int32_t **indices) noexcept {
        const size_t len = sparse_bytes(nnz);
        if (nnz < 0 || dim < 1 || nnz > dim || !fits(len)) return false;
        Record *r = append(len, label, dim, nnz);
        *values = reinterpret_cast<double *>(r + 1);
        *indices = reinterpret_cast<int32_t *>(*values + nnz);
        return true;
    }

    // Copies a row in; false if there is no room now (flush, then push again).
    template <class T>
    bool push_dense(const T *x, int64_t dim, double label) noexcept {
        double *out = reserve_dense(dim, label);
        if (out == nullptr) return false;
        for (int64_t j = 0; j < dim; ++j) out[j] = double(x[j]);
        return true;
    }
    bool push_sparse(const int32_t *index, const double *value, int32_t nnz, int64_t dim,
                     double label) noexcept {
        double *v;
        int32_t *idx;
        if (!reserve_sparse(nnz, dim, label, &v, &idx)) return false;
        if (nnz > 0) {  // an empty row may come with null arrays (memcpy's are non-null)
            std::memcpy(v, value, sizeof(double) * size_t(nnz));
            std::memcpy(idx, index, sizeof(int32_t) * size_t(nnz));
        }
        return true;
    }

    // What a transition function calls for each row: buffer it, and when the buffer is full
    // hand every buffered row to `step` in random order. A row too large for even an empty
    // buffer goes to `step` directly (after the rows before it), so nothing is ever dropped.
    template <class T, class F>
    void add_dense(const T *x, int64_t dim, double label, F &&step) {
        if (!push_dense(x, dim, label)) {
            flush(step);
            if (!push_dense(x, dim, label)) {
                step(igd::DenseRow<T>{x, dim}, label);
                ++h_->rows_out;
                return;
            }
        }
        if (h_->count == h_->max_rows) flush(step);
    }
    template <class F>
    void add_sparse(const int32_t *index, const double *value, int32_t nnz, int64_t dim,
                    double label, F &&step) {
        if (!push_sparse(index, value, nnz, dim, label)) {
            flush(step);
            if (!push_sparse(index, value, nnz, dim, label)) {
                step(igd::SparseRow{index, value, nnz, dim}, label);
                ++h_->rows_out;
                return;
            }
        }
        if (h_->count == h_->max_rows) flush(step);
    }

    // Hands every buffered row to step(row, label) exactly once, in a uniformly random order
    // (an inside-out Fisher-Yates over the offsets, drawn as it goes), then empties the buffer.
    // The buffer is empty on return even if `step` throws (the remaining rows are dropped, as
    // the scan they came from is being abandoned). `step` must not push into this buffer.
    template <class F>
    void flush(F &&step) {
        const int64_t n = h_->count;
        if (n == 0) return;
        h_->count = 0;
        h_->used = 0;
        ++h_->flushes;
        int64_t *off = offsets();
        const std::byte *rows = payload();
        igd::SplitMix64 rng(h_->rng);
        for (int64_t i = 0; i < n; ++i) {
            const int64_t j = i + int64_t(uniform_below(rng, uint64_t(n - i)));
            std::swap(off[i], off[j]);
            h_->rng = rng.state;  // a throwing step leaves the generator where it is
            const auto *r = reinterpret_cast<const Record *>(rows + off[i]);
            const auto *v = reinterpret_cast<const double *>(r + 1);
            ++h_->rows_out;
            if (r->nnz < 0) {
                step(igd::DenseRow<double>{v, r->dim}, r->label);
            } else {
                const auto *idx = reinterpret_cast<const int32_t *>(v + r->nnz);
                step(igd::SparseRow{idx, v, r->nnz, r->dim}, r->label);
            }
        }
        h_->rng = rng.state;
    }

    // Empties the buffer without handing anything out (a rescan starting over).
    void clear() noexcept { h_->count = h_->used = 0; }

  private:
    explicit RowBuffer(Header *h) noexcept : h_(h) {}
    static constexpr size_t round8(size_t n) { return (n + 7) & ~size_t(7); }

    int64_t *offsets() const noexcept { return reinterpret_cast<int64_t *>(h_ + 1); }
    std::byte *payload() const noexcept {
        return reinterpret_cast<std::byte *>(offsets() + h_->max_rows);
    }
    std::byte *payload_end() const noexcept {
        return reinterpret_cast<std::byte *>(h_) + h_->region_bytes;
    }
    Record *append(size_t len, double label, int64_t dim, int32_t nnz) noexcept {
        auto *r = reinterpret_cast<Record *>(payload() + h_->used);
        *r = Record{label, dim, nnz, 0};
        offsets()[h_->count++] = h_->used;
        h_->used += int64_t(len);
        return r;
    }

    Header *h_;
};

}  // namespace bismarck::shuffle
