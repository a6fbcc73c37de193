// Instantiates ClusterCore with a policy that lacks close(): must not compile, naming the concept.
//
// The test compiles this file twice: once as is (it must compile, which proves the include paths
// and flags are right) and once with GOSSIPCLUSTER_WRONG_POLICY defined (it must fail, and the
// compiler's message must mention the concept). No type or file name here contains the concept's
// name, so the mention can only come from the diagnostic about the constraint.
#include <gossipcluster/cluster_core.hpp>
#include <gossipcluster/storage/memory_storage.hpp>
#include <gossipcluster/testing/manual_clock.hpp>

namespace {

struct Pigeon {
    void connect(gossipcluster::LinkId, const gossipcluster::Endpoint&) {}
    void send(gossipcluster::LinkId, const gossipcluster::Message&) {}
#ifndef GOSSIPCLUSTER_WRONG_POLICY
    void close(gossipcluster::LinkId) {}
#endif
};

}  // namespace

int main() {
    gossipcluster::ClusterCore<Pigeon, gossipcluster::testing::ManualClock,
                               gossipcluster::MemoryStorage>
        core({}, Pigeon{}, gossipcluster::testing::ManualClock{}, {});
    core.tick();
}
