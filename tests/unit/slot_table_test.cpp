// SlotTable: owners and per-node counts kept together, runs and claims cached per version,
// disowned slots and the table's own consistency check.
#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "../common/slot_ranges.hpp"
#include "gossipcluster/detail/slot_table.hpp"

namespace unit_slot_table_test {

using gossipcluster::kSlotCount;
using gossipcluster::NodeId;
using gossipcluster::SlotBitmap;
using gossipcluster::detail::Node;
using gossipcluster::detail::SlotTable;

namespace {

// Nodes live in a map, as in ClusterState's view: the table points at them.
struct View {
    std::map<NodeId, Node> nodes;

    Node& add(char c) {
        const NodeId id = *NodeId::parse(std::string(40, c));
        Node& n = nodes[id];
        n.id = id;
        return n;
    }
};

using test_support::slot_ranges;

// Gives slots first..last to `node`, one assign() at a time.
void assign_range(SlotTable& t, std::size_t first, std::size_t last, Node& node) {
    for (std::size_t s = first; s <= last; ++s)
        t.assign(s, node);
}

}  // namespace

TEST_CASE("[slot-table] assigning and unassigning keeps owners, counts and unassigned in step") {
    View v;
    Node& a = v.add('a');
    Node& b = v.add('b');
    SlotTable t;
    CHECK(t.unassigned() == kSlotCount);
    assign_range(t, 0, 99, a);
    CHECK(a.slot_count == 100);
    CHECK(t.unassigned() == kSlotCount - 100);
    // Moving a slot between owners changes both counts, not the unassigned one.
    t.assign(7, b);
    CHECK(a.slot_count == 99);
    CHECK(b.slot_count == 1);
    CHECK(t.owner(7) == &b);
    CHECK(t.unassigned() == kSlotCount - 100);
    // Assigning to the same owner again changes nothing, not even the version.
    const auto version = t.version();
    t.assign(7, b);
    CHECK(t.version() == version);
    t.unassign(7);
    CHECK(b.slot_count == 0);
    CHECK(t.owner(7) == nullptr);
    CHECK(t.unassigned() == kSlotCount - 99);
    CHECK(t.version() != version);
    // Out of range reads as unowned.
    CHECK(t.owner(kSlotCount) == nullptr);
    CHECK(t.check(v.nodes).empty());
}

TEST_CASE("[slot-table] release and transfer move every slot of one node") {
    View v;
    Node& a = v.add('a');
    Node& b = v.add('b');
    SlotTable t;
    for (std::size_t s : {1u, 5u, 16383u})
        t.assign(s, a);
    t.assign(2, b);
    t.transfer(a, b);
    CHECK(a.slot_count == 0);
    CHECK(b.slot_count == 4);
    CHECK(t.slots_of(b) == slot_ranges({{1, 2}, {5, 5}, {16383, 16383}}));
    t.release(b);
    CHECK(b.slot_count == 0);
    CHECK(t.unassigned() == kSlotCount);
    CHECK(t.check(v.nodes).empty());
}

TEST_CASE("[slot-table] runs are ordered by owner name, then slot, and follow every change") {
    View v;
    Node& b = v.add('b');
    Node& a = v.add('a');
    SlotTable t;
    assign_range(t, 0, 9, b);
    assign_range(t, 10, 19, a);
    t.assign(30, b);
    const auto& runs = t.runs();
    REQUIRE(runs.size() == 3);
    CHECK((runs[0].owner == &a && runs[0].first == 10 && runs[0].last == 19));
    CHECK((runs[1].owner == &b && runs[1].first == 0 && runs[1].last == 9));
    CHECK((runs[2].owner == &b && runs[2].first == 30 && runs[2].last == 30));
    t.unassign(30);
    REQUIRE(t.runs().size() == 2);
    // A rename reorders runs without any change of owner: names_changed() makes them rebuild.
    const NodeId renamed = *NodeId::parse(std::string(40, 'c'));
    a.id = renamed;
    t.names_changed();
    REQUIRE(t.runs().size() == 2);
    CHECK(t.runs()[0].owner == &b);
    CHECK(t.runs()[1].owner == &a);
}

TEST_CASE("[slot-table] the cached claim follows the table and the owner asked for") {
    View v;
    Node& a = v.add('a');
    Node& b = v.add('b');
    SlotTable t;
    t.assign(3, a);
    CHECK(t.claim_of(a) == slot_ranges({{3, 3}}));
    t.assign(4, a);
    CHECK(t.claim_of(a) == slot_ranges({{3, 4}}));
    t.assign(9, b);
    CHECK(t.claim_of(b) == slot_ranges({{9, 9}}));
    CHECK(t.claim_of(a) == slot_ranges({{3, 4}}));
}

TEST_CASE(
    "[slot-table] a claim matches only the exact set, and a remembered match lasts one version") {
    View v;
    Node& a = v.add('a');
    Node& b = v.add('b');
    SlotTable t;
    assign_range(t, 100, 200, a);
    const SlotBitmap exact = slot_ranges({{100, 200}});
    CHECK(t.owns_exactly(a, exact));
    CHECK_FALSE(t.owns_exactly(a, slot_ranges({{100, 199}})));  // fewer
    CHECK_FALSE(t.owns_exactly(a, slot_ranges({{100, 201}})));  // one more
    CHECK_FALSE(t.owns_exactly(b, exact));                      // someone else's
    CHECK(t.owns_exactly(b, SlotBitmap{}));                     // b owns nothing and claims nothing
    const auto hash = SlotTable::claim_hash(exact);
    CHECK(hash != SlotTable::claim_hash(slot_ranges({{100, 199}})));
    CHECK_FALSE(t.remembered_match(a, hash));
    t.remember_match(a, hash);
    CHECK(t.remembered_match(a, hash));
    CHECK_FALSE(t.remembered_match(a, SlotTable::claim_hash(slot_ranges({{100, 199}}))));
    // Any change of the table forgets it: the claim must be compared again.
    t.assign(5000, b);
    CHECK_FALSE(t.remembered_match(a, hash));
}

TEST_CASE("[slot-table] an owner's claim marks what it left out as disowned until reassigned") {
    View v;
    Node& a = v.add('a');
    Node& b = v.add('b');
    SlotTable t;
    assign_range(t, 0, 9, a);
    const auto version = t.version();
    t.note_claim_of_owner(a, slot_ranges({{0, 7}}));
    CHECK(t.any_disowned());
    CHECK(t.disowned(8));
    CHECK(t.disowned(9));
    CHECK_FALSE(t.disowned(7));
    // Remembered matches are dropped: the version moved.
    CHECK(t.version() != version);
    CHECK(t.still_claims_some(a));
    // What an UPDATE about `a` says leaves the disowned slots out.
    CHECK(t.claimed_slots_of(a) == slot_ranges({{0, 7}}));
    // The same claim again is nothing new.
    const auto after = t.version();
    t.note_claim_of_owner(a, slot_ranges({{0, 7}}));
    CHECK(t.version() == after);
    // Claiming a slot again takes it back from the disowned set.
    t.note_claim_of_owner(a, slot_ranges({{0, 8}}));
    CHECK_FALSE(t.disowned(8));
    CHECK(t.disowned(9));
    // A new owner clears the mark.
    t.assign(9, b);
    CHECK_FALSE(t.disowned(9));
    CHECK_FALSE(t.any_disowned());
    // An owner that stopped claiming everything no longer claims some.
    t.note_claim_of_owner(a, SlotBitmap{});
    CHECK_FALSE(t.still_claims_some(a));
    CHECK(a.slot_count == 9);
}

TEST_CASE("[slot-table] clear forgets owners, imports and migrations") {
    View v;
    Node& a = v.add('a');
    SlotTable t;
    t.assign(1, a);
    t.importing()[2] = a.id;
    t.migrating()[1] = a.id;
    t.clear();
    CHECK(a.slot_count == 0);
    CHECK(t.unassigned() == kSlotCount);
    CHECK(t.importing().empty());
    CHECK(t.migrating().empty());
}

TEST_CASE("[slot-table] check finds counts that drifted from the table") {
    View v;
    Node& a = v.add('a');
    SlotTable t;
    t.assign(1, a);
    CHECK(t.check(v.nodes).empty());
    // A count changed behind the table's back is reported (after any change of version: the
    // check is skipped while nothing changed).
    a.slot_count = 5;
    t.assign(2, a);
    CHECK(t.check(v.nodes) ==
          "node aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa owns 2 slots but counts 6");
    a.slot_count = 2;
    t.names_changed();
    CHECK(t.check(v.nodes).empty());
    // An owner missing from the view.
    View other;
    t.names_changed();
    CHECK(t.check(other.nodes) == "a slot is owned by a node outside the view");
}

}  // namespace unit_slot_table_test
