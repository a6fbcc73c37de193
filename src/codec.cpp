// codec, compiled once into the gossipcluster library.
#include "gossipcluster/codec.hpp"
#include "gossipcluster/impl/codec.ipp"
