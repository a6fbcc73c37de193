// NodeTable: membership changes leave the derived order stale, one refresh rebuilds the order, the
// index, our own node and the due times together.
#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <utility>

#include "gossipcluster/detail/node_table.hpp"

#include "../common/node_names.hpp"

namespace unit_node_table_test {

using test_names::name;

using gossipcluster::NodeId;
using gossipcluster::detail::Node;
using gossipcluster::detail::NodeTable;

namespace {

Node node(char c) {
    Node n;
    n.id = name(c);
    return n;
}

}  // namespace

TEST_CASE("[node-table] a membership change leaves the order stale until one refresh") {
    NodeTable t;
    t.set_myself(name('b'));
    t.insert(node('c'));
    t.insert(node('b'));
    t.insert(node('a'));
    CHECK_FALSE(t.current());
    // Lookups work while stale (through the map) and do not rebuild anything.
    REQUIRE(t.find(name('a')) != nullptr);
    CHECK(std::as_const(t).myself().id == name('b'));
    CHECK_FALSE(t.current());
    // myself() on a mutable table rebuilds first, as lookup() does.
    CHECK(&t.myself() == t.find(name('b')));
    CHECK(t.current());
    t.insert(node('d'));
    CHECK(t.refresh());
    CHECK_FALSE(t.refresh());  // nothing left to rebuild
    REQUIRE(t.order().size() == 4);
    for (std::size_t k = 0; k < 4; ++k) {
        CHECK(t.order()[k]->order_pos == k);
        CHECK(t.order()[k]->id == name(static_cast<char>('a' + k)));
    }
    CHECK(&t.myself() == t.order()[1]);
    CHECK(t.check().empty());
    const auto version = t.version();
    t.erase(name('a'));
    CHECK(t.version() != version);
    CHECK_FALSE(t.current());
    CHECK(t.lookup(name('a')) == nullptr);  // lookup() rebuilt the order first
    CHECK(t.current());
    CHECK(t.order().size() == 3);
    CHECK(t.check().empty());
}

TEST_CASE("[node-table] insert keeps a node already known under that name") {
    NodeTable t;
    Node first = node('a');
    first.port = 1;
    t.insert(first);
    Node second = node('a');
    second.port = 2;
    t.refresh();
    const auto version = t.version();
    CHECK(t.insert(second).port == 1);
    CHECK(t.size() == 1);
    // Nothing joined: the order stays current and stamps of whole-view walks stay valid.
    CHECK(t.version() == version);
    CHECK(t.current());
}

TEST_CASE("[node-table] a renamed node keeps its place in memory and our own name follows") {
    NodeTable t;
    t.set_myself(name('a'));
    Node& mine = t.insert(node('a'));
    t.insert(node('b'));
    Node& renamed = t.rename(name('a'), name('c'));
    CHECK(&renamed == &mine);
    CHECK(renamed.id == name('c'));
    CHECK_FALSE(t.contains(name('a')));
    CHECK(&t.myself() == &mine);
    t.refresh();
    CHECK(t.order().back() == &mine);
    CHECK(t.check().empty());
}

TEST_CASE("[node-table] a rebuild makes every node due; wake_at and visits lower single entries") {
    NodeTable t;
    for (char c : {'a', 'b', 'c', 'd'})
        t.insert(node(c));
    t.refresh();
    CHECK(t.take_dues_reset());
    CHECK_FALSE(t.take_dues_reset());
    // Every entry is 0 after a rebuild: all due at any time.
    CHECK(t.due_positions(0, false).size() == 4);
    constexpr auto never = std::numeric_limits<std::int64_t>::max();
    for (std::uint32_t k = 0; k < 4; ++k) {
        t.start_visit(k);
        CHECK(t.due_positions(0, false).size() == 3 - k);
    }
    CHECK(t.earliest_due() == never);
    t.lower_due(2, 500);
    t.wake_at(*t.order()[0], 700);
    t.wake_at(*t.order()[2], 900);  // later than its entry: no change
    CHECK(t.earliest_due() == 500);
    const auto& due = t.due_positions(600, false);
    REQUIRE(due.size() == 1);
    CHECK(due[0] == 2);
    CHECK(t.due_positions(700, false).size() == 2);
    CHECK(t.due_positions(0, true).size() == 4);  // a full scan visits everyone
    // A node's wake-up is ignored while the order is stale: the rebuild makes it due anyway.
    t.insert(node('e'));
    t.wake_at(t.at(name('e')), 100);
    t.refresh();
    CHECK(t.take_dues_reset());
    CHECK(t.due_positions(0, false).size() == 5);
}

TEST_CASE("[node-table] visit_in_order gives name order whether the order is current or not") {
    NodeTable t;
    for (char c : {'c', 'a', 'b'})
        t.insert(node(c));
    std::string stale;
    t.visit_in_order([&](const Node& n) { stale += n.id.view().front(); });
    t.refresh();
    std::string current;
    t.visit_in_order([&](const Node& n) { current += n.id.view().front(); });
    CHECK(stale == "abc");
    CHECK(current == "abc");
}

TEST_CASE("[node-table] check finds a cached own node that is not ours") {
    NodeTable t;
    t.insert(node('a'));
    t.set_myself(name('a'));
    t.refresh();
    CHECK(t.check().empty());
    // Nodes are changed through the table's iterators; an id changed behind its back breaks the
    // index, which the check reports.
    t.begin()->second.id = name('f');
    CHECK_FALSE(t.check().empty());
}

}  // namespace unit_node_table_test
