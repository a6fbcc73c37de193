// The Asio half of the consumer program: compiles and links through gossipcluster::asio only.
#include <asio.hpp>
#include <gossipcluster/transport/asio_cluster_node.hpp>
#include <gossipcluster/transport/asio_tcp.hpp>

#include <array>
#include <cstdio>
#include <exception>

static_assert(gossipcluster::AsioBusTransport<gossipcluster::AsioTcpTransport>);

// Sends four bytes over a loopback TCP connection on an ephemeral port and reads them back.
int asio_loopback_check() {
    try {
        asio::io_context io;
        asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
        asio::ip::tcp::socket client(io);
        client.connect(acceptor.local_endpoint());
        asio::ip::tcp::socket server = acceptor.accept();
        const std::array<char, 4> sent{'R', 'C', 'm', 'b'};
        asio::write(client, asio::buffer(sent));
        std::array<char, 4> got{};
        asio::read(server, asio::buffer(got));
        return got == sent ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "asio: %s\n", e.what());
        return 1;
    }
}
