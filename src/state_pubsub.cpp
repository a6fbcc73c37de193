// ClusterState member definitions (pubsub), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_pubsub.hpp"
#include "gossipcluster/cluster_state.hpp"
