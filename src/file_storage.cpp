// The definitions of storage/file_storage.hpp, compiled once into the gossipcluster library.
#include "gossipcluster/storage/file_storage.hpp"
#include "gossipcluster/impl/file_storage.ipp"
