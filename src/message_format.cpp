// The definitions of message_format.hpp, compiled once into the gossipcluster library.
#include "gossipcluster/message_format.hpp"
#include "gossipcluster/impl/message_format.ipp"
