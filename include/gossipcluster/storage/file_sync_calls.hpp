// fsync and rename as FileStorage calls them: replaceable, so that tests can check their order.
#pragma once

#include <unistd.h>

#include <cstdio>

namespace gossipcluster {

// Plain function pointers: FileStorage stays cheap to move, and the default is the system's own.
struct FileSyncCalls {
    int (*fsync)(int fd) = &::fsync;
    int (*rename)(const char* from, const char* to) = &::rename;
};

}  // namespace gossipcluster
