// FailureReports: which masters reported a node as failing and when, with the one validity rule.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gossipcluster/types.hpp"

namespace gossipcluster::detail {

struct FailureReport {
    NodeId reporter;
    std::int64_t time = 0;  // monotonic ms of the last report
};

// A node's failure reports. One report per reporter: a repeated report refreshes its time. A
// report counts while it is younger than `validity` and its reporter is still a voter (a master
// serving slots): a reporter that lost its slots, turned replica or left no longer counts. Both
// the expiry and the read-only count apply that rule through valid(), so they cannot disagree.
class FailureReports {
  public:
    // A new report, or a newer time for the reporter's earlier one.
    void add(const NodeId& reporter, std::int64_t t) {
        for (FailureReport& r : reports_) {
            if (r.reporter == reporter) {
                r.time = t;
                return;
            }
        }
        reports_.push_back({reporter, t});
    }

    // Returns whether the reporter had a report.
    bool remove(const NodeId& reporter) {
        return std::erase_if(reports_,
                             [&](const FailureReport& r) { return r.reporter == reporter; }) != 0;
    }

    // `is_voter(id)`: whether the node named `id` is still a master serving slots.
    template <typename IsVoter>
    static bool valid(const FailureReport& r, std::int64_t now, std::int64_t validity,
                      IsVoter&& is_voter) {
        return now - r.time <= validity && is_voter(r.reporter);
    }

    // Drops every report that no longer counts.
    template <typename IsVoter>
    void expire(std::int64_t now, std::int64_t validity, IsVoter&& is_voter) {
        std::erase_if(reports_,
                      [&](const FailureReport& r) { return !valid(r, now, validity, is_voter); });
    }

    // The reports that count at `now`, without dropping the others (for observers).
    template <typename IsVoter>
    std::size_t count_valid(std::int64_t now, std::int64_t validity, IsVoter&& is_voter) const {
        std::size_t n = 0;
        for (const FailureReport& r : reports_)
            if (valid(r, now, validity, is_voter)) ++n;
        return n;
    }

    std::size_t size() const { return reports_.size(); }
    bool empty() const { return reports_.empty(); }
    std::size_t capacity() const { return reports_.capacity(); }
    void clear() { reports_.clear(); }
    auto begin() const { return reports_.begin(); }
    auto end() const { return reports_.end(); }

  private:
    std::vector<FailureReport> reports_;
};

}  // namespace gossipcluster::detail
