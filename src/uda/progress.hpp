// bismarck.progress: every training running now, seen from any session while the training's
// transaction is still open (a table row would be invisible until commit), in the spirit of
// pg_stat_progress_*.
//
// The training driver publishes its state (model, phase, epoch, loss...) in a slot of a dynamic
// shared memory segment; the epoch aggregate counts the rows it has stepped over, in the leader
// and in PostgreSQL's parallel workers alike, with add_rows(). The view reads every slot.
//
// Nothing here needs shared_preload_libraries: the first backend that trains creates the segment,
// pins it so that it outlives every backend, and publishes its handle in pg_stat_tmp (see
// progress.cpp). Progress is best effort: if the segment cannot be created or attached, the
// training runs as usual and is not shown; no function here ever raises an error.
#pragma once

#include <cstdint>
#include <string>

namespace bismarck::uda::progress {

// The training starts: claims this backend's slot (one per backend, so it is never full). Call it
// before the first phase. `workers` < 0: not known yet (see set_workers). Releases whatever an
// earlier training of this backend still held. A transaction end, an error, a cancel or the
// backend's exit releases the slot too, even if end() is never reached.
void begin(const std::string &model, const std::string &task, const std::string &parallelism,
           int workers, int epochs);

// The number of parallel workers planned, once the driver has resolved it.
void set_workers(int workers);

// The task and the number of epochs, once the driver has resolved them from the data.
void set_plan(const std::string &task, int epochs);

// A phase of the run other than the epochs ('statistics', 'shuffle', 'step size', 'final loss',
// 'saving'): its name, and the rows its scan goes through when the aggregate counts them (0: not
// counted). Resets the row counter.
void phase(const char *name, int64_t rows_total = 0);

// Epoch `epoch` (1-based) starts, over `rows_total` rows; `last_loss` is the objective after the
// previous epoch (NaN for the first). The first call enters the phase 'epochs'.
void epoch(int epoch, int64_t rows_total, double last_loss);

// The training has ended normally: releases the slot.
void end();

// Rows are counted in a per-process variable and added to the shared slot (one relaxed atomic
// add) every kFlushRows rows, so a row costs an increment and a compare.
inline constexpr int64_t kFlushRows = 1024;

namespace detail {
// Rows of this process not yet added to the slot. Hidden: addressed directly, not through the GOT.
[[gnu::visibility("hidden")]] inline int64_t pending = 0;
// Adds `pending` to the slot of this process's training, if any.
[[gnu::visibility("hidden"), gnu::cold]] void flush() noexcept;
}  // namespace detail

// `n` more rows stepped over by this process's aggregate. Any process: the training backend or
// one of its parallel workers (which finds its leader's slot once). Costs nearly nothing.
inline void add_rows(int64_t n) {
#ifndef BISMARCK_PROGRESS_NO_ROWS  // defined only to measure what add_rows costs
    detail::pending += n;
    if (detail::pending >= kFlushRows) [[unlikely]]
        detail::flush();
#endif
}

}  // namespace bismarck::uda::progress
