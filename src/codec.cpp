// The definitions of codec.hpp (encode, decode), compiled once into the gossipcluster library.
#include "gossipcluster/codec.hpp"
#include "gossipcluster/impl/codec.ipp"
