// In-memory storage policy: keeps the last saved state, for simulations and tests.
#pragma once

#include <cstddef>
#include <optional>
#include <utility>

#include "gossipcluster/compact_state.hpp"
#include "gossipcluster/persisted_state.hpp"
#include "gossipcluster/storage/storage_error.hpp"

namespace gossipcluster {

// Copyable on purpose: a simulator keeps a copy across a simulated crash and hands it to the
// restarted node, which then loads exactly what had been saved before the crash.
//
// The state is kept in CompactState form: a simulator holds one store per node, each listing
// every node, and a 2 KB bitmap per listed node made memory grow as N^2 x 2 KB. A ClusterCore
// refills the compact form in place (save_compact) instead of building a PersistedState.
class MemoryStorage {
  public:
    // Tells ClusterCore that save_compact() is available.
    static constexpr bool kSavesCompactState = true;

    MemoryStorage() = default;
    explicit MemoryStorage(std::optional<PersistedState> initial) {
        if (initial) saved_ = CompactState::from(*initial);
    }

    std::optional<PersistedState> load() {
        ++loads_;
        if (!saved_) return std::nullopt;
        return saved_->expand();
    }

    // A failed save leaves the previously saved state untouched, like an atomic file replace.
    void save(const PersistedState& state, bool fsync) {
        check_injected_failure();
        saved_ = CompactState::from(state);
        count_save(fsync);
    }

    // `fill(CompactState&)` overwrites the previous save in place, reusing its buffers.
    template <typename F>
    void save_compact(F&& fill, bool fsync) {
        check_injected_failure();
        if (!saved_) saved_.emplace();
        fill(*saved_);
        count_save(fsync);
    }

    // The next save() throws StorageError instead of saving (once).
    void fail_next_save(bool fail = true) { fail_next_save_ = fail; }

    // The last save, expanded on demand; the reference stays valid until the next save.
    const std::optional<PersistedState>& saved() const {
        if (!expanded_valid_) {
            expanded_ = saved_ ? std::optional<PersistedState>(saved_->expand()) : std::nullopt;
            expanded_valid_ = true;
        }
        return expanded_;
    }
    const std::optional<CompactState>& saved_compact() const { return saved_; }
    // Approximate bytes the kept state occupies (not counting a saved() expansion).
    std::size_t memory_bytes() const {
        std::size_t b = sizeof(*this);
        if (!saved_) return b;
        auto heap = [](const std::string& s) {
            return s.capacity() >= sizeof(std::string) ? s.capacity() + 1 : 0;
        };
        b += saved_->nodes.capacity() * sizeof(CompactRecord);
        for (const auto& r : saved_->nodes)
            b += heap(r.ip) + heap(r.hostname) +
                 (r.migrating.capacity() + r.importing.capacity()) * sizeof(OpenSlot);
        b += saved_->slots.capacity() * sizeof(RecordSlotRange);
        return b;
    }
    std::size_t load_count() const { return loads_; }
    std::size_t save_count() const { return saves_; }    // successful saves
    std::size_t fsync_count() const { return fsyncs_; }  // successful saves with fsync requested
    std::size_t failed_save_count() const { return failed_saves_; }

  private:
    void check_injected_failure() {
        if (fail_next_save_) {
            fail_next_save_ = false;
            ++failed_saves_;
            throw StorageError("memory storage: injected save failure");
        }
    }
    void count_save(bool fsync) {
        expanded_valid_ = false;
        expanded_.reset();
        ++saves_;
        if (fsync) ++fsyncs_;
    }

    std::optional<CompactState> saved_;
    mutable std::optional<PersistedState> expanded_;  // cache of saved(), for readers
    mutable bool expanded_valid_ = false;
    std::size_t loads_ = 0;
    std::size_t saves_ = 0;
    std::size_t fsyncs_ = 0;
    std::size_t failed_saves_ = 0;
    bool fail_next_save_ = false;
};

}  // namespace gossipcluster
