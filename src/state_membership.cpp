// ClusterState member definitions (membership), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_membership.hpp"
#include "gossipcluster/cluster_state.hpp"
