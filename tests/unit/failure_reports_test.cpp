// FailureReports and the FAIL quorum: one report per reporter, one validity rule, majorities.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "gossipcluster/detail/failure_reports.hpp"
#include "gossipcluster/detail/quorum.hpp"

#include "../common/node_names.hpp"

namespace unit_failure_reports_test {

using test_names::name;

using gossipcluster::NodeId;
using gossipcluster::detail::FailureReports;
using gossipcluster::detail::majority;
using gossipcluster::detail::reaches_fail_quorum;

namespace {

// Reporters that are masters serving slots, as the core's view would say.
struct Voters {
    std::set<NodeId> ids;
    bool operator()(const NodeId& id) const { return ids.count(id) != 0; }
};

}  // namespace

TEST_CASE("[failure-reports] a repeated report refreshes its time instead of counting twice") {
    FailureReports reports;
    reports.add(name('a'), 100);
    reports.add(name('b'), 150);
    reports.add(name('a'), 900);
    REQUIRE(reports.size() == 2);
    const Voters voters{{name('a'), name('b')}};
    // validity 500 at t = 1000: b's report (150) is too old, a's refreshed one (900) counts.
    CHECK(reports.count_valid(1000, 500, voters) == 1);
}

TEST_CASE("[failure-reports] a report counts while young enough and from a voter") {
    FailureReports reports;
    reports.add(name('a'), 1000);
    reports.add(name('b'), 1000);
    reports.add(name('c'), 1000);
    Voters voters{{name('a'), name('b'), name('c')}};
    CHECK(reports.count_valid(1000, 500, voters) == 3);
    CHECK(reports.count_valid(1500, 500, voters) == 3);  // exactly `validity` old still counts
    CHECK(reports.count_valid(1501, 500, voters) == 0);
    // A reporter that lost its slots or left no longer counts.
    voters.ids.erase(name('b'));
    CHECK(reports.count_valid(1200, 500, voters) == 2);
}

TEST_CASE("[failure-reports] expiry drops exactly what the count leaves out") {
    FailureReports reports;
    reports.add(name('a'), 100);
    reports.add(name('b'), 600);
    reports.add(name('c'), 700);
    const Voters voters{{name('a'), name('b')}};  // c is not a voter
    const std::size_t counted = reports.count_valid(800, 500, voters);
    reports.expire(800, 500, voters);
    CHECK(reports.size() == counted);
    REQUIRE(reports.size() == 1);
    CHECK(reports.begin()->reporter == name('b'));
}

TEST_CASE("[failure-reports] remove says whether the reporter had a report") {
    FailureReports reports;
    reports.add(name('a'), 1);
    CHECK(reports.remove(name('a')));
    CHECK_FALSE(reports.remove(name('a')));
    CHECK(reports.empty());
}

TEST_CASE("[quorum] a majority is more than half of the voters") {
    CHECK(majority(0) == 1);
    CHECK(majority(1) == 1);
    CHECK(majority(2) == 2);
    CHECK(majority(3) == 2);
    CHECK(majority(4) == 3);
    CHECK(majority(100) == 51);
    CHECK(majority(101) == 51);
}

TEST_CASE("[quorum] our own suspicion counts only when we are a voter") {
    // 5 voting masters: FAIL needs 3.
    CHECK_FALSE(reaches_fail_quorum(2, false, 5));
    CHECK(reaches_fail_quorum(2, true, 5));
    CHECK(reaches_fail_quorum(3, false, 5));
    // A replica alone never reaches it in a cluster with voters.
    CHECK_FALSE(reaches_fail_quorum(0, false, 1));
    CHECK(reaches_fail_quorum(0, true, 1));
}

}  // namespace unit_failure_reports_test
