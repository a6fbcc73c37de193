// The policy contracts of ClusterCore: Transport, Clock and Storage, as C++20 concepts.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>

#include "gossipcluster/link.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/persisted_state.hpp"
#include "gossipcluster/time.hpp"

namespace gossipcluster {

// Moves messages between nodes.
// - connect(link, endpoint): open an outbound connection named `link`; report the outcome later
//   through ClusterCore::on_link_up / on_link_down. Messages sent on a connecting link are queued
//   until it is up, or dropped if it fails.
// - send(link, message): deliver in order on that link, or drop (the protocol tolerates loss).
// - close(link): close it; no on_link_down is expected for a link the core closed.
// None of these may call back into the core synchronously: report later, from the event loop.
template <typename T>
concept Transport = requires(T& t, LinkId link, const Endpoint& to, const Message& msg) {
    { t.connect(link, to) } -> std::same_as<void>;
    { t.send(link, msg) } -> std::same_as<void>;
    { t.close(link) } -> std::same_as<void>;
};

// Tells the time. now() is monotonic and positive; unix_ms() is wall time, used only where the
// wire or nodes.conf carry wall time.
template <typename C>
concept Clock = requires(C& c) {
    { c.now() } -> std::same_as<Instant>;
    { c.unix_ms() } -> std::convertible_to<std::uint64_t>;
};

// Keeps what must survive a crash. load() returns nullopt for a fresh node and throws on a
// corrupt store; save() returns only once the state would survive a crash when `fsync` is true,
// and throws if it could not save (the core then sends nothing that depends on it).
template <typename S>
concept Storage = requires(S& s, const PersistedState& state, bool fsync) {
    { s.load() } -> std::same_as<std::optional<PersistedState>>;
    { s.save(state, fsync) } -> std::same_as<void>;
};

}  // namespace gossipcluster
