// PubSub: who listens to which channel, pattern and shard channel, and delivery to them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "glob_match.hpp"
#include "gossipcluster/commands/resp_value.hpp"
#include "gossipcluster/keyslot.hpp"
#include "logger.hpp"
#include "output_limit.hpp"
#include "server_context.hpp"

namespace kvserver {

// The subscriptions of every client, with Redis's counting: a client's channel and pattern
// subscriptions count together, its shard channels apart; a client with any subscription is in
// subscribe mode. Messages go out through the client's own connection; a subscriber that does not
// read them is closed at its output buffer limit, so a slow reader cannot make the server grow.
class PubSub {
  public:
    PubSub(const OutputBufferLimit& limit, Logger& log) : limit_(limit), log_(log) {}

    PubSub(const PubSub&) = delete;
    PubSub& operator=(const PubSub&) = delete;

    // Each returns the client's count after the change: channels plus patterns, or (shard) its
    // shard channels.
    std::size_t subscribe(const ClientInfo& client, const std::string& channel) {
        Subscriber& s = attach(client);
        if (s.channels.insert(channel).second) channels_[channel].insert(client.id);
        return s.count();
    }
    std::size_t psubscribe(const ClientInfo& client, const std::string& pattern) {
        Subscriber& s = attach(client);
        if (s.patterns.insert(pattern).second) patterns_[pattern].insert(client.id);
        return s.count();
    }
    std::size_t ssubscribe(const ClientInfo& client, const std::string& channel) {
        Subscriber& s = attach(client);
        if (s.shard_channels.insert(channel).second) shard_channels_[channel].insert(client.id);
        return s.shard_channels.size();
    }
    std::size_t unsubscribe(std::uint64_t id, const std::string& channel) {
        return remove(id, channel, &Subscriber::channels, channels_, false);
    }
    std::size_t punsubscribe(std::uint64_t id, const std::string& pattern) {
        return remove(id, pattern, &Subscriber::patterns, patterns_, false);
    }
    std::size_t sunsubscribe(std::uint64_t id, const std::string& channel) {
        return remove(id, channel, &Subscriber::shard_channels, shard_channels_, true);
    }

    // What the client is subscribed to, for the forms without arguments.
    std::vector<std::string> channels_of(std::uint64_t id) const {
        return names_of(id, &Subscriber::channels);
    }
    std::vector<std::string> patterns_of(std::uint64_t id) const {
        return names_of(id, &Subscriber::patterns);
    }
    std::vector<std::string> shard_channels_of(std::uint64_t id) const {
        return names_of(id, &Subscriber::shard_channels);
    }

    // True while the client has any subscription: RESP2 then allows it only a few commands.
    bool in_subscribe_mode(std::uint64_t id) const { return subscribers_.contains(id); }

    // A closed connection's subscriptions go away without any message.
    void drop_client(std::uint64_t id) {
        auto it = subscribers_.find(id);
        if (it == subscribers_.end()) return;
        for (const auto& c : it->second.channels)
            erase_member(channels_, c, id);
        for (const auto& p : it->second.patterns)
            erase_member(patterns_, p, id);
        for (const auto& c : it->second.shard_channels)
            erase_member(shard_channels_, c, id);
        subscribers_.erase(it);
    }

    // A message to the channel's subscribers, then to every matching pattern's; the number of
    // deliveries, which is what PUBLISH answers.
    std::size_t publish(std::string_view channel, std::string_view message) {
        Delivery d(*this);
        if (auto it = channels_.find(channel); it != channels_.end()) {
            const std::string bytes = encode({"message", channel, message});
            for (auto id : it->second)
                d.send(id, bytes);
        }
        for (const auto& [pattern, ids] : patterns_) {
            if (!glob_match(pattern, channel)) continue;
            const std::string bytes = encode({"pmessage", pattern, channel, message});
            for (auto id : ids)
                d.send(id, bytes);
        }
        return d.count;
    }
    std::size_t publish_shard(std::string_view channel, std::string_view message) {
        Delivery d(*this);
        if (auto it = shard_channels_.find(channel); it != shard_channels_.end()) {
            const std::string bytes = encode({"smessage", channel, message});
            for (auto id : it->second)
                d.send(id, bytes);
        }
        return d.count;
    }

    // Drops every shard channel whose slot `keep` rejects, telling each of its subscribers with
    // a "sunsubscribe" message, as Redis does when this node's shard stops serving a slot.
    void drop_shard_channels(const std::function<bool(std::uint16_t slot)>& keep) {
        std::vector<std::string> gone;
        for (const auto& [channel, ids] : shard_channels_)
            if (!keep(gossipcluster::key_hash_slot(channel))) gone.push_back(channel);
        Delivery d(*this);
        for (const auto& channel : gone) {
            auto it = shard_channels_.find(channel);
            if (it == shard_channels_.end()) continue;
            const std::set<std::uint64_t> ids = it->second;
            for (auto id : ids) {
                // Told before the removal, which may forget the client and its connection.
                auto s = subscribers_.find(id);
                if (s == subscribers_.end()) continue;
                d.send(id,
                       encode_count("sunsubscribe", channel, s->second.shard_channels.size() - 1));
                sunsubscribe(id, channel);
            }
        }
    }

    // PUBSUB CHANNELS / SHARDCHANNELS [pattern], NUMSUB / SHARDNUMSUB, NUMPAT.
    std::vector<std::string> active_channels(std::optional<std::string_view> pattern,
                                             bool shard) const {
        std::vector<std::string> out;
        for (const auto& [channel, ids] : shard ? shard_channels_ : channels_)
            if (!pattern || glob_match(*pattern, channel)) out.push_back(channel);
        return out;
    }
    std::size_t subscriber_count(const std::string& channel, bool shard) const {
        const auto& table = shard ? shard_channels_ : channels_;
        auto it = table.find(channel);
        return it == table.end() ? 0 : it->second.size();
    }
    std::size_t pattern_count() const { return patterns_.size(); }

    // The subscribe-family replies: [kind, name, count], with a null name when `name` is empty
    // optional (an unsubscribe from everything while subscribed to nothing).
    static gossipcluster::RespValue count_reply(std::string_view kind,
                                                std::optional<std::string_view> name,
                                                std::size_t count) {
        using gossipcluster::RespValue;
        return RespValue::array({RespValue::bulk(std::string(kind)),
                                 name ? RespValue::bulk(std::string(*name)) : RespValue::null(),
                                 RespValue::number(static_cast<std::int64_t>(count))});
    }

  private:
    using Ids = std::set<std::uint64_t>;
    using Table = std::map<std::string, Ids, std::less<>>;

    struct Subscriber {
        std::weak_ptr<ClientLink> link;
        std::string addr;
        std::set<std::string> channels;
        std::set<std::string> patterns;
        std::set<std::string> shard_channels;
        std::int64_t soft_since_ms = -1;  // when pending output last rose above the soft limit
        std::size_t count() const { return channels.size() + patterns.size(); }
        bool empty() const { return count() == 0 && shard_channels.empty(); }
    };

    // Sends to subscribers and closes, once the sending is over, those past their limit.
    struct Delivery {
        explicit Delivery(PubSub& p) : ps(p) {}
        Delivery(const Delivery&) = delete;
        Delivery& operator=(const Delivery&) = delete;
        ~Delivery() {
            for (auto& link : over_limit)
                link->close();
        }
        void send(std::uint64_t id, const std::string& bytes) {
            ++count;
            auto it = ps.subscribers_.find(id);
            if (it == ps.subscribers_.end()) return;
            auto link = it->second.link.lock();
            if (!link || !link->is_open()) return;
            link->send_raw(bytes);
            if (ps.over_limit(it->second, link->pending_output())) {
                ps.log_.warning(
                    "Client id={} addr={} closed for overcoming of output buffer limits ({} bytes "
                    "pending).",
                    id, it->second.addr, link->pending_output());
                over_limit.push_back(std::move(link));
            }
        }
        PubSub& ps;
        std::size_t count = 0;
        std::vector<std::shared_ptr<ClientLink>> over_limit;
    };

    Subscriber& attach(const ClientInfo& client) {
        Subscriber& s = subscribers_[client.id];
        if (s.link.expired()) {
            s.link = client.link;
            s.addr = client.addr;
        }
        return s;
    }

    std::size_t remove(std::uint64_t id, const std::string& name,
                       std::set<std::string> Subscriber::*member, Table& table, bool shard) {
        auto it = subscribers_.find(id);
        if (it == subscribers_.end()) return 0;
        Subscriber& s = it->second;
        if ((s.*member).erase(name) > 0) erase_member(table, name, id);
        const std::size_t left = shard ? s.shard_channels.size() : s.count();
        if (s.empty()) subscribers_.erase(it);
        return left;
    }

    std::vector<std::string> names_of(std::uint64_t id,
                                      std::set<std::string> Subscriber::*member) const {
        auto it = subscribers_.find(id);
        if (it == subscribers_.end()) return {};
        const auto& names = it->second.*member;
        return {names.begin(), names.end()};
    }

    static void erase_member(Table& table, const std::string& name, std::uint64_t id) {
        auto it = table.find(name);
        if (it == table.end()) return;
        it->second.erase(id);
        if (it->second.empty()) table.erase(it);
    }

    bool over_limit(Subscriber& s, std::size_t pending) const {
        if (limit_.hard > 0 && pending > limit_.hard) return true;
        if (limit_.soft == 0 || pending <= limit_.soft) {
            s.soft_since_ms = -1;
            return false;
        }
        const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count();
        if (s.soft_since_ms < 0) s.soft_since_ms = now;
        return now - s.soft_since_ms > limit_.soft_seconds * 1000;
    }

    static std::string encode(std::initializer_list<std::string_view> words) {
        std::vector<gossipcluster::RespValue> items;
        for (auto w : words)
            items.push_back(gossipcluster::RespValue::bulk(std::string(w)));
        std::string out;
        gossipcluster::write_resp2(gossipcluster::RespValue::array(std::move(items)), out);
        return out;
    }
    static std::string encode_count(std::string_view kind, std::string_view name,
                                    std::size_t count) {
        std::string out;
        gossipcluster::write_resp2(count_reply(kind, name, count), out);
        return out;
    }

    const OutputBufferLimit& limit_;
    Logger& log_;
    std::map<std::uint64_t, Subscriber> subscribers_;
    Table channels_;
    Table patterns_;
    Table shard_channels_;
};

}  // namespace kvserver
