// Decodes frames and writes them as text or JSON lines; keeps the tool's exit status.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "gossipcluster/codec.hpp"
#include "gossipcluster/detail/text_escape.hpp"
#include "gossipcluster/message.hpp"
#include "gossipcluster/message_format.hpp"

namespace busdump {

inline constexpr int kExitOk = 0;
inline constexpr int kExitMalformed = 1;
inline constexpr int kExitUsage = 2;  // bad arguments or an unreadable input

// Where a frame came from: a file, and for captures the TCP direction.
struct Origin {
    std::string_view file;
    std::string_view src;  // empty for a .bin file
    std::string_view dst;
};

class Dumper {
  public:
    Dumper(bool json, std::FILE* out, std::FILE* err) : json_(json), out_(out), err_(err) {}

    // Starts numbering frames from 0 for the next input file.
    void begin_file() { next_index_ = 0; }

    void frame(const Origin& o, std::span<const std::uint8_t> bytes) {
        const std::size_t index = next_index_++;
        const auto e = gossipcluster::decode(bytes, msg_);
        if (e != gossipcluster::DecodeError::None) {
            malformed(o, index, gossipcluster::describe(e));
            return;
        }
        ++frames_ok_;
        if (json_) {
            write_json(o, index, bytes.size());
        } else {
            write_text(o, index, bytes.size());
        }
    }

    // A frame whose length prefix was rejected: it still takes a frame number.
    void bad_prefix(const Origin& o, gossipcluster::DecodeError e, std::uint64_t offset) {
        malformed(o, next_index_++,
                  fmt::format("{} (at stream offset {})", gossipcluster::describe(e), offset));
    }

    // A malformed input that is not one frame (for example a file cut inside a frame).
    void malformed_input(const Origin& o, std::string_view reason) {
        malformed(o, next_index_++, reason);
    }

    void note(const Origin& o, std::string_view text) {
        std::string line = "gossipcluster-busdump: note: ";
        gossipcluster::detail::append_escaped(line, o.file);
        if (!o.src.empty()) fmt::format_to(std::back_inserter(line), " {} -> {}", o.src, o.dst);
        fmt::format_to(std::back_inserter(line), ": {}\n", text);
        std::fputs(line.c_str(), err_);
    }

    void unreadable(std::string_view file, std::string_view why) {
        std::string line = "gossipcluster-busdump: cannot read ";
        gossipcluster::detail::append_escaped(line, file);
        fmt::format_to(std::back_inserter(line), ": {}\n", why);
        std::fputs(line.c_str(), err_);
        unreadable_ = true;
    }

    std::size_t frames_ok() const { return frames_ok_; }
    std::size_t frames_malformed() const { return frames_bad_; }

    int exit_code() const {
        if (unreadable_) return kExitUsage;
        return frames_bad_ != 0 ? kExitMalformed : kExitOk;
    }

  private:
    void malformed(const Origin& o, std::size_t index, std::string_view reason) {
        ++frames_bad_;
        std::string line = "gossipcluster-busdump: ";
        gossipcluster::detail::append_escaped(line, o.file);
        fmt::format_to(std::back_inserter(line), ": frame {}", index);
        if (!o.src.empty()) fmt::format_to(std::back_inserter(line), " ({} -> {})", o.src, o.dst);
        fmt::format_to(std::back_inserter(line), ": malformed: {}\n", reason);
        std::fputs(line.c_str(), err_);
    }

    void write_text(const Origin& o, std::size_t index, std::size_t totlen) {
        std::string s = fmt::format("## frame {}  ", index);
        if (o.src.empty()) {
            gossipcluster::detail::append_escaped(s, o.file);
        } else {
            fmt::format_to(std::back_inserter(s), "{} -> {}", o.src, o.dst);
        }
        fmt::format_to(std::back_inserter(s), "  ({} bytes)\n", totlen);
        s += gossipcluster::format_message_text(msg_, totlen);
        s.push_back('\n');
        std::fwrite(s.data(), 1, s.size(), out_);
    }

    void write_json(const Origin& o, std::size_t index, std::size_t totlen) {
        std::string s = "{\"file\":";
        gossipcluster::detail::append_json_string(s, o.file);
        fmt::format_to(std::back_inserter(s), ",\"frame\":{}", index);
        if (!o.src.empty()) {
            s += ",\"src\":";
            gossipcluster::detail::append_json_string(s, o.src);
            s += ",\"dst\":";
            gossipcluster::detail::append_json_string(s, o.dst);
        }
        // Splice the message's members into the same object.
        const std::string m = gossipcluster::format_message_json(msg_, totlen);
        s.push_back(',');
        s.append(m, 1, std::string::npos);
        s.push_back('\n');
        std::fwrite(s.data(), 1, s.size(), out_);
    }

    bool json_;
    std::FILE* out_;
    std::FILE* err_;
    gossipcluster::Message msg_;  // reused: decode keeps its storage between frames
    std::size_t next_index_ = 0;
    std::size_t frames_ok_ = 0;
    std::size_t frames_bad_ = 0;
    bool unreadable_ = false;
};

}  // namespace busdump
