// ClusterState member definitions (send), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_send.hpp"
#include "gossipcluster/cluster_state.hpp"
