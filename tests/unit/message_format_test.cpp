// Text and JSON renderings of messages: byte-for-byte against the capture listings, valid JSON.
#include <catch2/catch.hpp>

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "gossipcluster/codec.hpp"
#include "gossipcluster/message_format.hpp"

namespace unit_message_format_test {

using namespace gossipcluster;

namespace {

std::filesystem::path vectors() {
    return GOSSIPCLUSTER_VECTORS_DIR;
}

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// For each "bin/NAME.bin" of every listing, the lines after its "## message" heading up to the
// blank line, each with its '\n', exactly as written.
std::map<std::string, std::string> listing_blocks() {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(vectors())) {
        if (e.path().extension() != ".txt") continue;
        std::ifstream in(e.path());
        std::string line;
        std::string* cur = nullptr;
        while (std::getline(in, line)) {
            if (line.rfind("## message ", 0) == 0) {
                const auto b = line.find("-> bin/");
                const auto end = line.find(".bin", b);
                REQUIRE(b != std::string::npos);
                REQUIRE(end != std::string::npos);
                cur = &out[line.substr(b + 7, end + 4 - (b + 7))];
            } else if (line.empty()) {
                cur = nullptr;
            } else if (cur != nullptr) {
                *cur += line;
                *cur += '\n';
            }
        }
    }
    return out;
}

// A small strict JSON reader: enough to prove the output parses and to read values back.
struct Json {
    using Object = std::map<std::string, Json>;
    using Array = std::vector<Json>;
    std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<Array>,
                 std::shared_ptr<Object>>
        v;

    const Json& operator[](const std::string& k) const {
        const auto& o = *std::get<std::shared_ptr<Object>>(v);
        auto it = o.find(k);
        if (it == o.end()) throw std::runtime_error("no member " + k);
        return it->second;
    }
    const Json& operator[](std::size_t i) const {
        return std::get<std::shared_ptr<Array>>(v)->at(i);
    }
    std::size_t size() const {
        if (auto* a = std::get_if<std::shared_ptr<Array>>(&v)) return (*a)->size();
        return std::get<std::shared_ptr<Object>>(v)->size();
    }
    const std::string& str() const { return std::get<std::string>(v); }
    double num() const { return std::get<double>(v); }
    bool is_null() const { return std::holds_alternative<std::nullptr_t>(v); }
};

class JsonParser {
  public:
    explicit JsonParser(const std::string& s) : s_(s) {}

    // Throws on anything that is not exactly one JSON value.
    Json parse_document() {
        Json j = value();
        ws();
        if (i_ != s_.size()) fail("trailing characters");
        return j;
    }

  private:
    [[noreturn]] void fail(const char* what) {
        throw std::runtime_error(std::string("invalid JSON at ") + std::to_string(i_) + ": " +
                                 what);
    }
    void ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
            ++i_;
        }
    }
    char peek() {
        ws();
        if (i_ >= s_.size()) fail("unexpected end");
        return s_[i_];
    }
    void expect(char c) {
        if (peek() != c) fail("unexpected character");
        ++i_;
    }
    bool literal(const char* word) {
        const std::string w(word);
        if (s_.compare(i_, w.size(), w) != 0) return false;
        i_ += w.size();
        return true;
    }
    Json value() {
        const char c = peek();
        if (c == '{') return object();
        if (c == '[') return array();
        if (c == '"') return Json{string()};
        if (literal("null")) return Json{nullptr};
        if (literal("true")) return Json{true};
        if (literal("false")) return Json{false};
        return Json{number()};
    }
    Json object() {
        expect('{');
        auto o = std::make_shared<Json::Object>();
        if (peek() == '}') {
            ++i_;
            return Json{o};
        }
        for (;;) {
            if (peek() != '"') fail("expected a member name");
            std::string k = string();
            expect(':');
            if (!o->emplace(k, value()).second) fail("duplicate member");
            if (peek() == ',') {
                ++i_;
                continue;
            }
            expect('}');
            return Json{o};
        }
    }
    Json array() {
        expect('[');
        auto a = std::make_shared<Json::Array>();
        if (peek() == ']') {
            ++i_;
            return Json{a};
        }
        for (;;) {
            a->push_back(value());
            if (peek() == ',') {
                ++i_;
                continue;
            }
            expect(']');
            return Json{a};
        }
    }
    double number() {
        const std::size_t start = i_;
        if (i_ < s_.size() && s_[i_] == '-') ++i_;
        if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) fail("number");
        if (s_[i_] == '0' && i_ + 1 < s_.size() &&
            std::isdigit(static_cast<unsigned char>(s_[i_ + 1]))) {
            fail("leading zero");
        }
        while (i_ < s_.size() &&
               (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' ||
                s_[i_] == 'e' || s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-')) {
            ++i_;
        }
        return std::stod(s_.substr(start, i_ - start));
    }
    // Returns the string's code points below 256 as bytes (all this output ever uses).
    std::string string() {
        expect('"');
        std::string out;
        for (;;) {
            if (i_ >= s_.size()) fail("unterminated string");
            const auto c = static_cast<unsigned char>(s_[i_++]);
            if (c == '"') return out;
            if (c < 0x20) fail("raw control character in string");
            if (c >= 0x80) fail("raw non-ASCII byte in string");
            if (c != '\\') {
                out.push_back(static_cast<char>(c));
                continue;
            }
            if (i_ >= s_.size()) fail("unterminated escape");
            const char e = s_[i_++];
            switch (e) {
                case '"':
                    out.push_back('"');
                    break;
                case '\\':
                    out.push_back('\\');
                    break;
                case '/':
                    out.push_back('/');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'u': {
                    if (i_ + 4 > s_.size()) fail("short \\u escape");
                    const unsigned cp =
                        static_cast<unsigned>(std::stoul(s_.substr(i_, 4), nullptr, 16));
                    i_ += 4;
                    if (cp > 0xff) fail("code point above 0xff");
                    out.push_back(static_cast<char>(cp));
                    break;
                }
                default:
                    fail("bad escape");
            }
        }
    }

    const std::string& s_;
    std::size_t i_ = 0;
};

Json parse_json(const std::string& s) {
    return JsonParser(s).parse_document();
}

NodeId node(char c) {
    return *NodeId::parse(std::string(kNodeNameLen, c));
}

Message header_only(MessageType t) {
    Message m;
    m.header.type = t;
    m.header.sender = node('a');
    m.header.port = 7000;
    m.header.cport = 17000;
    m.header.flags = node_flag::kMaster | node_flag::kMyself;
    return m;
}

}  // namespace

TEST_CASE("[format] text of every captured vector equals its listing block", "[unit][format]") {
    const auto blocks = listing_blocks();
    std::size_t checked = 0;
    for (const auto& e : std::filesystem::directory_iterator(vectors() / "bin")) {
        if (e.path().extension() != ".bin") continue;
        const std::string name = e.path().filename().string();
        CAPTURE(name);
        const auto bytes = read_bytes(e.path());
        Message m;
        REQUIRE(decode(bytes, m) == DecodeError::None);
        const auto it = blocks.find(name);
        REQUIRE(it != blocks.end());
        CHECK(format_message_text(m, bytes.size()) == it->second);
        ++checked;
    }
    CHECK(checked == blocks.size());
    CHECK(checked >= 18);  // the vectors directory holds 18 frames
}

TEST_CASE("[format] JSON of every captured vector parses and carries the fields",
          "[unit][format]") {
    for (const auto& e : std::filesystem::directory_iterator(vectors() / "bin")) {
        if (e.path().extension() != ".bin") continue;
        CAPTURE(e.path().filename().string());
        const auto bytes = read_bytes(e.path());
        Message m;
        REQUIRE(decode(bytes, m) == DecodeError::None);
        const std::string text = format_message_json(m, bytes.size());
        CHECK(text.find('\n') == std::string::npos);
        Json j;
        REQUIRE_NOTHROW(j = parse_json(text));
        CHECK(j["type"].str() == std::string(message_type_name(m.type())));
        CHECK(j["totlen"].num() == static_cast<double>(bytes.size()));
        CHECK(j["sender"].str() == m.header.sender.str());
        CHECK(j["cport"].num() == m.header.cport);
        CHECK(j["flags"].num() == m.header.flags);
        if (m.header.slaveof.is_null()) {
            CHECK(j["slaveof"].is_null());
        } else {
            CHECK(j["slaveof"].str() == m.header.slaveof.str());
        }
        if (const auto* g = std::get_if<GossipBody>(&m.body)) {
            REQUIRE(j["gossip"].size() == g->gossip.size());
            for (std::size_t i = 0; i < g->gossip.size(); ++i) {
                CHECK(j["gossip"][i]["node"].str() == g->gossip[i].node.str());
                CHECK(j["gossip"][i]["pong_received"].num() == g->gossip[i].pong_received);
            }
            CHECK(j["ext"].size() == g->extensions.size());
        }
    }
}

TEST_CASE("[format] hostile bytes are escaped in text and JSON", "[unit][format]") {
    const std::string hostile("a\"b\\c\x00\x01\n\x1f\x7f\x80\xff'z", 14);
    Message m = header_only(MessageType::Publish);
    m.body = PublishBody{hostile, hostile};
    m.header.myip.assign("1.2.3.4\n");

    const std::string json = format_message_json(m, 2256 + 8 + 2 * hostile.size());
    CHECK(json.find('\n') == std::string::npos);
    CHECK(json.find("\\u0000\\u0001\\u000a\\u001f\\u007f\\u0080\\u00ff") != std::string::npos);
    CHECK(json.find("a\\\"b\\\\c") != std::string::npos);
    for (char c : json) {
        const auto u = static_cast<unsigned char>(c);
        CHECK((u >= 0x20 && u < 0x7f));
    }
    Json j;
    REQUIRE_NOTHROW(j = parse_json(json));
    CHECK(j["channel"].str() == hostile);
    CHECK(j["message"].str() == hostile);
    CHECK(j["myip"].str() == "1.2.3.4\n");

    const std::string text = format_message_text(m, 2256 + 8 + 2 * hostile.size());
    CHECK(text.find("  channel=a\"b\\\\c\\x00\\x01\\x0a\\x1f\\x7f\\x80\\xff'z\n") !=
          std::string::npos);
    CHECK(text.find(" myip='1.2.3.4\\n' ") != std::string::npos);
    // Every line break in the text is one the format put there.
    std::size_t lines = 0;
    for (char c : text)
        lines += c == '\n' ? 1 : 0;
    CHECK(lines == 6);

    Message g = header_only(MessageType::Ping);
    g.body = GossipBody{{}, {HostnameExt{"x\x01'y"}}};
    const std::string gtext = format_message_text(g, 2256 + 16);
    CHECK(gtext.find("  ext {'length': 16, 'type': 0, 'unused': 0, 'hostname': 'x\\x01\\'y'}\n") !=
          std::string::npos);
    REQUIRE_NOTHROW(j = parse_json(format_message_json(g, 2256 + 16)));
    CHECK(j["ext"][0]["hostname"].str() == "x\x01'y");
}

TEST_CASE("[format] forms of the types and extensions the listings do not show", "[unit][format]") {
    SECTION("extensions of Redis 7.2 and unknown ones") {
        Message m = header_only(MessageType::Pong);
        m.header.mflags[0] = message_flag::kExtData;
        GossipEntry e;
        e.node = node('b');
        e.ip.assign("10.0.0.2");
        e.port = 7001;
        e.cport = 17001;
        e.flags = node_flag::kSlave | node_flag::kFail | node_flag::kNoFailover;
        e.ping_sent = 5;
        e.pong_received = 6;
        m.body = GossipBody{{e},
                            {HumanNodenameExt{"shard-1-primary"}, ForgottenNodeExt{node('c'), 42},
                             ShardIdExt{node('d')}, UnknownExt{77, {1, 2, 0xab, 0, 0, 0, 0, 0}}}};
        const std::string expected =
            "PONG  totlen=2504 ver=1 port=7000 count=1 currentEpoch=0 configEpoch=0 offset=0\n"
            "  sender=" +
            std::string(40, 'a') +
            " myip='' pport=0 cport=17000 flags=17 (master,myself) state=ok mflags=04 00 00 "
            "(EXT_DATA) extensions=4\n"
            "  slaveof=(none) myslots=(none)\n"
            "  gossip " +
            std::string(40, 'b') +
            " 10.0.0.2:7001@17001 pport=0 flags=522 (slave,fail,nofailover) ping_sent=5 "
            "pong_received=6\n"
            "  ext {'length': 24, 'type': 1, 'unused': 0, 'human_nodename': 'shard-1-primary'}\n"
            "  ext {'length': 56, 'type': 2, 'unused': 0, 'name': '" +
            std::string(40, 'c') +
            "', 'ttl': 42}\n"
            "  ext {'length': 48, 'type': 3, 'unused': 0, 'shard_id': '" +
            std::string(40, 'd') +
            "'}\n"
            "  ext {'length': 16, 'type': 77, 'unused': 0, 'payload': '0102ab0000000000'}\n"
            "  totlen == 2256 + 1*104 + ext 144\n";
        CHECK(encoded_size(m) == 2256 + 104 + 144);
        CHECK(format_message_text(m, encoded_size(m)) == expected);
        Json j;
        REQUIRE_NOTHROW(j = parse_json(format_message_json(m, encoded_size(m))));
        CHECK(j["ext"][1]["ttl"].num() == 42);
        CHECK(j["ext"][3]["payload_hex"].str() == "0102ab0000000000");
        CHECK(j["gossip"][0]["flag_names"].size() == 3);
    }
    SECTION("PUBLISHSHARD, MODULE, several slot ranges, unnamed flag bits") {
        Message p = header_only(MessageType::PublishShard);
        p.header.myslots.set_range(0, 10);
        p.header.myslots.set(12);
        p.header.myslots.set_range(16380, 16383);
        p.header.flags = 0;
        p.header.state = BusClusterState::Fail;
        p.header.mflags = {0x09, 0x00, 0x01};
        p.body = PublishBody{"ch", "msg"};
        const std::string expected_p =
            "PUBLISHSHARD  totlen=2269 ver=1 port=7000 count=0 currentEpoch=0 configEpoch=0 "
            "offset=0\n"
            "  sender=" +
            std::string(40, 'a') +
            " myip='' pport=0 cport=17000 flags=0 (none) state=fail mflags=09 00 01 "
            "(PAUSED,BIT3) extensions=0\n"
            "  slaveof=(none) myslots=0-10,12,16380-16383\n"
            "  channel=ch\n"
            "  message=msg\n"
            "  totlen 2269 (= 2256 + 8 + 2 + 3)\n";
        CHECK(encoded_size(p) == 2269);
        CHECK(format_message_text(p, 2269) == expected_p);

        Message mod = header_only(MessageType::Module);
        mod.header.flags = 0x8001;
        mod.body = ModuleBody{0x0102030405060708ull, 3, "abc"};
        const std::string expected_m =
            "MODULE  totlen=2272 ver=1 port=7000 count=0 currentEpoch=0 configEpoch=0 offset=0\n"
            "  sender=" +
            std::string(40, 'a') +
            " myip='' pport=0 cport=17000 flags=32769 (master,bit15) state=ok mflags=00 00 00 "
            "(none) extensions=0\n"
            "  slaveof=(none) myslots=(none)\n"
            "  module_id=0102030405060708 module_type=3\n"
            "  payload=abc\n"
            "  totlen 2272 (= 2256 + 8 + 4 + 1 + 3)\n";
        CHECK(encoded_size(mod) == 2272);
        CHECK(format_message_text(mod, 2272) == expected_m);
        Json j;
        REQUIRE_NOTHROW(j = parse_json(format_message_json(mod, 2272)));
        CHECK(j["module_id"].str() == "0102030405060708");
        CHECK(j["flag_names"][1].str() == "bit15");
        REQUIRE_NOTHROW(j = parse_json(format_message_json(p, 2269)));
        CHECK(j["myslots"].size() == 3);
        CHECK(j["myslots"][1][0].num() == 12);
        CHECK(j["myslots"][1][1].num() == 12);
        CHECK(j["mflag_names"][1].str() == "BIT3");
    }
}

}  // namespace unit_message_format_test
