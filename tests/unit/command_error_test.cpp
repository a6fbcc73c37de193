// CommandError: the core refuses operator commands with a code and the values its message names,
// and commands/command_error_text.hpp renders each code as redis-server 7.0's reply text.
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/commands/command_error_text.hpp"
#include "state_test_support.hpp"

namespace unit_command_error_test {

using namespace gossipcluster;
using test_support::at;

namespace {

struct TextCase {
    CommandResult result;
    std::string_view text;
};

constexpr std::string_view kId = "0123456789abcdef0123456789abcdef01234567";

// Every code with the text redis-server 7.0.15 replies in the same situation (the bus-size refusal
// has no Redis counterpart; its text is ours).
std::vector<TextCase> text_cases() {
    using E = CommandError;
    using R = CommandResult;
    return {
        {R::failure_address(E::InvalidNodeAddress, "10.0.0.300", 7000),
         "ERR Invalid node address specified: 10.0.0.300:7000"},
        {R::failure_node(E::UnknownNode, kId),
         "ERR Unknown node 0123456789abcdef0123456789abcdef01234567"},
        {R::failure_node(E::UnknownNode, "not-an-id"), "ERR Unknown node not-an-id"},
        {R::failure(E::ForgetMyself), "ERR I tried hard but I can't forget myself..."},
        {R::failure(E::ForgetMyMaster), "ERR Can't forget my master!"},
        {R::failure(E::MessageTooLarge), "ERR message is larger than the cluster bus allows"},
        {R::failure(E::InvalidSlot), "ERR Invalid or out of range slot"},
        {R::failure_slot(E::SlotRepeated, 5), "ERR Slot 5 specified multiple times"},
        {R::failure_slot(E::SlotBusy, 16383), "ERR Slot 16383 is already busy"},
        {R::failure_slot(E::SlotUnassigned, 0), "ERR Slot 0 is already unassigned"},
        {R::failure(E::SetSlotOnReplica), "ERR Please use SETSLOT only with masters."},
        {R::failure_node(E::SetSlotUnknownNode, kId),
         "ERR I don't know about node 0123456789abcdef0123456789abcdef01234567"},
        {R::failure(E::SetSlotTargetNotMaster), "ERR Target node is not a master"},
        {R::failure_slot(E::NotSlotOwner, 42), "ERR I'm not the owner of hash slot 42"},
        {R::failure_slot(E::AlreadySlotOwner, 42), "ERR I'm already the owner of hash slot 42"},
        {R::failure_slot(E::SlotHasKeys, 7),
         "ERR Can't assign hashslot 7 to a different node while I still hold keys for this hash "
         "slot."},
        {R::failure_epoch(E::InvalidConfigEpoch, -1), "ERR Invalid config epoch specified: -1"},
        {R::failure(E::ConfigEpochNotAlone),
         "ERR The user can assign a config epoch only when the node does not know any other "
         "node."},
        {R::failure(E::ConfigEpochNonZero), "ERR Node config epoch is already non-zero"},
        {R::failure(E::ReplicateMyself), "ERR Can't replicate myself"},
        {R::failure(E::ReplicateReplica), "ERR I can only replicate a master, not a replica."},
        {R::failure(E::ReplicateNotEmpty),
         "ERR To set a master the node must be empty and without assigned slots."},
        {R::failure(E::FailoverOnMaster), "ERR You should send CLUSTER FAILOVER to a replica"},
        {R::failure(E::FailoverMasterUnknown), "ERR I'm a replica but my master is unknown to me"},
        {R::failure(E::FailoverMasterDown),
         "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE"},
    };
}

}  // namespace

TEST_CASE("[command-error] each code renders redis-server's reply text", "[unit][command-error]") {
    const auto cases = text_cases();
    const TextCase& c = cases[GENERATE_COPY(range(std::size_t{0}, cases.size()))];
    INFO("code " << static_cast<int>(c.result.error));
    CHECK_FALSE(c.result.ok);
    CHECK(error_text(c.result) == c.text);
}

TEST_CASE("[command-error] the text table covers every code, a success renders nothing",
          "[unit][command-error]") {
    std::set<CommandError> covered;
    for (const TextCase& c : text_cases())
        covered.insert(c.result.error);
    const auto last = static_cast<int>(CommandError::FailoverMasterDown);
    for (int code = 1; code <= last; ++code) {
        INFO("code " << code);
        CHECK(covered.contains(static_cast<CommandError>(code)));
    }
    CHECK(covered.size() == static_cast<std::size_t>(last));
    CHECK(error_text(CommandResult::success()).empty());
}

TEST_CASE("[command-error] the core refuses with the code and the values of the message",
          "[unit][command-error]") {
    ClusterState st(test_support::config_announcing("10.0.0.1"), at(1000), std::nullopt);
    Output out;

    REQUIRE(st.add_slots(at(1001), {5, 6}, out).ok);
    const CommandResult busy = st.add_slots(at(1002), {7, 6}, out);
    CHECK_FALSE(busy.ok);
    CHECK(busy.error == CommandError::SlotBusy);
    CHECK(busy.args.slot == 6);
    CHECK(error_text(busy) == "ERR Slot 6 is already busy");
    // The refused list changed nothing: slot 7 is still free.
    CHECK(st.add_slots(at(1003), {7}, out).ok);

    const CommandResult unknown = st.forget(at(1004), kId, out);
    CHECK(unknown.error == CommandError::UnknownNode);
    CHECK(unknown.args.node == kId);
    CHECK(error_text(unknown) == "ERR Unknown node 0123456789abcdef0123456789abcdef01234567");
    const CommandResult garbage = st.forget(at(1005), "nonsense", out);
    CHECK(garbage.error == CommandError::UnknownNode);
    CHECK(garbage.args.node == "nonsense");

    const std::string me(st.myself_id().view());
    const CommandResult myself = st.forget(at(1006), me, out);
    CHECK(myself.error == CommandError::ForgetMyself);
    CHECK(error_text(myself) == "ERR I tried hard but I can't forget myself...");

    const CommandResult replicate_me = st.replicate(at(1007), me, true, out);
    CHECK(replicate_me.error == CommandError::ReplicateMyself);
    const CommandResult bad_epoch = st.set_config_epoch(at(1008), -3, out);
    CHECK(bad_epoch.error == CommandError::InvalidConfigEpoch);
    CHECK(bad_epoch.args.epoch == -3);
    CHECK(error_text(bad_epoch) == "ERR Invalid config epoch specified: -3");
}

}  // namespace unit_command_error_test
