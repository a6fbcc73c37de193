// The definitions of storage/nodes_conf.hpp, compiled once into the gossipcluster library.
#include "gossipcluster/storage/nodes_conf.hpp"
#include "gossipcluster/impl/nodes_conf.ipp"
