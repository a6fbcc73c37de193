// gossipcluster-busdump: prints the cluster-bus frames of raw frame files and pcap captures.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bin_input.hpp"
#include "dumper.hpp"
#include "pcap_input.hpp"

namespace {

constexpr const char* kUsage = R"USAGE(usage: gossipcluster-busdump [--json] FILE...

Decodes Redis Cluster bus frames and prints every field of each message.

A FILE is either
  - raw frames: one whole frame (as in a .bin test vector) or several written back to back, or
  - a pcap or pcapng capture (recognised by its magic number) with Ethernet, Linux cooked
    (SLL, SLL2), raw IP or loopback link layers. Each TCP direction is reassembled in
    sequence order (retransmissions dropped, reordering undone within a bounded buffer) and
    cut into frames. A stream that starts inside a frame, or that loses bytes the capture
    missed, is resynchronised on the next "RCmb" signature; that is reported as a note.

Output: per frame a heading "## frame N  SOURCE  (TOTLEN bytes)" followed by the message's
fields, or with --json one JSON object per line (file, frame, src, dst and every field).
Frames are numbered from 0 in each file.

Malformed frames are reported on stderr with the file, the frame number and the reason, and
the dump goes on with the rest of the input (a capture resynchronises after a bad prefix).

Exit status: 0 every frame decoded; 1 at least one malformed frame (or a raw frame file that
is empty or ends inside a frame); 2 usage error or an unreadable or unsupported file, which
takes precedence over 1. Notes about the capture (resynchronisation, bytes the capture missed,
a capture that stops inside a frame) go to stderr and do not change the exit status.
)USAGE";

int usage_error(const char* msg) {
    std::fprintf(stderr, "gossipcluster-busdump: %s\n\n%s", msg, kUsage);
    return busdump::kExitUsage;
}

void dump_file(const std::string& path, busdump::Dumper& dumper) {
    std::unique_ptr<std::FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "rb"),
                                                         &std::fclose);
    if (!f) {
        dumper.unreadable(path, std::strerror(errno));
        return;
    }
    std::uint8_t head[4] = {};
    const std::size_t got = std::fread(head, 1, sizeof head, f.get());
    dumper.begin_file();
    if (busdump::is_capture_magic(std::span<const std::uint8_t>(head, got))) {
        f.reset();
        busdump::PcapDumper(path, dumper).run();
        return;
    }
    std::rewind(f.get());
    busdump::dump_bin(path, f.get(), dumper);
}

}  // namespace

int main(int argc, char** argv) {
    bool json = false;
    bool options_done = false;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (!options_done && (arg == "-h" || arg == "--help")) {
            std::fputs(kUsage, stdout);
            return busdump::kExitOk;
        }
        if (!options_done && arg == "--json") {
            json = true;
        } else if (!options_done && arg == "--") {
            options_done = true;
        } else if (!options_done && arg.size() > 1 && arg[0] == '-') {
            return usage_error(("unknown option " + std::string(arg)).c_str());
        } else {
            files.emplace_back(arg);
        }
    }
    if (files.empty()) return usage_error("no input file");

    busdump::Dumper dumper(json, stdout, stderr);
    for (const auto& path : files)
        dump_file(path, dumper);
    if (std::fflush(stdout) != 0) return busdump::kExitUsage;
    return dumper.exit_code();
}
