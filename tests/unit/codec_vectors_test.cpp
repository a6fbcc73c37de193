// Decodes every frame captured from redis-server 7.0.15 and checks it against the decoded listings.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "gossipcluster/codec.hpp"

namespace unit_codec_vectors_test {

using namespace gossipcluster;
using codec_test::Bytes;

namespace {

// One "## message i -> bin/NAME.bin" block of a <capture>.txt listing.
struct Listing {
    std::string source;  // "capture.txt: message i", for failure messages
    std::vector<std::string> lines;
};

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// Listings keyed by the .bin file name they describe.
std::map<std::string, Listing> load_listings() {
    std::map<std::string, Listing> out;
    const std::regex header(R"(^## (message \d+) -> bin/(\S+\.bin))");
    for (const auto& e : std::filesystem::directory_iterator(codec_test::vectors_dir())) {
        if (e.path().extension() != ".txt") continue;
        std::ifstream in(e.path());
        std::string line;
        Listing* cur = nullptr;
        while (std::getline(in, line)) {
            std::smatch m;
            if (std::regex_search(line, m, header)) {
                cur = &out[m[2].str()];
                cur->source = e.path().filename().string() + ": " + m[1].str();
            } else if (cur != nullptr && !trim(line).empty() && line[0] != '#') {
                cur->lines.push_back(trim(line));
            }
        }
    }
    return out;
}

// The value after "key=" up to the next space; a quoted value ('...') is returned unquoted.
std::string field(const std::string& line, const std::string& key) {
    std::size_t pos = 0;
    while (true) {
        pos = line.find(key + "=", pos);
        if (pos == std::string::npos) {
            FAIL("listing line lacks " << key << "=: " << line);
            return {};
        }
        if (pos == 0 || line[pos - 1] == ' ') break;
        pos += key.size();
    }
    pos += key.size() + 1;
    if (pos < line.size() && line[pos] == '\'') {
        const auto end = line.find('\'', pos + 1);
        return line.substr(pos + 1, end - pos - 1);
    }
    return line.substr(pos, line.find(' ', pos) - pos);
}

std::uint64_t num(const std::string& line, const std::string& key) {
    return std::stoull(field(line, key));
}

// The "(a,b,c)" list that follows "key=N " in a line.
std::vector<std::string> paren_names(const std::string& line, const std::string& key) {
    const auto at = line.find(key + "=");
    const auto open = line.find('(', at);
    const auto close = line.find(')', open);
    std::vector<std::string> names;
    std::stringstream ss(line.substr(open + 1, close - open - 1));
    for (std::string n; std::getline(ss, n, ',');)
        names.push_back(n);
    return names;
}

std::uint16_t node_flags_from_names(const std::vector<std::string>& names) {
    static const std::map<std::string, std::uint16_t> table = {
        {"master", node_flag::kMaster},        {"slave", node_flag::kSlave},
        {"pfail", node_flag::kPfail},          {"fail", node_flag::kFail},
        {"myself", node_flag::kMyself},        {"handshake", node_flag::kHandshake},
        {"noaddr", node_flag::kNoAddr},        {"meet", node_flag::kMeet},
        {"migrate_to", node_flag::kMigrateTo}, {"nofailover", node_flag::kNoFailover},
    };
    std::uint16_t flags = 0;
    for (const auto& n : names) {
        if (n == "none" || n == "noflags") continue;
        INFO("flag name " << n);
        REQUIRE(table.count(n) == 1);
        flags = static_cast<std::uint16_t>(flags | table.at(n));
    }
    return flags;
}

std::uint8_t mflags0_from_names(const std::vector<std::string>& names) {
    static const std::map<std::string, std::uint8_t> table = {
        {"PAUSED", message_flag::kPaused},
        {"FORCEACK", message_flag::kForceAck},
        {"EXT_DATA", message_flag::kExtData},
    };
    std::uint8_t flags = 0;
    for (const auto& n : names) {
        if (n == "none") continue;
        INFO("mflags name " << n);
        REQUIRE(table.count(n) == 1);
        flags = static_cast<std::uint8_t>(flags | table.at(n));
    }
    return flags;
}

// "(none)" or comma-separated "a-b" / "a" ranges.
SlotBitmap slots_from_ranges(const std::string& text) {
    SlotBitmap bm;
    if (text == "(none)") return bm;
    std::stringstream ss(text);
    for (std::string r; std::getline(ss, r, ',');) {
        const auto dash = r.find('-');
        const std::size_t first = std::stoul(r.substr(0, dash));
        const std::size_t last = dash == std::string::npos ? first : std::stoul(r.substr(dash + 1));
        bm.set_range(first, last);
    }
    return bm;
}

NodeId node(const std::string& text) {
    auto id = NodeId::parse(text);
    INFO("node name " << text);
    REQUIRE(id.has_value());
    return *id;
}

// Python-dict text of an extension record: {'length': 24, 'type': 0, 'hostname': 'x'}.
std::map<std::string, std::string> parse_dict(const std::string& text) {
    std::map<std::string, std::string> out;
    const std::regex item(R"('(\w+)': (?:'([^']*)'|(-?\d+)))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), item);
         it != std::sregex_iterator(); ++it) {
        const auto& m = *it;
        out[m[1].str()] = m[2].matched ? m[2].str() : m[3].str();
    }
    return out;
}

void check_header_line(const std::string& line, const Message& msg, const Bytes& raw) {
    const auto type_name = line.substr(0, line.find(' '));
    CHECK(message_type_name(msg.type()) == type_name);
    CHECK(num(line, "totlen") == raw.size());
    CHECK(num(line, "ver") == codec_test::get_u16(raw, 8));
    CHECK(num(line, "ver") == kProtocolVersion);
    CHECK(num(line, "port") == msg.header.port);
    CHECK(num(line, "count") == codec_test::get_u16(raw, 14));
    if (const auto* g = std::get_if<GossipBody>(&msg.body))
        CHECK(num(line, "count") == g->gossip.size());
    CHECK(num(line, "currentEpoch") == msg.header.current_epoch);
    CHECK(num(line, "configEpoch") == msg.header.config_epoch);
    CHECK(num(line, "offset") == msg.header.offset);
}

void check_sender_line(const std::string& line, const Message& msg, const Bytes& raw) {
    const Header& h = msg.header;
    CHECK(node(field(line, "sender")) == h.sender);
    CHECK(field(line, "myip") == h.myip.view());
    CHECK(num(line, "pport") == h.pport);
    CHECK(num(line, "cport") == h.cport);
    CHECK(num(line, "flags") == h.flags);
    CHECK(node_flags_from_names(paren_names(line, "flags")) == h.flags);
    const auto state = field(line, "state");
    CHECK(state == (h.state == BusClusterState::Ok ? "ok" : "fail"));
    // mflags=XX XX XX (names)
    const auto at = line.find("mflags=") + 7;
    std::stringstream ss(line.substr(at, 8));
    for (std::size_t i = 0; i < 3; ++i) {
        std::string hex;
        ss >> hex;
        CHECK(std::stoul(hex, nullptr, 16) == h.mflags[i]);
    }
    CHECK(mflags0_from_names(paren_names(line, "mflags")) == h.mflags[0]);
    CHECK(num(line, "extensions") == codec_test::get_u16(raw, 2214));
    if (const auto* g = std::get_if<GossipBody>(&msg.body))
        CHECK(num(line, "extensions") == g->extensions.size());
}

void check_gossip_line(const std::string& line, const GossipEntry& g) {
    // gossip <name> <ip>:<port>@<cport> pport=N flags=N (names) ping_sent=N pong_received=N
    std::stringstream ss(line);
    std::string word, name, addr;
    ss >> word >> name >> addr;
    CHECK(node(name) == g.node);
    const auto colon = addr.rfind(':');
    const auto at = addr.find('@');
    CHECK(addr.substr(0, colon) == g.ip.view());
    CHECK(std::stoul(addr.substr(colon + 1, at - colon - 1)) == g.port);
    CHECK(std::stoul(addr.substr(at + 1)) == g.cport);
    CHECK(num(line, "pport") == g.pport);
    CHECK(num(line, "flags") == g.flags);
    CHECK(node_flags_from_names(paren_names(line, "flags")) == g.flags);
    CHECK(num(line, "ping_sent") == g.ping_sent);
    CHECK(num(line, "pong_received") == g.pong_received);
}

void check_ext_line(const std::string& line, const PingExtension& ext, const Bytes& raw,
                    std::size_t record_offset) {
    const auto d = parse_dict(line);
    REQUIRE(d.count("length") == 1);
    REQUIRE(d.count("type") == 1);
    CHECK(std::stoul(d.at("length")) == codec_test::get_u32(raw, record_offset));
    CHECK(std::stoul(d.at("type")) == codec_test::get_u16(raw, record_offset + 4));
    if (d.count("unused"))
        CHECK(std::stoul(d.at("unused")) == codec_test::get_u16(raw, record_offset + 6));
    switch (std::stoul(d.at("type"))) {
        case 0:
            REQUIRE(std::holds_alternative<HostnameExt>(ext));
            CHECK(std::get<HostnameExt>(ext).hostname == d.at("hostname"));
            break;
        case 1:
            REQUIRE(std::holds_alternative<HumanNodenameExt>(ext));
            CHECK(std::get<HumanNodenameExt>(ext).name == d.at("human_nodename"));
            break;
        case 3:
            REQUIRE(std::holds_alternative<ShardIdExt>(ext));
            CHECK(std::get<ShardIdExt>(ext).shard_id == node(d.at("shard_id")));
            break;
        default:
            FAIL("listing has an extension type this test does not know: " << line);
    }
}

}  // namespace

TEST_CASE("[codec] decodes every captured vector and re-encodes it byte for byte",
          "[unit][codec]") {
    const auto files = codec_test::vector_files();
    CHECK(files.size() >= 18);  // the captures shipped in tests/vectors
    for (const auto& path : files) {
        const Bytes raw = codec_test::read_file(path);
        INFO("vector " << path.filename().string());
        Message msg;
        REQUIRE(decode(raw, msg) == DecodeError::None);
        CHECK(encoded_size(msg) == raw.size());
        CHECK(encode(msg) == raw);
        // The reserved header bytes and gossip notused fields are zero in every capture, which
        // is what makes the byte-exact round trip possible without storing them.
        CHECK(std::all_of(raw.begin() + 2216, raw.begin() + 2246, [](auto b) { return b == 0; }));
        if (const auto* g = std::get_if<GossipBody>(&msg.body)) {
            for (std::size_t i = 0; i < g->gossip.size(); ++i)
                CHECK(codec_test::get_u16(raw, kHeaderSize + i * kGossipEntrySize + 102) == 0);
        }
    }
}

TEST_CASE("[codec] decoded fields match the listings of the captures", "[unit][codec]") {
    const auto listings = load_listings();
    std::size_t checked = 0;
    for (const auto& path : codec_test::vector_files()) {
        const auto name = path.filename().string();
        INFO("vector " << name);
        REQUIRE(listings.count(name) == 1);
        const Listing& listing = listings.at(name);
        INFO("listing " << listing.source);
        const Bytes raw = codec_test::read_file(path);
        Message msg;
        REQUIRE(decode(raw, msg) == DecodeError::None);

        std::size_t gossip_index = 0;
        std::size_t ext_index = 0;
        std::size_t record_offset = 0;
        const auto* gossip = std::get_if<GossipBody>(&msg.body);
        if (gossip != nullptr)
            record_offset = kHeaderSize + gossip->gossip.size() * kGossipEntrySize;
        bool saw_header = false, saw_sender = false, saw_slaveof = false;

        for (const auto& line : listing.lines) {
            INFO("line: " << line);
            if (line.find(" totlen=") != std::string::npos) {
                check_header_line(line, msg, raw);
                saw_header = true;
            } else if (line.rfind("sender=", 0) == 0) {
                check_sender_line(line, msg, raw);
                saw_sender = true;
            } else if (line.rfind("slaveof=", 0) == 0) {
                const auto slaveof = field(line, "slaveof");
                if (slaveof == "(none)")
                    CHECK(msg.header.slaveof.is_null());
                else
                    CHECK(node(slaveof) == msg.header.slaveof);
                CHECK(slots_from_ranges(field(line, "myslots")) == msg.header.myslots);
                saw_slaveof = true;
            } else if (line.rfind("gossip ", 0) == 0) {
                REQUIRE(gossip != nullptr);
                REQUIRE(gossip_index < gossip->gossip.size());
                check_gossip_line(line, gossip->gossip[gossip_index++]);
            } else if (line.rfind("ext ", 0) == 0) {
                REQUIRE(gossip != nullptr);
                REQUIRE(ext_index < gossip->extensions.size());
                check_ext_line(line, gossip->extensions[ext_index++], raw, record_offset);
                record_offset += codec_test::get_u32(raw, record_offset);
            } else if (line.rfind("fail_nodename=", 0) == 0) {
                REQUIRE(std::holds_alternative<FailBody>(msg.body));
                CHECK(node(field(line, "fail_nodename")) == std::get<FailBody>(msg.body).node);
            } else if (line.rfind("channel=", 0) == 0) {
                REQUIRE(std::holds_alternative<PublishBody>(msg.body));
                CHECK(line.substr(8) == std::get<PublishBody>(msg.body).channel);
            } else if (line.rfind("message=", 0) == 0) {
                REQUIRE(std::holds_alternative<PublishBody>(msg.body));
                CHECK(line.substr(8) == std::get<PublishBody>(msg.body).message);
            } else if (line.rfind("update_", 0) == 0) {
                REQUIRE(std::holds_alternative<UpdateBody>(msg.body));
                const auto& u = std::get<UpdateBody>(msg.body);
                if (line.rfind("update_configEpoch=", 0) == 0)
                    CHECK(num(line, "update_configEpoch") == u.config_epoch);
                else if (line.rfind("update_nodename=", 0) == 0)
                    CHECK(node(field(line, "update_nodename")) == u.node);
                else if (line.rfind("update_slots=", 0) == 0)
                    CHECK(slots_from_ranges(field(line, "update_slots")) == u.slots);
                else
                    FAIL("unrecognised update line");
            } else if (line.rfind("totlen", 0) == 0) {
                // A human-readable size breakdown; totlen itself is compared above.
            } else {
                FAIL("unrecognised listing line");
            }
        }
        CHECK(saw_header);
        CHECK(saw_sender);
        CHECK(saw_slaveof);
        if (gossip != nullptr) {
            CHECK(gossip_index == gossip->gossip.size());
            CHECK(ext_index == gossip->extensions.size());
        }
        ++checked;
    }
    CHECK(checked == listings.size());
}

}  // namespace unit_codec_vectors_test
