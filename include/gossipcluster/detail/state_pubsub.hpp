// ClusterState, part 8: PUBLISH, PUBLISHSHARD and MODULE messages over the bus.
#pragma once

namespace gossipcluster {

GOSSIPCLUSTER_INLINE CommandResult ClusterState::publish(Now now, std::string_view channel,
                                                         std::string_view message, bool shard,
                                                         Output& out) {
    if (channel.size() + message.size() > config_.max_publish_bytes)
        return CommandResult::failure(CommandError::MessageTooLarge);
    Message msg;
    msg.header = build_header(shard ? MessageType::PublishShard : MessageType::Publish);
    msg.body = PublishBody{std::string(channel), std::string(message)};
    if (!shard) {
        broadcast(msg, out);
    } else {
        // Sharded messages stay within our shard: our master (or us) and its replicas.
        const detail::Node& me = own_node();
        const NodeId shard_master = me.is_replica() && me.master ? *me.master : my_id();
        for (auto& [id, node] : nodes_) {
            if (id == my_id() || node.in_handshake() || !node.link.valid()) continue;
            const bool same_shard = id == shard_master || (node.is_replica() && node.master &&
                                                           *node.master == shard_master);
            if (same_shard) send_on_link(node.link, msg, out);
        }
    }
    finish(now, out);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE CommandResult ClusterState::send_module_message(
    Now now, std::uint64_t module_id, std::uint8_t type, std::string_view payload,
    std::optional<NodeId> target, Output& out) {
    if (payload.size() > config_.max_publish_bytes)
        return CommandResult::failure(CommandError::MessageTooLarge);
    Message msg;
    msg.header = build_header(MessageType::Module);
    msg.body = ModuleBody{module_id, type, std::string(payload)};
    if (target) {
        detail::Node* node = lookup(*target);
        if (!node || node->in_handshake() || !node->link.valid())
            return CommandResult::failure_node(CommandError::UnknownNode, target->view());
        send_on_link(node->link, std::move(msg), out);
    } else {
        broadcast(msg, out);
    }
    finish(now, out);
    return CommandResult::success();
}

GOSSIPCLUSTER_INLINE void ClusterState::process_publish(const Message& msg, detail::Node* sender,
                                                        Output& out) {
    if (!sender) {
        ++counters_.dropped_unknown_sender;
        return;
    }
    const auto& body = std::get<PublishBody>(msg.body);
    out.events.push_back(event::PublishReceived{sender->id, body.channel, body.message,
                                                msg.header.type == MessageType::PublishShard});
}

GOSSIPCLUSTER_INLINE void ClusterState::process_module(const Message& msg, detail::Node* sender,
                                                       Output& out) {
    if (!sender) {
        ++counters_.dropped_unknown_sender;
        return;
    }
    const auto& body = std::get<ModuleBody>(msg.body);
    out.events.push_back(
        event::ModuleMessageReceived{sender->id, body.module_id, body.module_type, body.payload});
}

}  // namespace gossipcluster
