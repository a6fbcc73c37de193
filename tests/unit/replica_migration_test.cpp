// Replica migration's survey: which orphan, whether our master may give a replica, and who moves.
#include <catch2/catch.hpp>

#include <string>

#include "gossipcluster/detail/node_table.hpp"
#include "gossipcluster/detail/replica_migration.hpp"

#include "../common/node_names.hpp"

namespace unit_replica_migration_test {

using test_names::name;

using gossipcluster::NodeId;
using gossipcluster::detail::MigrationSurvey;
using gossipcluster::detail::Node;
using gossipcluster::detail::NodeTable;
namespace node_flag = gossipcluster::node_flag;

namespace {

// A view built by name: masters with a slot count, replicas naming their master.
class View {
  public:
    Node& master(char c, std::size_t slots, bool migrate_target = true) {
        Node n;
        n.id = name(c);
        n.flags = node_flag::kMaster;
        if (migrate_target) n.flags |= node_flag::kMigrateTo;
        n.slot_count = slots;
        return table_.insert(std::move(n));
    }
    Node& replica(char c, char of) {
        Node n;
        n.id = name(c);
        n.flags = node_flag::kSlave;
        n.master = name(of);
        return table_.insert(std::move(n));
    }
    MigrationSurvey survey(char my_master, std::size_t barrier = 1) {
        table_.refresh();
        return gossipcluster::detail::survey_replica_migration(table_.order(), table_.index(),
                                                               name(my_master), barrier);
    }
    Node& at(char c) { return table_.at(name(c)); }

  private:
    NodeTable table_;
};

}  // namespace

TEST_CASE("[replica-migration] an orphan gets a replica from the best-served master") {
    View v;
    v.master('a', 100);
    v.master('b', 100);
    v.replica('c', 'a');
    v.replica('d', 'a');
    const MigrationSurvey s = v.survey('a');
    REQUIRE(s.orphan != nullptr);
    CHECK(s.orphan->id == name('b'));
    REQUIRE(s.first_candidate);
    CHECK(*s.first_candidate == name('c'));
    CHECK(v.at('a').ok_replicas == 2);
    CHECK(v.at('b').ok_replicas == 0);
}

TEST_CASE("[replica-migration] no move without an orphan that may take one") {
    // Master 'a' with two working replicas, one of them ours, and a second master 'b' that each
    // section makes unfit to be an orphan in another way.
    View v;
    v.master('a', 100);
    v.replica('c', 'a');
    v.replica('d', 'a');
    SECTION("every master has a replica") {
        v.master('b', 100);
        v.replica('e', 'b');
    }
    SECTION("a master without slots is no orphan") {
        v.master('b', 0);
    }
    SECTION("a master that never had replicas is not a migration target") {
        v.master('b', 100, false);
    }
    SECTION("a failed orphan is left alone") {
        v.master('b', 100).flags |= node_flag::kFail;
    }
    CHECK(v.survey('a').orphan == nullptr);
}

TEST_CASE("[replica-migration] our master must be best served and keep more than the barrier") {
    View v;
    v.master('a', 100);
    v.master('b', 100);
    v.master('o', 100);  // the orphan
    v.replica('c', 'a');
    v.replica('d', 'a');
    v.replica('e', 'a');
    v.replica('f', 'b');
    v.replica('g', 'b');
    // Our master 'b' has two, 'a' has three: only a's replicas may move.
    CHECK(v.survey('b').orphan == nullptr);
    const MigrationSurvey s = v.survey('a');
    REQUIRE(s.orphan != nullptr);
    CHECK(s.orphan->id == name('o'));
    CHECK(*s.first_candidate == name('c'));
    // With a barrier of three, 'a' would keep too few.
    CHECK(v.survey('a', 3).orphan == nullptr);
    CHECK(v.survey('a', 2).orphan != nullptr);
}

TEST_CASE("[replica-migration] suspected replicas do not count, and a lone replica never moves") {
    View v;
    v.master('a', 100);
    v.master('o', 100);
    v.replica('c', 'a');
    v.replica('d', 'a').flags |= node_flag::kPfail;
    // 'a' keeps one working replica: fewer than two, so nobody moves.
    CHECK(v.survey('a', 0).orphan == nullptr);
    CHECK(v.at('a').ok_replicas == 1);
    v.at('d').flags &= static_cast<std::uint16_t>(~node_flag::kPfail);
    const MigrationSurvey s = v.survey('a', 0);
    REQUIRE(s.orphan != nullptr);
    CHECK(*s.first_candidate == name('c'));
}

TEST_CASE("[replica-migration] with two best-served masters, the smallest name of either moves") {
    View v;
    v.master('a', 100);
    v.master('b', 100);
    v.master('o', 100);
    v.replica('e', 'a');
    v.replica('f', 'a');
    v.replica('c', 'b');
    v.replica('d', 'b');
    const MigrationSurvey from_a = v.survey('a');
    REQUIRE(from_a.orphan != nullptr);
    CHECK(*from_a.first_candidate == name('c'));  // a replica of 'b', smaller than e and f
    CHECK(*v.survey('b').first_candidate == name('c'));
}

}  // namespace unit_replica_migration_test
