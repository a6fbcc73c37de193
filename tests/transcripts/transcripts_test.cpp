// Runs every transcript in tests/transcripts/ and compares each block's output with the file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "datadriven.hpp"
#include "text_diff.hpp"
#include "transcript_cluster.hpp"

namespace transcripts_transcripts_test {

namespace {

std::string read_all(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// GOSSIPCLUSTER_REWRITE=1 writes the actual outputs into the files instead of comparing.
bool rewriting() {
    const char* v = std::getenv("GOSSIPCLUSTER_REWRITE");
    return v && std::string(v) == "1";
}

std::vector<std::filesystem::path> transcript_files() {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(GOSSIPCLUSTER_TRANSCRIPTS_DIR))
        if (entry.path().extension() == ".txt") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

TEST_CASE("[transcripts] every transcript replays with the output it records", "[scenario]") {
    const auto files = transcript_files();
    REQUIRE(files.size() >= 3);
    for (const auto& path : files) {
        DYNAMIC_SECTION(path.filename().string()) {
            const auto file = transcripts::parse(read_all(path));
            transcripts::TranscriptCluster cluster;
            std::vector<std::optional<std::string>> outputs;
            std::string failures;
            std::size_t differing = 0;
            for (const auto& d : file.directives) {
                std::string actual;
                try {
                    actual = cluster.run(d);
                } catch (const std::exception& e) {
                    actual = std::string("error: ") + e.what() + "\n";
                }
                if (actual != d.expected) {
                    ++differing;
                    failures += fmt::format("{}:{}: {}\n{}", path.string(), d.line, d.command,
                                            transcripts::line_diff(d.expected, actual, 3));
                }
                outputs.emplace_back(std::move(actual));
            }
            if (rewriting()) {
                std::ofstream(path, std::ios::binary) << transcripts::render(file, outputs);
            } else if (differing > 0) {
                // Written as is: Catch would wrap the long lines of its own message.
                std::cerr << "Transcript output differs (- expected, + actual):\n"
                          << failures
                          << "After an intended change, GOSSIPCLUSTER_REWRITE=1 records the "
                             "actual output.\n";
                FAIL_CHECK(path.filename().string()
                           << ": " << differing << " block(s) differ, diff above");
            }
        }
    }
}

}  // namespace transcripts_transcripts_test
