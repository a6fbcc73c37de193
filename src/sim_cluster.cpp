// The definitions of testing/sim_cluster.hpp, and the simulator's ClusterCore, compiled once into
// the gossipcluster library.
#include "gossipcluster/testing/sim_cluster.hpp"
#include "gossipcluster/impl/sim_cluster.ipp"

template class gossipcluster::ClusterCore<gossipcluster::testing::SimTransport,
                                          gossipcluster::testing::ManualClock,
                                          gossipcluster::MemoryStorage>;
