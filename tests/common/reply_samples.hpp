// Reply samples from shared/reference/reply-samples.txt (redis-server 7.0.15) shared by unit tests.
#pragma once

#include <string>
#include <string_view>

namespace gossipcluster::test_data {

// `CLUSTER NODES` on port 30500 (bulk length 763).
inline constexpr std::string_view kSampleClusterNodes =
    "9c429edd608657366c136fa4c85130923db6cbb9 127.0.0.1:30502@40502 master - 0 1795316506000 3 "
    "connected 10923-16383\n"
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 127.0.0.1:30500@40500 myself,master - 0 "
    "1795316505000 1 connected 0-5460\n"
    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 127.0.0.1:30501@40501,node-1.test master - 0 "
    "1795316505351 2 connected 5461-10922\n"
    "ca56ef5f38a1fa8736f7667bc1b7231358c73326 127.0.0.1:30503@40503 slave "
    "9c429edd608657366c136fa4c85130923db6cbb9 0 1795316506857 3 connected\n"
    "2dceb86f8f2d09091bfd378d8149b39a0aa34bb4 127.0.0.1:30504@40504 slave "
    "b93c8673c83a1f8aadcf25d0b8204837277b90fc 0 1795316506355 1 connected\n"
    "946fa60463aa3e42227cf740d03a65181276daf2 127.0.0.1:30505@40505 slave "
    "ca7dd988bdb7db78d1a3d974d409888aacfcf1e0 0 1795316505552 2 connected\n";

// The same view as nodes.conf: the node lines plus the vars line.
inline const std::string kSampleNodesConf =
    std::string(kSampleClusterNodes) + "vars currentEpoch 6 lastVoteEpoch 0\n";

}  // namespace gossipcluster::test_data
