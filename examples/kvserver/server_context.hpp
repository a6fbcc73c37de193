// ServerContext: what command handlers may see and change, and one client's own state.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gossipcluster/commands/resp_value.hpp"

#include "keyspace.hpp"
#include "logger.hpp"
#include "options.hpp"

namespace kvserver {

class ClusterNode;
class ClientLink;
class PubSub;

// One connected client, as CLIENT and INFO describe it.
struct ClientInfo {
    std::uint64_t id = 0;
    int fd = -1;
    std::string addr;   // peer ip:port
    std::string laddr;  // local ip:port
    std::string name;   // CLIENT SETNAME; empty: none
    std::int64_t created_ms = 0;
    std::int64_t last_interaction_ms = 0;
    std::string last_command;             // lower case, "client|info" style
    std::size_t query_buffer = 0;         // unparsed request bytes
    std::size_t output_buffer = 0;        // reply bytes not yet written
    std::size_t read_chunk = 0;           // size of the socket read buffer
    bool close_after_reply = false;       // QUIT
    bool asking = false;                  // ASKING: the next command may use an importing slot
    bool readonly = false;                // READONLY: a replica serves this client's reads
    bool authenticated = false;           // AUTH passed, or no requirepass
    bool replica = false;                 // a replica's stream: never closed for idleness
    std::uint64_t repl_write_offset = 0;  // replication offset after its last write (WAIT)
    std::weak_ptr<ClientLink> link;       // its connection, for Pub/Sub messages
};

// A client connection as a request that was held back sees it: it is answered later, or it
// becomes a replication stream.
class ClientLink {
  public:
    virtual ~ClientLink() = default;
    // Ends the held request: sends `reply`, or with nullopt runs the request now; then the
    // connection runs its next requests.
    virtual void finish(std::optional<gossipcluster::RespValue> reply) = 0;
    // Bytes for the client outside any reply (the replication stream).
    virtual void send_raw(std::string_view bytes) = 0;
    virtual std::size_t pending_output() const = 0;
    virtual bool is_open() const = 0;
    virtual void close() = 0;
};

// What a request hook decides: run the request as usual, hold it (the hook calls finish()
// later, never from inside the hook), or consume it without any reply.
enum class HoldResult { kRun, kHeld, kNoReply };

struct ServerStats {
    std::uint64_t connections_received = 0;
    std::uint64_t commands_processed = 0;
    std::uint64_t rejected_connections = 0;
    std::uint64_t error_replies = 0;
};

struct ServerContext {
    ServerContext(const ServerOptions& o, Logger& l) : options(o), log(l) {}

    const ServerOptions& options;
    Logger& log;
    Keyspace keyspace;
    ServerStats stats;
    // Every connected client by id (CLIENT LIST, INFO clients).
    std::map<std::uint64_t, const ClientInfo*> clients;
    // The cluster side; null when cluster-enabled is no.
    ClusterNode* cluster = nullptr;
    // Channel subscriptions; null when the server runs without Pub/Sub.
    PubSub* pubsub = nullptr;
    // Replication's hooks (unset: every request runs at once, INFO shows a lone master). They
    // see each request before it runs, each reply after it ran, and render INFO replication.
    std::function<HoldResult(std::weak_ptr<ClientLink>, ClientInfo&,
                             const std::vector<std::string>&)>
        before_command;
    std::function<void(ClientInfo&, const std::vector<std::string>&,
                       const gossipcluster::RespValue&)>
        after_command;
    std::function<void(std::string&)> replication_info;

    std::string run_id;  // 40 random hex characters, new at every start
    std::string replid;  // same shape, for INFO replication
    std::string executable;
    std::string config_file;  // absolute path, empty when none
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    static std::int64_t now_ms() {
        using namespace std::chrono;
        return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    }
    std::int64_t uptime_seconds() const {
        using namespace std::chrono;
        return duration_cast<seconds>(steady_clock::now() - started).count();
    }
};

}  // namespace kvserver
