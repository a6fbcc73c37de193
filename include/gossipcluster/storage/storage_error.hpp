// The error every storage policy throws when it cannot load or durably save the cluster state.
#pragma once

#include <stdexcept>

namespace gossipcluster {

class StorageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

}  // namespace gossipcluster
