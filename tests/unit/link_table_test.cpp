// LinkTable against std::map under random inserts and erases; stable references; bad ids.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gossipcluster/detail/link_table.hpp"
#include "gossipcluster/detail/prng.hpp"

namespace unit_link_table_test {

using gossipcluster::LinkId;
using gossipcluster::detail::LinkTable;
using gossipcluster::detail::Prng;

namespace {

struct Info {
    std::uint64_t value = 0;
    std::string text;
};

void expect_same(const LinkTable<Info>& table,
                 const std::map<std::uint64_t, std::uint64_t>& model) {
    REQUIRE(table.size() == model.size());
    std::map<std::uint64_t, std::uint64_t> seen;
    table.for_each([&](LinkId id, const Info& info) { seen[id.value] = info.value; });
    REQUIRE(seen == model);
    for (const auto& [id, value] : model) {
        const Info* info = table.find(LinkId{id});
        REQUIRE(info != nullptr);
        REQUIRE(info->value == value);
    }
}

}  // namespace

TEST_CASE("LinkTable agrees with std::map under random inserts and erases", "[link_table]") {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        Prng prng(seed);
        LinkTable<Info> table;
        std::map<std::uint64_t, std::uint64_t> model;
        // Few distinct ids (some inbound) so that probe runs collide, wrap and shift back.
        for (int step = 0; step < 3000; ++step) {
            std::uint64_t id = 1 + prng.below(200);
            if (prng.below(4) == 0) id = LinkId::inbound(id).value;
            if (prng.below(3) == 0) {
                REQUIRE(table.erase(LinkId{id}) == (model.erase(id) == 1));
            } else {
                const std::uint64_t value = prng.next();
                table[LinkId{id}].value = value;
                model[id] = value;
            }
            if (step % 97 == 0) expect_same(table, model);
        }
        expect_same(table, model);
        for (const auto& [id, value] : std::map<std::uint64_t, std::uint64_t>(model)) {
            REQUIRE(table.erase(LinkId{id}));
            model.erase(id);
        }
        expect_same(table, model);
        REQUIRE(table.empty());
    }
}

TEST_CASE("LinkTable entries keep their address while others come and go", "[link_table]") {
    LinkTable<Info> table;
    Info& first = table[LinkId{1}];
    first.text = "kept";
    for (std::uint64_t id = 2; id < 5000; ++id)
        table[LinkId{id}].value = id;
    for (std::uint64_t id = 2; id < 5000; id += 2)
        REQUIRE(table.erase(LinkId{id}));
    REQUIRE(&table[LinkId{1}] == &first);
    REQUIRE(first.text == "kept");
    REQUIRE(table.find(LinkId{3})->value == 3);
    REQUIRE(table.find(LinkId{4}) == nullptr);
    // An erased entry comes back empty, not with what it held before.
    REQUIRE(table.erase(LinkId{1}));
    REQUIRE(table[LinkId{1}].text.empty());
}

TEST_CASE("LinkTable treats link id 0 as no link", "[link_table]") {
    LinkTable<Info> table;
    REQUIRE(table.find(LinkId{}) == nullptr);
    REQUIRE_FALSE(table.erase(LinkId{}));
    REQUIRE_THROWS_AS(table[LinkId{}], std::invalid_argument);
    REQUIRE(table.empty());
}

}  // namespace unit_link_table_test
