// ClusterState member definitions (slots), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_slots.hpp"
#include "gossipcluster/cluster_state.hpp"
