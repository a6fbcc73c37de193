// Interop test helper: a TCP port on 127.0.0.1 that was free a moment ago.
#pragma once

#include <cstdint>

#include <asio.hpp>

namespace gossipcluster::interop_test {

// The kernel picks it; another process may take it before the caller binds, so callers retry.
inline std::uint16_t free_loopback_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io,
                                  asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return probe.local_endpoint().port();
}

}  // namespace gossipcluster::interop_test
