// In-memory storage policy: keeps the last saved state, for simulations and tests.
#pragma once

#include <cstddef>
#include <optional>
#include <utility>

#include "gossipcluster/persisted_state.hpp"
#include "gossipcluster/storage/storage_error.hpp"

namespace gossipcluster {

// Copyable on purpose: a simulator keeps a copy across a simulated crash and hands it to the
// restarted node, which then loads exactly what had been saved before the crash.
class MemoryStorage {
  public:
    MemoryStorage() = default;
    explicit MemoryStorage(std::optional<PersistedState> initial) : saved_(std::move(initial)) {}

    std::optional<PersistedState> load() {
        ++loads_;
        return saved_;
    }

    // A failed save leaves the previously saved state untouched, like an atomic file replace.
    void save(const PersistedState& state, bool fsync) {
        if (fail_next_save_) {
            fail_next_save_ = false;
            ++failed_saves_;
            throw StorageError("memory storage: injected save failure");
        }
        saved_ = state;
        ++saves_;
        if (fsync) ++fsyncs_;
    }

    // The next save() throws StorageError instead of saving (once).
    void fail_next_save(bool fail = true) { fail_next_save_ = fail; }

    const std::optional<PersistedState>& saved() const { return saved_; }
    std::size_t load_count() const { return loads_; }
    std::size_t save_count() const { return saves_; }    // successful saves
    std::size_t fsync_count() const { return fsyncs_; }  // successful saves with fsync requested
    std::size_t failed_save_count() const { return failed_saves_; }

  private:
    std::optional<PersistedState> saved_;
    std::size_t loads_ = 0;
    std::size_t saves_ = 0;
    std::size_t fsyncs_ = 0;
    std::size_t failed_saves_ = 0;
    bool fail_next_save_ = false;
};

}  // namespace gossipcluster
