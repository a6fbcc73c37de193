// ClusterState member definitions (cron), compiled once into the gossipcluster library.
#include "gossipcluster/detail/state_cron.hpp"
#include "gossipcluster/cluster_state.hpp"
