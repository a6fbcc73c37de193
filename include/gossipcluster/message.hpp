// Typed cluster-bus messages: the 2256-byte header, gossip entries, ping extensions, bodies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gossipcluster/types.hpp"

namespace gossipcluster {

enum class MessageType : std::uint16_t {
    Ping = 0,
    Pong = 1,
    Meet = 2,
    Fail = 3,
    Publish = 4,
    FailoverAuthRequest = 5,
    FailoverAuthAck = 6,
    Update = 7,
    MfStart = 8,
    Module = 9,
    PublishShard = 10,
};
inline constexpr std::uint16_t kMessageTypeCount = 11;

constexpr std::string_view message_type_name(MessageType t) {
    switch (t) {
        case MessageType::Ping:
            return "PING";
        case MessageType::Pong:
            return "PONG";
        case MessageType::Meet:
            return "MEET";
        case MessageType::Fail:
            return "FAIL";
        case MessageType::Publish:
            return "PUBLISH";
        case MessageType::FailoverAuthRequest:
            return "FAILOVER_AUTH_REQUEST";
        case MessageType::FailoverAuthAck:
            return "FAILOVER_AUTH_ACK";
        case MessageType::Update:
            return "UPDATE";
        case MessageType::MfStart:
            return "MFSTART";
        case MessageType::Module:
            return "MODULE";
        case MessageType::PublishShard:
            return "PUBLISHSHARD";
    }
    return "UNKNOWN";
}

constexpr bool carries_gossip(MessageType t) {
    return t == MessageType::Ping || t == MessageType::Pong || t == MessageType::Meet;
}

// Cluster health as the sender sees it (header byte 2252).
enum class BusClusterState : std::uint8_t { Ok = 0, Fail = 1 };

// Every field of the fixed header except sig/totlen/ver/count/extensions, which the codec derives
// from the body. Reserved bytes are not kept: they are zero on encode.
struct Header {
    MessageType type = MessageType::Ping;
    std::uint16_t port = 0;  // client (base) port
    Epoch current_epoch = 0;
    Epoch config_epoch = 0;  // sender's, or its master's when the sender is a replica
    std::uint64_t offset = 0;
    NodeId sender;
    SlotBitmap myslots;
    NodeId slaveof;  // null when the sender is a master
    IpText myip;     // empty: the receiver uses the socket's peer address
    std::uint16_t pport = 0;
    std::uint16_t cport = 0;
    std::uint16_t flags = 0;
    BusClusterState state = BusClusterState::Ok;
    std::array<std::uint8_t, 3> mflags{};

    friend bool operator==(const Header&, const Header&) = default;
};

// One 104-byte gossip entry: what the sender knows of another node.
struct GossipEntry {
    NodeId node;
    std::uint32_t ping_sent = 0;      // seconds
    std::uint32_t pong_received = 0;  // seconds (unix time)
    IpText ip;
    std::uint16_t port = 0;
    std::uint16_t cport = 0;
    std::uint16_t flags = 0;
    std::uint16_t pport = 0;

    friend bool operator==(const GossipEntry&, const GossipEntry&) = default;
};

enum class ExtensionType : std::uint16_t {
    Hostname = 0,
    HumanNodename = 1,
    ForgottenNode = 2,
    ShardId = 3,
};

struct HostnameExt {
    std::string hostname;
    friend bool operator==(const HostnameExt&, const HostnameExt&) = default;
};
struct HumanNodenameExt {
    std::string name;
    friend bool operator==(const HumanNodenameExt&, const HumanNodenameExt&) = default;
};
struct ForgottenNodeExt {
    NodeId node;
    std::uint64_t ttl_seconds = 0;
    friend bool operator==(const ForgottenNodeExt&, const ForgottenNodeExt&) = default;
};
struct ShardIdExt {
    NodeId shard_id;  // 40 hex chars, same charset as node names
    friend bool operator==(const ShardIdExt&, const ShardIdExt&) = default;
};
// A type we do not interpret: kept as is so that it can be skipped (Redis logs and skips).
struct UnknownExt {
    std::uint16_t type = 0;
    std::vector<std::uint8_t> payload;  // without the 8-byte record header, padding included
    friend bool operator==(const UnknownExt&, const UnknownExt&) = default;
};

using PingExtension =
    std::variant<HostnameExt, HumanNodenameExt, ForgottenNodeExt, ShardIdExt, UnknownExt>;

// PING, PONG and MEET.
struct GossipBody {
    std::vector<GossipEntry> gossip;
    std::vector<PingExtension> extensions;
    friend bool operator==(const GossipBody&, const GossipBody&) = default;
};

struct FailBody {
    NodeId node;
    friend bool operator==(const FailBody&, const FailBody&) = default;
};

// PUBLISH and PUBLISHSHARD.
struct PublishBody {
    std::string channel;
    std::string message;
    friend bool operator==(const PublishBody&, const PublishBody&) = default;
};

struct UpdateBody {
    Epoch config_epoch = 0;
    NodeId node;
    SlotBitmap slots;
    friend bool operator==(const UpdateBody&, const UpdateBody&) = default;
};

struct ModuleBody {
    std::uint64_t module_id = 0;  // opaque 8 bytes, sent as the module gave them
    std::uint8_t module_type = 0;
    std::string payload;
    friend bool operator==(const ModuleBody&, const ModuleBody&) = default;
};

// FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK and MFSTART carry only the header.
struct EmptyBody {
    friend bool operator==(const EmptyBody&, const EmptyBody&) = default;
};

using MessageBody =
    std::variant<EmptyBody, GossipBody, FailBody, PublishBody, UpdateBody, ModuleBody>;

struct Message {
    Header header;
    MessageBody body;

    MessageType type() const { return header.type; }
    friend bool operator==(const Message&, const Message&) = default;
};

}  // namespace gossipcluster
