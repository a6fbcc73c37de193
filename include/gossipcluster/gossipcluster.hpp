// The protocol library in one header: state machine, core, policies, codec, events, CLUSTER
// replies.
#pragma once

// Everything a host needs to run a node over its own transport, clock and storage. The Asio
// transports are not here, because they need Asio (and OpenSSL for TLS): include
// gossipcluster/transport/asio_tcp.hpp, asio_tls.hpp or asio_cluster_node.hpp for those, and
// gossipcluster/testing/ for the simulator and its helpers.

// Values, the wire and its messages.
#include "gossipcluster/bus_limits.hpp"
#include "gossipcluster/codec.hpp"
#include "gossipcluster/decode_error.hpp"
#include "gossipcluster/frame_splitter.hpp"
#include "gossipcluster/keyslot.hpp"
#include "gossipcluster/link.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/message_format.hpp"
#include "gossipcluster/time.hpp"
#include "gossipcluster/types.hpp"

// The state machine and the core that drives it.
#include "gossipcluster/cluster_core.hpp"
#include "gossipcluster/cluster_state.hpp"
#include "gossipcluster/concepts.hpp"
#include "gossipcluster/config.hpp"
#include "gossipcluster/event.hpp"
#include "gossipcluster/node_view.hpp"
#include "gossipcluster/output.hpp"

// What survives a restart, and the stock policies.
#include "gossipcluster/clock/steady_clock.hpp"
#include "gossipcluster/compact_state.hpp"
#include "gossipcluster/persisted_state.hpp"
#include "gossipcluster/storage/file_storage.hpp"
#include "gossipcluster/storage/memory_storage.hpp"
#include "gossipcluster/storage/nodes_conf.hpp"
#include "gossipcluster/storage/storage_error.hpp"

// The CLUSTER command of a Redis-compatible host.
#include "gossipcluster/command_error.hpp"
#include "gossipcluster/commands/cluster_command.hpp"
#include "gossipcluster/commands/command_error_text.hpp"
