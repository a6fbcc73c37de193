// gossipcluster-kvserver: a small Redis-compatible key-value server on the gossipcluster library.
//
//   gossipcluster-kvserver [config-file] [--option value ...]
//
// Options are redis-server's (see options.hpp); with --cluster-enabled yes the node speaks the
// Redis Cluster bus on port + 10000 and answers CLUSTER MEET / NODES / INFO / ... like Redis.
#include <unistd.h>

#include <asio.hpp>

#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "cluster_keyspace.hpp"
#include "cluster_node.hpp"
#include "commands_pubsub.hpp"
#include "fd_limit.hpp"
#include "info.hpp"
#include "logger.hpp"
#include "options.hpp"
#include "replication.hpp"
#include "server.hpp"
#include "server_context.hpp"

namespace {

constexpr std::string_view kUsage =
    "Usage: gossipcluster-kvserver [config-file] [--option value ...]\n"
    "\n"
    "Options (redis-server's names; a config file holds the same as 'name value' lines):\n"
    "  --port <n>                      client port (default 6379)\n"
    "  --bind <addr> [<addr> ...]      listen addresses, '-' prefix: optional (default\n"
    "                                  127.0.0.1 -::1)\n"
    "  --cluster-enabled yes|no        run as a cluster node (default no)\n"
    "  --cluster-config-file <file>    node table file (default nodes.conf)\n"
    "  --cluster-node-timeout <ms>     (default 15000)\n"
    "  --cluster-port <n>              bus port (default port + 10000)\n"
    "  --cluster-announce-ip <ip>      address announced to peers\n"
    "  --cluster-announce-hostname <h> hostname announced to peers\n"
    "  --tls-cluster yes|no            cluster bus over TLS, mutual authentication (default no)\n"
    "  --tls-port <n>                  with tls-cluster: the port announced to the cluster, the\n"
    "                                  bus on tls-port + 10000 (clients stay on --port, plain)\n"
    "  --tls-cert-file, --tls-key-file, --tls-ca-cert-file <file>  PEM files for the bus\n"
    "  --tls-cluster-bind-node-id yes|no  a bus peer may speak only for the node id its\n"
    "                                  certificate names, as CN or DNS name (default no)\n"
    "  --dir <dir>                     working directory (relative paths start there)\n"
    "  --logfile <file>                log file ('' for standard output, the default)\n"
    "  --loglevel debug|verbose|notice|warning\n"
    "  --maxclients <n>                (default 10000)\n"
    "  --client-query-buffer-limit <size>  pending request bytes per client, parsed or not\n"
    "                                  (default 64mb)\n"
    "  --requirepass <password>        clients must AUTH first (default: no password)\n"
    "  --masteruser <user>, --masterauth <password>  a replica's AUTH to its master\n"
    "  --timeout <seconds>             close clients idle that long (default 0: never)\n"
    "  --client-output-buffer-limit pubsub <hard> <soft> <seconds>  a subscriber's pending\n"
    "                                  output limits (default 32mb 8mb 60)\n"
    "  --daemonize no                  accepted; the server always runs in the foreground\n"
    "Accepted without effect: --save, --appendonly, --appendfsync, --protected-mode,\n"
    "--databases, --dbfilename, ... (data lives in memory only).\n";

std::string random_hex(std::size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::random_device rd;
    std::string out(n, '0');
    for (auto& c : out)
        c = kHex[rd() % 16];
    return out;
}

int run(kvserver::ServerOptions options) {
    using namespace kvserver;
    std::error_code ec;
    const std::string config_file =
        options.config_file.empty() ? std::string()
                                    : std::filesystem::absolute(options.config_file, ec).string();
    if (!options.dir.empty() && ::chdir(options.dir.c_str()) != 0) {
        fmt::print(stderr, "gossipcluster-kvserver: cannot change to directory '{}': {}\n",
                   options.dir, std::strerror(errno));
        return 1;
    }

    Logger log(stdout_sink(), options.loglevel);
    if (!options.logfile.empty()) {
        try {
            log.set_sink(file_sink(options.logfile));
        } catch (const std::exception& e) {
            fmt::print(stderr, "gossipcluster-kvserver: {}\n", e.what());
            return 1;
        }
    }
    log.notice("gossipcluster-kvserver {} is starting, pid={}", kServerVersion, ::getpid());
    if (auto line = raise_open_files_limit(options.maxclients); !line.empty())
        log.notice("{}", line);
    for (const auto& ignored : options.ignored)
        log.notice("Ignoring option '{}': it has no effect in this server", ignored);

    asio::io_context io(1);
    ServerContext context(options, log);
    context.run_id = random_hex(40);
    context.replid = random_hex(40);
    context.executable = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    context.config_file = config_file;

    PubSub pubsub(options.pubsub_output_limit, log);
    context.pubsub = &pubsub;
    Server server(io, context);
    Replication replication(io, context);
    std::unique_ptr<ClusterNode> cluster;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    int exit_code = 0;
    bool stopping = false;

    // Closes listeners and clients, then the cluster bus with a final save; io.run() returns
    // once the last pending handler has seen the sockets closed.
    auto shutdown = [&] {
        if (stopping) return;
        stopping = true;
        signals.cancel();
        replication.stop();
        server.stop();
        if (cluster) cluster->stop();
    };

    try {
        if (options.cluster_enabled) {
            cluster = std::make_unique<ClusterNode>(io, options, log, [&](const std::string&) {
                exit_code = 1;
                // Not from inside the cluster node's own handler: later, from the loop.
                asio::post(io, shutdown);
            });
            context.cluster = cluster.get();
            connect_cluster_keyspace(context, *cluster);
            connect_cluster_pubsub(pubsub, *cluster);
        }
        server.start();
        if (cluster) cluster->start();
        replication.start();
    } catch (const std::exception& e) {
        log.warning("Fatal error, can't start: {}", e.what());
        return 1;
    }

    signals.async_wait([&](std::error_code error, int signal) {
        if (error) return;
        log.warning("Received {} scheduling shutdown...", signal == SIGINT ? "SIGINT" : "SIGTERM");
        shutdown();
    });

    std::string listening;
    for (const auto& ep : server.endpoints())
        listening += (listening.empty() ? "" : " ") + endpoint_text(ep);
    log.notice("Running mode={}, port={}.", cluster ? "cluster" : "standalone", options.port);
    if (cluster)
        log.notice("Ready to accept connections: pid={} port={} cluster_bus_port={} listening={}",
                   ::getpid(), options.port, options.bus_port(), listening);
    else
        log.notice("Ready to accept connections: pid={} port={} listening={}", ::getpid(),
                   options.port, listening);

    try {
        io.run();
    } catch (const std::exception& e) {
        log.warning("Fatal error: {}", e.what());
        shutdown();
        return 1;
    }
    log.notice("gossipcluster-kvserver is now ready to exit, bye bye...");
    return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
        fmt::print("{}", kUsage);
        return 0;
    }
    if (args.size() == 1 && (args[0] == "--version" || args[0] == "-v")) {
        fmt::print("gossipcluster-kvserver {} (Redis {} compatible replies)\n",
                   kvserver::kServerVersion, kvserver::kRedisCompatVersion);
        return 0;
    }
    // A client that disconnects mid-write must not kill the server.
    std::signal(SIGPIPE, SIG_IGN);

    auto parsed = kvserver::parse_command_line(args);
    if (auto* error = std::get_if<kvserver::OptionsError>(&parsed)) {
        fmt::print(stderr, "gossipcluster-kvserver: {}\n(see --help)\n", error->message);
        return 1;
    }
    return run(std::move(std::get<kvserver::ServerOptions>(parsed)));
}
