// The definitions of detail/slot_table.hpp, compiled once into the gossipcluster library.
#include "gossipcluster/detail/slot_table.hpp"
#include "gossipcluster/impl/slot_table.ipp"
