// Keyspace: string keys and values with optional expiry times, expired lazily and periodically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace kvserver {

// Times are unix milliseconds, passed in by the caller: the keyspace never reads a clock, so
// tests can move time as they like.
class Keyspace {
  public:
    static constexpr std::int64_t kNoExpiry = 0;

    struct Stats {
        std::uint64_t expired_keys = 0;
        std::uint64_t hits = 0;
        std::uint64_t misses = 0;
    };

    // The live value of `key`, or nullptr. An expired key is deleted here (lazy expiry).
    const std::string* get(std::string_view key, std::int64_t now_ms) {
        Entry* e = find_live(key, now_ms);
        ++(e ? stats_.hits : stats_.misses);
        return e ? &e->value : nullptr;
    }

    // As get(), for a command's own use: not counted as a hit or miss.
    const std::string* peek(std::string_view key, std::int64_t now_ms) {
        Entry* e = find_live(key, now_ms);
        return e ? &e->value : nullptr;
    }

    bool exists(std::string_view key, std::int64_t now_ms) {
        return find_live(key, now_ms) != nullptr;
    }

    // Expiry time of a live key (kNoExpiry for none), or -1 when there is no such key.
    std::int64_t expiry(std::string_view key, std::int64_t now_ms) {
        Entry* e = find_live(key, now_ms);
        return e ? e->expire_at : -1;
    }

    // Stores `value`; expire_at is a unix time in ms or kNoExpiry.
    void set(std::string_view key, std::string value, std::int64_t expire_at) {
        auto it = entries_.find(key);
        if (it == entries_.end()) {
            it = entries_.emplace(std::string(key), Entry{}).first;
        } else {
            unschedule(it);
        }
        it->second.value = std::move(value);
        it->second.expire_at = expire_at;
        schedule(it);
    }

    bool erase(std::string_view key, std::int64_t now_ms) {
        auto it = entries_.find(key);
        if (it == entries_.end()) return false;
        const bool live = !expired(it->second, now_ms);
        if (!live) ++stats_.expired_keys;
        remove(it);
        return live;
    }

    // Deletes up to `budget` keys whose time has come, soonest first; returns how many. Called
    // from a timer so that keys nobody reads again do not stay in memory.
    std::size_t expire_some(std::int64_t now_ms, std::size_t budget) {
        std::size_t removed = 0;
        while (removed < budget && !deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
            auto it = entries_.find(deadlines_.begin()->second);
            remove(it);
            ++stats_.expired_keys;
            ++removed;
        }
        return removed;
    }

    // Calls f(key, value, expire_at) for every live key (full resynchronisation of a replica).
    template <typename F>
    void for_each_live(std::int64_t now_ms, F&& f) const {
        for (const auto& [key, e] : entries_)
            if (!expired(e, now_ms)) f(std::string_view(key), e.value, e.expire_at);
    }

    // Drops every key (a replica before it loads its master's copy).
    void clear() {
        entries_.clear();
        deadlines_.clear();
    }

    // Keys stored, including expired ones the timer has not reached yet (as DBSIZE counts).
    std::size_t size() const { return entries_.size(); }
    std::size_t expires_count() const { return deadlines_.size(); }
    const Stats& stats() const { return stats_; }

  private:
    struct Entry {
        std::string value;
        std::int64_t expire_at = kNoExpiry;
    };

    // Heterogeneous lookup, so finding a key does not copy it into a std::string.
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    using Map = std::unordered_map<std::string, Entry, Hash, std::equal_to<>>;

    static bool expired(const Entry& e, std::int64_t now_ms) {
        return e.expire_at != kNoExpiry && e.expire_at <= now_ms;
    }

    Entry* find_live(std::string_view key, std::int64_t now_ms) {
        auto it = entries_.find(key);
        if (it == entries_.end()) return nullptr;
        if (expired(it->second, now_ms)) {
            remove(it);
            ++stats_.expired_keys;
            return nullptr;
        }
        return &it->second;
    }

    // The deadline index refers to the map's own key strings, which stay put while the entry
    // exists (unordered_map nodes do not move on rehash).
    void schedule(Map::iterator it) {
        if (it->second.expire_at != kNoExpiry)
            deadlines_.emplace(it->second.expire_at, std::string_view(it->first));
    }
    void unschedule(Map::iterator it) {
        if (it->second.expire_at != kNoExpiry)
            deadlines_.erase({it->second.expire_at, std::string_view(it->first)});
    }
    void remove(Map::iterator it) {
        unschedule(it);
        entries_.erase(it);
    }

    Map entries_;
    std::set<std::pair<std::int64_t, std::string_view>> deadlines_;
    Stats stats_;
};

}  // namespace kvserver
