// The definitions of detail/node_table.hpp, compiled once into the gossipcluster library.
#include "gossipcluster/detail/node_table.hpp"
#include "gossipcluster/impl/node_table.ipp"
